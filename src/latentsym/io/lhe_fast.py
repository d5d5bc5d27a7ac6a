"""A numpy parser for the ``<event>`` blocks of LHE files.

pylhe parses every event through ``xml.etree`` and builds one Python object per
particle; at 10^6 events that takes minutes. This module reads the decompressed bytes in
blocks of whole events and parses all numbers of a block in one call, with the layout
(which token belongs to which event, line and column) worked out by vectorised index
arithmetic. It returns the same columns as the pylhe route of :mod:`latentsym.io.lhe`
(tested field by field on every LHE file of the test data), and hands over to pylhe,
which stays the reference, for anything it does not cover: ``<weights>`` blocks, XML
comments or CDATA inside an event, Fortran ``D`` exponents, a particle line with more or
fewer than 13 numbers, a ``NUP`` that disagrees with the particle lines, a truncated file.
The caller reads such a file with pylhe, which also produces the precise error for a
malformed one.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["Block", "Unsupported", "iterate_blocks", "split_block"]

_BLOCK_BYTES = 1 << 20
_WGT = re.compile(rb"<wgt\s+id\s*=\s*(['\"])(.*?)\1\s*>([^<]*)</wgt\s*>")
_HASH, _LT, _NL = ord("#"), ord("<"), ord("\n")


class Unsupported(Exception):
    """The fast parser does not cover this file; the message says why."""


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
    path: Path, names: list[str] | None, rank: dict[str, int], limit: int | None = None
) -> Iterator[tuple[Block, list[str]]]:
    """Parse the events of ``path`` block by block (about 1 MB of text at a time).

    Args:
        path: a plain or gzip LHE file.
        names: the weight ids to expect (``None``: take them from the first event).
        rank: position of each weight id in ``<initrwgt>`` (orders the first event's ids).
        limit: stop after this many events.

    Yields:
        ``(block, names)``: the columns of the next events and the weight ids.

    Raises:
        Unsupported: the file needs the pylhe route (the message says why).
    """
    n_done = 0
    with _open(path) as fh:
        buf = _skip_header(fh)
        eof = False
        while not eof and (limit is None or n_done < limit):
            more = _read(fh, _BLOCK_BYTES)
            eof = not more
            buf += more
            cut = _after_last_event(buf)
            if cut < 0:
                if eof:
                    break
                continue
            block, names = _parse(buf[:cut], names, rank)
            buf = buf[cut:]
            if limit is not None and n_done + len(block) > limit:
                block = split_block(block, limit - n_done)[0]
            n_done += len(block)
            if len(block):
                yield block, names
        if limit is None or n_done < limit:
            tail = buf + _read(fh, -1)
            if b"<event" in tail or b"</LesHouchesEvents" not in tail:
                raise Unsupported("the file ends inside an event or without its closing tag")


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


def _open(path: Path) -> IO[bytes]:
    with path.open("rb") as probe:
        is_gzip = probe.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if is_gzip else path.open("rb")  # type: ignore[return-value]


def _read(fh: IO[bytes], size: int) -> bytes:
    try:
        return fh.read(size)
    except (OSError, EOFError, zlib.error) as exc:
        raise Unsupported(f"the compressed stream is damaged ({exc})") from exc


def _skip_header(fh: IO[bytes]) -> bytes:
    """Read past ``</init>``; return what follows it."""
    buf = b""
    while True:
        more = _read(fh, _BLOCK_BYTES)
        if not more:
            raise Unsupported("no </init> tag")
        buf += more
        end = buf.find(b"</init>")
        if end >= 0:
            return buf[end + len(b"</init>") :]


def _parse(buf: bytes, names: list[str] | None, rank: dict[str, int]) -> tuple[Block, list[str]]:
    """Parse every ``<event>`` of ``buf`` (which holds whole events only)."""
    arr = np.frombuffer(buf, dtype=np.uint8)
    lt = np.flatnonzero(arr == _LT)
    starts = lt[_tag_at(arr, lt, b"<event")]
    closes = lt[_tag_at(arr, lt, b"</event")]
    n = len(starts)
    if len(closes) != n or n == 0:
        raise Unsupported(f"{n} <event> tags but {len(closes)} </event> tags in a block")
    body = starts + len(b"<event>")  # where the tag has no attributes, else look
    odd = np.flatnonzero(arr[np.minimum(body, len(arr)) - 1] != ord(">"))
    for k in odd:
        body[k] = buf.find(b">", int(starts[k])) + 1
    if np.any(closes < body) or np.any(starts[1:] < closes[:-1]):
        raise Unsupported("<event> and </event> tags are not nested in order")
    if b"<eventgroup" in buf or b"<weights" in buf:
        raise Unsupported("<eventgroup> or <weights> blocks")
    text_end = lt[np.searchsorted(lt, body)]  # the first child element or </event>
    bang = lt[np.flatnonzero(arr[lt[:-1] + 1] == ord("!"))]
    if bang.size:
        ev = np.searchsorted(body, bang, side="right") - 1
        if np.any((ev >= 0) & (bang < closes[np.maximum(ev, 0)])):
            raise Unsupported("an XML comment or CDATA section inside an event")

    # Tokens: runs of non-space characters in the text of each event.
    solid = _ranges(len(arr), body, text_end)
    solid &= arr > 32
    # ``buf`` starts before the first event's text and ends with ``</event>``: the first
    # and last characters are never solid, so runs start and end inside it.
    edges = np.flatnonzero(solid[1:] != solid[:-1]) + 1
    tok, tok_end = edges[0::2], edges[1::2]  # a run of solid characters starts, then ends
    newline = np.flatnonzero(arr == _NL)
    first = np.zeros(len(tok) + 1, dtype=bool)
    first[0] = True
    first[np.searchsorted(tok, newline)] = True  # the first token after each line break
    line_tok = np.flatnonzero(first[:-1])  # first token of each non-blank line
    line = np.searchsorted(newline, tok[line_tok])  # and its line number
    line_len = np.diff(np.append(line_tok, len(tok)))
    line_event = np.searchsorted(body, tok[line_tok], side="right") - 1
    comment = arr[tok[line_tok]] == _HASH
    lead = np.ones(len(line_tok), dtype=bool)
    lead[1:] = line_event[1:] != line_event[:-1]  # the event-information line
    if not np.array_equal(line_event[lead], np.arange(n)):
        raise Unsupported("an event without its information line")
    if np.any(comment & lead):
        raise Unsupported("an event whose first line is a comment")
    lines = np.bincount(line_event, minlength=n)
    first_line = np.flatnonzero(lead)
    spanned = line[first_line + lines - 1] - line[first_line]
    if np.any(spanned != lines - 1):
        raise Unsupported("a blank line inside an event")
    particle = ~lead & ~comment
    if np.any(line_len[lead] != 6) or np.any(line_len[particle] != 13):
        raise Unsupported("an information line without 6 numbers or a particle line without 13")

    if comment.any():
        keep = np.repeat(~comment, line_len)
        solid = _ranges(len(arr), tok[keep], tok_end[keep])
        tok, tok_end = tok[keep], tok_end[keep]
    values = _numbers(arr[solid], tok_end - tok)
    is_lead = np.repeat(lead[~comment], line_len[~comment])
    info = values[is_lead].reshape(n, 6)
    rows = values[~is_lead].reshape(-1, 13)
    counts = np.bincount(line_event[particle], minlength=n).astype(np.int64)
    if not np.array_equal(info[:, 0], counts):
        raise Unsupported("an event whose NUP differs from its number of particle lines")
    weights, names = _weights(buf, body, closes, names, rank)
    block = Block(
        counts=counts,
        floats=np.ascontiguousarray(rows[:, 6:13]),
        ints=rows[:, :6].astype(np.int64),
        event=np.ascontiguousarray(info[:, 1:6]),
        weights=weights,
    )
    return block, names


def _ranges(size: int, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """A mask of ``size`` that is True on ``[starts[i], ends[i])`` (sorted, disjoint)."""
    bounds = np.empty(2 * len(starts) + 2, dtype=np.int64)
    bounds[0], bounds[-1] = 0, size
    bounds[1:-1:2], bounds[2:-1:2] = starts, ends
    pattern = np.zeros(len(bounds) - 1, dtype=bool)
    pattern[1::2] = True
    return np.repeat(pattern, np.diff(bounds))


def _tag_at(arr: np.ndarray, lt: np.ndarray, tag: bytes) -> np.ndarray:
    """Which ``<`` positions ``lt`` open ``tag`` followed by a space or ``>``."""
    width = len(tag)
    idx = np.minimum(lt[:, None] + np.arange(width + 1), len(arr) - 1)
    text = arr[idx]
    match = np.all(text[:, :width] == np.frombuffer(tag, dtype=np.uint8), axis=1)
    after = text[:, width]
    return np.flatnonzero(match & ((after == ord(">")) | (after <= 32)))


def _numbers(data: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Parse the tokens laid end to end in ``data`` (``lengths`` bytes each) as float64.

    Arrow's string-to-double cast (the ``fast_float`` algorithm) rounds correctly, so the
    result is bitwise what Python's ``float()`` gives, as pylhe uses.
    """
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    strings = pa.StringArray.from_buffers(len(lengths), pa.py_buffer(offsets), pa.py_buffer(data))
    try:
        values = pc.cast(strings, pa.float64())
    except pa.ArrowInvalid as exc:
        raise Unsupported(f"a token that is not a number ({exc})") from None
    return values.to_numpy(zero_copy_only=False)


def _weights(
    buf: bytes,
    body: np.ndarray,
    closes: np.ndarray,
    names: list[str] | None,
    rank: dict[str, int],
) -> tuple[np.ndarray, list[str]]:
    """The ``<rwgt><wgt id=...>`` weights as an [n, W] array in ``names`` order."""
    n = len(body)
    found = [(m.start(), m.group(2).decode(), m.group(3)) for m in _WGT.finditer(buf)]
    if names is None:
        end = int(closes[0])
        ids = [w[1] for w in found if w[0] < end]
        names = sorted(ids, key=lambda k: rank.get(k, len(rank)))
        if len(set(ids)) != len(ids):
            raise Unsupported("a weight id repeated within an event")
    width = len(names)
    if not found:
        if width:
            raise Unsupported("events without the named weights of the first event")
        return np.zeros((n, 0)), names
    pos = np.fromiter((w[0] for w in found), dtype=np.int64, count=len(found))
    event = np.searchsorted(body, pos, side="right") - 1
    if np.any(event < 0) or np.any(pos > closes[event]) or len(found) != n * width:
        raise Unsupported("named weights outside events, or a different number per event")
    if np.any(event != np.repeat(np.arange(n), width)):
        raise Unsupported("a different number of named weights per event")
    column = {k: j for j, k in enumerate(names)}
    order = np.fromiter((column.get(w[1], -1) for w in found), dtype=np.int64, count=len(found))
    order = order.reshape(n, width)
    if np.any(np.sort(order, axis=1) != np.arange(width)):
        raise Unsupported("events whose weight ids differ from the first event's")
    text = np.frombuffer(b" ".join(w[2].strip() or b"?" for w in found), dtype=np.uint8)
    solid = (text > 32).view(np.int8)
    edge = np.diff(solid, prepend=np.int8(0), append=np.int8(0))
    starts, ends = np.flatnonzero(edge == 1), np.flatnonzero(edge == -1)
    if len(starts) != len(found):
        raise Unsupported("a <wgt> element that does not hold one number")
    values = _numbers(text[solid.view(bool)], ends - starts).reshape(n, width)
    out = np.empty((n, width))
    np.put_along_axis(out, order, values, axis=1)
    return out, names
