"""Turning results into JSON-safe Python objects."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["json_safe"]


def json_safe(obj: Any) -> Any:
    """A copy of ``obj`` that :func:`json.dumps` accepts and that reads back the same.

    Dict keys become strings, tuples lists, numpy scalars and arrays Python numbers and
    lists, paths strings, and non-finite floats (NaN, inf) ``None``.

    Example:
        >>> json_safe({"a": np.float32(1.5), "b": (1, float("nan"))})
        {'a': 1.5, 'b': [1, None]}
    """
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj
