"""Reading several event files as one sample, in input order (the jobs' first step)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import awkward as ak
import numpy as np

from latentsym.io.read import read_events
from latentsym.io.root import ReadOptions
from latentsym.io.schema import RunInfo, concatenate_events

__all__ = ["read_many"]


def read_many(
    paths: Sequence[str | os.PathLike[str]],
    *,
    max_events: int | None = None,
    read: ReadOptions | None = None,
) -> tuple[ak.Array, list[RunInfo], np.ndarray, np.ndarray]:
    """Read several event files and concatenate them in input order.

    Args:
        paths: event files (LHE and ROOT may be mixed).
        max_events: read at most this many events in all (files in order).
        read: how ROOT files are read.

    Returns:
        ``(events, infos, file_index, entry)``: the events, one RunInfo per file, and for
        every event the index of its file and its entry in that file. Fields that only
        some files carry are left out.
    """
    options = (read or ReadOptions()).kwargs()
    chunks, infos, file_index, entry = [], [], [], []
    remaining = max_events
    for i, path in enumerate(paths):
        if remaining is not None and remaining <= 0:
            break
        events, info = read_events(path, max_events=remaining, **options)
        chunks.append(events)
        infos.append(info)
        file_index.append(np.full(len(events), i, dtype=np.int32))
        entry.append(np.arange(len(events), dtype=np.int64))
        if remaining is not None:
            remaining -= len(events)
    events = chunks[0] if len(chunks) == 1 else concatenate_events(chunks, paths)
    return events, infos, np.concatenate(file_index), np.concatenate(entry)
