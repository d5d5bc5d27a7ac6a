"""Intrinsic-dimension estimators: TwoNN, GRIDE (TwoNN at larger scales), Levina-Bickel
MLE, PCA.

All take points ``X`` of shape ``[N, D]`` and return a :class:`DimensionEstimate`, a
``float`` that also says how many points it used and how many exact duplicates it dropped
(nearest-neighbour estimators need distinct points: a zero distance makes ``log(r2/r1)``
infinite).

An intrinsic dimension depends on the scale at which it is read: a circle with Gaussian
noise of width 0.02 is two-dimensional at distances below about 0.05 and one-dimensional
above. TwoNN reads the scale of the nearest neighbours, which shrinks as N grows.
:func:`gride` reads the scale of the n1-th and n2-th neighbours, :func:`id_scale_curve`
the whole range, and :func:`id_at_scale` the dimension at a scale the caller names (for
the latent space of a VAE: the posterior width, below which the model does not tell two
events apart).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.spatial import cKDTree
from scipy.special import betaln

from latentsym._json import json_safe
from latentsym.errors import ConfigError, SchemaError

__all__ = [
    "Baselines",
    "DimensionEstimate",
    "LatentDimension",
    "ScalePoint",
    "baselines",
    "gride",
    "gride_from_ratios",
    "id_at_scale",
    "id_scale_curve",
    "latent_dimension",
    "mle_levina_bickel",
    "pca_dim",
    "twonn",
]


class DimensionEstimate(float):
    """An intrinsic-dimension estimate: a float with its bookkeeping.

    Attributes:
        method: ``"twonn"``, ``"mle"`` or ``"pca"``.
        n_points: points used.
        n_duplicates: exact duplicate points dropped before the estimate.
    """

    method: str
    n_points: int
    n_duplicates: int

    def __new__(cls, value: float, method: str, n_points: int, n_duplicates: int = 0):
        obj = super().__new__(cls, value)
        obj.method, obj.n_points, obj.n_duplicates = method, n_points, n_duplicates
        return obj

    def __repr__(self) -> str:
        return (
            f"DimensionEstimate({float(self):.4g}, method={self.method!r}, "
            f"n_points={self.n_points}, n_duplicates={self.n_duplicates})"
        )


def _distinct(x: np.ndarray, where: str, min_points: int) -> tuple[np.ndarray, int]:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise SchemaError(f"{where}: X must be an array [N, D], got shape {np.shape(x)}")
    bad = np.argwhere(~np.isfinite(arr))
    if bad.size:
        raise SchemaError(f"{where}: X is not finite at row {int(bad[0, 0])}; remove such rows")
    unique = np.unique(arr, axis=0)
    if len(unique) < min_points:
        raise SchemaError(
            f"{where}: need at least {min_points} distinct points, got {len(unique)} "
            f"(of {len(arr)} rows)"
        )
    return unique, len(arr) - len(unique)


def twonn(x: np.ndarray, *, discard_fraction: float = 0.1) -> DimensionEstimate:
    """TwoNN estimate (Facco et al., Sci. Rep. 7 (2017) 12140), maximum-likelihood form.

    The ratio ``mu = r2 / r1`` of each point's second to first neighbour distance follows a
    Pareto law ``P(mu > t) = t^-d`` on a locally uniform d-manifold. The largest
    ``discard_fraction`` of the ratios (most affected by curvature and density changes) are
    treated as censored at the largest kept ratio ``mu_c``, which gives the closed form
    ``d = n_kept / (sum_kept log mu + n_censored log mu_c)``.

    Args:
        x: ``[N, D]`` points (exact duplicates are dropped and counted).
        discard_fraction: fraction of the largest ratios treated as censored, in [0, 1).

    Returns:
        The estimate, as a :class:`DimensionEstimate`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> round(twonn(rng.normal(size=(2000, 2)) @ [[1.0, 0, 0], [0, 1.0, 0]]))
        2
    """
    if not 0 <= discard_fraction < 1:
        raise ConfigError(f"twonn: discard_fraction must be in [0, 1), got {discard_fraction!r}")
    pts, n_dup = _distinct(x, "twonn", 3)
    dist, _ = cKDTree(pts).query(pts, k=3)
    log_mu = np.sort(np.log(dist[:, 2] / dist[:, 1]))
    n_kept = max(int(np.floor(len(log_mu) * (1.0 - discard_fraction))), 1)
    n_cens = len(log_mu) - n_kept
    total = log_mu[:n_kept].sum() + n_cens * log_mu[n_kept - 1]
    value = n_kept / total if total > 0 else float("inf")
    return DimensionEstimate(value, "twonn", len(pts), n_dup)


def gride_from_ratios(log_mu: np.ndarray, n1: int, n2: int) -> float:
    """Maximum-likelihood d of :func:`gride` for given ratios: ``log_mu = log(r_n2 / r_n1)``
    per point (all > 0).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> round(float(gride_from_ratios(rng.exponential(1 / 3, 10000), 1, 2)), 1)  # mu^-3
        3.0
    """
    n = len(log_mu)
    total = log_mu.sum()
    if n2 - n1 == 1:  # the closed form (n1 = 1, n2 = 2 is TwoNN without censoring)
        return n / ((n2 - 1) * total) if total > 0 else float("inf")

    def nll(d: float) -> float:
        # log(mu^d - 1) = d log mu + log(1 - mu^-d), stable for mu close to 1
        log_term = d * log_mu + np.log(-np.expm1(-d * log_mu))
        return -(
            n * np.log(d)
            + (n2 - n1 - 1) * log_term.sum()
            - ((n2 - 1) * d + 1) * total
            - n * betaln(n2 - n1, n1)
        )

    res = minimize_scalar(nll, bounds=(1e-3, 200.0), method="bounded", options={"xatol": 1e-7})
    return float(res.x)


def gride(x: np.ndarray, n1: int = 1, n2: int | None = None) -> DimensionEstimate:
    """GRIDE estimate (Denti et al., Sci. Rep. 12 (2022) 20005): TwoNN at a larger scale.

    The ratio ``mu = r_n2 / r_n1`` of each point's n2-th to n1-th neighbour distance has,
    on a locally uniform d-manifold, the density
    ``d (mu^d - 1)^(n2-n1-1) / (B(n2-n1, n1) mu^((n2-1) d + 1))``; the estimate maximises
    its likelihood. ``n1 = 1, n2 = 2`` is TwoNN (without censoring). Larger ``n1`` read the
    dimension at the distance of the n2-th neighbour, above noise of a smaller size.

    Args:
        x: ``[N, D]`` points (exact duplicates are dropped and counted).
        n1: order of the nearer neighbour (>= 1).
        n2: order of the farther neighbour (> n1; default ``2 n1``).

    Returns:
        The estimate, as a :class:`DimensionEstimate`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> round(gride(rng.normal(size=(2000, 3)), n1=8))
        3
    """
    n2 = 2 * n1 if n2 is None else n2
    if isinstance(n1, bool) or not isinstance(n1, int) or not isinstance(n2, int) or n1 < 1:
        raise ConfigError(f"gride: need integers 1 <= n1 < n2, got n1={n1!r}, n2={n2!r}")
    if n2 <= n1:
        raise ConfigError(f"gride: need n1 < n2, got n1={n1}, n2={n2}")
    pts, n_dup = _distinct(x, "gride", n2 + 1)
    dist, _ = cKDTree(pts).query(pts, k=n2 + 1)
    value = gride_from_ratios(np.log(dist[:, n2] / dist[:, n1]), n1, n2)
    return DimensionEstimate(value, "gride", len(pts), n_dup)


@dataclass(frozen=True)
class ScalePoint:
    """The intrinsic dimension read at one scale.

    Attributes:
        n1, n2: the neighbour orders of the GRIDE ratio.
        scale: median distance to the n2-th neighbour (the scale the ratio probes).
        dim: the GRIDE estimate.
    """

    n1: int
    n2: int
    scale: float
    dim: float

    def to_dict(self) -> dict[str, float]:
        """JSON-safe dictionary."""
        return {"n1": self.n1, "n2": self.n2, "scale": self.scale, "dim": self.dim}


def _scale_points(pts: np.ndarray, limit: int) -> Iterator[ScalePoint]:
    """GRIDE at ``n1 = 1, 2, 4, ...``, ``n2 = 2 n1 <= limit``, in increasing scale; the
    neighbours are queried in doublings, only as far as the caller iterates."""
    tree = cKDTree(pts)
    queried = 0
    dist = np.empty((len(pts), 0))
    n1 = 1
    while 2 * n1 <= limit:
        n2 = 2 * n1
        if n2 > queried:
            queried = min(max(2 * n2, 8), limit)
            dist, _ = tree.query(pts, k=queried + 1)
        dim = gride_from_ratios(np.log(dist[:, n2] / dist[:, n1]), n1, n2)
        yield ScalePoint(n1, n2, float(np.median(dist[:, n2])), dim)
        n1 *= 2


def id_scale_curve(x: np.ndarray, max_n2: int | None = None) -> list[ScalePoint]:
    """The intrinsic dimension against scale: GRIDE with ``n1 = 1, 2, 4, ...`` and
    ``n2 = 2 n1`` (the multiscale analysis of Denti et al.).

    Args:
        x: ``[N, D]`` points (exact duplicates are dropped).
        max_n2: largest n2 (default: a quarter of the distinct points, at most 1024).

    Returns:
        One :class:`ScalePoint` per ``n1``, in increasing scale.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> [round(p.dim) for p in id_scale_curve(rng.normal(size=(1000, 2)), max_n2=8)]
        [2, 2, 2]
    """
    pts, _ = _distinct(x, "id_scale_curve", 3)
    limit = min(len(pts) // 4, 1024) if max_n2 is None else min(max_n2, len(pts) - 1)
    if limit < 2:
        raise SchemaError(f"id_scale_curve: too few distinct points ({len(pts)})")
    return list(_scale_points(pts, limit))


def id_at_scale(x: np.ndarray, scale: float, max_n2: int = 1024) -> ScalePoint:
    """The intrinsic dimension read at ``scale``: along ``n1 = 1, 2, 4, ...`` (``n2 = 2
    n1``), the first GRIDE point whose median n2-th neighbour distance reaches ``scale``
    (the first point when every one does, the last, at ``n2 <= max_n2``, when none does).
    Neighbours are only queried as far as needed.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> t = rng.uniform(0, 2 * np.pi, 5000)
        >>> ring = np.c_[np.cos(t), np.sin(t)] + rng.normal(0, 0.02, (5000, 2))
        >>> round(float(twonn(ring))), round(id_at_scale(ring, 0.2).dim)
        (2, 1)
    """
    if not np.isfinite(scale) or scale < 0:
        raise ConfigError(f"id_at_scale: scale must be finite and >= 0, got {scale!r}")
    if isinstance(max_n2, bool) or not isinstance(max_n2, int) or max_n2 < 2:
        raise ConfigError(f"id_at_scale: max_n2 must be an integer >= 2, got {max_n2!r}")
    pts, _ = _distinct(x, "id_at_scale", 3)
    point = None
    for point in _scale_points(pts, min(max_n2, len(pts) - 1)):
        if point.scale >= scale:
            break
    if point is None:
        raise SchemaError(f"id_at_scale: too few distinct points ({len(pts)})")
    return point


@dataclass(frozen=True)
class LatentDimension:
    """The intrinsic dimension of a VAE's encoded means along its relevant directions.

    Attributes:
        value: the dimension at the model's resolution (:func:`latent_dimension`).
        nearest: TwoNN at the nearest-neighbour scale (NaN when not measured).
        scale: the resolution used, the median posterior width of the sharpest relevant
            direction.
        n1, n2: the neighbour orders that reached it.
        n_points: encoded events used.
        read_scale: the scale the dimension was read at: the median distance to the
            n2-th neighbour at ``(n1, n2)``, the first that reaches ``scale``.
    """

    value: float
    nearest: float
    scale: float
    n1: int
    n2: int
    n_points: int
    read_scale: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (NaN as None)."""
        return json_safe(
            {
                "value": self.value,
                "nearest_neighbour": self.nearest,
                "scale": self.scale,
                "n1": self.n1,
                "n2": self.n2,
                "n_points": self.n_points,
                "read_scale": self.read_scale,
            }
        )


def latent_dimension(
    mu: np.ndarray,
    sigma: np.ndarray,
    dims: Sequence[int],
    *,
    max_points: int = 5000,
    seed: int = 0,
) -> LatentDimension:
    """Intrinsic dimension of the encoded means along ``dims``, read at the model's
    resolution.

    Two events whose encoded means are closer than the posterior width are not told apart
    by the model: their posteriors overlap, and the decoder is trained on draws from them.
    Structure below that scale (noise the encoder passed on, shrunk) is not part of what
    the model learned, so the dimension is read with :func:`id_at_scale` at the median
    posterior width of the sharpest relevant direction. TwoNN at the nearest-neighbour
    scale is kept beside it: the two agree on clean manifolds and differ where noise
    reaches the latents.

    Args:
        mu, sigma: ``[N, L]`` posterior means and widths.
        dims: the relevant directions (at least one).
        max_points: at most this many events (a seeded subsample).
        seed: seed of the subsample.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> t = rng.uniform(0, 2 * np.pi, 4000)
        >>> mu = np.c_[np.cos(t), np.sin(t), rng.normal(0, 0.01, 4000)]
        >>> round(latent_dimension(mu, np.full_like(mu, 0.1), [0, 1, 2]).value)
        1
    """
    dims = [int(d) for d in dims]
    if not dims:
        raise ConfigError("latent_dimension: need at least one relevant direction")
    mu = np.asarray(mu, dtype=np.float64)
    sigma = np.asarray(sigma, dtype=np.float64)
    if mu.ndim != 2 or mu.shape != sigma.shape:
        raise SchemaError(
            f"latent_dimension: mu and sigma must be arrays [N, L] of one shape, got "
            f"{mu.shape} and {sigma.shape}"
        )
    if not all(0 <= d < mu.shape[1] for d in dims) or len(set(dims)) != len(dims):
        raise ConfigError(
            f"latent_dimension: dims {dims} must be distinct indices in 0..{mu.shape[1] - 1}"
        )
    take = np.random.default_rng(seed).permutation(len(mu))[:max_points]
    pts = mu[take][:, dims]
    scale = float(np.min(np.median(sigma[take][:, dims], axis=0)))
    point = id_at_scale(pts, scale)
    return LatentDimension(
        point.dim, float(twonn(pts)), scale, point.n1, point.n2, len(pts), point.scale
    )


def mle_levina_bickel(x: np.ndarray, k: int | tuple[int, int] = 20) -> DimensionEstimate:
    """Levina-Bickel maximum-likelihood estimate, averaged as MacKay and Ghahramani advise.

    With ``T_j(x)`` the distance to the j-th neighbour, the per-point inverse estimate is
    ``(1 / (k - 1)) sum_{j < k} log(T_k / T_j)``; these inverses are averaged over the
    points and the average is inverted (averaging the inverses, not the estimates, is the
    correction of MacKay & Ghahramani 2005). With ``k = (k1, k2)`` the estimates for
    ``k1..k2`` are averaged (Levina & Bickel, NIPS 2004).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> round(mle_levina_bickel(rng.normal(size=(2000, 3))))
        3
    """
    k1, k2 = (k, k) if isinstance(k, int) else k
    if isinstance(k1, bool) or not 2 <= k1 <= k2:
        raise ConfigError(f"mle_levina_bickel: need 2 <= k (or k1 <= k2), got k={k!r}")
    pts, n_dup = _distinct(x, "mle_levina_bickel", k2 + 1)
    dist, _ = cKDTree(pts).query(pts, k=k2 + 1)
    log_d = np.log(dist[:, 1:])  # [N, k2], neighbours 1..k2
    estimates = []
    for kk in range(k1, k2 + 1):
        inv = (log_d[:, kk - 1 : kk] - log_d[:, : kk - 1]).sum(axis=1) / (kk - 1)
        estimates.append(1.0 / inv.mean())
    return DimensionEstimate(float(np.mean(estimates)), "mle", len(pts), n_dup)


def pca_dim(x: np.ndarray, variance: float = 0.99) -> DimensionEstimate:
    """Number of principal components of the centred (not rescaled) points that explain
    ``variance`` of the total variance: a linear dimension, an upper bound on a curved
    manifold's intrinsic dimension.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> int(pca_dim(rng.normal(size=(500, 2)) @ np.ones((2, 4))))
        1
    """
    if not 0 < variance <= 1:
        raise ConfigError(f"pca_dim: variance must be in (0, 1], got {variance!r}")
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or len(arr) < 2 or not np.isfinite(arr).all():
        raise SchemaError(f"pca_dim: X must be a finite array [N >= 2, D], got {np.shape(x)}")
    eig = np.clip(np.linalg.svd(arr - arr.mean(axis=0), compute_uv=False) ** 2, 0, None)
    if eig.sum() == 0:
        return DimensionEstimate(0.0, "pca", len(arr))
    frac = np.cumsum(eig) / eig.sum()
    n = int(np.searchsorted(frac, variance * (1 - 1e-12)) + 1)
    return DimensionEstimate(float(n), "pca", len(arr))


@dataclass(frozen=True)
class Baselines:
    """What a physicist would otherwise use on the same standardised features.

    Attributes:
        pca: principal components for 99 % of the variance (a linear dimension).
        twonn: TwoNN at the nearest neighbours.
        mle: Levina-Bickel maximum likelihood with k = 20.
        n_points: events of the seeded subsample TwoNN and the MLE used (PCA uses all).
    """

    pca: int
    twonn: float
    mle: float
    n_points: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (NaN as None)."""
        return json_safe(
            {"pca": self.pca, "twonn": self.twonn, "mle": self.mle, "n_points": self.n_points}
        )


def baselines(x: np.ndarray, *, max_points: int = 5000, seed: int = 0) -> Baselines:
    """PCA (99 %), TwoNN and the MLE (k = 20) of standardised features.

    Args:
        x: ``[N, F]`` standardised features (constant columns dropped).
        max_points: TwoNN and the MLE use a seeded subsample of at most this many rows.
        seed: seed of the subsample.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> plane = rng.normal(size=(2000, 2)) @ rng.normal(size=(2, 4))  # a plane in R^4
        >>> b = baselines(plane)
        >>> b.pca, round(b.twonn), round(b.mle), b.n_points
        (2, 2, 2, 2000)
    """
    arr = np.asarray(x, dtype=np.float64)
    sub = arr[np.random.default_rng(seed).permutation(len(arr))[:max_points]]
    return Baselines(int(pca_dim(arr)), float(twonn(sub)), float(mle_levina_bickel(sub)), len(sub))
