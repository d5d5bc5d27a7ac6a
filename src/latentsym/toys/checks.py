"""Argument checks shared by the toy generators.

Each check raises :class:`~latentsym.errors.ConfigError` naming the generator (``where``)
and the bad value, and returns the value otherwise.
"""

from __future__ import annotations

from latentsym.errors import ConfigError

__all__ = ["check_n", "check_positive"]


def check_n(n: int, where: str) -> int:
    """Return ``n`` when it is a positive integer number of points (bool refused).

    Example:
        >>> check_n(100, "circle")
        100
        >>> check_n(0, "circle")
        Traceback (most recent call last):
        ...
        latentsym.errors.ConfigError: circle: n must be a positive integer number of points, got 0
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"{where}: n must be a positive integer number of points, got {n!r}")
    return n


def check_positive(value: float, name: str, where: str) -> float:
    """Return ``value`` as a float when it is a positive number.

    Example:
        >>> check_positive(2, "major", "torus")
        2.0
        >>> check_positive(-1.0, "minor", "torus")
        Traceback (most recent call last):
        ...
        latentsym.errors.ConfigError: torus: minor must be a positive number, got -1.0
    """
    if not value > 0:
        raise ConfigError(f"{where}: {name} must be a positive number, got {value!r}")
    return float(value)
