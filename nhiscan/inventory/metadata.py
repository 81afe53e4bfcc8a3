"""In-band metadata a credential carries about itself, without disclosing it.

Only non-secret facts are kept: a JWT's header algorithm and its ``iss``/``aud``/``exp``/
``iat``/``nbf`` claims (never its subject, custom claims or signature); a private key's
algorithm, size, curve and whether it is encrypted (read from the public half or the PEM
label, never the private numbers). Anything that does not parse yields nothing: this must
never fail a scan.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
from datetime import datetime, timezone
from typing import Any

_JWT_RE = re.compile(rb"eyJ[A-Za-z0-9_-]{2,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")
_PEM_RE = re.compile(
    rb"-----BEGIN ([A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?)-----(.*?)(?:-----END [A-Z0-9 ]{0,40}-----|\Z)",
    re.DOTALL,
)
_PUTTY_RE = re.compile(rb"PuTTY-User-Key-File-\d+:\s*([\w@.-]{1,64})")

_JWT_HEADER_KEYS = ("alg", "typ", "kid")
_JWT_CLAIMS = ("iss", "aud", "exp", "iat", "nbf")
_MAX_TEXT = 200

# Algorithm OIDs of PKCS#8 keys (dotted) -> names.
_KEY_OIDS = {
    "1.2.840.113549.1.1.1": "RSA",
    "1.2.840.113549.1.1.10": "RSA-PSS",
    "1.2.840.10045.2.1": "EC",
    "1.2.840.10040.4.1": "DSA",
    "1.3.101.110": "X25519",
    "1.3.101.111": "X448",
    "1.3.101.112": "Ed25519",
    "1.3.101.113": "Ed448",
}
_CURVE_OIDS = {
    "1.2.840.10045.3.1.7": "P-256",
    "1.3.132.0.34": "P-384",
    "1.3.132.0.35": "P-521",
    "1.3.132.0.10": "secp256k1",
}
_SSH_TYPES = {
    "ssh-rsa": "RSA",
    "ssh-dss": "DSA",
    "ssh-ed25519": "Ed25519",
    "ssh-ed448": "Ed448",
    "ecdsa-sha2-nistp256": "EC",
    "ecdsa-sha2-nistp384": "EC",
    "ecdsa-sha2-nistp521": "EC",
    "sk-ssh-ed25519@openssh.com": "Ed25519-SK",
    "sk-ecdsa-sha2-nistp256@openssh.com": "EC-SK",
}
_SSH_CURVES = {"nistp256": "P-256", "nistp384": "P-384", "nistp521": "P-521"}


def inband_metadata(secret: bytes) -> dict[str, Any]:
    """``{"jwt": {...}}`` and/or ``{"key": {...}}`` for what the secret says about itself."""
    out: dict[str, Any] = {}
    try:
        jwt = jwt_metadata(secret)
        if jwt:
            out["jwt"] = jwt
        key = key_metadata(secret)
        if key:
            out["key"] = key
    except Exception:  # pragma: no cover - defensive: metadata is best effort
        return out
    return out


# -- JWT -------------------------------------------------------------------------------------

def _b64url(part: bytes) -> bytes:
    return base64.urlsafe_b64decode(part + b"=" * (-len(part) % 4))


def _plain(value: Any) -> Any:
    """A JSON value reduced to short strings and numbers (nothing nested or long)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        return value[:_MAX_TEXT]
    if isinstance(value, list):
        return [_plain(v) for v in value[:10] if isinstance(v, (str, int, float))]
    return None


def epoch_to_iso(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(value, tz=timezone.utc).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return None


def jwt_metadata(secret: bytes) -> dict[str, Any]:
    m = _JWT_RE.search(secret)
    if m is None:
        return {}
    head, body, _sig = m.group(0).split(b".", 2)
    try:
        header = json.loads(_b64url(head))
        claims = json.loads(_b64url(body))
    except (ValueError, binascii.Error):
        return {}
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return {}
    out: dict[str, Any] = {}
    for key in _JWT_HEADER_KEYS:
        if key in header and _plain(header[key]) is not None:
            out[key] = _plain(header[key])
    for key in _JWT_CLAIMS:
        if key in claims and _plain(claims[key]) is not None:
            out[key] = _plain(claims[key])
    for key in ("exp", "iat", "nbf"):
        iso = epoch_to_iso(out.get(key))
        if iso is not None:
            out[f"{key}_iso"] = iso
    return out


# -- private keys ----------------------------------------------------------------------------

def key_metadata(secret: bytes) -> dict[str, Any]:
    text = secret.replace(b"\\r", b"").replace(b"\\n", b"\n")
    m = _PEM_RE.search(text)
    if m is None:
        p = _PUTTY_RE.search(text)
        if p is None:
            return {}
        ssh_type = p.group(1).decode("ascii", "replace")
        out: dict[str, Any] = {"format": "PuTTY", "algorithm": _SSH_TYPES.get(ssh_type, ssh_type)}
        enc = re.search(rb"Encryption:\s*([\w-]+)", text)
        if enc is not None:
            out["encrypted"] = enc.group(1) != b"none"
        return out
    label = m.group(1).decode("ascii").strip()
    body = m.group(2)
    encrypted = b"Proc-Type: 4,ENCRYPTED" in body or label.startswith("ENCRYPTED")
    der = _pem_body(body)
    out = {"format": label}
    if label == "PGP PRIVATE KEY BLOCK":
        out["algorithm"] = "PGP"
        return out
    if label == "ENCRYPTED PRIVATE KEY":
        out["encrypted"] = True
        return out
    info: dict[str, Any] = {}
    if der is not None and not encrypted:
        try:
            if label == "RSA PRIVATE KEY":
                info = {"algorithm": "RSA", **_pkcs1_rsa(der)}
            elif label == "EC PRIVATE KEY":
                info = {"algorithm": "EC", **_sec1_ec(der)}
            elif label == "PRIVATE KEY":
                info = _pkcs8(der)
            elif label == "OPENSSH PRIVATE KEY":
                info = _openssh(der)
        except (IndexError, ValueError, struct.error):
            info = {}
    if not info:
        simple = {"RSA PRIVATE KEY": "RSA", "EC PRIVATE KEY": "EC", "DSA PRIVATE KEY": "DSA"}
        if label in simple:
            info = {"algorithm": simple[label]}
    out.update(info)
    out.setdefault("encrypted", encrypted)
    return out


def _pem_body(body: bytes) -> bytes | None:
    lines = [ln.strip() for ln in body.splitlines()]
    b64 = b"".join(ln for ln in lines if ln and b":" not in ln)
    b64 = re.sub(rb"[^A-Za-z0-9+/=]", b"", b64)
    if not b64:
        return None
    try:
        return base64.b64decode(b64 + b"=" * (-len(b64) % 4))
    except (binascii.Error, ValueError):
        return None


def _der(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of value, end of value) of the DER element at ``pos``."""
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4:
            raise ValueError("bad DER length")
        length = int.from_bytes(data[pos : pos + n], "big")
        pos += n
    end = pos + length
    if end > len(data):
        raise ValueError("truncated DER")
    return tag, pos, end


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out = []
    pos = start
    while pos < end:
        tag, s, e = _der(data, pos)
        out.append((tag, s, e))
        pos = e
    return out


def _oid(raw: bytes) -> str:
    first = raw[0]
    parts = [first // 40, first % 40]
    value = 0
    for b in raw[1:]:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            parts.append(value)
            value = 0
    return ".".join(str(p) for p in parts)


def _int_bits(raw: bytes) -> int:
    return int.from_bytes(raw, "big").bit_length()


def _pkcs1_rsa(der: bytes) -> dict[str, Any]:
    tag, s, e = _der(der, 0)
    items = _children(der, s, e)
    if tag != 0x30 or len(items) < 2:
        return {}
    _t, ms, me = items[1]  # modulus: the public half
    return {"bits": _int_bits(der[ms:me])}


def _sec1_ec(der: bytes) -> dict[str, Any]:
    _tag, s, e = _der(der, 0)
    for tag, cs, ce in _children(der, s, e):
        if tag == 0xA0:  # [0] parameters: the curve OID
            _t, os_, oe = _der(der, cs)
            curve = _oid(der[os_:oe])
            return {"curve": _CURVE_OIDS.get(curve, curve)}
    return {}


def _pkcs8(der: bytes) -> dict[str, Any]:
    _tag, s, e = _der(der, 0)
    items = _children(der, s, e)
    if len(items) < 3:
        return {}
    _t, as_, ae = items[1]
    alg_items = _children(der, as_, ae)
    oid = _oid(der[alg_items[0][1] : alg_items[0][2]])
    algorithm = _KEY_OIDS.get(oid, oid)
    out: dict[str, Any] = {"algorithm": algorithm}
    if algorithm == "EC" and len(alg_items) > 1 and alg_items[1][0] == 0x06:
        curve = _oid(der[alg_items[1][1] : alg_items[1][2]])
        out["curve"] = _CURVE_OIDS.get(curve, curve)
    if algorithm in ("RSA", "RSA-PSS"):
        _t, ks, ke = items[2]
        out.update(_pkcs1_rsa(der[ks:ke]))
    return out


def _ssh_string(data: bytes, pos: int) -> tuple[bytes, int]:
    (n,) = struct.unpack(">I", data[pos : pos + 4])
    end = pos + 4 + n
    if end > len(data):
        raise ValueError("truncated")
    return data[pos + 4 : end], end


def _openssh(der: bytes) -> dict[str, Any]:
    magic = b"openssh-key-v1\0"
    if not der.startswith(magic):
        return {}
    pos = len(magic)
    cipher, pos = _ssh_string(der, pos)
    _kdf, pos = _ssh_string(der, pos)
    _kdfopts, pos = _ssh_string(der, pos)
    pos += 4  # number of keys
    pub, pos = _ssh_string(der, pos)  # the public key: not secret
    ktype_raw, ppos = _ssh_string(pub, 0)
    ktype = ktype_raw.decode("ascii", "replace")
    out: dict[str, Any] = {"algorithm": _SSH_TYPES.get(ktype, ktype), "encrypted": cipher != b"none"}
    if ktype == "ssh-rsa":
        _e, ppos = _ssh_string(pub, ppos)
        n, ppos = _ssh_string(pub, ppos)
        out["bits"] = _int_bits(n)
    elif ktype.startswith("ecdsa-sha2-"):
        curve, _ = _ssh_string(pub, ppos)
        name = curve.decode("ascii", "replace")
        out["curve"] = _SSH_CURVES.get(name, name)
    return out
