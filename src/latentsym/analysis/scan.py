"""Scans of the relevant count over the KL weight beta and the training seed.

The relevant count ``k`` of a VAE depends on beta: too small a beta opens directions for
noise, too large a beta closes directions the data needs. A trustworthy answer is one
that stays put over a range of beta and over seeds. :func:`beta_scan` trains one model per
``(beta, seed)`` (in memory, no checkpoints) and records ``k``, the sorted relevance
spectrum and the intrinsic dimension of the encoded means along the relevant directions
(at the model's resolution); :func:`find_plateau` names the stable beta range.

Plateau rule (documented convention):

- a beta is *stable with count k* when the standard deviation of the count over seeds
  (population std, ``ddof = 0``) is below 0.5 (strictly: two seeds that disagree by one
  have std 0.5 and are not stable; with three seeds one outlier by one, e.g. (2, 2, 3),
  has std 0.47 and is stable) and ``k = floor(mean + 0.5)``, the mean rounded half up;
- a plateau is a run of consecutive betas (in increasing order) that are all stable with
  the same ``k``; the reported plateau is the longest one, with ties going to the run in
  which more betas have every seed agreeing exactly, then to the smaller betas;
- a run shorter than ``min_length`` (default 2) is no plateau: the scan then reports none.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm import tqdm

from latentsym._json import json_safe
from latentsym.analysis.intrinsic import latent_dimension
from latentsym.analysis.relevance import relevance
from latentsym.analysis.resolution import Resolution, latent_per_unit, resolution
from latentsym.errors import ConfigError
from latentsym.features.build import FeatureMatrix
from latentsym.models import Architecture, FitOptions, TrainConfig, fit
from latentsym.physics.thickness import ConstraintGeometry

__all__ = [
    "DEFAULT_BETAS",
    "DEFAULT_SEEDS",
    "LatentReading",
    "Plateau",
    "ScanPoint",
    "ScanResult",
    "beta_scan",
    "find_plateau",
    "read_latents",
]

DEFAULT_BETAS = (0.03, 0.1, 0.3, 1.0, 3.0)
"""KL weights of a scan unless told otherwise."""
DEFAULT_SEEDS = (0, 1, 2)
"""Training seeds of a scan unless told otherwise."""
_ID_POINTS = 5000
_THRESHOLD = 0.5


@dataclass(frozen=True)
class LatentReading:
    """What one trained model says about a sample.

    Attributes:
        k: number of relevant latent directions.
        relevance: ``[L]`` relevance ``R_i``, sorted in decreasing order.
        relevant_dims: indices of the relevant directions (model order).
        latent_id: intrinsic dimension of the encoded means along the relevant
            directions at the model's resolution
            (:func:`latentsym.analysis.intrinsic.latent_dimension`; NaN when ``k = 0``).
        epochs_run: epochs the training ran (early stopping may end it sooner).
    """

    k: int
    relevance: tuple[float, ...]
    relevant_dims: tuple[int, ...]
    latent_id: float
    epochs_run: int
    latent_id_nearest: float = float("nan")
    """TwoNN at the nearest-neighbour scale (NaN when ``k = 0``)."""
    latent_id_scale: float = float("nan")
    """The resolution ``latent_id`` was read at (median posterior width)."""
    resolution: Resolution | None = None
    """The dimension predicted at the read scale from the approximate constraints'
    thickness (when a geometry with approximate constraints was given and ``k > 0``)."""

    @property
    def predicted(self) -> float:
        """The predicted dimension at the read scale (NaN without a resolution)."""
        return self.resolution.predicted if self.resolution is not None else float("nan")


def read_latents(
    features: FeatureMatrix | np.ndarray,
    *,
    arch: Architecture | None = None,
    train: TrainConfig | None = None,
    options: FitOptions | None = None,
    threshold: float = _THRESHOLD,
    id_points: int = _ID_POINTS,
    geometry: ConstraintGeometry | None = None,
) -> LatentReading:
    """Train one VAE in memory and read its relevant count and latent intrinsic dimension.

    Args:
        features: a FeatureMatrix or raw ``[N, F]`` features.
        arch: the network (default :class:`~latentsym.models.Architecture`).
        train: training settings, beta and seed included (default
            :class:`~latentsym.models.TrainConfig`); the seed also seeds the subsample of
            the dimension estimate.
        options: how the fit runs (default: no progress bar, no checkpoint).
        threshold: relevance threshold of a relevant direction.
        id_points: the dimension estimate uses at most this many encoded events.
        geometry: the approximate constraints of the same events
            (:func:`latentsym.physics.thickness.constraint_geometry`): the reading then
            carries the dimension predicted at its read scale, with the broken pair masses
            thinner than the model's resolution ``sqrt(beta / 2)`` as shells too
            (:meth:`~latentsym.physics.thickness.ConstraintGeometry.at_resolution`).

    Returns:
        A :class:`LatentReading`.

    Example:
        A short fit (half a second) on the unit circle: two relevant directions (the
        circle's linear rank), along which the encoded means lie on a curve (dimension 1).

        >>> from latentsym.toys import circle
        >>> r = read_latents(
        ...     circle(1000, seed=0),
        ...     arch=Architecture(latent_dim=3, hidden=(32,)),
        ...     train=TrainConfig(beta=0.3, epochs=30, batch_size=100, seed=2),
        ... )
        >>> r.k, len(r.relevance), r.epochs_run
        (2, 3, 30)
        >>> bool(0.7 < r.latent_id < 1.3)
        True
    """
    cfg = train if train is not None else TrainConfig()
    run = options if options is not None else FitOptions(progress=False)
    trained = fit(features, arch=arch, train=cfg, options=run)
    seed = cfg.seed
    values = features.values if isinstance(features, FeatureMatrix) else features
    mu, sigma = trained.encode(np.asarray(values, dtype=np.float32))
    rel = relevance(mu, sigma=sigma, threshold=threshold)
    dims = list(rel.relevant_dims)
    nan = float("nan")
    ld = latent_dimension(mu, sigma, dims, max_points=id_points, seed=seed) if dims else None
    spectrum = sorted((float(d.R) for d in rel.directions), reverse=True)
    res = None
    shells = geometry.at_resolution(math.sqrt(cfg.beta / 2.0)) if geometry is not None else None
    if ld is not None and shells is not None and shells.n_constraints:
        latent = latent_per_unit(trained, np.asarray(values), shells, dims)
        res = resolution(shells, ld.n1, ld.n2, ld.read_scale, latent=latent, seed=seed)
    return LatentReading(
        rel.n_relevant,
        tuple(spectrum),
        tuple(dims),
        ld.value if ld else nan,
        trained.epochs_run,
        ld.nearest if ld else nan,
        ld.scale if ld else nan,
        res,
    )


@dataclass(frozen=True)
class ScanPoint:
    """One ``(beta, seed)`` model of a scan: its beta, seed and :class:`LatentReading`."""

    beta: float
    seed: int
    reading: LatentReading

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (NaN latent ID as None)."""
        r = self.reading
        return json_safe(
            {
                "beta": self.beta,
                "seed": self.seed,
                "k": r.k,
                "relevance": list(r.relevance),
                "relevant_dims": list(r.relevant_dims),
                "latent_id": r.latent_id,
                "latent_id_nearest": r.latent_id_nearest,
                "latent_id_scale": r.latent_id_scale,
                "predicted": r.predicted,
                "resolution": r.resolution.to_dict() if r.resolution else None,
                "epochs_run": r.epochs_run,
            }
        )


@dataclass(frozen=True)
class Plateau:
    """A stable beta range: every beta in ``[beta_min, beta_max]`` gives ``k`` relevant
    directions (rule in the module docstring); ``n_betas`` betas of the scan lie in it."""

    beta_min: float
    beta_max: float
    k: int
    n_betas: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {
            "beta_min": self.beta_min,
            "beta_max": self.beta_max,
            "k": self.k,
            "n_betas": self.n_betas,
        }


def _check_table(betas: Sequence[float], k_table: np.ndarray) -> np.ndarray:
    table = np.asarray(k_table, dtype=np.float64)
    if table.ndim != 2 or table.shape[0] != len(betas) or table.shape[1] < 1:
        raise ConfigError(
            f"find_plateau: k_table must be [n_betas={len(betas)}, n_seeds >= 1], got shape "
            f"{table.shape}"
        )
    if not np.all(np.diff(np.asarray(betas, dtype=np.float64)) > 0):
        raise ConfigError(f"find_plateau: betas must be strictly increasing, got {list(betas)}")
    return table


def find_plateau(
    betas: Sequence[float], k_table: np.ndarray | Sequence[Sequence[int]], min_length: int = 2
) -> Plateau | None:
    """The longest run of consecutive stable betas with the same count (module docstring).

    Args:
        betas: ``[B]`` strictly increasing KL weights.
        k_table: ``[B, S]`` relevant counts, one row per beta, one column per seed.
        min_length: fewest betas a plateau needs.

    Returns:
        The :class:`Plateau`, or None when no run reaches ``min_length``.

    Example:
        >>> find_plateau([0.1, 0.3, 1.0, 3.0], [[4, 5], [3, 3], [3, 3], [1, 2]])
        Plateau(beta_min=0.3, beta_max=1.0, k=3, n_betas=2)
    """
    if isinstance(min_length, bool) or not isinstance(min_length, int) or min_length < 1:
        raise ConfigError(f"find_plateau: min_length must be an integer >= 1, got {min_length!r}")
    table = _check_table(betas, np.asarray(k_table))
    stable = table.std(axis=1) < 0.5
    k_round = np.floor(table.mean(axis=1) + 0.5).astype(int)
    exact = np.all(table == table[:, :1], axis=1)
    best: tuple[int, int, int] | None = None  # (length, n_exact, start)
    start = 0
    while start < len(betas):
        if not stable[start]:
            start += 1
            continue
        stop = start + 1
        while stop < len(betas) and stable[stop] and k_round[stop] == k_round[start]:
            stop += 1
        cand = (stop - start, int(exact[start:stop].sum()), start)
        if best is None or cand[:2] > best[:2]:
            best = cand
        start = stop
    if best is None or best[0] < min_length:
        return None
    length, _, first = best
    last = first + length - 1
    return Plateau(float(betas[first]), float(betas[last]), int(k_round[first]), length)


@dataclass(frozen=True)
class ScanResult:
    """Outcome of :func:`beta_scan`.

    Attributes:
        betas: ``[B]`` KL weights, increasing.
        seeds: ``[S]`` training seeds.
        points: the B * S models, beta-major.
        latent_dim: latent directions of every model.
        threshold: relevance threshold.
        plateau: the stable range (None when there is none).
    """

    betas: tuple[float, ...]
    seeds: tuple[int, ...]
    points: tuple[ScanPoint, ...]
    latent_dim: int
    threshold: float
    plateau: Plateau | None

    @property
    def k_table(self) -> np.ndarray:
        """``[B, S]`` relevant counts."""
        return np.array([p.reading.k for p in self.points]).reshape(len(self.betas), -1)

    @property
    def k_mean(self) -> np.ndarray:
        """``[B]`` mean count over seeds."""
        return self.k_table.mean(axis=1)

    @property
    def k_std(self) -> np.ndarray:
        """``[B]`` standard deviation of the count over seeds (``ddof = 0``)."""
        return self.k_table.std(axis=1)

    def _per_beta(self, values: list[float]) -> np.ndarray:
        table = np.array(values, dtype=np.float64).reshape(len(self.betas), -1)
        out = np.full(len(self.betas), np.nan)
        seen = np.isfinite(table).any(axis=1)
        out[seen] = np.nanmean(table[seen], axis=1)
        return out

    @property
    def latent_id_mean(self) -> np.ndarray:
        """``[B]`` mean latent intrinsic dimension over seeds (NaN where none was read)."""
        return self._per_beta([p.reading.latent_id for p in self.points])

    @property
    def predicted_mean(self) -> np.ndarray:
        """``[B]`` mean dimension predicted at the read scale (NaN without approximate
        constraints)."""
        return self._per_beta([p.reading.predicted for p in self.points])

    def resolution_note(self) -> str | None:
        """Where the approximate constraints stand over the scan: whether a smaller beta
        could resolve them, and whether the sample size stops it (None without any)."""
        res = next((p.reading.resolution for p in self.points if p.reading.resolution), None)
        if res is None or not res.constraints:
            return None
        thinnest = min(res.constraints, key=lambda c: c.thickness)
        t = thinnest.thickness
        smallest = min(self.betas)
        text = (
            f"{thinnest.name}: feature thickness {t:.2g}; the decoder noise sqrt(beta/2) "
            f"falls below it for beta < {res.beta_to_resolve:.2g} (the smallest beta here is "
            f"{smallest:g}, noise {math.sqrt(smallest / 2):.2g})."
        )
        if res.nn_distance > t:
            text += (
                f" The sample stops it: its nearest-neighbour distance {res.nn_distance:.2g} "
                f"is above the thickness, so no beta shows the {res.d}th dimension with "
                f"{res.n_events} events (about {res.events_to_resolve:.2g} would be needed)."
            )
        else:
            text += " The data's nearest neighbours resolve it: a small enough beta can."
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary with the per-beta summary, the plateau and every model."""
        return {
            "betas": list(self.betas),
            "seeds": list(self.seeds),
            "latent_dim": self.latent_dim,
            "threshold": self.threshold,
            "k_mean": [float(v) for v in self.k_mean],
            "k_std": [float(v) for v in self.k_std],
            "latent_id_mean": json_safe([float(v) for v in self.latent_id_mean]),
            "predicted_mean": json_safe([float(v) for v in self.predicted_mean]),
            "resolution_note": self.resolution_note(),
            "k_table": self.k_table.tolist(),
            "plateau": None if self.plateau is None else self.plateau.to_dict(),
            "points": [p.to_dict() for p in self.points],
        }


def beta_scan(
    features: FeatureMatrix | np.ndarray,
    *,
    betas: Sequence[float] = DEFAULT_BETAS,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    arch: Architecture | None = None,
    train: TrainConfig | None = None,
    geometry: ConstraintGeometry | None = None,
    min_length: int = 2,
    progress: bool = False,
) -> ScanResult:
    """Train one model per ``(beta, seed)`` and find where the relevant count is stable.

    Args:
        features: a FeatureMatrix or raw ``[N, F]`` features.
        betas: KL weights (sorted here; must be positive and distinct).
        seeds: training seeds (distinct, at least one).
        arch: the network of every model (default :class:`~latentsym.models.Architecture`).
        train: the other training settings (epochs, batch size, ...); its beta and seed
            are replaced by each point's.
        geometry: the approximate constraints of the same events: every point then
            carries the dimension predicted at its read scale (see :func:`read_latents`).
        min_length: fewest consecutive betas a plateau needs.
        progress: show a tqdm bar over the models.

    Returns:
        A :class:`ScanResult`.

    Raises:
        ConfigError: empty, non-positive or repeated betas; empty or repeated seeds.

    Example:
        Two short fits (a second) on the unit circle: beta = 0.3 keeps its two directions,
        beta = 3 closes them all; one beta per count is no plateau.

        >>> from latentsym.toys import circle
        >>> res = beta_scan(
        ...     circle(1000, seed=0),
        ...     betas=(0.3, 3.0),
        ...     seeds=(2,),
        ...     arch=Architecture(latent_dim=3, hidden=(32,)),
        ...     train=TrainConfig(epochs=30, batch_size=100),
        ... )
        >>> res.k_table.shape, res.k_table.tolist(), res.plateau
        ((2, 1), [[2], [0]], None)
    """
    b = sorted(float(x) for x in betas)
    if not b or b[0] <= 0 or len(set(b)) != len(b):
        raise ConfigError(f"beta_scan: betas must be distinct positive numbers, got {list(betas)}")
    s = [int(x) for x in seeds]
    if not s or len(set(s)) != len(s):
        raise ConfigError(f"beta_scan: seeds must be distinct integers, got {list(seeds)}")
    network = arch if arch is not None else Architecture()
    base = train if train is not None else TrainConfig()
    grid = [(beta, seed) for beta in b for seed in s]
    points = []
    for beta, seed in tqdm(grid, desc="beta scan", disable=not progress):
        reading = read_latents(
            features,
            arch=network,
            train=base.replace(beta=beta, seed=seed),
            geometry=geometry,
        )
        points.append(ScanPoint(beta, seed, reading))
    table = np.array([p.reading.k for p in points]).reshape(len(b), len(s))
    return ScanResult(
        tuple(b),
        tuple(s),
        tuple(points),
        network.latent_dim,
        _THRESHOLD,
        find_plateau(b, table, min_length=min_length),
    )
