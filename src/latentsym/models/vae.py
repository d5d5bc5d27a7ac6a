"""A variational autoencoder with MLP encoder and decoder.

The encoder maps standardised features ``x`` ``[B, F]`` to the mean ``mu`` and the log
variance ``logvar`` ``[B, L]`` of a diagonal Gaussian posterior q(z | x); the decoder maps
a latent point ``z`` ``[B, L]`` to the mean of a Gaussian over the features. The loss
lives apart, in :mod:`latentsym.models.loss`.

Example:
    >>> model = VAE(n_features=8, latent_dim=6)
    >>> out = model.eval()(torch.zeros(4, 8))
    >>> out.recon.shape, out.mu.shape, bool(torch.equal(out.z, out.mu))
    (torch.Size([4, 8]), torch.Size([4, 6]), True)
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from latentsym.models.config import ACTIVATIONS, VAEConfig

__all__ = ["VAE", "VAEOutput", "mlp"]


class VAEOutput(NamedTuple):
    """What :meth:`VAE.forward` returns (all ``[B, .]`` tensors).

    Attributes:
        recon: ``[B, F]`` decoder mean at ``z`` (standardised feature units).
        mu: ``[B, L]`` posterior means.
        logvar: ``[B, L]`` posterior log variances.
        z: ``[B, L]`` the latent point decoded: a reparameterised sample in train mode,
            ``mu`` in eval mode.
    """

    recon: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor
    z: torch.Tensor


def mlp(n_in: int, hidden: tuple[int, ...], n_out: int, activation: str) -> nn.Sequential:
    """Linear layers of the ``hidden`` widths with ``activation`` between them."""
    layers: list[nn.Module] = []
    width = n_in
    for h in hidden:
        layers += [nn.Linear(width, h), ACTIVATIONS[activation]()]
        width = h
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


class VAE(nn.Module):
    """Gaussian VAE with MLP encoder and decoder.

    Args:
        n_features: input features F.
        latent_dim: latent directions L.
        hidden: encoder hidden widths; the decoder uses them reversed.
        activation: hidden activation, one of
            :data:`latentsym.models.config.ACTIVATIONS`.

    Raises:
        ConfigError: a non-positive size or an unknown activation.
    """

    model_type = "vae"

    def __init__(
        self,
        n_features: int,
        latent_dim: int,
        hidden: tuple[int, ...] = (128, 128),
        activation: str = "silu",
    ) -> None:
        super().__init__()
        self.config = VAEConfig(n_features, latent_dim, tuple(hidden), activation)
        cfg = self.config
        self.encoder = mlp(cfg.n_features, cfg.hidden, 2 * cfg.latent_dim, cfg.activation)
        self.decoder = mlp(cfg.latent_dim, cfg.hidden[::-1], cfg.n_features, cfg.activation)

    @classmethod
    def from_config(cls, config: VAEConfig) -> VAE:
        """A freshly initialised model with this configuration."""
        return cls(config.n_features, config.latent_dim, config.hidden, config.activation)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, F]`` standardised features -> ``(mu, logvar)``, each ``[B, L]``."""
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``[B, L]`` latent points -> ``[B, F]`` decoder means (standardised units)."""
        out: torch.Tensor = self.decoder(z)
        return out

    def forward(self, x: torch.Tensor) -> VAEOutput:
        """Encode, sample (train mode) or take the mean (eval mode), decode."""
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu) if self.training else mu
        return VAEOutput(self.decode(z), mu, logvar, z)
