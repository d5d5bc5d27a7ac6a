r"""The VAE loss, apart from the model.

Convention (the relevance ``R_i = 1 - mean sigma_i^2`` is only comparable between runs
that share it):

- the features are standardised (:class:`latentsym.features.Scaler`): unit variance per
  non-constant feature;
- ``recon`` = sum over features of the squared error ``(x - recon)^2``, mean over events;
- ``kl`` = sum over latent directions of KL(N(mu_i, sigma_i^2) || N(0, 1))
  ``= 0.5 (mu_i^2 + sigma_i^2 - 1 - log sigma_i^2)``, mean over events;
- ``total = recon + beta * kl``.

Why: a Gaussian decoder p(x | z) = N(x; f(z), s^2 I) over F features has negative
log-likelihood ``|x - f(z)|^2 / (2 s^2) + (F / 2) log(2 pi s^2)``, so the negative ELBO is
``|x - f|^2 / (2 s^2) + KL + const``. Multiplying by ``2 s^2`` (which does not move the
minimum) gives ``|x - f|^2 + 2 s^2 KL``: this loss is the exact negative ELBO of a decoder
with fixed variance ``s^2 = beta / 2`` per standardised feature, up to a constant and an
overall factor. Small beta means a sharp decoder and many open latent directions; beta
= 2 means a decoder noise as large as the data's own spread.

Event weights, when given, replace the plain means over events by weighted means
``sum_b w_b l_b / sum_b w_b``, or with ``norm`` given by ``sum_b w_b l_b / norm``. Signed
(NLO) weights take the second form with weights normalised to mean 1 over the training
sample and ``norm = B``: an unbiased estimate of the sample's weighted mean loss whose
normalisation cannot vanish or change sign with the batch (a batch of positive and
negative weights may sum to ~0). The training loop refuses weights for which the
weighted loss is not bounded below (:func:`latentsym.models.trainer.check_signed_weights`).

Example:
    >>> from latentsym.models.vae import VAE
    >>> x = torch.randn(16, 8)
    >>> terms = vae_loss(VAE(8, 6)(x), x, beta=0.1)
    >>> terms.kl_per_dim.shape
    torch.Size([6])
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from latentsym.models.vae import VAEOutput

__all__ = ["LossTerms", "kl_per_event", "vae_loss"]


class LossTerms(NamedTuple):
    """Loss terms, each averaged over events.

    Attributes:
        total: scalar ``recon + beta * kl``.
        recon: scalar summed squared error.
        kl: scalar KL summed over latent directions.
        kl_per_dim: ``[L]`` KL of each latent direction.
    """

    total: torch.Tensor
    recon: torch.Tensor
    kl: torch.Tensor
    kl_per_dim: torch.Tensor


def kl_per_event(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``[B, L]`` KL(N(mu, exp(logvar)) || N(0, 1)) of each event and latent direction."""
    return 0.5 * (mu * mu + torch.exp(logvar) - 1.0 - logvar)


def vae_loss(
    out: VAEOutput,
    x: torch.Tensor,
    beta: float,
    weights: torch.Tensor | None = None,
    norm: float | None = None,
) -> LossTerms:
    """Reconstruction + beta * KL, with the convention of the module docstring.

    Args:
        out: the model output for ``x``.
        x: ``[B, F]`` standardised features.
        beta: KL weight.
        weights: optional ``[B]`` event weights (default: every event counts once).
        norm: divide the weighted sums by this instead of ``weights.sum()`` (signed
            weights: the number of events B, weights of mean 1 over the sample).

    Returns:
        :class:`LossTerms`.
    """
    sq = ((out.recon - x) ** 2).sum(dim=-1)
    kl_ev = kl_per_event(out.mu, out.logvar)
    if weights is None:
        recon = sq.mean()
        kl_dim = kl_ev.mean(dim=0)
    else:
        w = weights / (weights.sum() if norm is None else norm)
        recon = (w * sq).sum()
        kl_dim = (w[:, None] * kl_ev).sum(dim=0)
    kl = kl_dim.sum()
    return LossTerms(recon + beta * kl, recon, kl, kl_dim)
