r"""Invariant/equivariant VAE for multi-class data (after I. Feige, arXiv:1902.03251).

The latent space ``z = (z_inv, z_eq)`` is split in two:

- ``z_inv`` (``inv_dim`` directions) encodes the *class*. It is routed through the label:
  its posterior is ``N(pi @ M, exp(pi @ V))`` with ``M, V`` ``[K, inv_dim]`` learned per
  class and ``pi`` the one-hot label of a labelled event, or the class posterior
  ``q(y | x)`` of an encoder-side classifier for an unlabelled event (and always in
  :meth:`InvariantEquivariantVAE.encode`, which sees no labels). ``z_inv`` therefore
  depends on ``x`` only through ``q(y | x)``.
- ``z_eq`` (``eq_dim`` directions) encodes where the event sits inside its class (its
  orientation and kinematics): a Gaussian encoder of ``x`` as in the plain VAE.

Loss (:func:`invariant_loss`), on standardised features, per event averaged:
``recon + beta * KL + class_weight * CE + eq_weight * MMD``. ``recon`` and ``KL`` follow
:mod:`latentsym.models.loss` over all ``inv_dim + eq_dim`` directions; ``CE`` is the
cross-entropy of ``q(y | x)`` on the labelled events of the batch (semi-supervised: the
classifier is trained on them and its posterior routes the others, Feige-style);
``MMD`` is a kernel maximum mean discrepancy between each class's distribution of the
``z_eq`` means and the whole batch's, with soft class weights (label or detached
posterior). We chose MMD over an adversarial classifier with gradient reversal: it has no
parameters of its own (the saved model is exactly the inference model), no min-max game
to balance, and it matches the whole per-class aggregate posteriors rather than only what
one critic can see.

Example:
    >>> model = InvariantEquivariantVAE(n_features=8, n_classes=3, inv_dim=2, eq_dim=4)
    >>> out = model.eval()(torch.zeros(5, 8))
    >>> out.mu.shape, model.class_logits(torch.zeros(5, 8)).shape
    (torch.Size([5, 6]), torch.Size([5, 3]))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from latentsym.errors import ConfigError
from latentsym.features.build import FeatureMatrix
from latentsym.features.scaler import Scaler
from latentsym.models.checkpoint import TrainedModel
from latentsym.models.config import (
    Architecture,
    FitOptions,
    JsonConfig,
    TrainConfig,
    check_activation,
    positive_int,
)
from latentsym.models.distributed import all_reduce_sum
from latentsym.models.loss import kl_per_event
from latentsym.models.trainer import Batch, Objective, Split, TrainData, as_train_data
from latentsym.models.trainer import train as train_loop
from latentsym.models.vae import VAEOutput, mlp

__all__ = [
    "InvariantConfig",
    "InvariantEquivariantVAE",
    "InvariantFit",
    "InvariantLossTerms",
    "InvariantObjective",
    "InvariantSpec",
    "fit_invariant",
    "invariant_loss",
    "mmd_by_class",
]

_BANDWIDTHS = (0.3, 1.0, 3.0)
_MMD_EVENTS = 512  # the MMD uses the first 512 events of each (shuffled) batch: O(B^2)


@dataclass(frozen=True)
class InvariantSpec(JsonConfig):
    """The latent split and the loss weights of :func:`fit_invariant`.

    Attributes:
        inv_dim: invariant (class) latent directions; the other ``latent_dim - inv_dim``
            of the :class:`~latentsym.models.Architecture` are the equivariant block.
        class_weight: weight of the cross-entropy on labelled events.
        eq_weight: weight of the MMD penalty on ``z_eq``.
        labelled_fraction: fraction of the events of each class whose label is used
            (stratified, seeded); the others are routed through q(y | x).
    """

    inv_dim: int = 2
    class_weight: float = 1.0
    eq_weight: float = 10.0
    labelled_fraction: float = 1.0

    def __post_init__(self) -> None:
        positive_int("inv_dim", self.inv_dim)
        for name in ("class_weight", "eq_weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"{name} must be a number >= 0; got {value!r}")
        f = self.labelled_fraction
        if isinstance(f, bool) or not (isinstance(f, int | float) and 0 < f <= 1):
            raise ConfigError(f"labelled_fraction must be in (0, 1]; got {f!r}")


@dataclass(frozen=True)
class InvariantConfig(JsonConfig):
    """Architecture of :class:`InvariantEquivariantVAE`.

    Attributes:
        n_features: input features F.
        n_classes: number of classes K (>= 2).
        inv_dim: invariant latent directions (class part).
        eq_dim: equivariant latent directions (within-class part).
        hidden: hidden widths of the classifier and the ``z_eq`` encoder (the decoder
            mirrors them).
        activation: one of :data:`latentsym.models.config.ACTIVATIONS`.
    """

    n_features: int
    n_classes: int
    inv_dim: int = 2
    eq_dim: int = 4
    hidden: tuple[int, ...] = (128, 128)
    activation: str = "silu"

    def __post_init__(self) -> None:
        for name in ("n_features", "inv_dim", "eq_dim"):
            positive_int(name, getattr(self, name))
        if isinstance(self.n_classes, bool) or not isinstance(self.n_classes, int):
            raise ConfigError(f"n_classes must be an integer >= 2; got {self.n_classes!r}")
        if self.n_classes < 2:
            raise ConfigError(f"n_classes must be an integer >= 2; got {self.n_classes!r}")
        object.__setattr__(self, "hidden", tuple(self.hidden))
        for h in self.hidden:
            positive_int("every hidden width", h)
        check_activation(self.activation)

    @property
    def latent_dim(self) -> int:
        """Total latent directions L = inv_dim + eq_dim (``z_inv`` first)."""
        return self.inv_dim + self.eq_dim


class InvariantEquivariantVAE(nn.Module):
    """VAE with an invariant (class) and an equivariant (within-class) latent block.

    Latent layout: directions ``0 .. inv_dim-1`` are ``z_inv``, the rest ``z_eq``
    (:attr:`inv_slice`, :attr:`eq_slice`). ``forward``/``encode``/``decode`` follow the
    contract of :class:`latentsym.models.VAE`; ``forward`` and ``encode`` take optional
    ``labels`` (``[B]`` long, -1 for unlabelled) used only in training.

    Args:
        n_features, n_classes, inv_dim, eq_dim, hidden, activation: see
            :class:`InvariantConfig`.

    Raises:
        ConfigError: a bad size or an unknown activation.
    """

    model_type = "invariant-equivariant"
    config_class = InvariantConfig

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        inv_dim: int = 2,
        eq_dim: int = 4,
        hidden: tuple[int, ...] = (128, 128),
        activation: str = "silu",
    ) -> None:
        super().__init__()
        self.config = InvariantConfig(
            n_features, n_classes, inv_dim, eq_dim, tuple(hidden), activation
        )
        cfg = self.config
        self.classifier = mlp(cfg.n_features, cfg.hidden, cfg.n_classes, cfg.activation)
        self.eq_encoder = mlp(cfg.n_features, cfg.hidden, 2 * cfg.eq_dim, cfg.activation)
        self.class_mu = nn.Parameter(torch.randn(cfg.n_classes, cfg.inv_dim))
        self.class_logvar = nn.Parameter(torch.full((cfg.n_classes, cfg.inv_dim), -2.0))
        self.decoder = mlp(cfg.latent_dim, cfg.hidden[::-1], cfg.n_features, cfg.activation)

    @classmethod
    def from_config(cls, config: InvariantConfig) -> InvariantEquivariantVAE:
        """A freshly initialised model with this configuration."""
        c = config
        return cls(c.n_features, c.n_classes, c.inv_dim, c.eq_dim, c.hidden, c.activation)

    @property
    def inv_slice(self) -> slice:
        """Latent indices of ``z_inv``."""
        return slice(0, self.config.inv_dim)

    @property
    def eq_slice(self) -> slice:
        """Latent indices of ``z_eq``."""
        return slice(self.config.inv_dim, self.config.latent_dim)

    def class_logits(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, F]`` standardised features -> ``[B, K]`` logits of q(y | x)."""
        out: torch.Tensor = self.classifier(x)
        return out

    def routing(self, logits: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """``[B, K]`` class weights: the label's one-hot where known, else q(y | x)."""
        pi = torch.softmax(logits, dim=-1)
        if labels is None:
            return pi
        known = labels >= 0
        onehot = F.one_hot(labels.clamp_min(0), self.config.n_classes).to(pi.dtype)
        return torch.where(known[:, None], onehot, pi)

    def encode_routed(
        self, x: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, ...]:
        """``(mu, logvar, logits, pi)`` with one classifier pass (see :meth:`encode`)."""
        logits = self.class_logits(x)
        pi = self.routing(logits, labels)
        mu_eq, logvar_eq = self.eq_encoder(x).chunk(2, dim=-1)
        mu = torch.cat([pi @ self.class_mu, mu_eq], dim=-1)
        logvar = torch.cat([pi @ self.class_logvar, logvar_eq], dim=-1)
        return mu, logvar, logits, pi

    def encode(
        self, x: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, F]`` -> ``(mu, logvar)``, each ``[B, inv_dim + eq_dim]`` (``z_inv`` first).

        Without ``labels`` (inference) ``z_inv`` follows the classifier's posterior.
        """
        mu, logvar, _, _ = self.encode_routed(x, labels)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``[B, L]`` latent points -> ``[B, F]`` decoder means (standardised units)."""
        out: torch.Tensor = self.decoder(z)
        return out

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> VAEOutput:
        """Encode, sample (train mode) or take the mean (eval mode), decode."""
        mu, logvar = self.encode(x, labels)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu) if self.training else mu
        return VAEOutput(self.decode(z), mu, logvar, z)


class InvariantLossTerms(NamedTuple):
    """Loss terms (scalars, averaged over events; ``kl_per_dim`` is ``[L]``)."""

    total: torch.Tensor
    recon: torch.Tensor
    kl: torch.Tensor
    kl_per_dim: torch.Tensor
    ce: torch.Tensor
    mmd: torch.Tensor


def mmd_by_class(z: torch.Tensor, pi: torch.Tensor) -> torch.Tensor:
    """Class-weighted squared MMD between each class's ``z`` and the whole batch's.

    Args:
        z: ``[B, d]`` points.
        pi: ``[B, K]`` soft class memberships (rows sum to 1).

    Returns:
        Scalar ``sum_k (n_k / B) MMD^2(P_k, P)`` with a sum of Gaussian kernels of widths
        0.3, 1 and 3 (latent units); 0 when every class has the batch's distribution.
    """
    sq = (z * z).sum(-1)
    d2 = (sq[:, None] + sq[None, :] - 2.0 * z @ z.T).clamp_min(0.0)
    k = torch.zeros_like(d2)
    for h in _BANDWIDTHS:
        k = k + torch.exp(-d2 / (2.0 * h * h))
    b = z.shape[0]
    ku = k.mean(dim=1)  # K u with u = 1/B
    uku = ku.mean()
    mass = pi.sum(0)
    w = pi / mass.clamp_min(1e-8)
    per = (w * (k @ w)).sum(0) - 2.0 * (w * ku[:, None]).sum(0) + uku
    return ((mass / b) * per.clamp_min(0.0)).sum()


def invariant_loss(
    model: InvariantEquivariantVAE,
    x: torch.Tensor,
    labels: torch.Tensor,
    beta: float,
    class_weight: float = 1.0,
    eq_weight: float = 10.0,
) -> InvariantLossTerms:
    """Training loss of :class:`InvariantEquivariantVAE` (see the module docstring).

    Args:
        model: the model (its mode decides sampling).
        x: ``[B, F]`` standardised features.
        labels: ``[B]`` long class labels, -1 for unlabelled events.
        beta: KL weight; class_weight: weight of the cross-entropy on labelled events;
            eq_weight: weight of the MMD penalty on ``z_eq``.
    """
    mu, logvar, logits, pi = model.encode_routed(x, labels)
    z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu) if model.training else mu
    parts = _InvParts(model.decode(z), mu, logvar, logits, pi)
    return _invariant_terms(parts, (x, labels), model.eq_slice, beta, (class_weight, eq_weight))


class _InvParts(NamedTuple):
    recon: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor
    logits: torch.Tensor
    pi: torch.Tensor


def _invariant_terms(
    parts: _InvParts,
    data: tuple[torch.Tensor, torch.Tensor],
    eq_slice: slice,
    beta: float,
    weights: tuple[float, float],
) -> InvariantLossTerms:
    (x, labels), (class_weight, eq_weight) = data, weights
    sq = ((parts.recon - x) ** 2).sum(-1)
    kl_dim = kl_per_event(parts.mu, parts.logvar).mean(0)
    known = labels >= 0
    logits = parts.logits
    ce = F.cross_entropy(logits[known], labels[known]) if bool(known.any()) else logits.sum() * 0
    pi = parts.pi.detach()[:_MMD_EVENTS]
    mmd = mmd_by_class(parts.mu[:_MMD_EVENTS, eq_slice], pi) if eq_weight > 0 else ce * 0
    recon, kl = sq.mean(), kl_dim.sum()
    total = recon + beta * kl + class_weight * ce + eq_weight * mmd
    return InvariantLossTerms(total, recon, kl, kl_dim, ce, mmd)


@dataclass
class InvariantFit:
    """Result of :func:`fit_invariant`.

    Attributes:
        trained: the model with its scaler and history, as a
            :class:`~latentsym.models.TrainedModel` (``encode``/``decode``/``save`` work;
            ``trained.model`` is the :class:`InvariantEquivariantVAE`).
        labelled: ``[N]`` bool, the events whose label was used (train and validation).
        train_index, val_index: event indices of the two splits.
        class_names: the K class names.
        settings: the invariant-specific settings (also in ``trained.data["invariant"]``).
    """

    trained: TrainedModel
    labelled: np.ndarray
    train_index: np.ndarray
    val_index: np.ndarray
    class_names: tuple[str, ...]
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> InvariantEquivariantVAE:
        """The trained network (eval mode)."""
        model: InvariantEquivariantVAE = self.trained.model  # type: ignore[assignment]
        return model

    def class_probs(self, features: np.ndarray | FeatureMatrix) -> np.ndarray:
        """``[N, K]`` float64 class posterior q(y | x) of physical features."""
        values = features.values if isinstance(features, FeatureMatrix) else features
        x = torch.as_tensor(self.trained.scaler.transform(np.asarray(values, np.float64)))
        with torch.no_grad():
            logits = self.model.eval().class_logits(x.float().to(self.trained.device))
        return torch.softmax(logits.double(), -1).cpu().numpy()


def _check_labels(values: np.ndarray, labels: np.ndarray) -> int:
    if labels.shape != (len(values),):
        raise ConfigError(f"labels have shape {labels.shape}; expected ({len(values)},)")
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
        raise ConfigError("labels must be integers 0 .. K-1 (the class index of each event)")
    n_classes = int(labels.max()) + 1
    missing = sorted(set(range(n_classes)) - set(np.unique(labels).tolist()))
    if n_classes < 2 or missing:
        raise ConfigError(
            f"labels must cover classes 0 .. K-1 with K >= 2; found K = {n_classes}, "
            f"missing {missing}"
        )
    return n_classes


def _labelled_mask(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Stratified: ``max(1, round(fraction * n_k))`` labelled events per class."""
    rng = np.random.default_rng(seed + 7919)
    mask = np.zeros(len(labels), dtype=bool)
    for k in np.unique(labels):
        idx = np.flatnonzero(labels == k)
        n = len(idx) if fraction >= 1 else max(1, round(fraction * len(idx)))
        mask[rng.choice(idx, size=n, replace=False)] = True
    return mask


def fit_invariant(
    features: FeatureMatrix | np.ndarray,
    labels: np.ndarray | Sequence[int],
    *,
    spec: InvariantSpec | None = None,
    arch: Architecture | None = None,
    train: TrainConfig | None = None,
    options: FitOptions | None = None,
    class_names: Sequence[str] | None = None,
) -> InvariantFit:
    """Train an :class:`InvariantEquivariantVAE` on labelled multi-class features.

    The one training loop of :func:`latentsym.models.fit` (split, seeds, early stopping,
    checkpoints and ``resume``, device, DDP; under DDP the MMD term is computed on each
    rank's slice of the batch, so the result differs from one process by more than
    rounding) with the loss of :func:`invariant_loss`. Early stopping watches the
    validation ``recon + beta * KL + class_weight * CE`` of the inference model (labels
    unseen, ``z = mu``; CE on the labelled validation events).

    Args:
        features: ``[N, F]`` physical features (e.g. from
            :func:`latentsym.jobs.invariant.class_features`).
        labels: ``[N]`` class index of every event (0 .. K-1), e.g. its file.
        spec: the latent split and the loss weights (default :class:`InvariantSpec`).
        arch: the network; ``arch.latent_dim`` counts both blocks (default 6 = 2 + 4).
        train, options: as :func:`latentsym.models.fit` (``train.weighted`` is not
            supported here).
        class_names: K names (default ``class0 ...``).

    Returns:
        :class:`InvariantFit` with the best validation weights, in eval mode.

    Raises:
        ConfigError: bad labels, fraction or settings. TrainingError: NaN/inf loss.

    Example:
        >>> from latentsym.toys import circle
        >>> x = np.concatenate([circle(300, seed=0), 3.0 + circle(300, seed=1)])
        >>> y = np.repeat([0, 1], 300)
        >>> res = fit_invariant(x, y, arch=Architecture(latent_dim=3),
        ...                     train=TrainConfig(epochs=2), options=FitOptions(progress=False))
        >>> res.class_probs(x).shape, res.class_names
        ((600, 2), ('class0', 'class1'))
    """
    data = as_train_data(features if isinstance(features, FeatureMatrix) else np.asarray(features))
    y = np.asarray(labels)
    n_classes = _check_labels(data.values, y)
    names = (
        tuple(class_names)
        if class_names is not None
        else tuple(f"class{k}" for k in range(n_classes))
    )
    if len(names) != n_classes:
        raise ConfigError(f"{len(names)} class names {list(names)} for {n_classes} classes")
    spec = spec or InvariantSpec()
    a = arch or Architecture()
    if a.latent_dim <= spec.inv_dim:
        raise ConfigError(
            f"latent_dim {a.latent_dim} must exceed inv_dim {spec.inv_dim}: the rest is the "
            "equivariant block"
        )
    model_cfg = InvariantConfig(
        data.values.shape[1], n_classes, spec.inv_dim, a.latent_dim - spec.inv_dim, a.hidden,
        a.activation,
    )  # fmt: skip
    objective = InvariantObjective(model_cfg, spec, y, names)
    trained = train_loop(objective, data, train or TrainConfig(), options or FitOptions())
    train_idx, val_idx = objective.split
    return InvariantFit(trained, objective.labelled, train_idx, val_idx, names, objective.settings)


class _InvStep(nn.Module):
    """The training forward pass with the labels and the noise given (DDP wraps it)."""

    def __init__(self, model: InvariantEquivariantVAE) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, labels: torch.Tensor, eps: torch.Tensor) -> _InvParts:
        mu, logvar, logits, pi = self.model.encode_routed(x, labels)
        z = mu + torch.exp(0.5 * logvar) * eps
        return _InvParts(self.model.decode(z), mu, logvar, logits, pi)


class InvariantObjective(Objective):
    """The invariant/equivariant VAE's part of the loop: :func:`invariant_loss`.

    Args:
        config: the architecture.
        spec: the loss weights and the labelled fraction.
        labels: ``[N]`` class of every event.
        class_names: the K class names.
    """

    description = "invariant VAE"
    terms = ("total", "recon", "kl", "ce", "mmd")
    val_extra = ("accuracy",)

    def __init__(
        self,
        config: InvariantConfig,
        spec: InvariantSpec,
        labels: np.ndarray,
        class_names: tuple[str, ...],
    ) -> None:
        self.config: InvariantConfig = config
        self.spec, self.labels, self.class_names = spec, labels, class_names

    @property
    def latent_dim(self) -> int:
        """Latent directions L = inv_dim + eq_dim."""
        return self.config.latent_dim

    def check(self, data: TrainData, train: TrainConfig) -> None:
        """Refuse event weights (the MMD and the cross-entropy are unweighted)."""
        if train.weighted:
            raise ConfigError("the invariant/equivariant VAE trains unweighted; drop weighted=True")

    def prepare(self, data: TrainData, split: Split, scaler: Scaler, dev: torch.device,
                cfg: TrainConfig) -> None:  # fmt: skip
        """Standardised tensors, the labels used (-1 for hidden ones) and the settings."""
        self.split, self.dev = split, dev
        self.labelled = _labelled_mask(self.labels, self.spec.labelled_fraction, cfg.seed)
        y = np.where(self.labelled, self.labels, -1)

        def tensors(idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
            x = scaler.transform(data.values[idx].astype(np.float64))
            lab = torch.as_tensor(y[idx], dtype=torch.long)
            return torch.as_tensor(x, dtype=torch.float32).to(dev), lab.to(dev)

        self.x_train, self.y_train = tensors(split[0])
        self.x_val, self.y_val = tensors(split[1])
        self.settings = {
            "class_weight": float(self.spec.class_weight),
            "eq_weight": float(self.spec.eq_weight),
            "labelled_fraction": float(self.spec.labelled_fraction),
            "class_names": list(self.class_names),
            "n_labelled": int(self.labelled.sum()),
        }

    def extra_data(self) -> dict[str, Any]:
        """The invariant settings, saved in ``config.json``."""
        return {"invariant": self.settings}

    def build_model(self) -> nn.Module:
        """A fresh :class:`InvariantEquivariantVAE`."""
        return InvariantEquivariantVAE.from_config(self.config)

    def step_module(self, model: nn.Module) -> nn.Module:
        """The forward pass with the labels and the noise given."""
        return _InvStep(model)  # type: ignore[arg-type]

    def step(
        self,
        module: nn.Module,
        batch: Batch,
        beta: float,
        weights: torch.Tensor | None,
    ) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...] | None]:
        """Forward and :func:`invariant_loss` of one batch."""
        idx, eps = batch
        x, lab = self.x_train[idx], self.y_train[idx]
        parts = module(x, lab, eps)
        if not len(idx):
            return tuple(parts), None
        s = self.spec
        eq_slice = slice(self.config.inv_dim, self.config.latent_dim)
        t = _invariant_terms(parts, (x, lab), eq_slice, beta, (s.class_weight, s.eq_weight))
        return tuple(parts), (t.total, t.recon, t.kl, t.ce, t.mmd, t.kl_per_dim)

    def validate(self, model: nn.Module, beta: float, shard: tuple[int, int]) -> dict[str, Any]:
        """Inference model (labels unseen, ``z = mu``) on the validation events."""
        inv: InvariantEquivariantVAE = model  # type: ignore[assignment]
        (lo, hi), n, n_lat = shard, len(self.x_val), self.latent_dim
        # sums: squared error, KL per direction, CE over labelled, correct, labelled count
        sums = torch.zeros(4 + n_lat, dtype=torch.float64, device=self.dev)
        inv.eval()
        with torch.no_grad():
            x, lab = self.x_val[lo:hi], self.y_val[lo:hi]
            out = inv(x)
            sums[0] = ((out.recon - x) ** 2).sum(-1).double().sum() / n
            sums[1 : 1 + n_lat] = kl_per_event(out.mu, out.logvar).double().sum(0) / n
            logits = inv.class_logits(x)
            known = lab >= 0
            if bool(known.any()):
                ce = F.cross_entropy(logits[known], lab[known], reduction="sum")
                sums[1 + n_lat] = ce.double()
                sums[2 + n_lat] = (logits[known].argmax(-1) == lab[known]).double().sum()
                sums[3 + n_lat] = known.double().sum()
        all_reduce_sum(sums)
        s = sums.cpu().numpy()
        rec, kl_dim, n_known = float(s[0]), s[1 : 1 + n_lat], float(s[3 + n_lat])
        ce_v = float(s[1 + n_lat]) / n_known if n_known else 0.0
        acc = float(s[2 + n_lat]) / n_known if n_known else None
        kl = float(kl_dim.sum())
        return {
            "val_total": rec + beta * kl + self.spec.class_weight * ce_v,
            "val_recon": rec,
            "val_kl": kl,
            "val_ce": ce_v,
            "val_accuracy": acc,
            "kl_per_dim": kl_dim.tolist(),
        }

    def diverged_hint(self) -> str:
        """A smaller MMD weight helps too."""
        return f" or a smaller eq_weight (now {self.spec.eq_weight:g})"
