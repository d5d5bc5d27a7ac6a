"""Build the feature matrix fed to the VAE from a fixed final-state topology.

``build(final_state, "cartesian")`` gives ``(E, px, py, pz)`` per particle in GeV,
``build(final_state, "collider")`` gives ``(pT, eta, phi, m)`` per particle (GeV, 1, rad,
GeV); both come from :mod:`latentsym.features.representations`. The features are
computed in float64 from the momenta, checked for constant columns (the rule in
:mod:`latentsym.features.scaler`), then stored as float32.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from latentsym.errors import ConfigError, SchemaError
from latentsym.features.representations import Representation, get_representation
from latentsym.features.scaler import CONSTANT_RTOL, constant_mask
from latentsym.physics.selection import FinalState

__all__ = ["FeatureMatrix", "build"]


@dataclass(frozen=True, eq=False)
class FeatureMatrix:
    """Features of N events with a fixed topology.

    Attributes:
        values: ``[N, F]`` float32 features in physical units.
        names: the F feature names, e.g. ``("E_mu+", "px_mu+", ...)``.
        units: the F units (``"GeV"``, ``"rad"``, ``"1"``).
        representation: name of the representation (``"cartesian"`` or ``"collider"``).
        particle_names: the n particle names, in order.
        momenta: ``[N, n, 4]`` float64 (E, px, py, pz) in GeV, for constraint checks.
        constant: names of the features constant over the sample (found in float64).
        weight: ``[N]`` float64 event weights (1 for raw momenta).
        event_index: ``[N]`` index of each event in the input sample.
    """

    values: np.ndarray
    names: tuple[str, ...]
    units: tuple[str, ...]
    representation: str
    particle_names: tuple[str, ...]
    momenta: np.ndarray
    constant: tuple[str, ...]
    weight: np.ndarray
    event_index: np.ndarray

    @property
    def n_events(self) -> int:
        """Number of events N."""
        return int(self.values.shape[0])

    @property
    def n_features(self) -> int:
        """Number of features F."""
        return int(self.values.shape[1])

    @property
    def constant_mask(self) -> np.ndarray:
        """``[F]`` boolean mask of the constant features."""
        return np.isin(np.asarray(self.names), list(self.constant))


def build(
    final_state: FinalState | np.ndarray,
    representation: str | Representation = "cartesian",
    *,
    particle_names: Sequence[str] | None = None,
    weight: np.ndarray | None = None,
    constant_rtol: float = CONSTANT_RTOL,
) -> FeatureMatrix:
    """Features of every event of a final state.

    Args:
        final_state: a :class:`~latentsym.physics.selection.FinalState`, or raw momenta
            ``[N, n, 4]`` ordered (E, px, py, pz) in GeV.
        representation: ``"cartesian"`` (default) or ``"collider"``.
        particle_names: names of the n particles for raw momenta (default ``p1 ... pn``);
            ignored for a FinalState, which knows its names.
        weight: ``[N]`` event weights for raw momenta (default 1).
        constant_rtol: relative tolerance of the constant-feature rule
            (``std <= rtol * max(|mean|, 1 unit)``).

    Returns:
        A :class:`FeatureMatrix`.

    Raises:
        SchemaError: non-finite momenta, or a feature that is undefined for an event (a
            particle along the beam has infinite eta in the collider representation).
        ConfigError: an unknown representation or a malformed raw array.

    Example:
        >>> p = np.array([[[45.6, 0, 0, 45.6], [45.6, 0, 0, -45.6]]])
        >>> fm = build(p, particle_names=["mu+", "mu-"])
        >>> fm.names[:4], fm.values.shape
        (('E_mu+', 'px_mu+', 'py_mu+', 'pz_mu+'), (1, 8))
    """
    rep = get_representation(representation)
    if isinstance(final_state, FinalState):
        momenta = np.asarray(final_state.momenta(), dtype=np.float64)
        names = tuple(final_state.names)
        w = np.asarray(final_state.weight, dtype=np.float64)
        index = np.asarray(final_state.event_index, dtype=np.int64)
    elif isinstance(final_state, np.ndarray):
        momenta = _check_raw(final_state)
        n_part = momenta.shape[1]
        names = tuple(particle_names) if particle_names is not None else ("p",) * n_part
        if len(names) != n_part:
            raise ConfigError(
                f"{len(names)} particle names {list(names)} for {n_part} particles per event"
            )
        w = np.ones(len(momenta)) if weight is None else np.asarray(weight, dtype=np.float64)
        if w.shape != (len(momenta),):
            raise ConfigError(f"weight has shape {w.shape}; expected ({len(momenta)},)")
        index = np.arange(len(momenta), dtype=np.int64)
    else:
        raise ConfigError(
            f"build() takes a FinalState or a numpy array [N, n, 4]; got {type(final_state)}"
        )
    if len(momenta) == 0:
        raise SchemaError("no events: the final state is empty")
    _check_finite(momenta, names, index, "momentum component", ("E", "px", "py", "pz"))
    values64 = rep.from_momenta(torch.from_numpy(momenta)).numpy()
    feature_names = tuple(rep.feature_names(names))
    per_particle = values64.reshape(len(momenta), len(names), -1)
    _check_finite(per_particle, names, index, f"{rep.name} feature", rep.components)
    const = constant_mask(values64, constant_rtol)
    return FeatureMatrix(
        values=values64.astype(np.float32),
        names=feature_names,
        units=tuple(rep.feature_units(len(names))),
        representation=rep.name,
        particle_names=names,
        momenta=momenta,
        constant=tuple(n for n, c in zip(feature_names, const, strict=True) if c),
        weight=w,
        event_index=index,
    )


def _check_raw(momenta: np.ndarray) -> np.ndarray:
    if momenta.ndim != 3 or momenta.shape[-1] != 4 or momenta.shape[1] == 0:
        raise ConfigError(
            f"raw momenta must have shape [N, n, 4] ordered (E, px, py, pz); got {momenta.shape}"
        )
    if not np.issubdtype(momenta.dtype, np.number):
        raise ConfigError(f"raw momenta must be numeric; got dtype {momenta.dtype}")
    return momenta.astype(np.float64)


def _check_finite(
    arr: np.ndarray,
    particles: tuple[str, ...],
    index: np.ndarray,
    what: str,
    components: Sequence[str],
) -> None:
    bad = ~np.isfinite(arr)
    if not bad.any():
        return
    event, part, comp = np.argwhere(bad)[0]
    hint = ""
    if components[comp] == "eta":
        hint = (
            " (pT = 0: the particle is along the beam axis); use representation='cartesian' "
            "or drop such events"
        )
    raise SchemaError(
        f"{what} {components[comp]} of particle {part} ({particles[part]}) in event {index[event]} "
        f"is {arr[event, part, comp]}{hint}; {int(bad.any(axis=(1, 2)).sum())} event(s) "
        "affected. Remove them before building features."
    )
