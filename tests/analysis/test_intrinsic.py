"""Intrinsic-dimension estimators on manifolds of known dimension, with duplicates."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from latentsym.analysis import mle_levina_bickel, pca_dim, twonn
from latentsym.analysis.intrinsic import gride, id_at_scale, id_scale_curve, latent_dimension
from latentsym.errors import ConfigError, SchemaError
from latentsym.toys import circle, oscillators, sphere


def _line(n: int) -> np.ndarray:
    t = np.random.default_rng(1).uniform(0, 1, n)
    return np.outer(t, [1.0, 2.0, 3.0]) + np.array([1.0, 0.0, 0.0])


CASES = [
    ("line in 3D", _line(3000), 1.0, 0.1),
    ("circle", circle(3000, seed=2), 1.0, 0.1),
    ("sphere", sphere(3000, seed=3), 2.0, 0.2),
    ("torus in R^4", oscillators(3000, seed=4), 2.0, 0.2),
    ("5-dim Gaussian", np.random.default_rng(5).normal(size=(3000, 5)), 5.0, 0.4),
]


@pytest.mark.parametrize(("name", "x", "d", "tol"), CASES, ids=[c[0] for c in CASES])
def test_known_dimensions(name: str, x: np.ndarray, d: float, tol: float) -> None:
    assert twonn(x) == pytest.approx(d, abs=tol)
    assert mle_levina_bickel(x) == pytest.approx(d, abs=tol)
    assert mle_levina_bickel(x, k=(10, 20)) == pytest.approx(d, abs=tol)


def test_duplicates_are_dropped_and_counted() -> None:
    x = sphere(2000, seed=6)
    with_dups = np.concatenate([x, x[:500], x[:10]])
    est = twonn(with_dups)
    assert est.n_duplicates == 510
    assert est.n_points == 2000
    assert float(est) == float(twonn(x))
    assert est == pytest.approx(2.0, abs=0.2)
    assert mle_levina_bickel(with_dups).n_duplicates == 510
    assert "n_duplicates=510" in repr(est)


def test_discarding_censors_the_tail() -> None:
    x = sphere(3000, seed=7)
    assert twonn(x, discard_fraction=0.0) == pytest.approx(2.0, abs=0.25)
    assert twonn(x, discard_fraction=0.3) == pytest.approx(2.0, abs=0.25)


def test_pca_dim() -> None:
    rng = np.random.default_rng(8)
    plane = rng.normal(size=(1000, 2)) @ rng.normal(size=(2, 6))
    assert int(pca_dim(plane)) == 2
    assert int(pca_dim(sphere(1000))) == 3
    assert int(pca_dim(np.ones((10, 3)))) == 0
    skewed = rng.normal(size=(2000, 3)) * [10.0, 1.0, 0.01]
    assert int(pca_dim(skewed, variance=0.95)) == 1
    assert int(pca_dim(skewed, variance=0.999)) == 2


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: twonn(np.ones((50, 2))), SchemaError, "distinct points"),
        (lambda: twonn(np.full((5, 2), np.nan)), SchemaError, "not finite at row 0"),
        (lambda: twonn(sphere(50), discard_fraction=1.0), ConfigError, "discard_fraction"),
        (lambda: mle_levina_bickel(sphere(50), k=1), ConfigError, "2 <= k"),
        (lambda: mle_levina_bickel(sphere(10), k=20), SchemaError, "at least 21"),
        (lambda: pca_dim(sphere(10), variance=1.5), ConfigError, "variance"),
    ],
)
def test_bad_input(call, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call()


# --- GRIDE: the dimension at larger scales -------------------------------------------------


@pytest.mark.parametrize(
    ("d", "n1", "n2"), [(1, 1, 2), (2, 4, 8), (3, 16, 32), (5, 8, 16), (2, 3, 4)]
)
def test_gride_likelihood_recovers_d_from_exact_ratios(d: int, n1: int, n2: int) -> None:
    """In a uniform d-dimensional Poisson process the ball volumes out to the neighbours are
    partial sums of unit exponentials, so ``mu = (G_n2 / G_n1)^(1/d)`` has exactly the
    GRIDE law: the fit must return d within its statistical error (about d / sqrt(N n1))."""
    from latentsym.analysis.intrinsic import gride_from_ratios

    rng = np.random.default_rng(d * 100 + n1)
    gaps = rng.exponential(size=(20000, n2))
    volumes = np.cumsum(gaps, axis=1)
    log_mu = np.log(volumes[:, n2 - 1] / volumes[:, n1 - 1]) / d
    assert gride_from_ratios(log_mu, n1, n2) == pytest.approx(d, rel=0.03)


def test_gride_n1_1_is_uncensored_twonn() -> None:
    x = np.random.default_rng(1).normal(size=(3000, 3))
    assert float(gride(x)) == pytest.approx(float(twonn(x, discard_fraction=0.0)), rel=1e-12)


def test_gride_numeric_fit_matches_closed_form() -> None:
    """For n2 > n1 + 1 the fit maximises the likelihood numerically: its maximum must agree
    with a brute-force grid maximum of the same likelihood written out independently."""
    from scipy.special import betaln

    from latentsym.analysis.intrinsic import gride_from_ratios

    rng = np.random.default_rng(3)
    vol = np.cumsum(rng.exponential(size=(5000, 12)), axis=1)
    log_mu = np.log(vol[:, 11] / vol[:, 5]) / 2.5  # n1 = 6, n2 = 12, d = 2.5
    grid = np.linspace(1.5, 3.5, 20001)
    ll = [
        len(log_mu) * np.log(d)
        + 5 * np.log(np.expm1(d * log_mu)).sum()
        - (11 * d + 1) * log_mu.sum()
        - len(log_mu) * betaln(6, 6)
        for d in grid
    ]
    assert gride_from_ratios(log_mu, 6, 12) == pytest.approx(grid[int(np.argmax(ll))], abs=2e-4)


@pytest.mark.parametrize(
    ("make", "d"), [(lambda: circle(4000, seed=2), 1), (lambda: sphere(4000, seed=2), 2)]
)
def test_gride_on_manifolds(make, d: int) -> None:
    x = make()
    for n1 in (1, 4, 16):
        assert float(gride(x, n1=n1)) == pytest.approx(d, abs=0.15)


def test_noise_is_two_dimensional_below_its_scale_and_not_above() -> None:
    ring = circle(5000, noise=0.02, seed=4)
    curve = id_scale_curve(ring)
    assert [p.n1 for p in curve] == [2**i for i in range(len(curve))]
    assert all(b.scale > a.scale for a, b in itertools.pairwise(curve))
    assert curve[0].dim == pytest.approx(2.0, abs=0.15)  # nearest neighbours see the noise
    assert float(twonn(ring)) == pytest.approx(2.0, abs=0.15)
    above = id_at_scale(ring, 0.2)  # ten noise widths
    assert above.scale >= 0.2
    assert above.dim == pytest.approx(1.0, abs=0.1)
    assert id_at_scale(ring, 0.0) == curve[0]
    assert id_at_scale(ring, 1e9, max_n2=256) == id_scale_curve(ring, max_n2=256)[-1]


def test_gride_drops_duplicates_and_rejects_bad_orders() -> None:
    x = np.random.default_rng(5).normal(size=(500, 2))
    est = gride(np.vstack([x, x[:50]]), n1=2)
    assert est.n_duplicates == 50
    assert est.n_points == 500
    assert est.method == "gride"
    for n1, n2 in ((0, 2), (3, 3), (4, 2), (True, 4)):
        with pytest.raises(ConfigError, match="gride"):
            gride(x, n1=n1, n2=n2)
    with pytest.raises(ConfigError, match="scale"):
        id_at_scale(x, float("nan"))
    with pytest.raises(ConfigError, match="max_n2"):
        id_at_scale(x, 0.1, max_n2=1)
    with pytest.raises(SchemaError, match="distinct"):
        gride(x[:5], n1=4)


def test_latent_dimension_reads_above_the_posterior_width() -> None:
    """Encoded means on a ring whose radial jitter (0.03) lies below the posterior width
    (0.3): the nearest neighbours see two dimensions, the model's resolution one."""
    rng = np.random.default_rng(6)
    t = rng.uniform(0, 2 * np.pi, 8000)
    radius = 1 + rng.normal(0, 0.03, 8000)
    mu = np.c_[radius * np.cos(t), radius * np.sin(t), rng.normal(0, 1, 8000)]
    sigma = np.c_[np.full(8000, 0.3), np.full(8000, 0.4), np.full(8000, 0.999)]
    ld = latent_dimension(mu, sigma, [0, 1], max_points=5000)
    assert ld.n_points == 5000
    assert ld.scale == pytest.approx(0.3)
    assert ld.nearest == pytest.approx(2.0, abs=0.15)
    assert ld.value == pytest.approx(1.0, abs=0.1)
    assert ld.to_dict()["n2"] == ld.n2 == 2 * ld.n1
    with pytest.raises(ConfigError, match="relevant"):
        latent_dimension(mu, sigma, [])
    with pytest.raises(ConfigError, match=r"distinct indices in 0\.\.2"):
        latent_dimension(mu, sigma, [0, 3])
    with pytest.raises(SchemaError, match="one shape"):
        latent_dimension(mu, sigma[:, :2], [0])
