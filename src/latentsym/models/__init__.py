"""Models: the VAE, its loss, configurations, the one training loop and checkpoints.

Besides the plain :class:`VAE`: :class:`MechanismVAE` (a latent block identified through
known transformations), :class:`InvariantEquivariantVAE` (a class block and a within-class
block for data made of several processes) and :class:`LinearVAE` (the linear model of the
theory check). Every neural variant trains through :func:`latentsym.models.trainer.train`
(:func:`fit`, :func:`fit_mechanism`, :func:`fit_invariant`; a new variant brings an
:class:`Objective`); each is registered in
:data:`MODEL_TYPES`, so :func:`load_model` reads it. :func:`fit_prior` fits a learned
latent prior (a normalising flow, :mod:`latentsym.models.flow`) after the VAE, through
the same loop; it is saved with the model and used by ``TrainedModel.sample``.
"""

from latentsym.models.checkpoint import TrainedModel
from latentsym.models.config import ACTIVATIONS, Architecture, FitOptions, TrainConfig, VAEConfig
from latentsym.models.flow import FLOW_SOURCES, FlowConfig, FlowPrior, fit_prior
from latentsym.models.invariant import (
    InvariantConfig,
    InvariantEquivariantVAE,
    InvariantFit,
    InvariantSpec,
    fit_invariant,
)
from latentsym.models.linear import LinearVAE, LinearVAEConfig, train_linear_vae
from latentsym.models.loading import MODEL_TYPES, load_model
from latentsym.models.loss import LossTerms, kl_per_event, vae_loss
from latentsym.models.mechanism import (
    MechanismSpec,
    MechanismVAE,
    MechanismVAEConfig,
    fit_mechanism,
)
from latentsym.models.train import fit
from latentsym.models.trainer import Objective
from latentsym.models.vae import VAE, VAEOutput

__all__ = [
    "ACTIVATIONS",
    "FLOW_SOURCES",
    "MODEL_TYPES",
    "VAE",
    "Architecture",
    "FitOptions",
    "FlowConfig",
    "FlowPrior",
    "InvariantConfig",
    "InvariantEquivariantVAE",
    "InvariantFit",
    "InvariantSpec",
    "LinearVAE",
    "LinearVAEConfig",
    "LossTerms",
    "MechanismSpec",
    "MechanismVAE",
    "MechanismVAEConfig",
    "Objective",
    "TrainConfig",
    "TrainedModel",
    "VAEConfig",
    "VAEOutput",
    "fit",
    "fit_invariant",
    "fit_mechanism",
    "fit_prior",
    "kl_per_event",
    "load_model",
    "train_linear_vae",
    "vae_loss",
]
