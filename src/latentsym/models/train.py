"""Training the plain VAE: its objective for the one training loop, and :func:`fit`.

The loop itself (split, seeds, early stopping, checkpoints, resume, progress, device and
DDP) is :func:`latentsym.models.trainer.train`, shared with every other model variant;
this module adds what is particular to the plain VAE: one reparameterisation draw per
event of every batch (drawn for the global batch, so that DDP ranks use their slice of
the same draw), the loss of :mod:`latentsym.models.loss`, and a validation pass with a
fixed noise draw (``recon + beta * kl``).

Example:
    >>> from latentsym.toys import circle
    >>> trained = fit(circle(500, seed=0), arch=Architecture(latent_dim=2),
    ...               train=TrainConfig(epochs=3), options=FitOptions(progress=False))
    >>> mu, sigma = trained.encode(circle(10, seed=1))
    >>> mu.shape, trained.best_epoch
    ((10, 2), 3)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from latentsym.features.build import FeatureMatrix
from latentsym.features.scaler import Scaler
from latentsym.models.checkpoint import TrainedModel
from latentsym.models.config import Architecture, FitOptions, TrainConfig, VAEConfig
from latentsym.models.distributed import all_reduce_sum
from latentsym.models.loss import kl_per_event, vae_loss
from latentsym.models.trainer import (
    STATE_FILE,
    Batch,
    Objective,
    Split,
    TrainData,
    as_train_data,
    epoch_seed,
)
from latentsym.models.trainer import train as train_loop
from latentsym.models.vae import VAE, VAEOutput

__all__ = ["STATE_FILE", "VAEObjective", "fit"]

EVAL_BATCH = 65536
"""Events per forward pass in validation."""


def fit(
    features: FeatureMatrix | np.ndarray,
    *,
    arch: Architecture | None = None,
    train: TrainConfig | None = None,
    options: FitOptions | None = None,
    feature_names: Sequence[str] | None = None,
) -> TrainedModel:
    """Train a VAE on a feature matrix.

    Args:
        features: a :class:`~latentsym.features.FeatureMatrix`, or ``[N, F]`` physical
            features (then ``feature_names`` may name them).
        arch: the network (default :class:`Architecture`: 6 latents, hidden 128, 128).
        train: the training settings (default :class:`TrainConfig`).
        options: how the fit runs (default :class:`FitOptions`: no checkpoint folder,
            progress bar on, CPU, DDP under torchrun).
        feature_names: names for a raw array (default ``f0 ...``).

    Returns:
        The :class:`TrainedModel` with the best validation weights, in eval mode.

    Raises:
        TrainingError: the loss became NaN or infinite (names epoch and batch).
        ConfigError: bad settings, or a resume that does not match the checkpoint.
        OutputError: ``out_dir`` holds a checkpoint and neither resume nor overwrite.
        SchemaError: non-finite features.
    """
    data = as_train_data(features, feature_names)
    model_cfg = (arch or Architecture()).for_features(data.values.shape[1])
    return train_loop(
        VAEObjective(model_cfg), data, train or TrainConfig(), options or FitOptions()
    )


class _Step(nn.Module):
    """The training forward pass with the noise given: what DDP wraps."""

    def __init__(self, vae: VAE) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, x: torch.Tensor, eps: torch.Tensor) -> VAEOutput:
        mu, logvar = self.vae.encode(x)
        z = mu + torch.exp(0.5 * logvar) * eps
        return VAEOutput(self.vae.decode(z), mu, logvar, z)


class VAEObjective(Objective):
    """The plain VAE's part of the loop: ``recon + beta * kl`` with one noise draw per event.

    Args:
        config: the architecture.
    """

    description = "VAE"
    terms = ("total", "recon", "kl")
    signed_weights = True

    def __init__(self, config: VAEConfig) -> None:
        self.config: VAEConfig = config

    @property
    def latent_dim(self) -> int:
        """Latent directions L."""
        return self.config.latent_dim

    def prepare(self, data: TrainData, split: Split, scaler: Scaler, dev: torch.device,
                cfg: TrainConfig) -> None:  # fmt: skip
        """Standardised training and validation tensors and the fixed validation noise."""
        train_idx, val_idx = split
        self.dev = dev
        self.x_train = _tensor(scaler, data.values[train_idx], dev)
        self.x_val = _tensor(scaler, data.values[val_idx], dev)
        w = torch.as_tensor(data.weight, dtype=torch.float32)
        self.w_val = w[val_idx].to(dev) if cfg.weighted else None
        gen = torch.Generator().manual_seed(epoch_seed(cfg.seed, -1))
        self.eps_val = torch.randn(len(val_idx), self.latent_dim, generator=gen).to(dev)

    def build_model(self) -> nn.Module:
        """A fresh :class:`VAE`."""
        return VAE.from_config(self.config)

    def step_module(self, model: nn.Module) -> nn.Module:
        """The forward pass with the noise given."""
        return _Step(model)  # type: ignore[arg-type]

    def step(
        self,
        module: nn.Module,
        batch: Batch,
        beta: float,
        weights: torch.Tensor | None,
    ) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...] | None]:
        """Forward and :func:`~latentsym.models.loss.vae_loss` of one batch."""
        idx, eps = batch
        xb = self.x_train[idx]
        out = module(xb, eps)
        if not len(idx):
            return tuple(out), None
        norm = None if weights is None else float(len(idx))
        return tuple(out), tuple(vae_loss(out, xb, beta, weights, norm))

    def validate(self, model: nn.Module, beta: float, shard: tuple[int, int]) -> dict[str, Any]:
        """``recon + beta * kl`` of the validation events with the fixed noise draw."""
        vae: VAE = model  # type: ignore[assignment]
        vae.eval()
        sums = torch.zeros(1 + self.latent_dim, dtype=torch.float64, device=self.dev)
        (lo, hi), n = shard, len(self.x_val)  # this rank's slice
        w = self.w_val / self.w_val.sum() if self.w_val is not None else None
        with torch.no_grad():
            for i in range(lo, hi, EVAL_BATCH):
                j = min(i + EVAL_BATCH, hi)
                xb = self.x_val[i:j]
                mu, logvar = vae.encode(xb)
                z = mu + torch.exp(0.5 * logvar) * self.eps_val[i:j]
                sq = ((vae.decode(z) - xb) ** 2).sum(-1).double()
                kl_ev = kl_per_event(mu, logvar).double()
                if w is None:
                    sums[0] += sq.sum() / n
                    sums[1:] += kl_ev.sum(0) / n
                else:
                    wb = w[i:j].double()
                    sums[0] += (wb * sq).sum()
                    sums[1:] += (wb[:, None] * kl_ev).sum(0)
        all_reduce_sum(sums)
        rec, kl_v = float(sums[0]), sums[1:].cpu().numpy()
        total = rec + beta * float(kl_v.sum())
        return {
            "val_total": total,
            "val_recon": rec,
            "val_kl": float(kl_v.sum()),
            "kl_per_dim": kl_v.tolist(),
        }


def _tensor(scaler: Scaler, values: np.ndarray, dev: torch.device) -> torch.Tensor:
    x = scaler.transform(values.astype(np.float64))
    return torch.as_tensor(x, dtype=torch.float32).to(dev)
