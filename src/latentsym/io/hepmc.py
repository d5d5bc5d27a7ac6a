"""Read HepMC3 ASCII event files (plain or gzip) through pyhepmc.

Every line is checked first (:mod:`latentsym.io._hepmc_text`: HepMC3's reader turns a bad
number into 0, skips lines it does not know and ends the file at an event it cannot
parse), then pyhepmc parses the checked text. A damaged file raises
:class:`~latentsym.errors.EventFileError` naming the file, the line and the event; a file
without ``HepMC::Asciiv3-END_EVENT_LISTING`` (truncated) is refused once the read reaches
its end (``max_events`` reads the events before the cut); a NaN, infinite or
beyond-float32 momentum or weight raises :class:`~latentsym.errors.SchemaError`.

Every particle of the event record is kept, in the file's order (particle id ``i`` is
entry ``i - 1``):

- ``p4`` (GeV; a file in MeV is converted), ``pid``, ``mass`` (the generated mass, GeV);
- ``status`` in the latentsym (LHE) convention: 1 for HepMC status 1 (final state), -1
  for status 4 (beam particles), 2 for everything else (decayed, documentation and
  generator-specific codes); ``status_hepmc`` keeps the file's status;
- ``mother1``, ``mother2``: 1-based ids of the first and last parent (0 for none;
  ``mother2`` is 0 for a single parent), as in LHE; HepMC's full vertex graph is not kept.

Per event: ``weight`` (the first weight, 1.0 without a ``W`` line), ``weights`` (one field
per weight name of the run; several unnamed weights are named by position, ``"0"``,
``"1"``, ...), ``event_number``.

The HepMC3 ROOT formats (``ReaderRoot``, ``ReaderRootTree``) are not read: pyhepmc has no
ROOT reader. Convert such a file to ASCII with HepMC3's ``convert_example`` first.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from latentsym.errors import ConfigError, EventFileError, SchemaError
from latentsym.io._hepmc_text import END, HepMCEvent, HepMCHeader, HepMCScanner, open_hepmc
from latentsym.io.formats import check_path
from latentsym.io.schema import EventFile, RunInfo, make_events, sqrt_s_from_beams

__all__ = ["HEPMC_STATUS", "iterate_hepmc", "read_hepmc"]

HEPMC_STATUS = {1: 1, 4: -1}
"""HepMC status -> latentsym status; every other HepMC status becomes 2 (intermediate)."""

_FLOAT32_MAX = float(np.finfo(np.float32).max)
_BATCH_EVENTS = 2000  # events parsed by pyhepmc at a time
_BATCH_BYTES = 32 << 20  # or this much text, whichever comes first
_PYHEPMC_ERRORS = (RuntimeError, ValueError, IndexError, MemoryError, OverflowError, TypeError)


def read_hepmc(path: str | os.PathLike[str], *, max_events: int | None = None) -> EventFile:
    """Read a HepMC3 ASCII file (``.hepmc``, ``.hepmc3``, gzip too) into the event schema.

    Args:
        path: the file (compressed or not: gzip is recognised by its first bytes).
        max_events: read at most this many events from the start (default: all).

    Returns:
        ``EventFile(events, info)``: N events (see the module docstring for the fields)
        and a :class:`RunInfo`: ``format`` ``"hepmc3"`` or ``"hepmc3.gz"``, the beams
        (the two status-4 particles of the first event), their energies and sqrt_s, the
        cross-section and its error (pb) of the last event read (generators write the
        running estimate into every event), ``generators`` (the ``T`` lines: name and
        version), ``weight_names``; ``info.extra`` holds ``hepmc_version``, ``tools``
        (name, version, description), ``run_attributes`` and ``momentum_unit`` (of the
        file; the events are in GeV).

    Raises:
        EventFileError: missing, not HepMC3, damaged (a malformed line, counts that do not
            match the lines, run information inside the listing) or truncated; names the
            line and the event.
        SchemaError: a NaN, infinite or beyond-float32 momentum or weight.

    Example:
        A HepMC3 file written by pyhepmc (the first events of the bundled
        ``ee_mumu_91GeV`` sample, hard process):

        >>> import pyhepmc
        >>> from latentsym.io import read_events
        >>> events, _ = read_events(SAMPLES / "ee_mumu_91GeV.lhe.gz", max_events=3)
        >>> with pyhepmc.open("ee_mumu.hepmc", "w") as f:
        ...     for i, ev in enumerate(events):
        ...         g = pyhepmc.GenEvent()
        ...         p = ev.particles
        ...         g.from_hepevt(i, np.asarray(p.p4.px), np.asarray(p.p4.py), np.asarray(p.p4.pz),
        ...                       np.asarray(p.p4.E), np.asarray(p.mass),
        ...                       np.asarray(p.pid, dtype=np.int32),
        ...                       np.asarray([4, 4, 22, 1, 1], dtype=np.int32),
        ...                       parents=np.asarray([[0, 0], [0, 0], [1, 2], [3, 3], [3, 3]]))
        ...         f.write(g)
        >>> hep, info = read_hepmc("ee_mumu.hepmc")
        >>> len(hep), info.format, info.beams, info.sqrt_s
        (3, 'hepmc3', (11, -11), 91.2)
        >>> hep.particles.status[0].tolist(), hep.particles.mother1[0].tolist()
        ([-1, -1, 2, 1, 1], [0, 0, 1, 3, 3])
        >>> bool(ak.all(hep.particles.p4.px == events.particles.p4.px))
        True
    """
    limit = None if max_events is None else _positive("max_events", max_events)
    return next(_chunks(path, None, limit))


def iterate_hepmc(
    path: str | os.PathLike[str], *, step_size: int, max_events: int | None = None
) -> Iterator[EventFile]:
    """Read a HepMC3 ASCII file in chunks of ``step_size`` events, one chunk in memory.

    Yields ``EventFile(events, info)`` per chunk; ``info.n_events`` is the chunk's size and
    ``info.extra["first_event"]`` the index of its first event in the file. Errors as
    :func:`read_hepmc`, raised when the read reaches the damage (the chunks before it
    have been yielded).
    """
    step = _positive("step_size", step_size)
    limit = None if max_events is None else _positive("max_events", max_events)
    yield from _chunks(path, step, limit)


def _positive(name: str, value: int) -> int:
    if int(value) < 1:
        raise ConfigError(f"{name} must be a positive number of events, got {value}")
    return int(value)


# ------------------------------------------------------------------------- internals


@dataclass
class _Columns:
    """The values of a run of events, as numpy blocks."""

    counts: list[np.ndarray] = field(default_factory=list)
    floats: list[np.ndarray] = field(default_factory=list)  # [n, 5]: px py pz E m
    ints: list[np.ndarray] = field(default_factory=list)  # [n, 4]: pid status mother1 mother2
    weights: list[np.ndarray] = field(default_factory=list)  # [N, max(1, n_weights)]
    numbers: list[np.ndarray] = field(default_factory=list)

    def __len__(self) -> int:
        return sum(len(c) for c in self.counts)


@dataclass
class _State:
    """What the read has learnt about the run so far."""

    path: Path
    format: str
    header: HepMCHeader
    beams: tuple[tuple[int, int], tuple[float, float]] | None = None
    cross_section: tuple[float, float] | None = None
    momentum_unit: str | None = None
    n_weights: int = 0

    @property
    def weight_names(self) -> tuple[str, ...]:
        """The run's weight names; by position (``"0"``, ``"1"``, ...) for several unnamed."""
        if self.header.weight_names or self.n_weights < 2:
            return self.header.weight_names
        return tuple(str(i) for i in range(self.n_weights))


def _chunks(
    path: str | os.PathLike[str], step: int | None, limit: int | None
) -> Iterator[EventFile]:
    p = check_path(path)
    try:
        stream, gzipped = open_hepmc(p)
    except OSError as exc:
        raise EventFileError(
            f"{p}: the file cannot be read ({exc.strerror or exc}). Check that it is a "
            "regular, readable file."
        ) from exc
    with stream:
        scanner = HepMCScanner(stream, str(p), gzipped=gzipped)
        state = _State(p, "hepmc3.gz" if gzipped else "hepmc3", scanner.header)
        first = 0
        cols = _Columns()
        batch: list[HepMCEvent] = []
        size = 0
        for event in scanner.events(limit):
            batch.append(event)
            size += len(event.text)
            if len(batch) >= _BATCH_EVENTS or size >= _BATCH_BYTES or len(batch) == step:
                _parse(batch, state, cols)
                batch, size = [], 0
            state.n_weights = scanner.n_weights or 0
            if step is not None and len(cols) == step:
                yield _emit(cols, state, first, chunked=True)
                first += step
                cols = _Columns()
        if batch:
            _parse(batch, state, cols)
        state.n_weights = scanner.n_weights or 0
        if len(cols) or step is None:
            yield _emit(cols, state, first, chunked=step is not None)


@contextmanager
def _quiet(pyhepmc: Any) -> Iterator[None]:
    """HepMC3's messages off (the text is checked: they would only repeat our errors)."""
    setup = pyhepmc.Setup
    saved = (setup.print_errors, setup.print_warnings, setup.debug_level)
    setup.print_errors = setup.print_warnings = False
    setup.debug_level = 0
    try:
        yield
    finally:
        setup.print_errors, setup.print_warnings, setup.debug_level = saved


def _parse(batch: list[HepMCEvent], state: _State, cols: _Columns) -> None:
    """Parse checked events with pyhepmc and append their values to ``cols``."""
    import pyhepmc  # its import takes a quarter of a second: only when a file is read

    text = state.header.text + b"".join(e.text for e in batch) + END + b"\n"
    n_weights = max(1, max(e.n_weights for e in batch), len(state.header.weight_names))
    counts = np.empty(len(batch), dtype=np.int64)
    weights = np.ones((len(batch), n_weights), dtype=np.float64)
    numbers = np.empty(len(batch), dtype=np.int64)
    floats, ints = [], []
    k = 0
    try:
        with _quiet(pyhepmc), pyhepmc.open(io.BytesIO(text), format="hepmc3") as f:
            for k, event in enumerate(batch):
                gen = f.read()
                if gen is None:
                    raise ValueError("pyhepmc read no event")
                values = _event_values(gen, event, state)
                floats.append(values[0])
                ints.append(values[1])
                counts[k] = len(values[0])
                w = np.asarray(gen.weights, dtype=np.float64)
                weights[k, : len(w)] = w
                numbers[k] = event.number
    except _PYHEPMC_ERRORS as exc:
        raise EventFileError(
            f"{state.path}: line {batch[k].line} (event {batch[k].index}): pyhepmc cannot "
            f"read the event ({exc}). The file is damaged: re-copy or re-generate it."
        ) from None
    for event in batch:
        if event.cross_section is not None:
            state.cross_section = event.cross_section
    block = np.concatenate(floats) if floats else np.zeros((0, 5))
    _check_values(block, counts, weights, batch, state)
    cols.counts.append(counts)
    cols.floats.append(block)
    cols.ints.append(np.concatenate(ints) if ints else np.zeros((0, 4), dtype=np.int64))
    cols.weights.append(weights)
    cols.numbers.append(numbers)


def _event_values(gen: Any, event: HepMCEvent, state: _State) -> tuple[np.ndarray, np.ndarray]:
    """``[n, 5]`` floats (px py pz E m, GeV) and ``[n, 4]`` ints of one parsed event."""
    a = gen.numpy.particles
    n = event.n_particles
    floats = np.stack([a.px, a.py, a.pz, a.e, a.generated_mass], axis=1).astype(np.float64)
    status = np.asarray(a.status, dtype=np.int64)
    if len(floats) != n:
        raise ValueError(f"{len(floats)} particles parsed of {n}")
    unit = gen.momentum_unit.name
    if unit == "MEV":
        floats *= 1e-3
    state.momentum_unit = state.momentum_unit or unit
    m1, m2 = event.mothers()
    ints = np.stack([np.asarray(a.pid, dtype=np.int64), status, m1, m2], axis=1)
    if state.beams is None:
        beam = np.flatnonzero(status == 4)
        if len(beam) == 2:
            pids = (int(ints[beam[0], 0]), int(ints[beam[1], 0]))
            energies = (round(float(floats[beam[0], 3]), 9), round(float(floats[beam[1], 3]), 9))
            state.beams = (pids, energies)
    return floats, ints


def _check_values(
    floats: np.ndarray,
    counts: np.ndarray,
    weights: np.ndarray,
    batch: list[HepMCEvent],
    state: _State,
) -> None:
    """SchemaError for a NaN, infinite or beyond-float32 momentum, mass or weight."""
    bad = ~(np.abs(floats) <= _FLOAT32_MAX)
    if bad.any():
        row, col = (int(x) for x in np.argwhere(bad)[0])
        ev = int(np.searchsorted(np.cumsum(counts), row, side="right"))
        particle = row - int(np.sum(counts[:ev]))
        event = batch[ev]
        name = ("px", "py", "pz", "E", "the mass")[col]
        raise SchemaError(
            f"{state.path}: line {event.particle_line(particle)} (event {event.index}, particle "
            f"{particle + 1}): {name} is {floats[row, col]:g}, not a finite number "
            f"within the float32 range (|x| <= {_FLOAT32_MAX:.4g}) of the features. Fix or "
            "remove this event."
        )
    bad_w = ~(np.abs(weights) <= _FLOAT32_MAX)
    if bad_w.any():
        ev, col = (int(x) for x in np.argwhere(bad_w)[0])
        raise SchemaError(
            f"{state.path}: event {batch[ev].index} (E line {batch[ev].line}): weight "
            f"{col} is {weights[ev, col]:g}, not a finite number within the float32 range. "
            "Event weights must be finite numbers."
        )


def _emit(cols: _Columns, state: _State, first: int, *, chunked: bool) -> EventFile:
    counts = np.concatenate(cols.counts) if cols.counts else np.zeros(0, dtype=np.int64)
    floats = np.concatenate(cols.floats) if cols.floats else np.zeros((0, 5))
    ints = np.concatenate(cols.ints) if cols.ints else np.zeros((0, 4), dtype=np.int64)
    names = state.weight_names
    width = max([1, len(names), *(w.shape[1] for w in cols.weights)])
    weights = np.ones((len(counts), width))
    row = 0
    for w in cols.weights:
        weights[row : row + len(w), : w.shape[1]] = w
        row += len(w)

    def jag(values: np.ndarray) -> ak.Array:
        return ak.unflatten(np.ascontiguousarray(values), counts)

    hep_status = ints[:, 1]
    status = np.full(len(hep_status), 2, dtype=np.int64)
    for hep, ours in HEPMC_STATUS.items():
        status[hep_status == hep] = ours
    p4 = {c: jag(floats[:, i]) for i, c in enumerate(("px", "py", "pz", "E"))}
    events = make_events(
        p4=p4,
        pid=jag(ints[:, 0]),
        status=jag(status),
        weight=weights[:, 0],
        weights={n: weights[:, i] for i, n in enumerate(names)} or None,
        extra={
            "status_hepmc": jag(hep_status),
            "mother1": jag(ints[:, 2]),
            "mother2": jag(ints[:, 3]),
            "mass": jag(floats[:, 4]),
        },
        source=str(state.path),
        check=False,  # checked in _check_values, naming the line
    )
    numbers = np.concatenate(cols.numbers) if cols.numbers else np.zeros(0, dtype=np.int64)
    events = ak.with_field(events, numbers, "event_number")
    return EventFile(events, _info(state, len(counts), first if chunked else None))


def _info(state: _State, n_events: int, first_event: int | None) -> RunInfo:
    head = state.header
    extra: dict[str, Any] = {
        "hepmc_version": head.version,
        "tools": [{"name": n, "version": v, "description": d} for n, v, d in head.tools],
        "run_attributes": dict(head.attributes),
        "momentum_unit": state.momentum_unit,
    }
    if first_event is not None:
        extra["first_event"] = first_event
    beams, energies = state.beams if state.beams is not None else (None, None)
    xsec = state.cross_section
    return RunInfo(
        path=str(state.path),
        format=state.format,
        n_events=n_events,
        beams=beams,
        beam_energies=energies,
        sqrt_s=sqrt_s_from_beams(energies, beams) if energies is not None else None,
        cross_section_pb=None if xsec is None else xsec[0],
        cross_section_error_pb=None if xsec is None else xsec[1],
        generators=tuple(" ".join(x for x in (n, v) if x) for n, v, _ in head.tools),
        weight_names=state.weight_names,
        extra=extra,
    )
