"""What the LHE readers share: the decompressed input, the two outcomes besides success
(:class:`Damaged`, :class:`Unsupported`), the check of the values and the texts the error
messages quote."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import IO, NamedTuple

import numpy as np

from latentsym.io import _gunzip

__all__ = [
    "BLOCK_BYTES",
    "COMMENT",
    "FLOAT32_MAX",
    "INT_LIMIT",
    "LAYOUT",
    "PLAIN_NUMBER",
    "TRUNCATED",
    "BadValue",
    "Damaged",
    "Input",
    "Unsupported",
    "below",
    "first_bad_value",
    "open_decompressed",
]

BLOCK_BYTES = 1 << 20
"""How much decompressed text the readers take at a time."""
COMMENT = re.compile(rb"<!--.*?-->", re.S)
"""An XML comment."""
PLAIN_NUMBER = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
"""A plain ASCII decimal number, the only syntax LHE numbers may take."""
LAYOUT = (
    "Each event starts with a line of 6 numbers (NUP IDPRUP XWGTUP SCALUP AQEDUP AQCDUP), "
    "followed by NUP particle lines of 13 numbers (IDUP ISTUP MOTHUP1 MOTHUP2 ICOLUP1 "
    "ICOLUP2 PX PY PZ E M VTIMUP SPINUP)"
)
"""The event layout, quoted by the error messages."""
TRUNCATED = (
    "The file is truncated (interrupted download or generator run) or damaged: re-generate "
    "or re-download it; if only the closing </LesHouchesEvents> tag is missing, append it."
)
"""What to do about a truncated file, quoted by the error messages."""
FLOAT32_MAX = float(np.finfo(np.float32).max)
"""The largest momentum or weight a read accepts (the features are float32)."""
INT_LIMIT = 2.0**31
"""Integer columns hold whole numbers below this in size (a Fortran INTEGER)."""
_INTS: tuple[str, ...] = ("IDUP", "ISTUP", "MOTHUP1", "MOTHUP2", "ICOLUP1", "ICOLUP2")
_FLOATS: tuple[str, ...] = ("px", "py", "pz", "E", "M", "VTIMUP", "SPINUP")
_EVENT: tuple[str, ...] = ("IDPRUP", "XWGTUP", "SCALUP", "AQEDUP", "AQCDUP")


class Unsupported(Exception):
    """The fast parser does not cover this (valid) file; the message says why."""


class Damaged(Exception):
    """The file is damaged: what is wrong, where (event, particle, line) and what to do.

    ``schema`` marks a bad value (NaN, inf, beyond float32) rather than a bad layout.
    """

    def __init__(
        self,
        what: str,
        *,
        event: int | None = None,
        particle: int | None = None,
        line: int | None = None,
        text: str | None = None,
        fix: str = "",
        schema: bool = False,
    ) -> None:
        super().__init__(what)
        self.what, self.event, self.particle = what, event, particle
        self.line, self.text, self.fix, self.schema = line, text, fix, schema

    def message(self, path: str | Path) -> str:
        """The full message: ``path: event E, particle P (line L: 'text'): what. fix``."""
        place = ""
        if self.event is not None:
            place = f"event {self.event}"
            if self.particle is not None:
                place += f", particle {self.particle}"
        if self.line is not None:
            at = f"line {self.line}" + ("" if self.text is None else f": {self.text!r}")
            place = f"{place} ({at})" if place else at
        head = f"{path}: {place}: " if place else f"{path}: "
        return f"{head}{self.what}." + (f" {self.fix}" if self.fix else "")


def open_decompressed(path: Path) -> IO[bytes]:
    """``path`` opened for reading bytes, through gzip when it starts with the gzip magic
    (decompressed by :mod:`latentsym.io._gunzip`)."""
    return _gunzip.open_gzip(path) if _gunzip.is_gzip(path) else path.open("rb")


class Input:
    """The decompressed bytes of a file, with the position reached for the messages.

    Every failure of the file or of its gzip stream (``OSError``, ``EOFError``,
    ``zlib.error``, ISA-L's error: :data:`latentsym.io._gunzip.ERRORS`) comes out as
    :class:`Damaged`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.is_gzip = _gunzip.is_gzip(path)
            self.fh = _gunzip.open_gzip(path) if self.is_gzip else path.open("rb")
        except OSError as exc:
            raise Damaged(f"the file cannot be opened ({exc})", fix="Check the path.") from exc
        self.offset = 0
        self.events = 0

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes (all that is left for -1)."""
        try:
            data = self.fh.read(size)
        except _gunzip.ERRORS as exc:
            raise self.broken(exc) from exc
        self.offset += len(data)
        return data

    def skip(self, size: int) -> None:
        """Read past the next ``size`` bytes."""
        while size > 0:
            got = len(self.read(min(size, BLOCK_BYTES)))
            if not got:
                raise Damaged("the file ends inside its header", fix=TRUNCATED)
            size -= got

    def broken(self, exc: BaseException) -> Damaged:
        """The error for a failed read at the position reached."""
        after = f"after event {self.events - 1}" if self.events else "before the first event"
        where = f"{after}, {self.offset} bytes into the decompressed text"
        if self.is_gzip:
            return Damaged(
                f"corrupt or truncated gzip stream {where} ({exc})",
                fix=f"Re-download or re-generate the file; `gzip -t {self.path.name}` checks it.",
            )
        return Damaged(f"the file cannot be read {where} ({exc})", fix="Copy the file again.")

    def close(self) -> None:
        """Close the file."""
        self.fh.close()


class BadValue(NamedTuple):
    """Where :func:`first_bad_value` found a bad value: event, particle (or None), text."""

    event: int
    particle: int | None
    what: str
    schema: bool


def first_bad_value(
    counts: np.ndarray,
    floats: np.ndarray,
    ints: np.ndarray,
    event: np.ndarray,
    weights: np.ndarray,
    names: list[str] | tuple[str, ...] = (),
) -> BadValue | None:
    """The first value of a block that a read must refuse, or None (vectorised).

    ``ints`` may be float (as parsed, before the cast) or integer; ``event[:, 0]`` is
    IDPRUP. Refused: integer columns that are not whole numbers below 2^31 in size;
    NaN or infinite floats; momenta and weights beyond float32.
    """
    for values, columns, per_particle in ((ints, _INTS, True), (event[:, :1], _EVENT, False)):
        whole = values.dtype.kind != "f" or np.array_equal(np.trunc(values), values)
        if not (whole and below(values, INT_LIMIT)):
            bad = ~(np.abs(values) < INT_LIMIT)
            if values.dtype.kind == "f":
                bad |= np.trunc(values) != values
            return _locate(counts, bad, values, columns, per_particle, "integer")
    checks = (
        (floats[:, :4], _FLOATS, True, FLOAT32_MAX, "momentum"),
        (floats[:, 4:], _FLOATS[4:], True, math.inf, "finite"),
        (event[:, 1:2], _EVENT[1:2], False, FLOAT32_MAX, "weight"),
        (event[:, 2:], _EVENT[2:], False, math.inf, "finite"),
        (weights, tuple(names), False, FLOAT32_MAX, "weight"),
    )
    for values, columns, per_particle, limit, kind in checks:
        if not below(values, limit, inclusive=limit < math.inf):
            bad = ~(np.abs(values) <= limit) if limit < math.inf else ~np.isfinite(values)
            return _locate(counts, bad, values, columns, per_particle, kind)
    return None


def below(values: np.ndarray, limit: float, inclusive: bool = False) -> bool:
    """Whether every ``|value|`` is below ``limit`` (at most, when ``inclusive``); False
    for NaN (two passes over the values, the common case)."""
    if not values.size:
        return True
    top = np.abs(values).max()
    return bool(top <= limit) if inclusive else bool(top < limit)


def _locate(
    counts: np.ndarray,
    bad: np.ndarray,
    values: np.ndarray,
    columns: tuple[str, ...],
    per_particle: bool,
    kind: str,
) -> BadValue:
    row = int(np.flatnonzero(bad.any(axis=1))[0])
    col = int(np.flatnonzero(bad[row])[0])
    value = float(values[row, col])
    name = columns[col] if col < len(columns) else f"column {col}"
    particle: int | None = None
    event = row
    if per_particle:
        event = int(np.searchsorted(np.cumsum(counts), row, side="right"))
        particle = row - int(counts[:event].sum())
    if kind == "integer":
        size = " below 2^31 in size" if abs(value) >= INT_LIMIT else ""
        return BadValue(event, particle, f"{name} is {value:g}, not a whole number{size}", False)
    if np.isfinite(value):
        what = (
            f"{name} is {value:g}, beyond the float32 range (|x| <= {FLOAT32_MAX:.4g}) of the "
            "features. Rescale or remove this event"
        )
    elif name == "XWGTUP":
        what = f"the event weight XWGTUP is {value}. Event weights must be finite numbers"
    else:
        what = (
            f"{name} is {value} ({int(bad.any(axis=1).sum())} such rows in this part of the "
            "file). Fix or remove these events (the generator wrote NaN or inf), e.g. with a "
            "filter before reading"
        )
    return BadValue(event, particle, what, True)
