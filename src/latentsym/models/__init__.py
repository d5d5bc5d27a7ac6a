"""Models: the VAE, its loss, configurations, the training loop and checkpoints."""

from latentsym.models.checkpoint import MODEL_TYPES, TrainedModel, load_model
from latentsym.models.config import ACTIVATIONS, TrainConfig, VAEConfig
from latentsym.models.loss import LossTerms, kl_per_event, vae_loss
from latentsym.models.train import fit
from latentsym.models.vae import VAE, VAEOutput

__all__ = [
    "ACTIVATIONS",
    "MODEL_TYPES",
    "VAE",
    "LossTerms",
    "TrainConfig",
    "TrainedModel",
    "VAEConfig",
    "VAEOutput",
    "fit",
    "kl_per_event",
    "load_model",
    "vae_loss",
]
