"""Training with signed (NLO) event weights: a known answer and the refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentsym.analysis.compare import compare_observables
from latentsym.errors import ConfigError
from latentsym.features import build
from latentsym.models import Architecture, FitOptions, TrainConfig, fit, vae_loss
from latentsym.models.vae import VAE

QUIET = FitOptions(progress=False)
ARCH = Architecture(latent_dim=4, hidden=(48, 48))


def _toy(n: int, seed: int, *, mean: float = 0.5, width: float = 0.8):
    """Events drawn from N(0, 1) in four features, weighted to N(mean, width^2) in the
    second, with signs flipped for 25% of the events below 0 and 8% above (about 17%
    negative overall): ``w = p/q * sign / (1 - 2 f(x))`` has expectation p/q at every x."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4))
    ratio = np.exp(-0.5 * ((x[:, 1] - mean) / width) ** 2 + 0.5 * x[:, 1] ** 2) / width
    frac = np.where(x[:, 1] < 0, 0.25, 0.08)
    sign = np.where(rng.uniform(size=n) < frac, -1.0, 1.0)
    w = ratio * sign / (1 - 2 * frac)
    mom = np.stack([100 + 10 * x[:, 0], 10 * x[:, 1], 10 * x[:, 2], 10 * x[:, 3]], axis=1)
    return build(mom[:, None, :], particle_names=["X"], weight=w), w


def test_weighted_model_reproduces_the_target():
    fm, w = _toy(4000, 0)
    assert 0.10 < (w < 0).mean() < 0.20
    train = TrainConfig(epochs=40, batch_size=256)
    weighted = fit(fm, arch=ARCH, train=train.replace(weighted=True), options=QUIET)
    plain = fit(fm, arch=ARCH, train=train, options=QUIET)
    ref = {n: fm.values[:, j] for j, n in enumerate(fm.names)}
    gen = {
        name: {n: m.sample(4000, seed=1)[:, j] for j, n in enumerate(fm.names)}
        for name, m in (("weighted", weighted), ("unweighted", plain))
    }
    comp = compare_observables({"input": ref} | gen, weights={"input": w})
    for n in fm.names:
        assert comp.result(n, "weighted").chi2_ndf < 2.0, (n, comp.result(n, "weighted"))
    # the unweighted model learns the events' density, N(0, 1), not the cross-section
    off = comp.result("px_X", "unweighted")
    assert off.chi2_ndf > 5.0, off
    assert off.w1_rel > 0.3, off
    assert comp.result("px_X", "weighted").w1_rel < 0.1


def test_negative_total_weight_is_refused():
    fm, w = _toy(400, 1)
    neg = build(fm.momenta, particle_names=["X"], weight=-np.abs(w))
    with pytest.raises(ConfigError, match=r"total weight is .* <= 0 .*not bounded below"):
        fit(neg, arch=ARCH, train=TrainConfig(epochs=1, weighted=True), options=QUIET)


def test_small_batch_for_the_negative_fraction_is_refused():
    rng = np.random.default_rng(2)
    fm, _ = _toy(2000, 2)
    signs = np.where(rng.uniform(size=2000) < 0.45, -1.0, 1.0)  # mean ~0.1: B >= ~900
    signed = build(fm.momenta, particle_names=["X"], weight=signs)
    with pytest.raises(ConfigError, match=r"batch_size=256 is too small.*Use batch_size >= \d+"):
        fit(signed, arch=ARCH, train=TrainConfig(epochs=1, weighted=True, batch_size=256),
            options=QUIET)  # fmt: skip
    # the same weights with a batch as large as the message asks train
    need = int(np.ceil((3 * np.std(signs[:1800]) / np.mean(signs[:1800])) ** 2))
    assert 256 < need < 1800
    fit(signed, arch=ARCH, train=TrainConfig(epochs=1, weighted=True, batch_size=1800),
        options=QUIET)  # fmt: skip


def test_validation_weight_must_be_positive():
    fm, _ = _toy(200, 3)
    w = np.ones(200)
    val_share = TrainConfig(epochs=1, weighted=True, val_fraction=0.1, batch_size=64)
    perm = torch.randperm(200, generator=torch.Generator().manual_seed(0)).numpy()
    w[perm[:20]] = -1.0  # every validation event negative
    signed = build(fm.momenta, particle_names=["X"], weight=w)
    with pytest.raises(ConfigError, match="validation events' total weight"):
        fit(signed, arch=ARCH, train=val_share, options=QUIET)


def test_constant_weights_train_like_unweighted():
    fm, _ = _toy(600, 4)
    twice = build(fm.momenta, particle_names=["X"], weight=np.full(600, 2.0))
    cfg = TrainConfig(epochs=3, batch_size=128)
    a = fit(fm, arch=ARCH, train=cfg, options=QUIET)
    b = fit(twice, arch=ARCH, train=cfg.replace(weighted=True), options=QUIET)
    for k, v in a.model.state_dict().items():
        torch.testing.assert_close(v, b.model.state_dict()[k], rtol=1e-5, atol=1e-6)


def test_loss_norm_keeps_the_sign_of_a_batch():
    """With norm = B a batch whose signed weights sum to ~0 still gives a finite loss of
    the right sign per event; the batch-sum normalisation would divide by ~0."""
    torch.manual_seed(0)
    x = torch.randn(4, 3)
    out = VAE(3, 2).eval()(x)
    w = torch.tensor([1.0, -1.0, 1.0, -1.0])
    terms = vae_loss(out, x, 0.1, w, norm=4.0)
    sq = ((out.recon - x) ** 2).sum(-1)
    torch.testing.assert_close(terms.recon, (w * sq).sum() / 4)
    assert torch.isfinite(terms.total)
