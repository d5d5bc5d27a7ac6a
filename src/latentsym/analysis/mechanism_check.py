r"""Checks of mechanism-identified latents, and the plain VAE's best answer beside them.

Circular correlation: the **Fisher–Lee** (1983) coefficient of two angles ``a``, ``b``
with unit vectors ``u = (cos a, sin a)``, ``v = (cos b, sin b)``:

``rho_FL = det(sum_i u_i v_i^T) / sqrt(det(sum_i u_i u_i^T) det(sum_i v_i v_i^T))``,

which equals the pairwise form ``sum_{i<j} sin(a_i - a_j) sin(b_i - b_j) / sqrt(...)``. It
is +1 when ``a = b + c`` and -1 when ``a = -b + c`` for a constant ``c`` (the designated
block's orientation is fixed by the mechanism, so +1 is expected there), and it is
defined for uniformly distributed angles. The Jammalamadaka–SenGupta coefficient is not
used: it measures each angle from its circular mean, which is undefined for a uniform
azimuth, so for ``a = b + c`` it can come out anywhere in [-1, 1].

What :func:`mechanism_check` measures on pairs ``(x, g x)`` made with the exact action
(:func:`latentsym.models.mechanism.act`), ``g`` drawn as in training:

- ``circular_correlation``: ``rho_FL`` between the designated block's angle
  ``atan2(mu_1, mu_0)`` and the true azimuth of a chosen particle; ``angle_offset`` the
  circular mean of their difference and ``angle_residual`` the RMS of the difference around
  it (rad);
- ``equivariance_error``: ``RMS |R(alpha) mu_a(x) - mu_a(g x)|`` over the RMS radius of
  ``mu_a``; for boost-z ``shift_error`` the RMS of ``mu_b(g x) - mu_b(x) - dy`` and
  ``shift_slope`` the least-squares slope of the shift against ``dy`` (1 expected);
- ``invariance_error``: ``RMS |mu_r(g x) - mu_r(x)|`` over the *informative* latents
  outside the block (relevance ``R >= 0.1``, i.e. not collapsed to the prior), divided by
  ``sqrt(sum of their variances over the events)``; also per latent for every latent
  outside the block (a collapsed latent has a tiny spread of pure noise, so its ratio is
  large without meaning anything: read it beside its ``R``);
- ``rapidity_correlation`` (boost-z): Pearson correlation of ``mu_b`` with the true
  rapidity of the final-state system.

The plain-VAE baseline (:func:`best_plane_correlation`): the largest ``|rho_FL|`` of the
angle of any 2D plane of its relevant latents, searched in two ways and both reported:
(1) every pair of relevant latents (coordinate planes, the angle taken about the mean);
(2) a general linear map ``u = W mu + b`` (``W`` 2 x k over the k relevant latents, a
rotation and a mixing of them) with angle ``atan2(u)``, fitted on one half of the events by
Adam on ``rho_FL^2`` from several starts (the least-squares map of ``(cos phi, sin phi)``
on ``mu``, and the best coordinate pairs) and evaluated on the other half. (2) is at least
as generous as the question "does some plane of the plain VAE carry the angle", but it
uses the truth to pick the plane. :func:`plain_baseline` adds a plane found without the
truth: the one the relevant latents move in when the events are rotated.
:func:`best_linear_correlation` is the same idea for the rapidity: the held-out Pearson
correlation of a least-squares linear combination of the relevant latents.

Example:
    >>> a = np.linspace(-3, 3, 200)
    >>> round(circular_correlation(a + 1.0, a), 6), round(circular_correlation(-a, a), 6)
    (1.0, -1.0)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from latentsym._json import json_safe
from latentsym.analysis.relevance import relevance
from latentsym.errors import ConfigError, SchemaError
from latentsym.features.build import FeatureMatrix, build
from latentsym.models.checkpoint import TrainedModel
from latentsym.models.mechanism import MechanismVAEConfig, act, system_rapidity

__all__ = [
    "BestPlane",
    "MechanismCheck",
    "PlainBaseline",
    "best_linear_correlation",
    "best_plane_correlation",
    "block_angle",
    "circular_correlation",
    "mechanism_check",
    "plain_baseline",
    "system_rapidity",
    "true_azimuth",
]


def circular_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Fisher–Lee circular correlation of two ``[N]`` angle arrays (rad), in [-1, 1].

    Raises:
        SchemaError: shapes differ, fewer than 2 values, or non-finite values.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> phi = rng.uniform(-np.pi, np.pi, 1000)
        >>> round(circular_correlation(phi + 2.0, phi), 6)
        1.0
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise SchemaError(f"need two [N] angle arrays with N >= 2; got {a.shape}, {b.shape}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise SchemaError("angles must be finite (drop events where the angle is undefined)")
    u = np.stack([np.cos(a), np.sin(a)], 1)
    v = np.stack([np.cos(b), np.sin(b)], 1)
    den = math.sqrt(max(np.linalg.det(u.T @ u) * np.linalg.det(v.T @ v), 0.0))
    return float(np.linalg.det(u.T @ v) / den) if den > 0 else 0.0


def block_angle(mu: np.ndarray, dims: Sequence[int] = (0, 1)) -> np.ndarray:
    """Angle ``atan2(mu[:, dims[1]], mu[:, dims[0]])`` of a 2D latent block, ``[N]`` rad."""
    return np.arctan2(mu[:, dims[1]], mu[:, dims[0]])


def true_azimuth(momenta: np.ndarray, particle: int) -> np.ndarray:
    """``[N]`` lab azimuth ``atan2(py, px)`` of one particle of ``[N, n, 4]`` momenta."""
    return np.arctan2(momenta[:, particle, 2], momenta[:, particle, 1])


@dataclass(frozen=True)
class BestPlane:
    """The best circular correlation a plane of (plain) latents reaches with an angle.

    Attributes:
        dims: the latents searched (the relevant ones).
        pair: the best coordinate pair ``(i, j)``, angle ``atan2(mu_j, mu_i)`` about the mean.
        pair_correlation: its ``|rho_FL|`` (all events).
        linear_correlation: ``|rho_FL|`` of the best linear map, on the held-out half.
        linear_fit_correlation: the same on the half it was fitted on.
        linear_residual: RMS of (mapped angle - true angle) around its circular mean on
            the held-out half, rad (the mapped angle mirrored when ``rho_FL < 0``).
        n_fit, n_test: events in the two halves.
        map_weights: ``[2][k]`` the weights ``W`` of the best map
            ``u = mu[:, dims] @ W^T + b`` (centring, scaling and mirror folded in).
        map_offset: its ``b``; :meth:`map_angle` applies the map.
    """

    dims: tuple[int, ...]
    pair: tuple[int, int] | None
    pair_correlation: float
    linear_correlation: float
    linear_fit_correlation: float
    linear_residual: float
    n_fit: int
    n_test: int
    map_weights: tuple[tuple[float, ...], ...]
    map_offset: tuple[float, float]

    @property
    def best(self) -> float:
        """The larger of the pair and the held-out linear-map correlations."""
        return max(self.pair_correlation, self.linear_correlation)

    def map_angle(self, mu: np.ndarray) -> np.ndarray:
        """``[N]`` angle of the best linear map applied to ``[N, L]`` latent means (rad).

        Mirrored so that it increases with the true angle (``rho_FL > 0``).
        """
        w = np.asarray(self.map_weights)
        u = np.asarray(mu, dtype=np.float64)[:, list(self.dims)] @ w.T + np.asarray(self.map_offset)
        return np.asarray(np.arctan2(u[:, 1], u[:, 0]))


def _fl_torch(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    u = u / u.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return torch.det(u.T @ v) / torch.sqrt(torch.det(u.T @ u) * torch.det(v.T @ v))


def best_plane_correlation(
    mu: np.ndarray,
    angle: np.ndarray,
    dims: Sequence[int] | None = None,
    *,
    steps: int = 300,
    seed: int = 0,
) -> BestPlane:
    """Search the planes of ``mu[:, dims]`` for the best circular correlation with ``angle``.

    Args:
        mu: ``[N, L]`` latent means.
        angle: ``[N]`` the true angle (rad).
        dims: latents to search (default: all); at least two.
        steps: Adam steps per start of the linear-map search.
        seed: seed of the fit/test split.

    Returns:
        A :class:`BestPlane` (see the module docstring for the search).

    Example:
        >>> rng = np.random.default_rng(1)
        >>> phi = rng.uniform(-np.pi, np.pi, 2000)
        >>> mu = np.stack([np.cos(phi) + np.sin(phi), np.sin(phi), rng.normal(size=2000)], 1)
        >>> best_plane_correlation(mu, phi).linear_correlation > 0.999
        True
    """
    mu = np.asarray(mu, dtype=np.float64)
    d = tuple(range(mu.shape[1])) if dims is None else tuple(int(i) for i in dims)
    if len(d) < 2:
        raise ConfigError(f"a plane needs at least two latents; got dims {list(d)}")
    if len(mu) < 20:
        raise ConfigError(f"need at least 20 events for the plane search; got {len(mu)}")
    m = mu[:, list(d)] - mu[:, list(d)].mean(0)
    pairs = {
        (d[i], d[j]): abs(circular_correlation(np.arctan2(m[:, j], m[:, i]), angle))
        for i, j in itertools.combinations(range(len(d)), 2)
    }
    pair = max(pairs, key=lambda k: pairs[k])
    perm = np.random.default_rng(seed).permutation(len(m))
    fit, test = perm[: len(m) // 2], perm[len(m) // 2 :]
    scale = m[fit].std(0) + 1e-12
    z = torch.as_tensor(m / scale)
    target = torch.as_tensor(np.stack([np.cos(angle), np.sin(angle)], 1))
    starts = [np.linalg.lstsq(m[fit] / scale, target[fit].numpy(), rcond=None)[0].T]
    for (i, j), _ in sorted(pairs.items(), key=lambda kv: -kv[1])[:3]:
        w0 = np.zeros((2, len(d)))
        w0[0, d.index(i)], w0[1, d.index(j)] = 1.0, 1.0
        starts.append(w0)
    fitted: list[tuple[float, torch.Tensor, torch.Tensor]] = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: more threads only add overhead
    try:
        for w0 in starts:
            fitted.append(_fit_map(z[fit], target[fit], torch.tensor(w0), steps))
    finally:
        torch.set_num_threads(threads)
    best_fit, best_w, best_b = max(fitted, key=lambda t: t[0])
    with torch.no_grad():
        u = (z[test] @ best_w.T + best_b).numpy()
        held = float(_fl_torch(z[test] @ best_w.T + best_b, target[test]))
    mapped = np.sign(held) * np.arctan2(u[:, 1], u[:, 0])
    resid = _residual(mapped, angle[test])
    # fold the centring, the scaling and the mirror into W and b acting on mu[:, dims]
    flip = np.array([[1.0], [1.0 if held >= 0 else -1.0]])
    w_mu = flip * (best_w.numpy() / scale)
    b_mu = flip[:, 0] * (best_b.numpy() - best_w.numpy() @ (mu[:, list(d)].mean(0) / scale))
    return BestPlane(
        dims=d,
        pair=pair,
        pair_correlation=float(pairs[pair]),
        linear_correlation=abs(held),
        linear_fit_correlation=best_fit,
        linear_residual=resid,
        n_fit=len(fit),
        n_test=len(test),
        map_weights=tuple(tuple(float(v) for v in row) for row in w_mu),
        map_offset=(float(b_mu[0]), float(b_mu[1])),
    )


def _fit_map(
    z: torch.Tensor, target: torch.Tensor, w0: torch.Tensor, steps: int
) -> tuple[float, torch.Tensor, torch.Tensor]:
    """Adam on ``rho_FL^2`` of ``u = z W^T + b``; returns ``(|rho_FL|, W, b)``."""
    w = w0.clone().double().requires_grad_(True)
    b = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=0.02)
    for _ in range(steps):
        opt.zero_grad()
        loss = -(_fl_torch(z @ w.T + b, target) ** 2)
        loss.backward()
        opt.step()
    with torch.no_grad():
        value = abs(float(_fl_torch(z @ w.T + b, target)))
    return value, w.detach(), b.detach()


def _residual(a: np.ndarray, b: np.ndarray) -> float:
    """RMS of the wrapped difference ``a - b`` around its circular mean, rad."""
    diff = np.exp(1j * (a - b))
    return float(np.sqrt(np.mean(np.angle(diff / np.exp(1j * np.angle(diff.mean()))) ** 2)))


def best_linear_correlation(
    mu: np.ndarray, target: np.ndarray, dims: Sequence[int] | None = None, *, seed: int = 0
) -> float:
    """Held-out Pearson correlation of the least-squares linear map ``mu[:, dims] -> target``.

    Fitted on one half of the events, evaluated on the other (``|r|``, in [0, 1]).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> mu = rng.normal(size=(500, 3))
        >>> best_linear_correlation(mu, mu[:, 0] - 2 * mu[:, 2]) > 0.999
        True
    """
    mu = np.asarray(mu, dtype=np.float64)
    d = list(range(mu.shape[1])) if dims is None else [int(i) for i in dims]
    if not d:
        return 0.0
    perm = np.random.default_rng(seed).permutation(len(mu))
    fit, test = perm[: len(mu) // 2], perm[len(mu) // 2 :]
    design = np.column_stack([mu[:, d], np.ones(len(mu))])
    coef = np.linalg.lstsq(design[fit], target[fit], rcond=None)[0]
    pred = design[test] @ coef
    return float(abs(np.corrcoef(pred, target[test])[0, 1]))


@dataclass(frozen=True)
class MechanismCheck:
    """What a mechanism VAE's latents do, against the truth and under the mechanisms.

    Attributes:
        mechanisms: the model's mechanisms.
        particle: the particle whose azimuth is the truth.
        n_events: events used.
        relevance: ``R_i`` of every latent, in latent order (not sorted).
        azimuthal_dims, boost_dim, rest_dims: the latent layout.
        circular_correlation: ``rho_FL`` of the block angle with the true azimuth.
        angle_offset: circular mean of (block angle - true azimuth), rad.
        angle_residual: RMS of that difference around its mean, rad (wrapped to (-pi, pi]).
        equivariance_error: RMS rotation error over the RMS radius of the block.
        shift_error: RMS of ``mu_b(g x) - mu_b(x) - dy`` (rapidity units).
        shift_slope: least-squares slope of ``mu_b(g x) - mu_b(x)`` against ``dy``.
        rapidity_correlation: Pearson correlation of ``mu_b`` with the system rapidity.
        invariance_dims: the informative latents of ``rest_dims`` (``R >= 0.1``).
        invariance_error: relative change of those (None without any).
        invariance_error_per_latent: ``RMS dmu_i / std mu_i`` for each of ``rest_dims``.
        seed: seed of the subsample and of the drawn transformations.
    """

    mechanisms: tuple[str, ...]
    particle: str
    n_events: int
    relevance: tuple[float, ...]
    azimuthal_dims: tuple[int, ...]
    boost_dim: int | None
    rest_dims: tuple[int, ...]
    circular_correlation: float | None
    angle_offset: float | None
    angle_residual: float | None
    equivariance_error: float | None
    shift_error: float | None
    shift_slope: float | None
    rapidity_correlation: float | None
    invariance_dims: tuple[int, ...]
    invariance_error: float | None
    invariance_error_per_latent: tuple[float, ...]
    seed: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (non-finite numbers become ``None``)."""
        return json_safe(asdict(self))


_INFORMATIVE = 0.1
"""Relevance at or above which a latent is informative (the collapse floor of relevance())."""


def _particle_index(particle: int | str, names: tuple[str, ...]) -> int:
    if isinstance(particle, str):
        if particle not in names:
            raise ConfigError(f"particle {particle!r} is not in the final state {list(names)}")
        return names.index(particle)
    if isinstance(particle, bool) or not 0 <= particle < len(names):
        raise ConfigError(f"particle must be a name or an index in 0..{len(names) - 1} of {names}")
    return int(particle)


def _pairs(
    trained: TrainedModel,
    features: FeatureMatrix,
    mechanisms: Sequence[str],
    boost_range: float,
    n_events: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(momenta, mu, sigma, mu_g, angle, dy)`` on a subsample, g drawn as in training."""
    if not isinstance(features, FeatureMatrix):
        raise ConfigError(f"expected a FeatureMatrix (features.build); got {type(features)}")
    rng = np.random.default_rng(seed)
    momenta = np.asarray(features.momenta, dtype=np.float64)
    if len(momenta) > n_events:
        momenta = momenta[np.sort(rng.choice(len(momenta), size=n_events, replace=False))]
    n = len(momenta)
    angle = rng.uniform(0.0, 2 * math.pi, n) if "azimuthal" in mechanisms else np.zeros(n)
    dy = rng.uniform(-boost_range, boost_range, n) if "boost-z" in mechanisms else np.zeros(n)
    moved = act(momenta, angle, dy).numpy()
    names = features.particle_names
    mu, sigma = trained.encode(build(momenta, features.representation, particle_names=names))
    mu_g, _ = trained.encode(build(moved, features.representation, particle_names=names))
    return momenta, mu, sigma, mu_g, angle, dy


def _relative_rms(d: np.ndarray, ref: np.ndarray) -> float:
    spread = float(np.sqrt(ref.var(axis=0).sum()))
    rms = float(np.sqrt((d**2).sum(axis=1).mean()))
    return rms / spread if spread > 0 else math.inf


def mechanism_check(
    trained: TrainedModel,
    features: FeatureMatrix,
    *,
    particle: int | str = 0,
    n_events: int = 5000,
    seed: int = 0,
) -> MechanismCheck:
    """Measure a trained mechanism VAE (see the module docstring).

    Args:
        trained: from :func:`latentsym.models.mechanism.fit_mechanism` (or loaded).
        features: the events (a FeatureMatrix, its float64 momenta are transformed).
        particle: name or index of the particle whose azimuth is the truth.
        n_events: events used (a random subsample when there are more).
        seed: seed of the subsample and the drawn angles and rapidities.

    Returns:
        A :class:`MechanismCheck`.

    Raises:
        ConfigError: the model is not a mechanism VAE, or an unknown particle.

    Example:
        A short fit (a second or two) of a mechanism VAE with the azimuthal mechanism on
        the e+e- -> mu+ mu- toy: the angle of latents 0, 1 follows the azimuth of the mu-.

        >>> from latentsym.models import Architecture, FitOptions, TrainConfig, fit_mechanism
        >>> from latentsym.toys import MUON_PAIR, ee_to_mumu
        >>> fm = build(ee_to_mumu(2000, seed=0), particle_names=MUON_PAIR)
        >>> trained = fit_mechanism(
        ...     fm,
        ...     arch=Architecture(latent_dim=4, hidden=(32, 32)),
        ...     train=TrainConfig(epochs=20, batch_size=128),
        ...     options=FitOptions(progress=False),
        ... )
        >>> chk = mechanism_check(trained, fm, particle="mu-")
        >>> chk.mechanisms, chk.azimuthal_dims, chk.rest_dims
        (('azimuthal',), (0, 1), (2, 3))
        >>> round(chk.circular_correlation, 2), chk.invariance_error < 0.05
        (0.97, True)
    """
    cfg = trained.config
    if not isinstance(cfg, MechanismVAEConfig):
        raise ConfigError(
            f"mechanism_check needs a mechanism VAE (fit_mechanism); got model type "
            f"{trained.model.model_type!r}. For a plain VAE use best_plane_correlation."
        )
    k = _particle_index(particle, features.particle_names)
    momenta, mu, sigma, mu_g, angle, dy = _pairs(
        trained, features, cfg.mechanisms, cfg.boost_range, n_events, seed
    )
    rel = relevance(mu, sigma=sigma)
    r_by_dim = [0.0] * cfg.latent_dim
    for direction in rel.directions:
        r_by_dim[direction.dim] = direction.R
    out: dict[str, Any] = dict.fromkeys(
        ("circular_correlation", "angle_offset", "angle_residual", "equivariance_error"),
    )
    out.update(shift_error=None, shift_slope=None, rapidity_correlation=None)
    if cfg.azimuthal_dims:
        phi = true_azimuth(momenta, k)
        theta = block_angle(mu, cfg.azimuthal_dims)
        c, s = np.cos(angle), np.sin(angle)
        a = mu[:, list(cfg.azimuthal_dims)]
        rotated = np.stack([c * a[:, 0] - s * a[:, 1], s * a[:, 0] + c * a[:, 1]], 1)
        err = rotated - mu_g[:, list(cfg.azimuthal_dims)]
        radius = float(np.sqrt((a**2).sum(1).mean()))
        out.update(
            circular_correlation=circular_correlation(theta, phi),
            angle_offset=float(np.angle(np.mean(np.exp(1j * (theta - phi))))),
            angle_residual=_residual(theta, phi),
            equivariance_error=float(np.sqrt((err**2).sum(1).mean())) / radius,
        )
    if cfg.boost_dim is not None:
        b = cfg.boost_dim
        shift = mu_g[:, b] - mu[:, b]
        out.update(
            shift_error=float(np.sqrt(np.mean((shift - dy) ** 2))),
            shift_slope=float(np.dot(shift, dy) / np.dot(dy, dy)),
            rapidity_correlation=float(np.corrcoef(mu[:, b], system_rapidity(momenta))[0, 1]),
        )
    rest = list(cfg.rest_dims)
    informative = [r for r in rest if r_by_dim[r] >= _INFORMATIVE]
    d_rest = mu_g[:, rest] - mu[:, rest]
    per = [
        float(np.sqrt(np.mean(d_rest[:, i] ** 2)) / max(float(mu[:, r].std()), 1e-300))
        for i, r in enumerate(rest)
    ]
    return MechanismCheck(
        mechanisms=cfg.mechanisms,
        particle=features.particle_names[k],
        n_events=len(momenta),
        relevance=tuple(float(v) for v in r_by_dim),
        azimuthal_dims=cfg.azimuthal_dims,
        boost_dim=cfg.boost_dim,
        rest_dims=cfg.rest_dims,
        invariance_dims=tuple(informative),
        invariance_error=(
            _relative_rms(mu_g[:, informative] - mu[:, informative], mu[:, informative])
            if informative
            else None
        ),
        invariance_error_per_latent=tuple(per),
        seed=seed,
        **out,
    )


@dataclass(frozen=True)
class PlainBaseline:
    """The best a plain VAE's latents do on the same questions (nothing designated).

    Attributes:
        relevant_dims: the relevant latents searched (``R >= 0.5``).
        plane: :class:`BestPlane` against the particle's azimuth (None with < 2 relevant).
        rapidity_correlation: :func:`best_linear_correlation` with the system rapidity
            (None when it does not vary).
        displacement: ``RMS |mu(g x) - mu(x)|`` over the relevant latents over
            ``sqrt(sum of their variances)``, ``g`` drawn as for the mechanism VAE.
        motion_plane_correlation: ``|rho_FL|`` of the angle in the plane the relevant
            latents move in under the rotation (top two principal directions of
            ``mu(g x) - mu(x)``, angle about the mean): a plane found with the
            mechanism but without the truth (None without azimuthal or < 2 relevant).
        particle, n_events, seed: as :class:`MechanismCheck`.
    """

    relevant_dims: tuple[int, ...]
    plane: BestPlane | None
    rapidity_correlation: float | None
    displacement: float | None
    motion_plane_correlation: float | None
    particle: str
    n_events: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary, ``plane`` with its ``best`` value."""
        out = json_safe(asdict(self))
        if self.plane is not None:
            out["plane"]["best"] = self.plane.best
        return dict(out)


def plain_baseline(
    trained: TrainedModel,
    features: FeatureMatrix,
    *,
    mechanisms: Sequence[str] = ("azimuthal",),
    boost_range: float = 1.0,
    particle: int | str = 0,
    n_events: int = 5000,
    seed: int = 0,
) -> PlainBaseline:
    """Best plane, best rapidity correlation and displacement of any trained model's latents.

    Args:
        trained: usually a plain VAE (``latentsym.models.fit``) of the same latent size.
        features: the events.
        mechanisms, boost_range: the transformations ``g`` of the displacement.
        particle: name or index of the particle whose azimuth is the truth.
        n_events: events used (all of them go into the plane search, split in halves).
        seed: seed of the subsample, of ``g`` and of the fit/test split.

    Example:
        A short fit of a plain VAE on the e+e- -> mu+ mu- toy: some plane of its three
        relevant latents carries the azimuth of the mu-, and so does the plane its latents
        move in under rotations (found without the truth):

        >>> from latentsym.models import Architecture, FitOptions, TrainConfig, fit
        >>> from latentsym.toys import MUON_PAIR, ee_to_mumu
        >>> fm = build(ee_to_mumu(2000, seed=0), particle_names=MUON_PAIR)
        >>> plain = fit(
        ...     fm,
        ...     arch=Architecture(latent_dim=4, hidden=(32, 32)),
        ...     train=TrainConfig(epochs=40, batch_size=128),
        ...     options=FitOptions(progress=False),
        ... )
        >>> base = plain_baseline(plain, fm, particle="mu-", n_events=1000)
        >>> len(base.relevant_dims), base.rapidity_correlation
        (3, None)
        >>> round(base.plane.best, 2), round(base.motion_plane_correlation, 2)
        (1.0, 0.99)
    """
    k = _particle_index(particle, features.particle_names)
    momenta, mu, sigma, mu_g, _, _ = _pairs(
        trained, features, tuple(mechanisms), boost_range, n_events, seed
    )
    dims = relevance(mu, sigma=sigma).relevant_dims
    plane = (
        best_plane_correlation(mu, true_azimuth(momenta, k), dims, seed=seed)
        if len(dims) >= 2
        else None
    )
    y = system_rapidity(momenta)
    rap = best_linear_correlation(mu, y, dims, seed=seed) if np.std(y) > 1e-6 and dims else None
    disp = _relative_rms(mu_g[:, dims] - mu[:, dims], mu[:, dims]) if dims else None
    motion = None
    if "azimuthal" in mechanisms and len(dims) >= 2:
        dmu = mu_g[:, dims] - mu[:, dims]
        top2 = np.linalg.eigh(dmu.T @ dmu)[1][:, ::-1][:, :2]
        proj = (mu[:, dims] - mu[:, dims].mean(0)) @ top2
        motion = abs(
            circular_correlation(np.arctan2(proj[:, 1], proj[:, 0]), true_azimuth(momenta, k))
        )
    return PlainBaseline(
        tuple(dims), plane, rap, disp, motion, features.particle_names[k], len(momenta), seed
    )
