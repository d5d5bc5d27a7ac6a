"""Candidate constraints and the dimension ledger, computed from the data itself.

For a fixed topology with n final-state particles and F features, the candidate
constraints are the total four-momentum (``sum_E``, ``sum_px``, ``sum_py``, ``sum_pz``),
each particle's mass squared (``m2(mu+)``) and each pair's invariant mass squared
(``m2(mu+,mu-)``); besides them, every feature that is constant over the sample (the muon
energies at fixed sqrt(s)) is itself an exact constraint ``const(E_mu+)`` in feature space.

Two statistics class each constraint ``c`` over the sample:

- ``spread``: the RMS of ``(c - c0) / s`` over the events, with ``s`` the per-event
  *rounding scale* of the quantity and ``c0`` the constant that minimises it (weighted
  least squares). ``s`` is the summed energy of the particles for a momentum sum, its square
  for a mass squared (the size of the terms that cancel in ``E^2 - |p|^2``), and for a
  constant feature the energy of its particle (GeV features) or 1 (angles, rapidities).
  Per event, so that a few very energetic events do not hide rounding in the others; the
  reported ``scale`` is the mean of ``s``. A constraint is
  **exact** when ``spread <= exact_tol`` (default 1e-6). Measured on the toys of
  :mod:`latentsym.toys`: full float64 precision gives < 2e-15, momenta printed with 11
  significant digits (as in many LHE files) < 4e-11 (8e-8 for the ``m`` feature of a
  boosted muon in the collider representation, which takes a square root), momenta stored
  as float32 (ROOT files) < 7e-8; the smallest non-exact spread seen is 0.07 (a Z mass).
- ``width = (IQR(c) / 1.349) / reference``: a robust relative width (equal to std/mean for
  a Gaussian) whose reference is ``|median(c)|`` for a mass squared (Lorentz invariant, like
  Gamma/M: a narrow resonance stays narrow whatever the boost of the pair) and ``scale`` for
  the momentum sums and constant features (their mean can be 0). A constraint that is not
  exact is **approximate** when ``width <= approx_tol`` (default 0.1), otherwise **broken**.
  Measured: a Z Breit-Wigner in a 60-120 GeV window gives 0.039 for m^2 (std/mean would
  give 0.10, dominated by the window's tails), a flat mass spectrum in the same window 0.49,
  a 1/m^3 photon continuum 0.49, the pair masses of flat 3-body phase space 0.9.

The expected manifold dimension is ``d = F - rank(J_c)`` with ``J_c`` the Jacobian of the
holding constraints with respect to the features, through ``representation.to_momenta``
(float64 autograd), at ``n_points`` data points. Each row is normalised (gradients come in
mixed units); the rank counts singular values above ``rank_tol = 1e-5`` times the largest
(dependent rows give ~1e-15 in float64, ~1e-7 when the momenta were stored as float32;
independent ones at generic points stay above ~1e-2). A row that vanishes only because the
representation is singular at the point (the mass squared of a massless particle in the
collider representation, whose derivative with respect to ``m`` is ``2 m = 0``) is dropped
at that point; the constant ``m`` feature then carries the constraint. The rank reported is
the most common one over the points (the generic rank), with its median, minimum, maximum.

The linear rank ``r`` is the number of eigenvalues of the covariance of the standardised
features above ``linear_tol = 1e-6`` times the largest, i.e. directions whose standard
deviation exceeds 1e-3 of the widest one (exact linear relations leave ~1e-16, and ~1e-14
after rounding to float32). Features whose relative spread (as for ``const``) is below
1e-3 are left out: standardising them would blow rounding noise (the ``m`` of a massless
particle in the collider representation) up to a full direction. ``r`` depends on the
representation: nonlinear features (collider) have fewer exact linear relations.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch.func import jacrev, vmap

from latentsym._json import json_safe
from latentsym.errors import ConfigError, SchemaError
from latentsym.features.representations import Representation, get_representation

__all__ = [
    "APPROX_TOL",
    "EXACT_TOL",
    "LINEAR_TOL",
    "RANK_TOL",
    "Constraint",
    "ConstraintResult",
    "Ledger",
    "RankSummary",
    "Tolerances",
    "candidate_constraints",
    "constraint_gradients",
    "dimension_ledger",
]

EXACT_TOL = 1e-6
"""Default largest relative ``spread`` of an exact constraint."""
APPROX_TOL = 0.1
"""Default largest robust relative ``width`` of an approximate constraint."""
RANK_TOL = 1e-5
"""Singular values of the row-normalised constraint Jacobian below this times the largest
count as zero."""
LINEAR_TOL = 1e-6
"""Covariance eigenvalues of the standardised features below this times the largest count
as zero."""
_DEGENERATE = 1e-8
_IQR_TO_SIGMA = 1.349
_MIN_REGULAR = 3
_NEGLIGIBLE = 1e-3


@dataclass(frozen=True)
class Constraint:
    """One candidate constraint, a differentiable function of momenta.

    Attributes:
        name: e.g. ``"sum_E"``, ``"m2(mu+)"``, ``"m2(mu+,mu-)"``.
        family: ``"momentum"`` (a total four-momentum component) or ``"mass2"``.
        particles: indices of the particles involved.
        fn: ``[..., n, 4]`` momenta (E, px, py, pz) in GeV -> ``[...]`` value (GeV or GeV^2).
    """

    name: str
    family: str
    particles: tuple[int, ...]
    fn: Callable[[torch.Tensor], torch.Tensor] = field(repr=False, compare=False)

    def event_scale(self, momenta: np.ndarray) -> np.ndarray:
        """Per-event rounding scale ``[N]`` over ``[N, n, 4]`` momenta (GeV or GeV^2).

        The summed energy of the particles involved for a momentum sum, its square for a
        mass squared: the size of the terms that add up (or cancel) in the constraint.
        """
        energy = momenta[:, list(self.particles), 0].sum(axis=1)
        return energy if self.family == "momentum" else energy**2


def _sum_fn(component: int) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda p: p[..., component].sum(-1)


def _mass2_fn(idx: tuple[int, ...]) -> Callable[[torch.Tensor], torch.Tensor]:
    def fn(p: torch.Tensor) -> torch.Tensor:
        q = p[..., list(idx), :].sum(-2)
        return q[..., 0] ** 2 - q[..., 1] ** 2 - q[..., 2] ** 2 - q[..., 3] ** 2

    return fn


def _unique_labels(names: Sequence[str]) -> list[str]:
    counts = Counter(names)
    seen: Counter[str] = Counter()
    out = []
    for n in names:
        seen[n] += 1
        out.append(f"{n}{seen[n]}" if counts[n] > 1 else n)
    return out


def candidate_constraints(particle_names: Sequence[str]) -> list[Constraint]:
    """The candidate constraints of a topology: 4 momentum sums, n masses, n(n-1)/2 pairs.

    Duplicate particle names get an index suffix, as in the feature names (``"g1"``, ``"g2"``).

    Example:
        >>> [c.name for c in candidate_constraints(["mu+", "mu-"])]
        ['sum_E', 'sum_px', 'sum_py', 'sum_pz', 'm2(mu+)', 'm2(mu-)', 'm2(mu+,mu-)']
    """
    labels = _unique_labels(list(particle_names))
    every = tuple(range(len(labels)))
    out: list[Constraint] = []
    for i, comp in enumerate(("E", "px", "py", "pz")):
        out.append(Constraint(f"sum_{comp}", "momentum", every, _sum_fn(i)))
    for i, label in enumerate(labels):
        out.append(Constraint(f"m2({label})", "mass2", (i,), _mass2_fn((i,))))
    for i, j in itertools.combinations(range(len(labels)), 2):
        out.append(Constraint(f"m2({labels[i]},{labels[j]})", "mass2", (i, j), _mass2_fn((i, j))))
    return out


@dataclass(frozen=True)
class ConstraintResult:
    """How one constraint behaves over the sample.

    Attributes:
        name: constraint name (``"sum_E"``, ``"m2(mu+,mu-)"``, ``"const(E_mu+)"``).
        kind: ``"exact"``, ``"approximate"`` or ``"broken"``.
        spread: ``std / scale`` (decides "exact").
        width: robust relative width ``IQR / 1.349 / reference`` (decides "approximate").
        scale: the rounding scale (GeV, GeV^2, or 1 for dimensionless features).
        mean: the mean value over the sample.
        family: ``"momentum"``, ``"mass2"`` or ``"feature"``.
    """

    name: str
    kind: str
    spread: float
    width: float
    scale: float
    mean: float
    family: str


@dataclass(frozen=True)
class RankSummary:
    """Rank of a row-normalised constraint Jacobian over the evaluation points.

    Attributes:
        rank: the most common rank over the points (the generic rank).
        median, min, max: its median, minimum and maximum over all the points.
        fraction: fraction of the points used at ``rank``: the regular points (no row
            vanished) when there are at least 3 of them, else all.
        n_points: number of points evaluated.
        n_degenerate_points: points where a row vanished because of the representation.
        smallest_kept: median over points of the smallest kept singular value / largest.
        largest_dropped: median over points of the largest dropped one / largest (0: none).
        constraints: names of the constraints whose rows enter.
    """

    rank: int
    median: float
    min: int
    max: int
    fraction: float
    n_points: int
    n_degenerate_points: int
    smallest_kept: float
    largest_dropped: float
    constraints: tuple[str, ...]


@dataclass(frozen=True)
class Tolerances:
    """The thresholds of :func:`dimension_ledger` (``Ledger.tolerances`` is their dict).

    Attributes:
        exact_tol: largest ``spread`` of an exact constraint.
        approx_tol: largest ``width`` of an approximate constraint (above ``exact_tol``).
        rank_tol: relative singular-value tolerance of the Jacobian rank, in (0, 1).
        linear_tol: relative eigenvalue tolerance of the linear rank, in (0, 1).

    Example:
        >>> Tolerances(approx_tol=0.05)
        Tolerances(exact_tol=1e-06, approx_tol=0.05, rank_tol=1e-05, linear_tol=1e-06)
    """

    exact_tol: float = EXACT_TOL
    approx_tol: float = APPROX_TOL
    rank_tol: float = RANK_TOL
    linear_tol: float = LINEAR_TOL


@dataclass(frozen=True)
class Ledger:
    """The expected dimensions of a sample, from its constraints.

    Attributes:
        constraints: every candidate with its class, then the constant features.
        representation: name of the feature representation.
        feature_names: the F feature names.
        n_features: F.
        n_events: number of events the spreads were measured on.
        manifold_dim: ``d = F - rank`` with the exact constraints.
        manifold_dim_approx: the same with the exact and approximate constraints.
        linear_rank: ``r``, the number of non-negligible covariance eigenvalues.
        jacobian: rank details for the exact constraints.
        jacobian_approx: rank details for exact + approximate constraints.
        eigenvalues: covariance eigenvalues of the standardised non-constant features,
            divided by the largest, descending.
        constant_features: names of the features constant over the sample.
        tolerances: ``exact_tol``, ``approx_tol``, ``rank_tol``, ``linear_tol``.
    """

    constraints: tuple[ConstraintResult, ...]
    representation: str
    feature_names: tuple[str, ...]
    n_features: int
    n_events: int
    manifold_dim: int
    manifold_dim_approx: int
    linear_rank: int
    jacobian: RankSummary
    jacobian_approx: RankSummary
    eigenvalues: tuple[float, ...]
    constant_features: tuple[str, ...]
    tolerances: dict[str, float]

    def names(self, kind: str) -> list[str]:
        """Names of the constraints of one kind (``"exact"``, ``"approximate"``, ``"broken"``)."""
        if kind not in ("exact", "approximate", "broken"):
            raise ConfigError(
                f"unknown constraint kind {kind!r}; allowed: exact, approximate, broken"
            )
        return [c.name for c in self.constraints if c.kind == kind]

    def kind_of(self, name: str) -> str:
        """Class of one constraint by name."""
        for c in self.constraints:
            if c.name == name:
                return c.kind
        raise ConfigError(
            f"no constraint named {name!r}; present: {', '.join(c.name for c in self.constraints)}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (non-finite numbers become ``None``)."""
        return json_safe(asdict(self))

    def table(self) -> str:
        """A plain-text table of the constraints and the dimensions."""
        lines = [f"{'constraint':<24} {'kind':<12} {'spread':>10} {'width':>10}"]
        for c in self.constraints:
            lines.append(f"{c.name:<24} {c.kind:<12} {c.spread:>10.3g} {c.width:>10.3g}")
        lines.append(
            f"F = {self.n_features}, d = {self.manifold_dim}, "
            f"d_approx = {self.manifold_dim_approx}, r = {self.linear_rank}"
        )
        return "\n".join(lines)


def _ratio(num: float, den: float) -> float:
    if den > 0:
        return num / den
    return 0.0 if num == 0 else math.inf


def _classify(spread: float, width: float, exact_tol: float, approx_tol: float) -> str:
    if spread <= exact_tol:
        return "exact"
    return "approximate" if width <= approx_tol else "broken"


def _relative_rms(values: np.ndarray, scale: np.ndarray) -> float:
    """``min_c0 sqrt(mean(((values - c0) / scale)^2))``: the weighted least-squares centre."""
    weight = np.divide(1.0, scale**2, out=np.zeros_like(scale), where=scale > 0)
    centre = float(np.sum(weight * values) / np.sum(weight)) if weight.any() else 0.0
    dev = np.abs(values - centre)
    rel = np.divide(dev, scale, out=np.where(dev > 0, np.inf, 0.0), where=scale > 0)
    return float(np.sqrt(np.mean(rel**2)))


def _measure(
    constraint: Constraint, momenta: np.ndarray, values: np.ndarray, tols: tuple[float, float]
) -> ConstraintResult:
    event_scale = constraint.event_scale(momenta)
    scale = float(np.mean(event_scale))
    q25, median, q75 = np.percentile(values, [25, 50, 75])
    reference = scale
    if constraint.family == "mass2":
        reference = max(abs(float(median)), tols[0] * scale)
    spread = _relative_rms(values, event_scale)
    width = _ratio(float(q75 - q25) / _IQR_TO_SIGMA, reference)
    kind = _classify(spread, width, *tols)
    return ConstraintResult(
        constraint.name, kind, spread, width, scale, float(np.mean(values)), constraint.family
    )


def _check_inputs(
    momenta: np.ndarray, particle_names: Sequence[str], tols: dict[str, float], n_points: int
) -> np.ndarray:
    arr = np.asarray(momenta)
    if arr.ndim != 3 or arr.shape[-1] != 4 or not np.issubdtype(arr.dtype, np.floating):
        raise SchemaError(
            f"dimension_ledger: momenta must be a float array [N, n, 4] of (E, px, py, pz) in "
            f"GeV, got dtype {arr.dtype} and shape {arr.shape}; use FinalState.momenta()"
        )
    if arr.shape[0] < 3:
        raise SchemaError(f"dimension_ledger: need at least 3 events, got {arr.shape[0]}")
    if len(particle_names) != arr.shape[1]:
        raise ConfigError(
            f"dimension_ledger: {len(particle_names)} particle names {list(particle_names)} "
            f"for {arr.shape[1]} particles per event; give one name per particle"
        )
    bad = np.argwhere(~np.isfinite(arr))
    if bad.size:
        ev, part = int(bad[0, 0]), int(bad[0, 1])
        raise SchemaError(
            f"dimension_ledger: non-finite momentum in event {ev}, particle {part} "
            f"({len(bad)} values in all); remove those events first"
        )
    if not 0 < tols["exact_tol"] < tols["approx_tol"]:
        raise ConfigError(
            f"dimension_ledger: need 0 < exact_tol < approx_tol, got {tols['exact_tol']!r} "
            f"and {tols['approx_tol']!r}"
        )
    for key in ("rank_tol", "linear_tol"):
        if not 0 < tols[key] < 1:
            raise ConfigError(f"dimension_ledger: {key} must be in (0, 1), got {tols[key]!r}")
    if isinstance(n_points, bool) or not isinstance(n_points, int) or n_points < 1:
        raise ConfigError(
            f"dimension_ledger: n_points must be a positive integer, got {n_points!r}"
        )
    return arr.astype(np.float64, copy=False)


def _constant_features(
    features: np.ndarray, momenta: np.ndarray, rep: Representation, names: list[str], tol: float
) -> list[tuple[int, ConstraintResult]]:
    n = momenta.shape[1]
    units = rep.feature_units(n)
    per_particle = max(len(rep.components), 1)
    out = []
    for j in range(features.shape[1]):
        energy = momenta[:, j // per_particle, 0]
        event_scale = energy if units[j] == "GeV" else np.ones_like(energy)
        spread = _relative_rms(features[:, j], event_scale)
        if spread <= tol:
            scale, mean = float(np.mean(event_scale)), float(np.mean(features[:, j]))
            result = ConstraintResult(
                f"const({names[j]})", "exact", spread, spread, scale, mean, "feature"
            )
            out.append((j, result))
    return out


def _chain(
    features: torch.Tensor, rep: Representation, constraints: Sequence[Constraint]
) -> tuple[torch.Tensor, torch.Tensor]:
    """``d c / d p`` ``[P, K, 4n]`` and ``d p / d f`` ``[P, 4n, F]`` at ``[P, F]`` features."""

    def values(p: torch.Tensor) -> torch.Tensor:
        return torch.stack([c.fn(p) for c in constraints])

    momenta = rep.to_momenta(features)
    n_p, n_f = features.shape
    jp = vmap(jacrev(values))(momenta).reshape(n_p, len(constraints), -1)
    dpdf = vmap(jacrev(rep.to_momenta))(features).reshape(n_p, -1, n_f)
    return jp, dpdf


def constraint_gradients(
    features: torch.Tensor, representation: str | Representation, constraints: Sequence[Constraint]
) -> torch.Tensor:
    """Gradients ``[P, K, F]`` of the constraints with respect to the features (float64
    autograd through ``representation.to_momenta``), at ``[P, F]`` float64 features.

    Example:
        >>> from latentsym.toys import ee_to_mumu
        >>> p = torch.from_numpy(ee_to_mumu(3))
        >>> f = get_representation("cartesian").from_momenta(p)
        >>> g = constraint_gradients(f, "cartesian", candidate_constraints(["mu+", "mu-"])[:1])
        >>> g.shape, g[0, 0].tolist()
        (torch.Size([3, 1, 8]), [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0])
    """
    jp, dpdf = _chain(features, get_representation(representation), constraints)
    return jp @ dpdf


def _jacobians(
    features: torch.Tensor, rep: Representation, constraints: list[Constraint]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Row-normalised Jacobians ``[P, K, F]`` and a degenerate-row mask ``[P, K]``."""
    jp, dpdf = _chain(features, rep, constraints)
    jf = jp @ dpdf
    norm = torch.linalg.vector_norm(jf, dim=-1)
    bound = torch.linalg.vector_norm(jp, dim=-1) * torch.linalg.matrix_norm(dpdf)[:, None]
    degenerate = norm <= _DEGENERATE * bound
    unit = jf / torch.where(degenerate, 1.0, norm)[..., None]
    return torch.where(degenerate[..., None], 0.0, unit), degenerate


def _rank(
    rows: torch.Tensor, degenerate: torch.Tensor, names: tuple[str, ...], tol: float
) -> RankSummary:
    n_p = rows.shape[0]
    if rows.shape[1] == 0:
        return RankSummary(0, 0.0, 0, 0, 1.0, n_p, 0, 0.0, 0.0, names)
    sv = torch.linalg.svdvals(rows).numpy()
    top = np.maximum(sv[:, :1], np.finfo(np.float64).tiny)
    rel = sv / top
    ranks = (rel > tol).sum(axis=1)
    # Where the representation is singular (a row vanished), the rank is read elsewhere.
    regular = ~degenerate.any(dim=1).numpy()
    use = regular if regular.sum() >= _MIN_REGULAR else np.ones_like(regular)
    counts = Counter(ranks[use].tolist())
    rank = max(counts, key=lambda k: (counts[k], k))
    at = use & (ranks == rank)
    kept = float(np.median(rel[at, rank - 1])) if rank > 0 else 0.0
    dropped = float(np.median(rel[at, rank])) if rank < rel.shape[1] else 0.0
    return RankSummary(
        rank=int(rank),
        median=float(np.median(ranks)),
        min=int(ranks.min()),
        max=int(ranks.max()),
        fraction=float(at.sum() / use.sum()),
        n_points=n_p,
        n_degenerate_points=int((~regular).sum()),
        smallest_kept=kept,
        largest_dropped=dropped,
        constraints=names,
    )


def _linear_spectrum(features: np.ndarray, momenta: np.ndarray, rep: Representation) -> np.ndarray:
    negligible = {
        j
        for j, _ in _constant_features(
            features, momenta, rep, [""] * features.shape[1], _NEGLIGIBLE
        )
    }
    cols = [j for j in range(features.shape[1]) if j not in negligible]
    if not cols:
        return np.zeros(0)
    x = features[:, cols]
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    eig = np.linalg.eigvalsh(np.atleast_2d(np.cov(z, rowvar=False)))[::-1]
    return np.clip(eig / eig[0], 0.0, None)


def dimension_ledger(
    momenta: np.ndarray,
    particle_names: Sequence[str],
    representation: str | Representation = "cartesian",
    *,
    tolerances: Tolerances | None = None,
    n_points: int = 256,
    seed: int = 0,
) -> Ledger:
    """Which constraints hold in a sample, and the dimensions they imply.

    Args:
        momenta: ``[N, n, 4]`` (E, px, py, pz) in GeV, e.g. ``FinalState.momenta()``;
            converted to float64 (rounding already in the values is what it is).
        particle_names: the n particle names, in order (``FinalState.names``).
        representation: feature representation (``"cartesian"``, ``"collider"``).
        tolerances: the thresholds of exact and approximate constraints and of the two
            ranks (default :class:`Tolerances`: 1e-6, 0.1, 1e-5, 1e-6).
        n_points: number of events (drawn at random) where the Jacobian is evaluated.
        seed: seed of that draw.

    Returns:
        A :class:`Ledger` with ``manifold_dim`` d, ``manifold_dim_approx`` and
        ``linear_rank`` r.

    Raises:
        SchemaError: momenta of the wrong shape or with NaN/inf, or features that are not
            finite in the representation (e.g. eta of a particle along the beam).
        ConfigError: bad names, tolerances or representation.

    Example:
        >>> from latentsym.toys import ee_to_mumu
        >>> led = dimension_ledger(ee_to_mumu(2000), ["mu+", "mu-"])
        >>> (led.n_features, led.manifold_dim, led.linear_rank)
        (8, 2, 3)
    """
    tols = asdict(tolerances if tolerances is not None else Tolerances())
    exact_tol, approx_tol, rank_tol = tols["exact_tol"], tols["approx_tol"], tols["rank_tol"]
    p = _check_inputs(momenta, particle_names, tols, n_points)
    rep = get_representation(representation)
    feat_t = rep.from_momenta(torch.from_numpy(p))
    features = feat_t.numpy()
    bad = np.argwhere(~np.isfinite(features))
    if bad.size:
        raise SchemaError(
            f"dimension_ledger: feature {int(bad[0, 1])} of event {int(bad[0, 0])} is not finite "
            f"in the {rep.name!r} representation (a particle along the beam has eta = inf); "
            "use the cartesian representation or remove those events"
        )
    names = rep.feature_names(tuple(particle_names))
    candidates = candidate_constraints(particle_names)
    with torch.no_grad():
        values = [c.fn(torch.from_numpy(p)).numpy() for c in candidates]
    results = [
        _measure(c, p, v, (exact_tol, approx_tol)) for c, v in zip(candidates, values, strict=True)
    ]
    constants = _constant_features(features, p, rep, names, exact_tol)

    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(p), size=min(n_points, len(p)), replace=False))
    rows, degenerate = _jacobians(feat_t[idx], rep, candidates)
    eye = torch.eye(len(names), dtype=torch.float64)[[j for j, _ in constants]]
    const_rows = eye.expand(len(idx), -1, -1)

    def summary(kinds: tuple[str, ...]) -> RankSummary:
        sel = [k for k, r in enumerate(results) if r.kind in kinds]
        stacked = torch.cat([rows[:, sel], const_rows], dim=1)
        used = tuple(results[k].name for k in sel) + tuple(c.name for _, c in constants)
        return _rank(stacked, degenerate[:, sel], used, rank_tol)

    exact, approx = summary(("exact",)), summary(("exact", "approximate"))
    spectrum = _linear_spectrum(features, p, rep)
    return Ledger(
        constraints=tuple(results) + tuple(c for _, c in constants),
        representation=rep.name,
        feature_names=tuple(names),
        n_features=len(names),
        n_events=len(p),
        manifold_dim=len(names) - exact.rank,
        manifold_dim_approx=len(names) - approx.rank,
        linear_rank=int((spectrum > tols["linear_tol"]).sum()),
        jacobian=exact,
        jacobian_approx=approx,
        eigenvalues=tuple(float(e) for e in spectrum),
        constant_features=tuple(names[j] for j, _ in constants),
        tolerances=tols,
    )
