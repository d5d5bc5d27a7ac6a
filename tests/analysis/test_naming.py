"""Naming latents: distance correlation on known cases, best-matching observables."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import numpy as np
import pytest

from latentsym.analysis.naming import (
    distance_correlation,
    latent_correlations,
    with_azimuthal_harmonics,
)
from latentsym.errors import ConfigError
from latentsym.plotting.compare import plot_naming


def test_dcor_known_cases():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 1500)
    assert abs(np.corrcoef(x, x**2)[0, 1]) < 0.05
    assert distance_correlation(x, x**2) > 0.4
    assert distance_correlation(x, 3 * x + 1) == pytest.approx(1.0, abs=1e-9)
    # the squared estimate is ~ N(0, 1/n) for independent samples: its root is ~ n^-1/2
    assert distance_correlation(x, rng.normal(size=1500)) < 0.1
    assert np.isnan(distance_correlation(x, np.ones(1500)))


def test_dcor_bias_corrected():
    # the plain V-statistic has a positive bias ~ 1/sqrt(n) for independent samples
    rng = np.random.default_rng(1)
    values = [distance_correlation(rng.normal(size=200), rng.normal(size=200)) for _ in range(20)]
    assert np.mean(values) < 0.08


def test_latents_named_by_their_observable():
    rng = np.random.default_rng(2)
    n = 4000
    x = rng.uniform(-1, 1, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    noise = rng.normal(size=n)
    mu = np.stack([x**2, np.cos(phi) + 0.05 * rng.normal(size=n), noise], axis=1)
    obs = {"a": x, "phi_b": phi, "c": rng.normal(size=n)}
    naming = latent_correlations(mu, obs, latent_names=["u", "v", "w"])
    assert naming.observable_names == ["a", "phi_b", "cos_phi_b", "sin_phi_b", "c"]
    assert naming.best[:2] == ["a", "cos_phi_b"]
    j = naming.observable_names.index("a")
    assert naming.spearman[0, j] < 0.1  # not monotonic: Spearman misses it
    assert naming.dcor[0, j] > 0.4
    assert naming.dcor[1, 2] > 0.95
    assert np.all(naming.dcor[2] < 0.1)  # the noise latent follows nothing
    assert naming.n_dcor_points == 2000
    d = naming.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["best"][1] == {
        "latent": "v",
        "observable": "cos_phi_b",
        "dcor": pytest.approx(naming.dcor[1, 2]),
        "spearman": pytest.approx(naming.spearman[1, 2]),
    }


def test_non_finite_observable_values_are_left_out():
    rng = np.random.default_rng(3)
    x = rng.normal(size=1000)
    y = x.copy()
    y[::10] = np.nan
    naming = latent_correlations(x[:, None], {"y": y}, harmonics=False)
    assert naming.dcor[0, 0] == pytest.approx(1.0, abs=1e-9)
    assert naming.spearman[0, 0] == pytest.approx(1.0)


def test_harmonics_and_plot():
    obs = with_azimuthal_harmonics({"phi_star": np.array([0.0, np.pi / 2])})
    np.testing.assert_allclose(obs["cos_phi_star"], [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(obs["sin_phi_star"], [0.0, 1.0])
    rng = np.random.default_rng(4)
    z = rng.normal(size=(500, 2))
    ax = plot_naming(latent_correlations(z, {"p": z[:, 0], "q": z[:, 1] ** 2}))
    texts = [t.get_text() for t in ax.texts]
    assert texts[0] == "1.00"
    assert len(texts) == 4
    plt.close(ax.figure)


def test_errors():
    with pytest.raises(ConfigError, match=r"\[N, k\]"):
        latent_correlations(np.ones(10), {"a": np.ones(10)})
    with pytest.raises(ConfigError, match="observable 'a' has shape"):
        latent_correlations(np.ones((10, 1)), {"a": np.ones(9)})
    with pytest.raises(ConfigError, match="latent names"):
        latent_correlations(np.ones((10, 2)), {"a": np.ones(10)}, latent_names=["z"])
    with pytest.raises(ConfigError, match="finite"):
        distance_correlation(np.array([1.0, 2, 3, np.nan]), np.ones(4))
    with pytest.raises(ConfigError, match="which="):
        plot_naming(latent_correlations(np.eye(5)[:, :1], {"a": np.arange(5.0)}), which="mi")
