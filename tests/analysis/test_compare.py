"""Comparison of observables: sample halves, a distorted sample, a trained model, files."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import numpy as np
import pytest
from conftest import external, sample

import latentsym
from latentsym.analysis.compare import (
    compare_observables,
    fixed_observables,
    generated_final_state_p4,
    inclusive_observables,
    weight_summary,
    weighted_w1,
)
from latentsym.analysis.relevance import relevance
from latentsym.errors import ConfigError, OutputError
from latentsym.features import build
from latentsym.jobs import CompareOptions, ReadOptions, compare_files
from latentsym.models import FitOptions, TrainConfig, fit, fit_prior
from latentsym.models.flow import FLOW_TRAIN
from latentsym.physics.observables import observables
from latentsym.plotting.compare import plot_all, plot_comparison

EE = "ee_mumu_91GeV.lhe.gz"


@pytest.fixture(scope="module")
def ee():
    events, _ = latentsym.read_events(sample(EE))
    return latentsym.select_final_state(events, "mu+ mu-")


@pytest.fixture(scope="module")
def halves(ee):
    obs = observables(ee.p4, ee.names)
    return {k: v[0::2] for k, v in obs.items()}, {k: v[1::2] for k, v in obs.items()}


@pytest.fixture(scope="module")
def trained(ee, tmp_path_factory):
    events, _ = latentsym.read_events(sample(EE), max_events=3000)
    fm = build(latentsym.select_final_state(events, "mu+ mu-"), "cartesian")
    model = fit(fm, train=TrainConfig(epochs=30, seed=0), options=FitOptions(progress=False))
    folder = tmp_path_factory.mktemp("model")
    model.save(folder)
    return model, folder


def test_halves_agree(halves):
    a, b = halves
    comp = compare_observables({"input": a, "half": b})
    varied = [r for r in comp.results if r.ndf >= 20]
    # m_sys and pt_sys are constant at fixed sqrt(s): one bin, nothing to test
    assert {r.observable for r in varied} >= {"cos_theta_star", "phi_star", "eta_mu+", "pt_mu-"}
    for r in varied:
        assert 0.4 < r.chi2_ndf < 2.0, (r.observable, r.chi2_ndf)
        assert r.w1_rel < 0.05, (r.observable, r.w1_rel)
        assert r.n_reference == r.n_sample == 10_000
    mean = np.mean([r.chi2_ndf for r in varied])
    assert 0.7 < mean < 1.3


def test_distorted_sample_is_flagged(halves):
    a, b = halves
    distorted = dict(b, **{"eta_mu+": 1.25 * b["eta_mu+"]})
    comp = compare_observables({"input": a, "distorted": distorted})
    bad = comp.result("eta_mu+", "distorted")
    assert bad.chi2_ndf > 5.0
    assert bad.w1_rel > 0.04
    assert comp.result("eta_mu-", "distorted").chi2_ndf < 2.0
    assert comp.to_dict()["worst"]["distorted"]["observable"] == "eta_mu+"


def test_chi2_known_values():
    # 2 bins + empty flow bins: p = (0.5, 0.5), q = (0.75, 0.25) with 4 entries each
    a = {"x": np.array([0.1, 0.2, 0.8, 0.9])}
    b = {"x": np.array([0.1, 0.2, 0.3, 0.9])}
    comp = compare_observables({"input": a, "b": b}, bins=2)
    r = comp.result("x", "b")
    # edges from the 0.5/99.5 percentiles: the extreme points fall into the flow bins
    h = comp.histograms["x"]["input"]
    assert h.values(flow=True).sum() == 4
    p = h.values(flow=True) / 4
    q = comp.histograms["x"]["b"].values(flow=True) / 4
    var = p / 4 + q / 4
    used = var > 0
    assert r.chi2 == pytest.approx(np.sum((p[used] - q[used]) ** 2 / var[used]))
    assert r.ndf == used.sum() - 1
    assert r.w1 == pytest.approx(0.5 / 4)  # one point moved from 0.8 to 0.3


def test_weights_change_the_answer():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=4000), rng.normal(size=4000)
    w = np.where(y > 0, 2.0, 1.0)
    plain = compare_observables({"input": {"y": x}, "s": {"y": y}}).result("y", "s")
    weighted = compare_observables({"input": {"y": x}, "s": {"y": y}}, weights={"s": w}).result(
        "y", "s"
    )
    assert plain.w1_rel < 0.05
    assert weighted.w1_rel > 0.2
    assert weighted.chi2_ndf > 5 * plain.chi2_ndf


def test_model_against_input(ee, trained):
    model, _ = trained
    gen = generated_final_state_p4(model, 3000, seed=1)
    assert gen.ndim == 2
    assert len(gen) == 3000
    assert float(np.mean(gen.E)) == pytest.approx(45.6, abs=1.0)
    comp = compare_observables(
        {"input": observables(ee.p4[:3000], ee.names), "generated": observables(gen, ee.names)}
    )
    angles = {o: comp.result(o, "generated") for o in ("cos_theta_star", "phi_mu+", "eta_mu+")}
    for r in angles.values():
        assert r.w1_rel < 0.2, (r.observable, r.w1_rel)
        assert r.chi2_ndf < 5.0, (r.observable, r.chi2_ndf)
    assert comp.result("m_sys", "generated").w1 < 1.0  # GeV
    assert np.isfinite(comp.result("m_sys", "generated").w1_rel)
    json.dumps(comp.to_dict(), allow_nan=False)


def test_plots(halves):
    a, b = halves
    comp = compare_observables({"input": a, "half": b})
    main, ratio = plot_comparison(comp, "cos_theta_star")
    assert len(main.get_legend().get_texts()) == 2
    assert "chi" in main.get_legend().get_texts()[1].get_text()
    ys = np.concatenate([line.get_ydata() for line in ratio.lines if len(line.get_ydata()) > 2])
    assert np.nanmedian(np.abs(ys - 1)) < 0.1
    plt.close(main.figure)
    fig = plot_all(comp, observables=["cos_theta_star", "phi_star", "eta_mu+"], ncols=2)
    assert len(fig.axes) == 6
    plt.close(fig)


def test_errors(halves):
    a, b = halves
    with pytest.raises(ConfigError, match="reference sample 'truth'"):
        compare_observables({"input": a, "b": b}, reference="truth")
    with pytest.raises(ConfigError, match="at least two samples"):
        compare_observables({"input": a})
    with pytest.raises(ConfigError, match="share no observable"):
        compare_observables({"input": {"x": np.ones(3)}, "b": {"y": np.ones(3)}})
    with pytest.raises(ConfigError, match="weights of sample 'b'"):
        compare_observables({"input": a, "b": b}, weights={"b": np.ones(3)})
    with pytest.raises(ConfigError, match="was not compared"):
        plot_comparison(compare_observables({"input": a, "b": b}), "nope")
    with pytest.raises(ConfigError, match="nothing to compare"):
        compare_files(sample(EE))


def test_compare_files_with_model(trained, tmp_path):
    _, folder = trained
    out = tmp_path / "cmp"
    options = CompareOptions(model_dir=folder, max_events=3000, n_generated=3000)
    summary = compare_files(sample(EE), out, options)
    assert summary.exclusive is not None
    assert summary.inclusive is None
    result = summary.to_dict()
    assert result["topology"] == "mu+ mu-"
    assert result["inclusive"] is None
    assert result["frame"] == "rest"  # e+e- at fixed sqrt(s): no transverse momentum
    assert any("frame 'rest'" in n for n in result["notes"])
    gen = result["exclusive"]["comparisons"]["generated"]
    assert gen["cos_theta_star"]["w1_rel"] < 0.2
    assert gen["phi_star"]["w1_rel"] < 0.05
    on_disk = json.loads((out / "comparison.json").read_text())
    assert on_disk["exclusive"]["comparisons"] == result["exclusive"]["comparisons"]
    assert (out / "comparison_exclusive.png").stat().st_size > 10_000
    assert on_disk == result
    assert on_disk["files"] == ["comparison_exclusive.png", "comparison.json"]
    with pytest.raises(OutputError, match="not empty"):
        compare_files(sample(EE), out, options)
    again = compare_files(sample(EE), out, options.replace(overwrite=True))
    assert again.to_dict()["exclusive"] == result["exclusive"]


def test_inclusive_reco_against_truth(tmp_path):
    path = external("uproot-issue-589.root")
    options = CompareOptions(
        input_read=ReadOptions(collections=["RP"]), truth_read=ReadOptions(collections=["MC"])
    )
    result = compare_files(path, tmp_path / "o", options).to_dict()
    assert result["input"]["options"] == {"collections": ["RP"]}
    assert result["truth"] == {"path": str(path), "options": {"collections": ["MC"]}}
    assert result["exclusive"] is None
    inc = result["inclusive"]["comparisons"]["truth"]
    assert set(inc) == {"n_visible", "e_vis", "m_vis", "pt_vis", "pz_vis", "sum_pt"}
    # generator level counts every stable particle; reconstruction sees fewer
    events_rp, _ = latentsym.read_events(path, collections=["RP"])
    events_mc, _ = latentsym.read_events(path, collections=["MC"])
    n_rp = inclusive_observables(events_rp)["n_visible"]
    n_mc = inclusive_observables(events_mc)["n_visible"]
    assert np.mean(n_mc) > np.mean(n_rp)
    # 151 events: the multiplicity shifts by ~13 particles, the energy flow much less
    assert inc["n_visible"]["w1_rel"] > 1.0
    assert inc["e_vis"]["w1_rel"] < 0.5
    assert (tmp_path / "o" / "comparison_inclusive.png").exists()


def test_posterior_generation_stays_on_the_sphere(ee, trained):
    """Prior draws fill the ball inside the latent shell of the muon-momentum sphere and
    decode off it; aggregate-posterior draws stay near it, and the muon pT follows."""
    model, folder = trained
    fm = build(ee, "cartesian")
    ref = observables(ee.p4[:3000], ee.names)
    gens = {
        kind: generated_final_state_p4(
            model, 3000, seed=1, generate_from=kind, features=fm if kind == "posterior" else None
        )
        for kind in ("prior", "posterior")
    }
    spread = {k: float(np.std(g[:, 0].p)) for k, g in gens.items()}  # |p| of the mu+: 45.6 GeV
    assert spread["posterior"] < 0.5 * spread["prior"], spread
    comp = compare_observables(
        {"input": ref} | {k: observables(g, ee.names) for k, g in gens.items()}
    )
    assert comp.result("pt_mu+", "posterior").w1 < comp.result("pt_mu+", "prior").w1
    with pytest.raises(ConfigError, match="pass features="):
        generated_final_state_p4(model, 10, generate_from="posterior")
    with pytest.raises(ConfigError, match="choose one of prior, gaussian, flow, posterior"):
        generated_final_state_p4(model, 10, generate_from="data")
    with pytest.raises(ConfigError, match="choose one of prior, gaussian, flow, posterior"):
        compare_files(sample(EE), options=CompareOptions(model_dir=folder, generate_from="data"))
    options = CompareOptions(
        model_dir=folder, max_events=2000, n_generated=2000, generate_from="posterior"
    )
    result = compare_files(sample(EE), options=options)
    assert result.generate_from == "posterior"
    assert "files" not in result.to_dict()  # nothing written without an output folder


def test_collins_soper_azimuth_follows_a_tiny_system_pt(ee):
    """Why compare uses the rest frame for a sample without transverse momentum: a
    transverse kick of 1e-3 of the mass (what a decoder leaves) turns the Collins-Soper
    x axis to the kick's direction and scrambles phi*, while the rest-frame phi* barely
    moves."""
    import vector

    p4 = ee.p4[:2000]
    rng = np.random.default_rng(0)
    angle = rng.uniform(0, 2 * np.pi, len(p4))
    kick = 1e-3 * 91.2 * np.c_[np.cos(angle), np.sin(angle)]
    parts = []
    for i in range(2):
        p = p4[:, i]
        # half the kick to each muon, energies kept: a boost-free nudge of pt_sys
        parts.append(
            {
                "px": np.asarray(p.px) + kick[:, 0] / 2,
                "py": np.asarray(p.py) + kick[:, 1] / 2,
                "pz": np.asarray(p.pz),
                "E": np.asarray(p.E),
            }
        )
    kicked = vector.zip(
        {k: np.stack([parts[0][k], parts[1][k]], axis=1) for k in ("px", "py", "pz", "E")}
    )
    for frame, moved in (("collins-soper", True), ("rest", False)):
        before = observables(p4, ee.names, frame=frame)["phi_star"]
        after = observables(kicked, ee.names, frame=frame)["phi_star"]
        shift = np.abs(np.angle(np.exp(1j * (after - before))))
        assert bool(np.median(shift) > 0.5) == moved, (frame, np.median(shift))
    assert np.median(shift) < 0.01


def test_weighted_w1_matches_scipy_and_takes_signed_weights():
    from scipy.stats import wasserstein_distance

    rng = np.random.default_rng(7)
    u, v = rng.normal(size=300), rng.normal(0.3, 1.2, size=200)
    wu, wv = rng.uniform(0.1, 2, 300), rng.uniform(0.1, 2, 200)
    assert weighted_w1(u, v, wu, wv) == pytest.approx(wasserstein_distance(u, v, wu, wv))
    assert weighted_w1(u, v) == pytest.approx(wasserstein_distance(u, v))
    # signed: a negative event cancels a positive one at the same place
    x = np.array([0.0, 1.0, 1.0])
    assert weighted_w1(x, np.array([0.0]), np.array([1.0, 1.0, -1.0])) == pytest.approx(0.0)
    with pytest.raises(ConfigError, match="both must be positive"):
        weighted_w1(x, x, np.array([-1.0, -1.0, 1.0]))


def test_signed_weights_in_histograms():
    """Sample B weighted with 20% negative events to A's distribution: the weighted
    comparison agrees with A, the unweighted one does not; errors grow with sum w^2."""
    rng = np.random.default_rng(11)
    a = rng.normal(0.0, 1.0, 20000)
    b = rng.normal(0.5, 1.0, 20000)
    ratio = np.exp(-0.5 * b**2 + 0.5 * (b - 0.5) ** 2)
    sign = np.where(rng.uniform(size=b.size) < 0.2, -1.0, 1.0)
    w = ratio * sign / 0.6
    comp = compare_observables({"input": {"x": a}, "b": {"x": b}}, weights={"b": w})
    plain = compare_observables({"input": {"x": a}, "b": {"x": b}})
    assert comp.result("x", "b").chi2_ndf < 2.0
    assert comp.result("x", "b").w1_rel < 0.05
    assert plain.result("x", "b").chi2_ndf > 20
    assert plain.result("x", "b").w1_rel > 0.4
    h = comp.histograms["x"]["b"]
    np.testing.assert_allclose(h.variances(flow=True).sum(), np.sum(w**2))
    ws = weight_summary(w)
    assert ws["n_negative"] == int((w < 0).sum())
    assert 0.15 < ws["negative_fraction"] < 0.25
    assert ws["negative_share"] == pytest.approx(-w[w < 0].sum() / np.abs(w).sum())


def test_fixed_observables_get_no_chi2(ee):
    obs = observables(ee.p4, ee.names, frame="rest")
    fixed = fixed_observables(obs)
    assert set(fixed) == {"m_sys", "y_sys", "pt_sys", "m_mu+_mu-"} & set(obs)
    assert fixed["m_sys"] == pytest.approx(91.19, abs=0.1)
    assert fixed["y_sys"] == 1.0
    rng = np.random.default_rng(0)
    smeared = {k: v + rng.normal(0, 0.01, v.size) for k, v in obs.items()}
    comp = compare_observables({"input": obs, "gen": smeared}, fixed=fixed)
    r = comp.result("m_sys", "gen")
    assert r.fixed
    assert np.isnan(r.chi2)
    assert np.isnan(r.w1_rel)
    assert r.ndf == 0
    assert r.spread_sample == pytest.approx(0.01 / fixed["m_sys"], rel=0.05)
    assert r.spread_reference < 1e-10
    d = comp.to_dict()
    assert d["comparisons"]["gen"]["m_sys"]["fixed"] is True
    assert d["comparisons"]["gen"]["m_sys"]["chi2_ndf"] is None
    assert d["worst"]["gen"]["observable"] not in fixed
    assert not comp.result("cos_theta_star", "gen").fixed


def test_compare_files_generates_from_the_flow(ee, trained, tmp_path):
    model, folder = trained
    fm = build(build(ee, "cartesian").momenta[:3000], particle_names=ee.names)
    mu, sigma = model.encode(fm)

    dims = relevance(mu, sigma=sigma).relevant_dims
    options = CompareOptions(model_dir=folder, max_events=2000, n_generated=2000)
    with pytest.raises(ConfigError, match="has no learned prior"):
        compare_files(sample(EE), options=options.replace(generate_from="flow"))
    plain = compare_files(sample(EE), options=options)
    assert plain.generate_from == "gaussian"
    with_flow = fit_prior(model, fm, dims=dims, train=FLOW_TRAIN.replace(epochs=10), options=QUIET)
    flow_dir = with_flow.save(tmp_path / "with_flow")
    options = options.replace(model_dir=flow_dir)
    summary = compare_files(sample(EE), options=options)
    assert summary.generate_from == "flow"
    assert any("learned prior" in n for n in summary.notes)
    assert any("fixed in the input by exact constraints" in n for n in summary.notes)
    assert summary.exclusive.fixed.keys() >= {"m_sys", "pt_sys", "y_sys"}
    gauss = compare_files(sample(EE), options=options.replace(generate_from="gaussian"))
    assert gauss.generate_from == "gaussian"
    assert (
        gauss.to_dict()["exclusive"]["comparisons"] == plain.to_dict()["exclusive"]["comparisons"]
    )
    assert summary.to_dict()["weights"]["n_negative"] == 0


QUIET = FitOptions(progress=False)
