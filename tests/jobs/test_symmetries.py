"""The symmetries job and its command: outputs, numbers, errors; the bundled samples (slow)."""

from __future__ import annotations

import json

import pytest
from conftest import sample

from latentsym.analysis.discovery import DiscoveryOptions
from latentsym.analysis.distribution_symmetry import TwoSampleOptions
from latentsym.cli import main
from latentsym.errors import ConfigError, OutputError
from latentsym.features import build
from latentsym.jobs.symmetries import SymmetriesOptions, run_symmetries
from latentsym.models import Architecture, FitOptions, TrainConfig, fit
from latentsym.toys import MUON_PAIR, ee_to_mumu

SMALL = TwoSampleOptions(n_events=500, n_permutations=300)


def test_job_writes_its_outputs(tmp_path) -> None:
    options = SymmetriesOptions(
        max_events=1000,
        latent=False,
        tests=SMALL,
        discovery=DiscoveryOptions(tests=SMALL),
    )
    res = run_symmetries([sample("ee_mumu_91GeV.lhe.gz")], tmp_path / "out", options)
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "symmetries.json",
        "symmetries.md",
        "symmetries.png",
    ]
    d = json.loads((out / "symmetries.json").read_text())
    assert d["algebra"]["names"] == ["J_x", "J_y", "J_z"]
    assert d["algebra"]["max_principal_angle"] < 0.01
    assert d["asymmetry"] == ["mu-", 1.0]  # the e- beam moves along +z in this file
    assert res.distribution.get("J_z").invariant
    assert not res.distribution.get("K_z").invariant
    assert res.discovery.generators[0].nearest == "J_z"
    md = (out / "symmetries.md").read_text()
    assert md.startswith("## Symmetries")
    assert "A_FB(mu-)" in md
    assert d["timing"]["total_s"] > 0
    assert d["latent"] == []
    with pytest.raises(OutputError, match="not empty"):
        run_symmetries([sample("ee_mumu_91GeV.lhe.gz")], out, options)


def test_model_of_another_final_state_is_refused(tmp_path) -> None:
    p = ee_to_mumu(300)
    trained = fit(
        build(p, "collider", particle_names=MUON_PAIR),
        arch=Architecture(latent_dim=2, hidden=(8,)),
        train=TrainConfig(epochs=1),
        options=FitOptions(progress=False),
    )
    folder = trained.save(tmp_path / "model")
    options = SymmetriesOptions(max_events=300, model_dir=folder, tests=SMALL)
    with pytest.raises(ConfigError, match="differ from this sample's"):
        run_symmetries([sample("ee_mumu_91GeV.lhe.gz")], tmp_path / "out", options)
    with pytest.raises(ConfigError, match="needs the particles"):
        SymmetriesOptions(inclusive=True)


def test_cli_symmetries_json(tmp_path, capsys) -> None:
    args = ["symmetries", str(sample("pp_mumu_13TeV.lhe.gz")), "--out", str(tmp_path / "o"),
            "--max-events", "1000", "--no-latent", "--test-events", "500",
            "--permutations", "300", "--json"]  # fmt: skip
    assert main(args) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["manifold_algebra"] == ["J_z", "K_z"]
    assert "J_z" in d["invariant"]
    assert "K_z" in d["broken"]
    assert main([*args[:-1]]) == 2  # the folder is not empty now
    assert "not empty" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "algebra", "invariant"),
    [
        ("ee_mumu_91GeV.lhe.gz", ("J_x", "J_y", "J_z"), ("J_z",)),
        ("pp_mumu_13TeV.lhe.gz", ("J_z", "K_z"), ("J_z",)),
        ("ee_ZH_250GeV.lhe.gz", ("J_x", "J_y", "J_z"), ("J_z",)),
    ],
)
def test_bundled_samples_default_settings(tmp_path, name, algebra, invariant) -> None:
    """The done-criteria of the symmetry search on the bundled samples, default settings:
    the distribution keeps J_z alone of the six generators, and on e+e- -> mu+ mu- the
    forward-backward asymmetry breaks P_z and C but not their product."""
    res = run_symmetries([sample(name)], tmp_path / "out", SymmetriesOptions(progress=False))
    assert res.algebra.names == algebra
    assert res.algebra.max_principal_angle < 0.01
    dist = res.distribution
    for gen in invariant:
        assert dist.get(gen).pvalue > 0.01
    for gen in ("K_x", "K_y", "K_z"):
        assert dist.get(gen).pvalue < 0.001
    for gen in ("J_x", "J_y"):  # broken everywhere: on pp already by the constraints
        assert not dist.get(gen).invariant
    if name.startswith("ee_mumu"):
        assert dist.get("J_x").pvalue < 0.001
        assert dist.get("J_y").pvalue < 0.001
        assert not dist.get("P_z").invariant
        g = res.discovery.generators[0]
        assert g.nearest == "J_z"
        assert g.cosine >= 0.99
        assert g.invariant
        a = dist.get("P_z").asymmetry
        assert a is not None
        assert abs(a.from_test - a.direct) < a.error_test
        assert dist.get("C*P_z").invariant
        jz = next(lf for lf in res.latent if lf.generator == "J_z")
        assert jz.fraction_in_plane >= 0.9
    if name.startswith("pp"):
        assert dist.get("K_z").shifts[0].observable == "y_sys"


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="the exchange mu+ <-> mu- breaks as P_z does on back-to-back muons, but its "
    "p-value reads 0.011 at the default settings (odd-part test 0.0037 over 6 odd "
    "observables, times 3 for the candidate's three tests), just above alpha = 0.01",
)
def test_charge_exchange_is_broken_on_ee_mumu(tmp_path) -> None:
    res = run_symmetries(
        [sample("ee_mumu_91GeV.lhe.gz")],
        tmp_path / "out",
        SymmetriesOptions(latent=False, progress=False),
    )
    assert not res.distribution.get("C").invariant, res.distribution.get("C").pvalue


def test_run_with_symmetries_reuses_its_model(tmp_path) -> None:
    from latentsym.jobs import RunOptions, run_analysis

    options = RunOptions(
        max_events=300,
        arch=Architecture(latent_dim=3, hidden=(16,)),
        train=TrainConfig(epochs=2),
        progress=False,
        flow=False,
        symmetries=True,
    )
    run_analysis([sample("ee_mumu_91GeV.lhe.gz")], tmp_path / "run", options)
    out = tmp_path / "run"
    d = json.loads((out / "symmetries.json").read_text())
    assert d["algebra"]["names"] == ["J_x", "J_y", "J_z"]
    assert d["latent"]  # the run's model gave the latent view
    assert (out / "symmetries.png").exists()
    report = (out / "report.md").read_text()
    assert "## Symmetries" in report
    assert "### Latent view" in report
