"""Frozen, JSON-serialisable configurations of the models and of training.

Every default lives here, once: :class:`Architecture` (latent size, hidden widths,
activation), :class:`TrainConfig` (what is learned and how: beta, epochs, batch size,
learning rate, split, early stopping, warm-up, weights, seed) and :class:`FitOptions` (how
a fit runs: checkpoint folder, resume, progress bar, device, threads, DDP). The fit
functions and the jobs take these objects; :class:`VAEConfig` is the architecture with
the number of features, as saved in ``config.json``.

Example:
    >>> cfg = VAEConfig(n_features=8, latent_dim=6)
    >>> VAEConfig.from_json(cfg.to_json()) == cfg
    True
    >>> Architecture(latent_dim=3).for_features(8)
    VAEConfig(n_features=8, latent_dim=3, hidden=(128, 128), activation='silu')
    >>> TrainConfig(epochs=20).replace(beta=1.0).beta
    1.0
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, TypeVar

from torch import nn

from latentsym._frozen import Replaceable
from latentsym.errors import ConfigError

__all__ = [
    "ACTIVATIONS",
    "Architecture",
    "FitOptions",
    "JsonConfig",
    "TrainConfig",
    "VAEConfig",
    "check_activation",
    "positive_int",
]

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "silu": nn.SiLU,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "softplus": nn.Softplus,
    "leaky_relu": nn.LeakyReLU,
}
"""Allowed hidden-layer activations, by name."""

_C = TypeVar("_C", bound="JsonConfig")


class JsonConfig(Replaceable):
    """Mixin: ``to_dict``/``from_dict``/``to_json``/``from_json``/``replace`` for flat
    frozen dataclasses."""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}  # type: ignore[call-overload]

    def to_json(self) -> str:
        """JSON text."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls: type[_C], data: Mapping[str, Any], source: str = "config") -> _C:
        """Build from a dict, refusing unknown or missing keys; ``source`` names the file."""
        names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ConfigError(f"{source}: unknown keys {unknown}; allowed: {names}")
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise ConfigError(f"{source}: {exc}; keys: {names}") from None

    @classmethod
    def from_json(cls: type[_C], text: str, source: str = "config") -> _C:
        """Build from JSON text written by :meth:`to_json`."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{source}: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a JSON object, got {type(data).__name__}")
        return cls.from_dict(data, source)


def positive_int(name: str, value: object) -> None:
    """Refuse ``value`` unless it is a positive int (not a bool), naming the setting."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a positive integer; got {value!r}")


def check_activation(name: str) -> None:
    """Refuse an activation that is not in :data:`ACTIVATIONS`, listing the allowed ones."""
    if name not in ACTIVATIONS:
        raise ConfigError(f"unknown activation {name!r}; allowed: {', '.join(ACTIVATIONS)}")


@dataclass(frozen=True)
class Architecture(JsonConfig):
    """The network of a VAE, without the number of features (that comes from the data).

    Attributes:
        latent_dim: latent directions L.
        hidden: hidden-layer widths of the encoder (the decoder mirrors them).
        activation: one of :data:`ACTIVATIONS`.
    """

    latent_dim: int = 6
    hidden: tuple[int, ...] = (128, 128)
    activation: str = "silu"

    def __post_init__(self) -> None:
        positive_int("latent_dim", self.latent_dim)
        object.__setattr__(self, "hidden", tuple(self.hidden))
        for h in self.hidden:
            positive_int("every hidden width", h)
        check_activation(self.activation)

    def for_features(self, n_features: int) -> VAEConfig:
        """The :class:`VAEConfig` of this architecture on ``n_features`` inputs."""
        return VAEConfig(n_features, self.latent_dim, self.hidden, self.activation)


@dataclass(frozen=True)
class VAEConfig(JsonConfig):
    """Architecture of :class:`latentsym.models.VAE`.

    Attributes:
        n_features: input features F.
        latent_dim: latent directions L.
        hidden: hidden-layer widths of the encoder (the decoder mirrors them).
        activation: one of :data:`ACTIVATIONS`.
    """

    n_features: int
    latent_dim: int
    hidden: tuple[int, ...] = (128, 128)
    activation: str = "silu"

    def __post_init__(self) -> None:
        positive_int("n_features", self.n_features)
        positive_int("latent_dim", self.latent_dim)
        object.__setattr__(self, "hidden", tuple(self.hidden))
        for h in self.hidden:
            positive_int("every hidden width", h)
        check_activation(self.activation)


@dataclass(frozen=True)
class TrainConfig(JsonConfig):
    """Training hyperparameters of :func:`latentsym.models.fit`.

    The defaults train the 20k-event e+e- -> mu+ mu- sample (F = 8) in about 15 s on two
    CPU threads (early stopping near epoch 250-280) and open three relevant directions
    (R ~ 0.97, 0.97, 0.87; the other three below 0.01) for seeds 0, 1 and 2. With
    ``beta = 1`` the three come out at R ~ 0.75.

    Attributes:
        beta: KL weight (loss = recon + beta * KL on standardised features, see
            :mod:`latentsym.models.loss`).
        epochs: maximum number of epochs.
        batch_size: events per optimiser step.
        lr: Adam learning rate.
        val_fraction: fraction of events held out for validation and early stopping
            (0 disables both).
        patience: epochs without a validation improvement before stopping.
        kl_warmup_epochs: the KL weight rises linearly to ``beta`` over these epochs
            (``beta * (epoch + 1) / (kl_warmup_epochs + 1)``, epochs counted from 0).
        weighted: weight the loss with the event weights. The plain VAE and the flow
            prior take signed (NLO) weights, refused where the weighted loss is not
            bounded below (:func:`latentsym.models.trainer.check_signed_weights`: total
            weight <= 0, or a batch too small for the negative fraction); the other
            variants need positive weights.
        seed: seed of the split, the initial weights, the shuffles and the sampling.
    """

    beta: float = 0.1
    epochs: int = 300
    batch_size: int = 1024
    lr: float = 1e-3
    val_fraction: float = 0.1
    patience: int = 20
    kl_warmup_epochs: int = 0
    weighted: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "patience"):
            positive_int(name, getattr(self, name))
        if not (isinstance(self.beta, int | float) and self.beta > 0):
            raise ConfigError(f"beta must be a positive number; got {self.beta!r}")
        if not (isinstance(self.lr, int | float) and self.lr > 0):
            raise ConfigError(f"lr must be a positive number; got {self.lr!r}")
        if not (isinstance(self.val_fraction, int | float) and 0 <= self.val_fraction < 1):
            raise ConfigError(f"val_fraction must be in [0, 1); got {self.val_fraction!r}")
        warm = self.kl_warmup_epochs
        if isinstance(warm, bool) or not isinstance(warm, int) or warm < 0:
            raise ConfigError(f"kl_warmup_epochs must be an integer >= 0; got {warm!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be an integer >= 0; got {self.seed!r}")
        object.__setattr__(self, "beta", float(self.beta))
        object.__setattr__(self, "lr", float(self.lr))
        object.__setattr__(self, "val_fraction", float(self.val_fraction))
        object.__setattr__(self, "weighted", bool(self.weighted))

    def beta_at(self, epoch: int) -> float:
        """KL weight used in ``epoch`` (counted from 0), with the linear warm-up."""
        if epoch < self.kl_warmup_epochs:
            return self.beta * (epoch + 1) / (self.kl_warmup_epochs + 1)
        return self.beta


@dataclass(frozen=True)
class FitOptions(Replaceable):
    """How a fit runs, as opposed to what it learns (that is :class:`TrainConfig`).

    None of these changes the trained weights on one process (``num_threads`` and
    ``device`` only up to float rounding), so none is saved in ``config.json``; the thread
    count a fit used is in ``TrainedModel.threads``.

    Attributes:
        out_dir: when given, a model folder plus ``state.pt`` is written there after
            every epoch (see :mod:`latentsym.models.checkpoint`).
        resume: continue from the checkpoint in ``out_dir``; every setting but ``epochs``
            must match the checkpoint's.
        overwrite: replace an existing checkpoint in ``out_dir``.
        progress: show a progress bar in a terminal or in Jupyter (see
            :func:`latentsym.models.trainer.progress_bar`); always off when the
            environment variable ``CI`` is set.
        device: torch device, e.g. ``"cpu"`` or ``"cuda"``.
        num_threads: torch intra-op CPU threads during training, kept for the whole run
            (torch's count is restored afterwards); runs with the same count give
            bit-identical weights. None chooses: ``training_threads``, else
            ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS``, else an automatic count that leaves
            out the cores other work keeps busy, re-checked during training (see
            :mod:`latentsym.models.threads`; on two cores beside one busy process one
            thread trains 20x faster than torch's default two).
        distributed: in a job launched by ``torchrun`` (``WORLD_SIZE > 1``), train one
            model together with the other ranks (DDP; ``cuda`` means ``cuda:LOCAL_RANK``;
            only rank 0 writes ``out_dir``); False trains this process alone.
    """

    out_dir: str | os.PathLike[str] | None = None
    resume: bool = False
    overwrite: bool = False
    progress: bool = True
    device: str = "cpu"
    num_threads: int | None = None
    distributed: bool = True

    def __post_init__(self) -> None:
        n = self.num_threads
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise ConfigError(f"num_threads must be a positive integer or None; got {n!r}")
        if self.resume and self.out_dir is None:
            raise ConfigError("resume=True needs out_dir, the folder holding the checkpoint")
