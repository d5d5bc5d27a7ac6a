"""Read Les Houches Event files (``.lhe``, ``.lhe.gz``) through pylhe.

Reading keeps everything the event record holds: per particle ``p4``, ``pid``,
``status``, ``mother1``, ``mother2``, ``color1``, ``color2``, ``mass`` (the generator's
mass column, GeV), ``lifetime`` (mm), ``spin``; per event ``weight`` (XWGTUP), ``weights``
(the named weights), ``process_id`` (IDPRUP), ``scale`` (SCALUP, GeV), ``alpha_qed`` and
``alpha_qcd``. Writing prints every number with the shortest decimal string that reads
back to the same double, so ``read_lhe(write_lhe(read_lhe(f)))`` is bitwise lossless.
Malformed files raise :class:`~latentsym.errors.EventFileError` naming the file, the
event and the line; bad values (NaN, inf, a momentum or weight beyond float32) raise
:class:`~latentsym.errors.SchemaError`. What counts as well-formed is written in
:mod:`latentsym.io.lhe_fast`, whose scan checks every read, the pylhe route's too; a
damaged file is never read to fewer events, fewer particles or other numbers. A file
without its closing ``</LesHouchesEvents>`` (truncated) is refused once the read reaches
its end; ``max_events`` reads the events before the cut.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import os
import re
import warnings
import zlib
from collections.abc import Iterator
from operator import attrgetter
from pathlib import Path
from typing import Any, BinaryIO, cast

import awkward as ak
import numpy as np
import pylhe

from latentsym.errors import ConfigError, EventFileError, SchemaError
from latentsym.io._lhe_head import Head, PylheSource, read_head
from latentsym.io._lhe_text import LAYOUT, Damaged, Unsupported
from latentsym.io.formats import detect_format
from latentsym.io.lhe_fast import Block, first_bad_value, iterate_blocks, split_block
from latentsym.io.schema import EventFile, RunInfo, sqrt_s_from_beams

__all__ = ["ENGINES", "EVENT_FIELDS", "INIT_KEYS", "iterate_lhe", "read_lhe"]

ENGINES = ("auto", "fast", "pylhe")
"""Event parsers of :func:`read_lhe`: the numpy one with pylhe as fallback, or either."""
_log = logging.getLogger(__name__)

_FLOATS = attrgetter("px", "py", "pz", "e", "m", "lifetime", "spin")
_INTS = attrgetter("id", "status", "mother1", "mother2", "color1", "color2")
EVENT_FIELDS = ("process_id", "scale", "alpha_qed", "alpha_qcd")
"""Per-event fields of the event line besides the weight (IDPRUP SCALUP AQEDUP AQCDUP)."""
INIT_KEYS = (
    "processes", "weighting_strategy", "pdf_group", "pdf_set", "weight_labels", "lhe_reader",
)  # fmt: skip
"""Keys of ``RunInfo.extra`` that the ``<init>`` block and ``<initrwgt>`` carry themselves."""
_LAYOUT = LAYOUT
# what pylhe (and xml.etree under it) raises on text it cannot take
_PYLHE_ERRORS = (
    ValueError, IndexError, KeyError, AttributeError, OverflowError, TypeError, AssertionError,
)  # fmt: skip
# ---------------------------------------------------------------------------- reading


def read_lhe(
    path: str | os.PathLike[str], *, max_events: int | None = None, engine: str = "auto"
) -> EventFile:
    """Read an LHE file (plain or gzip) into the latentsym event schema.

    Args:
        path: an ``.lhe`` or ``.lhe.gz`` file.
        max_events: read at most this many events from the start (default: all).
        engine: ``"auto"`` (default) parses the events with the numpy reader of
            :mod:`latentsym.io.lhe_fast` and hands a valid file it does not cover
            (``<weights>`` blocks, CDATA) to pylhe, saying why in the log (level INFO of the
            logger ``latentsym.io.lhe``); ``"fast"`` refuses such a file instead;
            ``"pylhe"`` uses pylhe's event parser (the reference), after the numpy reader's
            checks. All three give the same arrays; ``info.extra["lhe_reader"]`` says which
            one read the file.

    Returns:
        ``EventFile(events, info)``: N events (momenta in GeV) and a :class:`RunInfo` with
        beams, beam energies, sqrt_s, the cross-section (sum of XSECUP, pb) and its error
        (quadrature sum), generators and the named weight ids. ``info.extra`` holds
        ``weight_labels`` (id -> description from ``<initrwgt>``), ``processes``,
        ``weighting_strategy`` (IDWTUP), ``pdf_group``, ``pdf_set`` and ``lhe_reader``.

    Raises:
        EventFileError: missing, not LHE, no ``<init>`` or a malformed one, truncated,
            corrupt gzip, an unclosed event, NUP different from the particle lines, a
            number that is not plain ASCII, a non-integer in an integer column (names the
            event and the line).
        SchemaError: a NaN or infinite value, or a momentum or weight beyond float32
            (names the event and the line).

    Example:
        >>> events, info = read_lhe(SAMPLES / "ee_mumu_91GeV.lhe.gz", max_events=1000)
        >>> len(events), info.sqrt_s, info.generators, info.extra["lhe_reader"]
        (1000, 91.2, ('Pythia 8.317',), 'fast')
        >>> events.particles.pid[0].tolist(), events.particles.status[0].tolist()
        ([11, -11, 23, 13, -13], [-1, -1, 2, 1, 1])
        >>> [round(m, 4) for m in events.particles.p4.mass[0].tolist()]
        [0.0, 0.0, 91.2, 0.1057, 0.1057]
    """
    limit = None if max_events is None else _positive("max_events", max_events)
    return next(_chunks(path, None, limit, engine))


def iterate_lhe(
    path: str | os.PathLike[str],
    *,
    step_size: int,
    max_events: int | None = None,
    engine: str = "auto",
) -> Iterator[EventFile]:
    """Read an LHE file in chunks of ``step_size`` events, holding one chunk at a time.

    Yields ``EventFile(events, info)`` per chunk; ``info.n_events`` is the chunk's size and
    ``info.extra["first_event"]`` the index of its first event in the file. ``engine`` as
    in :func:`read_lhe`. Memory stays bounded by the chunk size and one block of text.

    Example:
        >>> path = SAMPLES / "ee_mumu_91GeV.lhe.gz"
        >>> for events, info in iterate_lhe(path, step_size=400, max_events=1000):
        ...     print(info.extra["first_event"], len(events))
        0 400
        400 400
        800 200
    """
    step = _positive("step_size", step_size)
    limit = None if max_events is None else _positive("max_events", max_events)
    yield from _chunks(path, step, limit, engine)


def _chunks(
    path: str | os.PathLike[str], step: int | None, limit: int | None, engine: str
) -> Iterator[EventFile]:
    """Chunks of ``step`` events (one chunk of everything when ``step`` is None)."""
    if engine not in ENGINES:
        raise ConfigError(f"unknown LHE engine {engine!r}; allowed: {', '.join(ENGINES)}")
    reader = _Reader(path)
    first = 0

    def emit(chunk: _Chunk, name: str) -> EventFile:
        info = reader.info(len(chunk), None if step is None else first)
        info.extra["lhe_reader"] = name
        return EventFile(chunk.build(reader, first, checked=name == "fast"), info)

    try:
        if engine != "pylhe":
            try:
                for chunk in _fast_chunks(reader, step, limit):
                    yield emit(chunk, "fast")
                    first += len(chunk)
                return
            except Damaged as damage:
                raise _error(damage, reader.path) from None
            except Unsupported as why:
                if engine == "fast":
                    raise EventFileError(
                        f"{reader.path}: the fast LHE reader does not cover this file ({why}); "
                        "read it with engine='pylhe' (or 'auto', which falls back by itself)."
                    ) from None
                _log.info(
                    "%s: read with pylhe: the fast LHE reader does not cover this file (%s)",
                    reader.path, why,
                )  # fmt: skip
        reader.validate(limit)
        reader.weight_names = None
        if first:
            reader.pull(first)  # the events already delivered
        if step is None:
            yield emit(reader.pull(limit), "pylhe")
            return
        while not reader.done and (limit is None or first < limit):
            chunk = reader.pull(step if limit is None else min(step, limit - first))
            if len(chunk) == 0:
                break
            yield emit(chunk, "pylhe")
            first += len(chunk)
    finally:
        reader.close()


def _fast_chunks(reader: _Reader, step: int | None, limit: int | None) -> Iterator[_Chunk]:
    header = reader.lhef.header
    order = header.initrwgt.list_weights_ids() if header else []
    rank = {wid: i for i, wid in enumerate(order)}
    pending: list[Block] = []
    have = 0
    blocks = iterate_blocks(
        reader.path, reader.weight_names, rank, limit, start=reader.head.end, line=reader.head.line
    )
    for block, names in blocks:
        reader.weight_names = names
        pending.append(block)
        have += len(block)
        while step is not None and have >= step:
            last, rest = split_block(pending[-1], len(pending[-1]) - (have - step))
            yield _Chunk.of([*pending[:-1], last])
            pending, have = ([rest] if len(rest) else []), have - step
    if have or step is None:
        yield _Chunk.of(pending)


def _positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name} must be a positive number of events, got {value!r}")
    return int(value)


def _error(damage: Damaged, path: Path) -> EventFileError | SchemaError:
    """The error of latentsym for a damaged file."""
    kind = SchemaError if damage.schema else EventFileError
    return kind(damage.message(path))


class _Reader:
    """The head of the file (checked), and pylhe's event generator with every failure
    turned into an EventFileError."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.format = detect_format(self.path)
        self.done = False
        self.n_read = 0
        self.n_checked: int | None = None
        self.weight_names: list[str] | None = None
        try:
            self.head: Head = read_head(self.path)
        except Damaged as damage:
            raise _error(damage, self.path) from None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                source = cast(BinaryIO, PylheSource(self.path, self.head))
                self.lhef = pylhe.LHEFile.frombuffer(source)
            except (OSError, EOFError, zlib.error) as exc:
                raise self._corrupt(exc, "in the header") from exc
            except _PYLHE_ERRORS as exc:
                detail = "".join(f"; {w.message}" for w in caught)
                raise EventFileError(
                    f"{self.path}: the header or <init> block is malformed or missing "
                    f"({exc}{detail}). An LHE file needs <LesHouchesEvents>, an optional "
                    "<header>, then <init> with the beam line (IDBMUP1 IDBMUP2 EBMUP1 EBMUP2 "
                    "PDFGUP1 PDFGUP2 PDFSUP1 PDFSUP2 IDWTUP NPRUP) and one line per process "
                    "(XSECUP XERRUP XMAXUP LPRUP) before the first <event>."
                ) from exc
        self._rethrow(caught)
        self._events = iter(self.lhef.events)
        self._extra = self._init_extra()
        self._generators = _generators(self.lhef, self.path)

    def close(self) -> None:
        close = getattr(self.lhef.events, "close", None) if hasattr(self, "lhef") else None
        if close is not None:
            close()

    def validate(self, limit: int | None) -> None:
        """Run the numpy reader's checks over the events that pylhe is to read.

        Raises the error of the first damage; a file the checks do not cover (CDATA) is
        left to pylhe's own checks, with a note in the log.
        """
        n = 0
        try:
            blocks = iterate_blocks(
                self.path, None, {}, limit, start=self.head.end, line=self.head.line, check=True
            )
            for block, _ in blocks:
                n += len(block)
        except Damaged as damage:
            raise _error(damage, self.path) from None
        except Unsupported as why:
            _log.info("%s: the events are checked by pylhe only (%s)", self.path, why)
            return
        self.n_checked = n

    def pull(self, limit: int | None) -> _Chunk:
        """Read up to ``limit`` further events (all remaining when None)."""
        chunk = _Chunk()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            while limit is None or len(chunk) < limit:
                try:
                    event = next(self._events)
                except StopIteration:
                    self.done = True
                    break
                except (OSError, EOFError, zlib.error) as exc:
                    if isinstance(exc.__cause__, Damaged):
                        raise _error(exc.__cause__, self.path) from None
                    raise self._corrupt(exc, f"in event {self.n_read}") from exc
                except _PYLHE_ERRORS as exc:
                    raise self._malformed(exc) from exc
                self._check(event)
                try:
                    chunk.add(event, self.weight_names or [])
                except OverflowError as exc:  # an integer beyond int64
                    raise self._malformed(exc) from exc
                self.n_read += 1
        self._rethrow(caught)
        if self.done and self.n_checked is not None and self.n_read != self.n_checked:
            raise EventFileError(
                f"{self.path}: pylhe read {self.n_read} events where the file holds "
                f"{self.n_checked} well-formed ones; the file is damaged between them. "
                f"{_LAYOUT}. Re-generate or re-download the file."
            )
        return chunk

    def _check(self, event: pylhe.LHEEvent) -> None:
        if event.eventinfo.nparticles != len(event.particles):
            raise EventFileError(
                f"{self.path}: event {self.n_read}{self._line(self.n_read, 0)} declares "
                f"NUP = {event.eventinfo.nparticles} particles but has "
                f"{len(event.particles)} particle lines. {_LAYOUT}."
            )
        if self.weight_names is None:
            order = self.lhef.header.initrwgt.list_weights_ids() if self.lhef.header else []
            rank = {wid: i for i, wid in enumerate(order)}
            self.weight_names = sorted(event.weights, key=lambda k: rank.get(k, len(rank)))
        elif event.weights.keys() != set(self.weight_names):
            have, want = set(event.weights), set(self.weight_names)
            raise EventFileError(
                f"{self.path}: event {self.n_read} has named weights different from the first "
                f"event's (missing {sorted(want - have)[:5]}, extra {sorted(have - want)[:5]}). "
                "Every event of a file must carry the same named weights: fix the file or "
                "regenerate it with one weight set."
            )

    def _rethrow(self, caught: list[warnings.WarningMessage]) -> None:
        for w in caught:
            text = str(w.message)
            if issubclass(w.category, RuntimeWarning) and text.startswith("Parse Error"):
                raise self._truncated(text)
            _log.info("%s: pylhe: %s: %s", self.path, w.category.__name__, text)

    def _truncated(self, text: str) -> EventFileError:
        problem = _gzip_problem(self.path) if self.format == "lhe.gz" else None
        if problem is not None:
            return self._corrupt(OSError(problem), f"after event {self.n_read - 1}")
        n = self.n_read
        done = f"events 0 to {n - 1} are complete" if n else "no event is complete"
        return EventFileError(
            f"{self.path}: the file is cut off or not well-formed XML at event {n} "
            f"({text.removeprefix('Parse Error: ')}; {done}). The file is truncated "
            "(interrupted download or generator run) or damaged: re-generate or re-download "
            "it; if only the closing </LesHouchesEvents> tag is missing, append it."
        )

    def _corrupt(self, exc: BaseException, where: str) -> EventFileError:
        return EventFileError(
            f"{self.path}: corrupt or truncated gzip stream {where} ({exc}). Re-download or "
            f"re-generate the file; `gzip -t {self.path.name}` checks it."
        )

    def _malformed(self, exc: BaseException) -> EventFileError:
        problem = _gzip_problem(self.path) if self.format == "lhe.gz" else None
        if problem is not None:
            return self._corrupt(OSError(problem), f"around event {self.n_read}")
        if isinstance(exc, IndexError):
            what, line = "a line with too few columns", self._line(self.n_read, None)
        elif isinstance(exc, (OverflowError, AssertionError, TypeError)):
            what, line = f"{type(exc).__name__}: {exc}", ""
        else:
            token = re.search(r": '(.*)'$", str(exc))
            line = self._line(self.n_read, token.group(1) if token else None)
            what = f"{type(exc).__name__}: {exc}"
        return EventFileError(
            f"{self.path}: event {self.n_read}{line} is malformed ({what}). {_LAYOUT}. "
            "Fix or remove that event."
        )

    def _line(self, event: int, what: int | str | None) -> str:
        """`` (line L: 'text')`` locating a particle row or a bad token, or ``""``."""
        rows = _event_lines(self.path, event)
        if isinstance(what, int):
            rows = rows[what : what + 1]
        elif what is not None:
            rows = [r for r in rows if what in re.split(r"[\s<>]+", r[1])][:1]
        else:
            rows = [r for i, r in enumerate(rows) if len(r[1].split()) < (6 if i == 0 else 13)]
        return f" (line {rows[0][0]}: {rows[0][1].strip()[:120]!r})" if rows else ""

    def _init_extra(self) -> dict[str, Any]:
        init, header = self.lhef.init, self.lhef.header
        extra: dict[str, Any] = {}
        for element in header.extra_elements if header else []:
            if element.tag == "latentsym" and element.text:
                try:
                    found = json.loads(element.text)
                    if not isinstance(found, dict):
                        raise json.JSONDecodeError("not an object {...}", element.text, 0)
                    extra.update(found)
                except json.JSONDecodeError as exc:
                    raise EventFileError(
                        f"{self.path}: the <latentsym> header element is not valid JSON ({exc})."
                        " Remove the element or restore it from the original file."
                    ) from exc
        info = init.initInfo
        extra["processes"] = [
            {"id": p.procId, "cross_section_pb": p.xSection, "error_pb": p.error,
             "max_weight": p.unitWeight}
            for p in init.procInfo
        ]  # fmt: skip
        extra["weighting_strategy"] = info.weightingStrategy
        extra["pdf_group"] = [info.PDFgroupA, info.PDFgroupB]
        extra["pdf_set"] = [info.PDFsetA, info.PDFsetB]
        if header is not None and header.initrwgt.entries:
            extra["weight_labels"] = {w.id: w.name for w in header.initrwgt.iter_weights()}
        return extra

    def info(self, n_events: int, first_event: int | None = None) -> RunInfo:
        init = self.lhef.init.initInfo
        procs = self.lhef.init.procInfo
        beams = (init.beamA, init.beamB) if (init.beamA, init.beamB) != (0, 0) else None
        energies = (init.energyA, init.energyB)
        has_energy = energies != (0.0, 0.0)
        extra = dict(self._extra)
        if first_event is not None:
            extra["first_event"] = first_event
        return RunInfo(
            path=str(self.path),
            format=self.format,
            n_events=n_events,
            beams=beams,
            beam_energies=energies if has_energy else None,
            sqrt_s=sqrt_s_from_beams(energies, beams) if has_energy else None,
            cross_section_pb=math.fsum(p.xSection for p in procs) if procs else None,
            cross_section_error_pb=math.sqrt(math.fsum(p.error**2 for p in procs))
            if procs
            else None,
            generators=self._generators,
            weight_names=tuple(self.weight_names or ()),
            extra=extra,
        )


class _Chunk:
    """The values of a run of events: Python lists, moved to numpy every few thousand events."""

    _BLOCK = 4096

    def __init__(self) -> None:
        self.n = 0
        self.blocks: list[tuple[np.ndarray, ...]] = []
        self._clear()

    def _clear(self) -> None:
        self.counts: list[int] = []
        self.floats: list[float] = []
        self.ints: list[int] = []
        self.event: list[tuple[int, float, float, float, float]] = []
        self.weights: list[list[float]] = []

    def __len__(self) -> int:
        return self.n

    @classmethod
    def of(cls, blocks: list[Block]) -> _Chunk:
        """A chunk made of parsed blocks."""
        chunk = cls()
        chunk.blocks = [tuple(b) for b in blocks]
        chunk.n = sum(len(b) for b in blocks)
        return chunk

    def add(self, event: pylhe.LHEEvent, names: list[str]) -> None:
        self.counts.append(len(event.particles))
        for p in event.particles:
            self.floats.extend(_FLOATS(p))
            self.ints.extend(_INTS(p))
        ei = event.eventinfo
        self.event.append((ei.pid, ei.weight, ei.scale, ei.aqed, ei.aqcd))
        self.weights.append([event.weights[k] for k in names])
        self.n += 1
        if len(self.counts) == self._BLOCK:
            self._flush()

    def _flush(self) -> None:
        n = len(self.counts)
        if n == 0 and self.blocks:
            return
        width = len(self.weights[0]) if self.weights else 0
        self.blocks.append(
            (
                np.asarray(self.counts, dtype=np.int64),
                np.asarray(self.floats, dtype=np.float64).reshape(-1, 7),
                np.asarray(self.ints, dtype=np.int64).reshape(-1, 6),
                np.asarray(self.event, dtype=np.float64).reshape(n, 5),
                np.asarray(self.weights, dtype=np.float64).reshape(n, width),
            )
        )
        self._clear()

    def build(self, reader: _Reader, first: int, *, checked: bool = False) -> ak.Array:
        """The events as an awkward array; ``checked``: the values passed the numpy
        reader's checks already (else they are checked here)."""
        try:
            self._flush()
        except OverflowError as exc:  # an integer beyond int64 on the pylhe route
            raise reader._malformed(exc) from exc
        counts, f, i, ev, w = _columns(self.blocks)
        names = reader.weight_names or []
        if not checked:
            _check_values(reader, (counts, f.T, i.T, ev.T, w), names, first)
        return event_array(counts, f, i, ev, w, names)


_PARTICLE_FIELDS = (
    "pid", "status", "mother1", "mother2", "color1", "color2", "mass", "lifetime", "spin",
)  # fmt: skip


def _columns(blocks: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    """The blocks' columns joined, the per-particle and per-event ones transposed (one row
    per column, contiguous): ``counts`` [N], ``floats`` [7, P], ``ints`` [6, P], ``event``
    [5, N], ``weights`` [N, W]; one copy of each value."""
    counts = np.concatenate([b[0] for b in blocks]) if len(blocks) != 1 else blocks[0][0]
    sizes = [len(b[1]) for b in blocks]
    lengths = [len(b[0]) for b in blocks]
    out = []
    for k, total, dtype in ((1, sum(sizes), np.float64), (2, sum(sizes), np.int64),
                            (3, sum(lengths), np.float64)):  # fmt: skip
        width = blocks[0][k].shape[1]
        column = np.empty((width, total), dtype=dtype)
        at = 0
        for b in blocks:
            column[:, at : at + len(b[k])] = b[k].T
            at += len(b[k])
        out.append(column)
    weights = np.concatenate([b[4] for b in blocks]) if len(blocks) != 1 else blocks[0][4]
    return counts, out[0], out[1], out[2], weights


def event_array(
    counts: np.ndarray,
    floats: np.ndarray,
    ints: np.ndarray,
    event: np.ndarray,
    weights: np.ndarray,
    names: list[str],
) -> ak.Array:
    """The event array of the latentsym schema, built layout by layout from the columns of
    :func:`_columns` (the same array as :func:`~latentsym.io.schema.make_events` builds,
    with the event fields of :data:`EVENT_FIELDS` added; tested so)."""

    def leaf(values: np.ndarray) -> ak.contents.NumpyArray:
        return ak.contents.NumpyArray(values)

    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    p4 = ak.contents.RecordArray(
        [leaf(floats[k]) for k in range(4)], ["x", "y", "z", "t"],
        parameters={"__record__": "Momentum4D"},
    )  # fmt: skip
    columns = [ints[k] for k in range(6)] + [floats[k] for k in range(4, 7)]
    particles = ak.contents.RecordArray(
        [p4, *(leaf(c) for c in columns)], ["p4", *_PARTICLE_FIELDS], length=len(floats[0])
    )
    fields: list[ak.contents.Content] = [
        ak.contents.ListOffsetArray(ak.index.Index64(offsets), particles),
        leaf(np.ascontiguousarray(event[1])),
    ]
    keys = ["particles", "weight"]
    if names:
        per = [leaf(np.ascontiguousarray(weights[:, j])) for j in range(len(names))]
        fields.append(ak.contents.RecordArray(per, list(names), length=len(counts)))
        keys.append("weights")
    fields.append(leaf(event[0].astype(np.int64)))
    fields += [leaf(np.ascontiguousarray(event[k])) for k in range(2, 5)]
    keys += list(EVENT_FIELDS)
    return ak.Array(ak.contents.RecordArray(fields, keys, length=len(counts)))


def _check_values(
    reader: _Reader, columns: tuple[np.ndarray, ...], names: list[str], first: int
) -> None:
    """Refuse the values the numpy reader refuses (for the pylhe route)."""
    counts, f, i, ev, w = columns
    bad = first_bad_value(counts, f, i, ev, w, names)
    if bad is None:
        return
    event = first + bad.event
    if bad.particle is None:
        where = f"event {event}{reader._line(event, 0)}"
    else:
        where = f"event {event}, particle {bad.particle}{reader._line(event, bad.particle + 1)}"
    kind = SchemaError if bad.schema else EventFileError
    raise kind(f"{reader.path}: {where}: {bad.what}.{'' if bad.schema else ' ' + _LAYOUT + '.'}")


def _event_lines(path: Path, index: int) -> list[tuple[int, str]]:
    """(line number, text) of the data lines of event ``index``; only used to name lines."""
    rows: list[tuple[int, str]] = []
    seen = -1
    try:
        with path.open("rb") as probe:
            is_gzip = probe.read(2) == b"\x1f\x8b"
        opener = gzip.open if is_gzip else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            for lineno, line in enumerate(fh, 1):
                text = line.strip()
                if text.startswith("<event"):
                    seen += 1
                elif seen == index:
                    if text.startswith("</event") or (text.startswith("<") and rows):
                        break
                    if text and not text.startswith(("#", "<")):
                        rows.append((lineno, line.rstrip("\n")))
                elif seen > index:
                    break
    except (OSError, EOFError, zlib.error):
        pass
    return rows


def _gzip_problem(path: Path) -> str | None:
    try:
        with gzip.open(path, "rb") as fh:
            while fh.read(1 << 20):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        return str(exc)
    return None


def _generators(lhef: pylhe.LHEFile, path: Path) -> tuple[str, ...]:
    """Generators as "name version": <generator> tags, else <MGVersion> or a comment."""
    out = [
        " ".join(s for s in ((g.name or g.description).strip(), g.version.strip()) if s)
        for g in lhef.init.generators
    ]
    for element in lhef.header.extra_elements if lhef.header else []:
        version = (element.text or "").strip().lstrip("#").strip()
        if element.tag == "MGVersion" and version and not any("MadGraph" in g for g in out):
            out.append("MadGraph5 " + re.sub(r"^5\.(?=\d+\.\d+)", "", version))
    own = any(e.tag == "latentsym" for e in (lhef.header.extra_elements if lhef.header else []))
    if not out and not own:
        found = re.search(
            r"(?:generated|created)\s+(?:with|by)\s+([A-Za-z][\w+@-]*)(?:[ \t]+v?(\d[\w.]*))?",
            _head(path),
        )
        if found:
            out.append(" ".join(g for g in found.groups() if g))
    return tuple(out)


def _head(path: Path, size: int = 16384) -> str:
    """The first ``size`` bytes of the (decompressed) file up to ``<init``, as text."""
    with path.open("rb") as probe:
        is_gzip = probe.read(2) == b"\x1f\x8b"
    try:
        with gzip.open(path, "rb") if is_gzip else path.open("rb") as fh:
            text = fh.read(size).decode("utf-8", errors="replace")
    except (OSError, EOFError, zlib.error):
        return ""
    return text.split("<init", 1)[0]
