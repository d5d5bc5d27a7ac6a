"""Run the known-answer benchmark suite at full size and record its table.

Usage::

    .venv/bin/python benchmarks/known_answers.py [--events 20000] [--epochs N] [--threads N]
        [--overwrite]

Writes ``benchmarks/known_answers.json`` (settings, timing and one row per data set) and
prints the markdown table. The bundled samples in ``samples/`` are used for e+e- and pp.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

from latentsym.analysis.benchmark import format_table
from latentsym.jobs import BenchmarkOptions, run_benchmark
from latentsym.models import Architecture, TrainConfig
from latentsym.models.threads import training_threads
from latentsym.report.outputs import atomic_write_json

__all__ = ["main"]

_ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    """Parse the arguments, run the suite, write the JSON, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=1, help="training threads (default 1: reproducible)"
    )
    parser.add_argument("--out", type=Path, default=_ROOT / "benchmarks" / "known_answers.json")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()
    if args.out.exists() and not args.overwrite:
        parser.error(f"{args.out} exists; pass --overwrite to replace it")
    given = {"epochs": args.epochs, "seed": args.seed}
    train = TrainConfig(**{k: v for k, v in given.items() if v is not None})
    arch = Architecture()
    t0 = time.perf_counter()
    with training_threads(args.threads):
        rows = run_benchmark(
            options=BenchmarkOptions(
                n_events=args.events,
                arch=arch,
                train=train,
                samples_dir=_ROOT / "samples",
                progress=True,
            )
        )
    total = time.perf_counter() - t0
    table = format_table(rows)
    record = {
        "settings": {
            "n_events": args.events,
            "epochs": args.epochs,
            "seed": args.seed,
            "beta": train.beta,
            "latent_dim": arch.latent_dim,
        },
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "training_threads": args.threads,
        },
        "total_s": total,
        "rows": [row.to_dict() for row in rows],
        "table": table,
    }
    atomic_write_json(args.out, record)
    print(table)
    print(f"\n{len(rows)} data sets in {total:.0f} s; written to {args.out}")


if __name__ == "__main__":
    main()
