"""Build hook: compiles the C scanner of the LHE reader, ``latentsym.io._lhe_scan``.

The extension is optional: where no C compiler is found, or the compile fails, the
package installs without it (with a warning) and the reader parses with numpy and Arrow,
which gives the same results, more slowly (``benchmarks/RESULTS.md``). Set
``LATENTSYM_NO_C=1`` to install without it on purpose. An editable install
(``pip install -e .``, what ``make`` does) writes the module next to its source in
``src/latentsym/io/``; a wheel carries it and is tagged for the interpreter and platform.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

_SOURCE = Path("src/latentsym/io/_lhe_scan.c")


def _command(source: Path, target: Path) -> list[str]:
    """The compile-and-link line of this interpreter's own extension builds."""
    ldshared = sysconfig.get_config_var("LDSHARED") or "cc -shared"
    include = sysconfig.get_paths()["include"]
    flags = ["-O3", "-fPIC", "-std=c99", "-D_GNU_SOURCE", f"-I{include}"]
    return [*shlex.split(ldshared), *flags, str(source), "-o", str(target), "-lm"]


class CScannerHook(BuildHookInterface):  # type: ignore[misc]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or os.environ.get("LATENTSYM_NO_C"):
            return
        root = Path(self.root)
        name = "_lhe_scan" + (sysconfig.get_config_var("EXT_SUFFIX") or ".so")
        if version == "editable":
            target = root / _SOURCE.parent / name
        else:
            target = Path(tempfile.mkdtemp(prefix="latentsym-build-")) / name
        target.unlink(missing_ok=True)  # never keep a module built from an older source
        command = _command(root / _SOURCE, target)
        try:
            done = subprocess.run(command, capture_output=True, text=True, check=False)
        except OSError as exc:  # no compiler
            print(f"latentsym: C scanner not built ({exc}); the LHE reader uses numpy and "
                  "Arrow (same results, slower)", file=sys.stderr)  # fmt: skip
            return
        if done.returncode != 0:
            print(f"latentsym: C scanner not built: {' '.join(command)} failed:\n"
                  f"{done.stderr}\nthe LHE reader uses numpy and Arrow (same results, "
                  "slower)", file=sys.stderr)  # fmt: skip
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version != "editable":
            build_data["force_include"][str(target)] = f"latentsym/io/{name}"
