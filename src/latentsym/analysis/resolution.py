"""Which dimension a sample shows at a scale, predicted from the thickness of its
approximate constraints.

A narrow resonance makes the events fill a thin shell around ``m^2 = M^2``: at scales far
above the shell's thickness the sample has ``d_approx`` dimensions, far below it ``d``.
A Breit-Wigner is not a slab of one thickness, though: its core is thin, its tails are
wide, and an event in the tail sits off the dense sheet of the peak events. Its nearest
neighbours lie at a distance set by the peak's in-sheet spacing *and* by its offset
across the shell, and the intrinsic-dimension estimators (TwoNN, GRIDE, which read ratios
of neighbour distances) see that offset long before the core is resolved. On the bundled
pp -> mu+ mu- sample the core thickness is a fifteenth of the read scale, yet the
dimension reads 3.26, not 3.

The prediction therefore follows the estimator, event by event, with no free parameter
(derived, not calibrated; the toys of :func:`latentsym.toys.resonance_decay` and
:func:`latentsym.toys.ee_to_ww` and the bundled samples test it). For each probe event
``i`` (:class:`~latentsym.physics.thickness.ConstraintGeometry`) it builds the
neighbourhood the estimator would see if the sample were locally a uniform
``d_approx``-dimensional sheet with the constraints' spread across it:

- ``K`` synthetic neighbours, uniform in a ``d_approx``-ball, whose radius sets the
  density so that the median distance to the ``n2``-th neighbour is the read ``scale``;
- each displaced across the sheet by ``per_unit_i (c_k - c_i)``: the constraint values
  ``c_k`` of a random event of the sample (so the whole Breit-Wigner, tails and
  correlations between constraints included) minus the probe's own, turned into a
  distance by the probe's displacement per unit (standardised features, or latent units
  through the encoder's Jacobian, the part off the encoded sheet:
  :meth:`~latentsym.physics.thickness.ConstraintGeometry.in_latent`);
- then the GRIDE ratio ``r_n2 / r_n1`` of the probe's distances, and the GRIDE maximum
  likelihood over the probes.

The same draws with no displacement give the sheet alone; the prediction is
``d_approx + (with - without)``, clipped to ``[d_approx, d]`` (the difference cancels
most of the Monte Carlo noise). Where the shell is much thinner than the scale every
displacement is negligible and the prediction is ``d_approx``; where it is much wider, the
displacements look like one more uniform direction per constraint and it is ``d``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from latentsym._json import json_safe
from latentsym.analysis.intrinsic import ScalePoint, gride_from_ratios, id_scale_curve
from latentsym.errors import ConfigError, SchemaError
from latentsym.features.build import FeatureMatrix
from latentsym.models.checkpoint import TrainedModel
from latentsym.physics.thickness import ConstraintGeometry

__all__ = [
    "ConstraintResolution",
    "DimensionScale",
    "Resolution",
    "constraint_label",
    "dimension_scale",
    "latent_per_unit",
    "predicted_dimension",
    "resolution",
]

_PROBES = 400
"""Probe events of a prediction (of the geometry's probes)."""
_OFFSET_EVENTS = 3000
"""Events whose constraint values give each probe's offsets across the shell."""
_GRID = 64
_GRID_BELOW, _GRID_ABOVE = 1e-3, 1e2
_BISECTION = 40


def _check_read(n1: int, n2: int, scale: float) -> None:
    ok = all(isinstance(v, int) and not isinstance(v, bool) for v in (n1, n2))
    if not ok or not 1 <= n1 < n2:
        raise ConfigError(f"predicted_dimension: need integers 1 <= n1 < n2, got {n1!r}, {n2!r}")
    if not (math.isfinite(scale) and scale > 0):
        raise ConfigError(f"predicted_dimension: scale must be positive, got {scale!r}")


@dataclass(frozen=True, eq=False)
class _Profile:
    """``log S_i(r)`` on a log grid of radii: the expected neighbour count of probe i
    within r, up to one constant (the sheet's density)."""

    log_r: np.ndarray  # [G]
    log_s: np.ndarray  # [P, G], -inf where no neighbour lies within r
    d_approx: int

    def radius(self, log_count: np.ndarray) -> np.ndarray:
        """``log r`` per probe where ``log S_i(r) = log_count[i]`` (per-row interpolation;
        beyond the grid, the sheet's slope ``d_approx`` or the shell's full slope)."""
        g = self.log_s
        idx = np.clip((g < log_count[:, None]).sum(axis=1), 1, g.shape[1] - 1)
        rows = np.arange(len(g))
        lo, hi = g[rows, idx - 1], g[rows, idx]
        ok = np.isfinite(lo) & np.isfinite(hi) & (hi > lo)
        lo, hi = np.where(ok, lo, 0.0), np.where(ok, hi, 1.0)
        frac = np.where(ok, (log_count - lo) / (hi - lo), 1.0)
        return self.log_r[idx - 1] + frac * (self.log_r[idx] - self.log_r[idx - 1])


def _half_power(x: np.ndarray, d: int) -> np.ndarray:
    """``x^(d/2)`` for ``x >= 0`` (``x > 0`` as 0/1 for d = 0), without a slow float power."""
    if d == 0:
        return (x > 0).astype(np.float64)
    out = np.sqrt(x) if d % 2 else np.ones_like(x)
    for _ in range(d // 2):
        out = out * x
    return out


def _profile(
    geometry: ConstraintGeometry, units: np.ndarray, lo: float, hi: float, rng: np.random.Generator
) -> _Profile:
    d_a = geometry.d_approx
    n_p = min(len(geometry.probes), _PROBES)
    pick = np.sort(rng.choice(len(geometry.probes), size=n_p, replace=False))
    others = geometry.values[
        rng.choice(geometry.n_events, size=min(_OFFSET_EVENTS, geometry.n_events), replace=False)
    ]
    radii = np.geomspace(lo * _GRID_BELOW, hi * _GRID_ABOVE, _GRID)
    log_s = np.empty((n_p, _GRID))
    for row, j in enumerate(pick):  # one probe at a time keeps the memory at [events, grid]
        shift = (others - geometry.values[geometry.probes[j]]) @ units[j].T
        across2 = np.einsum("kd,kd->k", shift, shift)
        room = np.clip(radii[None, :] ** 2 - across2[:, None], 0.0, None)
        count = _half_power(room, d_a).mean(axis=0)
        with np.errstate(divide="ignore"):
            log_s[row] = np.log(count)
    return _Profile(np.log(radii), log_s, d_a)


def _predict(profile: _Profile, d: int, n1: int, n2: int, scale: float, seed: int) -> float:
    """GRIDE on Poisson neighbourhoods with mean counts ``A S_i(r)``, ``A`` set so that the
    median n2-th distance is ``scale``; minus the same on the sheet alone."""
    d_a = profile.d_approx
    target = math.log(scale)

    def median_log_r(log_a: float) -> float:
        return float(np.median(profile.radius(np.full(len(profile.log_s), math.log(n2) - log_a))))

    lo, hi = -200.0, 200.0  # log A: the median radius falls as A grows
    for _ in range(_BISECTION):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if median_log_r(mid) > target else (lo, mid)
    log_a = 0.5 * (lo + hi)
    rng = np.random.default_rng([seed, n1, n2])
    # the counts within r of a Poisson process, A S_i(r_k), are a unit Poisson process
    g1 = rng.gamma(n1, size=len(profile.log_s))
    g2 = g1 + rng.gamma(n2 - n1, size=len(g1))
    log_mu = profile.radius(np.log(g2) - log_a) - profile.radius(np.log(g1) - log_a)
    keep = np.isfinite(log_mu) & (log_mu > 0)
    with_shell = gride_from_ratios(log_mu[keep], n1, n2)
    sheet = gride_from_ratios(np.log(g2 / g1)[keep] / d_a, n1, n2) if d_a > 0 else 0.0
    return float(min(max(d_a + with_shell - sheet, d_a), d))


def _units(geometry: ConstraintGeometry, per_unit: np.ndarray | None) -> np.ndarray:
    units = geometry.per_unit if per_unit is None else np.asarray(per_unit, dtype=np.float64)
    if (
        units.ndim != 3
        or units.shape[0] != len(geometry.probes)
        or units.shape[2] != geometry.n_constraints
    ):
        raise SchemaError(
            f"predicted_dimension: per_unit must be [{len(geometry.probes)}, D, "
            f"{geometry.n_constraints}], got shape {units.shape}"
        )
    return units


def predicted_dimension(
    geometry: ConstraintGeometry,
    n1: int,
    n2: int,
    scale: float,
    *,
    per_unit: np.ndarray | None = None,
    seed: int = 0,
) -> float:
    """The GRIDE dimension at ``(n1, n2)`` and ``scale`` that the constraints' thickness
    predicts (see the module text).

    Args:
        geometry: the approximate constraints, event by event.
        n1, n2: the neighbour orders of the reading.
        scale: the median distance to the n2-th neighbour there (the read scale).
        per_unit: ``[P, D, C]`` displacement per unit change of the constraints in the
            space of the reading (default ``geometry.per_unit``: standardised features;
            ``geometry.in_latent(jacobian)`` for the encoded means).
        seed: seed of the draws.

    Returns:
        The prediction, in ``[d_approx, d]``; ``d`` when no constraint is approximate.

    Example:
        >>> from latentsym.toys import pp_to_mumu
        >>> from latentsym.physics.constraints import dimension_ledger
        >>> from latentsym.physics.thickness import constraint_geometry
        >>> p = pp_to_mumu(5000)
        >>> geo = constraint_geometry(p, ["mu+", "mu-"], dimension_ledger(p, ["mu+", "mu-"]))
        >>> [round(predicted_dimension(geo, 1, 2, s), 1) for s in (10.0, 3e-3)]
        [3.0, 4.0]
    """
    _check_read(n1, n2, scale)
    if geometry.n_constraints == 0 or geometry.d == geometry.d_approx:
        return float(geometry.d)
    units = _units(geometry, per_unit)
    if not np.any(units):  # no step across any shell: the sheet alone
        return float(geometry.d_approx)
    profile = _profile(geometry, units, scale, scale, np.random.default_rng(seed))
    return _predict(profile, geometry.d, n1, n2, scale, seed)


def constraint_label(name: str) -> str:
    """A constraint's name as physicists write it: ``"m2(e+,nu_e)"`` -> ``"m(e+ nu_e)"``.

    Example:
        >>> constraint_label("m2(mu+,mu-)"), constraint_label("sum_E")
        ('m(mu+ mu-)', 'sum_E')
    """
    if name.startswith("m2(") and name.endswith(")"):
        return "m(" + name[3:-1].replace(",", " ") + ")"
    return name


@dataclass(frozen=True)
class ConstraintResolution:
    """One approximate constraint at the read scale.

    Attributes:
        name: the ledger's name (``"m2(mu+,mu-)"``).
        kind: the ledger's kind: ``"approximate"``, or ``"broken"`` for a pair mass whose
            relative width is large but whose thickness lies below the model's resolution.
        relative_width: the ledger's robust relative width.
        thickness: median thickness in standardised features.
        thickness_latent: the same in latent units (NaN when read on the features).
        resolved: the thickness in the space of the reading exceeds the read scale.
    """

    name: str
    kind: str
    relative_width: float
    thickness: float
    thickness_latent: float
    resolved: bool


@dataclass(frozen=True)
class Resolution:
    """The predicted dimension at the scale where a dimension is read.

    Attributes:
        space: ``"latent"`` (encoded means, the verdict's) or ``"features"``.
        read_scale: the scale of the reading (median n2-th neighbour distance).
        n1, n2: its neighbour orders.
        predicted: the predicted dimension there (:func:`predicted_dimension`).
        d, d_approx: the ledger's dimensions.
        constraints: every approximate constraint, resolved or not.
        beta_to_resolve: the KL weight whose decoder noise ``sqrt(beta / 2)``
            (standardised units) equals the thinnest constraint's feature thickness
            (``2 t^2``; NaN without approximate constraints).
        events_to_resolve: roughly how many events bring the data's nearest-neighbour
            distance down to that thickness (``N (nn / t)^d_approx``: the neighbour
            distance of a ``d_approx``-dimensional sample falls as ``N^(-1/d_approx)``).
        nn_distance: the data's median nearest-neighbour distance (standardised).
        n_events: events of the sample.
        resolution_limit: the model's resolution in standardised features, ``sqrt(beta /
            2)``, that the broken pair masses were compared with (NaN when not given).
    """

    space: str
    read_scale: float
    n1: int
    n2: int
    predicted: float
    d: int
    d_approx: int
    constraints: tuple[ConstraintResolution, ...]
    beta_to_resolve: float
    events_to_resolve: float
    nn_distance: float
    n_events: int
    resolution_limit: float = math.nan

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (non-finite numbers become ``None``)."""
        return json_safe(asdict(self))

    def sentences(self) -> list[str]:
        """One sentence per approximate constraint, and what it would take to resolve."""
        out = []
        for c in self.constraints:
            t = c.thickness_latent if self.space == "latent" else c.thickness
            if c.kind == "broken":
                what = (
                    f"a wide pair mass (relative width {c.relative_width:.2g}) but a thin "
                    f"shell for this model (thickness {c.thickness:.2g} in standardised "
                    f"features, below its resolution sqrt(beta/2) = "
                    f"{self.resolution_limit:.2g})"
                )
            elif c.name.startswith("m2("):
                what = "a narrow resonance"
            else:
                what = "an approximate constraint"
            state = "resolved" if c.resolved else "unresolved"
            if self.space == "latent" and t == 0.0:
                out.append(
                    f"{constraint_label(c.name)} is {what}, not opened by the model (its "
                    "relevant latents carry the sheet alone: the step across the shell "
                    f"moves along it, latent thickness 0), read scale {self.read_scale:.2g}, "
                    f"{state}; below {c.thickness:.2g} in standardised features the sample "
                    f"has {self.d} dimensions."
                )
                continue
            out.append(
                f"{constraint_label(c.name)} is {what}: thickness {t:.2g}, read scale "
                f"{self.read_scale:.2g}, {state}; below {t:.2g} the sample has {self.d} "
                "dimensions."
            )
        if self.constraints and not all(c.resolved for c in self.constraints):
            t = min(c.thickness for c in self.constraints)
            out.append(
                f"To resolve it: decoder noise sqrt(beta/2) below the feature thickness "
                f"{t:.2g} needs beta < {self.beta_to_resolve:.2g}, and the data's "
                f"nearest-neighbour distance ({self.nn_distance:.2g}) falls below it with "
                f"about {self.events_to_resolve:.2g} events (now {self.n_events})."
            )
        return out


def resolution(
    geometry: ConstraintGeometry,
    n1: int,
    n2: int,
    scale: float,
    *,
    latent: np.ndarray | None = None,
    seed: int = 0,
) -> Resolution:
    """Which approximate constraints are resolved at a reading, and the dimension predicted.

    Args:
        geometry: the approximate constraints, event by event.
        n1, n2, scale: the reading (``LatentDimension.n1``, ``.n2``, ``.read_scale``).
        latent: ``[P, k, C]`` displacement per unit in latent units
            (``geometry.in_latent(jacobian)``) when the reading is on encoded means;
            None for a reading on the standardised features.
        seed: seed of the prediction.

    Example:
        >>> from latentsym.toys import pp_to_mumu
        >>> from latentsym.physics.constraints import dimension_ledger
        >>> from latentsym.physics.thickness import constraint_geometry
        >>> p = pp_to_mumu(5000)
        >>> led = dimension_ledger(p, ["mu+", "mu-"])
        >>> res = resolution(constraint_geometry(p, ["mu+", "mu-"], led), 1, 2, 0.2)
        >>> res.constraints[0].resolved, 3.0 <= res.predicted < 3.5
        (False, True)
    """
    thick_latent = (
        geometry.thickness_of(latent)
        if latent is not None
        else np.full(geometry.n_constraints, np.nan)
    )
    rows = []
    for j, name in enumerate(geometry.names):
        t = float(geometry.thickness[j])
        t_l = float(thick_latent[j])
        reading = t_l if latent is not None else t
        width = float(geometry.widths[j])
        kind = geometry.kinds[j]
        rows.append(ConstraintResolution(name, kind, width, t, t_l, reading > scale))
    thinnest = min((r.thickness for r in rows), default=math.nan)
    beta = 2.0 * thinnest**2
    events = geometry.n_events * (geometry.nn_distance / thinnest) ** max(geometry.d_approx, 1)
    return Resolution(
        space="latent" if latent is not None else "features",
        read_scale=float(scale),
        n1=n1,
        n2=n2,
        predicted=predicted_dimension(geometry, n1, n2, scale, per_unit=latent, seed=seed),
        d=geometry.d,
        d_approx=geometry.d_approx,
        constraints=tuple(rows),
        beta_to_resolve=beta,
        events_to_resolve=float(events) if rows else math.nan,
        nn_distance=geometry.nn_distance,
        n_events=geometry.n_events,
        resolution_limit=geometry.resolution_limit,
    )


@dataclass(frozen=True)
class DimensionScale:
    """Dimension against scale, measured and predicted, for the data and the latents.

    Attributes:
        data: GRIDE points of the standardised features (no model).
        data_predicted: the prediction at each of them.
        latent: GRIDE points of the encoded means along the relevant directions (empty
            without a model reading).
        latent_predicted: the prediction at each of them.
        data_line, latent_line: ``(scale, predicted)`` pairs on a log grid from a tenth of
            the thinnest constraint to the largest measured scale, at ``n1 = 1, n2 = 2``:
            the whole predicted transition (empty without approximate constraints).
        names: the approximate constraints.
        thickness, thickness_latent: their thickness (standardised, latent units).
        read_scale: where the latent dimension is read (NaN when not).
        d, d_approx: the ledger's dimensions.
    """

    data: tuple[ScalePoint, ...]
    data_predicted: tuple[float, ...]
    latent: tuple[ScalePoint, ...]
    latent_predicted: tuple[float, ...]
    data_line: tuple[tuple[float, float], ...]
    latent_line: tuple[tuple[float, float], ...]
    names: tuple[str, ...]
    thickness: tuple[float, ...]
    thickness_latent: tuple[float, ...]
    read_scale: float
    d: int
    d_approx: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (non-finite numbers become ``None``)."""
        return json_safe(
            {
                "data": [p.to_dict() for p in self.data],
                "data_predicted": list(self.data_predicted),
                "latent": [p.to_dict() for p in self.latent],
                "latent_predicted": list(self.latent_predicted),
                "data_line": [list(p) for p in self.data_line],
                "latent_line": [list(p) for p in self.latent_line],
                "names": list(self.names),
                "thickness": list(self.thickness),
                "thickness_latent": list(self.thickness_latent),
                "read_scale": self.read_scale,
                "d": self.d,
                "d_approx": self.d_approx,
            }
        )


def latent_per_unit(
    trained: TrainedModel,
    features: np.ndarray | FeatureMatrix,
    geometry: ConstraintGeometry,
    dims: Sequence[int],
) -> np.ndarray:
    """Displacement per unit change of the approximate constraints in the model's latent
    units along ``dims``, ``[P, k, C]``: the encoder's Jacobian at the probe events
    (``features`` are those of the geometry's events, physical units) times the
    geometry's ``per_unit``, off the encoded sheet (``ConstraintGeometry.in_latent``)."""
    values = features.values if isinstance(features, FeatureMatrix) else np.asarray(features)
    if len(values) != geometry.n_events:
        raise SchemaError(
            f"latent_per_unit: {len(values)} feature rows for a geometry of "
            f"{geometry.n_events} events; pass the features of the same events"
        )
    jac = trained.encoder_jacobian(values[geometry.probes], dims)
    # the model standardised with its own scaler (fitted on its training events)
    return geometry.in_latent(jac * (geometry.scale / trained.scaler.scale))


_LINE_POINTS = 25


def _curve_prediction(
    geometry: ConstraintGeometry,
    per_unit: np.ndarray | None,
    points: Sequence[ScalePoint],
    seed: int,
) -> tuple[tuple[float, ...], tuple[tuple[float, float], ...]]:
    """:func:`predicted_dimension` at every point of a curve, and along a line of scales
    down to a tenth of the thinnest constraint, with one count profile."""
    if geometry.n_constraints == 0 or geometry.d == geometry.d_approx or not points:
        return tuple(float(geometry.d) for _ in points), ()
    units = _units(geometry, per_unit)
    thinnest = float(np.min(geometry.thickness_of(units)))
    top = max(p.scale for p in points)
    low = min(min(p.scale for p in points), 0.1 * thinnest) if thinnest > 0 else top * 1e-3
    profile = _profile(geometry, units, low, top, np.random.default_rng(seed))
    at_points = tuple(_predict(profile, geometry.d, p.n1, p.n2, p.scale, seed) for p in points)
    line = tuple(
        (float(x), _predict(profile, geometry.d, 1, 2, float(x), seed))
        for x in np.geomspace(low, top, _LINE_POINTS)
    )
    return at_points, line


def _subsample(x: np.ndarray, max_points: int, seed: int) -> np.ndarray:
    return x[np.random.default_rng(seed).permutation(len(x))[:max_points]]


def dimension_scale(
    geometry: ConstraintGeometry,
    features: np.ndarray,
    *,
    latent_points: np.ndarray | None = None,
    latent: np.ndarray | None = None,
    read_scale: float = math.nan,
    max_n2: int = 256,
    max_points: int = 5000,
    seed: int = 0,
) -> DimensionScale:
    """Measure and predict the dimension against scale.

    Args:
        geometry: the approximate constraints, event by event.
        features: ``[N, F]`` standardised features (the model's input).
        latent_points: ``[N, k]`` encoded means along the relevant directions (optional).
        latent: ``[P, k, C]`` displacement per unit in latent units, for their prediction.
        read_scale: where the latent dimension is read, to mark it.
        max_n2: the largest neighbour order of the curves.
        max_points: seeded subsample of the points (the latent one as
            :func:`~latentsym.analysis.intrinsic.latent_dimension` takes it).
        seed: seed of the subsamples and the predictions.
    """
    data = tuple(id_scale_curve(_subsample(features, max_points, seed), max_n2=max_n2))
    data_pred, data_line = _curve_prediction(geometry, None, data, seed)
    lat: tuple[ScalePoint, ...] = ()
    lat_pred: tuple[float, ...] = ()
    lat_line: tuple[tuple[float, float], ...] = ()
    thick_latent: Sequence[float] = [math.nan] * geometry.n_constraints
    if latent_points is not None and latent_points.shape[1] > 0:
        lat = tuple(id_scale_curve(_subsample(latent_points, max_points, seed), max_n2=max_n2))
        if latent is not None and geometry.n_constraints:
            lat_pred, lat_line = _curve_prediction(geometry, latent, lat, seed)
            thick_latent = [float(t) for t in geometry.thickness_of(latent)]
        else:
            lat_pred = tuple(float(geometry.d) for _ in lat)
    return DimensionScale(
        data=data,
        data_predicted=data_pred,
        latent=lat,
        latent_predicted=lat_pred,
        data_line=data_line,
        latent_line=lat_line,
        names=geometry.names,
        thickness=tuple(float(t) for t in geometry.thickness),
        thickness_latent=tuple(thick_latent),
        read_scale=float(read_scale),
        d=geometry.d,
        d_approx=geometry.d_approx,
    )
