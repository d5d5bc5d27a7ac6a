"""Constraint residuals, decoder tangency and transformation checks on the bundled e+e- sample."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import sample

from latentsym.analysis.checks import constraint_residuals, decoder_tangency
from latentsym.analysis.relevance import relevance
from latentsym.analysis.symmetry import (
    _p4,
    _to_numpy,
    boost_z,
    rotate_z,
    rotation_check,
    swap_identical,
    transformation_check,
)
from latentsym.errors import ConfigError
from latentsym.features import build
from latentsym.io.read import read_events
from latentsym.models import FitOptions, TrainConfig, fit, fit_prior
from latentsym.models.flow import FLOW_TRAIN
from latentsym.physics.constraints import dimension_ledger
from latentsym.physics.selection import select_final_state

MUON_MASSES = ("m2(mu+)", "m2(mu-)")
MOMENTUM = ("sum_px", "sum_py", "sum_pz", "m2(mu+,mu-)")
TRIVIAL = ("sum_E", "const(E_mu+)", "const(E_mu-)")
QUIET = FitOptions(progress=False)


def _ee(n: int | None):
    events, _ = read_events(sample("ee_mumu_91GeV.lhe.gz"))
    fs = select_final_state(events, "mu+ mu-")
    fm = build(fs, "cartesian")
    if n is not None:
        fm = build(fm.momenta[:n], particle_names=fs.names)
    return fs, fm


@pytest.fixture(scope="module")
def ee():
    """A small fit (5000 events, 40 epochs) and an untrained one on the same events."""
    fs, fm = _ee(5000)
    trained = fit(fm, train=TrainConfig(seed=0, epochs=40), options=QUIET)
    untrained = fit(fm, train=TrainConfig(seed=0, epochs=1, lr=1e-9), options=QUIET)
    ledger = dimension_ledger(fm.momenta, fm.particle_names)
    mu, sigma = trained.encode(fm)
    dims = relevance(mu, sigma=sigma).relevant_dims
    return fs, fm, trained, untrained, ledger, dims


def test_constraint_residuals_learned(ee):
    _, fm, trained, _, ledger, dims = ee
    assert len(dims) == 3
    chk = constraint_residuals(trained, fm, ledger, dims, n_samples=3000)
    assert chk.coverage_prior > 0.8
    assert chk.coverage_encoded > 0.8
    assert chk.coverage_posterior > 0.8
    for name in MOMENTUM:
        r = chk.get(name)
        assert r.data < 1e-12
        assert r.null > 0.2  # the shuffle breaks it
        assert r.ratio_prior < 0.1
        assert r.ratio_posterior < 0.1
        assert r.ratio_encoded < 0.1
    for name in MUON_MASSES:
        r = chk.get(name)
        assert r.ratio_encoded < 0.2
        # the aggregate posterior stays nearer the muon-momentum sphere than the prior,
        # whose draws fill the ball inside the latent shell
        assert r.ratio_encoded < r.ratio_posterior < r.ratio_prior
    # Carried by constant features: the shuffle keeps them, no ratio.
    for name in TRIVIAL:
        r = chk.get(name)
        assert r.null_trivial
        assert r.ratio_prior is None
        assert r.prior < 1e-3
    out = chk.to_dict()
    json.dumps(out, allow_nan=False)
    assert out["max_ratio_exact_encoded"] == chk.max_ratio("exact", "encoded") < 0.2


def test_collapsed_decoder_shows_in_coverage_and_tangency(ee):
    _, fm, trained, untrained, ledger, dims = ee
    bad = constraint_residuals(untrained, fm, ledger, dims, n_samples=2000)
    assert bad.coverage_prior < 0.2  # tiny spreads only because nothing is decoded
    good = decoder_tangency(trained, fm, ledger, dims, n_points=200)
    rand = decoder_tangency(untrained, fm, ledger, dims, n_points=200)
    assert rand.constraint_rank == good.constraint_rank == 6
    assert rand.median > 0.6
    assert rand.median == pytest.approx(rand.random_baseline, abs=0.2)
    assert good.median < rand.median - 0.2
    json.dumps(good.to_dict(), allow_nan=False)


def test_check_inputs(ee):
    _, fm, trained, _, ledger, dims = ee
    with pytest.raises(ConfigError, match="no relevant latent directions"):
        constraint_residuals(trained, fm, ledger, [])
    with pytest.raises(ConfigError, match="distinct latent indices"):
        decoder_tangency(trained, fm, ledger, [0, 0])
    other = dimension_ledger(fm.momenta, fm.particle_names, "collider")
    with pytest.raises(ConfigError, match="ledger features"):
        constraint_residuals(trained, fm, other, dims)


def test_rotation_check(ee):
    fs, _, trained, _, _, _ = ee
    chk = rotation_check(trained, fs, n_events=3000, n_samples=3000)
    assert chk.relevance_max_diff < 0.05
    assert chk.n_relevant_original == chk.n_relevant_transformed == 3
    # The displacement lives in a plane (the azimuth of a 3-d embedding of the sphere).
    assert chk.displacement_top2 > 0.9
    assert chk.displacement_relative > 0.5
    assert chk.phi is not None
    assert chk.phi.data_pvalue > 0.01
    assert 0 <= chk.phi.statistic < 0.1
    json.dumps(chk.to_dict(), allow_nan=False)


def test_identity_and_boost(ee):
    _, fm, trained, _, _, _ = ee
    same = transformation_check(trained, fm, rotate_z(0.0), n_events=1000)
    assert same.relevance_max_diff == 0.0
    assert same.displacement_rms == 0.0
    assert same.displacement_top1 is None
    boosted = transformation_check(trained, fm, boost_z(0.5), n_events=1000)
    assert boosted.relevance_max_diff > 0.1  # not a symmetry of e+e- at fixed sqrt(s)


def test_transforms_physics():
    rng = np.random.default_rng(1)
    m = np.zeros((50, 2, 4))
    m[..., 1:] = rng.normal(size=(50, 2, 3)) * 10
    m[..., 0] = np.sqrt((m[..., 1:] ** 2).sum(-1) + 0.1)
    rot = _to_numpy(rotate_z(0.7).fn(_p4(m), rng), m.shape)
    pt = np.hypot(m[..., 1], m[..., 2])
    np.testing.assert_allclose(np.hypot(rot[..., 1], rot[..., 2]), pt)
    dphi = np.arctan2(rot[..., 2], rot[..., 1]) - np.arctan2(m[..., 2], m[..., 1])
    np.testing.assert_allclose(np.cos(dphi), math.cos(0.7))
    boosted = _to_numpy(boost_z(0.3).fn(_p4(m), rng), m.shape)

    def mass2(p):
        return p[..., 0] ** 2 - (p[..., 1:] ** 2).sum(-1)

    def rapidity(p):
        return 0.5 * np.log((p[..., 0] + p[..., 3]) / (p[..., 0] - p[..., 3]))

    np.testing.assert_allclose(mass2(boosted), mass2(m), rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(rapidity(boosted) - rapidity(m), 0.3, atol=1e-9)
    swapped = _to_numpy(swap_identical(0, 1).fn(_p4(m), rng), m.shape)
    np.testing.assert_array_equal(swapped[:, 0], m[:, 1])
    np.testing.assert_array_equal(swapped[:, 1], m[:, 0])


def test_transform_errors(ee):
    fs, _, trained, _, _, _ = ee
    with pytest.raises(ConfigError, match="not of the same species"):
        transformation_check(trained, fs, swap_identical(0, 1))
    with pytest.raises(ConfigError, match="'random'"):
        rotate_z("uniform")
    with pytest.raises(ConfigError, match="differs from the model"):
        transformation_check(trained, fs, rotate_z(), representation="collider")
    swap_identical(0, 1).check(("g", "g"))  # identical: accepted


@pytest.mark.slow
def test_design_targets_ee_full():
    """DESIGN.md targets on the bundled e+e- sample with a default fit (20k events)."""
    fs, fm = _ee(None)
    trained = fit(fm, train=TrainConfig(seed=0), options=QUIET)
    ledger = dimension_ledger(fm.momenta, fm.particle_names)
    mu, sigma = trained.encode(fm)
    dims = relevance(mu, sigma=sigma).relevant_dims
    chk = constraint_residuals(trained, fm, ledger, dims)
    assert chk.coverage_encoded > 0.9
    for r in chk.residuals:
        assert r.kind == "exact"
        if r.null_trivial:
            assert r.encoded < 1e-3
            assert r.prior < 1e-3
        else:
            assert r.ratio_encoded < 0.1, r
    tan = decoder_tangency(trained, fm, ledger, dims)
    assert tan.median < 0.1
    rot = rotation_check(trained, fs)
    assert rot.relevance_max_diff < 0.05
    assert rot.phi is not None
    assert rot.phi.pvalue > 0.01


@pytest.fixture(scope="module")
def ee_full_check():
    """The default fit of the VAE and of its flow prior (on the encoded means)."""
    _, fm = _ee(None)
    trained = fit(fm, train=TrainConfig(seed=0), options=QUIET)
    ledger = dimension_ledger(fm.momenta, fm.particle_names)
    mu, sigma = trained.encode(fm)
    dims = relevance(mu, sigma=sigma).relevant_dims
    with_flow = fit_prior(trained, fm, dims=dims, options=QUIET)
    return constraint_residuals(with_flow, fm, ledger, dims)


@pytest.mark.slow
def test_design_target_flow_prior_ratio_ee_full(ee_full_check):
    """Flow-prior samples: decoded / null < 0.05 for every exact constraint (issue 15).

    The N(0, 1) figure stays reported as measured: 3 Gaussian latents for a 2-d manifold
    put m2(mu+-) at decoded/null ~0.33, draws inside the latent shell decoding off it."""
    assert ee_full_check.flow_source == "means"
    assert ee_full_check.max_ratio("exact", "flow") < 0.05
    assert ee_full_check.coverage_flow > 0.9
    assert ee_full_check.max_ratio("exact", "prior") > 0.1


def test_flow_prior_source_in_the_check(ee):
    """A short flow fit already keeps its samples nearer the muon mass shell than N(0, 1)."""
    _, fm, trained, _, ledger, dims = ee
    plain = constraint_residuals(trained, fm, ledger, dims, n_samples=2000)
    assert plain.flow_source is None
    assert math.isnan(plain.coverage_flow)
    assert all(r.ratio_flow is None and math.isnan(r.flow) for r in plain.residuals)
    assert plain.to_dict()["max_ratio_exact_flow"] is None
    with_flow = fit_prior(
        trained, fm, dims=dims, train=FLOW_TRAIN.replace(epochs=25), options=QUIET
    )
    chk = constraint_residuals(with_flow, fm, ledger, dims, n_samples=2000)
    assert chk.flow_source == "means"
    assert chk.coverage_flow > 0.8
    for name in MUON_MASSES:
        r = chk.get(name)
        assert r.ratio_flow < 0.5 * r.ratio_prior, r
        assert r.ratio_prior == plain.get(name).ratio_prior  # N(0, 1) draws unchanged
    assert chk.max_ratio("exact", "flow") == max(
        r.ratio_flow for r in chk.residuals if r.ratio_flow is not None
    )
    with pytest.raises(ConfigError, match="which must be one of prior, flow"):
        chk.max_ratio("exact", "gaussian")
    json.dumps(chk.to_dict(), allow_nan=False)


@pytest.mark.slow
def test_design_target_posterior_and_encoded_ratio_ee_full(ee_full_check):
    """The same target on aggregate-posterior samples and on the encoded data."""
    assert ee_full_check.max_ratio("exact", "posterior") < 0.1
    assert ee_full_check.max_ratio("exact", "encoded") < 0.1
