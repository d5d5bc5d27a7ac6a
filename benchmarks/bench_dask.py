"""Many files: single process against a local dask cluster, side by side in one run.

Usage::

    .venv/bin/python benchmarks/bench_dask.py [--files 8] [--workers 2] [--repeat 2]

For each bundled sample (``ee_mumu_91GeV.lhe.gz``, ``pp_mumu_13TeV.root``), copies it
``--files`` times into a temporary folder and times the path of ``latentsym run`` up to the
feature matrix: ``read_many`` + ``select_final_state`` + ``build`` in this process, and
:func:`latentsym.jobs.dask_read.read_select_build` on a ``LocalCluster`` of ``--workers``
processes (one thread each). The cluster start and a warm-up call (the workers import
latentsym, uproot and torch once) are timed apart. Prints the best of ``--repeat`` runs,
events/s, the ratio, and whether the two results are identical.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

__all__ = ["main"]

_ROOT = Path(__file__).resolve().parents[1]
_SAMPLES = ("ee_mumu_91GeV.lhe.gz", "pp_mumu_13TeV.root")


def _single(paths: list[Path]) -> tuple[float, object]:
    from latentsym.features import build
    from latentsym.jobs import read_many
    from latentsym.physics.selection import select_final_state

    t0 = time.perf_counter()
    events, *_ = read_many(paths)
    features = build(select_final_state(events), "cartesian")
    return time.perf_counter() - t0, features


def _dask(paths: list[Path], client: object) -> tuple[float, object]:
    from latentsym.jobs.dask_read import read_select_build

    t0 = time.perf_counter()
    got = read_select_build(paths, client)
    return time.perf_counter() - t0, got.features


def main() -> None:
    """Parse the arguments, run both paths on every sample, print the figures."""
    import numpy as np

    from latentsym.jobs.dask_read import connect

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=8, help="copies of each sample")
    parser.add_argument("--workers", type=int, default=2, help="dask worker processes")
    parser.add_argument("--repeat", type=int, default=2, help="runs per path (best kept)")
    args = parser.parse_args()
    print(
        f"# {platform.node()}: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
        f"{args.files} files per sample, {args.workers} workers x 1 thread"
    )
    tmp = Path(tempfile.mkdtemp(prefix="latentsym-bench-dask-"))
    try:
        t0 = time.perf_counter()
        with connect("auto", n_workers=args.workers) as client:
            print(f"cluster start: {time.perf_counter() - t0:.2f} s")
            for name in _SAMPLES:
                suffix = "".join(Path(name).suffixes)
                paths = []
                for i in range(args.files):
                    paths.append(tmp / f"{Path(name).name.removesuffix(suffix)}_{i}{suffix}")
                    shutil.copyfile(_ROOT / "samples" / name, paths[-1])
                warm, _ = _dask(paths[:1], client)
                single, dask = [], []
                for _ in range(args.repeat):  # interleaved: a change of load hits both
                    single.append(_single(paths))
                    dask.append(_dask(paths, client))
                t_single, f_single = min(single, key=lambda r: r[0])
                t_dask, f_dask = min(dask, key=lambda r: r[0])
                n = f_single.n_events  # type: ignore[attr-defined]
                same = np.array_equal(f_single.values, f_dask.values)  # type: ignore[attr-defined]
                print(
                    f"{name} x {args.files} ({n} events selected; dask warm-up {warm:.2f} s):\n"
                    f"  single process  {t_single:7.2f} s  {n / t_single:10.0f} events/s\n"
                    f"  dask            {t_dask:7.2f} s  {n / t_dask:10.0f} events/s\n"
                    f"  ratio single/dask {t_single / t_dask:.2f}; identical features: {same}"
                )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
