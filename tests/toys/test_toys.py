"""Known-answer toys: the geometry and physics they promise."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from latentsym.errors import ConfigError
from latentsym.toys import (
    MUON_MASS,
    Z_MASS,
    circle,
    ee_to_mumu,
    flat_phase_space,
    oscillators,
    pp_to_mumu,
    sphere,
    torus,
)


def _mass2(p: np.ndarray) -> np.ndarray:
    return p[..., 0] ** 2 - (p[..., 1:] ** 2).sum(-1)


def test_geometric_toys_lie_on_their_manifolds() -> None:
    assert np.allclose((circle(500) ** 2).sum(1), 1.0)
    assert np.allclose(np.linalg.norm(sphere(500), axis=1), 1.0)
    t = torus(500, major=2.0, minor=0.5)
    assert np.allclose((np.hypot(t[:, 0], t[:, 1]) - 2.0) ** 2 + t[:, 2] ** 2, 0.25)
    z = oscillators(500, energies=(1.0, 3.0))
    assert np.allclose(0.5 * (z[:, 0] ** 2 + z[:, 1] ** 2), 1.0)
    assert np.allclose(0.5 * (z[:, 2] ** 2 + z[:, 3] ** 2), 3.0)
    noisy = circle(2000, noise=0.1, seed=3)
    assert np.std(np.linalg.norm(noisy, axis=1) - 1.0) == pytest.approx(0.1, rel=0.1)


def test_sphere_is_uniform() -> None:
    z = sphere(20000, seed=1)[:, 2]
    assert stats.kstest(z, "uniform", args=(-1, 2)).pvalue > 0.01


def test_seeds_reproduce() -> None:
    assert np.array_equal(ee_to_mumu(10, seed=4), ee_to_mumu(10, seed=4))
    assert not np.array_equal(ee_to_mumu(10, seed=4), ee_to_mumu(10, seed=5))


def test_ee_to_mumu_kinematics_and_angular_distribution() -> None:
    p = ee_to_mumu(20000, sqrt_s=91.2, seed=2)
    assert np.allclose(p.sum(axis=1), [91.2, 0.0, 0.0, 0.0], atol=1e-12)
    assert np.allclose(_mass2(p), MUON_MASS**2, atol=1e-9)
    cos_t = p[:, 1, 3] / np.linalg.norm(p[:, 1, 1:], axis=1)
    # (1 + c^2) on [-1, 1]: CDF (c^3 + 3c + 4) / 8, <c^2> = 0.4.
    assert stats.kstest(cos_t, lambda c: (c**3 + 3 * c + 4) / 8).pvalue > 0.01
    assert np.mean(cos_t**2) == pytest.approx(0.4, abs=0.01)
    phi = np.arctan2(p[:, 1, 2], p[:, 1, 1])
    assert stats.kstest(phi, "uniform", args=(-np.pi, 2 * np.pi)).pvalue > 0.01


def test_pp_to_mumu_kinematics() -> None:
    p = pp_to_mumu(20000, seed=3, mass_window=(60.0, 120.0), rapidity_width=1.5)
    assert np.allclose(p[:, :, 1:3].sum(axis=1), 0.0, atol=1e-12)
    assert np.allclose(_mass2(p) / p[..., 0] ** 2, MUON_MASS**2 / p[..., 0] ** 2, atol=1e-13)
    pair = p.sum(axis=1)
    m = np.sqrt(_mass2(pair))
    assert m.min() >= 60.0 - 1e-9
    assert m.max() <= 120.0 + 1e-9
    assert np.median(m) == pytest.approx(Z_MASS, abs=0.3)
    # Breit-Wigner: interquartile range = Gamma (a little less after the truncation).
    assert np.percentile(m, 75) - np.percentile(m, 25) == pytest.approx(2.4952, rel=0.1)
    y = 0.5 * np.log((pair[:, 0] + pair[:, 3]) / (pair[:, 0] - pair[:, 3]))
    assert np.std(y) == pytest.approx(1.5, rel=0.03)
    assert np.std(pair[:, 3]) > 50.0  # longitudinal boosts, so sum_pz varies


@pytest.mark.parametrize("n_bodies", [3, 5])
def test_rambo_conserves_momentum_and_is_massless(n_bodies: int) -> None:
    p = flat_phase_space(2000, n_bodies, 250.0, seed=1)
    assert p.shape == (2000, n_bodies, 4)
    assert np.allclose(p.sum(axis=1), [250.0, 0, 0, 0], atol=1e-9)
    assert np.allclose(_mass2(p) / p[..., 0] ** 2, 0.0, atol=1e-12)
    assert (p[..., 0] > 0).all()


def test_rambo_three_body_dalitz_plot_is_flat() -> None:
    s = 100.0**2
    p = flat_phase_space(20000, 3, 100.0, seed=5)
    x = _mass2(p[:, 0] + p[:, 1]) / s
    y = _mass2(p[:, 1] + p[:, 2]) / s
    # Uniform on the triangle x, y >= 0, x + y <= 1: marginal density 2(1 - x) and, given x,
    # y / (1 - x) uniform on [0, 1].
    assert stats.kstest(x, lambda t: 1 - (1 - t) ** 2).pvalue > 0.01
    assert stats.kstest(y / (1 - x), "uniform").pvalue > 0.01
    counts, _, _ = np.histogram2d(x, y, bins=4, range=[[0, 1], [0, 1]])
    full = counts[np.add.outer(np.arange(4), np.arange(4)) <= 2]  # cells inside the triangle
    assert full.std() / full.mean() < 0.06


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: circle(0), "positive integer"),
        (lambda: circle(10, noise=-1.0), "noise"),
        (lambda: ee_to_mumu(10, sqrt_s=0.1), "sqrt_s"),
        (lambda: pp_to_mumu(10, mass_window=(120.0, 60.0)), "mass_window"),
        (lambda: flat_phase_space(10, n_bodies=1), "n_bodies"),
        (lambda: torus(10, major=1.0, minor=2.0), "smaller"),
    ],
)
def test_bad_arguments_raise(call, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        call()
