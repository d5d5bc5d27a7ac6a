"""Gaussian toys with a chosen covariance, for the linear-VAE theory check.

:func:`gaussian` draws ``x = mean + U diag(sqrt(lambda)) z`` with ``z ~ N(0, I)`` and a
random (Haar) rotation ``U``; :func:`o2_gaussian` is the O(2)-symmetric case: two equal
eigenvalues, so the distribution is invariant under rotations in their plane, embedded
by a random rotation in ``F`` dimensions. With ``exact_moments=True`` the sample itself
has exactly the requested mean and (1/N) covariance (the draw is whitened, then
coloured), so the theory's ``lambda_i`` are the sample's own eigenvalues and a
degenerate pair stays exactly degenerate.

Example:
    >>> toy = o2_gaussian(1000, n_features=6, seed=1, exact_moments=True)
    >>> cov = np.cov(toy.x.T, bias=True)
    >>> bool(np.allclose(toy.plane.T @ cov @ toy.plane, toy.eigenvalues[0] * np.eye(2)))
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from latentsym.errors import ConfigError
from latentsym.toys.checks import check_n

__all__ = ["GaussianToy", "gaussian", "o2_gaussian", "random_rotation"]


@dataclass(frozen=True)
class GaussianToy:
    """A Gaussian sample and its true covariance structure.

    Attributes:
        x: ``[n, F]`` float64 points.
        eigenvalues: ``[F]`` covariance eigenvalues, in the order given.
        eigenvectors: ``[F, F]`` orthonormal columns; column i belongs to eigenvalue i.
        mean: ``[F]`` mean.
    """

    x: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    mean: np.ndarray

    @property
    def covariance(self) -> np.ndarray:
        """``[F, F]`` the true covariance ``U diag(lambda) U^T``."""
        u = self.eigenvectors
        return np.asarray((u * self.eigenvalues) @ u.T)

    @property
    def plane(self) -> np.ndarray:
        """``[F, 2]`` the first two eigenvectors (the symmetric plane of :func:`o2_gaussian`)."""
        return np.asarray(self.eigenvectors[:, :2])


def random_rotation(n_features: int, seed: int = 0) -> np.ndarray:
    """A Haar-random ``[F, F]`` orthogonal matrix (QR of a Gaussian matrix, signs fixed).

    Example:
        >>> q = random_rotation(4, seed=3)
        >>> bool(np.allclose(q.T @ q, np.eye(4)))
        True
    """
    check_n(n_features, "random_rotation (n_features)")
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((n_features, n_features)))
    return np.asarray(q * np.sign(np.diag(r)))


def gaussian(
    n: int,
    eigenvalues: Sequence[float] | np.ndarray,
    *,
    mean: Sequence[float] | np.ndarray | None = None,
    rotate: bool = True,
    exact_moments: bool = False,
    seed: int = 0,
) -> GaussianToy:
    """Gaussian points with covariance eigenvalues ``lambda_i``.

    Args:
        n: number of points.
        eigenvalues: ``[F]`` positive covariance eigenvalues.
        mean: ``[F]`` mean (default zeros).
        rotate: embed the eigenbasis by a random rotation (default); otherwise the
            eigenvectors are the coordinate axes.
        exact_moments: whiten the draw so that the sample mean and (1/n) covariance are
            exactly the requested ones (needs ``n > F``).
        seed: seed of the rotation and of the draw.

    Returns:
        :class:`GaussianToy`.

    Raises:
        ConfigError: non-positive eigenvalues, a mean of the wrong length, or
            ``exact_moments`` with ``n <= F``.

    Example:
        >>> toy = gaussian(20000, [4.0, 1.0, 0.25], seed=2)
        >>> np.round(np.linalg.eigvalsh(np.cov(toy.x.T))[::-1], 1).tolist()
        [4.0, 1.0, 0.2]
    """
    check_n(n, "gaussian")
    lam = np.asarray(eigenvalues, dtype=np.float64)
    if lam.ndim != 1 or len(lam) < 1 or not np.all(np.isfinite(lam) & (lam > 0)):
        raise ConfigError(
            f"gaussian: eigenvalues must be a non-empty list of positive numbers; got {lam!r}"
        )
    n_features = len(lam)
    mu = np.zeros(n_features) if mean is None else np.asarray(mean, dtype=np.float64)
    if mu.shape != (n_features,):
        raise ConfigError(
            f"gaussian: mean has shape {mu.shape}; it needs one value per eigenvalue ({n_features})"
        )
    if exact_moments and n <= n_features:
        raise ConfigError(
            f"gaussian: exact_moments needs more points than features; got n={n}, F={n_features}"
        )
    rng = np.random.default_rng(seed)
    u = random_rotation(n_features, seed=seed + 1) if rotate else np.eye(n_features)
    z = rng.standard_normal((n, n_features))
    if exact_moments:
        z -= z.mean(axis=0)
        chol = np.linalg.cholesky(z.T @ z / n)
        z = np.linalg.solve(chol, z.T).T
    x = (z * np.sqrt(lam)) @ u.T + mu
    return GaussianToy(x=x, eigenvalues=lam, eigenvectors=u, mean=mu)


def o2_gaussian(
    n: int,
    *,
    n_features: int = 6,
    plane_variance: float = 4.0,
    other: Sequence[float] | np.ndarray | None = None,
    exact_moments: bool = False,
    seed: int = 0,
) -> GaussianToy:
    """O(2)-symmetric Gaussian: two equal eigenvalues in a plane, the rest smaller.

    The distribution is invariant under any rotation within the plane spanned by
    :attr:`GaussianToy.plane` (the first two eigenvectors); the plane is embedded in
    ``F`` dimensions by a random rotation.

    Args:
        n: number of points.
        n_features: F (at least 2).
        plane_variance: the variance in each direction of the plane.
        other: the ``F - 2`` other eigenvalues (default ``0.5, 0.25, 0.125, ...``).
        exact_moments: see :func:`gaussian`; keeps the plane exactly degenerate.
        seed: seed of the rotation and of the draw.

    Returns:
        :class:`GaussianToy` with ``eigenvalues[:2] == plane_variance``.

    Raises:
        ConfigError: ``n_features < 2`` or ``other`` of the wrong length.

    Example:
        >>> toy = o2_gaussian(500, n_features=4)
        >>> toy.eigenvalues.tolist()
        [4.0, 4.0, 0.5, 0.25]
    """
    if isinstance(n_features, bool) or not isinstance(n_features, int) or n_features < 2:
        raise ConfigError(f"o2_gaussian: n_features must be an integer >= 2; got {n_features!r}")
    rest = (
        0.5 ** np.arange(1, n_features - 1)
        if other is None
        else np.asarray(other, dtype=np.float64)
    )
    if rest.shape != (n_features - 2,):
        raise ConfigError(
            f"o2_gaussian: other needs n_features - 2 = {n_features - 2} eigenvalues; "
            f"got {rest.shape}"
        )
    lam = np.concatenate([[plane_variance, plane_variance], rest])
    return gaussian(n, lam, exact_moments=exact_moments, seed=seed)
