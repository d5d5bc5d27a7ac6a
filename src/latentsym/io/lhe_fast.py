"""A numpy parser for the ``<event>`` blocks of LHE files, and the checks every read passes.

pylhe parses every event through ``xml.etree`` and builds one Python object per
particle; at 10^6 events that takes minutes. This module reads the decompressed bytes in
blocks of whole events and parses all numbers of a block in one call, with the layout
(which token belongs to which event, line and column) worked out by vectorised index
arithmetic. It returns the same columns as the pylhe route of :mod:`latentsym.io.lhe`
(tested field by field on every LHE file of the test data). The text of the events is
split into lines and numbers in one pass by a small C scanner (``_lhe_scan.c``, built at
install by ``hatch_build.py``; numbers correctly rounded, bit for bit what Python's
``float`` gives), which writes the particle columns straight into column-major arrays;
where it is not built, numpy index arithmetic and Arrow's string-to-double cast do the
same (tested equal on every file and on seeded mutations of them, messages included).
When cores are free, a pool of threads parses the blocks while the next ones are read and
decompressed (the scanner, numpy, Arrow and ISA-L release the GIL), with the same results
and messages as a serial read (tested so).

It is also the judge of what a well-formed event is, on every route: a damaged file raises
:class:`Damaged` (which the reader turns into an
:class:`~latentsym.errors.EventFileError` naming the file, the event and the line), and
the pylhe route runs the same scan in ``check`` mode before pylhe reads the events. The
rules (the LHE standard, hep-ph/0609017 and arXiv:1405.1067):

- an event is ``<event ...>`` ... ``</event>``; between events only whitespace, XML
  comments and ``<eventgroup>`` tags; the file ends with ``</LesHouchesEvents>`` (a file
  without it is truncated, and refused once the read reaches its end);
- the text of an event (up to its first child element) is the information line of 6
  numbers (NUP IDPRUP XWGTUP SCALUP AQEDUP AQCDUP), then exactly NUP particle lines of 13
  numbers; ``#`` lines may stand anywhere after the information line, blank lines and XML
  comments anywhere; after the last particle line any text that does not start like a
  number (a digit, sign or point) is optional information; after the first child element
  (``<rwgt>``, ``<mgrwt>``, ...) only elements, whitespace and ``#`` lines, and every
  ``<`` is closed by a ``>`` before the next one (a deleted run of the file that joins two
  events is found so);
- numbers are plain ASCII decimals (``[+-]digits[.digits][(e|E)[+-]digits]``): no
  non-ASCII digits, ``_`` separators, Fortran ``D`` exponents or hexadecimal (``nan`` and
  ``inf`` parse, and are refused as values); integer columns (NUP IDPRUP IDUP ISTUP
  MOTHUP ICOLUP) hold whole numbers below 2^31 in size; every float is finite, and
  momenta and weights fit in float32 (the features are float32).

Valid files it does not cover raise :class:`Unsupported` and are read by pylhe:
``<weights>`` blocks (weights by position), CDATA sections inside events, ``<wgt>`` tags
with other attributes than ``id``.
"""

from __future__ import annotations

import os
import re
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

try:  # the C scanner (hatch_build.py builds it at install)
    from latentsym.io._lhe_scan import check_tags, count, find, same_weights, scan
except ImportError:  # not built (no C compiler at install): numpy and Arrow do the same
    HAVE_C_SCANNER = False
else:
    HAVE_C_SCANNER = True

from latentsym.io._lhe_text import (
    BLOCK_BYTES,
    COMMENT,
    FLOAT32_MAX,
    INT_LIMIT,
    LAYOUT,
    PLAIN_NUMBER,
    TRUNCATED,
    BadValue,
    Damaged,
    Input,
    Unsupported,
    below,
    first_bad_value,
)

__all__ = [
    "FLOAT32_MAX",
    "BadValue",
    "Block",
    "Damaged",
    "Unsupported",
    "first_bad_value",
    "iterate_blocks",
    "split_block",
]

_BLOCK_BYTES = BLOCK_BYTES  # tests shrink it to cut files into many blocks
_WGT = re.compile(rb"<wgt\s+id\s*=\s*(['\"])(.*?)\1\s*>([^<]*)</wgt\s*>")
_WEIGHTS = re.compile(rb"<weights(?:\s[^>]*)?>([^<]*)</weights\s*>")
_GAP = re.compile(rb"(?:\s|<eventgroup(?:\s[^>]*)?>|</eventgroup\s*>)*")
_HASH, _LT, _NL = ord("#"), ord("<"), ord("\n")
_NUMBER_START = np.zeros(256, dtype=bool)
_NUMBER_START[list(b"0123456789+-.")] = True
_FIX = f"{LAYOUT}. Fix or remove that event."
_SOLID = re.compile(rb"[^\x00-\x20]+")  # a token: a run of bytes above 32
_EMPTY = np.empty(0, dtype=np.float64)
# the kinds of line of the scanners (the values the C scanner writes)
_LEAD, _PARTICLE, _COMMENT, _FREE, _LEAD_COMMENT = 0, 1, 2, 3, 4
USE_C_SCANNER = True
"""Whether the C scanner parses the event text where it is built (tests compare the two)."""


def _c_scanner() -> bool:
    """Whether the C scanner does the work (built, and not switched off by the tests)."""
    return HAVE_C_SCANNER and USE_C_SCANNER


_MAX_WORKERS = 4
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


class Block(NamedTuple):
    """The columns of a run of events (the layout of ``lhe._Chunk.blocks``).

    ``counts`` [n] particles per event; ``floats`` [P, 7] px py pz E m lifetime spin;
    ``ints`` [P, 6] id status mother1 mother2 color1 color2; ``event`` [n, 5] IDPRUP
    XWGTUP SCALUP AQEDUP AQCDUP; ``weights`` [n, W] named weights in ``names`` order.
    """

    counts: np.ndarray
    floats: np.ndarray
    ints: np.ndarray
    event: np.ndarray
    weights: np.ndarray

    def __len__(self) -> int:
        return len(self.counts)


def split_block(block: Block, n: int) -> tuple[Block, Block]:
    """The first ``n`` events of ``block`` and the rest."""
    p = int(block.counts[:n].sum())
    head = Block(block.counts[:n], block.floats[:p], block.ints[:p], block.event[:n],
                 block.weights[:n])  # fmt: skip
    tail = Block(block.counts[n:], block.floats[p:], block.ints[p:], block.event[n:],
                 block.weights[n:])  # fmt: skip
    return head, tail


def iterate_blocks(
    path: Path,
    names: list[str] | None,
    rank: dict[str, int],
    limit: int | None = None,
    *,
    start: int = 0,
    line: int = 1,
    check: bool = False,
) -> Iterator[tuple[Block, list[str]]]:
    """Parse the events of ``path`` block by block (about 1 MB of text at a time).

    Args:
        path: a plain or gzip LHE file.
        names: the weight ids to expect (``None``: take them from the first event).
        rank: position of each weight id in ``<initrwgt>`` (orders the first event's ids).
        limit: stop after this many events.
        start: offset in the decompressed text just after ``</init>``, where events begin.
        line: the line number at ``start`` (1-based), for the messages.
        check: only check the events (every rule of the module docstring), for the pylhe
            route: ``<weights>`` blocks are checked as numbers, named weights not returned.

    Yields:
        ``(block, names)``: the columns of the next events and the weight ids.

    Raises:
        Damaged: the file breaks a rule (names the event and the line).
        Unsupported: the file needs the pylhe route (the message says why).
    """
    source = Input(path)
    size = _BLOCK_BYTES // 8 if check else _BLOCK_BYTES  # check: beside pylhe, small memory
    try:
        source.skip(start)
        workers = 1 if limit is not None or check else _workers()
        if workers > 1:
            yield from _parallel(source, names, rank, line, size, workers)
            return
        buf = b""
        eof = False
        while not eof and (limit is None or source.events < limit):
            more = source.read(size)
            eof = not more
            buf += more
            cut = _after_last_event(buf)
            if cut < 0:
                if eof:
                    break
                continue
            if limit is not None:
                cut = _after_event(buf, cut, limit - source.events)
            where = _Where(buf, line, source.events)
            block, names, lines = _parse(buf[:cut], names, rank, where, check)
            line += lines
            buf = buf[cut:]
            if limit is not None and source.events + len(block) > limit:
                block = split_block(block, limit - source.events)[0]
            source.events += len(block)
            if len(block):
                yield block, names
        if limit is None or source.events < limit:
            tail = buf + source.read(-1)
            _check_tail(tail, _Where(tail, line, source.events))
    finally:
        source.close()


def _cores() -> int:
    """The cores this process may use, at most ``_MAX_WORKERS``."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, _MAX_WORKERS))


def _workers() -> int:
    """How many threads parse blocks at once: :func:`_cores`, or 1 when other work keeps
    the cores busy (a load average above the cores less one half): threads beside busy
    cores cost more than they gain (15-24 % slower, measured on 2 cores at load 5)."""
    cores = _cores()
    try:
        busy = os.getloadavg()[0] > cores - 0.5
    except OSError:  # no load average to be had
        busy = False
    return 1 if busy else cores


def _pool() -> ThreadPoolExecutor:
    """The threads that parse blocks, shared by all reads (started on first use)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(_cores(), thread_name_prefix="latentsym-lhe")
        return _POOL


def _forget_pool() -> None:
    """In a forked child: the parent's threads are not there, start new ones when needed."""
    global _POOL, _POOL_LOCK
    _POOL, _POOL_LOCK = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _parallel(
    source: Input,
    names: list[str] | None,
    rank: dict[str, int],
    line: int,
    size: int,
    workers: int,
) -> Iterator[tuple[Block, list[str]]]:
    """:func:`iterate_blocks` with the blocks parsed by a pool of threads (numpy and Arrow
    release the GIL), the next blocks read and decompressed meanwhile.

    The results are taken in file order. A block whose parse fails, or whose first event
    named other weights than the file's first event, is parsed again here with the place
    in the file it has in a serial read (the event count before it, the weight ids of the
    file), so that the result and every message are those of the serial read.
    """
    pool = _pool()
    ahead = 2 * workers  # blocks in flight: enough to keep the threads busy
    pending: deque[tuple[Future[tuple[Block, list[str], int]], bytes, bytes, int, bool]]
    pending = deque()
    buf, eof = b"", False
    failed: Damaged | None = None
    try:
        while True:
            while failed is None and not eof and len(pending) < ahead:
                try:
                    more = source.read(size)
                except Damaged as damage:
                    failed = damage  # raised after the events before it, as a serial read
                    break
                eof = not more
                buf += more
                cut = _after_last_event(buf)
                if cut < 0:
                    continue
                piece, buf = buf[:cut], buf[cut:]
                job = pool.submit(_parse, piece, names, rank, _Where(piece, line, 0), False)
                pending.append((job, piece, buf, line, names is None))
                line += _count_byte(piece, _NL)
            if not pending:
                break
            job, piece, rest, at, guessed = pending.popleft()
            try:
                block, found, _ = job.result()
                redo = guessed and names is not None and found != names
            except (Damaged, Unsupported):
                redo = True
            if redo:  # the messages quote the text as a serial read has it (the rest too)
                where = _Where(piece + rest, at, source.events)
                block, found, _ = _parse(piece, names, rank, where, False)
            names = found
            source.events += len(block)
            if len(block):
                yield block, names
        if failed is not None:
            cause = failed.__cause__ if failed.__cause__ is not None else failed
            raise source.broken(cause) from cause
        tail = buf + source.read(-1)
        _check_tail(tail, _Where(tail, line, source.events))
    finally:
        for job, *_ in pending:
            job.cancel()


def _after_last_event(buf: bytes) -> int:
    """Position just after the last complete ``</event...>`` tag in ``buf``, or -1.

    A block may end inside a closing tag (at ``</eve`` or ``</event``): that event is
    left for the next block.
    """
    end = len(buf)
    while (start := buf.rfind(b"</event", 0, end)) >= 0:
        close = buf.find(b">", start)
        if close >= 0:
            return close + 1
        end = start
    return -1


def _after_event(buf: bytes, cut: int, k: int) -> int:
    """Position after the ``k``-th ``</event>`` of ``buf[:cut]`` (``cut`` if fewer)."""
    if buf.count(b"</event", 0, cut) <= k:
        return cut
    pos = 0
    for _ in range(k):
        pos = buf.find(b">", buf.find(b"</event", pos)) + 1
    return pos


class _Where:
    """Line numbers and line text of positions in a block, for the messages only."""

    def __init__(self, buf: bytes, line: int, event: int) -> None:
        self.buf, self.line, self.event = buf, line, event

    def at(self, pos: int) -> tuple[int, str]:
        start = self.buf.rfind(b"\n", 0, max(pos, 0)) + 1
        end = self.buf.find(b"\n", pos)
        text = self.buf[start : len(self.buf) if end < 0 else end]
        number = self.line + self.buf.count(b"\n", 0, start)
        return number, text.decode("utf-8", "replace").strip()[:120]

    def damaged(
        self,
        what: str,
        pos: int,
        event: int | None,
        *,
        particle: int | None = None,
        fix: str = _FIX,
        schema: bool = False,
    ) -> Damaged:
        number, text = self.at(int(pos))
        return Damaged(
            what,
            event=None if event is None else self.event + int(event),
            particle=particle,
            line=number,
            text=text,
            fix=fix,
            schema=schema,
        )


def _check_tail(tail: bytes, where: _Where) -> None:
    """The text after the last complete event: whitespace up to ``</LesHouchesEvents>``."""
    end = tail.find(b"</LesHouchesEvents")
    body = COMMENT.sub(lambda m: b" " * len(m.group()), tail if end < 0 else tail[:end])
    n = where.event
    done = f"events 0 to {n - 1} are complete" if n else "no event is complete"
    opened = re.search(rb"<event[\s>]", body)
    if opened is not None:
        if end < 0:
            last, text = where.at(len(tail) - 1)
            raise Damaged(
                f"the file is cut off inside event {n} (it ends at line {last}: {text!r}; {done})",
                fix=TRUNCATED,
            )
        raise where.damaged(
            f"the event is not closed: no </event> before </LesHouchesEvents> ({done})",
            opened.start(),
            0,
        )
    if end < 0:
        last, _ = where.at(len(tail) - 1)
        raise Damaged(
            f"the file ends at line {last} without the closing </LesHouchesEvents> tag ({done}; "
            "an event may be missing)",
            fix=TRUNCATED,
        )
    gap = _GAP.match(body)
    if gap is not None and gap.end() != len(body):
        raise where.damaged(
            f"text after the last event (event {n - 1}) that belongs to no event",
            gap.end(),
            None,
            fix="Remove the text or restore the event it came from.",
        )


def _parse(
    buf: bytes, names: list[str] | None, rank: dict[str, int], where: _Where, check: bool
) -> tuple[Block, list[str], int]:
    """Parse every ``<event>`` of ``buf`` (which holds whole events only); also return
    the number of line breaks in ``buf``."""
    arr = np.frombuffer(buf, dtype=np.uint8)
    lt = _where_byte(arr, _LT)
    bang = lt[arr[np.minimum(lt + 1, len(arr) - 1)] == ord("!")]
    if bang.size:
        arr = _blank_comments(buf, arr, bang)
        lt = _where_byte(arr, _LT)
    tags = _Tags(arr, lt)
    starts = lt[tags.at(b"<event")]
    closes = lt[tags.at(b"</event")]
    n = len(starts)
    _check_nesting(starts, closes, where)
    body = _tag_end(buf, arr, lt, starts, len(b"<event>"), where)
    after = _tag_end(buf, arr, lt, closes, len(b"</event>"), where)
    _check_gaps(arr, np.append(0, after[:-1]), starts, where)
    tag_close = _check_tags(arr, lt, body, closes, where)
    data = buf if not bang.size else arr.tobytes()  # comments blanked
    if not check and tags.prefix(b"<weights").any():  # (as ``b"<weights" in data``)
        raise Unsupported("<weights> blocks (weights by position)")
    text_end = lt[np.searchsorted(lt, body)]  # the first child element or </event>

    lines = _scan(arr, body, text_end, _count_byte(arr, _NL))
    line_start, line_len, line_event, kind = lines.start, lines.length, lines.event, lines.kind
    lead = (kind == _LEAD) | (kind == _LEAD_COMMENT)
    if not np.array_equal(line_event[lead], np.arange(n)):
        k = int(np.flatnonzero(~np.isin(np.arange(n), line_event[lead]))[0])
        raise where.damaged("the event has no information line (its text is empty)",
                            starts[k], k)  # fmt: skip
    if np.any(kind == _LEAD_COMMENT):
        k = int(np.flatnonzero(kind == _LEAD_COMMENT)[0])
        raise where.damaged("the first line of the event is a comment, not the information "
                            "line", line_start[k], line_event[k])  # fmt: skip
    particle = kind == _PARTICLE
    free = kind == _FREE
    if free.any():
        _check_free_text(free, particle, line_event, line_start, n, where)
    bad = np.flatnonzero((lead & (line_len != 6)) | (particle & (line_len != 13)))
    if bad.size:
        k = int(bad[0])
        size = int(line_len[k])
        what = (
            f"an information line with {size} entries instead of 6"
            if lead[k]
            else f"a particle line with {size} numbers instead of 13 "
            f"(too {'few' if size < 13 else 'many'} columns)"
        )
        raise where.damaged(what, line_start[k], line_event[k])

    numbers = lines.numbers()
    if numbers.bad >= 0:
        ev = int(np.searchsorted(body, numbers.bad, side="right") - 1)
        token_end = _SOLID.match(buf, numbers.bad, int(text_end[ev])).end()  # type: ignore[union-attr]
        token = buf[numbers.bad : token_end].decode("utf-8", "replace")
        raise where.damaged(f"{token!r} is not a plain decimal number", numbers.bad, ev)
    info = numbers.info
    counts = np.bincount(line_event[particle], minlength=n).astype(np.int64)
    if not np.array_equal(info[:, 0], counts):
        k = int(np.flatnonzero(info[:, 0] != counts)[0])
        nup = float(info[k, 0])
        shown = f"{int(nup)}" if nup.is_integer() else f"{nup:g}"
        raise where.damaged(
            f"declares NUP = {shown} particles but has {counts[k]} particle lines",
            line_start[lead][k],
            k,
        )
    fast = None
    if not check and tag_close is not None:
        fast = _same_weights(data, arr, tags, lt, tag_close, body, names, rank)
    if fast is None:
        weights, names = _weights(data, tags, lt, body, names, rank, where, check)
    else:
        weights, names = fast
    if not numbers.checked:  # (the C scanner's values are all fine, or numpy parses again)
        numbers = _TokenLines(arr, body, text_end).numbers()
    problem = None
    if not (numbers.checked and below(weights, FLOAT32_MAX, inclusive=True)):
        problem = first_bad_value(counts, numbers.floats, numbers.whole, info[:, 1:6], weights,
                                  names)  # fmt: skip
    if problem is not None:
        if problem.particle is None:
            pos = line_start[lead][problem.event]
        else:
            pos = line_start[particle][int(counts[: problem.event].sum()) + problem.particle]
        raise where.damaged(
            problem.what,
            pos,
            problem.event,
            particle=problem.particle,
            fix="" if problem.schema else _FIX,
            schema=problem.schema,
        )
    block = Block(
        counts=counts,
        floats=numbers.floats,
        ints=numbers.ints,
        event=info[:, 1:6],
        weights=weights,
    )
    return block, names, lines.breaks


def _blank_comments(buf: bytes, arr: np.ndarray, bang: np.ndarray) -> np.ndarray:
    """``arr`` with every XML comment turned into spaces (line breaks kept)."""
    out = arr.copy()
    done = 0
    for pos in bang.tolist():
        if pos < done:
            continue  # inside the previous comment
        if not buf.startswith(b"<!--", pos):
            kind = "a CDATA section" if buf.startswith(b"<![CDATA[", pos) else "a <!...> tag"
            raise Unsupported(f"{kind} among the events")
        end = buf.find(b"-->", pos + 4)
        if end < 0:
            raise Unsupported("an XML comment that holds an </event> tag")
        done = end + 3
        seg = out[pos:done]
        seg[seg != _NL] = 32
    return out


def _check_nesting(starts: np.ndarray, closes: np.ndarray, where: _Where) -> None:
    """``<event>`` and ``</event>`` tags alternate, starting with an ``<event>``."""
    n, m = len(starts), len(closes)
    if n == m and np.all(starts < closes) and np.all(starts[1:] > closes[:-1]):
        return
    pos = np.concatenate([starts, closes])
    opens = np.concatenate([np.ones(n, dtype=bool), np.zeros(m, dtype=bool)])
    order = np.argsort(pos, kind="stable")
    pos, opens = pos[order], opens[order]
    expected = np.arange(len(pos)) % 2 == 0
    wrong = np.flatnonzero(opens != expected)
    if not wrong.size:  # the tags alternate, but the last <event> is not closed
        raise where.damaged("the event is not closed: no </event> after it", pos[-1], n - 1)
    k = int(wrong[0])
    event = int(opens[:k].sum())
    if opens[k]:
        raise where.damaged(
            "the event is not closed: the next <event> starts at this line before its </event>",
            pos[k],
            event - 1,
        )
    after = where.event + event - 1
    before = f"after event {after}" if after >= 0 else "before any event"
    raise where.damaged(
        f"an </event> tag without its <event> ({before})",
        pos[k],
        None,
    )


def _tag_end(
    buf: bytes, arr: np.ndarray, lt: np.ndarray, tags: np.ndarray, width: int, where: _Where
) -> np.ndarray:
    """Position just after the ``>`` of each tag in ``tags`` (``<event ...>``, ``</event>``),
    which are ``width`` bytes long without attributes."""
    end = tags + width
    odd = np.flatnonzero(arr[np.minimum(end, len(arr)) - 1] != ord(">"))
    for k in odd.tolist():
        close = buf.find(b">", int(tags[k]))
        following = np.searchsorted(lt, tags[k], side="right")
        limit = int(lt[following]) if following < len(lt) else len(buf)
        if close < 0 or close > limit:
            raise where.damaged("an <event> or </event> tag without its '>'", tags[k], None)
        end[k] = close + 1
    return end


def _check_tags(
    arr: np.ndarray, lt: np.ndarray, body: np.ndarray, closes: np.ndarray, where: _Where
) -> np.ndarray | None:
    """Every ``<`` opens a tag that a ``>`` closes before the next ``<``; inside an event
    as many elements close as open, and the text after a closing tag is whitespace (or
    ``#`` lines): a run of the file deleted would otherwise hide text up to the next tag,
    or leave an event's particle lines inside or after an element of the previous event,
    where no reader looks.

    Returns the position of the ``>`` that closes each tag of ``lt`` (None when the block
    has no tags but ``<event>`` and ``</event>``)."""
    if len(lt) == 2 * len(body):
        return None  # no tag but <event> and </event>, which _tag_end checks
    if _c_scanner():  # the same checks in one pass; where one fails, numpy says which
        end = np.empty(len(lt), dtype=np.int64)
        if check_tags(arr, lt, _int64(body), _int64(closes), end):
            return end
    gt = _where_byte(arr, ord(">"))
    if len(gt) == len(lt) and np.all(lt < gt) and np.all(gt[:-1] < lt[1:]):
        end, ok = gt, np.ones(len(lt), dtype=bool)  # the common case: < and > alternate
    else:
        following = np.searchsorted(gt, lt)
        end = gt[np.minimum(following, len(gt) - 1)]
        ok = following < len(gt)
        ok[:-1] &= end[:-1] < lt[1:]
    if not ok.all():
        k = int(np.flatnonzero(~ok)[0])
        raise where.damaged(
            "a tag that no '>' closes before the next tag (part of the file is missing?)",
            lt[k],
            int(np.searchsorted(body, lt[k], side="right") - 1),
        )
    event = np.searchsorted(body, lt, side="right") - 1
    inside = (event >= 0) & (lt < closes[np.maximum(event, 0)])
    second = arr[np.minimum(lt + 1, len(arr) - 1)]
    close, empty = second == ord("/"), (arr[end - 1] == ord("/")) | (second == ord("?"))
    opened = np.bincount(event[inside & ~close & ~empty], minlength=len(body))
    closed = np.bincount(event[inside & close], minlength=len(body))
    if not np.array_equal(opened, closed):
        k = int(np.flatnonzero(opened != closed)[0])
        first = int(lt[np.flatnonzero(inside & (event == k))[0]])
        raise where.damaged(
            "the elements of the event do not close as they open (an <x> without its </x>: "
            "part of the file is missing?)",
            first,
            k,
        )
    closing = close | empty
    tags = np.flatnonzero(inside & closing)  # each is followed by another tag in its event
    lo, hi = end[tags] + 1, lt[tags + 1]
    for k in _with_text(arr, lo, hi).tolist():
        text = arr[lo[k] : hi[k]].tobytes()
        lines = [line.strip() for line in text.split(b"\n")]
        if any(line and not line.startswith(b"#") for line in lines):
            skip = len(text) - len(text.lstrip())
            raise where.damaged(
                "text after a closing tag inside the event (an event's lines where no reader "
                "looks: part of the file is missing?)",
                lo[k] + skip,
                int(event[tags[k]]),
            )
    return end


def _with_text(arr: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Which spans ``[lo, hi)`` of ``arr`` may hold more than whitespace (all long ones)."""
    width = 8
    size = hi - lo
    look = np.flatnonzero((size != 1) | (arr[np.minimum(lo, len(arr) - 1)] > 32))
    if not look.size:  # the common case: one line break between tags
        return look
    lo, size = lo[look], size[look]
    idx = np.minimum(lo[:, None] + np.arange(width), len(arr) - 1)
    solid = (arr[idx] > 32) & (np.arange(width) < size[:, None])
    return look[np.flatnonzero(solid.any(axis=1) | (size > width))]


def _check_gaps(arr: np.ndarray, lo: np.ndarray, hi: np.ndarray, where: _Where) -> None:
    """Only whitespace (and ``<eventgroup>`` tags) between events."""
    for k in _with_text(arr, lo, hi).tolist():
        text = arr[lo[k] : hi[k]].tobytes()
        gap = _GAP.match(text)
        if gap is not None and gap.end() != len(text):
            before = f"between event {where.event + k - 1} and event {where.event + k}"
            raise where.damaged(
                f"text outside any event ({before if k or where.event else 'before event 0'})",
                lo[k] + gap.end(),
                None,
                fix="Remove the text or restore the event it came from.",
            )


def _check_free_text(
    free: np.ndarray,
    particle: np.ndarray,
    line_event: np.ndarray,
    line_start: np.ndarray,
    n: int,
    where: _Where,
) -> None:
    """Text lines (not ``#``, not starting like a number) only after the particle lines."""
    index = np.arange(len(free))
    last = np.full(n, -1)
    np.maximum.at(last, line_event[particle], index[particle])
    early = np.flatnonzero(free & (index < last[line_event]))
    if early.size:
        k = int(early[0])
        raise where.damaged(
            "a line that is neither a particle line (13 numbers) nor a comment (starting with "
            "'#') before the last particle line",
            line_start[k],
            line_event[k],
        )


class _Numbers(NamedTuple):
    """The numbers of a block's information and particle lines.

    ``info`` [n, 6] NUP IDPRUP XWGTUP SCALUP AQEDUP AQCDUP; ``floats`` [P, 7] and ``ints``
    [P, 6] the particle columns (``whole`` [P, 6] the integer columns as parsed, float or
    integer); ``bad`` the offset of the first token that is not a plain number, or -1 (the
    rest is then empty); ``checked``: every value within float32 and every integer column
    (and IDPRUP) a whole number below 2^31 in size. The arrays may be views (the columns of
    the C scanner's column-major output).
    """

    info: np.ndarray
    floats: np.ndarray
    ints: np.ndarray
    whole: np.ndarray
    bad: int
    checked: bool


class _Lines:
    """The non-blank lines of the event text of a block (``arr[body[k]:text_end[k]]``),
    as the two scanners find them: per line where its first token starts, how many tokens
    (runs of bytes above 32) it has, its event and its kind (``_LEAD``: the event's first
    line; ``_LEAD_COMMENT``: a first line that starts with ``#``; ``_PARTICLE``: a line
    that starts like a number; ``_COMMENT``: ``#``; ``_FREE``: other text); ``breaks``,
    the line breaks in the whole block. :meth:`numbers` gives the numbers of the
    information and particle lines (meaningful once every line has 6 or 13 of them)."""

    def __init__(
        self, start: np.ndarray, length: np.ndarray, event: np.ndarray, kind: np.ndarray,
        breaks: int,
    ) -> None:  # fmt: skip
        self.start, self.length, self.event, self.kind = start, length, event, kind
        self.breaks = breaks

    def numbers(self) -> _Numbers:
        """The numbers of the information and particle lines."""
        raise NotImplementedError


class _ScannedLines(_Lines):
    """:class:`_Lines` from the C scanner, which has parsed and checked the numbers on
    the way."""

    def __init__(self, lines: np.ndarray, breaks: int, numbers: _Numbers) -> None:
        super().__init__(lines[:, 0], lines[:, 1], lines[:, 2], lines[:, 3], breaks)
        self._numbers = numbers

    def numbers(self) -> _Numbers:
        return self._numbers


class _TokenLines(_Lines):
    """:class:`_Lines` found by numpy index arithmetic; the numbers parsed by Arrow's
    cast when asked for."""

    def __init__(self, arr: np.ndarray, body: np.ndarray, text_end: np.ndarray) -> None:
        solid = _ranges(len(arr), body, text_end)
        solid &= arr > 32
        # ``arr`` starts before the first event's text and ends with ``</event>``: the
        # first and last characters are never solid, so runs start and end inside it.
        edges = np.flatnonzero(solid[1:] != solid[:-1]) + 1
        tok = edges[0::2]  # a run of solid characters starts, then ends
        newline = np.flatnonzero(arr == _NL)
        first = np.zeros(len(tok) + 1, dtype=bool)
        first[0] = True
        first[np.searchsorted(tok, newline)] = True  # the first token after each break
        first[np.searchsorted(tok, body)] = True  # and of each event
        line_tok = np.flatnonzero(first[:-1])  # first token of each non-blank line
        start = tok[line_tok]
        length = np.diff(np.append(line_tok, len(tok)))
        event = np.searchsorted(body, start, side="right") - 1
        lead = np.ones(len(line_tok), dtype=bool)
        lead[1:] = event[1:] != event[:-1]  # the event-information line
        head = arr[start]
        kind = np.where(_NUMBER_START[head], _PARTICLE, _FREE)
        kind[head == _HASH] = _COMMENT
        kind[lead] = np.where(head[lead] == _HASH, _LEAD_COMMENT, _LEAD)
        super().__init__(start, length, event, kind, len(newline))
        self._arr, self._edges, self._lead, self._n = arr, edges, lead, len(body)

    def numbers(self) -> _Numbers:
        used = (self.kind == _LEAD) | (self.kind == _PARTICLE)
        keep = None if used.all() else np.repeat(used, self.length)
        values = _token_numbers(self._arr, self._edges, keep)
        if values is None:
            tok, tok_end = self._edges[0::2], self._edges[1::2]
            if keep is not None:
                tok, tok_end = tok[keep], tok_end[keep]
            bad = int(tok[_first_bad_token(self._arr.tobytes(), tok, tok_end)])
            return _Numbers(_EMPTY, _EMPTY, _EMPTY, _EMPTY, bad, False)
        is_lead = np.repeat(self._lead[used], self.length[used])
        info = values[is_lead].reshape(self._n, 6)
        rows = values[~is_lead].reshape(-1, 13)
        with np.errstate(invalid="ignore"):  # NaN, inf, 1e30: refused later, not warned about
            whole = np.ascontiguousarray(rows[:, :6])
            ints = whole.astype(np.int64)
        # the common case in a few passes over contiguous arrays (strided ones cost 3x)
        checked = (
            below(rows, FLOAT32_MAX, inclusive=True)
            and below(info, FLOAT32_MAX, inclusive=True)
            and np.array_equal(ints, whole)
            and below(ints, INT_LIMIT)
            and below(info[:, 1], INT_LIMIT)
            and np.array_equal(np.trunc(info[:, 1]), info[:, 1])
        )
        floats = np.ascontiguousarray(rows[:, 6:13])
        return _Numbers(info, floats, ints, whole, -1, checked)


def _scan(arr: np.ndarray, body: np.ndarray, text_end: np.ndarray, breaks: int) -> _Lines:
    """The lines of the event text (``breaks``: the line breaks in ``arr``), by the C
    scanner when it is built (one pass, the numbers parsed and checked on the way), else
    by numpy and Arrow (the same results, tested so)."""
    if not _c_scanner():
        return _TokenLines(arr, body, text_end)
    body, text_end = _int64(body), _int64(text_end)
    # room for every line (each non-blank one ends at a break or at its event's end);
    # columns-major outputs, so that the columns of the event array are contiguous
    room = breaks + len(body) + 1
    info = np.empty((6, len(body)), dtype=np.float64)
    floats = np.empty((7, room), dtype=np.float64)
    ints = np.empty((6, room), dtype=np.int64)
    lines = np.empty((room, 4), dtype=np.int64)
    n_lines, rows, bad, overflow, checked = scan(arr, body, text_end, info, floats, ints, lines)
    if overflow:  # a line of more numbers than the checks allow, which they refuse:
        return _TokenLines(arr, body, text_end)  # numpy finds the same lines
    numbers = _Numbers(info.T, floats[:, :rows].T, ints[:, :rows].T, ints[:, :rows].T, bad,
                       bool(checked))  # fmt: skip
    return _ScannedLines(lines[:n_lines], breaks, numbers)


def _where_byte(arr: np.ndarray, byte: int) -> np.ndarray:
    """The offsets of ``byte`` in ``arr`` (``np.flatnonzero(arr == byte)``; by the C
    scanner's module where it is built: one pass, 64 bytes at a time, no mask)."""
    if not _c_scanner():
        return np.flatnonzero(arr == byte)
    out = np.empty(len(arr) // 8 + 16, dtype=np.int64)  # room for dense tags (untouched
    # pages of it cost nothing): a second pass only past one in 8 bytes
    found = find(arr, byte, out)
    if found > len(out):
        out = np.empty(found, dtype=np.int64)
        find(arr, byte, out)
    return out[:found]


def _count_byte(data: bytes | np.ndarray, byte: int) -> int:
    """How many times ``byte`` occurs in ``data``."""
    if not _c_scanner():
        return bytes(data).count(bytes([byte])) if isinstance(data, bytes) else int(
            np.count_nonzero(data == byte))  # fmt: skip
    return int(count(data, byte))


def _int64(a: np.ndarray) -> np.ndarray:
    """``a`` as a contiguous int64 array (itself where it is one), as the C scanner takes."""
    return np.ascontiguousarray(a, dtype=np.int64)


def _ranges(size: int, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """A mask of ``size`` that is True on ``[starts[i], ends[i])`` (sorted, disjoint)."""
    bounds = np.empty(2 * len(starts) + 2, dtype=np.int64)
    bounds[0], bounds[-1] = 0, size
    bounds[1:-1:2], bounds[2:-1:2] = starts, ends
    pattern = np.zeros(len(bounds) - 1, dtype=bool)
    pattern[1::2] = True
    return np.repeat(pattern, np.diff(bounds))


class _Tags:
    """The 16 bytes from each ``<`` of a block (the last byte repeated past its end), as
    two little-endian words each: tag names of up to 8 bytes match in one comparison."""

    def __init__(self, arr: np.ndarray, lt: np.ndarray) -> None:
        self.lt = lt
        self.low = self._word(arr, lt, 0)  # bytes 0-7 from each <
        self._arr = arr
        self._high: np.ndarray | None = None

    @property
    def high(self) -> np.ndarray:
        """Bytes 8-15 from each ``<`` (gathered when first asked for)."""
        if self._high is None:
            self._high = self._word(self._arr, self.lt, 8)
        return self._high

    @staticmethod
    def _word(arr: np.ndarray, lt: np.ndarray, skip: int) -> np.ndarray:
        """The 8 bytes from ``skip`` bytes after each ``<`` as one little-endian word."""
        size = len(arr)
        out = np.empty(len(lt), dtype="<u8")
        inner = int(np.searchsorted(lt, size - 16, side="right"))  # 16 bytes left from these
        if inner:  # the 8 bytes from every position as one word (overlapping, unaligned)
            every = np.ndarray((size - 7,), dtype="<u8", buffer=arr, strides=(1,))
            out[:inner] = every[lt[:inner] + skip]
        if inner < len(lt):  # the last 16 bytes, padded with the last byte
            k = min(size, 16)
            pad = np.full(32, arr[-1], dtype=np.uint8)
            pad[:k] = arr[size - k :]
            every = np.ndarray((25,), dtype="<u8", buffer=pad, strides=(1,))
            out[inner:] = every[lt[inner:] - (size - k) + skip]
        return out

    def masked(self, which: np.ndarray, size: np.ndarray) -> np.ndarray:
        """The first ``size`` bytes (at most 16) from the ``<`` of ``lt[which]``, the rest
        zeroed, as [len(which), 2] words."""
        ones = np.uint64(0xFFFFFFFFFFFFFFFF)
        out = np.empty((len(which), 2), dtype="<u8")
        bits = (8 * np.minimum(size, 8)).astype(np.uint64)
        mask = np.where(size >= 8, ones, (np.uint64(1) << bits) - np.uint64(1))
        np.bitwise_and(self.low[which], mask, out=out[:, 0])
        bits = (8 * np.clip(size - 8, 0, 8)).astype(np.uint64)
        mask = np.where(size >= 16, ones, (np.uint64(1) << bits) - np.uint64(1))
        np.bitwise_and(self.high[which], mask, out=out[:, 1])
        return out

    def prefix(self, tag: bytes) -> np.ndarray:
        """Which ``<`` start ``tag`` (at most 8 bytes, ``<`` included), as a mask."""
        value = np.uint64(int.from_bytes(tag, "little"))
        if len(tag) == 8:
            return self.low == value
        mask = np.uint64((1 << (8 * len(tag))) - 1)
        return (self.low & mask) == value

    def at(self, tag: bytes) -> np.ndarray:
        """Indices of the ``<`` that open ``tag`` followed by a space or ``>``."""
        width = len(tag)
        if width < 8:
            after = (self.low >> np.uint64(8 * width)) & np.uint64(0xFF)
        else:
            after = self.high & np.uint64(0xFF)
        return np.flatnonzero(self.prefix(tag) & ((after == ord(">")) | (after <= 32)))


def _numbers(data: np.ndarray, lengths: np.ndarray) -> np.ndarray | None:
    """Parse the tokens laid end to end in ``data`` (``lengths`` bytes each) as float64.

    Arrow's string-to-double cast (the ``fast_float`` algorithm) rounds correctly, so the
    result is bitwise what Python's ``float()`` gives, as pylhe uses; it takes ASCII
    decimals only (and ``nan``/``inf``, refused later as values). None when a token is
    not a number.
    """
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    strings = pa.StringArray.from_buffers(len(lengths), pa.py_buffer(offsets), pa.py_buffer(data))
    try:
        values = pc.cast(strings, pa.float64())
    except pa.ArrowInvalid:
        return None
    return values.to_numpy(zero_copy_only=False)


def _token_numbers(
    arr: np.ndarray, edges: np.ndarray, keep: np.ndarray | None
) -> np.ndarray | None:
    """Parse the tokens of ``arr`` as float64, in place: token ``i`` is
    ``arr[edges[2 i]:edges[2 i + 1]]``; only those where ``keep`` is True (all if None).

    The text is not copied: the string array handed to Arrow's cast (see :func:`_numbers`)
    has the pieces of ``arr`` between the edges as its elements, the tokens valid and the
    gaps between them null, which the cast skips. None when a token is not a number.
    """
    pieces = len(edges) + 1
    offsets = np.empty(pieces + 1, dtype=np.int32)
    offsets[0], offsets[-1] = 0, len(arr)
    offsets[1:-1] = edges
    valid = np.zeros(pieces, dtype=bool)
    valid[1::2] = True if keep is None else keep
    n_valid = len(edges) // 2 if keep is None else int(np.count_nonzero(keep))
    bitmap = np.packbits(valid, bitorder="little")
    strings = pa.StringArray.from_buffers(
        pieces, pa.py_buffer(offsets), pa.py_buffer(arr), pa.py_buffer(bitmap), pieces - n_valid
    )
    try:
        cast = pc.cast(strings, pa.float64())
    except pa.ArrowInvalid:
        return None
    out = np.frombuffer(cast.buffers()[1], dtype=np.float64, count=pieces)[1::2]
    return out if keep is None else out[keep]


_PLAIN = re.compile(PLAIN_NUMBER.pattern + rb"|[+-]?(?i:nan|inf|infinity)")


def _first_bad_token(buf: bytes, tok: np.ndarray, tok_end: np.ndarray) -> int:
    """Index of the first token that is not a plain ASCII number (error path only)."""
    for k, (a, b) in enumerate(zip(tok.tolist(), tok_end.tolist(), strict=True)):
        if not _PLAIN.fullmatch(buf, a, b):
            return k
    return 0


def _weights(
    data: bytes,
    tags: _Tags,
    lt: np.ndarray,
    body: np.ndarray,
    names: list[str] | None,
    rank: dict[str, int],
    where: _Where,
    check: bool,
) -> tuple[np.ndarray, list[str]]:
    """The ``<rwgt><wgt id=...>`` weights as an [n, W] array in ``names`` order."""
    n = len(body)
    some = bool(tags.prefix(b"<wgt").any())  # (as ``b"<wgt" in data``) many files have none
    found = _WGT.findall(data) if some else []  # (quote, id, value) of each <wgt>
    pos = lt[tags.at(b"<wgt")] if some else np.zeros(0, dtype=np.int64)
    if len(found) != len(pos):
        if check:
            return np.zeros((n, 0)), names or []
        raise Unsupported("a <wgt> tag with other attributes than id")
    event = np.searchsorted(body, pos, side="right") - 1
    texts = [f[2] for f in found]
    if check:  # pylhe reads the <weights> blocks: their numbers are checked here
        blocks = list(_WEIGHTS.finditer(data))
        at = np.array([m.start() for m in blocks], dtype=np.int64)
        in_event = np.searchsorted(body, at, side="right") - 1
        _check_numbers([m.group(1) for m in blocks], at, in_event, where, "<weights>")
    ids = [f[1] for f in found]
    if names is None:
        first = ids[: int(np.searchsorted(event, 1))]
        try:
            decoded = [w.decode() for w in first]
        except UnicodeDecodeError:
            raise where.damaged("a weight id that is not UTF-8 text", body[0], 0) from None
        names = sorted(decoded, key=lambda k: rank.get(k, len(rank)))
        if len(set(first)) != len(first):
            raise where.damaged("a weight id repeated within the event", body[0], 0)
    width = len(names)
    per_event = np.bincount(event, minlength=n) if len(found) else np.zeros(n, dtype=np.int64)
    if np.any(per_event != width):
        k = int(np.flatnonzero(per_event != width)[0])
        raise where.damaged(
            f"the event has {per_event[k]} named weights (<wgt>), the first event of the file "
            f"{width}. Every event must carry the same named weights",
            body[k],
            k,
        )
    if not width:
        return np.zeros((n, 0)), names
    column = {k.encode(): j for j, k in enumerate(names)}
    order = np.fromiter((column.get(w, -1) for w in ids), dtype=np.int64, count=len(found))
    order = order.reshape(n, width)
    wrong = np.flatnonzero(np.any(np.sort(order, axis=1) != np.arange(width), axis=1))
    if wrong.size:
        k = int(wrong[0])
        have = {w.decode("utf-8", "replace") for w in ids[k * width : (k + 1) * width]}
        raise where.damaged(
            f"the event's weight ids differ from the first event's (missing "
            f"{sorted(set(names) - have)[:5]}, extra {sorted(have - set(names))[:5]})",
            body[k],
            k,
            fix="Every event of a file must carry the same named weights: fix the file or "
            "regenerate it with one weight set.",
        )
    values = _check_numbers(texts, pos, event, where, "<wgt>").reshape(n, width)
    if check:
        return np.zeros((n, 0)), names
    out = np.empty((n, width))
    np.put_along_axis(out, order, values, axis=1)
    return out, names


def _same_weights(
    data: bytes,
    arr: np.ndarray,
    tags: _Tags,
    lt: np.ndarray,
    tag_close: np.ndarray,
    body: np.ndarray,
    names: list[str] | None,
    rank: dict[str, int],
) -> tuple[np.ndarray, list[str]] | None:
    """:func:`_weights` for the common case, vectorised: every event holds the same
    ``<wgt id=...>`` tags, byte for byte and in the same order, each with one number and
    closed by ``</wgt>``; the first event's tags are read by the pattern of :func:`_weights`.
    None for anything else (no weights, a damaged block, another layout), which
    :func:`_weights` then reads or refuses with its messages."""
    n = len(body)
    which = tags.at(b"<wgt")
    m = len(which)
    if not m or m % n or which[-1] + 1 >= len(lt):
        return None
    width = m // n
    pos, after = lt[which], which + 1
    event = np.searchsorted(body, pos, side="right") - 1
    if not np.array_equal(event, np.repeat(np.arange(n), width)):
        return None
    value_start, value_end = tag_close[which] + 1, lt[after]
    values: np.ndarray | None
    if _c_scanner():
        values = np.empty(m, dtype=np.float64)
        if not same_weights(arr, pos, value_start, value_end, width, values):
            return None
    else:
        values = _same_weight_values(arr, tags, which, value_start, value_end, n, width)
    if values is None:
        return None
    first = list(_WGT.finditer(data, int(pos[0]), int(value_end[width - 1]) + 6))
    spans = zip(pos[:width].tolist(), value_start[:width].tolist(), value_end[:width].tolist(),
                strict=True)  # fmt: skip
    if len(first) != width or any(
        f.start() != a or f.start(3) != b or f.end() != c + 6
        for f, (a, b, c) in zip(first, spans, strict=False)
    ):
        return None
    try:
        ids = [f.group(2).decode() for f in first]
    except UnicodeDecodeError:
        return None
    if len(set(ids)) != width:
        return None
    if names is None:
        names = sorted(ids, key=lambda k: rank.get(k, len(rank)))
    column = {k: j for j, k in enumerate(names)}
    if len(names) != width or set(ids) != set(names):
        return None
    out = np.empty((n, width))
    out[:, [column[k] for k in ids]] = values.reshape(n, width)
    return out, names


def _same_weight_values(
    arr: np.ndarray,
    tags: _Tags,
    which: np.ndarray,
    value_start: np.ndarray,
    value_end: np.ndarray,
    n: int,
    width: int,
) -> np.ndarray | None:
    """The numbers of the ``<wgt>`` tags ``which`` of :func:`_same_weights` by numpy and
    Arrow (what the C scanner's ``same_weights`` does): each event's tags byte for byte
    the first event's, each closed by exactly ``</wgt>`` and holding one number. None
    where that is not so."""
    if not tags.prefix(b"</wgt>")[which + 1].all():  # closed by exactly </wgt>
        return None
    pos = tags.lt[which]
    size = (value_start - pos).reshape(n, width)
    longest = int(size[0].max())
    if longest > 64 or not (size == size[0]).all():
        return None
    if longest <= 16:  # the tags as words, compared event by event
        text = tags.masked(which, value_start - pos).reshape(n, width, 2)
    else:
        text = arr[np.minimum(pos[:, None] + np.arange(longest), len(arr) - 1)]
        text[np.arange(longest) >= (value_start - pos)[:, None]] = 0
        text = text.reshape(n, width, longest)
    if not (text == text[0]).all():
        return None
    solid = _ranges(len(arr), value_start, value_end)
    solid &= arr > 32
    edges = np.flatnonzero(solid[1:] != solid[:-1]) + 1
    # tokens lie in the ranges only: m of them, the k-th in range k, is one in each
    starts = edges[0::2]
    if len(edges) != 2 * len(which) or not np.all((starts >= value_start) & (starts < value_end)):
        return None  # not one number in each
    return _token_numbers(arr, edges, None)


def _check_numbers(
    texts: list[bytes], pos: np.ndarray, event: np.ndarray, where: _Where, tag: str
) -> np.ndarray:
    """The numbers in ``texts`` (the content of the elements at ``pos``): one per element
    for ``<wgt>``, any number for ``<weights>``; a damaged number raises."""
    if not texts:
        return np.zeros(0)
    arr = np.frombuffer(b" ".join(texts), dtype=np.uint8)
    solid = (arr > 32).view(np.int8)
    edge = np.diff(solid, prepend=np.int8(0), append=np.int8(0))
    starts, ends = np.flatnonzero(edge == 1), np.flatnonzero(edge == -1)
    one = tag == "<wgt>"
    values = _numbers(arr[solid.view(bool)], ends - starts)
    if values is None or (one and len(starts) != len(texts)):
        for k, text in enumerate(texts):
            parts = text.split()
            if (one and len(parts) != 1) or not all(_PLAIN.fullmatch(p) for p in parts):
                shown = text.strip().decode("utf-8", "replace")[:60]
                raise where.damaged(
                    f"a {tag} element that does not hold {'one number' if one else 'numbers'} "
                    f"({shown!r})",
                    pos[k],
                    event[k],
                )
        raise where.damaged(f"a damaged {tag} element", pos[0], event[0])
    return values
