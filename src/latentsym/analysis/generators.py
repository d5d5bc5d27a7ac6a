"""Candidate symmetry generators of collider events and the algebra that keeps the manifold.

**Candidates.** The six Lorentz generators act on every four-momentum of an event at once,
as ``4 x 4`` matrices on ``(E, px, py, pz)``: the rotations ``J_x, J_y, J_z`` (``J_z``
turns ``px -> -py``, ``py -> px``, so that ``exp(t J_z)`` rotates by ``t`` about the beam)
and the boosts ``K_x, K_y, K_z`` (``K_z``: ``dE = pz``, ``dpz = E``; ``exp(y K_z)`` boosts
along z by rapidity ``y``). A generator is given by its coefficients ``c`` in that basis
(``G = sum_a c_a G_a``); the basis is orthonormal under ``<A, B> = tr(A^T B) / 2``, the
metric every cosine and principal angle here is taken in. In the features the model sees
(standardised, ``z = (x - mean) / scale``) a generator is the tangent vector
``T_a(x) = J_features(p) G_a p / scale`` (a Jacobian-vector product through the feature
map in float64: exact for the cartesian features, autograd for the others). The discrete
candidates (:func:`discrete_candidates`) are the reflection ``z -> -z`` (``P_z``),
spatial inversion ``P``, particle <-> antiparticle exchange ``C`` (swapping the slots of
each particle and its antiparticle), their products and the exchange of identical
particles.

**The manifold algebra.** A generator keeps the manifold of the exact constraints of the
ledger (momentum sums, masses, constant features) when ``grad c(x) . T(x) = 0`` for every
exact constraint ``c`` at every event. :func:`manifold_algebra` stacks, over probe events
and constraints, the rows ``(grad_z c . T_a)_a / (|grad_z c| rms_a |T_a|)`` (each a
cosine-like number in [-1, 1]) into a matrix, divides it by the square root of its row
count and takes its singular values; the right singular vectors whose singular value is
below ``rank_tol`` times the largest span the algebra. Its basis is named by the nearest
Lorentz generators: the named generators are taken in order of how much of each lies in
the algebra, projected into it and orthonormalised, so that ``so(3)`` reads as
``J_x, J_y, J_z`` with cosines 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from scipy.linalg import subspace_angles

from latentsym._frozen import Replaceable
from latentsym._json import json_safe
from latentsym.errors import ConfigError, LatentsymError, SchemaError
from latentsym.features.representations import get_representation
from latentsym.physics.constraints import (
    RANK_TOL,
    Ledger,
    candidate_constraints,
    constraint_gradients,
)
from latentsym.physics.pdg import name_of, pid_of

__all__ = [
    "LORENTZ_NAMES",
    "AlgebraOptions",
    "DiscreteCandidate",
    "ManifoldAlgebra",
    "discrete_candidates",
    "exact_constraint_rows",
    "expected_span",
    "flow",
    "generator_matrix",
    "lorentz_generators",
    "manifold_algebra",
    "name_directions",
    "tangent_vectors",
]

_SELF_CONJUGATE = frozenset({0, 21, 22, 23, 25})

LORENTZ_NAMES = ("J_x", "J_y", "J_z", "K_x", "K_y", "K_z")
"""Names of the six Lorentz generators, in the order of :func:`lorentz_generators`."""


def lorentz_generators() -> np.ndarray:
    """The six Lorentz generators ``[6, 4, 4]`` acting on ``(E, px, py, pz)``.

    Example:
        >>> g = lorentz_generators()
        >>> (g[2] @ [45.6, 1.0, 2.0, 3.0]).tolist(), (g[5] @ [45.6, 1.0, 2.0, 3.0]).tolist()
        ([0.0, -2.0, 1.0, 0.0], [3.0, 0.0, 0.0, 45.6])
    """
    g = np.zeros((6, 4, 4))
    for a, (i, j) in enumerate(((2, 3), (3, 1), (1, 2))):  # J: d p_i = -p_j, d p_j = p_i
        g[a, i, j], g[a, j, i] = -1.0, 1.0
    for a in range(3):  # K: dE = p_a, dp_a = E
        g[3 + a, 0, 1 + a] = g[3 + a, 1 + a, 0] = 1.0
    return g


def generator_matrix(coefficients: Sequence[float] | np.ndarray) -> np.ndarray:
    """``sum_a c_a G_a`` ``[4, 4]`` from six coefficients in the Lorentz basis."""
    c = np.asarray(coefficients, dtype=np.float64)
    if c.shape != (6,):
        raise ConfigError(
            f"a Lorentz generator needs 6 coefficients ({', '.join(LORENTZ_NAMES)}), "
            f"got shape {c.shape}"
        )
    return np.einsum("a,aij->ij", c, lorentz_generators())


def _check_momenta(momenta: np.ndarray, what: str) -> np.ndarray:
    p = np.asarray(momenta, dtype=np.float64)
    if p.ndim != 3 or p.shape[-1] != 4 or len(p) == 0:
        raise SchemaError(
            f"{what}: momenta must be [N, n, 4] ordered (E, px, py, pz) in GeV, got shape "
            f"{p.shape}; use FinalState.momenta()"
        )
    if not np.all(np.isfinite(p)):
        raise SchemaError(f"{what}: momenta contain NaN or inf; remove those events first")
    return p


def flow(momenta: np.ndarray, generator: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """``exp(t G) p`` for every particle of every event, ``t`` per event or shared.

    Args:
        momenta: ``[N, n, 4]`` (E, px, py, pz) in GeV.
        generator: ``[4, 4]`` (e.g. :func:`generator_matrix`).
        t: ``[N]`` or a number: the flow parameter (rad for rotations, rapidity for boosts).

    Returns:
        ``[N, n, 4]`` float64.

    Example:
        >>> p = np.array([[[1.0, 1.0, 0.0, 0.0]]])
        >>> flow(p, lorentz_generators()[2], np.pi / 2).round(12).tolist()
        [[[1.0, 0.0, 1.0, 0.0]]]
    """
    p = _check_momenta(momenta, "flow")
    g = np.asarray(generator, dtype=np.float64)
    if g.shape != (4, 4):
        raise ConfigError(f"flow: the generator must be a 4 x 4 matrix, got shape {g.shape}")
    tt = np.broadcast_to(np.asarray(t, dtype=np.float64), (len(p),))
    expm = torch.linalg.matrix_exp(torch.from_numpy(tt[:, None, None] * g)).numpy()
    return np.einsum("nij,nkj->nki", expm, p)


def tangent_vectors(
    momenta: np.ndarray,
    representation: str,
    scale: np.ndarray,
    generators: np.ndarray | None = None,
) -> np.ndarray:
    """Tangent vectors of generators in standardised features, ``[N, A, F]``.

    ``T_a(p) = (d/dt) z(exp(t G_a) p) at t = 0 = J_features(p) G_a p / scale``, a
    Jacobian-vector product through the representation's feature map (float64).

    Args:
        momenta: ``[N, n, 4]`` (E, px, py, pz) in GeV.
        representation: ``"cartesian"`` or ``"collider"``.
        scale: ``[F]`` the standardisation (``Scaler.scale``).
        generators: ``[A, 4, 4]`` (default: the six of :func:`lorentz_generators`).

    Example:
        >>> p = np.array([[[45.6, 30.0, 0.0, 34.3], [45.6, -30.0, 0.0, -34.3]]])
        >>> t = tangent_vectors(p, "cartesian", np.ones(8))
        >>> t.shape, t[0, 2, :4].tolist()
        ((1, 6, 8), [0.0, -0.0, 30.0, 0.0])
    """
    p = _check_momenta(momenta, "tangent_vectors")
    gens = lorentz_generators() if generators is None else np.asarray(generators, dtype=float)
    rep = get_representation(representation)
    sc = np.asarray(scale, dtype=np.float64)
    if sc.shape != (p.shape[1] * 4,):
        raise ConfigError(
            f"tangent_vectors: scale must have one entry per feature ({p.shape[1] * 4}), "
            f"got shape {sc.shape}"
        )
    pt = torch.from_numpy(p)
    out = []
    for g in gens:
        direction = torch.einsum("ij,nkj->nki", torch.from_numpy(g), pt)
        # reverse-mode double-vjp (torch.autograd.functional.jvp); forward-mode AD would
        # load torch's jit-scripted decompositions, which warn on recent torch
        _, jvp = torch.autograd.functional.jvp(rep.from_momenta, pt, direction)
        out.append(jvp.detach().numpy() / sc)
    return np.stack(out, axis=1)


def exact_constraint_rows(
    momenta: np.ndarray, particle_names: Sequence[str], ledger: Ledger, scale: np.ndarray
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Gradients of the ledger's exact constraints in standardised features, ``[N, C, F]``.

    The momentum sums and masses the ledger calls exact (through the representation, in
    float64 autograd, times ``scale``), then one unit row per constant feature.

    Returns:
        ``(rows, names)``.
    """
    p = _check_momenta(momenta, "exact_constraint_rows")
    rep = get_representation(ledger.representation)
    by_name = {c.name: c for c in candidate_constraints(particle_names)}
    exact = [by_name[c.name] for c in ledger.constraints if c.kind == "exact" and c.name in by_name]
    feats = rep.from_momenta(torch.from_numpy(p))
    names = [c.name for c in exact]
    rows = []
    if exact:
        rows.append(constraint_gradients(feats, rep, exact).numpy() * scale)
    constant = [j for j, n in enumerate(ledger.feature_names) if n in ledger.constant_features]
    if constant:
        eye = np.eye(len(ledger.feature_names))[constant]
        rows.append(np.broadcast_to(eye, (len(p), *eye.shape)))
        names += [f"const({ledger.feature_names[j]})" for j in constant]
    if not rows:
        return np.zeros((len(p), 0, len(ledger.feature_names))), ()
    return np.concatenate(rows, axis=1), tuple(names)


@dataclass(frozen=True)
class AlgebraOptions(Replaceable):
    """Settings of :func:`manifold_algebra`.

    Attributes:
        n_points: probe events (drawn at random) where the rows are taken.
        rank_tol: singular values below this times the largest span the algebra.
        expected: names of the generators the algebra is expected to span (for the
            principal angle); None: none expected.
        seed: seed of the probe draw.
    """

    n_points: int = 256
    rank_tol: float = RANK_TOL
    expected: tuple[str, ...] | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.n_points, bool) or not isinstance(self.n_points, int):
            raise ConfigError(f"n_points must be a positive integer, got {self.n_points!r}")
        if self.n_points < 1:
            raise ConfigError(f"n_points must be a positive integer, got {self.n_points!r}")
        if not 0 < self.rank_tol < 1:
            raise ConfigError(f"rank_tol must be in (0, 1), got {self.rank_tol!r}")
        if self.expected is not None:
            object.__setattr__(self, "expected", tuple(self.expected))
            unknown = sorted(set(self.expected) - set(LORENTZ_NAMES))
            if unknown:
                raise ConfigError(
                    f"unknown generators {unknown} in expected; allowed: {', '.join(LORENTZ_NAMES)}"
                )


@dataclass(frozen=True)
class ManifoldAlgebra:
    """The Lorentz generators that keep the exact-constraint manifold of a sample.

    Attributes:
        dimension: dimension of the algebra.
        basis: ``[dimension, 6]`` orthonormal coefficients in the Lorentz basis, named.
        names: for each basis vector, the nearest Lorentz generator.
        cosines: ``|cos|`` between each basis vector and that generator.
        singular_values: ``[6]`` singular values of the normalised row matrix, ascending.
        threshold: the singular value below which a direction counts as kept.
        gap: the smallest kept-out singular value over the largest kept one (inf when
            all or none are kept).
        in_algebra: per Lorentz generator, the length of its projection on the algebra.
        constraints: the exact constraints whose rows entered.
        n_points: probe events used.
        expected: the expected span (generator names) or None.
        max_principal_angle: largest principal angle (rad) between the algebra and the
            expected span (None without one, or when the dimensions differ: then it is
            the angle of the expected span into the algebra, see ``expected_in_algebra``).
        expected_in_algebra: per expected generator, the length of its projection on the
            algebra (1: it lies in it).
        gram: ``[6, 6]`` Gram matrix ``M^T M`` of the normalised row matrix ``M``: ``c^T
            gram c`` is the mean squared normalised constraint violation of the generator
            ``c`` (the penalty of :func:`latentsym.analysis.discovery.discover_lorentz`).
    """

    dimension: int
    basis: tuple[tuple[float, ...], ...]
    names: tuple[str, ...]
    cosines: tuple[float, ...]
    singular_values: tuple[float, ...]
    threshold: float
    gap: float
    in_algebra: dict[str, float]
    constraints: tuple[str, ...]
    n_points: int
    expected: tuple[str, ...] | None
    max_principal_angle: float | None
    expected_in_algebra: dict[str, float] | None
    gram: tuple[tuple[float, ...], ...] = ()

    @property
    def gram_array(self) -> np.ndarray:
        """``[6, 6]`` Gram matrix as an array."""
        return np.asarray(self.gram, dtype=np.float64).reshape(6, 6)

    @property
    def basis_array(self) -> np.ndarray:
        """``[dimension, 6]`` basis as an array."""
        return np.asarray(self.basis, dtype=np.float64).reshape(self.dimension, 6)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return json_safe(asdict(self))


def name_directions(basis: np.ndarray, names: Sequence[str] = LORENTZ_NAMES) -> np.ndarray:
    """Rotate an orthonormal basis ``[k, D]`` of a subspace onto the named axes it holds.

    The axes (unit vectors ``e_a``) are taken in decreasing order of their projection on
    the subspace; each is projected into it, made orthogonal to those taken before and
    normalised, until k vectors are found. The span is unchanged.

    Example:
        >>> b = np.array([[1.0, 1.0, 0, 0, 0, 0], [1.0, -1.0, 0, 0, 0, 0]]) / np.sqrt(2)
        >>> np.abs(name_directions(b)).round(6).tolist()
        [[1.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0, 0.0]]
    """
    b = np.atleast_2d(np.asarray(basis, dtype=np.float64))
    k, dim = b.shape
    if len(names) != dim:
        raise ConfigError(f"name_directions: {len(names)} names for {dim} axes")
    if k == 0:
        return b
    proj = b.T @ b  # projector onto the span
    order = np.argsort(-np.linalg.norm(proj, axis=0), kind="stable")
    out: list[np.ndarray] = []
    for a in order:
        v = proj[:, a].copy()
        for u in out:
            v -= (u @ v) * u
        norm = np.linalg.norm(v)
        if norm > 1e-8:
            v = v / norm
            out.append(v if v[a] >= 0 else -v)
        if len(out) == k:
            break
    return np.array(out)


def expected_span(ledger: Ledger) -> tuple[str, ...] | None:
    """The textbook manifold algebra from which momentum sums the ledger calls exact.

    All four (a sample at fixed sqrt(s) in its rest frame, e+e-): the rotations,
    ``so(3)``; only the transverse ones (LO pp): ``J_z`` and ``K_z``; otherwise None.

    Example:
        >>> from latentsym.physics.constraints import dimension_ledger
        >>> from latentsym.toys import MUON_PAIR, ee_to_mumu, pp_to_mumu
        >>> expected_span(dimension_ledger(ee_to_mumu(500), MUON_PAIR))
        ('J_x', 'J_y', 'J_z')
        >>> expected_span(dimension_ledger(pp_to_mumu(500), MUON_PAIR))
        ('J_z', 'K_z')
    """
    sums = {c.name for c in ledger.constraints if c.family == "momentum" and c.kind == "exact"}
    if sums == {"sum_E", "sum_px", "sum_py", "sum_pz"}:
        return ("J_x", "J_y", "J_z")
    if sums == {"sum_px", "sum_py"}:
        return ("J_z", "K_z")
    return None


def manifold_algebra(
    momenta: np.ndarray,
    particle_names: Sequence[str],
    ledger: Ledger,
    scale: np.ndarray,
    options: AlgebraOptions | None = None,
) -> ManifoldAlgebra:
    """The subalgebra of Lorentz generators that keeps every exact constraint.

    Args:
        momenta: ``[N, n, 4]`` (E, px, py, pz) in GeV, the ledger's events.
        particle_names: their names, in order.
        ledger: the sample's :func:`~latentsym.physics.constraints.dimension_ledger`.
        scale: ``[F]`` the feature standardisation (``Scaler.scale``).
        options: probes, tolerance, expected span (default :class:`AlgebraOptions`).

    Returns:
        A :class:`ManifoldAlgebra`.

    Example:
        >>> from latentsym.physics.constraints import dimension_ledger
        >>> from latentsym.toys import MUON_PAIR, pp_to_mumu
        >>> p = pp_to_mumu(2000)
        >>> alg = manifold_algebra(p, MUON_PAIR, dimension_ledger(p, MUON_PAIR),
        ...                        p.reshape(len(p), -1).std(0),
        ...                        AlgebraOptions(expected=("J_z", "K_z")))
        >>> alg.dimension, alg.names, alg.max_principal_angle < 1e-6
        (2, ('J_z', 'K_z'), True)
    """
    opts = options if options is not None else AlgebraOptions()
    p = _check_momenta(momenta, "manifold_algebra")
    if len(p) != ledger.n_events:
        raise SchemaError(
            f"manifold_algebra: {len(p)} events given for a ledger of {ledger.n_events}; "
            "pass the momenta the ledger was made from"
        )
    sc = np.asarray(scale, dtype=np.float64)
    if sc.shape != (ledger.n_features,) or not np.all(sc > 0):
        raise ConfigError(
            f"manifold_algebra: scale must be {ledger.n_features} positive numbers "
            f"(Scaler.scale), got shape {sc.shape}"
        )
    rng = np.random.default_rng(opts.seed)
    probes = np.sort(rng.choice(len(p), size=min(opts.n_points, len(p)), replace=False))
    grads, names = exact_constraint_rows(p[probes], particle_names, ledger, sc)
    tangents = tangent_vectors(p[probes], ledger.representation, sc)  # [P, 6, F]
    rows = np.einsum("pcf,paf->pca", grads, tangents)
    gnorm = np.linalg.norm(grads, axis=2)[:, :, None]
    tnorm = np.sqrt(np.mean(np.sum(tangents**2, axis=2), axis=1))[:, None, None]
    denom = gnorm * tnorm
    ok = denom[..., 0] > 0
    matrix = (rows / np.where(denom > 0, denom, 1.0))[ok].reshape(-1, 6)
    if len(matrix) == 0:
        matrix = np.zeros((1, 6))
    scaled = matrix / np.sqrt(len(matrix))
    _, sv, vt = np.linalg.svd(scaled, full_matrices=True)
    sv = np.concatenate([sv, np.zeros(6 - len(sv))])
    top = float(sv.max())
    threshold = opts.rank_tol * top if top > 0 else 1.0
    kept = sv < threshold
    basis = name_directions(vt[kept]) if kept.any() else np.zeros((0, 6))
    nearest = np.argmax(np.abs(basis), axis=1) if len(basis) else np.zeros(0, dtype=int)
    order = np.argsort(nearest, kind="stable")
    basis, nearest = basis[order], nearest[order]
    cosines = tuple(float(abs(basis[i, a])) for i, a in enumerate(nearest))
    in_alg = np.linalg.norm(basis, axis=0) if len(basis) else np.zeros(6)
    kept_sv, other_sv = sv[kept], sv[~kept]
    gap = (
        float(other_sv.min() / max(kept_sv.max(), np.finfo(float).tiny))
        if len(kept_sv) and len(other_sv)
        else float("inf")
    )
    angle, expected_in = None, None
    if opts.expected is not None:
        idx = [LORENTZ_NAMES.index(n) for n in opts.expected]
        expected_in = {n: float(in_alg[i]) for n, i in zip(opts.expected, idx, strict=True)}
        if len(basis) == len(idx):
            angle = float(np.max(subspace_angles(basis.T, np.eye(6)[idx].T)))
    return ManifoldAlgebra(
        dimension=int(kept.sum()),
        basis=tuple(tuple(float(v) for v in row) for row in basis),
        names=tuple(LORENTZ_NAMES[a] for a in nearest),
        cosines=cosines,
        singular_values=tuple(float(v) for v in np.sort(sv)),
        threshold=float(threshold),
        gap=gap,
        in_algebra={n: float(v) for n, v in zip(LORENTZ_NAMES, in_alg, strict=True)},
        constraints=names,
        n_points=len(probes),
        expected=opts.expected,
        max_principal_angle=angle,
        expected_in_algebra=expected_in,
        gram=tuple(tuple(float(v) for v in row) for row in scaled.T @ scaled),
    )


@dataclass(frozen=True)
class DiscreteCandidate:
    """A discrete transformation of events.

    Attributes:
        name: ``"P_z"`` (z -> -z), ``"P"`` (spatial inversion), ``"C"`` (particle <->
            antiparticle), ``"C*P_z"``, ``"CP"``, ``"swap(i,j)"`` (identical particles).
        fn: ``[N, n, 4]`` momenta -> transformed ``[N, n, 4]``.
        description: one line in words.
    """

    name: str
    fn: Callable[[np.ndarray], np.ndarray]
    description: str


def _parity(axes: tuple[int, ...]) -> Callable[[np.ndarray], np.ndarray]:
    def fn(p: np.ndarray) -> np.ndarray:
        out = np.array(p, dtype=np.float64, copy=True)
        out[..., list(axes)] *= -1.0
        return out

    return fn


def _permute(
    order: list[int], then: Callable[[np.ndarray], np.ndarray] | None = None
) -> Callable[[np.ndarray], np.ndarray]:
    def fn(p: np.ndarray) -> np.ndarray:
        out = np.asarray(p, dtype=np.float64)[:, order]
        return then(out) if then is not None else out

    return fn


def _conjugate_order(particle_names: Sequence[str]) -> list[int] | None:
    """The slot of each particle's antiparticle (its own for a self-conjugate one), or
    None when an antiparticle is missing from the final state."""
    names = list(particle_names)
    try:
        pids = [pid_of(n) for n in names]
    except LatentsymError:
        return None
    order: list[int] = []
    used: set[int] = set()
    for i, pid in enumerate(pids):
        if pid in _SELF_CONJUGATE:
            order.append(i)
            used.add(i)
            continue
        anti = name_of(-pid)
        j = next((k for k, n in enumerate(names) if n == anti and k not in used), None)
        if j is None:
            return None
        order.append(j)
        used.add(j)
    return order


def discrete_candidates(particle_names: Sequence[str]) -> list[DiscreteCandidate]:
    """The discrete candidates of a topology.

    ``P_z`` and ``P`` always; ``C``, ``C*P_z`` and ``CP`` when every particle's
    antiparticle is in the final state (or the particle is its own); one ``swap(i,j)``
    per pair of identical particles.

    Example:
        >>> [c.name for c in discrete_candidates(["mu+", "mu-"])]
        ['P_z', 'P', 'C', 'C*P_z', 'CP']
        >>> [c.name for c in discrete_candidates(["g", "g", "g"])][-3:]
        ['swap(0,1)', 'swap(0,2)', 'swap(1,2)']
    """
    names = list(particle_names)
    out = [
        DiscreteCandidate("P_z", _parity((3,)), "reflection z -> -z of every momentum"),
        DiscreteCandidate("P", _parity((1, 2, 3)), "spatial inversion p -> -p"),
    ]
    order = _conjugate_order(names)
    if order is not None and order != list(range(len(names))):
        out += [
            DiscreteCandidate("C", _permute(order), "particle <-> antiparticle exchange"),
            DiscreteCandidate(
                "C*P_z", _permute(order, _parity((3,))), "C followed by the reflection z -> -z"
            ),
            DiscreteCandidate("CP", _permute(order, _parity((1, 2, 3))), "C and inversion"),
        ]
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if names[i] == names[j]:
                swap = list(range(len(names)))
                swap[i], swap[j] = j, i
                out.append(
                    DiscreteCandidate(
                        f"swap({i},{j})", _permute(swap), f"exchange of the two {names[i]}"
                    )
                )
    return out
