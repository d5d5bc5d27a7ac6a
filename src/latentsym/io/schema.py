"""The event schema shared by every reader and writer.

An event sample is an :class:`awkward.Array` with one entry per event:

- ``particles``: a variable-length list of records with

  - ``p4``: a ``vector`` Momentum4D (px, py, pz, E in GeV),
  - ``pid``: the PDG id (int64),
  - ``status``: LHE convention, -1 incoming, 1 outgoing final state, 2 intermediate,
  - and, where the file has them, ``mother1``, ``mother2``, ``color1``, ``color2``,
    ``lifetime``, ``spin`` (LHE) or other per-particle fields (``charge``, ...).

- ``weight``: the nominal event weight (float64, 1.0 when the file has none; negative
  weights are kept).
- ``weights`` (optional): a record with one float64 field per named weight, in the order
  of :attr:`RunInfo.weight_names`.

Run-level metadata travels beside the array in a :class:`RunInfo`; reading returns both in
an :class:`EventFile` named tuple: ``events, info = read_events(path)``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

import awkward as ak
import numpy as np
import vector

from latentsym.errors import SchemaError

__all__ = [
    "EventFile",
    "RunInfo",
    "check_finite",
    "concatenate_events",
    "make_events",
    "sqrt_s_from_beams",
]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunInfo:
    """Run-level metadata of an event file.

    Attributes:
        path: the file the events came from.
        format: ``"lhe"``, ``"lhe.gz"`` or ``"root"``.
        n_events: number of events read.
        beams: PDG ids of the two beams, when known.
        beam_energies: energies of the two beams in GeV, when known.
        sqrt_s: centre-of-mass energy in GeV, when known.
        cross_section_pb: total cross-section in pb, when the file gives one.
        cross_section_error_pb: its uncertainty in pb.
        generators: generator names (with versions where given).
        weight_names: names of the named event weights, in file order.
        tree: ROOT only: the tree (or RNTuple) read.
        layout: ROOT only: the branch layout used (``flat``, ``jagged``, ``edm4hep``,
            ``nanoaod``, ``latentsym`` or ``mapping``).
        extra: anything else worth keeping (free-form, JSON-serialisable).
    """

    path: str
    format: str
    n_events: int
    beams: tuple[int, int] | None = None
    beam_energies: tuple[float, float] | None = None
    sqrt_s: float | None = None
    cross_section_pb: float | None = None
    cross_section_error_pb: float | None = None
    generators: tuple[str, ...] = ()
    weight_names: tuple[str, ...] = ()
    tree: str | None = None
    layout: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dictionary of all fields."""
        d = asdict(self)
        for key in ("beams", "beam_energies", "generators", "weight_names"):
            if d[key] is not None:
                d[key] = list(d[key])
        return d


class EventFile(NamedTuple):
    """What :func:`latentsym.read_events` returns: the events and their run metadata."""

    events: ak.Array
    info: RunInfo


def sqrt_s_from_beams(energies: tuple[float, float], pids: tuple[int, int] | None = None) -> float:
    """Centre-of-mass energy of two head-on beams (beam masses neglected).

    Example:
        >>> sqrt_s_from_beams((45.6, 45.6))
        91.2
    """
    e1, e2 = (float(e) for e in energies)
    return float(2.0 * np.sqrt(e1 * e2))


def make_events(
    *,
    p4: Mapping[str, Any],
    pid: Any,
    status: Any | None = None,
    weight: Any | None = None,
    weights: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    source: str = "<arrays>",
    check: bool = True,
) -> ak.Array:
    """Build an event array in the latentsym schema from jagged per-particle arrays.

    Args:
        p4: ``{"px": ..., "py": ..., "pz": ..., "E": ...}``, jagged arrays ``[N, var]`` of
            momenta and energies in GeV.
        pid: jagged ``[N, var]`` PDG ids.
        status: jagged ``[N, var]`` statuses (default: 1, all outgoing final state).
        weight: ``[N]`` nominal weights (default 1.0).
        weights: named weights, each ``[N]``.
        extra: further per-particle jagged fields (mothers, colour, charge, ...).
        source: name of the file the arrays came from, used in error messages.
        check: refuse NaN or infinite momenta and weights (a reader that has checked its
            columns already, naming the line, passes False).

    Returns:
        ak.Array of N events with ``particles`` (``p4``, ``pid``, ``status``, extras) and
        ``weight`` (and ``weights`` when given).

    Raises:
        SchemaError: when a momentum component is NaN or infinite (names the event).

    Example:
        >>> ev = make_events(p4={"px": [[1.0, -1.0]], "py": [[0.0, 0.0]], "pz": [[0.0, 0.0]],
        ...                      "E": [[1.0, 1.0]]}, pid=[[13, -13]])
        >>> float(ev.particles.p4.mass2[0, 0])
        0.0
    """
    missing = [c for c in ("px", "py", "pz", "E") if c not in p4]
    if missing:
        raise SchemaError(f"{source}: p4 lacks {missing}; give px, py, pz and E")
    px_a = ak.values_astype(ak.Array(p4["px"]), np.float64)
    n = len(px_a)
    counts = ak.num(px_a, axis=1)
    if status is None:
        status = ak.ones_like(ak.Array(pid), dtype=np.int64)
    p4 = vector.zip(
        {
            "px": px_a,
            "py": ak.values_astype(ak.Array(p4["py"]), np.float64),
            "pz": ak.values_astype(ak.Array(p4["pz"]), np.float64),
            "E": ak.values_astype(ak.Array(p4["E"]), np.float64),
        }
    )
    fields: dict[str, Any] = {
        "p4": p4,
        "pid": ak.values_astype(ak.Array(pid), np.int64),
        "status": ak.values_astype(ak.Array(status), np.int64),
    }
    for key, value in (extra or {}).items():
        fields[key] = ak.Array(value)
    particles = ak.zip(fields, depth_limit=2)
    if not ak.all(ak.num(particles, axis=1) == counts):
        raise SchemaError(f"{source}: per-particle arrays have different lengths")
    w = np.ones(n) if weight is None else np.asarray(weight, dtype=np.float64)
    if w.shape != (n,):
        raise SchemaError(f"{source}: weight has shape {w.shape}, expected ({n},)")
    out: dict[str, Any] = {"particles": particles, "weight": w}
    if weights:
        out["weights"] = ak.zip(
            {str(k): np.asarray(v, dtype=np.float64) for k, v in weights.items()}
        )
    events = ak.zip(out, depth_limit=1)
    if check:
        check_finite(events, source)
    return events


def check_finite(events: ak.Array, source: str = "<arrays>", first_event: int = 0) -> None:
    """Raise :class:`SchemaError` if any momentum component or weight is NaN or infinite.

    Args:
        events: an event array in the latentsym schema.
        source: file name for the message.
        first_event: index of ``events[0]`` in the file (for chunked reading).
    """
    p4 = events.particles.p4
    for comp in ("px", "py", "pz", "E"):
        values = getattr(p4, comp)
        bad = ~np.isfinite(ak.to_numpy(ak.flatten(values)))
        if bad.any():
            per_event = ak.any(~np.isfinite(values), axis=1)
            ev = int(np.flatnonzero(ak.to_numpy(per_event))[0])
            part = int(np.flatnonzero(~np.isfinite(ak.to_numpy(values[ev])))[0])
            raise SchemaError(
                f"{source}: event {first_event + ev}, particle {part}: {comp} is "
                f"{ak.to_numpy(values[ev])[part]} ({int(bad.sum())} non-finite values of "
                f"{comp} in total). Fix or remove these events before reading, or select "
                "events with finite momenta when writing the file."
            )
    w = np.asarray(events.weight)
    if not np.all(np.isfinite(w)):
        ev = int(np.flatnonzero(~np.isfinite(w))[0])
        raise SchemaError(
            f"{source}: event {first_event + ev}: the event weight is {w[ev]}. "
            "Event weights must be finite numbers."
        )


def concatenate_events(chunks: Sequence[ak.Array], sources: Sequence[Any] = ()) -> ak.Array:
    """Concatenate event arrays (or particle lists) of several files, on their shared fields.

    Files of different formats carry different optional fields (an LHE file has
    ``process_id`` and particle ``spin``, a ROOT file may not); concatenated as they are,
    they would give a union type that no later stage can index. The fields that some chunk
    lacks are left out (logged at INFO level, naming ``sources``); the schema's own fields
    (``particles.p4``, ``pid``, ``status``, ``weight``) are in every reader's output.

    Args:
        chunks: event arrays with a ``particles`` field, or arrays of particle lists.
        sources: the files the chunks came from, for the log message.

    Returns:
        One array, fields in the order of the first chunk.
    """
    chunks = list(chunks)
    if len(chunks) == 1:
        return chunks[0]
    events_level = "particles" in chunks[0].fields
    parts = [c.particles if events_level else c for c in chunks]
    keep_p = [f for f in parts[0].fields if all(f in p.fields for p in parts)]
    keep_e = [f for f in chunks[0].fields if all(f in c.fields for c in chunks)]
    dropped = {f"particles.{f}" for p in parts for f in p.fields if f not in keep_p}
    if events_level:
        dropped |= {f for c in chunks for f in c.fields if f not in keep_e}
    if dropped:
        _log.info(
            "%s: the files carry different optional fields; %s left out so that they concatenate",
            ", ".join(str(s) for s in sources) or f"{len(chunks)} chunks",
            ", ".join(sorted(dropped)),
        )
    out = []
    for c, p in zip(chunks, parts, strict=True):
        reduced = list(p.fields) != keep_p
        if reduced:
            p = ak.zip({f: p[f] for f in keep_p}, depth_limit=p.ndim)
        if not events_level:
            out.append(p)
        elif reduced or list(c.fields) != keep_e:
            out.append(ak.zip({f: p if f == "particles" else c[f] for f in keep_e}, depth_limit=1))
        else:
            out.append(c)
    return ak.concatenate(out)
