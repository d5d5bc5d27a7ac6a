"""Geometric toys with known intrinsic dimension ``d`` and linear rank ``r``.

Every function returns a float64 array ``[n, D]`` of points in ``R^D``.

========================  ===  ===  =====================================
toy                        d    r    symmetry
========================  ===  ===  =====================================
:func:`circle`             1    2    O(2)
:func:`sphere`             2    3    O(3)
:func:`torus`              2    3    U(1) x U(1), embedded in R^3
:func:`oscillators`        2    4    two decoupled harmonic oscillators
========================  ===  ===  =====================================
"""

from __future__ import annotations

import numpy as np

from latentsym.errors import ConfigError
from latentsym.toys.checks import check_n, check_positive

__all__ = ["circle", "oscillators", "sphere", "torus"]


def circle(n: int, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """Points on the unit circle, uniform in angle (d = 1, r = 2).

    Args:
        n: number of points.
        noise: standard deviation of isotropic Gaussian noise added to each coordinate.
        seed: random seed.

    Returns:
        ``[n, 2]`` float64 array.

    Example:
        >>> x = circle(100, seed=1)
        >>> bool(np.allclose((x**2).sum(1), 1.0))
        True
    """
    check_n(n, "circle")
    if noise < 0:
        raise ConfigError(f"circle: noise must be >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    x = np.stack([np.cos(phi), np.sin(phi)], axis=1)
    if noise > 0:
        x = x + rng.normal(0.0, noise, size=x.shape)
    return x


def sphere(n: int, seed: int = 0) -> np.ndarray:
    """Points uniform on the unit 2-sphere in ``R^3`` (d = 2, r = 3).

    Example:
        >>> x = sphere(100)
        >>> bool(np.allclose(np.linalg.norm(x, axis=1), 1.0))
        True
    """
    check_n(n, "sphere")
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def torus(n: int, major: float = 2.0, minor: float = 1.0, seed: int = 0) -> np.ndarray:
    """Points on a torus of revolution in ``R^3``, uniform in both angles (d = 2, r = 3).

    Args:
        n: number of points.
        major: distance from the centre of the tube to the axis of revolution.
        minor: radius of the tube (smaller than ``major``).
        seed: random seed.

    Returns:
        ``[n, 3]`` float64 array.

    Example:
        >>> torus(5).shape
        (5, 3)
    """
    check_n(n, "torus")
    check_positive(major, "major", "torus")
    check_positive(minor, "minor", "torus")
    if minor >= major:
        raise ConfigError(f"torus: minor radius {minor} must be smaller than major {major}")
    rng = np.random.default_rng(seed)
    u, v = rng.uniform(0.0, 2.0 * np.pi, (2, n))
    ring = major + minor * np.cos(v)
    return np.stack([ring * np.cos(u), ring * np.sin(u), minor * np.sin(v)], axis=1)


def oscillators(n: int, energies: tuple[float, float] = (1.0, 2.0), seed: int = 0) -> np.ndarray:
    """Phase-space points of two decoupled unit-mass, unit-frequency oscillators.

    Each oscillator keeps its energy ``E_k = (x_k^2 + p_k^2) / 2``, so the points lie on a
    torus ``S^1 x S^1`` in ``R^4`` (d = 2, r = 4); the phases are uniform.

    Returns:
        ``[n, 4]`` float64 array ordered ``(x1, p1, x2, p2)``.

    Example:
        >>> z = oscillators(10, energies=(1.0, 2.0))
        >>> bool(np.allclose(0.5 * (z[:, 2] ** 2 + z[:, 3] ** 2), 2.0))
        True
    """
    check_n(n, "oscillators")
    for k, e in enumerate(energies):
        check_positive(e, f"energies[{k}]", "oscillators")
    rng = np.random.default_rng(seed)
    cols = []
    for e in energies:
        phase = rng.uniform(0.0, 2.0 * np.pi, n)
        amp = np.sqrt(2.0 * e)
        cols += [amp * np.cos(phase), amp * np.sin(phase)]
    return np.stack(cols, axis=1)
