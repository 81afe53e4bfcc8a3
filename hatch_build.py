"""Build hook: compile nhiscan/_packdelta.c, the history sweep's delta walker.

The module is optional. Where no C compiler is found (or NHISCAN_NO_EXTENSION=1 is set) the
wheel is built without it, with a warning, and history sweeps read every blob through
``git cat-file`` instead of the pack files: the same findings, more CPU.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

_SOURCE = Path("nhiscan") / "_packdelta.c"


class PackDeltaHook(BuildHookInterface):  # type: ignore[misc]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or os.environ.get("NHISCAN_NO_EXTENSION") == "1":
            return
        suffix = sysconfig.get_config_var("EXT_SUFFIX")
        ldshared = sysconfig.get_config_var("LDSHARED")
        if not suffix or not ldshared:
            self.app.display_warning("nhiscan: no C toolchain settings; history sweeps will read blobs through git")
            return
        name = f"_packdelta{suffix}"
        root = Path(self.root)
        # Built into the source tree (ignored by git) as well as into the wheel: an editable
        # install imports it from there, and so does a test run from a checkout (the
        # checkout's nhiscan/ comes first on sys.path, before the installed copy).
        out = root / "nhiscan" / name
        self._tmp: str | None = None
        if not os.access(out.parent, os.W_OK):
            self._tmp = tempfile.mkdtemp(prefix="nhiscan-build-")
            out = Path(self._tmp) / name
        include = sysconfig.get_paths()["include"]
        # $CC (with -shared) where set, as setuptools honours it; else the linker command
        # Python was built with. $CFLAGS and $LDFLAGS are passed on.
        cc = os.environ.get("CC")
        linker = [*shlex.split(cc), "-shared"] if cc else shlex.split(ldshared)
        command = [
            *linker,
            *shlex.split(os.environ.get("CFLAGS", "")),
            *shlex.split(os.environ.get("LDFLAGS", "")),
            "-O2",
            "-fPIC",
            f"-I{include}",
            str(root / _SOURCE),
            "-o",
            str(out),
        ]
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=300)
        except (OSError, subprocess.SubprocessError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            self.app.display_warning(
                f"nhiscan: could not compile {_SOURCE} ({exc}; {detail.decode(errors='replace')[:300]}); "
                "history sweeps will read blobs through git"
            )
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version != "editable":
            build_data["force_include"][str(out)] = f"nhiscan/{name}"

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        tmp = getattr(self, "_tmp", None)
        if tmp:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
