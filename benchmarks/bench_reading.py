"""Reading speed and memory: the numpy LHE path against pylhe, ROOT, chunked reading.

Usage::

    .venv/bin/python benchmarks/bench_reading.py [--quick] [--big 100000 1000000]

Prints, measured side by side in one run (best of ``--repeat`` interleaved runs):

- events/s of ``pylhe.LHEFile.fromfile`` + ``pylhe.to_awkward`` (the reference), of
  ``read_lhe(engine="pylhe")`` and of ``read_lhe()`` (the numpy path), on the bundled
  samples gzip and plain, with the ratio numpy / reference;
- events/s of ``read_events`` on the bundled ROOT files (uproot);
- peak resident memory of ``iterate_events(step_size=100_000)`` over LHE files of 10^5
  and 10^6 events (made by repeating the events of a bundled sample), each in a fresh
  process, next to a process that only imports latentsym, and the same for reading the
  10^5 file whole.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import pylhe

from latentsym.io import read_events
from latentsym.io.lhe import read_lhe

__all__ = ["main"]

_ROOT = Path(__file__).resolve().parents[1]
_SAMPLES = _ROOT / "samples"
# Peak RSS from VmHWM (this process's own high-water mark): ru_maxrss is carried over
# fork + exec on Linux, so a child would report the parent's peak when that is higher.
_MEASURE = """
import json, sys, time
from latentsym.io import iterate_events, read_events
path, mode = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
n = 0
if mode == "iterate":
    for events, info in iterate_events(path, step_size=100_000):
        n += len(events)
elif mode == "whole":
    n = len(read_events(path).events)
seconds = time.perf_counter() - t0
with open("/proc/self/status") as fh:
    rss = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 1024
print(json.dumps({"events": n, "seconds": seconds, "peak_rss_mb": rss}))
"""


def _best(fn: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return min(times)


def _lhe_speed(paths: list[Path], repeat: int) -> None:
    print(f"## LHE: events/s (best of {repeat}, interleaved)")
    print("| file | events | pylhe to_awkward | read_lhe(engine='pylhe') | numpy path | ratio |")
    print("|---|---|---|---|---|---|")
    for path in paths:
        n = len(read_lhe(path).events)
        readers = {
            "ref": partial(lambda p: pylhe.to_awkward(pylhe.LHEFile.fromfile(p).events), path),
            "route": partial(read_lhe, path, engine="pylhe"),
            "fast": partial(read_lhe, path, engine="fast"),
        }
        runs: dict[str, list[float]] = {k: [] for k in readers}
        for _ in range(repeat):  # interleaved so that load changes hit all three alike
            for key, read in readers.items():
                runs[key].append(_best(read, 1))
        ref, route, fast = (n / min(runs[k]) for k in readers)
        print(
            f"| {path.name} | {n} | {ref:,.0f} | {route:,.0f} | {fast:,.0f} | {fast / ref:.1f}x |"
        )


def _root_speed(repeat: int) -> None:
    print("\n## ROOT (uproot): events/s")
    print("| file | events | read_events |")
    print("|---|---|---|")
    for path in sorted(_SAMPLES.glob("*.root")):
        n = len(read_events(path).events)
        rate = n / _best(partial(read_events, path), repeat)
        print(f"| {path.name} | {n} | {rate:,.0f} |")


def _big_file(folder: Path, n_events: int) -> Path:
    """An LHE file of ``n_events``: the events of the e+e- sample repeated."""
    text = gzip.decompress((_SAMPLES / "ee_mumu_91GeV.lhe.gz").read_bytes())
    head, rest = text.split(b"<event>", 1)
    body = b"<event>" + rest.rsplit(b"</LesHouchesEvents>", 1)[0]
    per = body.count(b"<event>")
    path = folder / f"ee_mumu_{n_events}.lhe"
    with path.open("wb") as fh:
        fh.write(head)
        for _ in range(n_events // per):
            fh.write(body)
        left = n_events % per
        if left:
            fh.write(b"<event>".join(body.split(b"<event>")[: left + 1]))
        fh.write(b"</LesHouchesEvents>\n")
    return path


def _measure(path: Path | str, mode: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path), mode],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout)


def _memory(sizes: list[int]) -> None:
    print("\n## Chunked LHE reading: peak RSS (fresh process each)")
    print("| file | events | mode | seconds | events/s | peak RSS MB |")
    print("|---|---|---|---|---|---|")
    base = _measure(_SAMPLES / "ee_mumu_91GeV.lhe.gz", "import")
    print(f"| (imports only) | 0 | import | - | - | {base['peak_rss_mb']:.0f} |")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = _big_file(Path(tmp), n)
            modes = ["iterate", "whole"] if n <= 100_000 else ["iterate"]
            for mode in modes:
                r = _measure(path, mode)
                rate = r["events"] / r["seconds"]
                size = f"{path.stat().st_size / 1e6:.0f} MB"
                print(f"| {size} | {r['events']:,} | {mode} | {r['seconds']:.1f} | "
                      f"{rate:,.0f} | {r['peak_rss_mb']:.0f} |")  # fmt: skip
            path.unlink()


def main() -> None:
    """Parse the arguments and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one sample, 10^5 events only")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--big", type=int, nargs="*", default=[100_000, 1_000_000])
    args = parser.parse_args()
    samples = sorted(_SAMPLES.glob("*.lhe.gz"))
    if args.quick:
        samples, args.big, args.repeat = samples[:1], [100_000], 1
    with tempfile.TemporaryDirectory() as tmp:
        paths: list[Path] = []
        for path in samples:
            plain = Path(tmp) / path.name.removesuffix(".gz")
            plain.write_bytes(gzip.decompress(path.read_bytes()))
            paths += [path, plain]
        _lhe_speed(paths, args.repeat)
    _root_speed(args.repeat)
    _memory(args.big)


if __name__ == "__main__":
    main()
