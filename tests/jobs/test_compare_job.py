"""`run` fits the learned prior after the VAE; `compare` generates from it by default and
says what it did with the weights; a real POWHEG file with a negative weight goes through,
selected inclusively; `--project` puts generated events on the exact constraints."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import external, sample

from latentsym.cli import main
from latentsym.errors import ConfigError, TopologyError
from latentsym.features import build
from latentsym.io import read_events
from latentsym.jobs import CompareOptions, RunOptions, compare_files, run_analysis
from latentsym.models import Architecture, FitOptions, TrainConfig, fit, load_model
from latentsym.physics import select_final_state


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


def test_run_no_flow_fits_no_prior_and_drops_a_stale_one(run, tmp_path, capsys):
    _, fitted = run
    out = tmp_path / "out"
    shutil.copytree(fitted, out)  # a run with a flow prior in model/prior
    assert (out / "model" / "prior" / "model.pt").is_file()
    args = ["run", str(sample("ee_mumu_91GeV.lhe.gz")), "--out", str(out), "--overwrite"]
    args += ["--max-events", "1000", "--epochs", "15", "--batch-size", "128", "--quiet"]
    assert main([*args, "--latent-dim", "4", "--hidden", "64,64", "--no-flow"]) == 0
    capsys.readouterr()
    assert json.loads((out / "summary.json").read_text())["n_relevant"] > 0  # a flow would fit
    assert not (out / "model" / "prior").exists()
    assert load_model(out / "model").flow is None
    assert json.loads((out / "summary.json").read_text())["timing"]["prior_train_s"] is None
    assert "The model has no learned prior" in (out / "report.md").read_text()
    s = compare_files(
        sample("ee_mumu_91GeV.lhe.gz"), options=CompareOptions(model_dir=out / "model")
    )
    assert s.generate_from == "gaussian"
    assert RunOptions().flow is True


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


def test_project_puts_generated_events_on_the_exact_constraints(run, tmp_path):
    """m_sys is fixed by the exact momentum sums: projected, the generated events keep it."""
    _, out = run
    options = CompareOptions(model_dir=out / "model", max_events=2000, n_generated=500)
    plain = compare_files(sample("ee_mumu_91GeV.lhe.gz"), options=options)
    projected = compare_files(
        sample("ee_mumu_91GeV.lhe.gz"), tmp_path / "p", options.replace(project=True)
    )
    assert plain.projected is False
    assert projected.projected is True
    d = json.loads((tmp_path / "p" / "comparison.json").read_text())
    assert d["projected"] is True
    assert d["selection"] == {"inclusive": False, "ignored": {}}
    assert any(n.startswith("generated events projected onto the exact") for n in d["notes"])
    before = plain.exclusive.result("m_sys", "generated").spread_sample
    after = projected.exclusive.result("m_sys", "generated").spread_sample
    assert after < 1e-6 < before


def test_options_refuse_inclusive_without_topology_and_project_without_model():
    with pytest.raises(ConfigError, match="needs the particles to take: give --topology"):
        CompareOptions(inclusive=True, truth_path="x.lhe")
    with pytest.raises(ConfigError, match="give the model to generate from"):
        CompareOptions(project=True, truth_path="x.lhe")


@pytest.fixture(scope="module")
def powheg_model(tmp_path_factory):
    """A brief weighted fit on the inclusive e- nu(e)~ of the POWHEG-BOX W file (100 events)."""
    path = external("pylhe-testfile-powheg-box-v2-W.lhe")
    events, _ = read_events(path)
    fs = select_final_state(events, "e- nu(e)~", inclusive=True)
    model_dir = tmp_path_factory.mktemp("powheg") / "model"
    fit(
        build(fs),
        arch=Architecture(latent_dim=4, hidden=(32, 32)),
        train=TrainConfig(epochs=5, batch_size=50, weighted=True),
        options=FitOptions(out_dir=model_dir, progress=False),
    )
    return path, model_dir


def test_compare_inclusive_on_a_real_nlo_file(powheg_model, tmp_path):
    path, model_dir = powheg_model
    options = CompareOptions(model_dir=model_dir, topology="e- nu(e)~", truth_path=path)
    with pytest.raises(TopologyError, match=r"select them inclusively \(--inclusive"):
        compare_files(path, options=options)
    s = compare_files(path, tmp_path / "c", options.replace(inclusive=True))
    assert s.topology == "nu(e)~ e-"
    assert s.generate_from == "gaussian"
    assert s.weights["n_negative"] == 1
    assert s.weights["negative_share"] == pytest.approx(0.01, abs=1e-3)
    assert s.exclusive.samples == ["input", "generated", "truth"]
    assert s.exclusive.result("pt_e-", "truth").chi2 == 0.0  # the same events, selected alike
    d = json.loads((tmp_path / "c" / "comparison.json").read_text())
    assert d["selection"]["inclusive"] is True
    assert d["selection"]["ignored"]["g"] == 49
    assert d["projected"] is False
    assert any(n.startswith("inclusive selection:") for n in d["notes"])
    assert any("1 of 100 events (1.0%) are negative" in n for n in d["notes"])


def test_cli_compare_inclusive_project(powheg_model, tmp_path, capsys):
    path, model_dir = powheg_model
    base = ["compare", str(path), "--model", str(model_dir), "--topology", "e- nu(e)~"]
    assert main([*base, "--inclusive", "--project", "--out", str(tmp_path / "c")]) == 0
    text = capsys.readouterr().out
    assert "chi2/ndf" in text
    assert "note: input weights: 1 of 100 events (1.0%) are negative" in text
    assert "note: generated events projected onto the exact constraints" in text
    d = json.loads((tmp_path / "c" / "comparison.json").read_text())
    assert d["projected"] is True
    assert d["selection"]["inclusive"] is True
    assert main([*base, "--out", str(tmp_path / "x")]) == 2
    assert "--inclusive" in capsys.readouterr().err
    assert main(["compare", str(path), "--truth", str(path), "--inclusive", "--out", "y"]) == 2
    assert "give --topology" in capsys.readouterr().err
