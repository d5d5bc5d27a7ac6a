"""latentsym: symmetries and constraints of collider events, read off a VAE latent space."""

from latentsym._version import __version__
from latentsym.errors import (
    ConfigError,
    EventFileError,
    LatentsymError,
    OutputError,
    SchemaError,
    TopologyError,
    TrainingError,
)
from latentsym.io import (
    EventFile,
    RunInfo,
    iterate_events,
    make_events,
    read_events,
    write_lhe,
    write_root,
)
from latentsym.physics.selection import FinalState, select_final_state

__all__ = [
    "ConfigError",
    "EventFile",
    "EventFileError",
    "FinalState",
    "LatentsymError",
    "OutputError",
    "RunInfo",
    "SchemaError",
    "TopologyError",
    "TrainingError",
    "__version__",
    "iterate_events",
    "make_events",
    "read_events",
    "select_final_state",
    "write_lhe",
    "write_root",
]
