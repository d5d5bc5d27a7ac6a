"""The one training loop: the plain VAE reproduces the loop it replaced bit for bit, and
every model variant gets resume, early stopping and progress from it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import sample

from latentsym.errors import ConfigError
from latentsym.features import FeatureMatrix, build
from latentsym.io import read_events
from latentsym.models import (
    Architecture,
    FitOptions,
    InvariantSpec,
    MechanismSpec,
    TrainConfig,
    fit,
    fit_invariant,
    fit_mechanism,
    load_model,
)
from latentsym.models.trainer import progress_bar
from latentsym.physics.selection import select_final_state
from latentsym.toys import circle

GOLDEN = Path(__file__).parents[1] / "data" / "golden_plain_vae.json"
QUIET = FitOptions(progress=False, num_threads=1)
SMALL = Architecture(hidden=(32, 32))


@pytest.fixture(scope="module")
def ee() -> FeatureMatrix:
    events, _ = read_events(sample("ee_mumu_91GeV.lhe.gz"), max_events=1200)
    return build(select_final_state(events))


def _digest(model: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.numpy().tobytes())
    return h.hexdigest()


def test_plain_vae_reproduces_the_loop_it_replaced() -> None:
    """Bit for bit: the weights, every history number and the encoded means."""
    ref = json.loads(GOLDEN.read_text())
    events, _ = read_events(sample("ee_mumu_91GeV.lhe.gz"), max_events=4000)
    fm = build(select_final_state(events, "mu+ mu-"), "cartesian")
    t = fit(
        fm,
        arch=Architecture(hidden=(64, 64)),
        train=TrainConfig(epochs=6, batch_size=512, seed=11, kl_warmup_epochs=2),
        options=QUIET,
    )
    history = [{k: v for k, v in r.items() if k != "seconds"} for r in t.history]
    mu, sigma = t.encode(fm)
    sums = (float(mu.sum()), float(sigma.sum()))
    assert t.best_epoch == ref["best_epoch"]
    if _digest(t.model) == ref["weights_sha256"]:  # the kind of CPU that wrote the golden
        assert history == ref["history"]
        assert sums == (ref["mu_sum"], ref["sigma_sum"])
        return
    # torch picks other SIMD kernels on other CPUs (AVX-512 against AVX2): float rounding
    # moves the numbers by about 1e-9 relative; the loop's logic would move them by far more
    assert len(history) == len(ref["history"])
    for got, want in zip(history, ref["history"], strict=True):
        assert got.keys() == want.keys()
        for key, value in want.items():
            assert np.allclose(got[key], value, rtol=1e-6, atol=1e-9), (got["epoch"], key)
    assert sums == pytest.approx((ref["mu_sum"], ref["sigma_sum"]), rel=1e-5)


def _resume_matches(tmp_path: Path, run: object) -> None:
    full = run(tmp_path / "full", 4, False)  # type: ignore[operator]
    run(tmp_path / "part", 2, False)  # type: ignore[operator]
    resumed = run(tmp_path / "part", 4, True)  # type: ignore[operator]
    assert _digest(resumed.model) == _digest(full.model)
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in full.history]
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in resumed.history] == strip
    again = load_model(tmp_path / "part")
    assert again.model.model_type == full.model.model_type
    assert _digest(again.model) == _digest(full.model)


def test_mechanism_vae_resumes_bit_identical(tmp_path: Path, ee: FeatureMatrix) -> None:
    def run(folder: Path, epochs: int, resume: bool):
        return fit_mechanism(
            ee,
            mechanism=MechanismSpec(mechanisms=("azimuthal",)),
            arch=SMALL,
            train=TrainConfig(epochs=epochs, batch_size=256, seed=2),
            options=QUIET.replace(out_dir=folder, resume=resume),
        )

    _resume_matches(tmp_path, run)
    # a plain VAE's checkpoint is not continued as a mechanism VAE
    fit(ee, arch=SMALL, train=TrainConfig(epochs=1, batch_size=256, seed=2),
        options=QUIET.replace(out_dir=tmp_path / "plain"))  # fmt: skip
    with pytest.raises(ConfigError, match="model is a 'vae' there"):
        run(tmp_path / "plain", 2, True)


def test_invariant_vae_trains_and_resumes_through_the_same_loop(tmp_path: Path) -> None:
    x = np.concatenate([circle(400, seed=0), 3.0 + circle(400, seed=1)])
    y = np.repeat([0, 1], 400)

    def run(folder: Path, epochs: int, resume: bool):
        res = fit_invariant(
            x,
            y,
            spec=InvariantSpec(inv_dim=1, labelled_fraction=0.5),
            arch=Architecture(latent_dim=3, hidden=(16,)),
            train=TrainConfig(epochs=epochs, batch_size=128, seed=4, kl_warmup_epochs=1),
            options=QUIET.replace(out_dir=folder, resume=resume),
        )
        return res.trained

    _resume_matches(tmp_path, run)
    row = load_model(tmp_path / "full").history[-1]
    assert {"train_ce", "train_mmd", "val_ce", "val_accuracy", "beta"} <= set(row)
    assert row["beta"] == 0.1  # past the warm-up, which the old invariant loop lacked


def test_early_stopping_is_the_same_rule_for_every_model(ee: FeatureMatrix) -> None:
    """patience=1 and an unreachable improvement: every variant stops after 2 epochs."""
    train = TrainConfig(epochs=50, batch_size=256, patience=1, lr=1e-9)
    plain = fit(ee, arch=SMALL, train=train, options=QUIET)
    mech = fit_mechanism(ee, arch=SMALL, train=train, options=QUIET)
    labels = (ee.values[:, 1] > 0).astype(np.int64)
    inv = fit_invariant(ee, labels, arch=SMALL, train=train, options=QUIET).trained
    for t in (plain, mech, inv):
        assert (t.epochs_run, t.best_epoch) == (2, 1), t.model.model_type


def test_progress_bar_shows_unless_disabled_or_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    import latentsym.models.trainer as trainer

    monkeypatch.delenv("CI", raising=False)
    with progress_bar(3, "training VAE", enabled=True) as bar:
        assert bar.disable  # pytest captures stderr: not a terminal, so hidden (tqdm's rule)
    monkeypatch.setattr(trainer, "in_jupyter", lambda: True)
    with progress_bar(3, "training VAE", enabled=True) as bar:
        assert not bar.disable  # a Jupyter kernel's stderr is no terminal either: shown
    with progress_bar(3, "training VAE", enabled=False) as bar:
        assert bar.disable
    monkeypatch.setenv("CI", "true")
    with progress_bar(3, "training VAE", enabled=True) as bar:
        assert bar.disable
    assert trainer.in_jupyter() is True
    monkeypatch.undo()
    assert trainer.in_jupyter() is False  # pytest runs no kernel


def test_progress_bar_in_jupyter_without_widgets_does_not_warn() -> None:
    """In a real Jupyter kernel without ipywidgets: the text bar, shown, no TqdmWarning."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    code = (
        "import os, warnings\n"
        "os.environ.pop('CI', None)\n"
        "warnings.simplefilter('error')\n"
        "from latentsym.models.trainer import progress_bar\n"
        "with progress_bar(3, 'training VAE', enabled=True) as bar:\n"
        "    shown = not bar.disable\n"
        "    bar.update(3)\n"
        "print('shown:', shown)"
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    outputs = nb.cells[0].outputs
    text = "".join(o.get("text", "") for o in outputs)
    assert "training VAE: 100%" in text
    assert "shown: True" in text
    assert not [o for o in outputs if o.get("output_type") == "error"]


def test_fit_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="resume=True needs out_dir"):
        FitOptions(resume=True)
    with pytest.raises(ConfigError, match="num_threads must be a positive integer"):
        FitOptions(num_threads=0)
    with pytest.raises(ConfigError, match="unknown settings \\['epoch'\\]"):
        TrainConfig().replace(epoch=3)
