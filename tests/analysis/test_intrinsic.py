"""Intrinsic-dimension estimators on manifolds of known dimension, with duplicates."""

from __future__ import annotations

import numpy as np
import pytest

from latentsym.analysis import mle_levina_bickel, pca_dim, twonn
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
