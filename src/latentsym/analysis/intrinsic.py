"""Intrinsic-dimension estimators: TwoNN, Levina-Bickel MLE, PCA.

All take points ``X`` of shape ``[N, D]`` and return a :class:`DimensionEstimate`, a
``float`` that also says how many points it used and how many exact duplicates it dropped
(nearest-neighbour estimators need distinct points: a zero distance makes ``log(r2/r1)``
infinite).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from latentsym.errors import ConfigError, SchemaError

__all__ = ["DimensionEstimate", "mle_levina_bickel", "pca_dim", "twonn"]


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
