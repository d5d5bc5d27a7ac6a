"""Discovery of symmetry generators without candidates: a cheap, first-order search.

A flow ``exp(t G)`` keeps a distribution when, for every test function ``phi``,
``E[phi(exp(t G) x)] = E[phi(x)]``; to first order in ``t`` that is
``E[grad phi(x) . T_G(x)] = 0`` with ``T_G`` the generator's vector field in the
standardised features (the weak form of ``div(p T_G) = 0``, which needs no density
estimate). ``T_G`` is linear in the generator's coefficients ``c``, so with a set of
test functions ``phi_k`` the invariance loss is a quadratic form,

    ``L(c) = (1 / K) sum_k (b_k . c)^2 / s_k``,  ``b_k[a] = mean_x grad phi_k(x) . T_a(x)``,

with ``s_k = mean_x |grad phi_k|^2`` (each test function on the same footing). The test
functions are the monomials of the standardised features of degree 1 to ``degree``
(4 by default: a torus of two oscillators is only told apart from a rotation that
mixes them by a quartic; the degree is lowered until at most ``max_terms`` monomials are
left). With the exact constraints as a penalty ``penalty * c^T Q c`` (``Q`` the Gram
matrix of :func:`~latentsym.analysis.generators.manifold_algebra`) and the
normalisation ``||c|| = 1``, the minimiser is the eigenvector of ``M + penalty Q`` with
the smallest eigenvalue; the next one orthogonal to it is the next eigenvector, and so
on. Two search spaces:

- **Lorentz** (collider events, :func:`discover_lorentz`): ``c`` the six coefficients of
  ``G = sum_a c_a G_a`` (``T_a`` from
  :func:`~latentsym.analysis.generators.tangent_vectors`), the loss taken on the
  standardised cartesian momenta whatever the model's features (the collider features
  wrap the azimuth, where a polynomial test function jumps); the acceptance test uses the
  model's features;
- **gl(F)** (any point cloud, :func:`discover_linear`): ``G`` any ``F x F`` matrix on the
  standardised features, ``T_{ij}(z) = e_i z_j``, Frobenius norm 1.

Each generator, in order of increasing loss, is then tested with its finite flow on the
whole sample by the two-sample test of :mod:`latentsym.analysis.distribution_symmetry`
(energy distance; for collider events also the KS tests of the observables on all
events); the search stops at the first generator that test calls broken. Each is reported
with ``|cos|`` to the nearest named generator (both normalised), and the named generators'
projections onto the span of those found.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from latentsym._frozen import Replaceable
from latentsym._json import json_safe
from latentsym.analysis.distribution_symmetry import (
    TwoSampleOptions,
    energy_test,
    generator_test,
)
from latentsym.analysis.generators import LORENTZ_NAMES, tangent_vectors
from latentsym.errors import ConfigError, SchemaError
from latentsym.features.representations import get_representation
from latentsym.features.scaler import Scaler

__all__ = [
    "Discovery",
    "DiscoveryOptions",
    "FoundGenerator",
    "discover_linear",
    "discover_lorentz",
    "monomial_gradients",
]

_MIN_NORM = 1e-300
_NULL_TOL = 1e-9


_MIN_NORM = 1e-300
_NULL_TOL = 1e-9


@dataclass(frozen=True)
class DiscoveryOptions(Replaceable):
    """Settings of :func:`discover_lorentz` and :func:`discover_linear`.

    Attributes:
        n_generators: generators to look for at most.
        n_events: events the loss is averaged over (a random subsample).
        degree: highest degree of the monomial test functions.
        max_terms: at most this many monomials (the degree is lowered until they fit).
        penalty: weight of the exact-constraint penalty (Lorentz space); ``inf``
            (default) is its limit: the search runs inside the null space of the penalty,
            the manifold algebra, so that no found generator breaks an exact constraint by
            a rounding-size amount (a boost component of 1e-7 gives a pp sample a
            transverse momentum, which the observable test sees at once).
        tests: the acceptance test of each found generator (its flow parameter ranges
            are those of the distribution tests).
        seed: seed of the subsample.
    """

    n_generators: int = 2
    n_events: int = 2000
    degree: int = 4
    max_terms: int = 600
    penalty: float = math.inf
    tests: TwoSampleOptions = field(default_factory=TwoSampleOptions)
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_generators", "n_events", "degree", "max_terms"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if not (isinstance(self.penalty, int | float) and self.penalty >= 0):
            raise ConfigError(f"penalty must be a number >= 0, got {self.penalty!r}")


@dataclass(frozen=True)
class FoundGenerator:
    """One learned generator.

    Attributes:
        coefficients: the generator, flattened (six Lorentz coefficients, or the ``F x F``
            matrix row by row), unit norm, sign fixed so that the nearest named generator
            has a positive cosine.
        loss: the first-order invariance loss ``c^T M c``.
        penalty: the constraint penalty ``c^T Q c`` (0 for gl(F)).
        nearest: the nearest named generator.
        cosine: ``|cos|`` to it.
        cosines: ``|cos|`` to every named generator.
        pvalue: the acceptance test's p-value (finite flow, whole sample).
        invariant: whether the test keeps it.
    """

    coefficients: tuple[float, ...]
    loss: float
    penalty: float
    nearest: str
    cosine: float
    cosines: dict[str, float]
    pvalue: float
    invariant: bool


@dataclass(frozen=True)
class Discovery:
    """The generators a search found.

    Attributes:
        space: ``"lorentz"`` or ``"gl(F)"``.
        generators: every generator tested, in order of increasing loss; the search stops
            after the first one its test calls broken.
        found: how many are invariant (the leading ones).
        named_in_span: for every named generator, the length of its (normalised)
            projection onto the span of the invariant generators found.
        spectrum: every eigenvalue of the loss (with the penalty), ascending.
        degree: the degree of the test functions used; n_terms: their number.
    """

    space: str
    generators: tuple[FoundGenerator, ...]
    found: int
    named_in_span: dict[str, float]
    spectrum: tuple[float, ...]
    degree: int
    n_terms: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return json_safe(asdict(self))


def _exponents(n_vars: int, degree: int, max_terms: int) -> np.ndarray:
    while degree > 1 and math.comb(n_vars + degree, degree) - 1 > max_terms:
        degree -= 1
    rows = [
        np.bincount(np.asarray(combo, dtype=int), minlength=n_vars)
        for d in range(1, degree + 1)
        for combo in itertools.combinations_with_replacement(range(n_vars), d)
    ]
    return np.array(rows, dtype=int)


def monomial_gradients(z: np.ndarray, exponents: np.ndarray) -> np.ndarray:
    """Gradients ``[N, K, F]`` of the monomials ``prod_f z_f^e_kf`` at points ``[N, F]``.

    Example:
        >>> g = monomial_gradients(np.array([[2.0, 3.0]]), np.array([[1, 0], [1, 1], [0, 2]]))
        >>> g[0].tolist()
        [[1.0, 0.0], [3.0, 2.0], [0.0, 6.0]]
    """
    top = int(exponents.max()) if exponents.size else 0
    powers = z[:, :, None] ** np.arange(top + 1)  # [N, F, D + 1]
    f_idx = np.arange(z.shape[1])
    factors = powers[:, f_idx, exponents]  # [N, K, F]
    lowered = powers[:, f_idx, np.maximum(exponents - 1, 0)] * exponents  # d/dz_f of factor f
    left = np.cumprod(np.concatenate([np.ones_like(factors[:, :, :1]), factors[:, :, :-1]], 2), 2)
    right = np.cumprod(
        np.concatenate([np.ones_like(factors[:, :, :1]), factors[:, :, :0:-1]], 2), 2
    )[:, :, ::-1]
    return left * right * lowered


def _loss_matrix(grads: np.ndarray, tangents: np.ndarray) -> np.ndarray:
    """``M = (1 / K) sum_k b_k b_k^T / s_k`` from ``[N, K, F]`` and ``[N, A, F]``."""
    b = np.einsum("nkf,naf->ka", grads, tangents) / len(grads)
    s = np.mean(np.sum(grads**2, axis=2), axis=0)
    b = b / np.sqrt(np.maximum(s, _MIN_NORM))[:, None]
    return b.T @ b / len(b)


def _name(
    c: np.ndarray, named: Mapping[str, np.ndarray]
) -> tuple[np.ndarray, str, float, dict[str, float]]:
    cos = {k: float(c @ v / (np.linalg.norm(v) or 1.0)) for k, v in named.items()}
    nearest = max(cos, key=lambda k: abs(cos[k])) if cos else ""
    if nearest and cos[nearest] < 0:
        c, cos = -c, {k: -v for k, v in cos.items()}
    return c, nearest, abs(cos[nearest]) if nearest else 0.0, {k: abs(v) for k, v in cos.items()}


def _in_span(found: list[np.ndarray], named: Mapping[str, np.ndarray]) -> dict[str, float]:
    if not found:
        return dict.fromkeys(named, 0.0)
    q, _ = np.linalg.qr(np.array(found).T)
    return {k: float(np.linalg.norm(q.T @ (v / np.linalg.norm(v)))) for k, v in named.items()}


def _run(
    matrices: tuple[np.ndarray, np.ndarray, float],
    named: Mapping[str, np.ndarray],
    accept: Callable[[np.ndarray], tuple[float, bool]],
    space: str,
    terms: tuple[int, int],
    n_generators: int,
) -> Discovery:
    loss, gram, penalty = matrices
    if math.isinf(penalty):  # the limit of a large penalty: search inside the null space
        g_val, g_vec = np.linalg.eigh(gram)
        null = g_vec[:, g_val <= _NULL_TOL * max(float(g_val.max()), _MIN_NORM)]
        values, inner = np.linalg.eigh(null.T @ loss @ null)
        vectors = null @ inner
    else:
        values, vectors = np.linalg.eigh(loss + penalty * gram)
    found: list[np.ndarray] = []
    out: list[FoundGenerator] = []
    for k in range(min(n_generators, len(values))):
        c, nearest, cosine, cosines = _name(vectors[:, k], named)
        pvalue, invariant = accept(c)
        out.append(FoundGenerator(tuple(float(v) for v in c), float(c @ loss @ c),
                                  float(c @ gram @ c), nearest, cosine, cosines, pvalue,
                                  invariant))  # fmt: skip
        if not invariant:
            break
        found.append(c)
    return Discovery(
        space=space,
        generators=tuple(out),
        found=len(found),
        named_in_span=_in_span(found, named),
        spectrum=tuple(float(v) for v in values),
        degree=int(terms[0]),
        n_terms=int(terms[1]),
    )


def _subsample(n_total: int, n: int, seed: int) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).permutation(n_total)[: min(n, n_total)])


def discover_lorentz(
    momenta: np.ndarray,
    particle_names: Sequence[str],
    scaler: Scaler,
    representation: str = "cartesian",
    gram: np.ndarray | None = None,
    options: DiscoveryOptions | None = None,
) -> Discovery:
    """Learn Lorentz generators that keep a sample's distribution.

    Args:
        momenta: ``[N, n, 4]`` (E, px, py, pz) in GeV.
        particle_names: their names.
        scaler: the feature standardisation.
        representation: ``"cartesian"`` or ``"collider"``.
        gram: ``[6, 6]`` exact-constraint penalty matrix
            (:attr:`~latentsym.analysis.generators.ManifoldAlgebra.gram_array`); None: no
            penalty.
        options: :class:`DiscoveryOptions`.

    Returns:
        A :class:`Discovery` over the space ``"lorentz"``, named by the six generators.

    Example:
        >>> from latentsym.toys import MUON_PAIR, ee_to_mumu
        >>> p = ee_to_mumu(2000)
        >>> sc = Scaler.fit(p.reshape(len(p), -1))
        >>> opts = DiscoveryOptions(tests=TwoSampleOptions(n_events=400, n_permutations=300))
        >>> d = discover_lorentz(p, MUON_PAIR, sc, options=opts)
        >>> d.generators[0].nearest, d.generators[0].cosine > 0.99, d.generators[0].invariant
        ('J_z', True, True)
    """
    opts = options if options is not None else DiscoveryOptions()
    p = np.asarray(momenta, dtype=np.float64)
    names = tuple(particle_names)
    if p.ndim != 3 or p.shape[1:] != (len(names), 4) or len(p) < 4:
        raise SchemaError(
            f"discover_lorentz: momenta [N >= 4, {len(names)}, 4] expected, got {p.shape}"
        )
    rep = get_representation(representation)
    q = np.zeros((6, 6)) if gram is None else np.asarray(gram, dtype=np.float64)
    if q.shape != (6, 6):
        raise ConfigError(f"discover_lorentz: gram must be 6 x 6, got shape {q.shape}")
    sub = p[_subsample(len(p), opts.n_events, opts.seed)]
    # the loss is taken on the standardised cartesian momenta whatever the features: the
    # collider features wrap the azimuth at +-pi, where a monomial test function jumps and
    # the weak form of the invariance fails (J_z would read as broken)
    x = sub.reshape(len(sub), -1)
    std = x.std(axis=0)
    varying = std > 1e-9 * (np.abs(x).mean(axis=0) + 1.0)
    cart_scale = np.where(varying, std, 1.0)
    z = (x - x.mean(axis=0)) / cart_scale
    exps = _exponents(int(varying.sum()), opts.degree, opts.max_terms)
    grads = monomial_gradients(z[:, varying], exps)
    tangents = tangent_vectors(sub, "cartesian", cart_scale)[:, :, varying]
    named = dict(zip(LORENTZ_NAMES, np.eye(6), strict=True))

    def accept(c: np.ndarray) -> tuple[float, bool]:
        test = generator_test(p, names, scaler, rep.name, c, opts.tests)
        return test.pvalue, test.invariant

    penalty = opts.penalty if gram is not None else 0.0
    matrices = (_loss_matrix(grads, tangents), q, penalty)
    degree = int(exps.sum(axis=1).max())
    return _run(matrices, named, accept, "lorentz", (degree, len(exps)), opts.n_generators)


def discover_linear(
    points: np.ndarray,
    named: Mapping[str, np.ndarray] | None = None,
    options: DiscoveryOptions | None = None,
) -> Discovery:
    """Learn linear generators (gl(F)) that keep a point cloud's distribution.

    The points are standardised first (:class:`~latentsym.features.Scaler`); a named
    generator ``G`` of the raw coordinates acts as ``S^-1 G S`` on the standardised ones
    (``S`` the diagonal of scales) and is compared there. The acceptance test flows the
    standardised points by ``exp(t G)``, ``t`` uniform over ``tests.rotation_range``.

    Args:
        points: ``[N, F]`` points (a toy, or features).
        named: ``{name: [F, F] matrix}`` generators to name the found ones by.
        options: :class:`DiscoveryOptions`.

    Returns:
        A :class:`Discovery` over ``"gl(F)"``; coefficients are the ``F x F`` matrix in
        standardised coordinates, row by row.

    Example:
        >>> from latentsym.toys import circle
        >>> rot = np.array([[0.0, -1.0], [1.0, 0.0]])
        >>> opts = DiscoveryOptions(tests=TwoSampleOptions(n_events=400, n_permutations=300))
        >>> d = discover_linear(circle(2000), {"rotation": rot}, opts)
        >>> d.found, d.generators[0].cosine > 0.99, d.generators[1].invariant
        (1, True, False)
    """
    opts = options if options is not None else DiscoveryOptions()
    x = np.asarray(points, dtype=np.float64)
    if x.ndim != 2 or len(x) < 4 or not np.all(np.isfinite(x)):
        raise SchemaError(
            f"discover_linear: finite points [N >= 4, F] expected, got shape {x.shape}"
        )
    f = x.shape[1]
    sc = Scaler.fit(x)
    z = sc.transform(x)
    sub = z[_subsample(len(z), opts.n_events, opts.seed)]
    exps = _exponents(f, opts.degree, opts.max_terms)
    grads = monomial_gradients(sub, exps)
    tangents = np.zeros((len(sub), f * f, f))  # T_{ij}(z) = e_i z_j
    for i in range(f):
        tangents[:, i * f : (i + 1) * f, i] = sub
    names: dict[str, np.ndarray] = {}
    for key, g in (named or {}).items():
        mat = np.asarray(g, dtype=np.float64)
        if mat.shape != (f, f):
            raise ConfigError(f"named generator {key!r} must be {f} x {f}, got {mat.shape}")
        names[key] = (np.diag(1.0 / sc.scale) @ mat @ np.diag(sc.scale)).ravel()
    tests = opts.tests

    def accept(c: np.ndarray) -> tuple[float, bool]:
        order = np.random.default_rng(tests.seed).permutation(len(z))
        n = min(tests.n_events, len(z) // 2)
        ja, jb = order[:n], order[n : 2 * n]
        t = np.random.default_rng([tests.seed, 2]).uniform(
            -tests.rotation_range, tests.rotation_range, n
        )
        expm = torch.linalg.matrix_exp(torch.from_numpy(t[:, None, None] * c.reshape(f, f)))
        moved = np.einsum("nij,nj->ni", expm.numpy(), z[jb])
        test = energy_test(z[ja], moved, tests.n_permutations, seed=tests.seed + 1)
        return test.pvalue, test.pvalue > tests.alpha

    matrices = (_loss_matrix(grads, tangents), np.zeros((f * f, f * f)), 0.0)
    degree = int(exps.sum(axis=1).max())
    return _run(matrices, names, accept, "gl(F)", (degree, len(exps)), opts.n_generators)
