"""Naming the latents: how strongly each relevant latent follows each physics observable.

Two dependence measures per (latent, observable) pair, both in [0, 1]:

* the absolute **Spearman** rank correlation (``scipy.stats.spearmanr``), which sees
  monotonic relations only, on up to ``max_points`` events;
* the **distance correlation** (Székely, Rizzo and Bakirov 2007), zero only for
  independent variables, so it also sees non-monotonic relations such as ``x -> x^2`` or
  a latent that follows ``cos(phi)``. The bias-corrected estimator of Székely and Rizzo
  (2014, U-centred distance matrices) is used, so independent variables give values near
  0 rather than a positive bias of order ``1/sqrt(n)``; the squared estimate can come out
  slightly negative and is clipped at 0 before the square root. It needs ``n x n``
  matrices, so it runs on a random subset of at most ``max_dcor_points`` events.

Azimuthal observables (keys starting with ``phi``) are periodic: a latent that follows
the angle smoothly must wrap around, so ``cos_<key>`` and ``sin_<key>`` are added beside
them. Events where an observable is not finite are left out of that observable's pairs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from latentsym.errors import ConfigError

__all__ = ["Naming", "distance_correlation", "latent_correlations", "with_azimuthal_harmonics"]


@dataclass(frozen=True)
class Naming:
    """Dependence of latent directions on observables.

    Attributes:
        latent_names: the k latent names (rows).
        observable_names: the m observable keys (columns).
        spearman: ``[k, m]`` absolute Spearman rank correlations.
        dcor: ``[k, m]`` bias-corrected distance correlations.
        best: for each latent, the observable with the largest distance correlation.
        n_points: events used for Spearman.
        n_dcor_points: events used for the distance correlation.
        labels: ``{observable: axis title}`` for figures.
    """

    latent_names: list[str]
    observable_names: list[str]
    spearman: np.ndarray
    dcor: np.ndarray
    best: list[str]
    n_points: int
    n_dcor_points: int
    labels: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: matrices as nested lists (NaN -> None) and the best matches."""

        def rows(m: np.ndarray) -> list[list[float | None]]:
            return [[float(v) if np.isfinite(v) else None for v in r] for r in m]

        best = []
        for i, (lat, obs) in enumerate(zip(self.latent_names, self.best, strict=True)):
            j = self.observable_names.index(obs)
            best.append(
                {
                    "latent": lat,
                    "observable": obs,
                    "dcor": float(self.dcor[i, j]),
                    "spearman": float(self.spearman[i, j]),
                }
            )
        return {
            "latents": list(self.latent_names),
            "observables": list(self.observable_names),
            "spearman_abs": rows(self.spearman),
            "dcor": rows(self.dcor),
            "best": best,
            "n_points": self.n_points,
            "n_dcor_points": self.n_dcor_points,
            "method": "absolute Spearman; bias-corrected distance correlation (Szekely-Rizzo 2014)",
        }


def _centred(x: np.ndarray) -> np.ndarray:
    """U-centred distance matrix of a 1-d sample (n >= 4)."""
    n = x.size
    a = np.abs(x[:, None] - x[None, :])
    row = a.sum(axis=1)
    total = row.sum()
    a -= row[:, None] / (n - 2)
    a -= row[None, :] / (n - 2)
    a += total / ((n - 1) * (n - 2))
    np.fill_diagonal(a, 0.0)
    return a


def _dcor_centred(a: np.ndarray, b: np.ndarray) -> float:
    ab, aa, bb = float(np.sum(a * b)), float(np.sum(a * a)), float(np.sum(b * b))
    if aa <= 0 or bb <= 0:
        return float("nan")
    r2 = ab / np.sqrt(aa * bb)
    return float(np.sqrt(max(r2, 0.0)))


def distance_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Bias-corrected distance correlation of two 1-d samples, in [0, 1].

    Memory grows as ``n^2`` (two ``n x n`` float64 matrices): subsample beyond a few
    thousand points.

    Args:
        x, y: ``[n]`` paired values, ``n >= 4``, finite.

    Returns:
        The distance correlation (NaN when one sample is constant).

    Example:
        >>> x = np.linspace(-1, 1, 501)
        >>> distance_correlation(x, x**2) > 0.3
        True
    """
    xs, ys = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    if xs.shape != ys.shape or xs.size < 4:
        raise ConfigError(f"need two samples of equal length >= 4; got {xs.size} and {ys.size}")
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
        raise ConfigError("distance_correlation needs finite values; drop NaN/inf first")
    return _dcor_centred(_centred(xs), _centred(ys))


def with_azimuthal_harmonics(observables: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The observables plus ``cos_<key>`` and ``sin_<key>`` after every key starting ``phi``.

    Example:
        >>> list(with_azimuthal_harmonics({"phi_star": np.zeros(3), "m": np.ones(3)}))
        ['phi_star', 'cos_phi_star', 'sin_phi_star', 'm']
    """
    out: dict[str, np.ndarray] = {}
    for key, values in observables.items():
        v = np.asarray(values, dtype=np.float64)
        out[key] = v
        if key.startswith("phi"):
            out[f"cos_{key}"] = np.cos(v)
            out[f"sin_{key}"] = np.sin(v)
    return out


def latent_correlations(
    mu_relevant: np.ndarray,
    observables: Mapping[str, np.ndarray],
    *,
    latent_names: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    max_points: int = 5000,
    max_dcor_points: int = 2000,
    harmonics: bool = True,
    seed: int = 0,
) -> Naming:
    """Correlate each relevant latent with each physics observable.

    Args:
        mu_relevant: ``[N, k]`` encoded means of the relevant latent directions.
        observables: ``{key: [N] values}``, e.g. from
            :func:`latentsym.physics.observables.observables` on the same events.
        latent_names: ``k`` row names (default ``z0 .. z{k-1}``).
        labels: optional axis titles of the observables, kept for the figure.
        max_points: events (random subset) for the Spearman correlation.
        max_dcor_points: events (random subset of those) for the distance correlation.
        harmonics: add ``cos``/``sin`` of azimuthal observables
            (:func:`with_azimuthal_harmonics`).
        seed: seed of the subsets.

    Returns:
        A :class:`Naming`.

    Raises:
        ConfigError: wrong shapes, no observable, or fewer than 4 events.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> phi = rng.uniform(-np.pi, np.pi, 3000)
        >>> n = latent_correlations(np.cos(phi)[:, None], {"phi_star": phi})
        >>> n.best
        ['cos_phi_star']
    """
    mu = np.asarray(mu_relevant, dtype=np.float64)
    if mu.ndim != 2 or mu.shape[1] < 1:
        raise ConfigError(f"mu_relevant must be [N, k] with k >= 1; got shape {mu.shape}")
    n, k = mu.shape
    names = list(latent_names) if latent_names is not None else [f"z{i}" for i in range(k)]
    if len(names) != k:
        raise ConfigError(f"{len(names)} latent names for {k} latent directions")
    obs = with_azimuthal_harmonics(observables) if harmonics else dict(observables)
    if not obs:
        raise ConfigError("no observables given")
    for key, v in obs.items():
        if np.asarray(v).shape != (n,):
            raise ConfigError(
                f"observable {key!r} has shape {np.asarray(v).shape}; expected ({n},)"
            )
    if n < 4 or max_points < 4 or max_dcor_points < 4:
        raise ConfigError(f"need at least 4 events and max_points >= 4; got {n} events")
    rng = np.random.default_rng(seed)
    idx = rng.permutation(n)[: min(n, max_points)]
    sub = idx[: min(idx.size, max_dcor_points)]
    keys = list(obs)
    spear = np.full((k, len(keys)), np.nan)
    dc = np.full((k, len(keys)), np.nan)
    centred_mu = [_centred(mu[sub, i]) for i in range(k)]
    for j, key in enumerate(keys):
        v = np.asarray(obs[key], dtype=np.float64)
        ok = np.isfinite(v[idx])
        for i in range(k):
            if ok.sum() >= 4 and np.ptp(v[idx][ok]) > 0 and np.ptp(mu[idx, i][ok]) > 0:
                spear[i, j] = abs(float(spearmanr(mu[idx, i][ok], v[idx][ok]).statistic))
        oks = np.isfinite(v[sub])
        if oks.sum() < 4:
            continue
        if oks.all():
            b = _centred(v[sub])
            dc[:, j] = [_dcor_centred(a, b) for a in centred_mu]
        else:
            b = _centred(v[sub][oks])
            dc[:, j] = [_dcor_centred(_centred(mu[sub, i][oks]), b) for i in range(k)]
    best = []
    for i in range(k):
        row = np.where(np.isfinite(dc[i]), dc[i], -1.0)
        best.append(keys[int(np.argmax(row))])
    return Naming(
        latent_names=names,
        observable_names=keys,
        spearman=spear,
        dcor=dc,
        best=best,
        n_points=int(idx.size),
        n_dcor_points=int(sub.size),
        labels=dict(labels or {}),
    )
