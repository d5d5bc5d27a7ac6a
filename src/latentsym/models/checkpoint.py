"""Trained models on disk: the :class:`TrainedModel` and its folder layout.

A model folder holds

- ``config.json``: format tag, model type, architecture (:class:`VAEConfig`), training
  settings (:class:`TrainConfig`), feature names/units/representation and a fingerprint
  of the training data;
- ``scaler.json``: the feature scaler (:meth:`Scaler.to_dict`);
- ``model.pt``: the weights, ``torch.save(state_dict)``, loaded with
  ``torch.load(..., weights_only=True)``;
- ``history.json``: per-epoch losses and timing;
- ``prior/`` (when a learned latent prior was fitted, :mod:`latentsym.models.flow`): a
  model folder of the same layout holding the flow, tied to these weights by their digest;
- ``state.pt`` (training folders only): what a fit with ``FitOptions(resume=True)`` needs
  (current and best weights, optimiser state, early-stopping counters), also weights-only.

:func:`latentsym.models.loading.load_model` reads such a folder back.

Every file is written atomically (a temporary file in the same folder, then
``os.replace``).

Example:
    >>> import tempfile
    >>> from latentsym.models import Architecture, FitOptions, TrainConfig, fit, load_model
    >>> from latentsym.toys import circle
    >>> trained = fit(circle(300), arch=Architecture(latent_dim=2),
    ...               train=TrainConfig(epochs=1), options=FitOptions(progress=False))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     folder = trained.save(tmp)
    ...     again = load_model(folder)
    >>> again.config == trained.config
    True
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentsym._atomic import atomic_output
from latentsym.errors import ConfigError, OutputError
from latentsym.features.build import FeatureMatrix
from latentsym.features.scaler import Scaler
from latentsym.models.config import TrainConfig, VAEConfig
from latentsym.models.threads import ThreadUse
from latentsym.models.vae import VAE

__all__ = [
    "FORMAT",
    "MODEL_FILES",
    "TrainedModel",
    "atomic_write",
    "read_json",
    "write_model_files",
]

FORMAT = "latentsym-model/1"
"""Format tag written into ``config.json``."""
MODEL_FILES = ("config.json", "scaler.json", "model.pt", "history.json")
"""The files of a model folder."""

_BATCH = 65536


def atomic_write(path: str | os.PathLike[str], write: Callable[[Any], None]) -> None:
    """Call ``write(binary_file)`` on a temporary file beside ``path``, then replace ``path``."""
    with atomic_output(path) as tmp, open(tmp, "wb") as fh:
        write(fh)


def _write_json(path: Path, data: Any) -> None:
    text = json.dumps(data, indent=2, allow_nan=True).encode()
    atomic_write(path, lambda fh: fh.write(text))


def read_json(path: Path) -> Any:
    """The JSON content of a model-folder file, with a clear error when missing or corrupt."""
    if not path.is_file():
        raise ConfigError(f"{path} is missing: not a latentsym model folder (needs {MODEL_FILES})")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc}); the folder may be corrupt") from None


@dataclass
class TrainedModel:
    """A trained VAE with everything needed to use it on physical features.

    Attributes:
        model: the VAE, in eval mode.
        config: its architecture.
        train_config: the training settings.
        scaler: the feature scaler fitted on the training events.
        feature_names: the F feature names, in order.
        feature_units: their units.
        representation: feature representation name.
        history: one dict per epoch: ``epoch``, ``beta``, ``train_total``,
            ``train_recon``, ``train_kl``, ``val_total``, ``val_recon``, ``val_kl`` (None
            without validation), ``kl_per_dim`` (validation set when there is one),
            ``seconds``.
        epochs_run: epochs trained.
        best_epoch: epoch (from 1) whose weights were kept.
        train_seconds: wall time of the training and validation passes.
        events_per_second: training events processed per second.
        data: ``n_events``, ``n_train``, ``n_val`` and ``sha256`` of the features.
        threads: the CPU threads the training used, where the count came from and its
            changes during the run (:class:`~latentsym.models.threads.ThreadUse`;
            ``threads.to_dict()`` for JSON); None for a model loaded from disk.
        prior: the learned latent prior, when one was fitted
            (:func:`latentsym.models.fit_prior`): the record of its training, whose
            ``model`` is a :class:`~latentsym.models.flow.FlowPrior`; None: N(0, 1).
    """

    model: VAE
    config: VAEConfig
    train_config: TrainConfig
    scaler: Scaler
    feature_names: tuple[str, ...]
    feature_units: tuple[str, ...]
    representation: str
    history: list[dict[str, Any]]
    epochs_run: int
    best_epoch: int
    train_seconds: float
    events_per_second: float
    data: dict[str, Any] = field(default_factory=dict)
    threads: ThreadUse | None = None
    prior: TrainedModel | None = None

    @property
    def flow(self) -> Any:
        """The :class:`~latentsym.models.flow.FlowPrior` (None without a learned prior)."""
        return None if self.prior is None else self.prior.model

    @property
    def latent_dim(self) -> int:
        """Number of latent directions L."""
        return self.config.latent_dim

    @property
    def device(self) -> torch.device:
        """Device of the model's weights."""
        return next(self.model.parameters()).device

    def _values(self, features: np.ndarray | FeatureMatrix) -> np.ndarray:
        if isinstance(features, FeatureMatrix):
            if features.names != self.feature_names:
                raise ConfigError(
                    f"features {list(features.names)} differ from the model's "
                    f"{list(self.feature_names)}; build them with representation="
                    f"{self.representation!r} for the same topology"
                )
            return features.values
        values = np.asarray(features)
        if values.ndim != 2 or values.shape[1] != self.config.n_features:
            raise ConfigError(
                f"expected features [N, {self.config.n_features}] "
                f"({', '.join(self.feature_names)}); got shape {values.shape}"
            )
        return values

    def encode(self, features: np.ndarray | FeatureMatrix) -> tuple[np.ndarray, np.ndarray]:
        """Posterior means and widths of physical features.

        Args:
            features: ``[N, F]`` features in physical units, or a FeatureMatrix.

        Returns:
            ``(mu, sigma)``, float64 ``[N, L]`` each.
        """
        x = self.scaler.transform(np.asarray(self._values(features), dtype=np.float64))
        mus, sigmas = [], []
        self.model.eval()
        with torch.no_grad():
            for i in range(0, len(x), _BATCH):
                xb = torch.as_tensor(x[i : i + _BATCH], dtype=torch.float32, device=self.device)
                mu, logvar = self.model.encode(xb)
                mus.append(mu.double().cpu().numpy())
                sigmas.append(torch.exp(0.5 * logvar).double().cpu().numpy())
        empty = np.zeros((0, self.latent_dim))
        return (
            np.concatenate(mus) if mus else empty,
            np.concatenate(sigmas) if sigmas else empty,
        )

    def encoder_jacobian(
        self, features: np.ndarray | FeatureMatrix, dims: Sequence[int] | None = None
    ) -> np.ndarray:
        """Jacobian of the encoded means with respect to the standardised features.

        Args:
            features: ``[N, F]`` features in physical units, or a FeatureMatrix.
            dims: latent directions to keep (default: all L).

        Returns:
            float64 ``[N, len(dims), F]``: ``d mu_k / d z_f`` with ``z = scaler.transform(x)``
            the input the encoder sees.
        """
        keep = list(range(self.latent_dim)) if dims is None else [int(d) for d in dims]
        x = self.scaler.transform(np.asarray(self._values(features), dtype=np.float64))

        def mean(xb: torch.Tensor) -> torch.Tensor:
            return self.model.encode(xb)[0][..., keep]

        out = []
        self.model.eval()
        for i in range(0, len(x), _BATCH):
            xb = torch.as_tensor(x[i : i + _BATCH], dtype=torch.float32, device=self.device)
            jac = torch.func.vmap(torch.func.jacrev(mean))(xb)
            out.append(jac.detach().double().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, len(keep), self.config.n_features))

    def decode_tensor(self, z: torch.Tensor) -> torch.Tensor:
        """Differentiable decoder in physical units: ``[..., L]`` -> ``[..., F]``.

        For Jacobians, e.g. ``torch.func.jacrev(trained.decode_tensor)(z0)``.
        """
        return self.scaler.inverse_transform(self.model.decode(z))

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Decoder means in physical units: ``[N, L]`` -> float64 ``[N, F]``."""
        zz = np.asarray(z, dtype=np.float32)
        if zz.ndim != 2 or zz.shape[1] != self.latent_dim:
            raise ConfigError(f"expected latent points [N, {self.latent_dim}]; got {zz.shape}")
        out = []
        self.model.eval()
        with torch.no_grad():
            for i in range(0, len(zz), _BATCH):
                zb = torch.as_tensor(zz[i : i + _BATCH], device=self.device)
                out.append(self.model.decode(zb).double().cpu().numpy())
        y = np.concatenate(out) if out else np.zeros((0, self.config.n_features))
        return self.scaler.inverse_transform(y)

    def sample_latent(self, n: int, seed: int = 0, prior: str = "auto") -> np.ndarray:
        """``n`` latent points from a prior: float64 ``[n, L]``.

        Args:
            n: number of points.
            seed: seed of the draw.
            prior: ``"flow"`` (the learned prior), ``"gaussian"`` (N(0, 1) in every
                direction) or ``"auto"`` (the flow when one was fitted, else N(0, 1)).
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"n={n!r}: give a positive number of events to draw")
        if prior not in ("auto", "flow", "gaussian"):
            raise ConfigError(f"prior={prior!r}: choose 'auto', 'flow' or 'gaussian'")
        if prior == "flow" and self.flow is None:
            raise ConfigError(
                "prior='flow': this model has no learned prior; fit one with "
                "latentsym.models.fit_prior (latentsym run does) or use prior='gaussian'"
            )
        if prior == "gaussian" or self.flow is None:
            return np.random.default_rng(seed).standard_normal((n, self.latent_dim))
        z: np.ndarray = self.flow.sample_latent(n, seed=seed)
        return z

    def sample(self, n: int, seed: int = 0, prior: str = "auto") -> np.ndarray:
        """Decode ``n`` prior draws: float64 ``[n, F]`` physical features.

        The prior is the learned flow when the model has one (:attr:`prior`), else
        N(0, 1); ``prior="gaussian"`` or ``"flow"`` chooses (see :meth:`sample_latent`).
        """
        return self.decode(self.sample_latent(n, seed, prior))

    def sample_posterior(
        self, features: np.ndarray | FeatureMatrix, n: int, seed: int = 0
    ) -> np.ndarray:
        """Decode ``n`` draws of the aggregate posterior of ``features``: float64 ``[n, F]``.

        Each draw picks an event at random (with replacement) and samples every latent
        direction from its posterior ``N(mu(x), sigma(x)^2)``: the latent points the
        decoder saw in training. Where the data fill only part of the prior (a sphere of
        events occupies a shell in three latents, and prior draws inside the shell decode
        off the sphere), these stay on the data's manifold much better than N(0, 1) draws.
        Events are picked uniformly: event weights are not used.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"n={n!r}: give a positive number of events to draw")
        mu, sigma = self.encode(features)
        if len(mu) == 0:
            raise ConfigError("sample_posterior: no events to draw the posterior from")
        rng = np.random.default_rng(seed)
        pick = rng.integers(0, len(mu), n)
        return self.decode(mu[pick] + sigma[pick] * rng.standard_normal((n, self.latent_dim)))

    def config_dict(self) -> dict[str, Any]:
        """What ``config.json`` holds."""
        return {
            "format": FORMAT,
            "model_type": self.model.model_type,
            "model": self.config.to_dict(),
            "train": self.train_config.to_dict(),
            "features": {
                "names": list(self.feature_names),
                "units": list(self.feature_units),
                "representation": self.representation,
            },
            "data": dict(self.data),
        }

    def history_dict(self) -> dict[str, Any]:
        """What ``history.json`` holds."""
        return {
            "epochs_run": self.epochs_run,
            "best_epoch": self.best_epoch,
            "train_seconds": self.train_seconds,
            "events_per_second": self.events_per_second,
            "epochs": self.history,
        }

    def save(self, directory: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the model folder (created if needed); returns its path.

        Raises:
            OutputError: a model file already exists there and ``overwrite`` is False.
        """
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        existing = [f for f in MODEL_FILES if (folder / f).exists()]
        if existing and not overwrite:
            raise OutputError(
                f"{folder} already holds {existing}; pass overwrite=True to replace them "
                "or choose another folder"
            )
        write_model_files(folder, self, self.model.state_dict())
        if self.prior is not None:
            sub = folder / "prior"
            sub.mkdir(exist_ok=True)
            write_model_files(sub, self.prior, self.prior.model.state_dict())
        return folder


def write_model_files(folder: Path, trained: TrainedModel, weights: dict[str, Any]) -> None:
    """Write the files of a model folder (each atomically) with these weights."""
    _write_json(folder / "config.json", trained.config_dict())
    _write_json(folder / "scaler.json", trained.scaler.to_dict())
    atomic_write(folder / "model.pt", lambda fh: torch.save(weights, fh))
    _write_json(folder / "history.json", trained.history_dict())
