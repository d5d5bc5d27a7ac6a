r"""The linear-VAE optimum for the project's loss, and what a trained linear VAE learned.

For the loss of :mod:`latentsym.models.loss` (per event: squared error summed over
features plus ``beta`` times the KL; averaged over events) a linear VAE on data with
covariance eigenvalues ``lambda_i`` has its global optimum at probabilistic PCA with the
decoder noise fixed at ``s^2 = beta / 2`` (derivation: ``docs/linear_vae.md``):

- posterior variances ``sigma_i^2 = min(1, s^2 / lambda_i)`` (input-independent), so the
  project's relevance is ``R_i = max(0, 1 - s^2 / lambda_i)``;
- active directions: those with ``lambda_i > s^2`` (at most L, the largest first);
- decoder columns ``w_i = u_i sqrt(max(0, lambda_i - s^2))`` up to a signed permutation,
  and up to any rotation within a set of equal eigenvalues;
- KL per active direction ``0.5 log(lambda_i / s^2)``, reconstruction ``s^2`` per active
  direction plus ``lambda_i`` per collapsed one;
- loss ``sum_i s^2 (1 + log(lambda_i / s^2))`` over active plus ``sum lambda_i`` over
  the rest.

Example:
    >>> opt = linear_optimum([4.0, 1.0, 0.25], beta=1.0)
    >>> opt.s2, opt.n_active, opt.posterior_variance.tolist()
    (0.5, 2, [0.125, 0.5, 1.0])
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.linalg import subspace_angles

from latentsym.errors import ConfigError
from latentsym.models.linear import LinearVAE

__all__ = [
    "LinearOptimum",
    "LinearReading",
    "covariance_spectrum",
    "linear_optimum",
    "noise_variance",
    "orientation_in_plane",
    "principal_angles",
    "read_linear_vae",
]


def noise_variance(beta: float) -> float:
    """The decoder noise ``s^2 = beta / 2`` per feature that our loss corresponds to."""
    if isinstance(beta, bool) or not (isinstance(beta, int | float) and beta > 0):
        raise ConfigError(f"beta must be a positive number; got {beta!r}")
    return float(beta) / 2.0


@dataclass(frozen=True)
class LinearOptimum:
    """The analytic optimum of a linear VAE (latent i paired with the i-th eigenvalue).

    Attributes:
        beta: KL weight.
        s2: decoder noise ``beta / 2``.
        eigenvalues: ``[F]`` covariance eigenvalues, largest first.
        posterior_variance: ``[L]`` ``sigma_i^2`` (1 for latents beyond F).
        decoder_norm: ``[L]`` ``|w_i| = sqrt(max(0, lambda_i - s^2))``.
        kl_per_dim: ``[L]`` ``0.5 log(lambda_i / s^2)`` where active, else 0.
        n_active: number of active directions.
        recon: optimal reconstruction term (squared error summed over features).
        kl: optimal KL term.
        loss: optimal ``recon + beta * kl``.
    """

    beta: float
    s2: float
    eigenvalues: np.ndarray
    posterior_variance: np.ndarray
    decoder_norm: np.ndarray
    kl_per_dim: np.ndarray
    n_active: int
    recon: float
    kl: float
    loss: float

    @property
    def relevance(self) -> np.ndarray:
        """``[L]`` the project's relevance ``1 - sigma_i^2``."""
        return 1.0 - self.posterior_variance


def linear_optimum(
    eigenvalues: Sequence[float] | np.ndarray, beta: float, latent_dim: int | None = None
) -> LinearOptimum:
    """The optimum of ``recon + beta * KL`` for a linear VAE with L latents.

    Args:
        eigenvalues: ``[F]`` eigenvalues of the (1/N) covariance of the features as fed
            to the loss (after any scaler), any order.
        beta: KL weight.
        latent_dim: L (default F).

    Returns:
        :class:`LinearOptimum`.

    Raises:
        ConfigError: negative or non-finite eigenvalues, bad beta or latent_dim.

    Example:
        >>> round(linear_optimum([2.0, 0.1], beta=0.5).loss, 4)  # 0.25 (1 + log 8) + 0.1
        0.8699
    """
    lam = np.sort(np.asarray(eigenvalues, dtype=np.float64))[::-1]
    if lam.ndim != 1 or len(lam) == 0 or not np.all(np.isfinite(lam) & (lam >= 0)):
        raise ConfigError(f"eigenvalues must be finite and >= 0; got {eigenvalues!r}")
    s2 = noise_variance(beta)
    n_lat = len(lam) if latent_dim is None else latent_dim
    if isinstance(n_lat, bool) or not isinstance(n_lat, int) or n_lat < 1:
        raise ConfigError(f"latent_dim must be a positive integer; got {latent_dim!r}")
    paired = np.concatenate([lam, np.zeros(max(0, n_lat - len(lam)))])[:n_lat]
    active = paired > s2
    safe = np.where(active, paired, s2)
    var = np.where(active, s2 / safe, 1.0)
    norm = np.sqrt(np.where(active, paired - s2, 0.0))
    kl_dim = np.where(active, 0.5 * np.log(safe / s2), 0.0)
    n_active = int(active.sum())
    recon = s2 * n_active + float(lam[n_active:].sum())
    kl = float(kl_dim.sum())
    return LinearOptimum(
        beta=float(beta),
        s2=s2,
        eigenvalues=lam,
        posterior_variance=var,
        decoder_norm=norm,
        kl_per_dim=kl_dim,
        n_active=n_active,
        recon=recon,
        kl=kl,
        loss=recon + float(beta) * kl,
    )


def covariance_spectrum(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (largest first) and eigenvectors (columns) of the (1/N) covariance.

    The loss averages over events, so the optimum involves the biased covariance.

    Example:
        >>> lam, u = covariance_spectrum(np.array([[1.0, 0.0], [-1.0, 0.0]]))
        >>> lam.tolist()
        [1.0, 0.0]
    """
    xx = np.asarray(x, dtype=np.float64)
    if xx.ndim != 2 or len(xx) < 2:
        raise ConfigError(f"x must be [N >= 2, F]; got shape {xx.shape}")
    lam, u = np.linalg.eigh(np.cov(xx.T, bias=True).reshape(xx.shape[1], xx.shape[1]))
    return lam[::-1].clip(min=0.0), u[:, ::-1]


def principal_angles(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Principal angles (radians, ascending) between the column spans of ``a`` and ``b``.

    Args:
        a: ``[F, k]``; b: ``[F, m]``. Returns ``min(k, m)`` angles.

    Example:
        >>> principal_angles(np.eye(3)[:, :2], np.eye(3)[:, [1, 0]]).round(6).tolist()
        [0.0, 0.0]
    """
    if a.shape[1] == 0 or b.shape[1] == 0:
        return np.zeros(0)
    return np.sort(subspace_angles(np.asarray(a, float), np.asarray(b, float)))


def orientation_in_plane(columns: np.ndarray, plane: np.ndarray) -> float:
    """Angle (radians, in ``[0, pi/2)``) of a set of directions within a plane.

    Takes the column with the largest projection onto the plane and returns its angle
    to ``plane[:, 0]`` in the plane, modulo ``pi/2``: orthogonal columns spanning the
    plane give the same value whichever is taken and whatever their signs.

    Args:
        columns: ``[F, k]`` directions (e.g. the active decoder columns).
        plane: ``[F, 2]`` orthonormal basis of the plane.

    Example:
        >>> c, s = np.cos(0.3), np.sin(0.3)
        >>> round(orientation_in_plane(np.array([[-s], [c], [0.0]]), np.eye(3)[:, :2]), 6)
        0.3
    """
    proj = plane.T @ columns
    j = int(np.argmax((proj**2).sum(axis=0)))
    return float(np.mod(np.arctan2(proj[1, j], proj[0, j]), np.pi / 2))


@dataclass(frozen=True)
class LinearReading:
    """What a trained :class:`~latentsym.models.linear.LinearVAE` learned.

    Attributes:
        posterior_variance: ``[L]`` learned ``sigma_j^2``, in latent order.
        decoder_norm: ``[L]`` ``|w_j|``.
        active: ``[L]`` bool, ``1 - sigma_j^2 > threshold``.
        n_active: number of active latents.
        matched_eigenvalue: ``[L]`` eigenvalue of the data eigenvector closest to
            ``w_j`` (NaN for collapsed latents).
        principal_angles: ``[n_active]`` radians between the span of the active decoder
            columns and the top ``n_active`` eigenvectors of the data.
        columns: ``[F, n_active]`` the active decoder columns.
        loss, recon, kl: the exact expected loss terms on ``x`` (average over the noise).
    """

    posterior_variance: np.ndarray
    decoder_norm: np.ndarray
    active: np.ndarray
    n_active: int
    matched_eigenvalue: np.ndarray
    principal_angles: np.ndarray
    columns: np.ndarray
    loss: float
    recon: float
    kl: float


def read_linear_vae(
    model: LinearVAE, x: np.ndarray, beta: float, threshold: float = 0.05
) -> LinearReading:
    """Read posterior variances, active directions and the learned subspace.

    Args:
        model: a trained linear VAE.
        x: ``[N, F]`` the features it was trained on (as fed to the loss).
        beta: the KL weight it was trained with (for the loss value).
        threshold: a latent is active when its relevance ``1 - sigma^2`` exceeds this.
            At the optimum a direction with ``lambda = 1.05 s^2`` has relevance 0.048,
            a collapsed one exactly 0.

    Returns:
        :class:`LinearReading`.

    Example:
        >>> from latentsym.models.linear import train_linear_vae
        >>> x = np.random.default_rng(0).normal(size=(5000, 3)) * [2.0, 1.0, 0.1]
        >>> model = train_linear_vae(x, latent_dim=3, beta=0.2)
        >>> read_linear_vae(model, x, beta=0.2).n_active
        2
    """
    if not 0 < threshold < 1:
        raise ConfigError(f"threshold must be in (0, 1); got {threshold!r}")
    xx = np.asarray(x, dtype=np.float64)
    lam, u = covariance_spectrum(xx)
    var = torch.exp(model.logvar).detach().double().numpy()
    w = model.decoder.weight.detach().double().numpy()
    norm = np.linalg.norm(w, axis=0)
    active = 1.0 - var > threshold
    overlap = np.abs(u.T @ w) / np.maximum(norm, np.finfo(float).tiny)
    matched = np.where(active, lam[np.argmax(overlap, axis=0)], np.nan)
    cols = w[:, active]
    k = int(active.sum())
    angles = principal_angles(cols, u[:, :k])
    double = copy.deepcopy(model).double()
    with torch.no_grad():
        terms = double.expected_loss(torch.as_tensor(xx), float(beta))
    return LinearReading(
        posterior_variance=var,
        decoder_norm=norm,
        active=active,
        n_active=k,
        matched_eigenvalue=matched,
        principal_angles=angles,
        columns=cols,
        loss=float(terms.total),
        recon=float(terms.recon),
        kl=float(terms.kl),
    )
