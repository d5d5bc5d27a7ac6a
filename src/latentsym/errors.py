"""The project's error types.

Every error raised on bad user input is a subclass of :class:`ValueError` and says
three things: which file (or object), where in it (line, event number, branch) and how
to fix it.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "EventFileError",
    "LatentsymError",
    "OutputError",
    "SchemaError",
    "TopologyError",
    "TrainingError",
]


class LatentsymError(ValueError):
    """Base class of all errors raised by latentsym on bad input."""


class EventFileError(LatentsymError):
    """An event file cannot be read: missing, unreadable, malformed or truncated."""


class SchemaError(LatentsymError):
    """Events do not follow the event schema (missing branch, NaN momenta, ...)."""


class TopologyError(LatentsymError):
    """A requested final-state topology is malformed or absent from the sample."""


class ConfigError(LatentsymError):
    """An option or configuration value is not allowed."""


class OutputError(LatentsymError):
    """An output location cannot be used (exists and is not empty, not writable, ...)."""


class TrainingError(LatentsymError):
    """Training diverged (loss became NaN or infinite) or cannot continue."""
