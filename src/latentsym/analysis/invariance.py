"""Multi-class data and the checks of the invariant/equivariant VAE.

- :func:`class_features`: several event files -> one feature matrix, the class of each
  event being its file (read_events, select_final_state and build per file, as the
  pipeline does; particles named generically ``p1 .. pn`` in the selection's PDG-id order,
  which for a fermion pair is antiparticle first).
- :func:`probe_accuracy`: how much class information a set of latents carries, measured
  by a simple classifier (k nearest neighbours or logistic regression) trained on one half
  of the events and scored on the other.
- :func:`rotation_invariance`: how much latents move when every event is rotated by a
  random angle about the beam axis.
- :func:`reconstruction_error`: mean squared reconstruction error per feature, in units of
  the feature's spread, to compare models with different scalers.

Example:
    >>> data = class_features(["a.lhe.gz", "b.lhe.gz"])  # doctest: +SKIP
    >>> probe_accuracy(mu[:, :2], data.labels).accuracy  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentsym.errors import ConfigError, TopologyError
from latentsym.features.build import FeatureMatrix, build
from latentsym.features.scaler import constant_mask
from latentsym.io.read import read_events
from latentsym.physics.selection import select_final_state, topology_name

__all__ = [
    "ClassData",
    "ProbeResult",
    "class_features",
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


@dataclass(frozen=True, eq=False)
class ClassData:
    """Features of several classes of events.

    Attributes:
        features: the concatenated :class:`FeatureMatrix` (particles ``p1 .. pn``).
        labels: ``[N]`` int64 class index of every event (its file's position).
        class_names: the K class names (file stems).
        topologies: the final state selected in each class, e.g. ``"mu+ mu-"`` (each
            file or label value selects its own most common one unless ``topology`` is
            given; a class spread over files with different ones lists them all).
    """

    features: FeatureMatrix
    labels: np.ndarray
    class_names: tuple[str, ...]
    topologies: tuple[str, ...]


def _stem(path: str | os.PathLike[str]) -> str:
    name = Path(path).name
    for suffix in (".lhe.gz", ".lhe", ".root"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def class_features(
    paths: Sequence[str | os.PathLike[str]],
    representation: str = "cartesian",
    *,
    max_events: int | None = None,
    topology: str | None = None,
    label_branch: str | None = None,
    read_options: dict[str, Any] | None = None,
) -> ClassData:
    """Read several files and build one feature matrix with the class of every event.

    The class of an event is its file, or with ``label_branch`` the value of that branch
    of a ROOT file's tree (one integer per event, e.g. a process id or a truth label; the
    distinct values, sorted, become classes 0 .. K-1, named ``"<branch>=<value>"``).

    Args:
        paths: event files: K >= 2 of them (one class each), or with ``label_branch`` any
            number of ROOT files that together hold at least two label values.
        representation: ``"cartesian"`` or ``"collider"`` (:func:`latentsym.features.build`).
        max_events: events read per file (default: all).
        topology: the final state to select in every file (default: each file's most
            common one; all must have the same number of particles).
        label_branch: name of a per-event integer branch holding the class.
        read_options: ROOT reading options (``tree``, ``layout``, ``collections``, ...).

    Returns:
        :class:`ClassData`.

    Raises:
        ConfigError: fewer than two classes; a label branch that is missing, not one
            integer per event, or asked of an LHE file. TopologyError: final states of
            different sizes.
    """
    if len(paths) < 2 and label_branch is None:
        raise ConfigError(
            f"class_features needs at least two files (one per class); got {len(paths)}. "
            "With one file, give the branch that holds each event's class (label_branch)."
        )
    momenta: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    tops: dict[int, list[str]] = {}  # final states of each class

    def add(events: Any, label: int, where: str) -> None:
        fs = select_final_state(events, topology)
        if momenta and fs.n_particles != momenta[0].shape[1]:
            first = next(iter(tops.values()))[0]
            raise TopologyError(
                f"{where}: final state {topology_name(fs.pids)!r} has {fs.n_particles} "
                f"particles but the first class has {momenta[0].shape[1]} ({first!r}); the "
                "classes must share the number of final-state particles"
            )
        momenta.append(fs.momenta())
        weights.append(fs.weight)
        labels.append(np.full(fs.n_events, label, dtype=np.int64))
        tops.setdefault(label, []).append(topology_name(fs.pids))

    for k, path in enumerate(paths):
        events, info = read_events(path, max_events=max_events, **(read_options or {}))
        if label_branch is None:
            add(events, k, str(path))
            continue
        raw = _label_values(path, info, label_branch, len(events))
        for v in np.unique(raw).tolist():  # each class selects its own final state
            add(events[raw == v], v, f"{path}, {label_branch} = {v}")
    p = np.concatenate(momenta)
    names = tuple(f"p{i + 1}" for i in range(p.shape[1]))
    fm = build(p, representation, particle_names=names, weight=np.concatenate(weights))
    const = constant_mask(fm.values.astype(np.float64))
    fm = replace(fm, constant=tuple(str(n) for n in np.asarray(fm.names)[const]))
    values, y = np.unique(np.concatenate(labels), return_inverse=True)
    topologies = tuple(", ".join(dict.fromkeys(tops[v])) for v in values.tolist())
    if label_branch is None:
        return ClassData(fm, y.astype(np.int64), tuple(_stem(p_) for p_ in paths), topologies)
    if len(values) < 2:
        raise ConfigError(
            f"{label_branch!r} takes the single value {values[0]} in "
            f"{', '.join(str(p_) for p_ in paths)}; at least two classes are needed"
        )
    class_names = tuple(f"{label_branch}={v}" for v in values.tolist())
    return ClassData(fm, y.astype(np.int64), class_names, topologies)


def _label_values(path: Any, info: Any, branch: str, n_events: int) -> np.ndarray:
    """The per-event integer labels in ``branch`` of the tree ``info`` was read from."""
    import uproot

    if info.format != "root":
        raise ConfigError(
            f"{path}: a label branch ({branch!r}) is read from ROOT files only; give LHE files "
            "one class per file (no label branch)"
        )
    with uproot.open(path) as f:
        tree = f[info.tree]
        keys = tree.keys()
        if branch not in keys:
            listing = ", ".join(sorted(keys)[:20])
            raise ConfigError(
                f"{path}: tree {info.tree!r} has no branch {branch!r}; branches: {listing}"
            )
        raw = tree[branch].array(entry_stop=n_events, library="np")
    if raw.dtype == object or raw.ndim != 1 or raw.dtype.kind not in "iub":
        raise ConfigError(
            f"{path}: branch {branch!r} must hold one integer per event (a class label); it "
            f"holds {raw.dtype} values of shape {raw.shape}"
        )
    return raw.astype(np.int64)


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
    from latentsym.models.mechanism import act

    angle = np.random.default_rng(seed).uniform(0.0, 2 * np.pi, len(momenta))
    return act(np.asarray(momenta, dtype=np.float64), angle=angle).numpy(), angle


def rotation_invariance(
    trained: Any, features: FeatureMatrix, dims: Sequence[int], *, seed: int = 0
) -> dict[str, float]:
    """How much the latent means of ``dims`` move under random rotations about the beam.

    Every event is rotated by its own random angle, its features rebuilt with the model's
    representation, and both versions encoded.

    Returns:
        ``relative_change``: ``mean |mu(Rx) - mu(x)|^2 / (2 tr Cov mu)`` over the chosen
        directions: 0 for an invariant block, about 1 when the rotated event is as far
        from the original as a random other event; ``rms_change``: ``sqrt(mean |dmu|^2)``
        in latent units; ``spread``: ``sqrt(tr Cov mu)``.
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
    return {
        "relative_change": d2 / (2 * var) if var > 0 else float("nan"),
        "rms_change": float(np.sqrt(d2)),
        "spread": float(np.sqrt(var)),
    }


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


def evaluate_invariant(
    result: Any, features: FeatureMatrix, labels: np.ndarray, *, seed: int = 0
) -> dict[str, Any]:
    """The numbers of an invariant/equivariant fit on held-out events.

    Args:
        result: an :class:`~latentsym.models.invariant.InvariantFit`.
        features: held-out events (not used in training).
        labels: their classes.
        seed: seed of the probes' split and of the rotation angles.

    Returns:
        JSON-safe dict: ``classifier_accuracy`` (argmax of q(y|x)), ``inv_probe`` and
        ``eq_probe`` (kNN and logistic :class:`ProbeResult` dicts on the posterior means
        of each block), ``inv_rotation`` and ``eq_rotation`` (:func:`rotation_invariance`),
        ``class_kept_under_rotation`` (fraction whose predicted class does not change),
        ``recon_error`` (:func:`reconstruction_error`).
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
    return {
        "classifier_accuracy": float(np.mean(pred == labels)),
        "inv_probe": {
            m: probe_accuracy(mu[:, inv], labels, method=m, seed=seed).to_dict()
            for m in ("knn", "logistic")
        },
        "eq_probe": {
            m: probe_accuracy(mu[:, eq], labels, method=m, seed=seed).to_dict()
            for m in ("knn", "logistic")
        },
        "inv_rotation": rotation_invariance(trained, features, inv, seed=seed),
        "eq_rotation": rotation_invariance(trained, features, eq, seed=seed),
        "class_kept_under_rotation": float(np.mean(pred == pred_rot)),
        "recon_error": reconstruction_error(trained, features),
    }


def evaluate_plain(
    trained: Any, features: FeatureMatrix, labels: np.ndarray, *, seed: int = 0
) -> dict[str, Any]:
    """The same numbers for a plain VAE (all latents): probe, rotation change, recon error."""
    mu, _ = trained.encode(features)
    dims = list(range(mu.shape[1]))
    return {
        "probe": {
            m: probe_accuracy(mu, labels, method=m, seed=seed).to_dict()
            for m in ("knn", "logistic")
        },
        "rotation": rotation_invariance(trained, features, dims, seed=seed),
        "recon_error": reconstruction_error(trained, features),
    }
