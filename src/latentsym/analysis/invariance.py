"""The checks of the invariant/equivariant VAE, on arrays of held-out events.

The multi-class data themselves (several event files -> one feature matrix, the class of
each event being its file) come from :func:`latentsym.jobs.invariant.class_features`.

- :func:`probe_accuracy`: how much class information a set of latents carries, measured
  by a simple classifier (k nearest neighbours or logistic regression) trained on one half
  of the events and scored on the other.
- :func:`rotation_invariance`: how much latents move when every event is rotated by a
  random angle about the beam axis.
- :func:`reconstruction_error`: mean squared reconstruction error per feature, in units of
  the feature's spread, to compare models with different scalers.
- :func:`evaluate_invariant` and :func:`evaluate_plain`: all of these for a trained model
  (:class:`InvariantMetrics`, :class:`PlainMetrics`).

Example:
    >>> rng = np.random.default_rng(0)
    >>> probe_accuracy(rng.normal(size=(600, 2)), rng.integers(0, 3, 600)).method
    'knn'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch

from latentsym.errors import ConfigError
from latentsym.features.build import FeatureMatrix, build
from latentsym.features.scaler import constant_mask
from latentsym.models.mechanism import act

__all__ = [
    "InvariantMetrics",
    "PlainMetrics",
    "ProbePair",
    "ProbeResult",
    "RotationChange",
    "direction_truth",
    "evaluate_invariant",
    "evaluate_plain",
    "probe_accuracy",
    "reconstruction_error",
    "rotate_momenta",
    "rotation_invariance",
    "split_classes",
    "take_events",
]


@dataclass(frozen=True)
class ProbeResult:
    """Held-out accuracy of a simple classifier on some latents.

    Attributes:
        accuracy: fraction of the scoring half classified correctly.
        stderr: its binomial standard error.
        chance: accuracy of always guessing the most common class of the training half.
        method: ``"knn"`` or ``"logistic"``.
        n_train, n_test: events in the two halves.
    """

    accuracy: float
    stderr: float
    chance: float
    method: str
    n_train: int
    n_test: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return asdict(self)


def _knn(z_tr: np.ndarray, y_tr: np.ndarray, z_te: np.ndarray, k: int) -> np.ndarray:
    a, b = torch.as_tensor(z_tr), torch.as_tensor(z_te)
    n_classes = int(y_tr.max()) + 1
    yt = torch.as_tensor(y_tr)
    pred = []
    for i in range(0, len(b), 2048):
        idx = torch.cdist(b[i : i + 2048], a).topk(k, largest=False).indices
        votes = torch.nn.functional.one_hot(yt[idx], n_classes).sum(1)
        pred.append(votes.argmax(1).numpy())
    return np.concatenate(pred)


def _logistic(z_tr: np.ndarray, y_tr: np.ndarray, z_te: np.ndarray, seed: int) -> np.ndarray:
    x, y = torch.as_tensor(z_tr), torch.as_tensor(y_tr)
    n_classes = int(y_tr.max()) + 1
    gen = torch.Generator().manual_seed(seed)
    lin = torch.nn.Linear(x.shape[1], n_classes).double()
    with torch.no_grad():
        lin.weight.copy_(0.01 * torch.randn(lin.weight.shape, generator=gen, dtype=torch.float64))
        lin.bias.zero_()
    opt = torch.optim.LBFGS(lin.parameters(), max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(lin(x), y)
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return lin(torch.as_tensor(z_te)).argmax(1).numpy()


def probe_accuracy(
    z: np.ndarray,
    labels: np.ndarray,
    *,
    method: str = "knn",
    k: int = 25,
    seed: int = 0,
) -> ProbeResult:
    """Class accuracy of a simple classifier on ``z``, trained on half the events.

    The latents are standardised with the training half's mean and spread, then either
    a ``k``-nearest-neighbour vote (captures non-linear class information) or a
    multinomial logistic regression (linear) is fitted on a random half and scored on the
    other.

    Args:
        z: ``[N, d]`` latents (e.g. the posterior means of some directions).
        labels: ``[N]`` class indices 0 .. K-1.
        method: ``"knn"`` or ``"logistic"``.
        k: neighbours for ``"knn"``.
        seed: seed of the split.

    Returns:
        :class:`ProbeResult`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> y = rng.integers(0, 3, 600)
        >>> probe_accuracy(rng.normal(size=(600, 2)), y).accuracy < 0.45
        True
    """
    zz = np.asarray(z, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if zz.ndim != 2 or len(zz) != len(y) or len(y) < 4:
        raise ConfigError(
            f"z must be [N, d] with N = len(labels) >= 4; got {zz.shape} and {y.shape}"
        )
    if method not in ("knn", "logistic"):
        raise ConfigError(f"unknown probe method {method!r}; allowed: knn, logistic")
    perm = np.random.default_rng(seed).permutation(len(y))
    tr, te = perm[: len(y) // 2], perm[len(y) // 2 :]
    mean, std = zz[tr].mean(0), zz[tr].std(0)
    std[std == 0] = 1.0
    zs = (zz - mean) / std
    if method == "knn":
        pred = _knn(zs[tr], y[tr], zs[te], min(k, len(tr)))
    else:
        pred = _logistic(zs[tr], y[tr], zs[te], seed)
    acc = float(np.mean(pred == y[te]))
    chance = float(np.mean(y[te] == np.bincount(y[tr]).argmax()))
    return ProbeResult(
        acc, float(np.sqrt(acc * (1 - acc) / len(te))), chance, method, len(tr), len(te)
    )


def rotate_momenta(momenta: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rotate every event by its own random angle about the beam (z) axis.

    Args:
        momenta: ``[N, n, 4]`` (E, px, py, pz) in GeV.
        seed: seed of the angles (uniform in [0, 2 pi)).

    Returns:
        ``(rotated [N, n, 4], angles [N])``.
    """
    angle = np.random.default_rng(seed).uniform(0.0, 2 * np.pi, len(momenta))
    return act(np.asarray(momenta, dtype=np.float64), angle=angle).numpy(), angle


@dataclass(frozen=True)
class RotationChange:
    """How much some latent means move under random rotations about the beam.

    Attributes:
        relative_change: ``mean |mu(Rx) - mu(x)|^2 / (2 tr Cov mu)``: 0 for an invariant
            block, about 1 when the rotated event is as far from the original as a random
            other event (NaN when the latents do not vary).
        rms_change: ``sqrt(mean |dmu|^2)`` in latent units.
        spread: ``sqrt(tr Cov mu)``.
    """

    relative_change: float
    rms_change: float
    spread: float

    def to_dict(self) -> dict[str, float]:
        """Dictionary of the three numbers."""
        return asdict(self)


def rotation_invariance(
    trained: Any, features: FeatureMatrix, dims: Sequence[int], *, seed: int = 0
) -> RotationChange:
    """How much the latent means of ``dims`` move under random rotations about the beam.

    Every event is rotated by its own random angle, its features rebuilt with the model's
    representation, and both versions encoded.

    Returns:
        A :class:`RotationChange` over the chosen directions.
    """
    if len(dims) == 0:
        raise ConfigError("rotation_invariance needs at least one latent direction")
    rotated, _ = rotate_momenta(features.momenta, seed)
    moved = build(rotated, features.representation, particle_names=features.particle_names)
    idx = list(dims)
    mu0 = trained.encode(features.values)[0][:, idx]
    mu1 = trained.encode(moved.values)[0][:, idx]
    d2 = float(np.mean(np.sum((mu1 - mu0) ** 2, axis=1)))
    var = float(mu0.var(axis=0).sum())
    return RotationChange(
        relative_change=d2 / (2 * var) if var > 0 else float("nan"),
        rms_change=float(np.sqrt(d2)),
        spread=float(np.sqrt(var)),
    )


def reconstruction_error(trained: Any, features: FeatureMatrix) -> float:
    """Mean over events and non-constant features of ``((x_hat - x) / std_x)^2``.

    ``x_hat`` is the decoded posterior mean (eval mode); ``std_x`` the spread of each
    feature over ``features``; the features constant over ``features`` are left out.
    The same number for two models on the same events compares them fairly whatever
    their scalers.
    """
    x = features.values.astype(np.float64)
    mu, _ = trained.encode(x)
    x_hat = trained.decode(mu)
    std = x.std(axis=0)
    keep = ~constant_mask(x)
    return float(np.mean(((x_hat[:, keep] - x[:, keep]) / std[keep]) ** 2))


def direction_truth(features: FeatureMatrix, particle: int = 0) -> np.ndarray:
    """``[N, 3]`` unit momentum vector of one particle: the truth of 'where in its class'.

    A probe on it gives the class information that the event's orientation alone carries
    (e.g. different forward-backward asymmetries): the floor an equivariant block that
    keeps the orientation cannot go below.
    """
    p = features.momenta[:, particle, 1:]
    return p / np.linalg.norm(p, axis=1, keepdims=True)


def take_events(features: FeatureMatrix, index: np.ndarray) -> FeatureMatrix:
    """The events ``index`` of a feature matrix (values, momenta, weights, indices)."""
    idx = np.asarray(index)
    return replace(
        features,
        values=features.values[idx],
        momenta=features.momenta[idx],
        weight=features.weight[idx],
        event_index=features.event_index[idx],
    )


def split_classes(
    labels: np.ndarray, test_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified random split: ``(train_index, test_index)``, sorted; same fraction per class."""
    if not 0 < test_fraction < 1:
        raise ConfigError(f"test_fraction must be in (0, 1); got {test_fraction!r}")
    rng = np.random.default_rng(seed)
    test = []
    for k in np.unique(labels):
        idx = np.flatnonzero(labels == k)
        test.append(rng.choice(idx, size=max(1, round(test_fraction * len(idx))), replace=False))
    te = np.sort(np.concatenate(test))
    tr = np.setdiff1d(np.arange(len(labels)), te)
    return tr, te


@dataclass(frozen=True)
class ProbePair:
    """The two probes of one set of latents: k nearest neighbours and logistic regression."""

    knn: ProbeResult
    logistic: ProbeResult

    def to_dict(self) -> dict[str, Any]:
        """``{"knn": ..., "logistic": ...}`` of :meth:`ProbeResult.to_dict`."""
        return {"knn": self.knn.to_dict(), "logistic": self.logistic.to_dict()}


def _probes(z: np.ndarray, labels: np.ndarray, seed: int) -> ProbePair:
    return ProbePair(
        knn=probe_accuracy(z, labels, method="knn", seed=seed),
        logistic=probe_accuracy(z, labels, method="logistic", seed=seed),
    )


@dataclass(frozen=True)
class InvariantMetrics:
    """The numbers of an invariant/equivariant fit on held-out events.

    Attributes:
        classifier_accuracy: accuracy of the argmax of the encoder's q(y|x).
        inv_probe, eq_probe: the probes on the posterior means of each block.
        inv_rotation, eq_rotation: how much each block moves under rotations.
        class_kept_under_rotation: fraction of events whose predicted class does not
            change under a rotation.
        recon_error: :func:`reconstruction_error`.
    """

    classifier_accuracy: float
    inv_probe: ProbePair
    eq_probe: ProbePair
    inv_rotation: RotationChange
    eq_rotation: RotationChange
    class_kept_under_rotation: float
    recon_error: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (the ``invariant`` entry of the run's ``summary.json``)."""
        return {
            "classifier_accuracy": self.classifier_accuracy,
            "inv_probe": self.inv_probe.to_dict(),
            "eq_probe": self.eq_probe.to_dict(),
            "inv_rotation": self.inv_rotation.to_dict(),
            "eq_rotation": self.eq_rotation.to_dict(),
            "class_kept_under_rotation": self.class_kept_under_rotation,
            "recon_error": self.recon_error,
        }


@dataclass(frozen=True)
class PlainMetrics:
    """The same numbers for a plain VAE on all its latents.

    Attributes:
        probe: the probes on all posterior means.
        rotation: how much they move under rotations.
        recon_error: :func:`reconstruction_error`.
        epochs_run: epochs the plain VAE trained.
    """

    probe: ProbePair
    rotation: RotationChange
    recon_error: float
    epochs_run: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (the ``plain`` entry of the run's ``summary.json``)."""
        return {
            "probe": self.probe.to_dict(),
            "rotation": self.rotation.to_dict(),
            "recon_error": self.recon_error,
            "epochs_run": self.epochs_run,
        }


def evaluate_invariant(
    result: Any, features: FeatureMatrix, labels: np.ndarray, *, seed: int = 0
) -> InvariantMetrics:
    """The numbers of an invariant/equivariant fit on held-out events.

    Args:
        result: an :class:`~latentsym.models.invariant.InvariantFit`.
        features: held-out events (not used in training).
        labels: their classes.
        seed: seed of the probes' split and of the rotation angles.

    Returns:
        :class:`InvariantMetrics`.
    """
    model = result.model
    trained = result.trained
    mu, _ = trained.encode(features)
    inv = list(range(model.config.latent_dim))[model.inv_slice]
    eq = list(range(model.config.latent_dim))[model.eq_slice]
    pred = result.class_probs(features).argmax(1)
    rotated, _ = rotate_momenta(features.momenta, seed)
    moved = build(rotated, features.representation, particle_names=features.particle_names)
    pred_rot = result.class_probs(moved).argmax(1)
    return InvariantMetrics(
        classifier_accuracy=float(np.mean(pred == labels)),
        inv_probe=_probes(mu[:, inv], labels, seed),
        eq_probe=_probes(mu[:, eq], labels, seed),
        inv_rotation=rotation_invariance(trained, features, inv, seed=seed),
        eq_rotation=rotation_invariance(trained, features, eq, seed=seed),
        class_kept_under_rotation=float(np.mean(pred == pred_rot)),
        recon_error=reconstruction_error(trained, features),
    )


def evaluate_plain(
    trained: Any, features: FeatureMatrix, labels: np.ndarray, *, seed: int = 0
) -> PlainMetrics:
    """The same numbers for a plain VAE (all latents): probe, rotation change, recon error."""
    mu, _ = trained.encode(features)
    dims = list(range(mu.shape[1]))
    return PlainMetrics(
        probe=_probes(mu, labels, seed),
        rotation=rotation_invariance(trained, features, dims, seed=seed),
        recon_error=reconstruction_error(trained, features),
        epochs_run=int(trained.epochs_run),
    )
