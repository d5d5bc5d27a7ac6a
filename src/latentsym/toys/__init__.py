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
from latentsym.toys.resonance import (
    LEPTON_PAIR,
    W_MASS,
    W_WIDTH,
    WW_FINAL_STATE,
    breit_wigner,
    ee_to_ww,
    resonance_decay,
)

__all__ = [
    "LEPTON_PAIR",
    "MUON_MASS",
    "MUON_PAIR",
    "WW_FINAL_STATE",
    "W_MASS",
    "W_WIDTH",
    "Z_MASS",
    "Z_WIDTH",
    "breit_wigner",
    "circle",
    "ee_to_mumu",
    "ee_to_ww",
    "flat_phase_space",
    "oscillators",
    "pp_to_mumu",
    "resonance_decay",
    "sphere",
    "torus",
]
