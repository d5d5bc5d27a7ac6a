r"""A linear VAE: the idealised model whose optimum is known in closed form.

Encoder mean ``mu = V x + c`` (``[B, F] -> [B, L]``), a learned log variance per latent
direction that does not depend on the input, and a linear decoder ``recon = W z + b``.
With the project's loss (:mod:`latentsym.models.loss`) on Gaussian data this model's
global optimum is probabilistic PCA with a fixed noise ``s^2 = beta / 2`` (derivation in
``docs/linear_vae.md``; the numbers in :mod:`latentsym.analysis.linear_theory`).

Why the posterior variance is input-independent: for a linear Gaussian decoder the exact
posterior ``p(z | x)`` has covariance ``s^2 (W^T W + s^2 I)^{-1}``, the same for every
``x``, so this family contains the true posterior and the ELBO can be tight (the
setting of Lucas et al. 2019, "Don't blame the ELBO"). An input-dependent linear log
variance would only add parameters that are zero at the optimum, and ``exp`` of a linear
function of ``x`` overflows on far-out inputs.

Example:
    >>> model = LinearVAE(n_features=6, latent_dim=3)
    >>> out = model.eval()(torch.zeros(4, 6))
    >>> out.recon.shape, out.logvar.shape
    (torch.Size([4, 6]), torch.Size([4, 3]))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from latentsym.errors import ConfigError, TrainingError
from latentsym.models.config import JsonConfig
from latentsym.models.loss import LossTerms, kl_per_event, vae_loss
from latentsym.models.vae import VAEOutput

__all__ = ["LinearVAE", "LinearVAEConfig", "train_linear_vae"]


@dataclass(frozen=True)
class LinearVAEConfig(JsonConfig):
    """Architecture of :class:`LinearVAE`.

    Attributes:
        n_features: input features F.
        latent_dim: latent directions L.
    """

    n_features: int
    latent_dim: int

    def __post_init__(self) -> None:
        for name in ("n_features", "latent_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer; got {value!r}")


class LinearVAE(nn.Module):
    """VAE with a linear encoder mean, a per-direction log variance and a linear decoder.

    Args:
        n_features: input features F.
        latent_dim: latent directions L.

    Attributes:
        encoder: ``nn.Linear(F, L)``, the posterior mean.
        logvar: ``[L]`` posterior log variances (shared by every event).
        decoder: ``nn.Linear(L, F)``; ``decoder.weight`` ``[F, L]`` holds the decoder
            columns ``w_j``.

    Raises:
        ConfigError: a non-positive size.
    """

    model_type = "linear-vae"
    config_class = LinearVAEConfig

    def __init__(self, n_features: int, latent_dim: int) -> None:
        super().__init__()
        self.config = LinearVAEConfig(n_features, latent_dim)
        self.encoder = nn.Linear(n_features, latent_dim)
        self.logvar = nn.Parameter(torch.zeros(latent_dim))
        self.decoder = nn.Linear(latent_dim, n_features)

    @classmethod
    def from_config(cls, config: LinearVAEConfig) -> LinearVAE:
        """A freshly initialised model with this configuration."""
        return cls(config.n_features, config.latent_dim)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, F]`` features -> ``(mu, logvar)``, each ``[B, L]``."""
        mu = self.encoder(x)
        return mu, self.logvar.expand_as(mu)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``[B, L]`` latent points -> ``[B, F]`` decoder means."""
        out: torch.Tensor = self.decoder(z)
        return out

    def expected_loss(self, x: torch.Tensor, beta: float) -> LossTerms:
        """``E_q[vae_loss]`` in closed form: the sampled loss averaged over the noise.

        For a linear decoder ``E_q |x - W z - b|^2 = |x - W mu - b|^2 + sum_j sigma_j^2
        |w_j|^2``, and the KL term has no noise, so this is the exact objective that
        :func:`~latentsym.models.loss.vae_loss` estimates with one sample per event.

        Args:
            x: ``[B, F]`` features.
            beta: KL weight.

        Returns:
            :class:`~latentsym.models.loss.LossTerms` (means over events).
        """
        mu, logvar = self.encode(x)
        noise = (torch.exp(self.logvar) * (self.decoder.weight**2).sum(dim=0)).sum()
        recon = ((self.decode(mu) - x) ** 2).sum(dim=-1).mean() + noise
        kl_dim = kl_per_event(mu, logvar).mean(dim=0)
        kl = kl_dim.sum()
        return LossTerms(recon + beta * kl, recon, kl, kl_dim)

    def forward(self, x: torch.Tensor) -> VAEOutput:
        """Encode, sample (train mode) or take the mean (eval mode), decode."""
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu) if self.training else mu
        return VAEOutput(self.decode(z), mu, logvar, z)


def train_linear_vae(
    x: np.ndarray | torch.Tensor,
    *,
    latent_dim: int,
    beta: float,
    method: str = "lbfgs",
    steps: int | None = None,
    lr: float | None = None,
    seed: int = 0,
) -> LinearVAE:
    """Train a :class:`LinearVAE` on all events at once (no scaler, no validation split).

    Two methods minimise the same objective, the project's loss ``recon + beta * KL``:

    - ``"lbfgs"``: L-BFGS (strong Wolfe line search, float64) on
      :meth:`LinearVAE.expected_loss`, the exact average of the loss over the
      reparameterisation noise, computed from the events' mean and covariance (for a
      linear model the same number as the average over events, at a cost independent
      of N). Deterministic; reaches the optimum to ~1e-9 in the loss.
    - ``"adam"``: Adam on :func:`~latentsym.models.loss.vae_loss` with one
      reparameterised sample per event and step (float32), as the project's ``fit``
      trains; the rate decays to 1% of ``lr`` along a cosine.

    The features are used as given: the theory's ``lambda_i`` are the eigenvalues of the
    covariance of exactly these ``x``. Initial weights and noise are seeded from ``seed``
    inside :func:`torch.random.fork_rng`, so the caller's random state is left alone.

    Args:
        x: ``[N, F]`` features.
        latent_dim: latent directions L.
        beta: KL weight.
        method: ``"lbfgs"`` or ``"adam"``.
        steps: L-BFGS iterations (default 1000; stops earlier at a gradient of 1e-9)
            or Adam steps (default 2000).
        lr: learning rate (default 1 for L-BFGS, 0.05 for Adam).
        seed: seed of the initial weights and the noise.

    Returns:
        The trained :class:`LinearVAE` (float32), in eval mode.

    Raises:
        ConfigError: bad shapes or settings.
        TrainingError: the loss became NaN or infinite.

    Example:
        >>> x = np.random.default_rng(0).normal(size=(2000, 4)) * [2.0, 1.0, 0.5, 0.1]
        >>> model = train_linear_vae(x, latent_dim=4, beta=0.1)
        >>> int((model.logvar.exp() < 0.95).sum())  # lambda_i > s^2 = 0.05: three
        3
    """
    if method not in _METHODS:
        raise ConfigError(f"train_linear_vae: unknown method {method!r}; allowed: {_METHODS}")
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    if xt.ndim != 2 or len(xt) < 2:
        raise ConfigError(f"train_linear_vae: x must be [N >= 2, F]; got shape {tuple(xt.shape)}")
    if not torch.isfinite(xt).all():
        raise ConfigError("train_linear_vae: x holds NaN or inf; drop or fix those events")
    if isinstance(beta, bool) or not (isinstance(beta, int | float) and beta > 0):
        raise ConfigError(f"train_linear_vae: beta must be a positive number; got {beta!r}")
    n_steps = (1000 if method == "lbfgs" else 2000) if steps is None else steps
    for name, value in (("steps", n_steps), ("latent_dim", latent_dim)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"train_linear_vae: {name} must be a positive integer; got {value!r}")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = LinearVAE(xt.shape[1], latent_dim)
        if method == "lbfgs":
            threads = torch.get_num_threads()
            torch.set_num_threads(1)  # F x F products: extra threads only cost overhead
            try:
                _lbfgs(model.double(), xt, float(beta), n_steps, 1.0 if lr is None else lr)
            finally:
                torch.set_num_threads(threads)
        else:
            _adam(model, xt.float(), float(beta), n_steps, 0.05 if lr is None else lr)
    return model.float().eval()


_METHODS = ("lbfgs", "adam")


def _check(loss: torch.Tensor, where: str) -> None:
    if not torch.isfinite(loss):
        raise TrainingError(f"train_linear_vae: loss {loss.item()} at {where}; lower lr")


def _moment_loss(
    model: LinearVAE, mean: torch.Tensor, cov: torch.Tensor, beta: float
) -> torch.Tensor:
    """:meth:`LinearVAE.expected_loss` ``.total`` from the events' mean and (1/N) covariance.

    For a linear model the average over events of the expected loss depends on the
    events only through these two moments, so this is the same number at O(F^2 L) cost.
    """
    v, c = model.encoder.weight, model.encoder.bias
    w, b = model.decoder.weight, model.decoder.bias
    a = torch.eye(len(mean), dtype=mean.dtype) - w @ v
    resid = a @ mean - w @ c - b
    var = torch.exp(model.logvar)
    recon = torch.trace(a @ cov @ a.T) + resid @ resid + (var * (w**2).sum(dim=0)).sum()
    mu_mean = v @ mean + c
    mu2 = torch.diagonal(v @ cov @ v.T) + mu_mean**2
    kl = 0.5 * (mu2 + var - 1.0 - model.logvar).sum()
    return recon + beta * kl


def _lbfgs(model: LinearVAE, x: torch.Tensor, beta: float, steps: int, lr: float) -> None:
    mean = x.mean(dim=0)
    cov = (x - mean).T @ (x - mean) / len(x)
    opt = torch.optim.LBFGS(
        model.parameters(),
        lr=lr,
        max_iter=steps,
        max_eval=2 * steps,
        history_size=20,
        tolerance_grad=1e-9,
        tolerance_change=1e-15,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = _moment_loss(model, mean, cov, beta)
        _check(loss, "an L-BFGS evaluation")
        loss.backward()
        return loss

    opt.step(closure)


def _adam(model: LinearVAE, x: torch.Tensor, beta: float, steps: int, lr: float) -> None:
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda t: 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t / steps))
    )
    model.train()
    for step in range(steps):
        opt.zero_grad()
        loss = vae_loss(model(x), x, beta).total
        _check(loss, f"Adam step {step}")
        loss.backward()
        opt.step()
        sched.step()
