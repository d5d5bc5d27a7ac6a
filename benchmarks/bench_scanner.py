"""The C scanner of the LHE reader against the one of another git revision, side by side.

Usage::

    .venv/bin/python benchmarks/bench_scanner.py [--against 274dce0] [--calls 30]

Compiles ``src/latentsym/io/_lhe_scan.c`` of this tree and of the revision ``--against``
with the same compiler and flags as the install (``hatch_build.py``), loads both into one
process and times ``scan`` on the whole event text of every gzip LHE file of
``samples/`` and ``../shared/data/external/``, the two builds called in turn
(``--calls`` times each, best kept), so that the load of the machine hits both alike.
Prints the milliseconds of each, their ratio, and whether both wrote the same lines and
numbers (bit for bit).
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import re
import shlex
import subprocess
import sysconfig
import tempfile
import time
from pathlib import Path
from types import ModuleType

import numpy as np

__all__ = ["main"]

_ROOT = Path(__file__).resolve().parents[1]
_SOURCE = "src/latentsym/io/_lhe_scan.c"
_FILES = sorted((_ROOT / "samples").glob("*.lhe.gz")) + sorted(
    (_ROOT.parent / "shared" / "data" / "external").glob("*.lhe.gz")
)


def _build(source: Path, folder: Path) -> ModuleType:
    """``source`` compiled as ``_lhe_scan`` in ``folder`` (the flags of hatch_build.py)
    and loaded under that name, apart from the installed one."""
    target = folder / ("_lhe_scan" + (sysconfig.get_config_var("EXT_SUFFIX") or ".so"))
    ldshared = sysconfig.get_config_var("LDSHARED") or "cc -shared"
    include = sysconfig.get_paths()["include"]
    flags = ["-O3", "-fPIC", "-std=c99", "-D_GNU_SOURCE", f"-I{include}"]
    command = [*shlex.split(ldshared), *flags, str(source), "-o", str(target), "-lm"]
    subprocess.run(command, check=True, capture_output=True)
    spec = importlib.util.spec_from_file_location("_lhe_scan", target)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _inputs(path: Path) -> tuple[bytes, np.ndarray, np.ndarray, int]:
    """The text of ``path``, where each event's text starts and ends, and the rows of room."""
    text = gzip.decompress(path.read_bytes())
    body = np.array([m.end() for m in re.finditer(rb"<event[^>]*>", text)], dtype=np.int64)
    end = np.array([text.index(b"<", b) for b in body.tolist()], dtype=np.int64)
    return text, body, end, text.count(b"\n") + len(body) + 1


def _written(outs: tuple[np.ndarray, ...], room: int, result: tuple) -> list[np.ndarray]:
    """The parts of the outputs of ``scan`` that it wrote (``result``: what it returned)."""
    n_lines, rows = result[0], result[1]
    return [outs[0], outs[1].reshape(7, room)[:, :rows], outs[2].reshape(6, room)[:, :rows],
            outs[3][: 4 * n_lines]]  # fmt: skip


def main() -> None:
    """Parse the arguments and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="274dce0", help="git revision to compare with")
    parser.add_argument("--calls", type=int, default=30, help="calls of each build per file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        old_source = folder / "old.c"
        old_source.write_bytes(
            subprocess.run(["git", "show", f"{args.against}:{_SOURCE}"], cwd=_ROOT,
                           check=True, capture_output=True).stdout
        )  # fmt: skip
        (folder / "old").mkdir()
        (folder / "new").mkdir()
        builds = [_build(old_source, folder / "old"), _build(_ROOT / _SOURCE, folder / "new")]
        print(f"## The C scanner: this tree against {args.against} (best of {args.calls} "
              "alternating calls, milliseconds)\n")  # fmt: skip
        print(f"| file | {args.against} | this tree | ratio | same output |")
        print("|---|---|---|---|---|")
        for path in _FILES:
            text, body, end, room = _inputs(path)
            n = len(body)
            outs = [(np.empty(6 * n), np.empty(7 * room), np.empty(6 * room, dtype=np.int64),
                     np.empty(4 * room, dtype=np.int64)) for _ in builds]  # fmt: skip
            times: list[list[float]] = [[], []]
            results: list[tuple] = []
            for _ in range(args.calls):
                results = []
                for k, build in enumerate(builds):
                    t0 = time.perf_counter()
                    results.append(build.scan(text, body, end, *outs[k]))
                    times[k].append(time.perf_counter() - t0)
            same = results[0] == results[1] and all(
                np.array_equal(a, b)
                for a, b in zip(
                    _written(outs[0], room, results[1]),
                    _written(outs[1], room, results[1]),
                    strict=True,
                )
            )
            a, b = min(times[0]) * 1e3, min(times[1]) * 1e3
            print(f"| {path.name} | {a:.2f} | {b:.2f} | {b / a:.2f} | {same} |")


if __name__ == "__main__":
    main()
