"""Per-feature standardisation, invertible, for numpy arrays and torch tensors.

The scaler maps physical features ``x`` (GeV, rad, dimensionless) to standardised
features ``y = (x - mean) / scale`` with ``scale`` the standard deviation of the training
sample, computed in float64. Features that are constant over the sample get
``scale = 1`` (no division by zero): they come out as ``x - mean`` (zero up to rounding)
and are listed in :attr:`Scaler.constant`.

The constant rule (shared with :func:`latentsym.features.build`): a feature is constant
when ``std <= rtol * max(|mean|, 1)`` with ``rtol = 1e-6`` by default and the ``1`` in the
feature's own unit (1 GeV, 1 rad or 1). The relative tolerance sits well above float64
rounding and LHE print precision (about 1e-11) and at the level where a float32 copy no
longer resolves the spread (float32 has 6e-8 relative precision).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import torch

from latentsym.errors import ConfigError

__all__ = ["CONSTANT_RTOL", "Scaler", "constant_mask"]

CONSTANT_RTOL = 1e-6
"""Default relative tolerance of the constant-feature rule."""


def constant_mask(values: np.ndarray, rtol: float = CONSTANT_RTOL) -> np.ndarray:
    """Which columns of ``values`` are constant over the rows.

    Args:
        values: ``[N, F]`` features (any float dtype; statistics are taken in float64).
        rtol: a column is constant when ``std <= rtol * max(|mean|, 1)``.

    Returns:
        ``[F]`` boolean mask.

    Example:
        >>> constant_mask(np.array([[45.6, 1.0], [45.6, 2.0]])).tolist()
        [True, False]
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ConfigError(f"constant_mask needs a non-empty [N, F] array; got shape {x.shape}")
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    return np.asarray(std <= rtol * np.maximum(np.abs(mean), 1.0))


@dataclass(frozen=True, eq=False)
class Scaler:
    """Per-feature standardisation ``y = (x - mean) / scale``.

    Attributes:
        mean: ``[F]`` float64 feature means (physical units).
        scale: ``[F]`` float64 standard deviations; 1 for constant features.
        names: the F feature names.
        constant: names of the features that are constant over the fitted sample.

    Example:
        >>> x = np.array([[1.0, 45.6], [3.0, 45.6]])
        >>> s = Scaler.fit(x, names=["px", "E"])
        >>> s.transform(x).tolist(), s.constant
        ([[-1.0, 0.0], [1.0, 0.0]], ('E',))
        >>> bool(np.all(s.inverse_transform(s.transform(x)) == x))
        True
    """

    mean: np.ndarray
    scale: np.ndarray
    names: tuple[str, ...]
    constant: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        mean = np.asarray(self.mean, dtype=np.float64)
        scale = np.asarray(self.scale, dtype=np.float64)
        if mean.ndim != 1 or mean.shape != scale.shape or len(self.names) != mean.shape[0]:
            raise ConfigError(
                f"scaler: mean {mean.shape}, scale {scale.shape} and {len(self.names)} names "
                "must all have one entry per feature"
            )
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(scale)) and np.all(scale > 0)):
            raise ConfigError("scaler: mean and scale must be finite and scale positive")
        unknown = set(self.constant) - set(self.names)
        if unknown:
            raise ConfigError(f"scaler: constant features {sorted(unknown)} are not feature names")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "names", tuple(self.names))
        object.__setattr__(self, "constant", tuple(self.constant))

    @property
    def n_features(self) -> int:
        """Number of features F."""
        return int(self.mean.shape[0])

    @classmethod
    def fit(
        cls,
        values: np.ndarray,
        *,
        names: Sequence[str] | None = None,
        constant: Collection[str] = (),
        rtol: float = CONSTANT_RTOL,
    ) -> Scaler:
        """Fit on training features ``[N, F]`` (float64 statistics).

        Args:
            values: ``[N, F]`` physical features.
            names: feature names (default ``f0 ... f{F-1}``).
            constant: names already known to be constant (e.g.
                :attr:`FeatureMatrix.constant`, found on the float64 momenta); columns that
                are constant on ``values`` by the rule of :func:`constant_mask` are added.
            rtol: relative tolerance of the constant rule.

        Returns:
            The fitted scaler.
        """
        x = np.asarray(values, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] == 0:
            raise ConfigError(f"Scaler.fit needs a non-empty [N, F] array; got shape {x.shape}")
        if not np.all(np.isfinite(x)):
            row, col = np.argwhere(~np.isfinite(x))[0]
            raise ConfigError(
                f"Scaler.fit: feature {col} of row {row} is {x[row, col]}; remove or fix "
                "non-finite features first"
            )
        names_t = tuple(names) if names is not None else tuple(f"f{i}" for i in range(x.shape[1]))
        if len(names_t) != x.shape[1]:
            raise ConfigError(f"Scaler.fit: {len(names_t)} names for {x.shape[1]} features")
        unknown = set(constant) - set(names_t)
        if unknown:
            raise ConfigError(
                f"Scaler.fit: constant features {sorted(unknown)} are not among the names "
                f"{list(names_t)}"
            )
        is_const = constant_mask(x, rtol) | np.isin(np.asarray(names_t), list(constant))
        scale = np.where(is_const, 1.0, x.std(axis=0))
        const_names = tuple(n for n, c in zip(names_t, is_const, strict=True) if c)
        return cls(mean=x.mean(axis=0), scale=scale, names=names_t, constant=const_names)

    def _check(self, shape: tuple[int, ...] | torch.Size) -> None:
        if len(shape) == 0 or shape[-1] != self.n_features:
            raise ConfigError(
                f"scaler expects [..., {self.n_features}] features ({', '.join(self.names)}); "
                f"got shape {tuple(shape)}"
            )

    @overload
    def transform(self, x: np.ndarray) -> np.ndarray: ...
    @overload
    def transform(self, x: torch.Tensor) -> torch.Tensor: ...
    def transform(self, x: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """Physical ``[..., F]`` -> standardised, keeping the type (and torch autograd).

        numpy: computed in float64, returned in the input's float dtype (float64 for
        integer input). torch: computed in the tensor's dtype and device.
        """
        if isinstance(x, torch.Tensor):
            self._check(x.shape)
            mean = torch.as_tensor(self.mean, dtype=x.dtype, device=x.device)
            scale = torch.as_tensor(self.scale, dtype=x.dtype, device=x.device)
            return (x - mean) / scale
        arr = np.asarray(x)
        self._check(arr.shape)
        out = (arr.astype(np.float64) - self.mean) / self.scale
        return out.astype(_float_dtype(arr))

    @overload
    def inverse_transform(self, y: np.ndarray) -> np.ndarray: ...
    @overload
    def inverse_transform(self, y: torch.Tensor) -> torch.Tensor: ...
    def inverse_transform(self, y: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """Standardised ``[..., F]`` -> physical units, keeping the type (and autograd)."""
        if isinstance(y, torch.Tensor):
            self._check(y.shape)
            mean = torch.as_tensor(self.mean, dtype=y.dtype, device=y.device)
            scale = torch.as_tensor(self.scale, dtype=y.dtype, device=y.device)
            return y * scale + mean
        arr = np.asarray(y)
        self._check(arr.shape)
        out = arr.astype(np.float64) * self.scale + self.mean
        return out.astype(_float_dtype(arr))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (floats round-trip exactly through ``json``)."""
        return {
            "kind": "standard",
            "names": list(self.names),
            "mean": [float(v) for v in self.mean],
            "scale": [float(v) for v in self.scale],
            "constant": list(self.constant),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "scaler") -> Scaler:
        """Inverse of :meth:`to_dict`; ``source`` names the file in error messages."""
        keys = ("kind", "names", "mean", "scale", "constant")
        missing = [k for k in keys if k not in data]
        if missing:
            raise ConfigError(f"{source}: missing keys {missing}; expected {list(keys)}")
        if data["kind"] != "standard":
            raise ConfigError(f"{source}: unknown scaler kind {data['kind']!r}; allowed: standard")
        return cls(
            mean=np.asarray(data["mean"], dtype=np.float64),
            scale=np.asarray(data["scale"], dtype=np.float64),
            names=tuple(str(n) for n in data["names"]),
            constant=tuple(str(n) for n in data["constant"]),
        )


def _float_dtype(arr: np.ndarray) -> np.dtype[Any]:
    return arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.dtype(np.float64)
