"""``replace()`` for the frozen option and configuration dataclasses.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Opts(Replaceable):
    ...     epochs: int = 3
    >>> Opts().replace(epochs=5)
    Opts(epochs=5)
    >>> Opts().replace(epoch=5)
    Traceback (most recent call last):
    ...
    latentsym.errors.ConfigError: Opts: unknown settings ['epoch']; allowed: ['epochs']
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from latentsym.errors import ConfigError

__all__ = ["Replaceable"]

_R = TypeVar("_R", bound="Replaceable")


class Replaceable:
    """Mixin of frozen dataclasses: :meth:`replace` with the names checked."""

    def replace(self: _R, **changes: Any) -> _R:
        """A copy with some fields changed (validated again); unknown names are refused."""
        names = [f.name for f in dataclasses.fields(self)]  # type: ignore[arg-type]
        unknown = sorted(set(changes) - set(names))
        if unknown:
            raise ConfigError(
                f"{type(self).__name__}: unknown settings {unknown}; allowed: {names}"
            )
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]
