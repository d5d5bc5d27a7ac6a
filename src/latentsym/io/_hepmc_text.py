"""The line-level check of HepMC3 ASCII text, before pyhepmc parses any of it.

HepMC3's own reader (under pyhepmc) is lenient in ways that change data without a word:
a number it cannot read becomes 0 (``atof``), a line it does not know is skipped, an event
it cannot parse ends the file early (the events before it read as the whole file), an
out-of-range vertex id writes outside its arrays. So every line is checked here first,
and only text that passes goes to pyhepmc. The grammar (that of HepMC3's ``WriterAscii``,
version 3.02 and later):

- a header: ``HepMC::Version <v>``, ``HepMC::Asciiv3-START_EVENT_LISTING``, then run
  information: ``W <names>`` (weight names), ``T <name>\\|<version>\\|<description>``
  (tools), ``A <name> <value>`` (run attributes);
- events: ``E <number> <n_vertices> <n_particles> [@ x y z t]``, then ``U <GEV|MEV>
  <MM|CM>``, ``W <w1> <w2> ...``, ``A <id> <name> <value>`` (event, vertex and particle
  attributes), then ``V <id> <status> [<in1>,<in2>,...] [@ x y z t]`` and ``P <id>
  <parent> <pid> <px> <py> <pz> <E> <m> <status>`` lines;
- the footer ``HepMC::Asciiv3-END_EVENT_LISTING`` and nothing after it but blank lines.

Fields are separated by single spaces (HepMC3 finds them with ``strchr(' ')``: two spaces
or a tab shift every later field), numbers are plain ASCII decimals (no ``nan``, ``inf``,
``0x``), particle ids run 1..n in order, a parent is another particle (``1..n``) or a
vertex with a ``V`` line (``-1..-n_vertices``), a particle goes into one vertex at most,
and the declared counts match the lines: n_particles ``P`` lines, and n_vertices = the
``V`` lines + the implicit vertices (one per distinct positive parent). Free text (tools,
weight names, attributes) is UTF-8 without control characters or a dangling backslash. A
second run-information block inside the file (concatenated runs), text after the footer,
CR LF line ends and lines longer than HepMC3's 256 kB buffer are refused.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from latentsym.errors import EventFileError

__all__ = [
    "END",
    "MAX_LINE",
    "START",
    "HepMCEvent",
    "HepMCHeader",
    "HepMCScanner",
    "open_hepmc",
]

START = b"HepMC::Asciiv3-START_EVENT_LISTING"
END = b"HepMC::Asciiv3-END_EVENT_LISTING"
MAX_LINE = 262_000
"""Longest line accepted: HepMC3 reads lines into a 256 kB buffer and stops at a longer one."""

_F = rb"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d{1,3})?"
_I32 = rb"-?(?:\d{1,9}|1\d{9}|20\d{8}|21[0-3]\d{7}|214[0-6]\d{6})"  # |x| < 2^31 (atoi)
_POS = rb"(?: @ " + _F + rb" " + _F + rb" " + _F + rb" " + _F + rb")?"
_BAD_P = re.compile(  # a particle line that is not: P id parent pid px py pz E m status
    rb"\nP(?! \d{1,9} -?\d{1,9} " + _I32 + (rb" " + _F) * 5 + rb" " + _I32 + rb" *\n)"
)
_ID_PARENT = re.compile(rb"\nP (\d{1,9}) (-?\d{1,9}) ")
_NON_P = re.compile(rb"\n(?!P )([^\n]*)")  # the other lines of an event
_BOUNDARY = re.compile(rb"\n(?:E|HepMC)")  # where an event ends: the next event, or the footer
_BLOCK = 8 << 20  # bytes read at a time
_GZIP_BLOCK = 1 << 20  # gzip: a cut stream loses the block it ends in
_V = re.compile(rb"V (-\d{1,9}) " + _I32 + rb" \[((?:\d{1,9}(?:,\d{1,9})*)?)\]" + _POS + rb" *\n?")
_E = re.compile(rb"E (-?\d{1,9}) (\d{1,9}) (\d{1,9})" + _POS + rb" *\n?")
_U = re.compile(rb"U (GEV|MEV) (MM|CM)\n?")
_W = re.compile(rb"W((?: " + _F + rb")+) *\n?")
_A_EVENT = re.compile(rb"A (-?\d{1,9}) ([^ \n]{1,500}) ([^\n]*)\n?")
_A_RUN = re.compile(rb"A ([^ \n]{1,500}) ([^\n]*)\n?")
_TEXT = re.compile(rb"[TW] ([^\n]*)\n?")
_VERSION = re.compile(rb"HepMC::Version (\S{1,50}) *\n?")
_CONTROL = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]")
_XNUM = rb"(?:" + _F + rb"|[-+]?(?:nan|inf)(?:\(\w*\))?)"  # a generator may write nan
_XSEC = re.compile(rb"(" + _XNUM + rb") (" + _XNUM + rb")(?: -?\d+ -?\d+)?(?: " + _XNUM + rb")*")
_GZIP_ERRORS = (OSError, EOFError, zlib.error)


@dataclass
class HepMCHeader:
    """The run information before the first event.

    Attributes:
        version: the ``HepMC::Version`` string (``""`` when the line is absent).
        text: the header lines as read (handed to pyhepmc before every chunk of events).
        weight_names: names of the event weights, in order.
        tools: ``(name, version, description)`` of each ``T`` line.
        attributes: the run attributes (``A`` lines), name -> value text.
    """

    version: str = ""
    text: bytes = b""
    weight_names: tuple[str, ...] = ()
    tools: list[tuple[str, str, str]] = field(default_factory=list)
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class HepMCEvent:
    """One checked event: its text and what the check read from it.

    Attributes:
        text: the event's lines, as pyhepmc will read them.
        index: position of the event in the file (0-based).
        line: line number of its ``E`` line (1-based).
        number: the event number of the ``E`` line.
        parents: ``[n]`` the parent field of each ``P`` line (a particle id > 0, a vertex
            id < 0, 0 for none).
        vertex_in: explicit vertex id -> the ids of its incoming particles.
        n_weights: number of values of the ``W`` line (0 without one).
        cross_section: ``(value, error)`` in pb from the ``GenCrossSection`` attribute.
    """

    text: bytes
    index: int
    line: int
    number: int
    parents: np.ndarray
    vertex_in: dict[int, list[int]]
    n_weights: int
    cross_section: tuple[float, float] | None

    @property
    def n_particles(self) -> int:
        """Number of particles."""
        return len(self.parents)

    def particle_line(self, k: int) -> int:
        """The line number of particle ``k`` (0-based) of the event."""
        for j, m in enumerate(_ID_PARENT.finditer(self.text)):
            if j == k:
                return self.line + self.text.count(b"\n", 0, m.start() + 1)
        return self.line

    def mothers(self) -> tuple[np.ndarray, np.ndarray]:
        """LHE-style ``mother1``, ``mother2`` (1-based particle ids; 0 for none).

        A particle whose parent is a particle has ``(parent, 0)``; one made at an explicit
        vertex has the first and the last of the vertex's incoming particles
        (``(first, 0)`` for a single one; ``(0, 0)`` for a vertex without incoming ones).
        """
        m1 = np.where(self.parents > 0, self.parents, 0).astype(np.int64)
        m2 = np.zeros(len(m1), dtype=np.int64)
        for vid, incoming in self.vertex_in.items():
            if not incoming:
                continue
            at = self.parents == vid
            m1[at] = min(incoming)
            if len(incoming) > 1:
                m2[at] = max(incoming)
        return m1, m2


def open_hepmc(path: Path) -> tuple[BinaryIO, bool]:
    """The file opened for binary reading (through gzip when it starts with gzip's magic),
    and whether it is gzip."""
    fh = path.open("rb")
    if fh.read(2) == b"\x1f\x8b":
        fh.close()
        return gzip.open(path, "rb"), True  # type: ignore[return-value]
    fh.seek(0)
    return fh, False


def _lone_backslash(text: bytes) -> bool:
    """Whether ``text`` ends in an odd number of backslashes (HepMC3's unescape reads past
    the end of such a line)."""
    return (len(text) - len(text.rstrip(b"\\"))) % 2 == 1


def _unescape(text: str) -> str:
    """HepMC3's unescape: ``\\|`` is a line break, ``\\x`` is ``x``."""
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "|" else m.group(1), text)


_P_FIELDS = ("id", "parent", "pid", "px", "py", "pz", "E", "m", "status")
_P_PATTERNS = tuple(
    re.compile(x) for x in (rb"\d{1,9}", rb"-?\d{1,9}", _I32, _F, _F, _F, _F, _F, _I32)
)


def _particle_problem(line: bytes) -> str:
    """What is wrong with a particle line, in words."""
    fields = line.rstrip(b" ").split(b" ")[1:]
    if b"" in fields:
        return "two spaces between fields"
    if len(fields) != len(_P_FIELDS):
        return f"{len(fields)} fields where a particle line has 9: {' '.join(_P_FIELDS)}"
    for name, value, pattern in zip(_P_FIELDS, fields, _P_PATTERNS, strict=True):
        if not pattern.fullmatch(value):
            kind = "a plain ASCII number" if name in _P_FIELDS[3:8] else "an integer"
            return f"{name} is {_show(value)!r}, not {kind}"
    return "not of the form P id parent pid px py pz E m status"


def _show(line: bytes) -> str:
    text = line.rstrip(b"\n")
    shown = repr(text[:80])[2:-1]
    return shown + ("..." if len(text) > 80 else "")


class HepMCScanner:
    """Reads HepMC3 ASCII text in large blocks and yields checked events.

    Args:
        stream: the (decompressed) binary stream.
        source: the file name, for messages.
        gzipped: whether the stream is gzip (for the message of a corrupt stream).
    """

    def __init__(self, stream: BinaryIO, source: str, gzipped: bool = False) -> None:
        self.stream = stream
        self.source = source
        self.gzipped = gzipped
        self.line_no = 0  # lines consumed so far
        self.n_events = 0
        self.finished = False  # the END line was read
        self.n_weights: int | None = None  # weights per event (the same in every event)
        self._buf = b""
        self._pos = 0
        self._eof = False
        self.header = self._read_header()

    # ----------------------------------------------------------------- errors
    def _fail(self, what: str, fix: str, line: int | None = None) -> EventFileError:
        at = self.line_no if line is None else line
        where = f"line {at}: " if at else ""
        return EventFileError(f"{self.source}: {where}{what}. {fix}.")

    def _damaged(self, what: str, line: int | None = None, event: int | None = None) -> Exception:
        at = f" (event {event})" if event is not None else ""
        return self._fail(
            what + at,
            "The file is damaged, or is not HepMC3 ASCII as HepMC3's WriterAscii writes it: "
            "re-copy or re-generate it",
            line,
        )

    def _truncated(self, what: str) -> Exception:
        return self._fail(
            f"{what} without {END.decode()}",
            "The file was cut short (an interrupted copy or generation): re-copy it",
        )

    # ------------------------------------------------------------------ input
    def _fill(self) -> bool:
        """Read the next block behind the unread text; False at the end of the file."""
        if self._eof:
            return False
        try:
            data = self.stream.read(_GZIP_BLOCK if self.gzipped else _BLOCK)
        except _GZIP_ERRORS as exc:
            if isinstance(exc, EOFError):
                after = f", after line {self.line_no}" if self.line_no else ""
                raise self._truncated(f"the gzip stream ends early{after}") from None
            after = f" after line {self.line_no}" if self.line_no else ""
            raise self._fail(
                f"corrupt {'gzip stream' if self.gzipped else 'file'}{after} ({exc})",
                "Re-download or re-generate the file; `gzip -t` checks a gzip file",
            ) from None
        if not data:
            self._eof = True
            return False
        self._buf = self._buf[self._pos :] + data
        self._pos = 0
        return True

    def _line(self) -> bytes:
        """The next line with its line break (none at the very end); b"" at the end."""
        end = self._buf.find(b"\n", self._pos)
        while end < 0 and len(self._buf) - self._pos <= MAX_LINE and self._fill():
            end = self._buf.find(b"\n", self._pos)
        if end < 0:
            end = len(self._buf) - 1
        line = self._buf[self._pos : end + 1]
        self._pos = end + 1
        if line:
            self.line_no += 1
            self._check_lines(line, self.line_no)
        return line

    def _unread(self, line: bytes) -> None:
        self._pos -= len(line)
        self.line_no -= 1

    def _check_lines(self, text: bytes, first: int) -> None:
        """Refuse CR LF line ends and lines longer than HepMC3's buffer."""
        cr = text.find(b"\r")
        if cr >= 0:
            raise self._fail(
                "a carriage return (Windows line ends, CR LF?), which HepMC3 cannot read",
                "Convert the file (dos2unix, or tr -d '\\r')",
                first + text.count(b"\n", 0, cr),
            )
        if len(text) > MAX_LINE:
            lengths = [len(x) for x in text.split(b"\n")]
            if max(lengths) > MAX_LINE:
                at = next(k for k, n in enumerate(lengths) if n > MAX_LINE)
                raise self._damaged(
                    f"a line longer than {MAX_LINE} bytes (HepMC3 reads at most 256 kB a line)",
                    first + at,
                )

    def _text(self, line: bytes, line_no: int) -> str:
        """A free-text line (tool, weight names, attribute) as str: UTF-8, no control
        characters, no dangling backslash (HepMC3's unescape reads past the end then)."""
        body = line.rstrip(b"\n")
        if _CONTROL.search(body):
            raise self._damaged(f"a control character in {_show(line)!r}", line_no)
        if _lone_backslash(body):
            raise self._damaged(f"a line ending in a lone backslash: {_show(line)!r}", line_no)
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise self._damaged(
                f"bytes that are not UTF-8 text in {_show(line)!r}", line_no
            ) from None

    # ----------------------------------------------------------------- header
    def _read_header(self) -> HepMCHeader:
        head = HepMCHeader()
        kept: list[bytes] = []
        started = False
        while True:
            line = self._line()
            if not line:
                what = "before the event listing starts" if not started else "in its header"
                raise self._truncated(f"the file ends {what}")
            if not line.strip():
                continue
            if not started:
                m = _VERSION.fullmatch(line)
                if m and not head.version:
                    head.version = m.group(1).decode()
                elif line.rstrip(b" \n") == START:
                    started = True
                else:
                    raise self._fail(
                        f"expected the HepMC3 header ({START.decode()}), found {_show(line)!r}",
                        "latentsym reads HepMC3 ASCII files (convert HepMC2 files with "
                        "HepMC3's convert tools or pyhepmc)",
                    )
            elif line.startswith(b"E"):
                self._unread(line)
                break
            elif line.rstrip(b" \n") == END:
                self.finished = True
                break
            else:
                self._header_line(line, head)
            kept.append(line if line.endswith(b"\n") else line + b"\n")
        head.text = b"".join(kept)
        return head

    def _header_line(self, line: bytes, head: HepMCHeader) -> None:
        kind, at = line[:1], self.line_no
        if kind == b"W" and _TEXT.fullmatch(line):
            head.weight_names = tuple(_unescape(self._text(line, at)[2:]).split())
        elif kind == b"T" and _TEXT.fullmatch(line):
            parts = [*_unescape(self._text(line, at)[2:]).split("\n", 2), "", ""]
            head.tools.append((parts[0], parts[1], parts[2]))
        elif kind == b"A" and (m := _A_RUN.fullmatch(line)):
            self._text(line, at)
            head.attributes[m.group(1).decode()] = _unescape(m.group(2).decode().rstrip())
        else:
            raise self._damaged(f"not a HepMC3 run-information line: {_show(line)!r}")

    # ----------------------------------------------------------------- events
    def events(self, limit: int | None = None) -> Iterator[HepMCEvent]:
        """The checked events, in file order (at most ``limit``).

        Raises:
            EventFileError: a malformed line or event, or the end of the file before
                ``HepMC::Asciiv3-END_EVENT_LISTING`` (names the line and the event).
        """
        while not self.finished and (limit is None or self.n_events < limit):
            line = self._line()
            if not line:
                raise self._truncated(f"the file ends after {self.n_events} complete events")
            if not line.strip():
                continue
            if line.rstrip(b" \n") == END:
                self.finished = True
            elif line.startswith(b"E"):
                self._unread(line)
                yield self._event()
            elif line.startswith(b"HepMC"):
                raise self._fail(
                    f"a header line inside the event listing: {_show(line)!r}",
                    "Concatenated HepMC3 files are not read as one: give the files separately",
                )
            else:  # only after a T, W or A line that ended the event in HepMC3's reading
                raise self._damaged(f"expected an event (E line), found {_show(line)!r}")
        if self.finished:
            self._check_tail()

    def _check_tail(self) -> None:
        while True:
            rest = self._buf[self._pos :]
            self._pos = len(self._buf)
            if rest.strip():
                raise self._fail(
                    f"text after {END.decode()}: {_show(rest.strip())!r}",
                    "Concatenated HepMC3 files are not read as one: give the files "
                    "separately (latentsym run a.hepmc b.hepmc)",
                )
            self.line_no += rest.count(b"\n")
            if not self._fill():
                return

    def _event_text(self) -> bytes:
        """The text from this E line to the next E or HepMC line (b"" at the end: cut)."""
        start = self._pos
        found = _BOUNDARY.search(self._buf, start)
        while found is None:
            seen = len(self._buf) - self._pos
            if not self._fill():
                return b""
            start = 0
            found = _BOUNDARY.search(self._buf, max(0, seen - 1))
        end = found.start() + 1
        self._pos = end
        return self._buf[start:end]

    def _event(self) -> HepMCEvent:
        index, first = self.n_events, self.line_no + 1
        text = self._event_text()
        if not text:
            what = f"the file ends inside event {index} (E line {first})"
            fix = (
                f"It was cut short (an interrupted copy or generation): re-copy it, or read "
                f"the {index} complete events before the cut with max_events={index}"
            )
            raise self._fail(f"{what} without {END.decode()}", fix, first)
        self._check_lines(text, first)
        eol = text.index(b"\n")
        m = _E.fullmatch(text, 0, eol + 1)
        if m is None:
            raise self._damaged(f"not a HepMC3 event line: {_show(text[:eol])!r}", first, index)
        number, n_vert, n_part = (int(g) for g in m.groups()[:3])
        v_in: dict[int, list[int]] = {}
        head = _HeadLines(self, text, first, index, n_vert, n_part)
        for line_match in _NON_P.finditer(text, eol):
            head.add(line_match, v_in)
        bad = _BAD_P.search(text, eol)
        if bad is not None:
            line = text[bad.start() + 1 : text.find(b"\n", bad.start() + 1)]
            where = first + text.count(b"\n", 0, bad.start() + 1)
            raise self._damaged(
                f"not a valid HepMC3 particle line ({_particle_problem(line)}): {_show(line)!r}",
                where,
                index,
            )
        pairs = _ID_PARENT.findall(text, eol)
        ids_parents = np.array(pairs).astype(np.int64) if pairs else np.zeros((0, 2), np.int64)
        event = HepMCEvent(
            text=text,
            index=index,
            line=first,
            number=number,
            parents=ids_parents[:, 1].copy(),
            vertex_in=v_in,
            n_weights=max(head.n_weights, 0),
            cross_section=head.cross_section,
        )
        self._check_particles(event, ids_parents[:, 0], n_vert, n_part)
        names, n_weights = self.header.weight_names, max(head.n_weights, 0)
        if names and head.n_weights != len(names):
            got = "no W line" if head.n_weights < 0 else f"{head.n_weights} weights"
            raise self._damaged(
                f"{got} in the event, while the run names {len(names)} weights", first, index
            )
        if self.n_weights is None:
            self.n_weights = n_weights
        elif n_weights != self.n_weights:
            raise self._damaged(
                f"{n_weights} weights in the event, {self.n_weights} in the events before it "
                "(and the run names none)",
                first,
                index,
            )
        self.line_no += text.count(b"\n")
        self.n_events += 1
        return event

    def _check_particles(
        self, event: HepMCEvent, ids: np.ndarray, n_vert: int, n_part: int
    ) -> None:
        """Ids 1..n in order, parents in range, and the declared counts."""
        index, parents = event.index, event.parents
        wrong = np.flatnonzero(ids != np.arange(1, len(ids) + 1))
        if len(wrong):
            k = int(wrong[0])
            raise self._damaged(
                f"particle {ids[k]} where particle {k + 1} comes next (deleted, duplicated or "
                "reordered lines)",
                event.particle_line(k),
                index,
            )
        if len(ids) != n_part:
            raise self._damaged(
                f"the event declares {n_part} particles and has {len(ids)} particle lines",
                event.line,
                index,
            )
        bad = np.flatnonzero((parents > n_part) | (parents == ids) | (parents < -n_vert))
        if len(bad):
            k = int(bad[0])
            raise self._damaged(
                f"particle {k + 1} comes from {parents[k]}, neither another of the event's "
                f"{n_part} particles nor one of its {n_vert} vertices",
                event.particle_line(k),
                index,
            )
        from_vertex = set(parents[parents < 0].tolist())
        missing = sorted(from_vertex - set(event.vertex_in))
        if missing:
            k = int(np.flatnonzero(parents == missing[-1])[0])
            raise self._damaged(
                f"particle {k + 1} comes from vertex {missing[-1]}, which has no V line",
                event.particle_line(k),
                index,
            )
        parent_ids = np.unique(parents[parents > 0])
        incoming = Counter([p for v in event.vertex_in.values() for p in v])
        incoming.update(parent_ids.tolist())
        twice = sorted(p for p, n in incoming.items() if n > 1)
        if twice:
            raise self._damaged(f"particle {twice[0]} goes into two vertices", event.line, index)
        explicit = set(event.vertex_in)
        implicit = len(parent_ids)
        if len(explicit) + implicit != n_vert:
            raise self._damaged(
                f"the event declares {n_vert} vertices and its lines make "
                f"{len(explicit) + implicit}",
                event.line,
                index,
            )


class _HeadLines:
    """The lines of one event other than its particles, checked in order."""

    def __init__(
        self, scanner: HepMCScanner, text: bytes, first: int, index: int, n_vert: int, n_part: int
    ) -> None:
        self.scanner, self.text, self.first, self.index = scanner, text, first, index
        self.n_vert, self.n_part = n_vert, n_part
        self.body_at = text.find(b"\nP ")  # particles (and vertices) start here
        if self.body_at < 0:
            self.body_at = len(text)
        self.units = False
        self.n_weights = -1
        self.cross_section: tuple[float, float] | None = None
        self._at = 0

    def add(self, m: re.Match[bytes], v_in: dict[int, list[int]]) -> None:
        line = m.group(1)
        if not line.strip():
            return
        sc, kind, at = self.scanner, line[:1], m.start()
        self._at = at
        body = at > self.body_at
        if kind == b"V" and (mv := _V.fullmatch(line)):
            self._vertex(mv, v_in)
            self.body_at = min(self.body_at, at)
        elif kind == b"U" and not self.units and _U.fullmatch(line):
            self.units = True
        elif kind == b"W" and self.n_weights < 0:
            mw = _W.fullmatch(line)
            if mw is None:
                raise sc._damaged(
                    f"not a valid weight line: {_show(line)!r}", self.line_no(), self.index
                )
            self.n_weights = len(mw.group(1).split())
        elif kind == b"A" and not body and (ma := _A_EVENT.fullmatch(line)):
            if _lone_backslash(line):
                raise sc._damaged(
                    f"an attribute ending in a lone backslash: {_show(line)!r}",
                    self.line_no(),
                    self.index,
                )
            if ma.group(2) == b"GenCrossSection":
                self.cross_section = self._cross_section(ma.group(3))
        elif kind in (b"T", b"W", b"A") and _TEXT.fullmatch(line):
            raise sc._fail(
                f"run information ({_show(line)!r}) inside event {self.index}",
                "latentsym reads one run per HepMC3 file: split the file where the new run "
                "starts, or re-generate it if it is damaged",
                self.line_no(),
            )
        else:
            raise sc._damaged(
                f"not a valid HepMC3 line: {_show(line)!r}", self.line_no(), self.index
            )

    def line_no(self) -> int:
        """The line number of the line being checked (counted only for a message)."""
        return self.first + self.text.count(b"\n", 0, self._at + 1)

    def _vertex(self, m: re.Match[bytes], v_in: dict[int, list[int]]) -> None:
        vid = int(m.group(1))
        if vid < -self.n_vert or vid in v_in:
            why = "appears twice; " if vid in v_in else "is out of range:"
            raise self.scanner._damaged(
                f"vertex {vid} {why} the event declares {self.n_vert} vertices",
                self.line_no(),
                self.index,
            )
        incoming = [int(x) for x in m.group(2).split(b",") if x]
        if any(p < 1 or p > self.n_part for p in incoming):
            raise self.scanner._damaged(
                f"vertex {vid} names a particle outside 1..{self.n_part}",
                self.line_no(),
                self.index,
            )
        v_in[vid] = incoming

    def _cross_section(self, value: bytes) -> tuple[float, float] | None:
        """``(value, error)`` in pb, None when the generator wrote NaN or inf."""
        m = _XSEC.fullmatch(value.rstrip(b" "))
        if m is None:
            raise self.scanner._damaged(
                f"a GenCrossSection that is not numbers: {_show(value)!r}",
                self.line_no(),
                self.index,
            )
        x, err = (float(g.split(b"(")[0]) for g in m.groups())
        return (x, err) if np.isfinite(x) and np.isfinite(err) else None
