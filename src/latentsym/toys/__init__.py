"""Known-answer data sets: geometric manifolds and collider events with known dimensions."""

from latentsym.toys.collider import (
    MUON_MASS,
    MUON_PAIR,
    Z_MASS,
    Z_WIDTH,
    ee_to_mumu,
    flat_phase_space,
    pp_to_mumu,
)
from latentsym.toys.geometric import circle, oscillators, sphere, torus

__all__ = [
    "MUON_MASS",
    "MUON_PAIR",
    "Z_MASS",
    "Z_WIDTH",
    "circle",
    "ee_to_mumu",
    "flat_phase_space",
    "oscillators",
    "pp_to_mumu",
    "sphere",
    "torus",
]
