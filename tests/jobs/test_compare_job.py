"""`run` fits the learned prior after the VAE; `compare` generates from it by default and
says what it did with the weights; a real POWHEG file with a negative weight goes through."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import external, sample

from latentsym.jobs import CompareOptions, RunOptions, compare_files, run_analysis
from latentsym.models import Architecture, TrainConfig, load_model


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    options = RunOptions(
        arch=Architecture(latent_dim=4, hidden=(64, 64)),
        train=TrainConfig(epochs=15, batch_size=128),
        max_events=2000,
        progress=False,
    )
    return run_analysis([sample("ee_mumu_91GeV.lhe.gz")], out, options), out


def test_run_fits_and_reports_the_flow_prior(run):
    summary, out = run
    prior = out / "model" / "prior"
    assert (prior / "model.pt").is_file()
    assert (prior / "state.pt").is_file()  # checkpointed like the VAE
    trained = load_model(out / "model")
    assert trained.flow is not None
    assert list(trained.flow.config.dims) == summary.relevant_dims
    assert trained.prior.epochs_run <= 15  # at most the VAE's epochs
    d = json.loads((out / "summary.json").read_text())
    cons = d["checks"]["constraints"]
    assert cons["flow_source"] == "means"
    assert all("ratio_flow" in r for r in cons["residuals"])
    assert cons["max_ratio_exact_flow"] is not None
    assert d["timing"]["prior_train_s"] > 0
    assert d["weights"]["n_negative"] == 0
    assert d["weights"]["trained_weighted"] is False
    report = (out / "report.md").read_text()
    assert "| flow / null | prior / null | posterior / null | encoded / null |" in report
    assert "flow prior" in report
    assert "## Event weights" not in report  # no negative weights to report


def test_compare_defaults_to_the_flow(run, tmp_path):
    _, out = run
    options = CompareOptions(model_dir=out / "model", max_events=2000)
    flow = compare_files(sample("ee_mumu_91GeV.lhe.gz"), tmp_path / "c", options)
    assert flow.generate_from == "flow"
    d = json.loads((tmp_path / "c" / "comparison.json").read_text())
    assert d["generate_from"] == "flow"
    gen = d["exclusive"]["comparisons"]["generated"]
    for key in ("m_sys", "pt_sys", "y_sys"):
        assert gen[key]["fixed"] is True
        assert gen[key]["chi2_ndf"] is None
    assert gen["cos_theta_star"]["chi2_ndf"] is not None
    gauss = compare_files(
        sample("ee_mumu_91GeV.lhe.gz"), options=options.replace(generate_from="gaussian")
    )
    same = options.replace(generate_from="flow")
    again = compare_files(sample("ee_mumu_91GeV.lhe.gz"), options=same).to_dict()
    assert again["exclusive"] == flow.to_dict()["exclusive"]
    assert gauss.generate_from == "gaussian"
    assert gauss.to_dict()["exclusive"] != flow.to_dict()["exclusive"]


@pytest.mark.slow
def test_real_nlo_file_with_a_negative_weight(tmp_path):
    """POWHEG-BOX W: 1 of 100 events has a negative weight (1% of the summed |weight|)."""
    path = external("pylhe-testfile-powheg-box-v2-W.lhe")
    options = RunOptions(
        topology="e- nu(e)~",
        inclusive=True,
        train=TrainConfig(epochs=20, weighted=True, batch_size=64),
        progress=False,
    )
    summary = run_analysis([path], tmp_path / "run", options)
    w = summary.weights
    assert w["n_negative"] == 1
    assert w["trained_weighted"] is True
    assert w["negative_share"] == pytest.approx(0.01, abs=1e-3)
    report = (tmp_path / "run" / "report.md").read_text()
    assert "1 of 100 events (1.0%) have negative weights" in report
    assert "weighted per event with the signed weights" in report
    cmp = compare_files(path, tmp_path / "cmp", CompareOptions(truth_path=path))
    assert cmp.weights["n_negative"] == 1
    assert any("signed weights" in n for n in cmp.notes)
    inc = cmp.inclusive.result("pt_vis", "truth")
    assert inc.chi2 == 0.0
    assert np.isfinite(inc.w1)
