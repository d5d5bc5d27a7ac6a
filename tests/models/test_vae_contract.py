"""One contract over every model variant, and the loss convention.

Add a new variant to ``VARIANTS`` (a factory returning a fresh model); it must have
``config`` (with ``to_json``/``from_json``), ``from_config``, ``model_type`` registered in
``MODEL_TYPES``, ``encode``, ``decode`` and ``forward`` returning a ``VAEOutput``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from latentsym.errors import ConfigError
from latentsym.models import (
    MODEL_TYPES,
    VAE,
    InvariantEquivariantVAE,
    LinearVAE,
    MechanismVAE,
    VAEConfig,
    VAEOutput,
    vae_loss,
)

VARIANTS: list[Callable[[], torch.nn.Module]] = [
    lambda: VAE(8, 6),
    lambda: VAE(5, 2, hidden=(16,), activation="tanh"),
    lambda: VAE(3, 4, hidden=(32, 16, 8), activation="relu"),
    lambda: MechanismVAE(8, 6, hidden=(32, 32), mechanisms=("azimuthal", "boost-z")),
    lambda: InvariantEquivariantVAE(8, 3, inv_dim=2, eq_dim=4, hidden=(32, 32)),
    lambda: LinearVAE(6, 4),
]
IDS = [
    "vae-default",
    "vae-small-tanh",
    "vae-deep-relu",
    "mechanism-vae-azimuthal-boost",
    "invariant-equivariant",
    "linear-vae",
]


def _make(factory: Callable[[], torch.nn.Module], seed: int = 0) -> Any:
    torch.manual_seed(seed)
    return factory()


def _x(model: Any, n: int = 64, scale: float = 1.0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(1)
    return scale * torch.randn(n, model.config.n_features, generator=gen)


@pytest.mark.parametrize("factory", VARIANTS, ids=IDS)
def test_model_contract(factory: Callable[[], torch.nn.Module], tmp_path: Path) -> None:
    model = _make(factory)
    cfg = model.config
    x = _x(model)

    # shapes
    out = model.train()(x)
    assert isinstance(out, VAEOutput)
    assert out.recon.shape == (64, cfg.n_features)
    for t in (out.mu, out.logvar, out.z):
        assert t.shape == (64, cfg.latent_dim)
    assert model.decode(out.z).shape == (64, cfg.n_features)
    mu, logvar = model.encode(x)
    torch.testing.assert_close(mu, out.mu)
    torch.testing.assert_close(logvar, out.logvar)
    assert not torch.equal(out.z, out.mu)  # train mode samples

    # gradients reach every parameter
    vae_loss(out, x, beta=0.5).total.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name

    # eval mode is deterministic and decodes the mean
    model.eval()
    a, b = model(x), model(x)
    for ta, tb in zip(a, b, strict=True):
        assert torch.equal(ta, tb)
    assert torch.equal(a.z, a.mu)

    # no NaN / inf, also on features far out in the tails
    for t in (*a, *model(_x(model, scale=30.0))):
        assert torch.isfinite(t).all()

    # save / load round trip: config JSON + weights-only state dict
    (tmp_path / "config.json").write_text(cfg.to_json())
    torch.save(model.state_dict(), tmp_path / "model.pt")
    cls = MODEL_TYPES[model.model_type]
    assert cls is type(model)
    again = cls.from_config(type(cfg).from_json((tmp_path / "config.json").read_text()))
    again.load_state_dict(torch.load(tmp_path / "model.pt", weights_only=True))
    again.eval()
    assert again.config == cfg
    for ta, tb in zip(again(x), a, strict=True):
        assert torch.equal(ta, tb)

    # different seeds give different initial weights
    other = _make(factory, seed=1).eval()
    assert not torch.equal(other(x).recon, a.recon)


def test_config_errors() -> None:
    with pytest.raises(ConfigError, match="allowed: silu, relu, gelu, tanh"):
        VAE(8, 6, activation="swish")
    with pytest.raises(ConfigError, match="latent_dim must be a positive integer"):
        VAE(8, 0)
    with pytest.raises(ConfigError, match="unknown keys"):
        VAEConfig.from_json('{"n_features": 8, "latent_dim": 2, "depth": 3}')
    assert VAEConfig.from_json(VAEConfig(8, 2, (4, 4)).to_json()) == VAEConfig(8, 2, (4, 4))


def test_loss_convention() -> None:
    gen = torch.Generator().manual_seed(0)
    x, recon = torch.randn(10, 3, generator=gen), torch.randn(10, 3, generator=gen)
    mu, logvar = torch.randn(10, 2, generator=gen), torch.randn(10, 2, generator=gen)
    out = VAEOutput(recon, mu, logvar, mu)
    terms = vae_loss(out, x, beta=0.25)
    # recon: summed over features, averaged over events
    torch.testing.assert_close(terms.recon, ((recon - x) ** 2).sum() / 10)
    # KL against the closed form of torch.distributions
    ref = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0))
    torch.testing.assert_close(terms.kl_per_dim, ref.mean(0))
    torch.testing.assert_close(terms.kl, ref.sum(1).mean())
    torch.testing.assert_close(terms.total, terms.recon + 0.25 * terms.kl)
    # the posterior equal to the prior costs nothing
    zero = vae_loss(VAEOutput(x, torch.zeros(10, 2), torch.zeros(10, 2), mu), x, beta=1.0)
    assert zero.total.item() == 0.0
    # weights: uniform weights change nothing; integer weights equal repeated events
    uniform = vae_loss(out, x, beta=0.25, weights=torch.full((10,), 3.0))
    torch.testing.assert_close(uniform.total, terms.total)
    w = torch.tensor([2.0] + [1.0] * 9)
    rep = torch.cat([torch.zeros(1, dtype=torch.long), torch.arange(10)])
    dup = VAEOutput(recon[rep], mu[rep], logvar[rep], mu[rep])
    torch.testing.assert_close(
        vae_loss(out, x, 0.25, weights=w).total, vae_loss(dup, x[rep], 0.25).total
    )


def test_loss_is_fixed_variance_gaussian_elbo() -> None:
    """recon + beta * KL = 2 s^2 * (negative ELBO) + const with s^2 = beta / 2."""
    gen = torch.Generator().manual_seed(2)
    x, recon = torch.randn(50, 4, generator=gen), torch.randn(50, 4, generator=gen)
    mu, logvar = torch.randn(50, 3, generator=gen), torch.randn(50, 3, generator=gen)
    beta = 0.3
    s2 = beta / 2
    nll = -Normal(recon, math.sqrt(s2)).log_prob(x).sum(1).mean()
    kl = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(1).mean()
    const = 4 / 2 * math.log(2 * math.pi * s2)
    terms = vae_loss(VAEOutput(recon, mu, logvar, mu), x, beta)
    torch.testing.assert_close(terms.total, 2 * s2 * (nll + kl - const))
