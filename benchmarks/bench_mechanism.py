"""Latents identified through known mechanisms: the mechanism VAE against the plain VAE.

Usage::

    .venv/bin/python benchmarks/bench_mechanism.py [--events 20000] [--epochs 300]
        [--seed 0] [--threads 1] [--out FILE.json]

On the bundled samples it trains, with the same latent size (6), epochs, early stopping,
beta and seed:

- e+e- -> mu+ mu- (91.2 GeV): a mechanism VAE with ``azimuthal`` and a plain VAE;
- pp -> mu+ mu- (13 TeV): mechanism VAEs with ``boost-z`` and with ``azimuthal`` +
  ``boost-z``, and a plain VAE;

and prints, per run, the Fisher-Lee circular correlation of the designated block's angle
with the true azimuth of the mu- (plain VAE: the best any plane of its relevant latents
reaches, see :mod:`latentsym.analysis.mechanism_check`), the angle residual, the
invariance error of the other latents, and for boost-z the correlation of the shift
coordinate with the true rapidity of the muon pair and the slope of the shift against the
applied rapidity change. With ``--out`` the numbers are also written as JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import torch

from latentsym.analysis.mechanism_check import mechanism_check, plain_baseline
from latentsym.features import FeatureMatrix, build
from latentsym.io import read_events
from latentsym.models import (
    Architecture,
    FitOptions,
    MechanismSpec,
    TrainConfig,
    fit,
    fit_mechanism,
)
from latentsym.physics.selection import select_final_state

__all__ = ["main"]

_ROOT = Path(__file__).resolve().parents[1]
_RUNS: list[tuple[str, list[tuple[str, ...]]]] = [
    ("ee_mumu_91GeV.lhe.gz", [("azimuthal",)]),
    ("pp_mumu_13TeV.lhe.gz", [("boost-z",), ("azimuthal", "boost-z")]),
]


def _fmt(value: Any, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _features(name: str, n: int) -> FeatureMatrix:
    events, _ = read_events(_ROOT / "samples" / name, max_events=n)
    return build(select_final_state(events))


def main() -> None:
    """Parse the arguments, train, measure, print the table (and write the JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    arch = Architecture(latent_dim=6)
    train = TrainConfig(epochs=args.epochs, seed=args.seed)
    options = FitOptions(progress=False, num_threads=args.threads)
    rows: list[dict[str, Any]] = []
    for sample, mechanism_sets in _RUNS:
        fm = _features(sample, args.events)
        for mechanisms in mechanism_sets:
            t0 = time.perf_counter()
            spec = MechanismSpec(mechanisms=mechanisms)
            trained = fit_mechanism(fm, mechanism=spec, arch=arch, train=train, options=options)
            seconds = time.perf_counter() - t0
            chk = mechanism_check(trained, fm, particle="mu-", seed=args.seed)
            rows.append(
                {
                    "sample": sample,
                    "model": "mechanism: " + " + ".join(mechanisms),
                    "epochs_run": trained.epochs_run,
                    "train_s": seconds,
                    "val_recon": trained.history[trained.best_epoch - 1]["val_recon"],
                    "check": chk.to_dict(),
                }
            )
        t0 = time.perf_counter()
        plain = fit(fm, arch=arch, train=train, options=options)
        seconds = time.perf_counter() - t0
        all_mechanisms = sorted({m for ms in mechanism_sets for m in ms})
        base = plain_baseline(plain, fm, mechanisms=all_mechanisms, particle="mu-", seed=args.seed)
        rows.append(
            {
                "sample": sample,
                "model": "plain VAE",
                "epochs_run": plain.epochs_run,
                "train_s": seconds,
                "val_recon": plain.history[plain.best_epoch - 1]["val_recon"],
                "baseline": base.to_dict(),
            }
        )
    print(_table(rows))
    if args.out is not None:
        record = {
            "settings": {
                **vars(args),
                "out": str(args.out),
                "latent_dim": arch.latent_dim,
                "beta": train.beta,
            },
            "machine": {"python": platform.python_version(), "torch": torch.__version__},
            "rows": rows,
        }
        args.out.write_text(json.dumps(record, indent=2) + "\n")


def _table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| sample | model | epochs | train s | val recon | rho_FL(phi mu-) | angle resid [rad] "
        "| invariance err | corr(shift, y_sys) | shift slope |"
    )
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        if "check" in r:
            c = r["check"]
            cells = [
                _fmt(c["circular_correlation"], 5),
                _fmt(c["angle_residual"], 3),
                _fmt(c["invariance_error"], 3) + f" (dims {c['invariance_dims']})",
                _fmt(c["rapidity_correlation"]),
                _fmt(c["shift_slope"], 3),
            ]
        else:
            b = r["baseline"]
            plane = b["plane"]
            rho = "-"
            if plane:
                pair, lin = _fmt(plane["pair_correlation"]), _fmt(plane["linear_correlation"])
                motion = _fmt(b["motion_plane_correlation"])
                rho = f"pair {pair}, motion plane {motion}, linear map {lin}"
            cells = [
                rho,
                _fmt(plane["linear_residual"], 3) if plane else "-",
                _fmt(b["displacement"], 3) + " (all relevant)",
                _fmt(b["rapidity_correlation"]) + " (best linear)",
                "-",
            ]
        lines.append(
            f"| {r['sample']} | {r['model']} | {r['epochs_run']} | {r['train_s']:.0f} | "
            f"{r['val_recon']:.3f} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
