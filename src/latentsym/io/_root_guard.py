"""Damaged ROOT files: every failure inside uproot becomes an :class:`EventFileError` that
names the file, the place (key, tree, branch, basket, entries) and what to do.

uproot raises what its decoders raise on a damaged file (``zlib.error``, ``OSError``,
``ValueError``, ``IndexError``, its ``DeserializationError``, a bare ``AssertionError`` in
the RNTuple code, ...). The reader calls uproot only through :func:`guard`,
:func:`read_arrays` and :func:`iterate_arrays`; when ``arrays`` fails, :func:`locate` reads
the branches one at a time (and a TTree branch basket by basket) to say which one is
damaged. ROOT keeps no checksum of its key headers and tree metadata, so two copies are
compared where the format keeps them: :func:`check_keys` compares each key of the
directory with the header in front of its object (a damaged name would otherwise lose the
run information or rename the tree without a word), and :func:`check_entries` the entry
counts of a TTree (the tree, each branch, each basket's first entry), so that a damaged
count gives an error instead of fewer events.

Example:
    >>> try:
    ...     with guard("f.root", "tree 'events'"):
    ...         raise OSError("bad seek")
    ... except EventFileError as exc:
    ...     print(str(exc)[:60])
    f.root: tree 'events' cannot be read (OSError: bad seek). Th
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import awkward as ak
import numpy as np
from uproot.reading import ReadOnlyKey
from uproot.source.cursor import Cursor

from latentsym.errors import EventFileError, LatentsymError

__all__ = [
    "FIX",
    "MAX_KEYS_CHECKED",
    "check_entries",
    "check_keys",
    "describe_error",
    "guard",
    "iterate_arrays",
    "read_arrays",
]

#: :func:`check_keys` compares at most this many keys (a file of many histograms)
MAX_KEYS_CHECKED = 2000
_KEY_FIELDS = ("fClassName", "fName", "fTitle", "fNbytes", "fObjlen", "fKeylen", "fCycle")

FIX = (
    "The file is damaged (truncated, or corrupted when written or copied): copy or "
    "generate it again."
)


def describe_error(exc: BaseException, limit: int = 200) -> str:
    """``Type: message`` of an exception on one line, at most ``limit`` characters."""
    text = " ".join(str(exc).split())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    name = type(exc).__name__
    if name == "error":  # zlib.error, struct.error: the module says what failed
        name = f"{type(exc).__module__}.{name}"
    return f"{name}: {text}" if text else name


def _damaged(where: str, place: str, exc: BaseException) -> EventFileError:
    return EventFileError(f"{where}: {place} cannot be read ({describe_error(exc)}). {FIX}")


@contextmanager
def guard(where: str, place: str) -> Iterator[None]:
    """Turn any exception but latentsym's own into an :class:`EventFileError`.

    Args:
        where: the file (and tree), the start of the message.
        place: what was being read, e.g. ``"the list of keys"``.
    """
    try:
        yield
    except LatentsymError:
        raise
    except Exception as exc:
        raise _damaged(where, place, exc) from exc


def _span(start: int, stop: int) -> str:
    return f"entries {start}-{stop - 1}" if stop - start > 1 else f"entry {start}"


def _locate_branch(obj: Any, name: str, start: int, stop: int) -> str | None:
    """Where reading branch ``name`` over ``[start, stop)`` fails, or None if it reads."""
    try:
        obj[name].array(entry_start=start, entry_stop=stop, library="ak")
        return None
    except Exception:
        pass
    try:
        branch = obj[name]
        if hasattr(branch, "basket_entry_start_stop"):  # a TTree branch: find the basket
            seeks = branch.member("fBasketSeek")
            for i in range(branch.num_baskets):
                s, e = (int(x) for x in branch.basket_entry_start_stop(i))
                if e <= start or s >= stop:
                    continue
                try:
                    branch.array(entry_start=s, entry_stop=e, library="ak")
                except Exception:
                    return f"branch {name!r}, basket {i} ({_span(s, e)}, at byte {int(seeks[i])})"
            return f"branch {name!r} ({_span(start, stop)})"
        for k, c in enumerate(obj.cluster_summaries):  # an RNTuple: find the cluster
            s = int(c.num_first_entry)
            e = s + int(c.num_entries)
            if e <= start or s >= stop:
                continue
            try:
                obj[name].array(entry_start=s, entry_stop=e, library="ak")
            except Exception:
                return f"field {name!r}, cluster {k} ({_span(s, e)})"
    except Exception:
        pass
    return f"branch {name!r} ({_span(start, stop)})"


def locate(obj: Any, branches: Sequence[str], start: int, stop: int) -> str:
    """The first of ``branches`` (and its basket or cluster) that cannot be read."""
    for b in branches:
        place = _locate_branch(obj, b, start, stop)
        if place is not None:
            return place
    return f"branches {', '.join(branches)} ({_span(start, stop)})"


def read_arrays(obj: Any, branches: Sequence[str], where: str, stop: int) -> ak.Array:
    """``obj.arrays(branches)`` for entries ``[0, stop)``, every failure named.

    Raises:
        EventFileError: uproot failed (the damaged branch and basket named) or returned
            another number of entries than asked for.
    """
    try:
        a = obj.arrays(list(branches), entry_stop=stop)
    except LatentsymError:
        raise
    except Exception as exc:
        raise _damaged(where, locate(obj, branches, 0, stop), exc) from exc
    _check_length(a, where, 0, stop)
    return a


def iterate_arrays(
    obj: Any, branches: Sequence[str], where: str, step_size: int, stop: int
) -> Iterator[tuple[int, ak.Array]]:
    """``(first entry, arrays)`` per chunk of ``step_size`` entries of ``[0, stop)``."""
    start = 0
    with guard(where, "the tree's chunks"):
        it = obj.iterate(list(branches), step_size=step_size, entry_stop=stop, report=True)
    while start < stop:
        end = min(start + step_size, stop)
        try:
            a, report = next(it)
        except StopIteration:
            break
        except LatentsymError:
            raise
        except Exception as exc:
            raise _damaged(where, locate(obj, branches, start, end), exc) from exc
        first = int(report.tree_entry_start)
        if first != start:
            raise EventFileError(
                f"{where}: a chunk starts at entry {first} instead of {start}. {FIX}"
            )
        _check_length(a, where, start, end)
        yield start, a
        start = end
    if start < stop:
        raise EventFileError(f"{where}: {stop} entries expected, only {start} could be read. {FIX}")


def _check_length(a: ak.Array, where: str, start: int, stop: int) -> None:
    if len(a) != stop - start:
        raise EventFileError(
            f"{where}: {_span(start, stop)} asked for, {len(a)} entries read. {FIX}"
        )


def check_entries(obj: Any, branches: Sequence[str], where: str) -> int:
    """The number of entries of a tree, checked against what its branches store.

    A TTree keeps its entry count in the tree, in every branch and in every basket's first
    entry; a damaged copy of one of them would read fewer or shifted entries without an
    error. An RNTuple's count is checked by its own envelopes.

    Raises:
        EventFileError: the counts disagree (naming the branch).
    """
    with guard(where, "the entry count"):
        n = int(obj.num_entries)
        if n < 0:
            raise EventFileError(f"{where}: the tree says it has {n} entries. {FIX}")
        for b in branches:
            branch = obj[b]
            if not hasattr(branch, "entry_offsets"):  # an RNTuple field
                continue
            offsets = np.asarray(branch.entry_offsets, dtype=np.int64)
            if int(branch.num_entries) != n or (
                len(offsets)
                and (offsets[0] != 0 or offsets[-1] != n or np.any(np.diff(offsets) < 0))
            ):
                raise EventFileError(
                    f"{where}, branch {b!r}: the tree has {n} entries but the branch stores "
                    f"{int(branch.num_entries)} (baskets starting at entries "
                    f"{offsets[:6].tolist()}{' ...' if len(offsets) > 6 else ''}). {FIX}"
                )
    return n


def check_keys(f: Any, where: str) -> None:
    """Compare every key of the directory listing with the header in front of its object.

    Raises:
        EventFileError: a key's two copies differ (naming the key and the byte offset).
    """
    with guard(where, "the list of keys (the file's directory)"):
        names = f.keys(cycle=True, recursive=True)[:MAX_KEYS_CHECKED]
    for name in names:
        with guard(where, f"the header of key {name!r}"):
            key = f.key(name)
            seek = int(key.fSeekKey)
            chunk = f.file.chunk(seek, seek + int(key.fKeylen))
            own = ReadOnlyKey(chunk, Cursor(seek), {}, f.file, f, read_strings=True)
            listed = [getattr(key, a) for a in (*_KEY_FIELDS, "fSeekKey")]
            stored = [getattr(own, a) for a in (*_KEY_FIELDS, "fSeekKey")]
        if listed != stored:
            diff = [
                f"{a} {x!r} / {y!r}"
                for a, x, y in zip((*_KEY_FIELDS, "fSeekKey"), listed, stored, strict=True)
                if x != y
            ]
            raise EventFileError(
                f"{where}: key {name!r} at byte {seek}: the directory and the key's own header "
                f"disagree ({'; '.join(diff)}). {FIX}"
            )
