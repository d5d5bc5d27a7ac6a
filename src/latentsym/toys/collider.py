"""Collider toys with known dimensions: momenta ``[N, n, 4]`` ordered (E, px, py, pz) in GeV.

Particles come in the order :func:`latentsym.physics.select_final_state` uses (PDG id
ascending), so ``mu+`` (-13) precedes ``mu-`` (13). Expected values with the cartesian
features (E, px, py, pz per particle), for the manifold dimension ``d``, the dimension with
approximate constraints ``d_approx`` and the linear rank ``r``:

========================================  ===  ==========  ===  ===========================
toy                                        F    d           r    constraints
========================================  ===  ==========  ===  ===========================
:func:`ee_to_mumu` (fixed sqrt(s))         8    2           3    4-momentum, 2 masses
:func:`pp_to_mumu` (LO, BW mass window)    8    4 (3)       6    pT sum, 2 masses (m_mumu)
:func:`flat_phase_space` (n bodies)        4n   3n - 4      4n-4 4-momentum, n masses
========================================  ===  ==========  ===  ===========================

(``r`` of ``ee_to_mumu`` is 3 because the two energies are constant and the three momentum
components of the muons are opposite.)
"""

from __future__ import annotations

import numpy as np

from latentsym.errors import ConfigError
from latentsym.toys.checks import check_n, check_positive

__all__ = [
    "MUON_MASS",
    "MUON_PAIR",
    "Z_MASS",
    "Z_WIDTH",
    "ee_to_mumu",
    "flat_phase_space",
    "pp_to_mumu",
]

MUON_MASS = 0.1056583755
"""Muon mass in GeV (PDG 2022)."""
Z_MASS = 91.1876
"""Z boson mass in GeV."""
Z_WIDTH = 2.4952
"""Z boson width in GeV."""
MUON_PAIR: tuple[str, str] = ("mu+", "mu-")
"""Particle names of the two-muon toys, in order."""


def _cos_theta_1pc2(u: np.ndarray) -> np.ndarray:
    # Inverse CDF of (1 + c^2) on [-1, 1]: F(c) = (c^3 + 3c + 4) / 8; Cardano's root of
    # c^3 + 3c - (8u - 4) = 0 (one real root since the discriminant is positive).
    h = 4.0 * u - 2.0
    root = np.sqrt(h * h + 1.0)
    return np.cbrt(h + root) + np.cbrt(h - root)


def _back_to_back(mass_pair: np.ndarray, cos_t: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Two muons in the pair rest frame, ``[N, 2, 4]``; ``mu-`` along (theta, phi)."""
    p = np.sqrt(np.maximum(0.25 * mass_pair**2 - MUON_MASS**2, 0.0))
    e = np.sqrt(p**2 + MUON_MASS**2)
    sin_t = np.sqrt(np.maximum(1.0 - cos_t**2, 0.0))
    vec = np.stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t], axis=-1) * p[:, None]
    mu_minus = np.concatenate([e[:, None], vec], axis=-1)
    mu_plus = np.concatenate([e[:, None], -vec], axis=-1)
    return np.stack([mu_plus, mu_minus], axis=1)


def ee_to_mumu(n: int, sqrt_s: float = 91.2, seed: int = 0) -> np.ndarray:
    """e+ e- -> mu+ mu- at fixed sqrt(s) in the centre-of-mass frame.

    The polar angle of the ``mu-`` follows ``1 + cos^2(theta)`` (pure vector coupling,
    no forward-backward asymmetry), the azimuth is flat; muons have their physical mass.
    Known answer (cartesian): F = 8, d = 2 (theta, phi), r = 3.

    Args:
        n: number of events.
        sqrt_s: centre-of-mass energy in GeV (above twice the muon mass).
        seed: random seed.

    Returns:
        ``[n, 2, 4]`` float64 momenta of (mu+, mu-).

    Example:
        >>> p = ee_to_mumu(10)
        >>> bool(np.allclose(p.sum(axis=1), [91.2, 0, 0, 0]))
        True
    """
    check_n(n, "ee_to_mumu")
    check_positive(sqrt_s - 2.0 * MUON_MASS, "sqrt_s - 2 m_mu", "ee_to_mumu")
    rng = np.random.default_rng(seed)
    cos_t = _cos_theta_1pc2(rng.uniform(size=n))
    phi = rng.uniform(-np.pi, np.pi, n)
    return _back_to_back(np.full(n, float(sqrt_s)), cos_t, phi)


def _breit_wigner_mass(rng: np.random.Generator, n: int, window: tuple[float, float]) -> np.ndarray:
    # Relativistic Breit-Wigner in s = m^2, ~ 1 / ((s - M^2)^2 + M^2 G^2), truncated.
    mg = Z_MASS * Z_WIDTH
    a, b = (np.arctan((w**2 - Z_MASS**2) / mg) for w in window)
    return np.sqrt(Z_MASS**2 + mg * np.tan(rng.uniform(a, b, n)))


def pp_to_mumu(
    n: int,
    seed: int = 0,
    *,
    mass_window: tuple[float, float] = (60.0, 120.0),
    rapidity_width: float = 1.5,
) -> np.ndarray:
    """A leading-order stand-in for p p -> Z -> mu+ mu- (no parton density calculation).

    The pair mass follows a relativistic Breit-Wigner (M = 91.1876 GeV, Gamma = 2.4952 GeV)
    truncated to ``mass_window``; the pair has zero transverse momentum and a Gaussian
    rapidity of width ``rapidity_width``; the decay angle follows ``1 + cos^2(theta*)``
    with a flat azimuth. Known answer (cartesian): F = 8, exact constraints sum_px, sum_py
    and the two muon masses, so d = 4 (m, y, cos theta*, phi); the pair mass is an
    approximate constraint, so d_approx = 3; r = 6 (px and py of the muons are opposite).

    Args:
        n: number of events.
        seed: random seed.
        mass_window: (low, high) pair mass window in GeV.
        rapidity_width: standard deviation of the pair rapidity.

    Returns:
        ``[n, 2, 4]`` float64 momenta of (mu+, mu-) in the lab frame.

    Example:
        >>> p = pp_to_mumu(10)
        >>> bool(np.allclose(p[:, :, 1:3].sum(axis=1), 0.0))
        True
    """
    check_n(n, "pp_to_mumu")
    low, high = (float(w) for w in mass_window)
    if not 2.0 * MUON_MASS < low < high:
        raise ConfigError(
            f"pp_to_mumu: mass_window must be (low, high) with 2 m_mu < low < high, "
            f"got {mass_window!r}"
        )
    check_positive(rapidity_width, "rapidity_width", "pp_to_mumu")
    rng = np.random.default_rng(seed)
    mass = _breit_wigner_mass(rng, n, (low, high))
    y = rng.normal(0.0, rapidity_width, n)
    cos_t = _cos_theta_1pc2(rng.uniform(size=n))
    phi = rng.uniform(-np.pi, np.pi, n)
    p = _back_to_back(mass, cos_t, phi)
    ch, sh = np.cosh(y)[:, None], np.sinh(y)[:, None]
    e, pz = p[..., 0].copy(), p[..., 3].copy()
    p[..., 0] = e * ch + pz * sh
    p[..., 3] = pz * ch + e * sh
    return p


def flat_phase_space(n: int, n_bodies: int = 3, sqrt_s: float = 100.0, seed: int = 0) -> np.ndarray:
    """Massless n-body phase space at fixed sqrt(s), flat (RAMBO, unit weights).

    RAMBO (Kleiss, Stirling, Ellis, Comput. Phys. Commun. 40 (1986) 359): draw n isotropic
    massless momenta with energies ``-log(u1 u2)``, then boost and rescale them so that
    their sum is ``(sqrt_s, 0, 0, 0)``. For massless particles every event has the same
    weight, so the events are distributed flat in Lorentz-invariant phase space; for
    three bodies the Dalitz plot (m12^2, m23^2) is uniform over its triangle.
    Known answer (cartesian): F = 4n, d = 3n - 4, r = 4n - 4 (d = 5, r = 8 for n = 3).

    Args:
        n: number of events.
        n_bodies: number of final-state particles (at least 2).
        sqrt_s: centre-of-mass energy in GeV.
        seed: random seed.

    Returns:
        ``[n, n_bodies, 4]`` float64 momenta.

    Example:
        >>> p = flat_phase_space(5, 3, 100.0)
        >>> bool(np.allclose(p.sum(axis=1), [100.0, 0, 0, 0]))
        True
    """
    check_n(n, "flat_phase_space")
    if isinstance(n_bodies, bool) or not isinstance(n_bodies, int) or n_bodies < 2:
        raise ConfigError(f"flat_phase_space: n_bodies must be an integer >= 2, got {n_bodies!r}")
    check_positive(sqrt_s, "sqrt_s", "flat_phase_space")
    rng = np.random.default_rng(seed)
    u = rng.uniform(size=(4, n, n_bodies))
    cos_t = 2.0 * u[0] - 1.0
    sin_t = np.sqrt(1.0 - cos_t**2)
    phi = 2.0 * np.pi * u[1]
    q0 = -np.log(u[2] * u[3])
    q = np.stack([q0, q0 * sin_t * np.cos(phi), q0 * sin_t * np.sin(phi), q0 * cos_t], -1)
    total = q.sum(axis=1)  # [n, 4]
    mass = np.sqrt(total[:, 0] ** 2 - (total[:, 1:] ** 2).sum(-1))
    b = -total[:, 1:] / mass[:, None]  # [n, 3]
    gamma = total[:, 0] / mass
    a = 1.0 / (1.0 + gamma)
    x = sqrt_s / mass
    bq = (b[:, None, :] * q[..., 1:]).sum(-1)  # [n, bodies]
    p0 = x[:, None] * (gamma[:, None] * q[..., 0] + bq)
    pv = x[:, None, None] * (
        q[..., 1:] + b[:, None, :] * (q[..., :1] + a[:, None, None] * bq[..., None])
    )
    return np.concatenate([p0[..., None], pv], axis=-1)
