"""Hidden relations: does the decoder respect the constraints the data obeys?

Two measurements, neither needing a person to look at a plot:

- :func:`constraint_residuals`: for every constraint of the
  :class:`~latentsym.physics.constraints.Ledger`, the spread of its value over (a) events
  decoded from prior samples (the relevant latent directions drawn from N(0, 1), the others
  at 0), (b) the decoded encoded data ``decode(mu(x))``, (b') events decoded from the
  aggregate posterior (for random data events, the relevant directions drawn from the
  posterior ``N(mu(x), sigma(x)^2)``, the others at 0: the latent points the decoder was
  trained on), (b'') events decoded from the learned prior (the flow of
  :mod:`latentsym.models.flow`, when the model has one), (c) the data itself, and (d) a
  *null*: the data with every feature shuffled independently across events, which breaks
  every relation among features. The ratio decoded / null is near 0 when the model
  learned the relation and near 1 when it did not.
- :func:`decoder_tangency`: the fraction of the decoder Jacobian (physical units, with
  respect to the relevant latents) that lies along the gradients of the exact constraints:
  0 when the decoder moves along the constraint surface only.

Spread convention (the same for decoded, data and null): ``std(c) / scale`` with ``scale``
the ledger's :attr:`~latentsym.physics.constraints.ConstraintResult.scale` of that
constraint (the mean rounding scale on the data: summed energy for a momentum sum, its
square for a mass squared, the particle energy or 1 for a constant feature). At fixed
sqrt(s) the per-event scale is constant and this equals the ledger's ``spread``; otherwise
it is its fixed-scale version. All constraint values are computed in float64 from
``representation.to_momenta`` of the (decoded or shuffled) features.

Constant features and the null: a feature constant over the sample (a muon energy at fixed
sqrt(s)) stays constant under the shuffle, so every constraint carried by constant features
alone (``const(E_mu+)``, and ``sum_E`` for e+e- -> mu+ mu-) holds exactly in the null too.
Its null spread is then ~0 and the ratio is reported as ``None`` (``null_trivial = True``)
rather than dividing by ~0; judge those constraints by the decoded spread itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch.func import jacrev, vmap

from latentsym._json import json_safe
from latentsym.errors import ConfigError
from latentsym.features.build import FeatureMatrix
from latentsym.features.representations import get_representation
from latentsym.models.checkpoint import TrainedModel
from latentsym.physics.constraints import RANK_TOL, Ledger, candidate_constraints

__all__ = [
    "SOURCES",
    "ConstraintCheck",
    "ConstraintResidual",
    "TangencyCheck",
    "constraint_residuals",
    "decoder_tangency",
    "project_to_constraints",
]

SOURCES = ("prior", "flow", "posterior", "encoded")
"""The decoded sources of a :class:`ConstraintCheck`: N(0, 1) draws, learned-prior draws,
aggregate-posterior draws and the decoded encoded data."""

_ValueFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class ConstraintResidual:
    """Spreads of one constraint (``std / scale``, dimensionless).

    Attributes:
        name: constraint name, as in the ledger.
        kind: its class in the ledger (``"exact"``, ``"approximate"``, ``"broken"``).
        family: ``"momentum"``, ``"mass2"`` or ``"feature"``.
        scale: the ledger's scale (GeV, GeV^2 or 1).
        data: spread on the data.
        prior: spread on events decoded from prior samples of the relevant directions.
        encoded: spread on the decoded encoded data.
        null: spread on the feature-shuffled data.
        ratio_prior: ``prior / null``; None when the null spread is ~0.
        ratio_encoded: ``encoded / null``; None when the null spread is ~0.
        null_trivial: the shuffle preserves the constraint (carried by constant features).
        posterior: spread on events decoded from aggregate-posterior samples.
        ratio_posterior: ``posterior / null``; None when the null spread is ~0.
        flow: spread on events decoded from the learned prior (NaN: the model has none).
        ratio_flow: ``flow / null``; None when the null spread is ~0 or without a flow.
    """

    name: str
    kind: str
    family: str
    scale: float
    data: float
    prior: float
    encoded: float
    null: float
    ratio_prior: float | None
    ratio_encoded: float | None
    null_trivial: bool
    posterior: float = math.nan
    ratio_posterior: float | None = None
    flow: float = math.nan
    ratio_flow: float | None = None


@dataclass(frozen=True)
class ConstraintCheck:
    """Constraint residuals of a trained model, one entry per ledger constraint.

    Attributes:
        residuals: one :class:`ConstraintResidual` per constraint, in ledger order.
        relevant_dims: the latent directions sampled from the prior.
        n_samples: prior samples drawn (and data events used, at most this many).
        null_tol: a null spread at or below this (the ledger's ``exact_tol``) is ~0.
        coverage_prior: median over the non-constant features of ``std(decoded prior) /
            std(data)``. A decoder that collapsed to a point has tiny constraint spreads
            (and ratios) without having learned anything: read the ratios only when this
            is near 1.
        coverage_encoded: the same for the decoded encoded data.
        seed: seed of the prior and posterior draws, the event subsample and the shuffle.
        coverage_posterior: the same for the aggregate-posterior samples.
        coverage_flow: the same for the learned-prior samples (NaN without a flow).
        flow_source: what the learned prior was fitted on (``"means"`` or
            ``"posterior"``; None without one).
    """

    residuals: tuple[ConstraintResidual, ...]
    relevant_dims: tuple[int, ...]
    n_samples: int
    null_tol: float
    coverage_prior: float
    coverage_encoded: float
    seed: int
    coverage_posterior: float = math.nan
    coverage_flow: float = math.nan
    flow_source: str | None = None

    def get(self, name: str) -> ConstraintResidual:
        """The residual of one constraint by name."""
        for r in self.residuals:
            if r.name == name:
                return r
        raise ConfigError(
            f"no constraint named {name!r}; present: {', '.join(r.name for r in self.residuals)}"
        )

    def max_ratio(self, kind: str = "exact", which: str = "prior") -> float | None:
        """Largest defined ratio (``which``: ``"prior"`` (N(0, 1)), ``"flow"``,
        ``"posterior"`` or ``"encoded"``) over one kind.

        None when no constraint of that kind has a defined ratio.
        """
        if which not in SOURCES:
            raise ConfigError(f"which must be one of {', '.join(SOURCES)}, got {which!r}")
        vals = [
            getattr(r, f"ratio_{which}")
            for r in self.residuals
            if r.kind == kind and getattr(r, f"ratio_{which}") is not None
        ]
        return max(vals) if vals else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (non-finite numbers become ``None``)."""
        out = asdict(self)
        out["max_ratio_exact_prior"] = self.max_ratio("exact", "prior")
        out["max_ratio_exact_posterior"] = self.max_ratio("exact", "posterior")
        out["max_ratio_exact_encoded"] = self.max_ratio("exact", "encoded")
        out["max_ratio_exact_flow"] = self.max_ratio("exact", "flow")
        return json_safe(out)


@dataclass(frozen=True)
class TangencyCheck:
    """Fraction of the decoder Jacobian along the exact-constraint gradients.

    Attributes:
        median: median over points of ``||P J||_F / ||J||_F`` (None without exact
            constraints); 0 = perfectly tangent to the constraint surface.
        p90: its 90th percentile.
        mean: its mean.
        per_latent_median: median per relevant latent (column-wise fraction), in the order
            of ``relevant_dims``.
        random_baseline: ``sqrt(rank / F)``, the expected fraction of a random direction in
            feature space (what an untrained decoder would give).
        constraint_rank: median rank of the exact-constraint gradients at the points.
        constraints: names of the exact constraints used.
        relevant_dims: the latent directions differentiated.
        n_points: points used (encoded means of random events).
        seed: seed of the event draw.
    """

    median: float | None
    p90: float | None
    mean: float | None
    per_latent_median: tuple[float, ...]
    random_baseline: float | None
    constraint_rank: float
    constraints: tuple[str, ...]
    relevant_dims: tuple[int, ...]
    n_points: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (non-finite numbers become ``None``)."""
        return json_safe(asdict(self))


def _check_setup(
    trained: TrainedModel, features: FeatureMatrix, ledger: Ledger, relevant_dims: Sequence[int]
) -> tuple[int, ...]:
    if tuple(features.names) != tuple(trained.feature_names):
        raise ConfigError(
            f"features {list(features.names)} differ from the model's "
            f"{list(trained.feature_names)}; build them with representation="
            f"{trained.representation!r} for the same topology"
        )
    if tuple(ledger.feature_names) != tuple(features.names):
        raise ConfigError(
            f"ledger features {list(ledger.feature_names)} differ from {list(features.names)}; "
            "compute the ledger with the same particles and representation"
        )
    dims = tuple(int(d) for d in relevant_dims)
    if not dims:
        raise ConfigError(
            "no relevant latent directions: the checks need at least one; pass "
            "relevance(mu, sigma=sigma).relevant_dims (skip the checks when it is empty)"
        )
    bad = [d for d in dims if not 0 <= d < trained.latent_dim]
    if bad or len(set(dims)) != len(dims):
        raise ConfigError(
            f"relevant_dims {list(dims)} must be distinct latent indices in "
            f"0..{trained.latent_dim - 1}"
        )
    return dims


def _of_momenta(fn: Callable[[torch.Tensor], torch.Tensor]) -> _ValueFn:
    return lambda p, f: fn(p)


def _of_feature(j: int) -> _ValueFn:
    return lambda p, f: f[..., j]


def _value_fns(features: FeatureMatrix, ledger: Ledger, names: Sequence[str]) -> list[_ValueFn]:
    """One function ``(momenta [N, n, 4], features [N, F]) -> [N]`` per constraint name."""
    candidates = {c.name: c for c in candidate_constraints(features.particle_names)}
    feats = list(features.names)
    fns: list[_ValueFn] = []
    for name in names:
        if name in candidates:
            fns.append(_of_momenta(candidates[name].fn))
        elif name.startswith("const(") and name[6:-1] in feats:
            fns.append(_of_feature(feats.index(name[6:-1])))
        else:
            raise ConfigError(
                f"ledger constraint {name!r} is not a candidate of particles "
                f"{list(features.particle_names)} nor a constant feature; compute the ledger "
                "on the same final state"
            )
    return fns


def _spreads(
    fns: list[_ValueFn], rep_name: str, feats: np.ndarray, scales: np.ndarray
) -> np.ndarray:
    rep = get_representation(rep_name)
    f = torch.as_tensor(feats, dtype=torch.float64)
    with torch.no_grad():
        p = rep.to_momenta(f)
        vals = np.stack([fn(p, f).numpy() for fn in fns])
    return vals.std(axis=1) / scales


def constraint_residuals(
    trained: TrainedModel,
    features: FeatureMatrix,
    ledger: Ledger,
    relevant_dims: Sequence[int],
    *,
    n_samples: int = 5000,
    seed: int = 0,
) -> ConstraintCheck:
    """Spread of every ledger constraint on decoded, real and shuffled events.

    Args:
        trained: the trained model.
        features: the feature matrix it was trained on (its ``momenta`` are the data).
        ledger: the dimension ledger of the same sample and representation.
        relevant_dims: latent indices drawn from N(0, 1) for the prior samples (the
            others are set to 0), e.g. ``relevance(mu, sigma=sigma).relevant_dims``.
        n_samples: prior and aggregate-posterior samples; the data, encoded and null sets
            use at most this many events (a random subsample).
        seed: seed of the prior and posterior draws, the subsample and the shuffle.

    Returns:
        A :class:`ConstraintCheck`; spreads are ``std / ledger scale`` (module docstring).

    Raises:
        ConfigError: mismatched features / ledger / model, or bad ``relevant_dims``.

    Example:
        A short fit (a second or two) on the e+e- -> mu+ mu- toy, a 2-sphere in 8 features:
        three relevant directions; the decoded data keep the momentum sums (ratio near 0)
        but its prior samples leave the muon mass shell (ratio near 1).

        >>> from latentsym.analysis.relevance import relevance
        >>> from latentsym.features import build
        >>> from latentsym.models import Architecture, FitOptions, TrainConfig, fit
        >>> from latentsym.physics.constraints import dimension_ledger
        >>> from latentsym.toys import MUON_PAIR, ee_to_mumu
        >>> fm = build(ee_to_mumu(2000, seed=0), particle_names=MUON_PAIR)
        >>> trained = fit(
        ...     fm,
        ...     arch=Architecture(latent_dim=4, hidden=(32, 32)),
        ...     train=TrainConfig(epochs=40, batch_size=128),
        ...     options=FitOptions(progress=False),
        ... )
        >>> mu, sigma = trained.encode(fm)
        >>> rel = relevance(mu, sigma=sigma)
        >>> led = dimension_ledger(fm.momenta, fm.particle_names)
        >>> rel.n_relevant
        3
        >>> chk = constraint_residuals(trained, fm, led, rel.relevant_dims, n_samples=1000)
        >>> [r.name for r in chk.residuals if r.null_trivial]
        ['sum_E', 'const(E_mu+)', 'const(E_mu-)']
        >>> round(chk.get("sum_px").ratio_encoded, 2), round(chk.get("m2(mu+)").ratio_prior, 1)
        (0.01, 1.1)
    """
    dims = _check_setup(trained, features, ledger, relevant_dims)
    if n_samples < 2:
        raise ConfigError(f"n_samples must be at least 2, got {n_samples}")
    rng = np.random.default_rng(seed)
    rep = get_representation(features.representation)
    names = [c.name for c in ledger.constraints]
    fns = _value_fns(features, ledger, names)
    scales = np.array([c.scale if c.scale > 0 else 1.0 for c in ledger.constraints])

    n = features.n_events
    idx = np.sort(rng.choice(n, size=min(n_samples, n), replace=False))
    data = rep.from_momenta(torch.from_numpy(features.momenta[idx])).numpy()
    z = np.zeros((n_samples, trained.latent_dim))
    z[:, list(dims)] = rng.standard_normal((n_samples, len(dims)))
    prior = trained.decode(z)
    mu, sigma = trained.encode(features.values[idx])
    encoded = trained.decode(mu)
    pick = rng.integers(0, len(idx), n_samples)
    z_post = np.zeros((n_samples, trained.latent_dim))
    z_post[:, list(dims)] = mu[pick][:, list(dims)] + sigma[pick][
        :, list(dims)
    ] * rng.standard_normal((n_samples, len(dims)))
    posterior = trained.decode(z_post)
    flow = None
    if trained.flow is not None:
        flow = trained.decode(trained.flow.sample_latent(n_samples, seed=seed))
    null = np.stack([rng.permutation(col) for col in data.T], axis=1)

    s_data, s_prior, s_enc, s_null, s_post = (
        _spreads(fns, rep.name, x, scales) for x in (data, prior, encoded, null, posterior)
    )
    s_flow = _spreads(fns, rep.name, flow, scales) if flow is not None else None
    null_tol = float(ledger.tolerances.get("exact_tol", 1e-6))
    out = []
    for k, c in enumerate(ledger.constraints):
        trivial = bool(s_null[k] <= null_tol)
        out.append(
            ConstraintResidual(
                name=c.name,
                kind=c.kind,
                family=c.family,
                scale=float(scales[k]),
                data=float(s_data[k]),
                prior=float(s_prior[k]),
                encoded=float(s_enc[k]),
                null=float(s_null[k]),
                ratio_prior=None if trivial else float(s_prior[k] / s_null[k]),
                ratio_encoded=None if trivial else float(s_enc[k] / s_null[k]),
                null_trivial=trivial,
                posterior=float(s_post[k]),
                ratio_posterior=None if trivial else float(s_post[k] / s_null[k]),
                flow=math.nan if s_flow is None else float(s_flow[k]),
                ratio_flow=None if trivial or s_flow is None else float(s_flow[k] / s_null[k]),
            )
        )
    varying = data.std(axis=0) > 0
    cov_prior, cov_enc, cov_post = (
        float(np.median(x.std(axis=0)[varying] / data.std(axis=0)[varying]))
        if varying.any()
        else math.nan
        for x in (prior, encoded, posterior)
    )
    cov_flow = math.nan
    if flow is not None and varying.any():
        cov_flow = float(np.median(flow.std(axis=0)[varying] / data.std(axis=0)[varying]))
    return ConstraintCheck(
        tuple(out),
        dims,
        n_samples,
        null_tol,
        cov_prior,
        cov_enc,
        seed,
        cov_post,
        cov_flow,
        None if trained.flow is None else trained.flow.config.source,
    )


def decoder_tangency(
    trained: TrainedModel,
    features: FeatureMatrix,
    ledger: Ledger,
    relevant_dims: Sequence[int],
    *,
    n_points: int = 300,
    seed: int = 0,
    rank_tol: float = RANK_TOL,
) -> TangencyCheck:
    """How tangent the decoder is to the surface of the exact constraints.

    At ``n_points`` encoded means ``mu`` of random events: ``J = d decode / d z_rel``
    (``[F, k]``, physical feature units per latent unit, ``trained.decode_tensor``) and the
    gradients ``G`` (``[K, F]``) of the ledger's exact constraints with respect to the
    features at the decoded point. The rows of ``G`` are normalised and orthonormalised
    (SVD; singular values below ``rank_tol`` times the largest are null directions and
    dropped); the fraction is ``||V^T J||_F / ||J||_F`` with ``V`` that basis. The
    Euclidean metric is that of the physical features, natural for the cartesian
    representation (all GeV); in the collider one it mixes GeV and radians.

    Args:
        trained, features, ledger, relevant_dims: as for :func:`constraint_residuals`.
        n_points: number of events whose encoded means are used.
        seed: seed of the event draw.
        rank_tol: relative singular-value tolerance of the constraint gradients.

    Returns:
        A :class:`TangencyCheck` (median, 90th percentile, per-latent medians).

    Raises:
        ConfigError: mismatched inputs or bad ``relevant_dims``.

    Example:
        The short fit of :func:`constraint_residuals` is already closer to tangent than a
        random direction (the default fit of ``latentsym run`` reaches a median of 0.03):

        >>> from latentsym.analysis.relevance import relevance
        >>> from latentsym.features import build
        >>> from latentsym.models import Architecture, FitOptions, TrainConfig, fit
        >>> from latentsym.physics.constraints import dimension_ledger
        >>> from latentsym.toys import MUON_PAIR, ee_to_mumu
        >>> fm = build(ee_to_mumu(2000, seed=0), particle_names=MUON_PAIR)
        >>> trained = fit(
        ...     fm,
        ...     arch=Architecture(latent_dim=4, hidden=(32, 32)),
        ...     train=TrainConfig(epochs=40, batch_size=128),
        ...     options=FitOptions(progress=False),
        ... )
        >>> mu, sigma = trained.encode(fm)
        >>> rel = relevance(mu, sigma=sigma)
        >>> led = dimension_ledger(fm.momenta, fm.particle_names)
        >>> tan = decoder_tangency(trained, fm, led, rel.relevant_dims, n_points=100)
        >>> tan.constraint_rank, round(tan.random_baseline, 3)
        (6.0, 0.866)
        >>> round(tan.median, 1), tan.median < tan.random_baseline
        (0.5, True)
    """
    dims = _check_setup(trained, features, ledger, relevant_dims)
    if n_points < 1:
        raise ConfigError(f"n_points must be at least 1, got {n_points}")
    rng = np.random.default_rng(seed)
    idx = np.sort(
        rng.choice(features.n_events, size=min(n_points, features.n_events), replace=False)
    )
    mu = trained.encode(features.values[idx])[0]
    exact = [c.name for c in ledger.constraints if c.kind == "exact"]
    n_f, k = features.n_features, len(dims)
    if not exact:
        return TangencyCheck(None, None, None, (), None, 0.0, (), dims, len(idx), seed)

    model = trained.model
    model.eval()
    base = torch.as_tensor(mu, dtype=torch.float32, device=trained.device)
    sel = torch.as_tensor(list(dims), device=trained.device)

    def decode_rel(zr: torch.Tensor, z0: torch.Tensor) -> torch.Tensor:
        return trained.decode_tensor(z0.index_copy(0, sel, zr))

    jac = vmap(jacrev(decode_rel))(base[:, sel], base)  # [P, F, k]
    jac64 = jac.detach().double().cpu()

    rep = get_representation(features.representation)
    fns = _value_fns(features, ledger, exact)

    def values(f: torch.Tensor) -> torch.Tensor:
        p = rep.to_momenta(f)
        return torch.stack([fn(p, f) for fn in fns])

    x_hat = torch.as_tensor(trained.decode(mu), dtype=torch.float64)
    grads = vmap(jacrev(values))(x_hat)  # [P, K, F]
    norm = torch.linalg.vector_norm(grads, dim=-1, keepdim=True)
    top = norm.amax(dim=1, keepdim=True).clamp_min(torch.finfo(torch.float64).tiny)
    rows = torch.where(norm > 1e-12 * top, grads / norm.clamp_min(1e-300), 0.0)
    _, sv, vh = torch.linalg.svd(rows, full_matrices=False)
    # The data's constraint surface has codimension ledger.jacobian.rank; off the surface
    # (a decoded point) dependent rows separate slightly, so keep at most that many.
    order = torch.arange(sv.shape[1])
    keep = (sv > rank_tol * sv[:, :1]) & (order < ledger.jacobian.rank)  # [P, min(K, F)]
    basis = vh * keep[..., None]  # null directions zeroed
    proj = basis @ jac64  # [P, r, k]
    col_j = torch.linalg.vector_norm(jac64, dim=1)  # [P, k]
    col_p = torch.linalg.vector_norm(proj, dim=1)
    tot_j = torch.linalg.vector_norm(col_j, dim=1)
    ok = tot_j > 0
    frac = (torch.linalg.vector_norm(col_p, dim=1)[ok] / tot_j[ok]).numpy()
    per_col = (col_p[ok] / col_j[ok].clamp_min(1e-300)).numpy()
    rank = keep.sum(dim=1).double()
    return TangencyCheck(
        median=float(np.median(frac)),
        p90=float(np.percentile(frac, 90)),
        mean=float(np.mean(frac)),
        per_latent_median=tuple(float(v) for v in np.median(per_col, axis=0)),
        random_baseline=float(math.sqrt(float(rank.median()) / n_f)),
        constraint_rank=float(rank.median()),
        constraints=tuple(exact),
        relevant_dims=dims,
        n_points=int(ok.sum()) if k else 0,
        seed=seed,
    )


def project_to_constraints(
    values: np.ndarray,
    features: FeatureMatrix,
    ledger: Ledger,
    *,
    iterations: int = 8,
    rcond: float = 1e-8,
) -> np.ndarray:
    """Move generated events onto the surface of the ledger's exact constraints.

    A user option for generated events, never used by the checks: each event moves by the
    smallest step in feature space (physical units) that puts every exact constraint at
    its mean on the data, by Gauss-Newton steps ``dx = -pinv(J) r`` on the constraints
    divided by their ledger scales (``rcond`` drops dependent constraints, e.g. ``sum_E``
    beside two constant muon energies).

    Args:
        values: ``[N, F]`` generated features in physical units (``trained.sample(n)``).
        features: the feature matrix of the data (names, particles, representation).
        ledger: its dimension ledger; only the exact constraints are imposed.
        iterations: Gauss-Newton steps.
        rcond: relative singular-value cut of the pseudo-inverse.

    Returns:
        float64 ``[N, F]``: the projected features (``values`` unchanged without exact
        constraints).

    Example:
        >>> from latentsym.physics.constraints import dimension_ledger
        >>> from latentsym.toys import MUON_PAIR, ee_to_mumu
        >>> from latentsym.features import build
        >>> fm = build(ee_to_mumu(200, seed=0), particle_names=MUON_PAIR)
        >>> led = dimension_ledger(fm.momenta, fm.particle_names)
        >>> noisy = fm.values + np.random.default_rng(0).normal(0, 0.3, fm.values.shape)
        >>> fixed = project_to_constraints(noisy, fm, led)
        >>> m2 = fixed[:, 0] ** 2 - (fixed[:, 1:4] ** 2).sum(1)  # m2(mu+), GeV^2
        >>> bool(np.abs(m2 - m2.mean()).max() < 1e-6 * 45.6**2)
        True
    """
    exact = [c for c in ledger.constraints if c.kind == "exact"]
    x = torch.as_tensor(np.asarray(values, dtype=np.float64))
    if not exact or len(x) == 0:
        return x.numpy().copy()
    rep = get_representation(features.representation)
    fns = _value_fns(features, ledger, [c.name for c in exact])
    target = torch.tensor([c.mean for c in exact], dtype=torch.float64)
    scale = torch.tensor([c.scale if c.scale > 0 else 1.0 for c in exact], dtype=torch.float64)

    def residual(f: torch.Tensor) -> torch.Tensor:
        p = rep.to_momenta(f)
        return (torch.stack([fn(p, f) for fn in fns]) - target) / scale

    for _ in range(iterations):
        r = vmap(residual)(x)  # [N, K]
        jac = vmap(jacrev(residual))(x)  # [N, K, F]
        step = torch.linalg.pinv(jac, rtol=rcond) @ r[..., None]
        x = x - step[..., 0]
    return x.detach().numpy()
