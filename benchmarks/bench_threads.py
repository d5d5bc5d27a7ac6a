"""Training beside other work: torch's default thread count against latentsym's choice.

Usage::

    .venv/bin/python benchmarks/bench_threads.py [--epochs 40] [--repeats 2] [--busy 0,1,2]
        [--no-diff] [--summary]

Trains the main job's model (``latentsym.models.fit`` with the library's architecture and
training settings, 40 epochs with early stopping held off, on the cartesian features of
``samples/ee_mumu_91GeV.lhe.gz``) and prints

1. **the table**: training events/s (``TrainedModel.events_per_second``: the training
   and validation passes, as the job reports them) alone, beside one and beside two busy
   processes (``python -c "while True: pass"``, started here on the same CPUs and killed
   after), with torch's default thread count and with the automatic choice
   (``FitOptions(num_threads=None)``, see :mod:`latentsym.models.threads`), side by side.
   The repeats are interleaved (load by load, the two modes in alternating order) and
   every measurement is listed with ``/proc/loadavg`` and the other load measured just
   before it, since the machine may be shared, and with the cores the fit got (its CPU
   seconds over its wall seconds) and its events per CPU-second (threads that wait for a
   preempted sibling burn CPU without training: this column shows it whatever else runs);
2. the speed beside one busy process over the speed alone, per mode (target for the
   automatic choice: at least 2/3);
3. unless ``--no-diff``: how far the results move between one and two threads on the same
   seed (weights, final losses, relevance, encoded means), and whether two one-thread runs
   are bit-identical; with ``--summary`` also the figures of ``summary.json`` of the whole
   job (``run_analysis``) run with one and with two threads.

``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS`` must be unset (they would fix the count).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentsym.analysis.relevance import relevance
from latentsym.features import FeatureMatrix, build
from latentsym.io.read import read_events
from latentsym.models import FitOptions, TrainConfig, TrainedModel, fit
from latentsym.models.threads import measure_other_load, training_threads, usable_cores
from latentsym.physics.selection import select_final_state

__all__ = ["busy_processes", "compare_threads", "main", "measure", "sample_features"]

_ROOT = Path(__file__).resolve().parents[1]
_SAMPLE = _ROOT / "samples" / "ee_mumu_91GeV.lhe.gz"


def sample_features() -> FeatureMatrix:
    """The features of the bundled e+e- -> mu+ mu- sample, built as the main job does."""
    events, _ = read_events(_SAMPLE)
    return build(select_final_state(events), "cartesian")


def _train(epochs: int, seed: int = 0) -> TrainConfig:
    return TrainConfig(epochs=epochs, patience=epochs, seed=seed)


@contextmanager
def busy_processes(n: int) -> Iterator[None]:
    """``n`` processes spinning on the CPU for the duration of the block."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        if procs:
            time.sleep(0.5)  # let them start
        yield
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def measure(fm: FeatureMatrix, epochs: int, threads: int | None) -> dict[str, Any]:
    """One training run: events/s, the threads used, the load just before it."""
    load, other = _loadavg(), measure_other_load(0.2)
    cpu, wall = time.process_time(), time.perf_counter()
    t = fit(fm, train=_train(epochs), options=FitOptions(progress=False, num_threads=threads))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    assert t.threads is not None
    return {
        "loadavg": load,
        "other": other,
        "events_per_second": t.events_per_second,
        "events_per_cpu_second": t.events_per_second * t.train_seconds / cpu,
        "cores_used": cpu / wall,
        "threads": "->".join(str(n) for n in t.threads.counts),
        "changes": [(c.epoch, c.batch, c.threads) for c in t.threads.changes],
    }


def _table(fm: FeatureMatrix, args: argparse.Namespace, default: int) -> None:
    loads = [int(b) for b in args.busy.split(",") if b]
    modes: list[tuple[str, int | None]] = [(f"torch default ({default})", default),
                                           ("automatic", None)]  # fmt: skip
    fit(fm, train=_train(1), options=FitOptions(progress=False, num_threads=1))  # warm-up
    rows: dict[tuple[int, str], list[dict[str, Any]]] = {}
    print("\nmeasurements, in the order taken:")
    print(
        "| rep | busy | threads mode | loadavg before | other load before | threads used | "
        "events/s | cores it got | events per CPU-s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for rep in range(args.repeats):
        for busy in loads:
            with busy_processes(busy):
                order = modes if (rep + busy) % 2 == 0 else modes[::-1]
                for name, n in order:
                    m = measure(fm, args.epochs, n)
                    rows.setdefault((busy, name), []).append(m)
                    other = "n/a" if m["other"] is None else f"{m['other']:.2f}"
                    print(
                        f"| {rep + 1} | {busy} | {name} | {m['loadavg']} | {other} | "
                        f"{m['threads']} | {m['events_per_second']:,.0f} | "
                        f"{m['cores_used']:.2f} | {m['events_per_cpu_second']:,.0f} |",
                        flush=True,
                    )
    print(f"\ntraining events/s, median of {args.repeats} (min-max), {args.epochs} epochs:")
    print(f"| beside | {modes[0][0]} | threads | automatic | threads | automatic / default |")
    print("|---|---|---|---|---|---|")
    med: dict[tuple[int, str], float] = {}
    for busy in loads:
        cells = []
        for name, _ in modes:
            ms = rows[(busy, name)]
            eps = [m["events_per_second"] for m in ms]
            med[(busy, name)] = statistics.median(eps)
            used = ", ".join(sorted({m["threads"] for m in ms}))
            cells.append(f"{med[(busy, name)]:,.0f} ({min(eps):,.0f}-{max(eps):,.0f}) | {used}")
        ratio = med[(busy, "automatic")] / med[(busy, modes[0][0])]
        label = "alone" if busy == 0 else f"{busy} busy process{'es' if busy > 1 else ''}"
        print(f"| {label} | {cells[0]} | {cells[1]} | {ratio:.2f}x |")
    if 0 in loads and 1 in loads:
        print("\nbeside one busy process / alone (target for automatic: >= 0.67):")
        for name, _ in modes:
            print(f"  {name}: {med[(1, name)] / med[(0, name)]:.2f}")


def _max_diff(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> tuple[float, float]:
    absolute = max(float(np.abs(a[k] - b[k]).max()) for k in a)
    scale = max(float(np.abs(a[k]).max()) for k in a)
    return absolute, absolute / scale


def compare_threads(fm: FeatureMatrix, epochs: int, seed: int = 0) -> dict[str, Any]:
    """Train with 1, 2 and again 1 thread on one seed; how far the results move."""
    runs: list[TrainedModel] = []
    for n in (1, 2, 1):
        opts = FitOptions(progress=False, num_threads=n)
        runs.append(fit(fm, train=_train(epochs, seed), options=opts))
    weights = [{k: v.numpy().copy() for k, v in t.model.state_dict().items()} for t in runs]
    enc = [t.encode(fm) for t in runs]
    rel = [relevance(mu, sigma=sigma) for mu, sigma in enc]
    r_values = [np.array([d.R for d in r.directions]) for r in rel]
    w_abs, w_rel = _max_diff(weights[0], weights[1])
    out: dict[str, Any] = {
        "weights_max_abs": w_abs,
        "weights_max_rel": w_rel,
        "mu_max_abs": float(np.abs(enc[0][0] - enc[1][0]).max()),
        "sigma_max_abs": float(np.abs(enc[0][1] - enc[1][1]).max()),
        "R_1thread": [round(float(r), 6) for r in r_values[0]],
        "R_max_abs": float(np.abs(r_values[0] - r_values[1]).max()),
        "n_relevant": (rel[0].n_relevant, rel[1].n_relevant),
        "best_epoch": (runs[0].best_epoch, runs[1].best_epoch),
        "one_thread_rerun_bit_identical": all(
            np.array_equal(weights[0][k], weights[2][k]) for k in weights[0]
        ),
    }
    for key in ("train_total", "val_total", "val_recon", "val_kl"):
        a, b = runs[0].history[-1][key], runs[1].history[-1][key]
        out[f"final_{key}"] = (a, b, abs(a - b) / abs(a))
    return out


def _leaves(d: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(d, dict):
        for k, v in d.items():
            yield from _leaves(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(d, list):
        for i, v in enumerate(d):
            yield from _leaves(v, f"{prefix}[{i}]")
    else:
        yield prefix, d


def _summary_diff(epochs: int) -> None:
    from latentsym.jobs import RunOptions, run_analysis

    sums = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (1, 2):
            out = Path(tmp) / f"t{n}"
            with training_threads(n):
                run_analysis([_SAMPLE], out, RunOptions(train=_train(epochs), progress=False))
            sums.append(dict(_leaves(json.loads((out / "summary.json").read_text()))))
    skip = ("seconds", "events_per_second", "threads", "timing")
    kept = {k: v for k, v in sums[0].items() if not any(s in k for s in skip)}
    moved, other = [], []
    for key, a in kept.items():
        b = sums[1].get(key)
        if a == b:
            continue
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (a, b))
        if numbers:
            moved.append((abs(a - b) / max(abs(a), 1e-300), abs(a - b), key, a, b))
        else:
            other.append((key, a, b))
    print(f"\nsummary.json (run_analysis, {epochs} epochs), 1 vs 2 threads, timings left out:")
    print(f"  {len(moved)} of {len(kept)} values moved; other than numbers: {other or 'none'}")
    for name in ("n_relevant", "latent_manifold_dim", "verdict.consistent"):
        if name in kept:
            print(f"  {name}: {kept[name]} vs {sums[1].get(name)}")
    r_keys = [k for k in kept if k.startswith("relevance") and k.endswith(".R")]
    if r_keys:
        worst = max(abs(kept[k] - sums[1][k]) for k in r_keys)
        print(f"  relevance R: largest change {worst:.2g} over {len(r_keys)} directions")
    print("  largest relative changes:")
    for rel_diff, abs_diff, key, a, b in sorted(moved, reverse=True)[:12]:
        print(f"    {key}: {a:.9g} vs {b:.9g} (relative {rel_diff:.2g}, absolute {abs_diff:.2g})")


def main() -> None:
    """Parse the arguments, run the measurements, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2, help="interleaved repeats")
    parser.add_argument("--busy", default="0,1,2", help="busy processes per measurement")
    parser.add_argument("--no-diff", action="store_true", help="skip the 1-vs-2-thread check")
    parser.add_argument("--summary", action="store_true", help="also compare summary.json")
    args = parser.parse_args()
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(name):
            sys.exit(f"unset {name}: it fixes the thread count")
    default = torch.get_num_threads()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"{usable_cores()} usable by this process, python {platform.python_version()}, "
        f"torch {torch.__version__} (default {default} intra-op threads)"
    )
    fm = sample_features()
    print(
        f"{_SAMPLE.name}: {fm.values.shape[0]} events x {fm.values.shape[1]} features; "
        f"fit with the library's defaults, {args.epochs} epochs, early stopping held off"
    )
    start = time.perf_counter()
    _table(fm, args, default)
    if not args.no_diff:
        d = compare_threads(fm, args.epochs)
        print(f"\n1 vs 2 threads, same seed, {args.epochs} epochs:")
        for key, value in d.items():
            print(f"  {key}: {value}")
    if args.summary:
        _summary_diff(args.epochs)
    print(f"\nwall time {time.perf_counter() - start:.0f} s; loadavg at the end {_loadavg()}")


if __name__ == "__main__":
    main()
