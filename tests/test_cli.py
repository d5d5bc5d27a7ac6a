"""The command line: one clear line and a non-zero exit on bad input; JSON and text output."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import uproot

from latentsym.cli import main
from latentsym.io import RunInfo, make_events, write_lhe
from latentsym.toys import ee_to_mumu


@pytest.fixture(scope="module")
def toy_lhe(tmp_path_factory):
    """2000 toy e+e- -> mu+ mu- events written as LHE, with the beams before them."""
    mom = ee_to_mumu(2000, seed=3)
    e, px, py, pz = (mom[..., i] for i in range(4))
    beam = np.zeros((len(e), 2))
    ev = make_events(
        p4={
            "px": np.concatenate([beam, px], axis=1).tolist(),
            "py": np.concatenate([beam, py], axis=1).tolist(),
            "pz": np.concatenate(
                [np.column_stack([45.6 * np.ones(len(e)), -45.6 * np.ones(len(e))]), pz], axis=1
            ).tolist(),
            "E": np.concatenate([45.6 * np.ones((len(e), 2)), e], axis=1).tolist(),
        },
        pid=[[-11, 11, -13, 13]] * len(e),
        status=[[-1, -1, 1, 1]] * len(e),
    )
    path = tmp_path_factory.mktemp("toy") / "toy_ee.lhe.gz"
    info = RunInfo(
        path="",
        format="lhe.gz",
        n_events=len(e),
        beams=(-11, 11),
        beam_energies=(45.6, 45.6),
        sqrt_s=91.2,
    )
    write_lhe(ev, path, info)
    return path


def test_inspect_json(toy_lhe, capsys):
    assert main(["inspect", str(toy_lhe), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    for key in (
        "path",
        "format",
        "n_events",
        "beams",
        "sqrt_s",
        "cross_section_pb",
        "weights",
        "final_states",
    ):
        assert key in d
    assert d["n_events"] == 2000
    assert d["format"] == "lhe.gz"
    assert d["sqrt_s"] == pytest.approx(91.2)
    assert d["beams"] == ["e+", "e-"]
    assert d["weights"] == {"n_named": 0, "names": [], "sum": 2000.0, "n_negative": 0}
    assert d["final_states"] == [{"particles": ["mu+", "mu-"], "pids": [-13, 13], "count": 2000}]
    mu_plus = d["kinematics"][0]
    assert mu_plus["particle"] == "mu+"
    assert mu_plus["E"] == pytest.approx([45.6, 45.6], rel=1e-9)


def test_inspect_text(toy_lhe, capsys):
    assert main(["inspect", str(toy_lhe)]) == 0
    out = capsys.readouterr().out
    assert "events        2000" in out
    assert "e+ e-  (45.6 + 45.6 GeV)" in out
    assert "2000  mu+ mu-" in out


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.lhe", "no such file"),
        (lambda p: p, "is a directory"),
        (
            lambda p: (p / "notes.txt").write_text("hello") and p / "notes.txt",
            "not an LHE or ROOT file",
        ),
    ],
)
def test_bad_input_one_line_no_traceback(tmp_path, capsys, make, message):
    path = make(tmp_path)
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_run_writes_everything_and_refuses_to_clobber(toy_lhe, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["run", str(toy_lhe), "--out", str(out), "--epochs", "3", "--quiet", "--latent-dim", "4"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "expected from the data: d = 2" in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["input"]["n_events_read"] == 2000
    assert summary["input"]["topology"] == "mu+ mu-"
    assert summary["features"]["names"][:4] == ["E_mu+", "px_mu+", "py_mu+", "pz_mu+"]
    assert summary["model"]["epochs_run"] == 3
    assert len(summary["relevance"]) == 4
    rs = [r["R"] for r in summary["relevance"]]
    assert rs == sorted(rs, reverse=True)
    assert summary["expected"]["manifold_dim"] == 2
    assert summary["expected"]["linear_rank"] == 3
    assert set(summary["verdict"]) == {"consistent", "text"}
    assert set(summary["checks"]) == {"constraints", "tangency", "azimuthal"}
    assert summary["checks"]["azimuthal"]["transform"].startswith("rotate_z")
    for name in (
        "report.md",
        "relevance.png",
        "training.png",
        "latent_pairs.png",
        "correlations.png",
        "dimension_scale.png",
    ):
        assert (out / name).stat().st_size > 0
    tree = uproot.open(out / "latents.root")["latents"]
    assert tree.num_entries == 2000
    assert {"event", "used", "mu_0", "sigma_3"} <= set(tree.keys())
    assert "![Relevance of the latent directions](relevance.png)" in (out / "report.md").read_text()

    assert main(args) == 2
    assert "not empty. Pass --overwrite" in capsys.readouterr().err
    before = toy_lhe.read_bytes()
    assert main([*args, "--overwrite"]) == 0
    assert toy_lhe.read_bytes() == before


def test_resume_continues_training(toy_lhe, tmp_path, capsys):
    out = tmp_path / "out"
    base = ["run", str(toy_lhe), "--out", str(out), "--quiet", "--latent-dim", "3", "--no-flow"]
    base += ["--threads", "1"]  # a fixed count: the automatic one may change between runs
    assert main([*base, "--epochs", "2"]) == 0
    assert main([*base, "--epochs", "4", "--resume"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"]["epochs_run"] == 4
    capsys.readouterr()


def test_scan_writes_json_and_figure(toy_lhe, tmp_path, capsys):
    out = tmp_path / "scan"
    args = ["scan", str(toy_lhe), "--out", str(out), "--betas", "0.1,1", "--seeds", "0,1"]
    assert main([*args, "--epochs", "3", "--quiet"]) == 0
    d = json.loads((out / "scan.json").read_text())
    assert d["betas"] == [0.1, 1.0]
    assert len(d["k_table"]) == 2
    assert all(len(row) == 2 for row in d["k_table"])
    assert (out / "scan.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "relevant count per seed" in capsys.readouterr().out


def test_benchmark_prints_table(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["benchmark", "--quick", "--datasets", "circle", "--quiet", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| circle | 1 | 2 |" in text
    rows = json.loads(out.read_text())
    assert rows[0]["pca"] == 2


def test_compare_input_with_generated(toy_lhe, tmp_path, capsys):
    run_out = tmp_path / "run"
    assert main(["run", str(toy_lhe), "--out", str(run_out), "--epochs", "3", "--quiet"]) == 0
    out = tmp_path / "cmp"
    assert (
        main(["compare", str(toy_lhe), "--model", str(run_out / "model"), "--out", str(out)]) == 0
    )
    d = json.loads((out / "comparison.json").read_text())
    generated = d["exclusive"]["comparisons"]["generated"]
    assert {"cos_theta_star", "phi_star", "pt_mu+"} <= set(generated)
    assert all(r["w1"] >= 0 for r in generated.values())
    assert "chi2/ndf" in capsys.readouterr().out
    assert (
        main(["compare", str(toy_lhe), "--model", str(run_out / "model"), "--out", str(out)]) == 2
    )


def test_run_with_suspected_symmetries(toy_lhe, tmp_path, capsys):
    out = tmp_path / "out"
    base = ["run", str(toy_lhe), "--out", str(out), "--epochs", "3", "--quiet"]
    # a swap of different particles is refused before any training
    assert main([*base, "--transform", "swap:0,1"]) == 2
    assert "not of the same species" in capsys.readouterr().err
    assert not (out / "model").exists()
    assert main([*base, "--transform", "shear"]) == 2
    assert "unknown transformation 'shear'; allowed: rotate-z" in capsys.readouterr().err
    assert (
        main([*base, "--overwrite", "--transform", "boost-z:0.5", "--transform", "rotate-z:1"]) == 0
    )
    tr = json.loads((out / "summary.json").read_text())["checks"]["transformations"]
    assert [t["transform"] for t in tr] == ["boost_z(0.5)", "rotate_z(1.0)"]
    assert "Transformation `boost_z(0.5)`" in (out / "report.md").read_text()


def test_run_with_mechanism(toy_lhe, tmp_path, capsys):
    from latentsym.models import MechanismVAE, load_model

    out = tmp_path / "out"
    base = ["run", str(toy_lhe), "--out", str(out), "--quiet", "--latent-dim", "4", "--no-flow"]
    base += ["--threads", "1"]  # compared bit for bit below with a fixed count
    mech = ["--mechanism", "azimuthal", "--mechanism-particle", "mu-"]
    assert main([*base, "--epochs", "3", *mech]) == 0
    assert "azimuthal block: circular correlation with phi(mu-)" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"]["type"] == "mechanism-vae"
    m = summary["mechanism"]
    assert m["mechanisms"] == ["azimuthal"]
    assert m["azimuthal_dims"] == [0, 1]
    assert -1 <= m["circular_correlation"] <= 1
    assert (
        "## Latents identified through known mechanisms (azimuthal)"
        in (out / "report.md").read_text()
    )
    assert isinstance(load_model(out / "model").model, MechanismVAE)
    assert m["particle"] == "mu-"
    # refused: an unknown mechanism or particle, a boost of e+e- at fixed sqrt(s)
    assert main([*base, "--overwrite", *mech[:2], "--mechanism-particle", "e-"]) == 2
    assert "'e-' is not in the final state ['mu+', 'mu-']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*base, "--mechanism", "rotate"])
    assert "invalid choice: 'rotate'" in capsys.readouterr().err
    # the mechanism VAE trains through the one loop: --resume continues its checkpoint and
    # ends where an uninterrupted run of 4 epochs ends, bit for bit
    assert main([*base, "--epochs", "4", *mech, "--resume"]) == 0
    capsys.readouterr()
    assert json.loads((out / "summary.json").read_text())["model"]["epochs_run"] == 4
    whole = ["run", str(toy_lhe), "--out", str(tmp_path / "whole"), "--quiet", "--no-flow"]
    whole += ["--latent-dim"]
    assert main([*whole, "4", "--epochs", "4", *mech, "--threads", "1"]) == 0
    capsys.readouterr()
    resumed = torch.load(out / "model" / "model.pt", weights_only=True)
    uninterrupted = torch.load(tmp_path / "whole" / "model" / "model.pt", weights_only=True)
    assert all(torch.equal(v, uninterrupted[k]) for k, v in resumed.items())
    assert main([*base, "--overwrite", "--epochs", "1", "--mechanism", "boost-z"]) == 2
    assert "system rapidity of these events does not vary" in capsys.readouterr().err


def test_run_invariant_equivariant_on_three_processes(tmp_path, capsys):
    from conftest import sample

    files = [str(sample(f"ee_{p}_91GeV.lhe.gz")) for p in ("mumu", "tautau", "bb")]
    out = tmp_path / "out"
    args = ["run", *files, "--model", "invariant-equivariant", "--out", str(out), "--quiet"]
    small = ["--max-events", "600", "--epochs", "3", "--hidden", "32,32", "--kl-warmup", "1"]
    assert main([*args, *small, "--labelled-fraction", "0.1"]) == 0
    text = capsys.readouterr().out
    assert "class accuracy (kNN on the test events; chance 0.333)" in text
    s = json.loads((out / "summary.json").read_text())
    assert s["input"]["classes"] == ["ee_mumu_91GeV", "ee_tautau_91GeV", "ee_bb_91GeV"]
    assert s["input"]["n_events_per_class"] == [600, 600, 600]
    assert (s["input"]["n_train"], s["input"]["n_test"]) == (1440, 360)
    assert s["input"]["n_labelled"] == 144  # 10% of each class's 480 training events
    assert s["features"]["representation"] == "collider"
    assert (s["model"]["inv_dim"], s["model"]["eq_dim"]) == (2, 4)
    for block in ("inv_probe", "eq_probe"):
        assert 0 <= s["invariant"][block]["knn"]["accuracy"] <= 1
    assert s["plain"]["recon_error"] > 0
    assert (out / "latents.png").stat().st_size > 0
    assert "![Latent blocks coloured by class](latents.png)" in (out / "report.md").read_text()
    # it trains through the one loop: --resume continues its checkpoint
    assert main([*args, *small[:2], "--epochs", "5", "--hidden", "32,32", "--kl-warmup", "1",
                 "--labelled-fraction", "0.1", "--resume"]) == 0  # fmt: skip
    capsys.readouterr()
    assert json.loads((out / "summary.json").read_text())["model"]["epochs_run"] == 5
    # refused: one file, options of the other models
    assert main([*args[:2], *args[4:], "--overwrite"]) == 2
    assert "needs at least two files, one per class" in capsys.readouterr().err
    assert main([*args, "--overwrite", "--mechanism", "azimuthal"]) == 2
    assert "--mechanism apply to the plain and mechanism VAEs" in capsys.readouterr().err
    assert main([*args, "--overwrite", "--dask", "auto", "--transform", "rotate-z"]) == 2
    assert "--transform, --dask apply to the plain" in capsys.readouterr().err
    assert main(["run", files[0], "--out", str(tmp_path / "o2"), "--labelled-fraction", "0.5"]) == 2
    assert "--labelled-fraction applies to --model invariant-equivariant" in capsys.readouterr().err


def test_run_on_dask_equals_one_process(tmp_path, capsys):
    pytest.importorskip("distributed")
    from conftest import sample

    files = [str(sample("pp_mumu_13TeV.root")), str(sample("pp_mumu_13TeV.lhe.gz"))]
    base = [*files, "--max-events", "25000", "--epochs", "2", "--quiet", "--hidden", "32"]
    base += ["--threads", "1", "--no-flow"]  # bit for bit needs a fixed count; no generation
    assert main(["run", *base, "--out", str(tmp_path / "one")]) == 0
    assert main(["run", *base, "--out", str(tmp_path / "dask"), "--dask", "auto"]) == 0
    capsys.readouterr()
    one = json.loads((tmp_path / "one" / "summary.json").read_text())
    dask = json.loads((tmp_path / "dask" / "summary.json").read_text())
    assert dask["input"] == one["input"]
    assert dask["input"]["n_events_read"] == 25000
    assert dask["relevance"] == one["relevance"]
    weights = [(tmp_path / d / "model" / "model.pt").read_bytes() for d in ("one", "dask")]
    assert weights[0] == weights[1]
    assert main(["run", *base, "--out", str(tmp_path / "x"), "--dask", "localhost:1"]) == 2
    assert "expected 'auto' or a scheduler address" in capsys.readouterr().err


def test_learning_rate_reaches_the_training_config(toy_lhe, tmp_path, capsys):
    """--lr: a training option added by touching TrainConfig and the CLI alone."""
    out = tmp_path / "out"
    args = ["run", str(toy_lhe), "--out", str(out), "--quiet", "--epochs", "1", "--lr", "0.002"]
    args += ["--no-flow"]
    assert main(args) == 0
    capsys.readouterr()
    assert json.loads((out / "model" / "config.json").read_text())["train"]["lr"] == 0.002
