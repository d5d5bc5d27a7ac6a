"""Features: representations of the momenta, the feature matrix and the invertible scaler."""

from latentsym.features.build import FeatureMatrix, build
from latentsym.features.representations import (
    REPRESENTATIONS,
    Cartesian,
    Collider,
    Representation,
    get_representation,
)
from latentsym.features.scaler import CONSTANT_RTOL, Scaler, constant_mask

__all__ = [
    "CONSTANT_RTOL",
    "REPRESENTATIONS",
    "Cartesian",
    "Collider",
    "FeatureMatrix",
    "Representation",
    "Scaler",
    "build",
    "constant_mask",
    "get_representation",
]
