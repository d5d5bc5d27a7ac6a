"""The main job through its Python API: the summary object, summary.json and report.md
agree, and summary.json keeps every key it has ever had."""

from __future__ import annotations

import json

import pytest
from conftest import sample

from latentsym.errors import ConfigError
from latentsym.jobs import FIGURES, ReadOptions, RunOptions, run_analysis
from latentsym.models import Architecture, TrainConfig
from latentsym.report import RunSummary, render_report

# summary.json before the jobs layer: keys may be added, none may go
KEYS = {
    "": {
        "input", "features", "model", "relevance", "n_relevant", "threshold", "gap", "weak",
        "relevant_dims", "expected", "latent_manifold_dim", "latent_dimension",
        "latent_names", "naming", "verdict", "checks", "timing", "outputs", "resolution",
        "baselines", "dimension_scale",
    },
    "input": {"paths", "n_events_read", "n_events_used", "topology", "pids", "dropped", "sqrt_s"},
    "features": {"representation", "names", "units", "constant"},
    "model": {
        "type", "beta", "epochs_run", "best_epoch", "seed", "latent_dim", "hidden", "batch_size",
    },
    "checks": {"constraints", "tangency", "azimuthal", "transformations"},
    "timing": {"read_s", "train_s", "train_events_per_s", "threads"},
    "outputs": {"figures", "latents", "model"},
    "verdict": {"consistent", "text"},
}  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    options = RunOptions(
        arch=Architecture(latent_dim=4, hidden=(32,)),
        train=TrainConfig(epochs=3, batch_size=256),
        transforms=("rotate-z:1",),
        max_events=1500,
        progress=False,
    )
    return run_analysis([sample("ee_mumu_91GeV.lhe.gz")], out, options), out


def test_summary_object_json_and_report_agree(run) -> None:
    summary, out = run
    assert isinstance(summary, RunSummary)
    d = summary.to_dict()
    assert json.loads((out / "summary.json").read_text()) == json.loads(json.dumps(d))
    assert (out / "report.md").read_text() == render_report(summary, FIGURES)
    assert d["n_relevant"] == summary.n_relevant == summary.relevance.n_relevant
    assert d["latent_manifold_dim"] == summary.latent_manifold_dim
    assert d["model"]["hidden"] == [32]
    assert d["model"]["epochs_run"] == 3
    assert d["input"]["n_events_read"] == 1500
    assert d["checks"]["transformations"][0]["transform"] == "rotate_z(1.0)"
    assert d["outputs"]["figures"] == list(FIGURES.values())


def test_every_run_has_baselines_and_a_dimension_scale(run) -> None:
    summary, out = run
    d = summary.to_dict()
    assert (out / "dimension_scale.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(d["baselines"]) == {"pca", "twonn", "mle", "n_points"}
    assert d["baselines"]["pca"] == 3  # e+e- -> mu+ mu-: a 2-sphere in its 3 linear dims
    curves = d["dimension_scale"]
    assert curves["d"] == curves["d_approx"] == 2
    assert curves["names"] == []
    assert len(curves["data"]) == len(curves["data_predicted"]) > 0
    assert d["resolution"] is None  # no approximate constraint: the verdict reads against d
    report = (out / "report.md").read_text()
    assert "baselines on the same standardised features: PCA (99 %) 3" in report
    assert "![Dimension against scale](dimension_scale.png)" in report


def test_summary_keeps_its_keys(run) -> None:
    d = run[0].to_dict()
    for section, keys in KEYS.items():
        have = set(d[section]) if section else set(d)
        assert keys <= have, (section, sorted(keys - have))


def test_options_refuse_at_once() -> None:
    with pytest.raises(ConfigError, match="unknown transformation 'shear'"):
        RunOptions(transforms=("shear",))
    with pytest.raises(ConfigError, match=r"unknown mechanisms \['rotate'\]"):
        RunOptions(mechanisms=("rotate",))
    with pytest.raises(ConfigError, match=r"RunOptions: unknown settings \[.epochs.\]"):
        RunOptions().replace(epochs=3)
    assert RunOptions().replace(max_events=10).max_events == 10
    assert ReadOptions(collections=["RP"]).kwargs() == {"collections": ["RP"]}
    assert ReadOptions().kwargs() == {}
