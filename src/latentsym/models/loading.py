"""Loading a model folder: the registry of model types and :func:`load_model`.

Every model variant is registered here by its ``model_type`` (the name stored in
``config.json``); a class reads its configuration with its ``config_class`` attribute
(default :class:`~latentsym.models.VAEConfig`).

A model folder with a ``prior/`` subfolder (a learned latent prior, see
:mod:`latentsym.models.flow`) comes back with it attached (``TrainedModel.prior``), its
weights loaded weights-only too; a prior whose recorded VAE digest differs from the
loaded weights (a stale ``prior/`` left beside a retrained VAE) is refused.

Example:
    >>> sorted(MODEL_TYPES)
    ['invariant-equivariant', 'linear-vae', 'mechanism-vae', 'vae']
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from latentsym.errors import ConfigError
from latentsym.features.scaler import Scaler
from latentsym.models.checkpoint import FORMAT, TrainedModel, read_json
from latentsym.models.config import TrainConfig, VAEConfig
from latentsym.models.flow import PRIOR_DIR, FlowPrior, weights_digest
from latentsym.models.invariant import InvariantEquivariantVAE
from latentsym.models.linear import LinearVAE
from latentsym.models.mechanism import MechanismVAE
from latentsym.models.vae import VAE

__all__ = ["MODEL_TYPES", "load_model"]

MODEL_TYPES: dict[str, Any] = {
    cls.model_type: cls for cls in (VAE, MechanismVAE, InvariantEquivariantVAE, LinearVAE)
}
"""Model classes by the ``model_type`` stored in ``config.json``."""


def load_model(directory: str | os.PathLike[str], *, device: str = "cpu") -> TrainedModel:
    """Load a model folder written by :meth:`TrainedModel.save` or by ``fit(out_dir=...)``.

    Args:
        directory: the folder.
        device: where to put the weights.

    Returns:
        The :class:`TrainedModel`, in eval mode.

    Raises:
        ConfigError: missing or inconsistent files.
    """
    folder = Path(directory)
    cfg = read_json(folder / "config.json")
    source = str(folder / "config.json")
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
        found = cfg.get("format") if isinstance(cfg, dict) else None
        raise ConfigError(f"{source}: format {found!r} is not {FORMAT!r}")
    model_type = cfg.get("model_type")
    if model_type not in MODEL_TYPES:
        raise ConfigError(
            f"{source}: unknown model_type {model_type!r}; allowed: {', '.join(MODEL_TYPES)}"
        )
    model_cls = MODEL_TYPES[model_type]
    trained = _load_folder(folder, cfg, model_cls, device)
    prior_dir = folder / PRIOR_DIR
    if not (prior_dir / "model.pt").is_file():
        return trained
    prior_cfg = read_json(prior_dir / "config.json")
    if not isinstance(prior_cfg, dict) or prior_cfg.get("model_type") != FlowPrior.model_type:
        raise ConfigError(f"{prior_dir / 'config.json'}: not a {FlowPrior.model_type!r} folder")
    prior = _load_folder(prior_dir, prior_cfg, FlowPrior, device)
    recorded = prior.data.get("vae_weights_sha256")
    if recorded != weights_digest(trained.model):
        raise ConfigError(
            f"{prior_dir} holds a learned prior of other VAE weights than {folder / 'model.pt'} "
            "(a stale prior beside a retrained model); delete the prior folder or refit it "
            "with latentsym.models.fit_prior"
        )
    return dataclasses.replace(trained, prior=prior)


def _load_folder(folder: Path, cfg: dict[str, Any], model_cls: Any, device: str) -> TrainedModel:
    source = str(folder / "config.json")
    model_cfg = getattr(model_cls, "config_class", VAEConfig).from_dict(cfg["model"], source)
    train_cfg = TrainConfig.from_dict(cfg["train"], source)
    scaler = Scaler.from_dict(read_json(folder / "scaler.json"), str(folder / "scaler.json"))
    hist = read_json(folder / "history.json")
    weights_path = folder / "model.pt"
    if not weights_path.is_file():
        raise ConfigError(f"{weights_path} is missing: not a complete latentsym model folder")
    model: nn.Module = model_cls.from_config(model_cfg)
    state = torch.load(weights_path, map_location=device, weights_only=True)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ConfigError(f"{weights_path} does not match {source}: {exc}") from None
    model.to(device).eval()
    feats = cfg["features"]
    return TrainedModel(
        model=model,  # type: ignore[arg-type]
        config=model_cfg,
        train_config=train_cfg,
        scaler=scaler,
        feature_names=tuple(feats["names"]),
        feature_units=tuple(feats["units"]),
        representation=str(feats["representation"]),
        history=list(hist["epochs"]),
        epochs_run=int(hist["epochs_run"]),
        best_epoch=int(hist["best_epoch"]),
        train_seconds=float(hist["train_seconds"]),
        events_per_second=float(hist["events_per_second"]),
        data=dict(cfg.get("data", {})),
    )
