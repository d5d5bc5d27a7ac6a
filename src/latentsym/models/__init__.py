"""Models: the VAE, its loss, configurations, the training loop and checkpoints.

Besides the plain :class:`VAE`: :class:`MechanismVAE` (a latent block identified through
known transformations), :class:`InvariantEquivariantVAE` (a class block and a within-class
block for data made of several processes) and :class:`LinearVAE` (the linear model of the
theory check). Each is registered in :data:`MODEL_TYPES`, so :func:`load_model` reads it.
"""

from latentsym.models.checkpoint import MODEL_TYPES, TrainedModel, load_model
from latentsym.models.config import ACTIVATIONS, TrainConfig, VAEConfig
from latentsym.models.invariant import InvariantConfig, InvariantEquivariantVAE, fit_invariant
from latentsym.models.linear import LinearVAE, LinearVAEConfig, train_linear_vae
from latentsym.models.loss import LossTerms, kl_per_event, vae_loss
from latentsym.models.mechanism import MechanismVAE, MechanismVAEConfig, fit_mechanism
from latentsym.models.train import fit
from latentsym.models.vae import VAE, VAEOutput

for _cls in (MechanismVAE, InvariantEquivariantVAE, LinearVAE):
    MODEL_TYPES[_cls.model_type] = _cls  # type: ignore[assignment]

__all__ = [
    "ACTIVATIONS",
    "MODEL_TYPES",
    "VAE",
    "InvariantConfig",
    "InvariantEquivariantVAE",
    "LinearVAE",
    "LinearVAEConfig",
    "LossTerms",
    "MechanismVAE",
    "MechanismVAEConfig",
    "TrainConfig",
    "TrainedModel",
    "VAEConfig",
    "VAEOutput",
    "fit",
    "fit_invariant",
    "fit_mechanism",
    "kl_per_event",
    "load_model",
    "train_linear_vae",
    "vae_loss",
]
