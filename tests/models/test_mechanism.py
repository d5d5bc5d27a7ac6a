"""The mechanism VAE: configuration, the exact actions, the loss and the training loop."""

from __future__ import annotations

import math
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import torch
import vector
from conftest import sample

from latentsym.analysis.symmetry import boost_z, rotate_z
from latentsym.errors import ConfigError
from latentsym.features import FeatureMatrix, build
from latentsym.io import read_events
from latentsym.models import (
    MODEL_TYPES,
    Architecture,
    FitOptions,
    MechanismSpec,
    TrainConfig,
    load_model,
)
from latentsym.models.mechanism import (
    MechanismVAE,
    MechanismVAEConfig,
    act,
    fit_mechanism,
    mechanism_loss,
)
from latentsym.physics.selection import select_final_state

SMALL_ARCH = Architecture(hidden=(32, 32))
SMALL_TRAIN = TrainConfig(epochs=3, batch_size=256)
QUIET = FitOptions(progress=False, num_threads=1)


@pytest.fixture(scope="module")
def ee() -> FeatureMatrix:
    events, _ = read_events(sample("ee_mumu_91GeV.lhe.gz"), max_events=1000)
    return build(select_final_state(events))


@pytest.fixture(scope="module")
def pp() -> FeatureMatrix:
    events, _ = read_events(sample("pp_mumu_13TeV.lhe.gz"), max_events=1000)
    return build(select_final_state(events))


def test_config_layout_and_json() -> None:
    cfg = MechanismVAEConfig(8, 6, mechanisms=("boost-z", "azimuthal"))
    assert cfg.mechanisms == ("azimuthal", "boost-z")  # stored in the canonical order
    assert (cfg.azimuthal_dims, cfg.boost_dim, cfg.rest_dims) == ((0, 1), 2, (3, 4, 5))
    boost = MechanismVAEConfig(8, 3, mechanisms=("boost-z",))
    assert (boost.azimuthal_dims, boost.boost_dim, boost.rest_dims) == ((), 0, (1, 2))
    assert MechanismVAEConfig.from_json(cfg.to_json()) == cfg
    model = MechanismVAE.from_config(cfg)
    assert model.config == cfg
    assert model.model_type == "mechanism-vae"
    assert MechanismVAE.config_class is MechanismVAEConfig


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mechanisms": ("parity",)}, "allowed|non-empty set"),
        ({"mechanisms": ()}, "non-empty set"),
        ({"mechanisms": ("azimuthal", "azimuthal")}, "without repeats"),
        ({"latent_dim": 2, "mechanisms": ("azimuthal", "boost-z")}, "smaller than the 3"),
        ({"equivariance_weight": -1.0}, "equivariance_weight must be a number >= 0"),
        ({"mechanisms": ("boost-z",), "boost_range": 0.0}, "boost_range must be > 0"),
    ],
)
def test_config_errors(kwargs: dict, match: str) -> None:
    args = {"n_features": 8, "latent_dim": 6, **kwargs}
    with pytest.raises(ConfigError, match=match):
        MechanismVAEConfig(**args)


def test_act_matches_vector(pp: FeatureMatrix) -> None:
    p = pp.momenta[:200]
    rng = np.random.default_rng(0)
    ours = act(p, angle=np.full(len(p), 0.7)).numpy()
    theirs = rotate_z(0.7).fn(_p4(p), rng)
    np.testing.assert_allclose(ours[..., 1], np.asarray(theirs.px), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(ours[..., 2], np.asarray(theirs.py), rtol=1e-12, atol=1e-9)
    boosted = act(p, rapidity=np.full(len(p), -0.4)).numpy()
    ref = boost_z(-0.4).fn(_p4(p), rng)
    np.testing.assert_allclose(boosted[..., 0], np.asarray(ref.E), rtol=1e-10)
    np.testing.assert_allclose(boosted[..., 3], np.asarray(ref.pz), rtol=1e-10, atol=1e-8)
    # the two commute, keep the masses, and move azimuth and rapidity by the right amounts
    a, y = rng.uniform(0, 2 * math.pi, len(p)), rng.uniform(-1, 1, len(p))
    both = act(p, a, y).numpy()
    np.testing.assert_allclose(both, act(act(p, rapidity=y), angle=a).numpy(), rtol=1e-12)
    m2 = lambda q: q[..., 0] ** 2 - (q[..., 1:] ** 2).sum(-1)  # noqa: E731
    np.testing.assert_allclose(m2(both), m2(p), rtol=1e-9, atol=1e-6)
    dphi = np.arctan2(both[:, 1, 2], both[:, 1, 1]) - np.arctan2(p[:, 1, 2], p[:, 1, 1])
    np.testing.assert_allclose(np.angle(np.exp(1j * (dphi - a))), 0.0, atol=1e-9)
    tot, tot_g = p.sum(1), both.sum(1)
    rap = lambda t: 0.5 * np.log((t[:, 0] + t[:, 3]) / (t[:, 0] - t[:, 3]))  # noqa: E731
    np.testing.assert_allclose(rap(tot_g) - rap(tot), y, atol=1e-9)


def _p4(m: np.ndarray) -> ak.Array:
    return vector.zip({"E": m[..., 0], "px": m[..., 1], "py": m[..., 2], "pz": m[..., 3]})


def test_loss_is_zero_for_an_exactly_equivariant_encoder() -> None:
    """A linear encoder mu = (px, py, E, pz) of one particle rotates exactly like R(alpha)."""
    model = MechanismVAE(4, 4, hidden=(), mechanisms=("azimuthal",))
    with torch.no_grad():
        lin = model.encoder[0]
        lin.weight.zero_()
        lin.bias.zero_()
        for row, col in enumerate((1, 2, 0, 3)):
            lin.weight[row, col] = 1.0
        lin.bias[4:] = -20.0  # tiny posterior widths
    gen = torch.Generator().manual_seed(0)
    p = torch.randn(64, 1, 4, generator=gen, dtype=torch.float64)
    angle = torch.rand(64, generator=gen, dtype=torch.float64) * 2 * math.pi
    x, gx = p[:, 0].float(), act(p, angle)[:, 0].float()
    terms = mechanism_loss(model.eval(), x, gx, beta=0.1, angle=angle.float())
    assert terms.equivariance.item() < 1e-10
    assert terms.invariance.item() < 1e-10
    # the opposite sense of rotation is not equivariant
    wrong = mechanism_loss(model, x, gx, beta=0.1, angle=-angle.float())
    assert wrong.equivariance.item() > 0.1
    # total = mean of the two VAE losses + weighted mechanism terms
    w = model.config.equivariance_weight
    vae_part = wrong.total - w * wrong.equivariance - 10.0 * wrong.invariance
    torch.testing.assert_close(vae_part, wrong.recon + 0.1 * wrong.kl)


def test_fit_is_reproducible_and_saves(ee: FeatureMatrix, tmp_path: Path) -> None:
    rng_before = torch.get_rng_state()
    three = SMALL_TRAIN.replace(seed=3)
    a = fit_mechanism(ee, arch=SMALL_ARCH, train=three, options=QUIET)
    b = fit_mechanism(ee, arch=SMALL_ARCH, train=three, options=QUIET)
    c = fit_mechanism(ee, arch=SMALL_ARCH, train=SMALL_TRAIN.replace(seed=4), options=QUIET)
    assert torch.equal(torch.get_rng_state(), rng_before)
    sa, sb, sc = a.model.state_dict(), b.model.state_dict(), c.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)
    assert a.epochs_run == 3
    assert a.data["n_train"] == 900
    row = a.history[-1]
    for key in ("train_equivariance", "val_equivariance", "val_invariance", "kl_per_dim"):
        assert row[key] is not None
    assert a.history[-1]["train_total"] < a.history[0]["train_total"]
    # save and load through MODEL_TYPES
    a.save(tmp_path / "m")
    assert MODEL_TYPES["mechanism-vae"] is MechanismVAE
    again = load_model(tmp_path / "m")
    assert isinstance(again.model, MechanismVAE)
    assert again.config == a.config
    np.testing.assert_array_equal(again.encode(ee)[0], a.encode(ee)[0])


def test_fit_refuses_what_cannot_work(ee: FeatureMatrix) -> None:
    with pytest.raises(ConfigError, match="system rapidity of these events does not vary"):
        fit_mechanism(
            ee,
            mechanism=MechanismSpec(mechanisms=("boost-z",)),
            arch=SMALL_ARCH,
            train=SMALL_TRAIN,
            options=QUIET,
        )
    with pytest.raises(ConfigError, match="needs a FeatureMatrix"):
        fit_mechanism(ee.values, arch=SMALL_ARCH, train=SMALL_TRAIN, options=QUIET)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="num_threads"):
        fit_mechanism(ee, arch=SMALL_ARCH, train=SMALL_TRAIN, options=QUIET.replace(num_threads=0))


def test_boost_training_runs_on_pp(pp: FeatureMatrix) -> None:
    trained = fit_mechanism(
        pp,
        mechanism=MechanismSpec(mechanisms=("azimuthal", "boost-z")),
        arch=SMALL_ARCH.replace(latent_dim=5),
        train=SMALL_TRAIN,
        options=QUIET,
    )
    assert trained.config.boost_dim == 2
    assert all(np.isfinite(h["val_total"]) for h in trained.history)
