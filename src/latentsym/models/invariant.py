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

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from latentsym.errors import ConfigError, TrainingError
from latentsym.features.build import FeatureMatrix
from latentsym.features.scaler import Scaler
from latentsym.models.checkpoint import TrainedModel
from latentsym.models.config import ACTIVATIONS, TrainConfig, _JsonConfig, _positive_int
from latentsym.models.loss import kl_per_event
from latentsym.models.train import _threads
from latentsym.models.vae import VAEOutput, _mlp

__all__ = [
    "InvariantConfig",
    "InvariantEquivariantVAE",
    "InvariantFit",
    "InvariantLossTerms",
    "fit_invariant",
    "invariant_loss",
    "mmd_by_class",
]

_BANDWIDTHS = (0.3, 1.0, 3.0)
_MIN_REL_IMPROVEMENT = 1e-4
_MMD_EVENTS = 512  # the MMD uses the first 512 events of each (shuffled) batch: O(B^2)


@dataclass(frozen=True)
class InvariantConfig(_JsonConfig):
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
            _positive_int(name, getattr(self, name))
        if isinstance(self.n_classes, bool) or not isinstance(self.n_classes, int):
            raise ConfigError(f"n_classes must be an integer >= 2; got {self.n_classes!r}")
        if self.n_classes < 2:
            raise ConfigError(f"n_classes must be an integer >= 2; got {self.n_classes!r}")
        object.__setattr__(self, "hidden", tuple(self.hidden))
        for h in self.hidden:
            _positive_int("every hidden width", h)
        if self.activation not in ACTIVATIONS:
            raise ConfigError(
                f"unknown activation {self.activation!r}; allowed: {', '.join(ACTIVATIONS)}"
            )

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
        self.classifier = _mlp(cfg.n_features, cfg.hidden, cfg.n_classes, cfg.activation)
        self.eq_encoder = _mlp(cfg.n_features, cfg.hidden, 2 * cfg.eq_dim, cfg.activation)
        self.class_mu = nn.Parameter(torch.randn(cfg.n_classes, cfg.inv_dim))
        self.class_logvar = nn.Parameter(torch.full((cfg.n_classes, cfg.inv_dim), -2.0))
        self.decoder = _mlp(cfg.latent_dim, cfg.hidden[::-1], cfg.n_features, cfg.activation)

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

    def _routing(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        pi = torch.softmax(self.class_logits(x), dim=-1)
        if labels is None:
            return pi
        known = labels >= 0
        onehot = F.one_hot(labels.clamp_min(0), self.config.n_classes).to(pi.dtype)
        return torch.where(known[:, None], onehot, pi)

    def encode(
        self, x: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, F]`` -> ``(mu, logvar)``, each ``[B, inv_dim + eq_dim]`` (``z_inv`` first).

        Without ``labels`` (inference) ``z_inv`` follows the classifier's posterior.
        """
        pi = self._routing(x, labels)
        mu_eq, logvar_eq = self.eq_encoder(x).chunk(2, dim=-1)
        mu = torch.cat([pi @ self.class_mu, mu_eq], dim=-1)
        logvar = torch.cat([pi @ self.class_logvar, logvar_eq], dim=-1)
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
    out = model(x, labels)
    sq = ((out.recon - x) ** 2).sum(-1)
    kl_dim = kl_per_event(out.mu, out.logvar).mean(0)
    logits = model.class_logits(x)
    known = labels >= 0
    ce = F.cross_entropy(logits[known], labels[known]) if bool(known.any()) else logits.sum() * 0
    pi = model._routing(x, labels).detach()[:_MMD_EVENTS]
    mmd = mmd_by_class(out.mu[:_MMD_EVENTS, model.eq_slice], pi) if eq_weight > 0 else ce * 0
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


def _check_inputs(values: np.ndarray, labels: np.ndarray, labelled_fraction: float) -> int:
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
    if not (isinstance(labelled_fraction, int | float) and 0 < labelled_fraction <= 1):
        raise ConfigError(f"labelled_fraction must be in (0, 1]; got {labelled_fraction!r}")
    if not np.all(np.isfinite(values)):
        raise ConfigError("features hold NaN or inf; build them with latentsym.features.build")
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
    class_names: Sequence[str] | None = None,
    inv_dim: int = 2,
    eq_dim: int = 4,
    hidden: Sequence[int] = (128, 128),
    activation: str = "silu",
    beta: float = 0.1,
    class_weight: float = 1.0,
    eq_weight: float = 10.0,
    labelled_fraction: float = 1.0,
    epochs: int = 200,
    batch_size: int = 1024,
    lr: float = 1e-3,
    val_fraction: float = 0.1,
    patience: int = 20,
    seed: int = 0,
    progress: bool = True,
    num_threads: int | None = None,
) -> InvariantFit:
    """Train an :class:`InvariantEquivariantVAE` on labelled multi-class features.

    Args:
        features: ``[N, F]`` physical features (e.g. from
            :func:`latentsym.analysis.invariance.class_features`).
        labels: ``[N]`` class index of every event (0 .. K-1), e.g. its file.
        class_names: K names (default ``class0 ...``).
        inv_dim, eq_dim, hidden, activation: the architecture.
        beta, class_weight, eq_weight: loss weights (:func:`invariant_loss`).
        labelled_fraction: fraction of the events of each class whose label is used
            (stratified, seeded); the others are routed through q(y | x).
        epochs, batch_size, lr, val_fraction, patience, seed: as in
            :func:`latentsym.models.fit`; early stopping watches the validation
            ``recon + beta * KL + class_weight * CE`` of the inference model (labels
            unseen, ``z = mu``; CE on the labelled validation events).
        progress: tqdm bar; num_threads: torch CPU threads during training.

    Returns:
        :class:`InvariantFit` with the best validation weights, on CPU, in eval mode.

    Raises:
        ConfigError: bad labels, fraction or settings. TrainingError: NaN/inf loss.

    Example:
        >>> res = fit_invariant(fm, labels, labelled_fraction=0.1)  # doctest: +SKIP
        >>> res.class_probs(fm).argmax(1)  # doctest: +SKIP
    """
    values = features.values if isinstance(features, FeatureMatrix) else np.asarray(features)
    y = np.asarray(labels)
    n_classes = _check_inputs(values, y, labelled_fraction)
    names = (
        tuple(class_names)
        if class_names is not None
        else tuple(f"class{k}" for k in range(n_classes))
    )
    if len(names) != n_classes:
        raise ConfigError(f"{len(names)} class names {list(names)} for {n_classes} classes")
    model_cfg = InvariantConfig(
        values.shape[1], n_classes, inv_dim, eq_dim, tuple(hidden), activation
    )
    cfg = TrainConfig(
        beta=beta,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        val_fraction=val_fraction,
        patience=patience,
        seed=seed,
    )
    with _threads(num_threads), torch.random.fork_rng(devices=[]):
        return _train(
            values,
            y,
            names,
            model_cfg,
            cfg,
            class_weight,
            eq_weight,
            float(labelled_fraction),
            features,
            progress,
        )


def _train(
    values: np.ndarray,
    y: np.ndarray,
    names: tuple[str, ...],
    model_cfg: InvariantConfig,
    cfg: TrainConfig,
    class_weight: float,
    eq_weight: float,
    fraction: float,
    features: FeatureMatrix | np.ndarray,
    progress: bool,
) -> InvariantFit:
    n = len(values)
    n_val = 0 if cfg.val_fraction == 0 else min(max(1, round(cfg.val_fraction * n)), n - 1)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed)).numpy()
    val_idx, train_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    labelled = _labelled_mask(y, fraction, cfg.seed)
    fm = features if isinstance(features, FeatureMatrix) else None
    feat_names = fm.names if fm else tuple(f"f{i}" for i in range(values.shape[1]))
    scaler = Scaler.fit(
        values[train_idx].astype(np.float64), names=feat_names, constant=fm.constant if fm else ()
    )

    def tensor(idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.as_tensor(scaler.transform(values[idx].astype(np.float64)), dtype=torch.float32)
        lab = torch.as_tensor(np.where(labelled[idx], y[idx], -1), dtype=torch.long)
        return x, lab

    x_tr, y_tr = tensor(train_idx)
    x_va, y_va = tensor(val_idx)
    torch.manual_seed(cfg.seed)
    model = InvariantEquivariantVAE.from_config(model_cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    best_state, best_val, best_epoch, bad = copy.deepcopy(model.state_dict()), np.inf, 0, 0
    history: list[dict[str, Any]] = []
    t_total = 0.0
    bar = tqdm(
        total=cfg.epochs,
        desc="training invariant VAE",
        unit="epoch",
        disable=None if progress else True,
    )
    with bar:
        for epoch in range(cfg.epochs):
            t0 = time.perf_counter()
            torch.manual_seed(cfg.seed * 1_000_003 + epoch + 1)
            order = torch.randperm(len(x_tr))
            model.train()
            sums = np.zeros(5)
            for start in range(0, len(x_tr), cfg.batch_size):
                idx = order[start : start + cfg.batch_size]
                t = invariant_loss(model, x_tr[idx], y_tr[idx], cfg.beta, class_weight, eq_weight)
                if not torch.isfinite(t.total):
                    raise TrainingError(
                        f"training diverged: loss {t.total.item()} in epoch {epoch + 1}; "
                        f"lower lr (now {cfg.lr:g}) or eq_weight (now {eq_weight:g})"
                    )
                opt.zero_grad(set_to_none=True)
                t.total.backward()
                opt.step()
                terms = (t.total, t.recon, t.kl, t.ce, t.mmd)
                sums += len(idx) / len(x_tr) * np.array([v.detach().item() for v in terms])
            row: dict[str, Any] = {"epoch": epoch + 1, "beta": cfg.beta}
            row.update(
                zip(
                    ("train_total", "train_recon", "train_kl", "train_ce", "train_mmd"),
                    sums.tolist(),
                    strict=True,
                )
            )
            row.update(_validate(model, x_va, y_va, cfg.beta, class_weight))
            t_total += time.perf_counter() - t0
            row["seconds"] = time.perf_counter() - t0
            history.append(row)
            val = row["val_total"]
            if (
                val is None
                or not np.isfinite(best_val)
                or val < best_val - _MIN_REL_IMPROVEMENT * abs(best_val)
            ):
                best_val = np.inf if val is None else val
                best_epoch, bad, best_state = epoch + 1, 0, copy.deepcopy(model.state_dict())
            else:
                bad += 1
            bar.set_postfix(train=f"{row['train_total']:.4g}", val=f"{val}")
            bar.update()
            if bad >= cfg.patience:
                break
    model.load_state_dict(best_state)
    model.eval()
    settings = {
        "class_weight": class_weight,
        "eq_weight": eq_weight,
        "labelled_fraction": fraction,
        "class_names": list(names),
        "n_labelled": int(labelled.sum()),
    }
    trained = TrainedModel(
        model=model,  # type: ignore[arg-type]
        config=model_cfg,  # type: ignore[arg-type]
        train_config=cfg,
        scaler=scaler,
        feature_names=feat_names,
        feature_units=fm.units if fm else ("1",) * len(feat_names),
        representation=fm.representation if fm else "raw",
        history=history,
        epochs_run=len(history),
        best_epoch=best_epoch,
        train_seconds=t_total,
        events_per_second=len(x_tr) * len(history) / t_total if t_total else 0.0,
        data={"n_events": n, "n_train": len(train_idx), "n_val": n_val, "invariant": settings},
    )
    return InvariantFit(trained, labelled, train_idx, val_idx, names, settings)


def _validate(
    model: InvariantEquivariantVAE, x: torch.Tensor, lab: torch.Tensor, beta: float, cw: float
) -> dict[str, Any]:
    if len(x) == 0:
        return {
            "val_total": None,
            "val_recon": None,
            "val_kl": None,
            "val_ce": None,
            "val_accuracy": None,
            "kl_per_dim": None,
        }
    model.eval()
    with torch.no_grad():
        out = model(x)  # inference: no labels, z = mu
        rec = float(((out.recon - x) ** 2).sum(-1).mean())
        kl_dim = kl_per_event(out.mu, out.logvar).mean(0)
        logits = model.class_logits(x)
        known = lab >= 0
        ce = float(F.cross_entropy(logits[known], lab[known])) if bool(known.any()) else 0.0
        acc = (
            float((logits[known].argmax(-1) == lab[known]).float().mean())
            if bool(known.any())
            else None
        )
    kl = float(kl_dim.sum())
    total = rec + beta * kl + cw * ce
    if not np.isfinite(total):
        raise TrainingError(f"validation loss became {total}; lower lr")
    return {
        "val_total": total,
        "val_recon": rec,
        "val_kl": kl,
        "val_ce": ce,
        "val_accuracy": acc,
        "kl_per_dim": kl_dim.tolist(),
    }
