"""Invariant/equivariant VAE on e+e- -> mu mu, tau tau, b b~ at 91.2 GeV, block by block.

For each labelled fraction (default 1, 0.1, 0.01) an
:class:`~latentsym.models.invariant.InvariantEquivariantVAE` is trained on 80% of the
events (stratified split), and on the other 20% we measure: the class accuracy of a probe
(kNN, logistic regression) on the invariant block alone and on the equivariant block
alone (chance: 1/3), the classifier's own accuracy, the invariance of each block under
random rotations about the beam axis, and the reconstruction error; next to a plain VAE
(:func:`latentsym.models.fit`, same total latent size) and a probe on the true direction
of the first particle (the class information the orientation itself carries).

Usage::

    .venv/bin/python benchmarks/bench_invariant.py [--events 20000] [--representation collider]
        [--fractions 1 0.1 0.01] [--epochs 100] [--threads 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from latentsym.analysis.invariance import (
    direction_truth,
    evaluate_invariant,
    evaluate_plain,
    probe_accuracy,
    split_classes,
    take_events,
)
from latentsym.jobs.invariant import class_features
from latentsym.models import (
    Architecture,
    FitOptions,
    InvariantSpec,
    TrainConfig,
    fit,
    fit_invariant,
)

__all__ = ["SAMPLES", "main", "run"]

_ROOT = Path(__file__).resolve().parents[1]
SAMPLES = tuple(
    _ROOT / "samples" / f"{n}.lhe.gz" for n in ("ee_mumu_91GeV", "ee_tautau_91GeV", "ee_bb_91GeV")
)


def run(
    *,
    events: int = 20000,
    representation: str = "collider",
    fractions: tuple[float, ...] = (1.0, 0.1, 0.01),
    epochs: int = 100,
    plain_epochs: int = 300,
    inv_dim: int = 2,
    eq_dim: int = 4,
    eq_weight: float = 10.0,
    seed: int = 0,
) -> dict[str, Any]:
    """Train and evaluate; returns a JSON-safe dict of settings and numbers."""
    data = class_features(SAMPLES, representation, max_events=events)
    tr, te = split_classes(data.labels, 0.2, seed)
    f_tr, f_te = take_events(data.features, tr), take_events(data.features, te)
    y_tr, y_te = data.labels[tr], data.labels[te]
    out: dict[str, Any] = {
        "settings": {
            "events_per_class": events,
            "representation": representation,
            "n_train": len(tr),
            "n_test": len(te),
            "inv_dim": inv_dim,
            "eq_dim": eq_dim,
            "eq_weight": eq_weight,
            "epochs": epochs,
            "seed": seed,
            "classes": list(data.class_names),
            "topologies": list(data.topologies),
            "threads": torch.get_num_threads(),
        },
        "truth_direction_probe": probe_accuracy(direction_truth(f_te), y_te, seed=seed).to_dict(),
        "invariant": {},
    }
    arch = Architecture(latent_dim=inv_dim + eq_dim)  # z_inv + z_eq
    options = FitOptions(progress=False)
    for frac in fractions:
        t0 = time.perf_counter()
        res = fit_invariant(
            f_tr,
            y_tr,
            spec=InvariantSpec(inv_dim=inv_dim, eq_weight=eq_weight, labelled_fraction=frac),
            arch=arch,
            train=TrainConfig(epochs=epochs, seed=seed),
            options=options,
            class_names=data.class_names,
        )
        row = evaluate_invariant(res, f_te, y_te, seed=seed).to_dict()
        row.update(
            n_labelled=int(res.labelled.sum()),
            epochs_run=res.trained.epochs_run,
            best_epoch=res.trained.best_epoch,
            seconds=time.perf_counter() - t0,
        )
        out["invariant"][str(frac)] = row
    t0 = time.perf_counter()
    plain = fit(f_tr, arch=arch, train=TrainConfig(epochs=plain_epochs, seed=seed), options=options)
    out["plain"] = evaluate_plain(plain, f_te, y_te, seed=seed).to_dict()
    out["plain"].update(seconds=time.perf_counter() - t0)
    return out


def format_results(res: dict[str, Any]) -> str:
    """A plain-text table of :func:`run`'s numbers."""
    s = res["settings"]
    lines = [
        f"{' / '.join(s['classes'])}: {s['n_train']} train, {s['n_test']} test events, "
        f"{s['representation']} features, z_inv {s['inv_dim']} + z_eq {s['eq_dim']}",
        f"truth direction probe (kNN): {res['truth_direction_probe']['accuracy']:.3f}",
        "labelled  clf_acc  inv_knn  inv_log  eq_knn  eq_log  inv_rot   eq_rot  "
        "kept_rot  recon     epochs  s",
    ]
    for frac, r in res["invariant"].items():
        ip, ep = r["inv_probe"], r["eq_probe"]
        cells = [
            f"{float(frac):<8g}",
            f"{r['classifier_accuracy']:.3f}  ",
            f"{ip['knn']['accuracy']:.3f}  ",
            f"{ip['logistic']['accuracy']:.3f}  ",
            f"{ep['knn']['accuracy']:.3f} ",
            f"{ep['logistic']['accuracy']:.3f} ",
            f"{r['inv_rotation']['relative_change']:.2e}",
            f"{r['eq_rotation']['relative_change']:.3f}  ",
            f"{r['class_kept_under_rotation']:.4f}  ",
            f"{r['recon_error']:.4f}  ",
            f"{r['epochs_run']:<6d}",
            f"{r['seconds']:.0f}",
        ]
        lines.append("  ".join(cells))
    p = res["plain"]
    lines.append(
        f"plain VAE (all {s['inv_dim'] + s['eq_dim']} latents): probe kNN "
        f"{p['probe']['knn']['accuracy']:.3f}, logistic {p['probe']['logistic']['accuracy']:.3f}, "
        f"rotation change {p['rotation']['relative_change']:.3f}, recon {p['recon_error']:.4f}, "
        f"{p['epochs_run']} epochs, {p['seconds']:.0f} s"
    )
    return "\n".join(lines)


def main() -> None:
    """Parse the arguments, run, print the table (and write JSON with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000, help="events per class")
    parser.add_argument("--representation", default="collider")
    parser.add_argument("--fractions", type=float, nargs="+", default=[1.0, 0.1, 0.01])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--plain-epochs", type=int, default=300)
    parser.add_argument("--eq-weight", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    res = run(
        events=args.events,
        representation=args.representation,
        fractions=tuple(args.fractions),
        epochs=args.epochs,
        plain_epochs=args.plain_epochs,
        eq_weight=args.eq_weight,
        seed=args.seed,
    )
    print(format_results(res))
    if args.json is not None:
        args.json.write_text(json.dumps(res, indent=2, default=float))


if __name__ == "__main__":
    main()
