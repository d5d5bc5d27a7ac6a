"""Training speed: ``latentsym.models.fit`` next to a bare torch loop, and scaling with N.

Usage::

    .venv/bin/python benchmarks/bench_training.py [--quick] [--threads N] [--repeats R]

Prints

1. events/s of the real trainer (``fit``: progress off, no ``out_dir``, no validation so
   that early stopping cannot act, a fixed number of epochs) and of a bare torch loop over
   the same :class:`latentsym.models.VAE` (same hidden/latent sizes, batch size 1024,
   ``torch.optim.Adam(lr=1e-3)`` as in ``train.py``, the standardised features held in
   memory as one tensor, a permutation per epoch, batches sliced from it), measured side by
   side and interleaved in one run on the features of ``samples/ee_mumu_91GeV.lhe.gz``
   (built as the pipeline does: ``read_events`` + ``select_final_state`` +
   ``features.build``), and their ratio;
2. the trainer's time per epoch at 10^4, 10^5 and 10^6 events (the sample's features
   resampled with replacement), to show that the cost grows linearly.

``--quick`` runs fewer epochs and repeats and stops the scaling at 10^5 events.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from latentsym.features import build
from latentsym.io.read import read_events
from latentsym.models import VAE, Architecture, FitOptions, TrainConfig, fit, vae_loss
from latentsym.physics.selection import select_final_state

__all__ = ["bare_loop", "main", "sample_features", "trainer"]

_ROOT = Path(__file__).resolve().parents[1]
_SAMPLE = _ROOT / "samples" / "ee_mumu_91GeV.lhe.gz"
_HIDDEN = (128, 128)
_LATENT = 6
_BATCH = 1024
_LR = 1e-3
_BETA = 0.1
_ARCH = Architecture(latent_dim=_LATENT, hidden=_HIDDEN)
_QUIET = FitOptions(progress=False)


def sample_features() -> np.ndarray:
    """``[N, 8]`` float32 features of the bundled e+e- -> mu+ mu- sample, built as the pipeline
    builds them."""
    events, _ = read_events(_SAMPLE)
    return build(select_final_state(events), "cartesian").values.astype(np.float32)


def trainer(x: np.ndarray, epochs: int, seed: int = 0) -> tuple[float, list[float]]:
    """Wall seconds of ``fit`` on ``x`` for ``epochs`` epochs (no validation, no output),
    and the seconds of each epoch as the trainer recorded them."""
    start = time.perf_counter()
    train = TrainConfig(
        beta=_BETA, epochs=epochs, batch_size=_BATCH, lr=_LR, val_fraction=0.0, seed=seed
    )
    trained = fit(x, arch=_ARCH, train=train, options=_QUIET)
    return time.perf_counter() - start, [h["seconds"] for h in trained.history]


def bare_loop(x: np.ndarray, epochs: int, seed: int = 0) -> float:
    """Wall seconds of a bare torch loop over the same model, batches and optimiser."""
    start = time.perf_counter()
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1.0
    xt = torch.as_tensor((x - mean) / std, dtype=torch.float32)
    torch.manual_seed(seed)
    model = VAE(xt.shape[1], _LATENT, _HIDDEN)
    opt = torch.optim.Adam(model.parameters(), lr=_LR)
    model.train()
    n = len(xt)
    for _ in range(epochs):
        order = torch.randperm(n)
        for i in range(0, n, _BATCH):
            xb = xt[order[i : i + _BATCH]]
            loss = vae_loss(model(xb), xb, _BETA).total
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return time.perf_counter() - start


def _compare(x: np.ndarray, epochs: int, repeats: int) -> tuple[float, float]:
    trainer(x[:2048], 1)  # warm-up of both paths (allocator, kernels)
    bare_loop(x[:2048], 1)
    t_fit, t_bare = [], []
    for r in range(repeats):  # interleaved, so that machine load hits both alike
        t_fit.append(trainer(x, epochs, seed=r)[0])
        t_bare.append(bare_loop(x, epochs, seed=r))
    work = len(x) * epochs
    return work / statistics.median(t_fit), work / statistics.median(t_bare)


def main() -> None:
    """Parse the arguments, run both measurements, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs, scaling to 1e5")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--repeats", type=int, default=None, help="interleaved repeats")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    epochs = 3 if args.quick else 10
    repeats = args.repeats or (3 if args.quick else 5)
    print(
        f"machine: {platform.processor() or platform.machine()}, python "
        f"{platform.python_version()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} CPU threads"
    )

    x = sample_features()
    fit_eps, bare_eps = _compare(x, epochs, repeats)
    print(
        f"\n{_SAMPLE.name}: {len(x)} events x {x.shape[1]} features, batch {_BATCH}, "
        f"hidden {_HIDDEN}, latent {_LATENT}, {epochs} epochs, median of {repeats}"
    )
    print(f"  trainer (latentsym.models.fit): {fit_eps:12,.0f} events/s")
    print(f"  bare torch loop:                {bare_eps:12,.0f} events/s")
    print(f"  ratio trainer / bare:           {fit_eps / bare_eps:12.3f}")

    print("\ntrainer time per epoch (features resampled with replacement):")
    rng = np.random.default_rng(0)
    sizes = (10_000, 100_000) if args.quick else (10_000, 100_000, 1_000_000)
    per_epoch = {}
    for n in sizes:
        xn = x[rng.integers(0, len(x), n)]
        ep = max(3, min(epochs, 2_000_000 // n))
        per_epoch[n] = statistics.median(trainer(xn, ep)[1])
        print(
            f"  N = {n:>9,}: {per_epoch[n]:8.3f} s/epoch  ({n / per_epoch[n]:10,.0f} events/s, "
            f"median of {ep} epochs)"
        )
    first = sizes[0]
    for n in sizes[1:]:
        print(
            f"  time ratio N={n:,} / N={first:,}: {per_epoch[n] / per_epoch[first]:.1f} "
            f"(linear: {n / first:.0f})"
        )


if __name__ == "__main__":
    main()
