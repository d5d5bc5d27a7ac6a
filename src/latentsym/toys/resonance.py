"""Resonance toys: momenta ``[N, n, 4]`` (E, px, py, pz) in GeV with Breit-Wigner masses.

Every real process with a W, Z, H or top carries approximate constraints: the mass of the
decay products of a narrow resonance. These toys put one or two of them in known
kinematics, at a chosen relative width, so that the resolution-aware reading of
:mod:`latentsym.analysis.resolution` can be tested width by width. Particles come in
the order :func:`latentsym.physics.select_final_state` uses (PDG id ascending).

====================================  ===  ===========  ===  ==============================
toy                                    F    d (d_approx) r    constraints
====================================  ===  ===========  ===  ==============================
:func:`resonance_decay`                8    4 (3)        6    pT sum, 2 masses (m_ll approx)
:func:`ee_to_ww`                       16   8 (6)        12   4-momentum, 4 masses (2 m_lnu)
====================================  ===  ===========  ===  ==============================

(``d_approx`` is that of a narrow width: the ledger calls a pair mass approximate when its
robust relative width, about 1.48 Gamma/M for a Breit-Wigner in m^2, is at most 0.1, so
from Gamma/M of about 7 % on the mass counts as a free direction and ``d_approx = d``.)
"""

from __future__ import annotations

import numpy as np

from latentsym.errors import ConfigError
from latentsym.toys.checks import check_n, check_positive

__all__ = [
    "LEPTON_PAIR",
    "WW_FINAL_STATE",
    "W_MASS",
    "W_WIDTH",
    "breit_wigner",
    "ee_to_ww",
    "resonance_decay",
]

W_MASS = 80.377
"""W boson mass in GeV (PDG 2022)."""
W_WIDTH = 2.085
"""W boson width in GeV."""
LEPTON_PAIR: tuple[str, str] = ("e+", "e-")
"""Particle names of :func:`resonance_decay` (massless leptons), in order."""
WW_FINAL_STATE: tuple[str, str, str, str] = ("nu_mu~", "e+", "nu_e", "mu-")
"""Particle names of :func:`ee_to_ww` (W+ -> e+ nu_e, W- -> mu- nu_mu~), in order."""


def breit_wigner(
    rng: np.random.Generator, n: int, mass: float, width: float, window: tuple[float, float]
) -> np.ndarray:
    """``n`` masses (GeV) from a relativistic Breit-Wigner in ``s = m^2``,
    ``1 / ((s - M^2)^2 + M^2 Gamma^2)``, truncated to ``window``.

    Example:
        >>> m = breit_wigner(np.random.default_rng(0), 10000, 91.19, 2.5, (60.0, 120.0))
        >>> bool(60 <= m.min() and m.max() <= 120), round(float(np.median(m)), 1)
        (True, 91.2)
    """
    low, high = (float(w) for w in window)
    if not 0 <= low < high:
        raise ConfigError(
            f"breit_wigner: window must be (low, high), 0 <= low < high, got {window!r}"
        )
    check_positive(mass, "mass", "breit_wigner")
    check_positive(width, "width", "breit_wigner")
    mg = mass * width
    a, b = (np.arctan((w**2 - mass**2) / mg) for w in (low, high))
    return np.sqrt(mass**2 + mg * np.tan(rng.uniform(a, b, n)))


def _isotropic(rng: np.random.Generator, n: int) -> np.ndarray:
    cos_t = rng.uniform(-1.0, 1.0, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    sin_t = np.sqrt(1.0 - cos_t**2)
    return np.stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t], axis=-1)


def _massless_pair(mass: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Two massless particles back to back in their rest frame, ``[N, 2, 4]``; the
    second along ``direction``."""
    half = 0.5 * mass
    second = np.concatenate([half[:, None], direction * half[:, None]], axis=-1)
    first = np.concatenate([half[:, None], -direction * half[:, None]], axis=-1)
    return np.stack([first, second], axis=1)


def _boost(p: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Boost four-momenta ``[N, m, 4]`` by velocities ``beta`` ``[N, 3]`` (|beta| < 1)."""
    b2 = np.einsum("ni,ni->n", beta, beta)
    gamma = 1.0 / np.sqrt(1.0 - b2)
    bp = np.einsum("ni,nmi->nm", beta, p[..., 1:])
    coef = np.where(b2 > 0, (gamma - 1.0) / np.where(b2 > 0, b2, 1.0), 0.0)
    energy = gamma[:, None] * (p[..., 0] + bp)
    space = (
        p[..., 1:]
        + (coef[:, None] * bp)[..., None] * beta[:, None, :]
        + (gamma[:, None] * p[..., 0])[..., None] * beta[:, None, :]
    )
    return np.concatenate([energy[..., None], space], axis=-1)


def resonance_decay(
    n: int,
    width_ratio: float,
    *,
    mass: float = 91.1876,
    rapidity_width: float = 1.5,
    window: tuple[float, float] = (0.5, 1.5),
    seed: int = 0,
) -> np.ndarray:
    """A resonance produced in pp-like kinematics decays to two massless leptons.

    The resonance has zero transverse momentum and a Gaussian rapidity of width
    ``rapidity_width``; its mass follows a relativistic Breit-Wigner of width
    ``Gamma = width_ratio * mass`` truncated to ``window`` (in units of the mass); the
    decay is isotropic in its rest frame. Known answer (cartesian): F = 8, exact
    constraints sum_px, sum_py and the two lepton masses, so d = 4 (m, y, cos theta*,
    phi); for a narrow width the pair mass is approximate, d_approx = 3; r = 6.

    Args:
        n: number of events.
        width_ratio: Gamma / M (e.g. 0.001 to 0.3).
        mass: M in GeV.
        rapidity_width: standard deviation of the resonance's rapidity.
        window: (low, high) mass window in units of M.
        seed: random seed.

    Returns:
        ``[n, 2, 4]`` float64 momenta of (e+, e-) in the lab frame.

    Example:
        >>> p = resonance_decay(1000, 0.01)
        >>> q = p.sum(axis=1)
        >>> m = np.sqrt(q[:, 0] ** 2 - (q[:, 1:] ** 2).sum(axis=1))
        >>> bool(np.allclose(q[:, 1:3], 0.0)), round(float(np.median(m)), 0)
        (True, 91.0)
    """
    check_n(n, "resonance_decay")
    check_positive(width_ratio, "width_ratio", "resonance_decay")
    check_positive(rapidity_width, "rapidity_width", "resonance_decay")
    low, high = (float(w) for w in window)
    if not 0 < low < 1 < high:
        raise ConfigError(
            f"resonance_decay: window must be (low, high) in units of the mass with "
            f"0 < low < 1 < high, got {window!r}"
        )
    rng = np.random.default_rng(seed)
    m = breit_wigner(rng, n, mass, width_ratio * mass, (low * mass, high * mass))
    p = _massless_pair(m, _isotropic(rng, n))
    y = rng.normal(0.0, rapidity_width, n)
    beta = np.zeros((n, 3))
    beta[:, 2] = np.tanh(y)
    return _boost(p, beta)


def ee_to_ww(
    n: int,
    sqrt_s: float = 200.0,
    *,
    width_ratio: float = W_WIDTH / W_MASS,
    window: tuple[float, float] = (60.0, 100.0),
    seed: int = 0,
) -> np.ndarray:
    """e+ e- -> W+ W- -> e+ nu_e mu- nu_mu~ at fixed sqrt(s): four massless bodies.

    Each W mass follows a relativistic Breit-Wigner (M = 80.377 GeV, Gamma = width_ratio
    M) truncated to ``window`` (GeV; the two masses must fit below sqrt(s)); the W+
    direction is isotropic, and so is each decay in its W's rest frame (kinematics only, no
    matrix element). Known answer (cartesian): F = 16, exact constraints the total
    four-momentum and the four masses, d = 8; the two W masses are approximate,
    d_approx = 6; r = 12.

    Args:
        n: number of events.
        sqrt_s: centre-of-mass energy in GeV.
        width_ratio: Gamma / M of the W.
        window: (low, high) W mass window in GeV, ``2 high <= sqrt_s``.
        seed: random seed.

    Returns:
        ``[n, 4, 4]`` float64 momenta of (nu_mu~, e+, nu_e, mu-).

    Example:
        >>> p = ee_to_ww(100)
        >>> bool(np.allclose(p.sum(axis=1), [200.0, 0, 0, 0]))
        True
    """
    check_n(n, "ee_to_ww")
    check_positive(width_ratio, "width_ratio", "ee_to_ww")
    low, high = (float(w) for w in window)
    if not 0 < low < high or 2 * high > sqrt_s:
        raise ConfigError(
            f"ee_to_ww: window must be (low, high) GeV with 0 < low < high and 2 high <= "
            f"sqrt_s = {sqrt_s}, got {window!r}"
        )
    rng = np.random.default_rng(seed)
    gamma = width_ratio * W_MASS
    m_plus = breit_wigner(rng, n, W_MASS, gamma, window)
    m_minus = breit_wigner(rng, n, W_MASS, gamma, window)
    s = sqrt_s**2
    p_w = np.sqrt((s - (m_plus + m_minus) ** 2) * (s - (m_plus - m_minus) ** 2)) / (2 * sqrt_s)
    axis = _isotropic(rng, n)
    e_plus = np.sqrt(p_w**2 + m_plus**2)
    e_minus = np.sqrt(p_w**2 + m_minus**2)
    w_plus = _boost(_massless_pair(m_plus, _isotropic(rng, n)), axis * (p_w / e_plus)[:, None])
    w_minus = _boost(_massless_pair(m_minus, _isotropic(rng, n)), -axis * (p_w / e_minus)[:, None])
    # W+ -> (e+, nu_e), W- -> (nu_mu~, mu-); order by PDG id: nu_mu~, e+, nu_e, mu-
    return np.stack([w_minus[:, 0], w_plus[:, 0], w_plus[:, 1], w_minus[:, 1]], axis=1)
