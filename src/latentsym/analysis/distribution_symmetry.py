"""Which transformations keep the *distribution* of a sample, by a two-sample test.

A transformation ``g`` is a symmetry of the distribution when ``g x`` has the
distribution of ``x``. With a random flow parameter per event (uniform over a full turn
for a rotation, over a stated rapidity range for a boost), an invariant sample gives a
transformed copy from the same distribution, so a two-sample test of the sample against
its transformed copy tests the symmetry. The sample is split into two disjoint halves
``A`` and ``B``; ``A`` is compared with ``g B`` (independent samples, so the permutation
p-value is exact under the null) in the standardised features of the model:

- statistic: the energy distance ``E = 2 E|a - b| - E|a - a'| - E|b - b'|`` (V-statistic,
  equal sizes n), computed for every permutation from the pooled distance matrix ``D`` as
  ``-u^T D u / n^2`` with ``u`` the +-1 labels;
- p-value: ``(1 + #{E_perm >= E}) / (1 + n_permutations)``;
- effect size: the energy coefficient ``E / (2 E|a - b|)`` in [0, 1] (Szekely and
  Rizzo), and the statistic in standard deviations of the permutation null.

The energy distance sees every difference but has little power for a change of angular
shape on a sphere (on e+e- -> mu+ mu-, ``1 + cos^2 theta`` against its average over
rotations about x is 0.5 null standard deviations away at 2000 events per side), and its
distance matrix grows as ``n^2`` in memory, so it runs on a subsample of at most
``n_events`` per side. The physics observables of :func:`latentsym.physics.observables`
see an angular change at once, and a one-dimensional test costs ``O(N log N)``, so the
second test uses *all* events: ``A`` and ``B`` are the two halves of the whole sample
(the energy test takes the first ``n_events`` of each), and every observable that varies
gets a two-sample Kolmogorov-Smirnov test of ``A`` against ``g B`` (asymptotic p-value).
Their combination over the ``K`` observables is the Bonferroni bound
``p_KS = min(1, K min_k p_k)`` (valid for correlated observables; conservative).

Discrete candidates are involutions (``g g = 1``), which allows a paired test on all
events with no split at all, the *odd-part* test: under the null ``x`` and ``g x`` are
exchangeable, so for every observable ``f`` the odd part ``d_f(x) = f(x) - f(g x)`` is
symmetric about zero. The statistic is ``max_f |z_f|`` with
``z_f = sum d_f / sqrt(sum d_f^2)`` over the observables that ``g`` changes, and its
p-value comes from random sign flips of the events (the same flips for every observable,
so the maximum is calibrated; exact under the null). For the reflection ``P_z`` on
e+e- -> mu+ mu- the observable is ``cos theta*``, the odd part its mean: a test of the
forward-backward asymmetry on every event, about ``sqrt(N / (2 n_events))`` times finer
than a two-sample test of the subsample (on the bundled sample 0.007 against 0.016).

A candidate's p-value is the Bonferroni combination of the tests it ran
(``m = 2``: energy and KS; ``m = 3`` for a discrete one, which adds the odd part):
``p = min(1, m min(p_energy, p_KS[, p_odd]))``; it is *invariant* when that exceeds
``alpha``. The observable whose 1D distribution moved most names the reason of a broken
symmetry (the system rapidity ``y_sys`` under a boost of a pp sample).

**Forward-backward asymmetry.** A reflection that flips the polar angle of a particle
(``P_z``; on back-to-back pairs also ``C``, which swaps the two) turns the
forward-backward asymmetry ``A_FB`` into ``-A_FB``: the reflection-odd part of the
sample's distribution, integrated over the forward hemisphere, is ``A_FB``. From the
energy test's two subsamples it is ``f_A - f_gB`` (the forward fractions of the particle
in ``A`` and in the reflected ``B``, at most ``n_events`` each), with the binomial error of
both; it is reported beside the direct count ``(N_F - N_B) / N`` on the whole sample
(error ``sqrt((1 - A^2) / N)``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import vector
from scipy import stats
from scipy.spatial.distance import cdist

from latentsym._frozen import Replaceable
from latentsym._json import json_safe
from latentsym.analysis.generators import (
    LORENTZ_NAMES,
    ManifoldAlgebra,
    discrete_candidates,
    flow,
    generator_matrix,
)
from latentsym.errors import ConfigError, SchemaError
from latentsym.features.build import build
from latentsym.features.scaler import Scaler
from latentsym.physics.observables import observables

__all__ = [
    "AsymmetryReading",
    "CandidateTest",
    "DistributionSymmetries",
    "ObservableShift",
    "ObservableTest",
    "OddPartTest",
    "TwoSampleOptions",
    "TwoSampleTest",
    "distribution_symmetries",
    "energy_test",
    "generator_kind",
    "generator_test",
    "ks_test",
    "max_ks_test",
    "odd_part_test",
    "permutation_labels",
]

_PURE = 1e-9
_CHUNK = 500
_TOP_SHIFTS = 3


@dataclass(frozen=True)
class TwoSampleOptions(Replaceable):
    """Settings of :func:`distribution_symmetries`.

    Attributes:
        n_events: events per side of the energy test (the first this many of each of the
            two halves of the sample; the KS and odd-part tests use all events).
        n_permutations: permutations of the energy test and sign flips of the odd-part
            test (their smallest p-value is ``1 / (1 + n_permutations)``).
        rotation_range: a rotation's angle is uniform in ``(-range, range)`` per event (rad;
            pi: a full turn).
        rapidity_range: a boost's (or a mixed generator's) parameter is uniform in
            ``(-range, range)`` per event (3: about the rapidity reach of a Z at the LHC;
            a boost by less hardly changes a rapidity distribution of width 2.3).
        alpha: a candidate is called invariant when its p-value exceeds this.
        seed: seed of the split, the flow parameters and the permutations.
    """

    n_events: int = 2000
    n_permutations: int = 3000
    rotation_range: float = math.pi
    rapidity_range: float = 3.0
    alpha: float = 0.01
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_events", "n_permutations"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 2:
                raise ConfigError(f"{name} must be an integer >= 2, got {value!r}")
        for name in ("rotation_range", "rapidity_range"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ConfigError(f"{name} must be a positive number, got {value!r}")
        if not 0 < self.alpha < 1:
            raise ConfigError(f"alpha must be in (0, 1), got {self.alpha!r}")


@dataclass(frozen=True)
class TwoSampleTest:
    """An energy-distance permutation test.

    Attributes:
        statistic: the energy distance (standardised-feature units).
        pvalue: permutation p-value.
        effect_size: energy coefficient ``E / (2 E|a - b|)`` in [0, 1].
        z_score: ``(E - mean_null) / std_null``.
        null_mean, null_std: mean and standard deviation of the permutation null.
        n_a, n_b: sample sizes; n_permutations: permutations.
    """

    statistic: float
    pvalue: float
    effect_size: float
    z_score: float
    null_mean: float
    null_std: float
    n_a: int
    n_b: int
    n_permutations: int


def permutation_labels(n: int, n_permutations: int, seed: int = 0) -> np.ndarray:
    """``[n_permutations, 2 n]`` int8 labels, each row n times +1 and n times -1 at random."""
    rng = np.random.default_rng(seed)
    base = np.tile(np.concatenate([np.ones(n), -np.ones(n)]).astype(np.int8), (n_permutations, 1))
    return rng.permuted(base, axis=1)


def energy_test(
    a: np.ndarray,
    b: np.ndarray,
    n_permutations: int = 2000,
    seed: int = 0,
    labels: np.ndarray | None = None,
) -> TwoSampleTest:
    """Energy-distance two-sample test with a permutation p-value (equal sizes).

    Args:
        a, b: ``[n, F]`` samples of the same size.
        n_permutations: permutations of the pooled sample.
        seed: seed of the permutations.
        labels: the permutations themselves (:func:`permutation_labels`), instead of
            drawing them.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> same = energy_test(rng.normal(size=(300, 2)), rng.normal(size=(300, 2)), 200)
        >>> moved = energy_test(rng.normal(size=(300, 2)), rng.normal(size=(300, 2)) + 0.5, 200)
        >>> same.pvalue > 0.05, moved.pvalue < 0.01, moved.effect_size > same.effect_size
        (True, True, True)
    """
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.ndim != 2 or x.shape != y.shape or len(x) < 2:
        raise SchemaError(
            f"energy_test: two samples [n, F] of the same shape are needed, got {x.shape} "
            f"and {y.shape}"
        )
    n = len(x)
    perms = labels if labels is not None else permutation_labels(n, n_permutations, seed)
    pooled = np.concatenate([x, y])
    dist = cdist(pooled, pooled).astype(np.float32)
    u0 = np.concatenate([np.ones(n), -np.ones(n)]).astype(np.float32)
    observed = float(-(u0 @ dist @ u0) / n**2)
    cross = float(dist[:n, n:].mean())
    null = []
    for start in range(0, len(perms), _CHUNK):
        u = perms[start : start + _CHUNK].astype(np.float32)
        null.append(-np.einsum("ij,ij->i", u, u @ dist) / n**2)
    null_arr = np.concatenate(null).astype(np.float64)
    std = float(null_arr.std())
    return TwoSampleTest(
        statistic=observed,
        pvalue=float((1 + np.sum(null_arr >= observed)) / (1 + len(null_arr))),
        effect_size=observed / (2 * cross) if cross > 0 else 0.0,
        z_score=(observed - float(null_arr.mean())) / std if std > 0 else math.inf,
        null_mean=float(null_arr.mean()),
        null_std=std,
        n_a=n,
        n_b=n,
        n_permutations=len(perms),
    )


@dataclass(frozen=True)
class ObservableShift:
    """How far one observable's 1D distribution moved: a two-sample KS statistic."""

    observable: str
    ks: float
    pvalue: float


@dataclass(frozen=True)
class AsymmetryReading:
    """The forward-backward asymmetry of one particle, from a reflection test and counted.

    Attributes:
        particle: the particle (``"mu-"``).
        axis: +1 or -1, the direction along z that counts as forward (the e- beam).
        from_test, error_test: ``f_A - f_gB`` from the test's two samples and its error.
        direct, error_direct: ``(N_F - N_B) / N`` on the whole sample and its error.
        pull: ``(from_test - direct) / error_test``.
    """

    particle: str
    axis: float
    from_test: float
    error_test: float
    direct: float
    error_direct: float
    pull: float


@dataclass(frozen=True)
class ObservableTest:
    """The largest KS distance over the observables, with a permutation p-value.

    Attributes:
        statistic: ``max_k KS_k`` over the observables that vary.
        observable: the observable where it is reached.
        pvalue: permutation p-value of the maximum.
        n_observables: observables compared.
    """

    statistic: float
    observable: str
    pvalue: float
    n_observables: int
    n_per_side: int = 0


@dataclass(frozen=True)
class OddPartTest:
    """The paired test of a discrete candidate ``g`` on all events (:func:`odd_part_test`).

    Attributes:
        statistic: ``max_f |z_f|``, ``z_f = sum d_f / sqrt(sum d_f^2)``, ``d_f = f(x) - f(g x)``.
        observable: the observable where it is reached.
        odd_part: ``mean(d_f) / 2`` of that observable, the mean of its ``g``-odd part
            (for ``cos theta*`` under ``P_z``: ``<cos theta*>``), and error_odd_part its error.
        pvalue: sign-flip p-value of the maximum.
        n_observables: observables that ``g`` changes; n_events: events (all of them).
    """

    statistic: float
    observable: str
    odd_part: float
    error_odd_part: float
    pvalue: float
    n_observables: int
    n_events: int


@dataclass(frozen=True)
class CandidateTest:
    """The distribution test of one candidate.

    Attributes:
        name: ``"J_z"``, ``"K_z"``, ``"algebra[0]"``, ``"P_z"``, ``"C"``, ...
        kind: ``"rotation"``, ``"boost"``, ``"mixed"`` or ``"discrete"``.
        coefficients: the six Lorentz coefficients (None for a discrete candidate).
        t_range: the flow parameter is uniform in ``(-t_range, t_range)`` (None: discrete).
        in_manifold_algebra: whether it keeps the exact constraints (None: not checked).
        test: the energy-distance test in standardised features.
        observable_test: the KS test over the physics observables on all events (None
            with fewer than two particles).
        pvalue: ``min(1, m min(p_energy, p_KS[, p_odd]))``, m the number of tests run.
        invariant: ``pvalue > alpha``.
        shifts: the observables whose distribution moved most, largest first.
        asymmetry: the forward-backward asymmetry read from this test (a discrete
            candidate that flips the polar angle of the asymmetry particle), else None.
        odd_test: the odd-part test on all events (discrete candidates with observables),
            else None.
    """

    name: str
    kind: str
    coefficients: tuple[float, ...] | None
    t_range: float | None
    in_manifold_algebra: bool | None
    test: TwoSampleTest
    observable_test: ObservableTest | None
    pvalue: float
    invariant: bool
    shifts: tuple[ObservableShift, ...]
    asymmetry: AsymmetryReading | None
    odd_test: OddPartTest | None = None


@dataclass(frozen=True)
class DistributionSymmetries:
    """Every candidate's distribution test.

    Attributes:
        candidates: the tests, continuous first.
        invariant: names of the candidates called invariant.
        broken: names of the others.
        alpha: the p-value threshold.
        n_events: events per side of the energy test.
        n_per_side: events per side of the KS test (half the sample).
    """

    candidates: tuple[CandidateTest, ...]
    invariant: tuple[str, ...]
    broken: tuple[str, ...]
    alpha: float
    n_events: int
    n_per_side: int = 0

    def get(self, name: str) -> CandidateTest:
        """The test of one candidate by name."""
        for c in self.candidates:
            if c.name == name:
                return c
        raise ConfigError(
            f"no candidate {name!r}; tested: {', '.join(c.name for c in self.candidates)}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return json_safe(asdict(self))


def generator_kind(coefficients: Sequence[float] | np.ndarray) -> str:
    """``"rotation"``, ``"boost"`` or ``"mixed"`` from the six Lorentz coefficients.

    Example:
        >>> generator_kind([0, 0, 1, 0, 0, 0]), generator_kind([0, 0, 1, 0, 0, 1])
        ('rotation', 'mixed')
    """
    c = np.asarray(coefficients, dtype=np.float64)
    rot, boost = float(np.linalg.norm(c[:3])), float(np.linalg.norm(c[3:]))
    if boost <= _PURE * max(rot, 1.0):
        return "rotation"
    if rot <= _PURE * max(boost, 1.0):
        return "boost"
    return "mixed"


def _standardised(
    momenta: np.ndarray, names: Sequence[str], scaler: Scaler, representation: str
) -> np.ndarray:
    fm = build(momenta, representation, particle_names=names)
    return scaler.transform(np.asarray(fm.values, dtype=np.float64))


def _observables(p: np.ndarray, names: Sequence[str]) -> dict[str, np.ndarray]:
    p4 = vector.zip({"E": p[..., 0], "px": p[..., 1], "py": p[..., 2], "pz": p[..., 3]})
    return observables(p4, names)


def _varying(values: np.ndarray) -> bool:
    finite = values[np.isfinite(values)]
    return len(finite) == len(values) and float(finite.std()) > 1e-9 * (
        float(np.abs(finite).mean()) + 1.0
    )


def max_ks_test(
    a: dict[str, np.ndarray],
    b: dict[str, np.ndarray],
    n_permutations: int = 2000,
    seed: int = 0,
    labels: np.ndarray | None = None,
) -> tuple[ObservableTest, tuple[ObservableShift, ...]]:
    """The largest two-sample KS distance over observables, with a permutation p-value.

    Observables that are constant or not finite on the pooled sample are left out. Each
    permutation relabels the pooled events once, for every observable.

    Args:
        a, b: ``{observable: [n] values}`` of two samples of the same size n.
        n_permutations: permutations.
        seed: their seed.
        labels: the permutations themselves (:func:`permutation_labels`).

    Returns:
        ``(test, shifts)``: the test and every observable's own KS distance and
        asymptotic p-value, the three largest first.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> a = {"x": rng.normal(size=400), "y": rng.normal(size=400)}
        >>> b = {"x": rng.normal(size=400), "y": rng.normal(size=400) + 0.4}
        >>> test, shifts = max_ks_test(a, b, 500)
        >>> test.observable, test.pvalue < 0.01, shifts[0].observable
        ('y', True, 'y')
    """
    keys = [k for k in a if k in b and _varying(np.concatenate([a[k], b[k]]))]
    n = len(next(iter(a.values()))) if a else 0
    if not keys or n < 2:
        return ObservableTest(0.0, "", 1.0, 0), ()
    pooled = np.stack([np.concatenate([a[k], b[k]]) for k in keys])  # [K, 2n]
    orders = np.argsort(pooled, axis=1, kind="stable")
    u0 = np.concatenate([np.ones(n), -np.ones(n)])
    per_key = np.abs(np.cumsum(u0[orders], axis=1)).max(axis=1) / n
    observed = float(per_key.max())
    perms = labels if labels is not None else permutation_labels(n, n_permutations, seed)
    count = 0
    for start in range(0, len(perms), _CHUNK):
        u = perms[start : start + _CHUNK].astype(np.int16)
        best = np.zeros(len(u))
        for order in orders:
            walk = np.abs(np.cumsum(u[:, order], axis=1, dtype=np.int16)).max(axis=1)
            best = np.maximum(best, walk / n)
        count += int(np.sum(best >= observed - 1e-12))
    shifts = [
        ObservableShift(key, float(d), float(stats.kstwo.sf(d, max(n // 2, 1))))
        for key, d in zip(keys, per_key, strict=True)
    ]
    shifts.sort(key=lambda s: -s.ks)
    top = int(np.argmax(per_key))
    test = ObservableTest(observed, keys[top], (1 + count) / (1 + len(perms)), len(keys))
    return test, tuple(shifts[:_TOP_SHIFTS])


def _shifts(
    keys: Sequence[str], per_key: np.ndarray, pvalues: np.ndarray
) -> tuple[ObservableShift, ...]:
    shifts = [
        ObservableShift(key, float(d), float(pv))
        for key, d, pv in zip(keys, per_key, pvalues, strict=True)
    ]
    shifts.sort(key=lambda s: -s.ks)
    return tuple(shifts[:_TOP_SHIFTS])


def ks_test(
    a: dict[str, np.ndarray], b: dict[str, np.ndarray]
) -> tuple[ObservableTest, tuple[ObservableShift, ...]]:
    """Two-sample KS tests of every observable, combined by the Bonferroni bound.

    ``O(K N log N)`` for K observables of N events, so it runs on all events of a sample:
    each observable that varies gets the asymptotic KS p-value ``p_k``, and the test's
    p-value is ``min(1, K min_k p_k)``. Observables that are constant or not finite on the
    pooled sample are left out.

    Args:
        a, b: ``{observable: values}`` of two samples (sizes may differ).

    Returns:
        ``(test, shifts)``: the test (statistic: the largest KS distance) and the three
        observables with the largest KS distance, with their own p-values.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> a = {"x": rng.normal(size=4000), "y": rng.normal(size=4000)}
        >>> b = {"x": rng.normal(size=4000), "y": rng.normal(size=4000) + 0.1}
        >>> test, shifts = ks_test(a, b)
        >>> test.observable, test.n_observables, test.pvalue < 0.01, shifts[0].observable
        ('y', 2, True, 'y')
    """
    keys = [k for k in a if k in b and _varying(np.concatenate([a[k], b[k]]))]
    if not keys or min(len(a[keys[0]]), len(b[keys[0]])) < 2:
        return ObservableTest(0.0, "", 1.0, 0), ()
    results = [stats.ks_2samp(a[k], b[k], method="asymp") for k in keys]
    per_key = np.array([float(r.statistic) for r in results])
    pvalues = np.array([float(r.pvalue) for r in results])
    test = ObservableTest(
        statistic=float(per_key.max()),
        observable=keys[int(np.argmax(per_key))],
        pvalue=min(1.0, len(keys) * float(pvalues.min())),
        n_observables=len(keys),
        n_per_side=min(len(a[keys[0]]), len(b[keys[0]])),
    )
    return test, _shifts(keys, per_key, pvalues)


def odd_part_test(
    x: dict[str, np.ndarray],
    gx: dict[str, np.ndarray],
    n_permutations: int = 2000,
    seed: int | Sequence[int] = 0,
) -> OddPartTest:
    """Paired sign-flip test that an involution ``g`` keeps the distribution.

    For every observable ``f`` that ``g`` changes, ``d_f = f(x) - f(g x)`` per event; under
    the null (``x`` and ``g x`` exchangeable) each event's ``d`` is as likely as ``-d``.
    The statistic ``max_f |z_f|`` with ``z_f = sum d_f / sqrt(sum d_f^2)`` (unchanged in
    scale by a sign flip) gets its p-value from ``n_permutations`` random sign flips of
    the events, the same for every observable.

    Args:
        x, gx: ``{observable: [N] values}`` of the events and of their images under ``g``.
        n_permutations: sign flips.
        seed: their seed (an integer or a sequence of integers).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> c = np.clip(rng.normal(0.05, 0.5, size=5000), -1, 1)  # a forward excess
        >>> test = odd_part_test({"cos": c, "c2": c**2}, {"cos": -c, "c2": c**2}, 500)
        >>> test.observable, test.n_observables, test.pvalue < 0.01, round(test.odd_part, 2)
        ('cos', 1, True, 0.05)
    """
    n = len(next(iter(x.values()))) if x else 0
    keys, diffs = [], []
    for k in x:
        if k not in gx:
            continue
        d = np.asarray(x[k], dtype=np.float64) - np.asarray(gx[k], dtype=np.float64)
        scale = float(np.abs(x[k]).mean()) + 1.0 if n else 1.0
        if np.all(np.isfinite(d)) and float(np.sqrt(np.mean(d**2))) > 1e-9 * scale:
            keys.append(k)
            diffs.append(d)
    if not keys or n < 2:
        return OddPartTest(0.0, "", 0.0, 0.0, 1.0, 0, n)
    dmat = np.stack(diffs, axis=1)  # [N, K]
    norm = np.sqrt(np.sum(dmat**2, axis=0))
    z = dmat.sum(axis=0) / norm
    observed = float(np.abs(z).max())
    top = int(np.argmax(np.abs(z)))
    dn = (dmat / norm).astype(np.float32)
    rng = np.random.default_rng(seed)
    count = 0
    for start in range(0, n_permutations, _CHUNK):
        size = min(_CHUNK, n_permutations - start)
        signs = rng.integers(0, 2, size=(size, n), dtype=np.int8).astype(np.float32) * 2 - 1
        best = np.abs(signs @ dn).max(axis=1)
        count += int(np.sum(best >= observed - 1e-6))
    return OddPartTest(
        statistic=observed,
        observable=keys[top],
        odd_part=float(dmat[:, top].mean() / 2),
        error_odd_part=float(norm[top] / n / 2),
        pvalue=(1 + count) / (1 + n_permutations),
        n_observables=len(keys),
        n_events=n,
    )


def _forward(p: np.ndarray, particle: int, axis: float) -> np.ndarray:
    mom = p[:, particle, 1:]
    return axis * mom[:, 2] / np.linalg.norm(mom, axis=1) > 0


def _asymmetry(
    whole: np.ndarray,
    a: np.ndarray,
    b_moved: np.ndarray,
    spec: tuple[int, float],
    names: Sequence[str],
) -> AsymmetryReading:
    particle, axis = spec
    f_a = float(_forward(a, particle, axis).mean())
    f_b = float(_forward(b_moved, particle, axis).mean())
    err = math.sqrt(f_a * (1 - f_a) / len(a) + f_b * (1 - f_b) / len(b_moved))
    fw = _forward(whole, particle, axis)
    direct = float(2 * fw.mean() - 1)
    err_direct = math.sqrt(max(1 - direct**2, 0.0) / len(whole))
    est = f_a - f_b
    return AsymmetryReading(
        particle=names[particle],
        axis=float(axis),
        from_test=est,
        error_test=err,
        direct=direct,
        error_direct=err_direct,
        pull=(est - direct) / err if err > 0 else math.inf,
    )


def _flips_polar_angle(fn: Callable[[np.ndarray], np.ndarray], p: np.ndarray, k: int) -> bool:
    """Whether a discrete map sends the particle's cos(theta) to minus itself."""
    probe = p[: min(len(p), 64)]
    before = probe[:, k, 3] / np.linalg.norm(probe[:, k, 1:], axis=1)
    moved = fn(probe)
    after = moved[:, k, 3] / np.linalg.norm(moved[:, k, 1:], axis=1)
    return bool(np.allclose(after, -before, atol=1e-6))


@dataclass(frozen=True, eq=False)
class _Context:
    """What every candidate's test shares: the untouched half ``a`` (all of it for the KS
    test, its first ``n`` events for the energy test), their features and observables,
    the whole sample's observables, and how to build features."""

    a: np.ndarray
    n: int
    za: np.ndarray
    obs_a: dict[str, np.ndarray]
    obs_all: dict[str, np.ndarray]
    names: tuple[str, ...]
    scaler: Scaler
    representation: str
    options: TwoSampleOptions
    labels: np.ndarray


def _context(
    p: np.ndarray, names: tuple[str, ...], scaler: Scaler, representation: str,
    opts: TwoSampleOptions, whole: bool,
) -> tuple[_Context, np.ndarray]:  # fmt: skip
    """The split into halves ``A`` and ``B`` (returned) and the shared context."""
    half = len(p) // 2
    n = min(opts.n_events, half)
    order = np.random.default_rng(opts.seed).permutation(len(p))
    a, b = p[order[:half]], p[order[half : 2 * half]]
    with_obs = len(names) >= 2
    ctx = _Context(
        a=a,
        n=n,
        za=_standardised(a[:n], names, scaler, representation),
        obs_a=_observables(a, names) if with_obs else {},
        obs_all=_observables(p, names) if with_obs and whole else {},
        names=names,
        scaler=scaler,
        representation=representation,
        options=opts,
        labels=permutation_labels(n, opts.n_permutations, seed=opts.seed + 1),
    )
    return ctx, b


def _candidate(
    ctx: _Context,
    head: tuple[str, str, int],
    moved: np.ndarray,
    extra: dict[str, Any],
    moved_all: np.ndarray | None = None,
) -> CandidateTest:
    """The tests of one candidate: ``moved`` is ``g B``; ``moved_all`` the whole sample
    moved by a discrete ``g`` (for the odd-part test)."""
    name, kind, k = head
    opts = ctx.options
    zb = _standardised(moved[: ctx.n], ctx.names, ctx.scaler, ctx.representation)
    test = energy_test(ctx.za, zb, labels=ctx.labels)
    pvalues = [test.pvalue]
    obs_test: ObservableTest | None = None
    shifts: tuple[ObservableShift, ...] = ()
    if ctx.obs_a:
        obs_test, shifts = ks_test(ctx.obs_a, _observables(moved, ctx.names))
        if obs_test.n_observables:
            pvalues.append(obs_test.pvalue)
    odd: OddPartTest | None = None
    if moved_all is not None and ctx.obs_all:
        odd = odd_part_test(
            ctx.obs_all, _observables(moved_all, ctx.names), opts.n_permutations,
            seed=(opts.seed, 3, k),
        )  # fmt: skip
        if odd.n_observables:
            pvalues.append(odd.pvalue)
    pvalue = min(1.0, len(pvalues) * min(pvalues))
    fields: dict[str, Any] = {
        "coefficients": None, "t_range": None, "in_manifold_algebra": None, "asymmetry": None,
    }  # fmt: skip
    fields.update(extra)
    return CandidateTest(
        name=name,
        kind=kind,
        test=test,
        observable_test=obs_test,
        pvalue=pvalue,
        invariant=pvalue > opts.alpha,
        shifts=shifts,
        odd_test=odd,
        **fields,
    )


def distribution_symmetries(
    momenta: np.ndarray,
    particle_names: Sequence[str],
    scaler: Scaler,
    representation: str = "cartesian",
    algebra: ManifoldAlgebra | None = None,
    options: TwoSampleOptions | None = None,
    asymmetry: tuple[int, float] | None = None,
) -> DistributionSymmetries:
    """Test every candidate against the sample's distribution.

    The candidates: the six Lorentz generators, the basis directions of ``algebra`` that
    are not one of them, and the discrete candidates of
    :func:`~latentsym.analysis.generators.discrete_candidates`.

    Args:
        momenta: ``[N, n, 4]`` (E, px, py, pz) in GeV.
        particle_names: their names.
        scaler: the standardisation of the features (the model's, or fitted on the sample).
        representation: the features (``"cartesian"`` or ``"collider"``).
        algebra: the sample's manifold algebra (marks each generator kept or not).
        options: sizes, ranges, threshold, seed (default :class:`TwoSampleOptions`).
        asymmetry: ``(particle index, +1 or -1)``: read the forward-backward asymmetry of
            that particle about that z direction from the reflection tests.

    Returns:
        A :class:`DistributionSymmetries`.

    Example:
        >>> from latentsym.toys import MUON_PAIR, ee_to_mumu
        >>> p = ee_to_mumu(1200)
        >>> sc = Scaler.fit(p.reshape(len(p), -1))
        >>> opts = TwoSampleOptions(n_events=300, n_permutations=300)
        >>> res = distribution_symmetries(p, MUON_PAIR, sc, options=opts)
        >>> res.get("J_z").invariant, res.get("K_z").invariant, res.get("K_z").shifts[0].observable
        (True, False, 'y_sys')
    """
    opts = options if options is not None else TwoSampleOptions()
    p = np.asarray(momenta, dtype=np.float64)
    names = tuple(particle_names)
    if p.ndim != 3 or p.shape[1] != len(names) or p.shape[2] != 4:
        raise SchemaError(
            f"distribution_symmetries: momenta [N, {len(names)}, 4] expected, got {p.shape}"
        )
    if len(p) < 4:
        raise SchemaError(f"distribution_symmetries: need at least 4 events, got {len(p)}")
    if asymmetry is not None and not 0 <= asymmetry[0] < len(names):
        raise ConfigError(f"asymmetry particle {asymmetry[0]} is not an index of {list(names)}")
    ctx, b = _context(p, names, scaler, representation, opts, whole=True)
    basis = algebra.basis_array if algebra is not None else np.zeros((0, 6))
    continuous: list[tuple[str, np.ndarray, bool | None]] = [
        (name, c, None if algebra is None else bool(np.linalg.norm(basis @ c) > 1 - 1e-6))
        for name, c in zip(LORENTZ_NAMES, np.eye(6), strict=True)
    ]
    continuous += [
        (f"algebra[{i}]", c, True) for i, c in enumerate(basis) if np.max(np.abs(c)) < 1 - 1e-6
    ]
    results = []
    for k, (name, c, kept) in enumerate(continuous):
        kind = generator_kind(c)
        t_range = opts.rotation_range if kind == "rotation" else opts.rapidity_range
        t = np.random.default_rng([opts.seed, 1, k]).uniform(-t_range, t_range, len(b))
        extra = {
            "coefficients": tuple(float(v) for v in c),
            "t_range": float(t_range),
            "in_manifold_algebra": kept,
        }
        results.append(_candidate(ctx, (name, kind, k), flow(b, generator_matrix(c), t), extra))
    for k, cand in enumerate(discrete_candidates(names), start=len(continuous)):
        moved = cand.fn(b)
        extra = {}
        if asymmetry is not None and _flips_polar_angle(cand.fn, p, asymmetry[0]):
            extra["asymmetry"] = _asymmetry(p, ctx.a[: ctx.n], moved[: ctx.n], asymmetry, names)
        head = (cand.name, "discrete", k)
        results.append(_candidate(ctx, head, moved, extra, moved_all=cand.fn(p)))
    return DistributionSymmetries(
        candidates=tuple(results),
        invariant=tuple(t.name for t in results if t.invariant),
        broken=tuple(t.name for t in results if not t.invariant),
        alpha=opts.alpha,
        n_events=ctx.n,
        n_per_side=len(b),
    )


def generator_test(
    momenta: np.ndarray,
    particle_names: Sequence[str],
    scaler: Scaler,
    representation: str,
    coefficients: Sequence[float] | np.ndarray,
    options: TwoSampleOptions | None = None,
) -> CandidateTest:
    """The test of :func:`distribution_symmetries` for one Lorentz generator alone.

    Example:
        >>> from latentsym.toys import MUON_PAIR, pp_to_mumu
        >>> p = pp_to_mumu(1200)
        >>> sc = Scaler.fit(p.reshape(len(p), -1))
        >>> opts = TwoSampleOptions(n_events=400, n_permutations=300)
        >>> res = generator_test(p, MUON_PAIR, sc, "cartesian", [0, 0, 0, 0, 0, 1], opts)
        >>> res.kind, res.invariant, res.shifts[0].observable
        ('boost', False, 'y_sys')
    """
    opts = options if options is not None else TwoSampleOptions()
    p = np.asarray(momenta, dtype=np.float64)
    names = tuple(particle_names)
    c = np.asarray(coefficients, dtype=np.float64)
    c = c / np.linalg.norm(c)
    ctx, b = _context(p, names, scaler, representation, opts, whole=False)
    kind = generator_kind(c)
    t_range = opts.rotation_range if kind == "rotation" else opts.rapidity_range
    t = np.random.default_rng([opts.seed, 2]).uniform(-t_range, t_range, len(b))
    extra = {"coefficients": tuple(float(v) for v in c), "t_range": float(t_range)}
    return _candidate(ctx, ("generator", kind, 0), flow(b, generator_matrix(c), t), extra)
