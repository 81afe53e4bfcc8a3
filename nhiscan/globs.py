"""Path globs as users write them in configs and CODEOWNERS: ``*``, ``?``, ``**``, ``[...]``."""

from __future__ import annotations

import re
from functools import lru_cache


def glob_body(pat: str, *, char_classes: bool = True) -> str:
    """Regex for a glob's path part, unanchored: ``*`` and ``?`` stay within one segment,
    ``**`` crosses segments, ``\\x`` escapes a character, ``[...]`` is a class where the
    dialect has them (CODEOWNERS does not)."""
    out = []
    i = 0
    while i < len(pat):
        c = pat[i]
        if pat.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pat.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "\\" and i + 1 < len(pat):
            out.append(re.escape(pat[i + 1]))
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and char_classes and pat.find("]", i + 1) >= 0:
            j = pat.find("]", i + 1)
            body = pat[i + 1 : j].replace("\\", "\\\\")
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append(f"[{body}]")
            i = j
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


@lru_cache(maxsize=1024)
def glob_to_regex(pattern: str, *, anchored: bool = True) -> re.Pattern[str]:
    """Compile a glob: ``*`` stays within one path segment, ``**`` crosses segments.

    A pattern without ``/`` (other than a trailing one) matches at any depth, like
    ``.gitignore``; a trailing ``/`` matches everything below a directory.
    """
    pat = pattern.strip()
    dir_only = pat.endswith("/")
    pat = pat.rstrip("/")
    floating = "/" not in pat
    pat = pat.lstrip("/")
    body = glob_body(pat)
    prefix = "(?:.*/)?" if floating and anchored else ""
    suffix = "/.*" if dir_only else "(?:/.*)?"
    return re.compile(f"^{prefix}{body}{suffix}$", re.DOTALL)


def glob_match(pattern: str, path: str) -> bool:
    return glob_to_regex(pattern).match(path) is not None
