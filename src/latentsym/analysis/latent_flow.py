"""The latent view of a symmetry generator: how its flow moves the encoded means.

A generator's vector field ``T(x)`` in the standardised features (see
:func:`latentsym.analysis.generators.tangent_vectors`) is pushed through the encoder with
its Jacobian (a Jacobian-vector product): ``v(x) = d mu / d z . T(x)``, the velocity of
every encoded mean under the flow. Reported:

- ``fractions``: the share of ``mean_x |v|^2`` in each latent direction;
- ``plane``: the two relevant directions that carry most of it, and ``fraction_in_plane``,
  their share (for ``J_z`` on e+e- -> mu+ mu-, the latent pair that encodes the azimuth
  as a point on a circle);
- ``induced``: the linear map ``A`` on the relevant latents fitted by least squares to
  ``v = A (mu - mean mu)`` (relevant directions only), with its eigenvalues and the
  relative size of its residual. A rotation of a latent circle pair by the azimuth shows
  up as a plane block with eigenvalues ``+-i omega``; ``omega = 1`` when the latent pair
  turns once per turn of the events (an ellipse too: ``A = S R S^-1`` has the eigenvalues
  of ``R``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from latentsym._json import json_safe
from latentsym.analysis.generators import generator_matrix, tangent_vectors
from latentsym.errors import ConfigError, SchemaError
from latentsym.features.build import build
from latentsym.models.checkpoint import TrainedModel

__all__ = ["LatentFlow", "latent_flow"]


@dataclass(frozen=True)
class LatentFlow:
    """How a generator's flow moves the encoded means.

    Attributes:
        generator: its name.
        coefficients: its six Lorentz coefficients.
        fractions: ``[L]`` share of the mean squared latent velocity per latent direction.
        relevant_dims: the relevant directions.
        fraction_relevant: share in the relevant directions together.
        plane: the two relevant directions with the largest shares (fewer when fewer are
            relevant).
        fraction_in_plane: their share.
        induced: ``[k, k]`` the fitted linear map on the relevant latents (rows and
            columns in the order of ``relevant_dims``).
        induced_plane: ``[2, 2]`` the map restricted to the plane.
        plane_eigenvalues: eigenvalues of ``induced_plane`` as ``(real, imag)`` pairs.
        residual: ``|v - A (mu - mean)| / |v|`` over the relevant latents.
        n_events: events used.
    """

    generator: str
    coefficients: tuple[float, ...]
    fractions: tuple[float, ...]
    relevant_dims: tuple[int, ...]
    fraction_relevant: float
    plane: tuple[int, ...]
    fraction_in_plane: float
    induced: tuple[tuple[float, ...], ...]
    induced_plane: tuple[tuple[float, ...], ...]
    plane_eigenvalues: tuple[tuple[float, float], ...]
    residual: float
    n_events: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return json_safe(asdict(self))


def latent_flow(
    trained: TrainedModel,
    momenta: np.ndarray,
    particle_names: Sequence[str],
    coefficients: Sequence[float],
    relevant_dims: Sequence[int],
    *,
    name: str = "generator",
    n_events: int = 2000,
    seed: int = 0,
) -> LatentFlow:
    """Push a Lorentz generator through a trained encoder.

    Args:
        trained: the trained model (its representation and scaler are used).
        momenta: ``[N, n, 4]`` (E, px, py, pz) in GeV.
        particle_names: their names.
        coefficients: the generator's six Lorentz coefficients.
        relevant_dims: the model's relevant latent directions.
        name: the generator's name, for the report.
        n_events: events used (a random subsample when there are more).
        seed: seed of the subsample.

    Returns:
        A :class:`LatentFlow`.

    Example:
        >>> from latentsym.models import Architecture, FitOptions, TrainConfig, fit
        >>> from latentsym.toys import MUON_PAIR, ee_to_mumu
        >>> p = ee_to_mumu(2000)
        >>> trained = fit(build(p, particle_names=MUON_PAIR),
        ...               arch=Architecture(latent_dim=4, hidden=(32, 32)),
        ...               train=TrainConfig(epochs=40, batch_size=128),
        ...               options=FitOptions(progress=False))
        >>> from latentsym.analysis.relevance import relevance
        >>> mu, sigma = trained.encode(p.reshape(len(p), -1))
        >>> dims = relevance(mu, sigma=sigma).relevant_dims
        >>> lf = latent_flow(trained, p, MUON_PAIR, [0, 0, 1, 0, 0, 0], dims, name="J_z")
        >>> len(lf.plane), lf.fraction_relevant > 0.95
        (2, True)
    """
    p = np.asarray(momenta, dtype=np.float64)
    names = tuple(particle_names)
    if p.ndim != 3 or p.shape[1:] != (len(names), 4) or len(p) == 0:
        raise SchemaError(f"latent_flow: momenta [N, {len(names)}, 4] expected, got {p.shape}")
    dims = [int(d) for d in relevant_dims]
    if any(not 0 <= d < trained.latent_dim for d in dims):
        raise ConfigError(
            f"latent_flow: relevant_dims {dims} must be latent indices 0..{trained.latent_dim - 1}"
        )
    rng = np.random.default_rng(seed)
    if len(p) > n_events:
        p = p[np.sort(rng.choice(len(p), size=n_events, replace=False))]
    g = generator_matrix(coefficients)
    tangent = tangent_vectors(p, trained.representation, trained.scaler.scale, g[None])[:, 0]
    features = build(p, trained.representation, particle_names=names)
    jac = trained.encoder_jacobian(features)  # [N, L, F]
    v = np.einsum("nlf,nf->nl", jac, tangent)
    power = np.mean(v**2, axis=0)
    total = float(power.sum())
    fractions = power / total if total > 0 else np.zeros_like(power)
    ranked = sorted(dims, key=lambda d: -fractions[d])
    plane = tuple(sorted(ranked[:2]))
    mu, _ = trained.encode(features)
    induced = np.zeros((len(dims), len(dims)))
    residual = float("nan")
    if dims:
        x = mu[:, dims] - mu[:, dims].mean(axis=0)
        y = v[:, dims]
        sol, *_ = np.linalg.lstsq(x, y, rcond=None)
        induced = sol.T
        norm = float(np.linalg.norm(y))
        residual = float(np.linalg.norm(y - x @ sol) / norm) if norm > 0 else 0.0
    pos = [dims.index(d) for d in plane]
    block = induced[np.ix_(pos, pos)]
    eig = np.linalg.eigvals(block) if len(pos) else np.zeros(0)
    return LatentFlow(
        generator=name,
        coefficients=tuple(float(c) for c in coefficients),
        fractions=tuple(float(f) for f in fractions),
        relevant_dims=tuple(dims),
        fraction_relevant=float(fractions[dims].sum()) if dims else 0.0,
        plane=plane,
        fraction_in_plane=float(fractions[list(plane)].sum()) if plane else 0.0,
        induced=tuple(tuple(float(a) for a in row) for row in induced),
        induced_plane=tuple(tuple(float(a) for a in row) for row in block),
        plane_eigenvalues=tuple((float(e.real), float(e.imag)) for e in eig),
        residual=residual,
        n_events=len(p),
    )
