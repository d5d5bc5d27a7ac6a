"""Checks of mechanism-identified latents: circular correlation, best plane, the full check."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from conftest import sample

from latentsym.analysis.mechanism_check import (
    best_linear_correlation,
    best_plane_correlation,
    block_angle,
    circular_correlation,
    mechanism_check,
    plain_baseline,
    system_rapidity,
    true_azimuth,
)
from latentsym.errors import ConfigError, SchemaError
from latentsym.features import FeatureMatrix, build
from latentsym.io import read_events
from latentsym.models import (
    Architecture,
    FitOptions,
    MechanismSpec,
    TrainConfig,
    TrainedModel,
    fit,
    fit_mechanism,
)
from latentsym.physics.observables import observables
from latentsym.physics.selection import select_final_state

FAST_ARCH = Architecture(latent_dim=6, hidden=(64, 64))
FAST_TRAIN = TrainConfig(epochs=30, batch_size=256, seed=0)
QUIET = FitOptions(progress=False, num_threads=1)
AZIMUTHAL = MechanismSpec(mechanisms=("azimuthal",))


def _features(name: str, n: int | None) -> FeatureMatrix:
    events, _ = read_events(sample(name), max_events=n)
    return build(select_final_state(events))


@pytest.fixture(scope="module")
def ee() -> FeatureMatrix:
    return _features("ee_mumu_91GeV.lhe.gz", 3000)


@pytest.fixture(scope="module")
def ee_model(ee: FeatureMatrix) -> TrainedModel:
    return fit_mechanism(ee, mechanism=AZIMUTHAL, arch=FAST_ARCH, train=FAST_TRAIN, options=QUIET)


def _pairwise_fisher_lee(a: np.ndarray, b: np.ndarray) -> float:
    num = den_a = den_b = 0.0
    for i, j in itertools.combinations(range(len(a)), 2):
        sa, sb = math.sin(a[i] - a[j]), math.sin(b[i] - b[j])
        num, den_a, den_b = num + sa * sb, den_a + sa * sa, den_b + sb * sb
    return num / math.sqrt(den_a * den_b)


def test_circular_correlation() -> None:
    rng = np.random.default_rng(0)
    phi = rng.uniform(-math.pi, math.pi, 4000)
    assert circular_correlation(phi + 2.5, phi) == pytest.approx(1.0, abs=1e-12)
    assert circular_correlation(-phi + 0.3, phi) == pytest.approx(-1.0, abs=1e-12)
    # the Fisher-Lee pairwise definition, on a noisy relation
    a, b = phi[:60], phi[:60] + rng.normal(0, 0.8, 60)
    assert circular_correlation(a, b) == pytest.approx(_pairwise_fisher_lee(a, b), rel=1e-10)
    # independent uniform angles: near 0 (standard error ~ 1/N for Fisher-Lee)
    other = rng.uniform(-math.pi, math.pi, 4000)
    assert abs(circular_correlation(phi, other)) < 0.01
    # noise lowers it: a = b + N(0, s) gives about exp(-s^2) for uniform b
    noisy = circular_correlation(phi + rng.normal(0, 0.5, 4000), phi)
    assert noisy == pytest.approx(math.exp(-0.25), abs=0.03)
    with pytest.raises(SchemaError, match="finite"):
        circular_correlation(np.array([0.0, np.nan]), np.array([0.0, 1.0]))
    with pytest.raises(SchemaError, match=r"\[N\] angle arrays"):
        circular_correlation(np.zeros(3), np.zeros(4))


def test_best_plane_finds_a_mixed_plane() -> None:
    rng = np.random.default_rng(2)
    phi = rng.uniform(-math.pi, math.pi, 3000)
    r = 1.0 + 0.3 * rng.uniform(size=3000)
    plane = np.stack([r * np.cos(phi), r * np.sin(phi)], 1)
    noise = rng.normal(size=(3000, 2))
    mix = np.array([[1.0, 0.4, 0.5, -0.3], [0.6, 1.0, -0.2, 0.8]])
    mu = plane @ mix + noise @ np.array([[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    best = best_plane_correlation(mu, phi, steps=200)
    assert best.linear_correlation > 0.99  # the map back to the plane is linear
    assert best.linear_residual < 0.15
    assert best.pair_correlation < best.linear_correlation
    assert best.n_fit + best.n_test == 3000
    # the stored map reproduces the held-out residual on all events, oriented along phi
    mapped = best.map_angle(mu)
    assert circular_correlation(mapped, phi) == pytest.approx(best.linear_correlation, abs=0.01)
    # nothing to find in pure noise
    assert best_plane_correlation(rng.normal(size=(3000, 3)), phi, steps=50).best < 0.1
    with pytest.raises(ConfigError, match="at least two latents"):
        best_plane_correlation(mu, phi, dims=[0])


def test_best_linear_correlation() -> None:
    rng = np.random.default_rng(3)
    mu = rng.normal(size=(2000, 4))
    y = mu[:, 1] - 0.5 * mu[:, 3] + 0.1 * rng.normal(size=2000)
    assert best_linear_correlation(mu, y) > 0.98
    assert best_linear_correlation(mu, y, dims=[0, 2]) < 0.1


def test_truth_helpers_match_observables() -> None:
    fm = _features("pp_mumu_13TeV.lhe.gz", 500)
    fs = select_final_state(read_events(sample("pp_mumu_13TeV.lhe.gz"), max_events=500)[0])
    obs = observables(fs.p4, fs.names)
    np.testing.assert_allclose(system_rapidity(fm.momenta), obs["y_sys"], atol=1e-9)
    np.testing.assert_allclose(true_azimuth(fm.momenta, 1), obs["phi_mu-"], atol=1e-12)
    mu = np.array([[1.0, 1.0], [0.0, -2.0]])
    np.testing.assert_allclose(block_angle(mu), [math.pi / 4, -math.pi / 2])


def test_designated_block_follows_the_azimuth(ee: FeatureMatrix, ee_model: TrainedModel) -> None:
    """Reduced version of the benchmark: 3000 e+e- -> mu+ mu- events, 30 epochs (~2 s).

    At this size seeds 0-2 give rho_FL 0.9997-1.0000, angle residual 3-18 mrad, relative
    equivariance errors 0.5-1.6 % and invariance errors 0.7-1.3 %.
    """
    chk = mechanism_check(ee_model, ee, particle="mu-", n_events=2000)
    assert chk.particle == "mu-"
    assert chk.azimuthal_dims == (0, 1)
    assert chk.relevance[0] > 0.5
    assert chk.relevance[1] > 0.5
    assert chk.circular_correlation is not None
    assert chk.circular_correlation > 0.99
    assert chk.angle_residual is not None
    assert chk.angle_residual < 0.05
    assert chk.equivariance_error is not None
    assert chk.equivariance_error < 0.03
    assert chk.invariance_error is not None
    assert chk.invariance_error < 0.03
    assert chk.shift_error is None
    assert chk.rapidity_correlation is None
    # the other muon's azimuth is the same up to pi: same |rho|
    other = mechanism_check(ee_model, ee, particle=0, n_events=2000)
    assert other.circular_correlation == pytest.approx(chk.circular_correlation, abs=1e-6)
    assert chk.to_dict()["mechanisms"] == ["azimuthal"]


def test_plain_vae_baseline_and_refusals(ee: FeatureMatrix, ee_model: TrainedModel) -> None:
    plain = fit(ee, arch=FAST_ARCH, train=FAST_TRAIN, options=QUIET)
    base = plain_baseline(plain, ee, particle="mu-", n_events=2000)
    assert len(base.relevant_dims) >= 2
    assert base.plane is not None
    assert 0.0 <= base.plane.pair_correlation <= base.plane.best <= 1.0
    assert base.rapidity_correlation is None  # e+e- at fixed sqrt(s): y_sys = 0
    assert base.motion_plane_correlation is not None
    assert 0.0 <= base.motion_plane_correlation <= 1.0
    assert base.displacement is not None
    assert base.displacement > 0.1  # not invariant
    assert base.to_dict()["plane"]["best"] == base.plane.best
    with pytest.raises(ConfigError, match="needs a mechanism VAE"):
        mechanism_check(plain, ee)
    with pytest.raises(ConfigError, match="not in the final state"):
        mechanism_check(ee_model, ee, particle="e-")


@pytest.mark.slow
def test_full_size_numbers() -> None:
    """The benchmark's numbers on the full samples (about 45 s on 1 thread)."""
    ee = _features("ee_mumu_91GeV.lhe.gz", None)
    trained = fit_mechanism(ee, mechanism=AZIMUTHAL, options=QUIET)
    chk = mechanism_check(trained, ee, particle="mu-")
    assert chk.circular_correlation is not None
    assert chk.circular_correlation > 0.99
    assert chk.invariance_error is not None
    assert chk.invariance_error < 0.05
    pp = _features("pp_mumu_13TeV.lhe.gz", None)
    both = fit_mechanism(
        pp, mechanism=MechanismSpec(mechanisms=("azimuthal", "boost-z")), options=QUIET
    )
    chk = mechanism_check(both, pp, particle="mu-")
    assert chk.circular_correlation is not None
    assert chk.circular_correlation > 0.99
    assert chk.rapidity_correlation is not None
    assert chk.rapidity_correlation > 0.99
    assert chk.shift_slope is not None
    assert abs(chk.shift_slope - 1) < 0.05
