"""The learned latent prior: a normalising flow fitted after the VAE, through the one loop."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from latentsym.errors import ConfigError, OutputError
from latentsym.models import (
    Architecture,
    FitOptions,
    FlowConfig,
    FlowPrior,
    TrainConfig,
    fit,
    fit_prior,
    load_model,
)
from latentsym.models.flow import FLOW_TRAIN, PRIOR_DIR, weights_digest
from latentsym.toys import circle

QUIET = FitOptions(progress=False)
SHORT = FLOW_TRAIN.replace(epochs=4, batch_size=128)


@pytest.fixture(scope="module")
def vae():
    x = circle(600, seed=0)
    trained = fit(
        x,
        arch=Architecture(latent_dim=3, hidden=(32, 32)),
        train=TrainConfig(epochs=5, batch_size=128),
        options=QUIET,
    )
    return x, trained


def test_config_is_checked():
    with pytest.raises(ConfigError, match="distinct latent directions"):
        FlowConfig(latent_dim=3, dims=(0, 0))
    with pytest.raises(ConfigError, match=r"must lie in 0\.\.2"):
        FlowConfig(latent_dim=3, dims=(3,))
    with pytest.raises(ConfigError, match="choose one of means, posterior"):
        FlowConfig(latent_dim=3, dims=(0,), source="data")
    with pytest.raises(ConfigError, match=r"noise must be a number in \[0, 1\]"):
        FlowConfig(latent_dim=3, dims=(0,), noise=2.0)
    cfg = FlowConfig(latent_dim=3, dims=(2, 0), source="posterior")
    assert FlowConfig.from_json(cfg.to_json()) == cfg


def test_fit_is_reproducible_and_leaves_the_vae_alone(vae):
    x, trained = vae
    before = weights_digest(trained.model)
    a = fit_prior(trained, x, dims=(0, 1), train=SHORT, options=QUIET)
    b = fit_prior(trained, x, dims=(0, 1), train=SHORT, options=QUIET)
    assert trained.prior is None
    assert weights_digest(trained.model) == before
    assert a.prior is not None
    assert a.prior.epochs_run == 4
    assert a.prior.data["vae_weights_sha256"] == before
    for k, v in a.flow.state_dict().items():
        assert torch.equal(v, b.flow.state_dict()[k]), k
    za, zb = a.flow.sample_latent(200, seed=3), b.flow.sample_latent(200, seed=3)
    np.testing.assert_array_equal(za, zb)
    assert not np.array_equal(za, a.flow.sample_latent(200, seed=4))
    # the direction outside dims sits at its mean over the events
    mu = trained.encode(x)[0]
    np.testing.assert_allclose(za[:, 2], mu[:, 2].mean(), rtol=1e-5)
    # a different seed trains a different flow
    c = fit_prior(trained, x, dims=(0, 1), train=SHORT.replace(seed=1), options=QUIET)
    assert not torch.equal(_first(c), _first(a))


def _first(m) -> torch.Tensor:
    return next(iter(m.flow.flow.parameters())).detach()


def test_sample_uses_the_flow_by_default(vae):
    x, trained = vae
    gauss = np.random.default_rng(5).standard_normal((50, trained.latent_dim))
    np.testing.assert_array_equal(trained.sample(50, seed=5), trained.decode(gauss))
    with pytest.raises(ConfigError, match="has no learned prior"):
        trained.sample(5, prior="flow")
    with_prior = fit_prior(trained, x, dims=(0, 1), train=SHORT, options=QUIET)
    flow_z = with_prior.flow.sample_latent(50, seed=5)
    np.testing.assert_array_equal(with_prior.sample(50, seed=5), trained.decode(flow_z))
    np.testing.assert_array_equal(
        with_prior.sample(50, seed=5, prior="flow"), trained.decode(flow_z)
    )
    np.testing.assert_array_equal(
        with_prior.sample(50, seed=5, prior="gaussian"), trained.decode(gauss)
    )
    with pytest.raises(ConfigError, match="choose 'auto', 'flow' or 'gaussian'"):
        with_prior.sample(5, prior="normal")


def test_flow_learns_the_latent_distribution():
    """On a known 2-d latent distribution (a ring), the fitted flow's log-likelihood of
    held-out points beats N(0, 1)'s, and its samples reproduce the ring's radius."""
    rng = np.random.default_rng(0)
    n = 2000
    angle = rng.uniform(0, 2 * np.pi, n)
    ring = np.c_[2 * np.cos(angle), 2 * np.sin(angle)] + 0.1 * rng.standard_normal((n, 2))
    cfg = FlowConfig(latent_dim=2, dims=(0, 1), transforms=3, hidden=(32, 32))
    from latentsym.models.flow import FlowObjective
    from latentsym.models.trainer import as_train_data
    from latentsym.models.trainer import train as train_loop

    record = train_loop(
        FlowObjective(cfg, np.zeros(2), "ring"),
        as_train_data(ring),
        FLOW_TRAIN.replace(epochs=30, patience=30, batch_size=256),
        QUIET,
    )
    prior: FlowPrior = record.model  # type: ignore[assignment]
    held = torch.as_tensor(ring[:500], dtype=torch.float32)
    with torch.no_grad():
        ll_flow = float(prior.log_prob(held).mean())
    ll_gauss = float(torch.distributions.Normal(0, 1).log_prob(held).sum(-1).mean())
    assert ll_flow > ll_gauss + 1.0, (ll_flow, ll_gauss)
    radius = np.linalg.norm(prior.sample_latent(2000, seed=0), axis=1)
    assert abs(np.median(radius) - 2.0) < 0.1
    assert np.percentile(np.abs(radius - 2.0), 90) < 0.5


def test_saved_and_loaded_weights_only(vae, tmp_path):
    x, trained = vae
    with_prior = fit_prior(trained, x, dims=(0, 2), train=SHORT, options=QUIET)
    folder = with_prior.save(tmp_path / "m")
    assert (folder / PRIOR_DIR / "model.pt").is_file()
    cfg = json.loads((folder / PRIOR_DIR / "config.json").read_text())
    assert cfg["model_type"] == "flow-prior"
    assert cfg["model"]["dims"] == [0, 2]
    torch.load(folder / PRIOR_DIR / "model.pt", weights_only=True)
    again = load_model(folder)
    assert again.flow is not None
    assert again.flow.config == with_prior.flow.config
    np.testing.assert_array_equal(again.sample(100, seed=2), with_prior.sample(100, seed=2))
    # a VAE without a prior loads without one
    plain = trained.save(tmp_path / "plain")
    assert load_model(plain).flow is None


def test_stale_prior_is_refused(vae, tmp_path):
    x, trained = vae
    with_prior = fit_prior(trained, x, dims=(0, 1), train=SHORT, options=QUIET)
    folder = with_prior.save(tmp_path / "m")
    other = fit(
        x,
        arch=Architecture(latent_dim=3, hidden=(32, 32)),
        train=TrainConfig(epochs=5, batch_size=128, seed=1),
        options=QUIET,
    )
    other.save(folder, overwrite=True)  # the prior/ subfolder is left behind
    with pytest.raises(ConfigError, match="stale prior beside a retrained model"):
        load_model(folder)
    shutil.rmtree(folder / PRIOR_DIR)
    assert load_model(folder).flow is None


def test_checkpoint_resume_matches_an_uninterrupted_fit(vae, tmp_path):
    x, trained = vae
    full = fit_prior(trained, x, dims=(0, 1), train=SHORT.replace(epochs=6), options=QUIET)
    folder = tmp_path / "prior"
    part = fit_prior(trained, x, dims=(0, 1), train=SHORT.replace(epochs=3),
                     options=FitOptions(out_dir=folder, progress=False))  # fmt: skip
    assert part.prior.epochs_run == 3
    assert (folder / "state.pt").is_file()
    with pytest.raises(OutputError, match="already holds a checkpoint"):
        fit_prior(trained, x, dims=(0, 1), train=SHORT, options=FitOptions(out_dir=folder))
    resumed = fit_prior(
        trained,
        x,
        dims=(0, 1),
        train=SHORT.replace(epochs=6),
        options=FitOptions(out_dir=folder, resume=True, progress=False),
    )
    assert resumed.prior.epochs_run == 6
    for k, v in full.flow.state_dict().items():
        assert torch.equal(v, resumed.flow.state_dict()[k]), k


def test_posterior_source_draws_fresh_points(vae):
    x, trained = vae
    post = fit_prior(trained, x, dims=(0, 1), source="posterior", train=SHORT, options=QUIET)
    assert post.flow.config.source == "posterior"
    assert post.prior.feature_names == ("z0", "z1", "sigma0", "sigma1")
    assert np.isfinite(post.prior.history[-1]["val_total"])
