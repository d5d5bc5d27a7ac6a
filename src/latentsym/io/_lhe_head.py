"""The head of an LHE file (everything up to ``</init>``): checked, and rewritten for pylhe.

The standard allows XML comments and blank lines where pylhe does not take them (a comment
between ``</header>`` and ``<init>``, a blank line in ``<init>`` or in an event), so pylhe
reads the file through :class:`PylheSource`: the head rebuilt from its parts (the root tag,
the ``<header>`` element as it is, the ``<init>`` block in its plain form), then the events
without comments and blank lines. The ``<init>`` block is checked here: the beam line of 10
numbers (IDBMUP1 IDBMUP2 EBMUP1 EBMUP2 PDFGUP1 PDFGUP2 PDFSUP1 PDFSUP2 IDWTUP NPRUP), NPRUP
process lines of 4 (XSECUP XERRUP XMAXUP LPRUP), plain ASCII numbers, finite, integers
where the standard has integers. A file with no process line at all is taken only from
GiBUU, which writes its NPRUP without them (the cross-section is then unknown).
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

from latentsym.io._lhe_text import (
    BLOCK_BYTES,
    COMMENT,
    PLAIN_NUMBER,
    TRUNCATED,
    Damaged,
    Input,
)

__all__ = ["Head", "PylheSource", "read_head"]

_ROOT = re.compile(rb"<LesHouchesEvents[\s>]")
_XML_DECLARATION = re.compile(rb"\s*(<\?xml[^>]*\?>)")
_HEADER = re.compile(rb"<header[\s>]")
_INIT = re.compile(rb"<init[\s>]")
_SPACE = re.compile(rb"[^<]*")
_BLANK_LINES = re.compile(rb"\n[ \t\r]*(?=\n)")  # (a literal first: fast to search)
_FREE_TEXT = re.compile(rb"\n([ \t]*)(?=[^\s0-9+\-.#<])")  # a line not like a number
_INIT_LAYOUT = (
    "An LHE file needs <LesHouchesEvents>, an optional <header>, then <init> with the beam "
    "line (IDBMUP1 IDBMUP2 EBMUP1 EBMUP2 PDFGUP1 PDFGUP2 PDFSUP1 PDFSUP2 IDWTUP NPRUP) and "
    "one line per process (XSECUP XERRUP XMAXUP LPRUP) before the first <event>"
)
_BEAM_INTS = (0, 1, 4, 5, 6, 7, 8, 9)
_BEAM_NAMES = ("IDBMUP1", "IDBMUP2", "EBMUP1", "EBMUP2", "PDFGUP1", "PDFGUP2", "PDFSUP1",
               "PDFSUP2", "IDWTUP", "NPRUP")  # fmt: skip
_PROCESS_NAMES = ("XSECUP", "XERRUP", "XMAXUP", "LPRUP")


@dataclass(frozen=True)
class Head:
    """The head of an LHE file.

    ``end``: offset in the decompressed text just after ``</init>``; ``line``: the line
    number there (1-based); ``pylhe``: the head as pylhe reads it.
    """

    end: int
    line: int
    pylhe: bytes


class _Text:
    """The decompressed text from the start of a file, read on demand."""

    def __init__(self, path: Path) -> None:
        self.source = Input(path)
        self.buf = b""
        self.size = 1 << 16  # most heads are short: start small, then double

    def more(self) -> bool:
        """Read on; False at the end of the file."""
        data = self.source.read(self.size)
        self.size = min(2 * self.size, BLOCK_BYTES)
        self.buf += data
        return bool(data)

    def need(self, what: str) -> None:
        if not self.more():
            raise Damaged(f"the file ends inside {what}", fix=f"{TRUNCATED} {_INIT_LAYOUT}.")

    def find(self, needle: bytes, start: int, what: str) -> int:
        while (pos := self.buf.find(needle, start)) < 0:
            self.need(what)
        return pos

    def line(self, pos: int) -> tuple[int, str]:
        start = self.buf.rfind(b"\n", 0, pos) + 1
        end = self.buf.find(b"\n", pos)
        text = self.buf[start : len(self.buf) if end < 0 else end]
        return self.buf.count(b"\n", 0, start) + 1, text.decode("utf-8", "replace").strip()[:120]


def read_head(path: Path) -> Head:
    """Read and check the head of ``path`` up to ``</init>``.

    Raises:
        Damaged: no root tag or ``<init>`` block, unexpected elements before ``<init>``, a
            malformed ``<init>`` block (names the line), a corrupt gzip stream.
    """
    text = _Text(path)
    try:
        while (root := _ROOT.search(text.buf)) is None:
            text.need("the <LesHouchesEvents> tag")
        pos = text.find(b">", root.start(), "the <LesHouchesEvents> tag") + 1
        parts = [text.buf[root.start() : pos]]
        declaration = _XML_DECLARATION.match(text.buf)
        if declaration is not None and declaration.end() <= root.start():
            parts.insert(0, declaration.group(1))
        header = False
        while True:
            while (pos := _SPACE.match(text.buf, pos).end()) == len(text.buf):  # type: ignore[union-attr]
                text.need("the head, before <init>")
            while len(text.buf) < pos + 10 and text.more():
                pass
            if text.buf.startswith(b"<!--", pos):
                pos = text.find(b"-->", pos + 4, "an XML comment") + 3
            elif _HEADER.match(text.buf, pos) and not header:
                header = True
                end = text.find(b"</header>", pos, "the <header> block") + len(b"</header>")
                parts.append(text.buf[pos:end])
                pos = end
            elif _INIT.match(text.buf, pos):
                end = text.find(b"</init>", pos, "the <init> block") + len(b"</init>")
                parts.append(_plain_init(text, pos, end))
                break
            else:
                number, shown = text.line(pos)
                raise Damaged(
                    "No <init> block found before this line (only comments and one <header> "
                    "may come before <init>)",
                    line=number,
                    text=shown,
                    fix=f"{_INIT_LAYOUT}.",
                )
    finally:
        text.source.close()
    return Head(end=end, line=text.buf.count(b"\n", 0, end) + 1, pylhe=b"\n".join(parts) + b"\n")


def _plain_init(text: _Text, start: int, end: int) -> bytes:
    """The ``<init>`` block at ``text.buf[start:end]`` checked, in the plain form pylhe reads."""
    block = text.buf[start:end]
    open_end = block.find(b">") + 1
    inner = COMMENT.sub(
        lambda m: b"\n" * m.group().count(b"\n"), block[open_end : -len(b"</init>")]
    )
    child = inner.find(b"<")
    body, children = (inner, b"") if child < 0 else (inner[:child], inner[child:])
    first_line = text.buf.count(b"\n", 0, start + open_end) + 1
    lines = [
        (first_line + i, line.strip())
        for i, line in enumerate(body.split(b"\n"))
        if line.strip() and not line.strip().startswith(b"#")
    ]
    if not lines:
        number, shown = text.line(start)
        raise Damaged("the <init> block has no beam line", line=number, text=shown,
                      fix=f"{_INIT_LAYOUT}.")  # fmt: skip
    beam = _numbers(lines[0], _BEAM_NAMES, _BEAM_INTS)
    processes = [_numbers(line, _PROCESS_NAMES, (3,)) for line in lines[1:]]
    nprup = int(beam[9])
    if nprup != len(processes) and not (not processes and b"GiBUU" in text.buf[:start]):
        number, beam_line = lines[0]
        raise Damaged(
            f"the <init> block declares NPRUP = {nprup} processes but has {len(processes)} "
            "process lines",
            line=number,
            text=beam_line.decode("utf-8", "replace"),
            fix="Restore the missing process lines (XSECUP XERRUP XMAXUP LPRUP), or set NPRUP to "
            "the number of process lines.",
        )
    plain = [block[:open_end], lines[0][1]] + [line for _, line in lines[1:]]
    return b"\n".join(plain) + b"\n" + COMMENT.sub(b"", children) + b"</init>"


def _numbers(line: tuple[int, bytes], names: tuple[str, ...], ints: tuple[int, ...]) -> list[float]:
    """The numbers of one ``<init>`` line: plain, finite, whole where ``ints`` says."""
    number, text = line
    shown = text.decode("utf-8", "replace")[:120]
    tokens = text.split()

    def fail(what: str) -> Damaged:
        return Damaged(f"{what} in the <init> block", line=number, text=shown,
                       fix=f"{_INIT_LAYOUT}.")  # fmt: skip

    kind = "beam line" if len(names) == 10 else "process line"
    if len(tokens) != len(names):
        raise fail(f"a {kind} with {len(tokens)} numbers instead of {len(names)}")
    values = []
    for i, token in enumerate(tokens):
        if not PLAIN_NUMBER.fullmatch(token):
            raise fail(f"{names[i]} is {token.decode('utf-8', 'replace')!r}, not a plain number")
        value = float(token)
        if not math.isfinite(value) or (
            i in ints and (not value.is_integer() or abs(value) >= 2**31)
        ):
            what = "not a whole number below 2^31 in size" if i in ints else "not finite"
            raise fail(f"{names[i]} is {token.decode()}, {what}")
        values.append(value)
    if len(names) == 10 and values[9] < 0:
        raise fail(f"NPRUP is {tokens[9].decode()}, a negative number of processes")
    if len(names) == 10 and min(values[2:4]) < 0:
        raise fail(f"a negative beam energy (EBMUP1 EBMUP2 = {values[2]:g} {values[3]:g} GeV)")
    return values


class PylheSource(io.RawIOBase):
    """The text of an LHE file as pylhe should see it: the rebuilt head, then the events
    without XML comments and blank lines (which carry nothing pylhe reads), free text after
    the particle lines as ``#`` lines."""

    def __init__(self, path: Path, head: Head) -> None:
        super().__init__()
        self._path, self._head = path, head
        self._pending, self._at = head.pylhe, 0
        self._input: Input | None = None
        self._carry = b""
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        """Hand out the next bytes (reads the file only once the head is gone)."""
        if self._at == len(self._pending) and not self._eof:
            self._pending, self._at = self._next(), 0
        n = min(len(buffer), len(self._pending) - self._at)
        buffer[:n] = self._pending[self._at : self._at + n]
        self._at += n
        return n

    def _next(self) -> bytes:
        if self._input is None:
            self._input = Input(self._path)
            self._input.skip(self._head.end)
        while True:
            try:
                more = self._input.read(BLOCK_BYTES // 8)  # small: pylhe's memory stays low
            except Damaged as exc:  # pylhe's reader reports gzip damage as OSError
                raise OSError(exc.what) from exc
            data = self._carry + more
            if not more:
                self._eof, self._carry = True, b""
                return _plain_events(data)
            cut = data.rfind(b"\n") + 1
            opened = data.rfind(b"<!--", 0, cut)
            if opened >= 0 and data.find(b"-->", opened) < 0:
                cut = opened  # a comment that goes on in the next block
            self._carry = data[cut:]
            if cut:
                return _plain_events(data[:cut])

    def close(self) -> None:
        """Close the file."""
        if self._input is not None:
            self._input.close()
            self._input = None
        super().close()


def _plain_events(text: bytes) -> bytes:
    """Events as pylhe takes them: no comments, no blank lines, and free text after the
    particle lines (which the numpy reader's checks allow there only) as ``#`` lines."""
    if b"<!--" in text:
        text = COMMENT.sub(b"", text)
    text = _BLANK_LINES.sub(b"", b"\n" + text)
    return _FREE_TEXT.sub(rb"\n\1#", text)[1:]
