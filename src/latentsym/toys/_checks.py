"""Argument checks shared by the toy generators."""

from __future__ import annotations

from latentsym.errors import ConfigError

__all__: list[str] = []


def _check_n(n: int, where: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"{where}: n must be a positive integer number of points, got {n!r}")
    return n


def _check_positive(value: float, name: str, where: str) -> float:
    if not value > 0:
        raise ConfigError(f"{where}: {name} must be a positive number, got {value!r}")
    return float(value)
