"""Reading speed and memory: the numpy LHE path against pylhe and against decompression
alone, ROOT, chunked reading.

Usage::

    .venv/bin/python benchmarks/bench_reading.py [--quick] [--repeat 5] [--big 100000 1000000]

Prints, measured side by side in one run (``--repeat`` rounds, each reader once per file
per round, the rounds interleaved so that changes of load hit every reader alike; the best
and the median of the rounds, and the load average of the machine during the rounds):

- per LHE file of ``../shared/data/external`` and ``samples/`` (and a plain copy of each
  gzip file with at least 1,000 events): events/s of ``pylhe.LHEFile.fromfile`` +
  ``pylhe.to_awkward`` (the reference), of ``read_events`` (the numpy path), and for gzip
  files of decompression alone (``gzip.decompress``, zlib; and
  ``latentsym.io._gunzip.decompress``, ISA-L), with the ratios read_events / zlib time and
  read_events / pylhe speed; for files under 1,000 events the fixed cost too (the time of
  ``read_events`` with ``max_events=1``: opening, detecting, the head, one event);
- per gzip LHE file of at least 1,000 events, what the second core gives: the time of
  zlib once, and twice at once on two threads (1.0x the time of once where two cores do
  two jobs in the time of one), and of ``read_events`` parsing on one thread against its
  thread pool;
- events/s of ``read_events`` on the bundled ROOT files (uproot);
- peak resident memory of ``iterate_events(step_size=100_000)`` over LHE files of 10^5
  and 10^6 events (made by repeating the events of a bundled sample), each in a fresh
  process, next to a process that only imports latentsym, and the same for reading the
  10^5 file whole.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pylhe

from latentsym.io import _gunzip, lhe_fast, read_events

__all__ = ["main"]

_ROOT = Path(__file__).resolve().parents[1]
_SAMPLES = _ROOT / "samples"
_EXTERNAL = _ROOT.parent / "shared" / "data" / "external"
_SMALL = 1000  # files with fewer events: the fixed cost is given too
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


def _best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _pylhe(path: Path) -> object:
    return pylhe.to_awkward(pylhe.LHEFile.fromfile(str(path)).events)


def _lhe_files(folder: Path) -> list[Path]:
    """The LHE files of the external data and the samples, and a plain copy (in
    ``folder``) of each gzip file with at least 1,000 events."""
    found = sorted(_EXTERNAL.glob("*.lhe")) + sorted(_EXTERNAL.glob("*.lhe.gz"))
    found += sorted(_SAMPLES.glob("*.lhe.gz"))
    paths: list[Path] = []
    for path in found:
        paths.append(path)
        if path.suffix == ".gz" and len(read_events(path).events) >= _SMALL:
            plain = folder / path.name.removesuffix(".gz")
            plain.write_bytes(gzip.decompress(path.read_bytes()))
            paths.append(plain)
    return paths


def _lhe_speed(paths: list[Path], repeat: int) -> None:
    readers: dict[Path, dict[str, Callable[[], object]]] = {}
    counts = {}
    for path in paths:
        counts[path] = len(read_events(path).events)
        runs: dict[str, Callable[[], object]] = {
            "pylhe": partial(_pylhe, path),
            "read_events": partial(read_events, path),
        }
        if path.suffix == ".gz":
            raw = path.read_bytes()
            runs["zlib"] = partial(gzip.decompress, raw)
            runs[_gunzip.BACKEND] = partial(_gunzip.decompress, raw)
        if counts[path] < _SMALL:
            runs["fixed"] = partial(read_events, path, max_events=1)
        readers[path] = runs
    times: dict[tuple[Path, str], list[float]] = {}
    loads = [os.getloadavg()[0]]
    t0 = time.perf_counter()
    for _ in range(repeat):  # interleaved: each round runs every reader on every file once
        for path, runs in readers.items():
            for key, run in runs.items():
                times.setdefault((path, key), []).append(_best(run, 1))
        loads.append(os.getloadavg()[0])
    wall = time.perf_counter() - t0
    print(f"## LHE: events/s (best of {repeat} interleaved rounds; median in brackets)")
    print(f"{os.cpu_count()} CPUs; load average (1 min) during the rounds: "
          f"{min(loads):.1f} to {max(loads):.1f}; rounds took {wall:.0f} s\n")  # fmt: skip
    print("| file | events | MB | pylhe | read_events | zlib | isal | read_events / zlib time "
          "| read_events / pylhe speed |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for path in paths:
        n = counts[path]
        best = {k: min(times[(path, k)]) for (p, k) in times if p == path}
        median = {k: statistics.median(times[(path, k)]) for (p, k) in times if p == path}

        def rate(key: str, n: int = n, best: dict = best, median: dict = median) -> str:
            if key not in best:
                return "-"
            return f"{n / best[key]:,.0f} ({n / median[key]:,.0f})"

        size = len(gzip.decompress(path.read_bytes())) if path.suffix == ".gz" else None
        size = path.stat().st_size if size is None else size
        zlib_ratio = "-"
        if "zlib" in best:
            zlib_ratio = (f"{best['read_events'] / best['zlib']:.2f} "
                          f"({median['read_events'] / median['zlib']:.2f})")  # fmt: skip
        speedup = (f"{best['pylhe'] / best['read_events']:.1f}x "
                   f"({median['pylhe'] / median['read_events']:.1f}x)")  # fmt: skip
        name = path.name + ("" if path.parent in (_SAMPLES, _EXTERNAL) else " (plain copy)")
        cells = [name, f"{n:,}", f"{size / 1e6:.1f}", rate("pylhe"), rate("read_events"),
                 rate("zlib"), rate(_gunzip.BACKEND), zlib_ratio, speedup]  # fmt: skip
        print(f"| {' | '.join(cells)} |")
    small = [p for p in paths if counts[p] < _SMALL]
    if small:
        print(f"\nFiles under {_SMALL:,} events: milliseconds per read (best of {repeat})\n")
        print("| file | events | pylhe ms | read_events ms | fixed cost ms (max_events=1) "
              "| read_events / pylhe speed |")  # fmt: skip
        print("|---|---|---|---|---|---|")
        for path in small:
            best = {k: min(times[(path, k)]) for (p, k) in times if p == path}
            print(f"| {path.name} | {counts[path]:,} | {best['pylhe'] * 1e3:.1f} "
                  f"| {best['read_events'] * 1e3:.1f} | {best['fixed'] * 1e3:.1f} "
                  f"| {best['pylhe'] / best['read_events']:.1f}x |")  # fmt: skip


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """``read_events`` parsing on the calling thread only (the pool switched off)."""
    saved = lhe_fast._workers
    lhe_fast._workers = lambda: 1
    try:
        yield
    finally:
        lhe_fast._workers = saved


def _twice_at_once(run: Callable[[], object]) -> float:
    """Seconds for ``run`` on two threads at once (each runs it once)."""
    threads = [threading.Thread(target=run) for _ in range(2)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def _threads(paths: list[Path], repeat: int) -> None:
    """What the second core gives: ``read_events`` on one thread against its thread
    pool, and zlib (which releases the GIL) once against twice at once on two threads."""
    plain = {p.name for p in paths}  # _lhe_files made a plain copy of each such gzip file
    big = [p for p in paths if p.suffix == ".gz" and p.name.removesuffix(".gz") in plain]
    print(f"\n## LHE: one thread against two (best of {repeat}, milliseconds)")
    print("| file | zlib | zlib twice on 2 threads | read_events, 1 thread | read_events "
          "(pool) | 1 thread / zlib | pool / zlib |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for path in big:
        raw = path.read_bytes()
        zlib = partial(gzip.decompress, raw)
        times: dict[str, list[float]] = {"zlib": [], "two": [], "one": [], "pool": []}
        for _ in range(repeat):
            times["zlib"].append(_best(zlib, 1))
            times["two"].append(_twice_at_once(zlib))
            with _one_thread():
                times["one"].append(_best(partial(read_events, path), 1))
            times["pool"].append(_best(partial(read_events, path), 1))
        best = {k: min(v) * 1e3 for k, v in times.items()}
        print(f"| {path.name} | {best['zlib']:.1f} | {best['two']:.1f} | {best['one']:.1f} | "
              f"{best['pool']:.1f} | {best['one'] / best['zlib']:.2f} | "
              f"{best['pool'] / best['zlib']:.2f} |")  # fmt: skip


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
    parser.add_argument("--quick", action="store_true", help="two files, 10^5 events only")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--big", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--lhe-only", action="store_true", help="the LHE table only")
    parser.add_argument("--files", nargs="*", default=[], help="LHE files whose names hold one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = _lhe_files(Path(tmp))
        if args.files:
            paths = [p for p in paths if any(part in p.name for part in args.files)]
        if args.quick:
            paths, args.big, args.repeat = paths[-2:], [100_000], 1
        _lhe_speed(paths, args.repeat)
        _threads(paths, args.repeat)
    if args.lhe_only:
        return
    _root_speed(args.repeat)
    _memory(args.big)


if __name__ == "__main__":
    main()
