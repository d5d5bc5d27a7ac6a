"""Training: reproducibility, resume, divergence, early stopping, checkpoints."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from latentsym.errors import ConfigError, OutputError, SchemaError, TrainingError
from latentsym.features import FeatureMatrix, build
from latentsym.models import (
    Architecture,
    FitOptions,
    TrainConfig,
    TrainedModel,
    fit,
    load_model,
)
from latentsym.toys import MUON_PAIR, ee_to_mumu

SMALL_ARCH = Architecture(hidden=(32, 32))
SMALL_TRAIN = TrainConfig(epochs=3, batch_size=256)
QUIET = FitOptions(progress=False, num_threads=1)  # bit-identical reruns need a fixed count


@pytest.fixture(scope="module")
def ee() -> FeatureMatrix:
    return build(ee_to_mumu(1500, seed=5), particle_names=MUON_PAIR)


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _losses(model: TrainedModel) -> list[tuple[float, float | None]]:
    return [(h["train_total"], h["val_total"]) for h in model.history]


def test_same_seed_same_weights(ee: FeatureMatrix) -> None:
    rng_before = torch.get_rng_state()
    seven = SMALL_TRAIN.replace(seed=7)
    a = fit(ee, arch=SMALL_ARCH, train=seven, options=QUIET)
    b = fit(ee, arch=SMALL_ARCH, train=seven, options=QUIET)
    c = fit(ee, arch=SMALL_ARCH, train=SMALL_TRAIN.replace(seed=8), options=QUIET)
    assert torch.equal(torch.get_rng_state(), rng_before)  # the caller's RNG is untouched
    assert _same_weights(a.model, b.model)
    assert _losses(a) == _losses(b)
    assert not _same_weights(a.model, c.model)
    assert a.epochs_run == 3
    assert a.data["n_train"] == 1350
    assert a.data["n_val"] == 150
    # the losses go down and are in the documented convention
    assert a.history[-1]["train_total"] < a.history[0]["train_total"]
    h = a.history[-1]
    assert h["val_total"] == pytest.approx(h["val_recon"] + 0.1 * h["val_kl"], rel=1e-9)
    assert sum(h["kl_per_dim"]) == pytest.approx(h["val_kl"], rel=1e-9)


def test_resume_reaches_the_uninterrupted_state(ee: FeatureMatrix, tmp_path: Path) -> None:
    four, two = SMALL_TRAIN.replace(epochs=4), SMALL_TRAIN.replace(epochs=2)
    part = QUIET.replace(out_dir=tmp_path / "part")
    full = fit(ee, arch=SMALL_ARCH, train=four, options=QUIET.replace(out_dir=tmp_path / "full"))
    fit(ee, arch=SMALL_ARCH, train=two, options=part)
    resumed = fit(ee, arch=SMALL_ARCH, train=four, options=part.replace(resume=True))
    assert resumed.epochs_run == 4
    assert _same_weights(full.model, resumed.model)
    assert _losses(full) == _losses(resumed)
    assert full.best_epoch == resumed.best_epoch
    on_disk = load_model(tmp_path / "part")
    assert _same_weights(on_disk.model, full.model)


def test_resume_refuses_other_settings(ee: FeatureMatrix, tmp_path: Path) -> None:
    here = QUIET.replace(out_dir=tmp_path)
    resume = here.replace(resume=True)
    with pytest.raises(OutputError, match="holds no checkpoint"):
        fit(ee, arch=SMALL_ARCH, train=SMALL_TRAIN, options=resume)
    fit(ee, arch=SMALL_ARCH, train=SMALL_TRAIN.replace(epochs=1), options=here)
    with pytest.raises(ConfigError, match=r"model.latent_dim is 6 there but 3 now"):
        fit(ee, arch=SMALL_ARCH.replace(latent_dim=3), train=SMALL_TRAIN, options=resume)
    with pytest.raises(ConfigError, match=r"train.beta is 0.1 there but 0.5 now"):
        fit(ee, arch=SMALL_ARCH, train=SMALL_TRAIN.replace(beta=0.5), options=resume)
    other = build(ee_to_mumu(1500, seed=6), particle_names=MUON_PAIR)
    with pytest.raises(ConfigError, match=r"features .* differ"):
        fit(other, arch=SMALL_ARCH, train=SMALL_TRAIN, options=resume)
    with pytest.raises(OutputError, match="resume=True to continue it or overwrite=True"):
        fit(ee, arch=SMALL_ARCH, train=SMALL_TRAIN, options=here)
    fit(ee, arch=SMALL_ARCH, train=SMALL_TRAIN, options=here.replace(overwrite=True))


def test_divergence_names_epoch_batch_and_hint(ee: FeatureMatrix) -> None:
    with pytest.raises(TrainingError, match=r"epoch 1, batch 2 of 6 .*lower learning rate"):
        fit(ee, arch=SMALL_ARCH, train=SMALL_TRAIN.replace(lr=1e4), options=QUIET)
    bad = ee.values.copy()
    bad[17, 2] = np.inf
    with pytest.raises(SchemaError, match="feature f2 of event 17 is inf"):
        fit(bad, arch=SMALL_ARCH, train=SMALL_TRAIN, options=QUIET)


def test_early_stopping_stops_and_restores_best(ee: FeatureMatrix, tmp_path: Path) -> None:
    tm = fit(
        ee,
        arch=SMALL_ARCH,
        train=TrainConfig(epochs=300, patience=3, lr=1e-2, batch_size=128),
        options=QUIET.replace(out_dir=tmp_path),
    )
    assert tm.epochs_run < 300
    assert tm.epochs_run == tm.best_epoch + 3
    vals = [h["val_total"] for h in tm.history]
    assert vals[tm.best_epoch - 1] <= min(vals) * (1 + 1e-4)
    # the returned weights are the best epoch's, not the last one's
    state = torch.load(tmp_path / "state.pt", weights_only=True)
    last = state["model"]
    assert any(not torch.equal(last[k], v) for k, v in tm.model.state_dict().items())
    assert all(torch.equal(state["best_model"][k], v) for k, v in tm.model.state_dict().items())


def test_kl_warmup_ramps_beta(ee: FeatureMatrix) -> None:
    warm = SMALL_TRAIN.replace(epochs=4, beta=0.3, kl_warmup_epochs=2)
    tm = fit(ee, arch=SMALL_ARCH, train=warm, options=QUIET)
    assert [h["beta"] for h in tm.history] == pytest.approx([0.1, 0.2, 0.3, 0.3])
    assert tm.best_epoch >= 3  # warm-up epochs are never kept as best


def test_checkpoint_files_and_round_trip(ee: FeatureMatrix, tmp_path: Path) -> None:
    tm = fit(
        ee, arch=SMALL_ARCH, train=SMALL_TRAIN, options=QUIET.replace(out_dir=tmp_path / "run")
    )
    names = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert names == ["config.json", "history.json", "model.pt", "scaler.json", "state.pt"]
    weights = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    assert set(weights) == set(tm.model.state_dict())
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["model"] == {
        "n_features": 8,
        "latent_dim": 6,
        "hidden": [32, 32],
        "activation": "silu",
    }
    assert cfg["features"]["names"][0] == "E_mu+"
    assert len(json.loads((tmp_path / "run" / "history.json").read_text())["epochs"]) == 3

    again = load_model(tmp_path / "run")
    assert _same_weights(again.model, tm.model)
    assert not again.model.training
    assert again.scaler.constant == ("E_mu+", "E_mu-")
    mu, sigma = tm.encode(ee)
    mu2, sigma2 = again.encode(ee.values)
    np.testing.assert_array_equal(mu, mu2)
    np.testing.assert_array_equal(sigma, sigma2)
    assert mu.shape == sigma.shape == (1500, 6)
    assert mu.dtype == np.float64
    assert np.all(sigma > 0)

    tm.save(tmp_path / "copy")
    with pytest.raises(OutputError, match="overwrite=True"):
        tm.save(tmp_path / "copy")
    tm.save(tmp_path / "copy", overwrite=True)
    assert sorted(p.name for p in (tmp_path / "copy").iterdir()) == names[:-1]
    (tmp_path / "copy" / "model.pt").unlink()
    with pytest.raises(ConfigError, match=r"model\.pt is missing"):
        load_model(tmp_path / "copy")


def test_decode_in_physical_units(ee: FeatureMatrix) -> None:
    tm = fit(ee, arch=SMALL_ARCH, train=SMALL_TRAIN, options=QUIET)
    z = np.random.default_rng(0).standard_normal((5, 6))
    x = tm.decode(z)
    assert x.shape == (5, 8)
    # constant features come back at their value (45.6 GeV) up to the decoder's error
    assert np.all(np.abs(x[:, [0, 4]] - 45.6) < 2.0)
    zt = torch.tensor(z, dtype=torch.float32)
    np.testing.assert_allclose(tm.decode_tensor(zt).detach().numpy(), x, rtol=1e-5, atol=1e-4)
    jac = torch.func.jacrev(tm.decode_tensor)(zt[0])
    assert jac.shape == (8, 6)
    assert torch.isfinite(jac).all()
    with pytest.raises(ConfigError, match=r"expected features \[N, 8\]"):
        tm.encode(np.zeros((3, 4)))


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("LATENTSYM_SLOW") != "1", reason="set LATENTSYM_SLOW=1")
def test_ee_mumu_opens_two_or_three_directions() -> None:
    """The physics check of DESIGN.md on the 20k-event toy with the default settings."""
    fm = build(ee_to_mumu(20000, seed=0), particle_names=MUON_PAIR)
    for seed in (0, 1, 2):
        tm = fit(fm, train=TrainConfig(seed=seed), options=QUIET)
        _, sigma = tm.encode(fm)
        relevance = np.sort(1.0 - (sigma**2).mean(axis=0))[::-1]
        k = int((relevance > 0.5).sum())
        assert k in (2, 3), (seed, relevance)
        assert relevance[k] < 0.1, (seed, relevance)  # the rest collapsed to the prior
