"""Relevance of latent directions: which directions of a VAE carry information.

For latent direction i with encoder posterior ``N(mu_i(x), sigma_i^2(x))``:

- ``R_i = 1 - mean_x sigma_i^2(x)``, clipped to [0, 1]: about 1 for a direction the
  encoder pins down sharply, about 0 for one that collapsed to the prior (a posterior wider
  than the prior carries no information either, hence the clip at 0);
- ``var_mu_i = Var_x mu_i(x)``, the "active units" statistic (Burda et al. 2016);
- ``kl_i = mean_x KL(N(mu_i, sigma_i^2) || N(0, 1))`` in nats.

Directions are sorted by R, descending. A direction is *relevant* when ``R >= threshold``
(0.5 by default), *collapsed* when ``R < weak_floor`` (0.1), and *weak* when it lies in
between and stands clear of the collapsed group: at least ``weak_floor`` above the largest
collapsed R (e.g. an approximate symmetry, such as a narrow resonance's mass, that the model
encodes only coarsely). Directions in between that do not stand clear are *ambiguous*.

Convention: the thresholds mean something only with the project's training convention,
features standardised per feature (zero mean, unit variance) and the loss per event
``sum over features of (x - x_hat)^2 + beta * KL`` (``latentsym.models``). Another
feature scaling or a mean-over-features reconstruction term moves the balance between
reconstruction and KL, and with it every R_i.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from latentsym.errors import ConfigError, SchemaError

__all__ = ["DirectionRelevance", "Relevance", "relevance"]


@dataclass(frozen=True)
class DirectionRelevance:
    """One latent direction.

    Attributes:
        dim: index of the direction in the latent vector.
        R: ``1 - mean sigma^2``, in [0, 1].
        var_mu: variance of the posterior mean over the events.
        kl: mean KL divergence to the prior over the events (nats).
        kind: ``"relevant"``, ``"weak"``, ``"ambiguous"`` or ``"collapsed"``.
    """

    dim: int
    R: float
    var_mu: float
    kl: float
    kind: str


@dataclass(frozen=True)
class Relevance:
    """Relevance spectrum of a latent space, sorted by R descending.

    Attributes:
        directions: every latent direction, most relevant first.
        threshold: the R above which a direction is relevant.
        weak_floor: the R below which a direction counts as collapsed.
        n_relevant: k, the number of relevant directions.
        gap: R of the last relevant minus R of the first non-relevant direction (None when
            one of the two groups is empty).
        weak: dims of the weak directions.
    """

    directions: tuple[DirectionRelevance, ...]
    threshold: float
    weak_floor: float
    n_relevant: int
    gap: float | None
    weak: tuple[int, ...]

    @property
    def relevant_dims(self) -> list[int]:
        """Latent indices of the relevant directions, most relevant first."""
        return [d.dim for d in self.directions if d.kind == "relevant"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary: ``relevance`` (list of dim, R, var_mu, kl, kind), ..."""
        return {
            "relevance": [asdict(d) for d in self.directions],
            "n_relevant": self.n_relevant,
            "threshold": self.threshold,
            "weak_floor": self.weak_floor,
            "gap": self.gap,
            "weak": list(self.weak),
            "relevant_dims": self.relevant_dims,
        }


def _as_2d(name: str, arr: np.ndarray) -> np.ndarray:
    out = np.asarray(arr, dtype=np.float64)
    if out.ndim != 2 or out.shape[0] < 2 or out.shape[1] < 1:
        raise SchemaError(
            f"relevance: {name} must be an array [N, L] with N >= 2 events, got shape "
            f"{np.shape(arr)}; pass the encoder outputs for the whole sample"
        )
    bad = np.argwhere(~np.isfinite(out))
    if bad.size:
        raise SchemaError(
            f"relevance: {name} is not finite at event {int(bad[0, 0])}, latent "
            f"{int(bad[0, 1])} ({len(bad)} values); check the model and its inputs"
        )
    return out


def relevance(
    mu: np.ndarray,
    logvar: np.ndarray | None = None,
    *,
    sigma: np.ndarray | None = None,
    threshold: float = 0.5,
    weak_floor: float = 0.1,
) -> Relevance:
    """Relevance spectrum from the encoder outputs on a sample.

    Args:
        mu: ``[N, L]`` posterior means.
        logvar: ``[N, L]`` posterior log-variances ``log sigma^2`` (give this or ``sigma``).
        sigma: ``[N, L]`` posterior standard deviations.
        threshold: R at or above which a direction is relevant.
        weak_floor: R below which a direction is collapsed; also the separation a weak
            direction needs from the collapsed group.

    Returns:
        A :class:`Relevance`.

    Raises:
        ConfigError: neither or both of ``logvar`` and ``sigma``; thresholds out of order.
        SchemaError: arrays of the wrong shape or with NaN/inf, negative sigma.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> mu = rng.normal(size=(100, 3)) * [1.0, 1.0, 0.0]
        >>> rel = relevance(mu, sigma=np.tile([0.1, 0.2, 1.0], (100, 1)))
        >>> rel.n_relevant, rel.relevant_dims
        (2, [0, 1])
    """
    if (logvar is None) == (sigma is None):
        raise ConfigError("relevance: give exactly one of logvar (log sigma^2) or sigma")
    if not 0 < weak_floor < threshold <= 1:
        raise ConfigError(
            f"relevance: need 0 < weak_floor < threshold <= 1, got weak_floor={weak_floor!r}, "
            f"threshold={threshold!r}"
        )
    m = _as_2d("mu", mu)
    if sigma is not None:
        s = _as_2d("sigma", sigma)
        if (s < 0).any():
            raise SchemaError("relevance: sigma has negative values; pass standard deviations")
        var = s**2
        with np.errstate(divide="ignore"):
            log_var = np.log(var)
    else:
        log_var = _as_2d("logvar", np.asarray(logvar))
        var = np.exp(log_var)
    if var.shape != m.shape:
        raise SchemaError(f"relevance: mu {m.shape} and sigma/logvar {var.shape} differ in shape")
    r_values = np.clip(1.0 - var.mean(axis=0), 0.0, 1.0)
    kl = 0.5 * (m**2 + var - 1.0 - log_var).mean(axis=0)
    var_mu = m.var(axis=0)
    order = np.argsort(-r_values, kind="stable")
    collapsed = r_values[r_values < weak_floor]
    top_collapsed = float(collapsed.max()) if collapsed.size else 0.0

    def kind(r: float) -> str:
        if r >= threshold:
            return "relevant"
        if r < weak_floor:
            return "collapsed"
        return "weak" if r - top_collapsed >= weak_floor else "ambiguous"

    dirs = tuple(
        DirectionRelevance(
            int(i), float(r_values[i]), float(var_mu[i]), float(kl[i]), kind(float(r_values[i]))
        )
        for i in order
    )
    k = sum(d.kind == "relevant" for d in dirs)
    gap = dirs[k - 1].R - dirs[k].R if 0 < k < len(dirs) else None
    return Relevance(
        directions=dirs,
        threshold=float(threshold),
        weak_floor=float(weak_floor),
        n_relevant=k,
        gap=gap,
        weak=tuple(d.dim for d in dirs if d.kind == "weak"),
    )
