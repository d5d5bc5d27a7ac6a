"""Reading many event files on a dask cluster: one task per chunk, results kept on workers.

:func:`submit_reads` spreads the reading of event files over the workers of a
``distributed`` cluster and returns, for every chunk, a future of its events (only the
outgoing, status 1, particles and the weights, kept in worker memory) with the chunk's
final-state counts:

- ROOT files go through ``uproot.dask``: one dask-awkward partition per ``step_size``
  entries, turned into events by the layout's recipe (every layout of
  :mod:`latentsym.io.root`, TTree or RNTuple).
- LHE files are one task per file, read ``step_size`` events at a time with
  :func:`~latentsym.io.iterate_events`.

``max_events`` applies to the total, files read in order: the share of a ROOT file is
known from its entry count; the files after an LHE file wait until that file's count is
known (the LHE files themselves still read in parallel when ``max_events`` is None). The
files must be readable under the same path from the client (which reads the ROOT headers)
and from every worker; the workers need latentsym installed.

Choosing the final state from the summed counts and building the features on the workers
is the job :func:`latentsym.jobs.dask_read.read_select_build`.

Example:
    Two bundled samples (20,000 events each) on an in-process cluster: the ROOT file in
    four chunks of 5,000 entries, the LHE file in one task.

    >>> from distributed import Client
    >>> paths = [SAMPLES / "ee_mumu_91GeV.root", SAMPLES / "ee_tautau_91GeV.lhe.gz"]
    >>> with Client(processes=False, n_workers=1, dashboard_address="127.0.0.1:0") as client:
    ...     reads = submit_reads(paths, client, step_size=5000)
    ...     reads.cancel()
    >>> reads.n_events, reads.counts
    (40000, [((-15, 15), 20000), ((-13, 13), 20000)])
    >>> [(i, first) for i, first, _ in reads.units]
    [(0, 0), (0, 5000), (0, 10000), (0, 15000), (1, 0)]
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np
import uproot

from latentsym.errors import ConfigError, EventFileError, LatentsymError
from latentsym.io._root_guard import FIX, describe_error, guard
from latentsym.io._root_layouts import make_plan
from latentsym.io._root_names import is_scalar
from latentsym.io.formats import detect_format
from latentsym.io.read import iterate_events, read_events
from latentsym.io.root import (
    ReadOptions,
    build_events,
    check_branches,
    check_options,
    prepare,
    run_info,
)
from latentsym.io.schema import RunInfo
from latentsym.physics.selection import final_state_counts

__all__ = [
    "DEFAULT_STEP_SIZE",
    "ROOT_OPTIONS",
    "DaskReads",
    "ReadPart",
    "gather_in_order",
    "submit_reads",
]

DEFAULT_STEP_SIZE = 100_000
"""Events (LHE) or entries (ROOT) per task chunk."""
ROOT_OPTIONS = ("tree", "layout", "collections", "branches", "flavour", "sqrt_s", "beams")
"""Reading options :func:`submit_reads` passes on to the ROOT files (see ``read_root``)."""


@dataclass(frozen=True, eq=False)
class ReadPart:
    """One read task's result, kept on its worker: outgoing particles, weights, counts."""

    events: ak.Array
    counts: dict[tuple[int, ...], int]
    info: RunInfo | None  # LHE: the file's RunInfo
    extra: dict[str, Any]  # ROOT: what the layout's build reported for this chunk


@dataclass(frozen=True)
class _RootFile:
    """What a worker needs to rebuild a ROOT file's reading plan, and its RunInfo inputs."""

    path: str
    tree: str
    layout: str
    keys: list[str]
    scalars: list[str]
    plan_options: dict[str, Any]
    stored: dict[str, Any]
    sqrt_s: float | None
    beams: Any

    @property
    def where(self) -> str:
        return f"{self.path}: tree {self.tree!r}"


def _outgoing_part(events: ak.Array, info: RunInfo | None, extra: dict[str, Any]) -> ReadPart:
    parts = events.particles
    kept = ak.with_field(events[["particles", "weight"]], parts[parts.status == 1], "particles")
    return ReadPart(kept, dict(final_state_counts(events)), info, extra)


def _read_lhe(path: str, step_size: int, max_events: int | None) -> ReadPart:
    """Worker: one LHE file, read in chunks of ``step_size`` events."""
    chunks, first_info = [], None
    for events, info in iterate_events(path, step_size=step_size, max_events=max_events):
        first_info = first_info or info
        chunks.append(_outgoing_part(events, None, {}))
    if first_info is None:  # no events: read_events gives the file's RunInfo all the same
        events, info = read_events(path, max_events=max_events)
        return _outgoing_part(events, info, {})
    counts: Counter[tuple[int, ...]] = Counter()
    for c in chunks:
        counts.update(c.counts)
    n = sum(len(c.events) for c in chunks)
    extra = {k: v for k, v in first_info.extra.items() if k != "first_event"}
    info = dataclasses.replace(first_info, n_events=n, extra=extra)
    events = chunks[0].events if len(chunks) == 1 else ak.concatenate([c.events for c in chunks])
    return ReadPart(events, dict(counts), info, {})


def _read_root(arrays: ak.Array, f: _RootFile, start: int) -> ReadPart:
    """Worker: one uproot.dask partition (entries from ``start``) of a ROOT file."""
    plan = make_plan(
        f.where, f.keys, f.layout, stored=f.stored, scalars=f.scalars, **f.plan_options
    )
    check_branches(arrays, plan, f.where, start)
    source = f.path if start == 0 else f"{f.path} (entries from {start})"
    events, extra = build_events(plan, arrays, source, start)
    return _outgoing_part(events, None, extra)


def _summary(part: ReadPart) -> Summary:
    return len(part.events), part.counts, part.info, part.extra


def _root_file(path: Any, options: dict[str, Any]) -> tuple[_RootFile, int, Any]:
    """Client: open a ROOT file's header, choose its tree and layout (errors as read_root).

    Returns the file's plan inputs, its number of entries, and a key equal for files that
    one ``uproot.dask`` call can read together (same tree, layout and branch types).
    """
    unknown = sorted(set(options) - set(ROOT_OPTIONS))
    if unknown:
        raise ConfigError(f"{path}: unknown options {unknown}; allowed: {list(ROOT_OPTIONS)}")
    check_options(options.get("sqrt_s"), options.get("beams"))
    plan_options = ReadOptions(**options).plan_options()  # --branches text parsed there
    tree, layout = options.get("tree"), options.get("layout")
    name, obj, layout, plan, stored = prepare(path, tree, layout, plan_options)
    with guard(f"{path}: tree {name!r}", "the list of branches"):
        keys = [str(k) for k in obj.keys()]  # noqa: SIM118 (uproot objects iterate over branches)
        types = obj.typenames()
    scalars = [k for k in keys if is_scalar(str(types.get(k, "")))]
    sqrt_s, beams = options.get("sqrt_s"), options.get("beams")
    f = _RootFile(str(path), name, layout, keys, scalars, plan_options, stored, sqrt_s, beams)
    key = (name, layout, type(obj).__name__, tuple((b, types.get(b)) for b in plan.branches))
    return f, int(obj.num_entries), key


def _submit_root(
    client: Any, group: list[tuple[int, _RootFile, int]], step_size: int
) -> list[tuple[int, int, Any]]:
    """Client: read a group of ROOT files through one ``uproot.dask`` array.

    ``group`` holds ``(file index, file, entries to read)``; returns ``(file index, first
    entry, future of a ReadPart)`` per partition, in file and entry order.
    """
    import dask  # optional dependency: only where a cluster is used

    first = group[0][1]
    plan = make_plan(
        first.where,
        first.keys,
        first.layout,
        stored=first.stored,
        scalars=first.scalars,
        **first.plan_options,
    )
    spec, parts = {}, []
    for i, f, n in group:
        steps = [[s, min(s + step_size, n)] for s in range(0, n, step_size)]
        spec[f.path] = {"object_path": f.tree, "steps": steps}
        parts += [(i, s, f) for s, _ in steps]
    with guard(first.where, "the tree's partitions"):
        arr = uproot.dask(spec, filter_name=plan.branches)
    delayed = arr.to_delayed()
    tasks = [dask.delayed(_read_root)(d, f, s) for d, (_, s, f) in zip(delayed, parts, strict=True)]
    futures = client.compute(tasks)
    return [(i, s, fut) for (i, s, _), fut in zip(parts, futures, strict=True)]


def gather_in_order(client: Any, futures: list[Any]) -> list[Any]:
    """All results of ``futures``; on failures, the error of the first failed one in list
    order (not the first to fail in time), so that errors do not depend on scheduling."""
    from distributed import wait  # optional dependency: only where a cluster is used

    wait(futures)
    for fut in futures:
        if fut.status == "error":
            fut.result()  # raises the worker's exception
    return list(client.gather(futures))


def _gather_summaries(
    client: Any, units: list[tuple[int, int, Any]], paths: Sequence[Any]
) -> list[Summary]:
    """Every chunk's summary; a foreign failure on a worker (uproot's, on a damaged file)
    becomes an :class:`EventFileError` naming the file and the chunk's first entry."""
    futures = [client.submit(_summary, f, pure=False) for *_, f in units]
    try:
        return gather_in_order(client, futures)
    except LatentsymError:
        raise
    except Exception as exc:
        failed = [u for u, f in zip(units, futures, strict=True) if f.status == "error"]
        i, first = failed[0][:2] if failed else (0, 0)
        raise EventFileError(
            f"{paths[i]}: the chunk from entry {first} cannot be read ({describe_error(exc)}). "
            f"{FIX}"
        ) from exc


def _check_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name} must be a positive number of events, got {value!r}")
    return int(value)


def _merged_extra(extras: list[dict[str, Any]]) -> dict[str, Any]:
    """A ROOT file's info extra from its chunks' (counts add up, the rest is per file)."""
    out = dict(extras[0])
    if "dropped_along_beam" in out:
        out["dropped_along_beam"] = sum(int(e["dropped_along_beam"]) for e in extras)
    return out


Summary = tuple[int, dict[tuple[int, ...], int], RunInfo | None, dict[str, Any]]
"""What a read task reports to the client: events, final-state counts, RunInfo, extra."""


@dataclass(frozen=True, eq=False)
class DaskReads:
    """The read tasks of :func:`submit_reads`, in input order, and what they reported.

    Attributes:
        client: the ``distributed.Client`` the tasks run on.
        units: ``(file index, first entry, future)`` per chunk; the future holds the
            chunk's outgoing particles and weights (a private part object, on its worker).
        summaries: per chunk ``(events read, final-state counts, RunInfo of an LHE file or
            None, what a ROOT layout reported)``.
        root_files: the plan inputs of each ROOT file, by file index.
    """

    client: Any
    units: list[tuple[int, int, Any]]
    summaries: list[Summary]
    root_files: dict[int, _RootFile]

    @property
    def n_events(self) -> int:
        """Events read in all."""
        return sum(s[0] for s in self.summaries)

    @property
    def counts(self) -> list[tuple[tuple[int, ...], int]]:
        """Summed final-state counts, most common first (ties by PDG ids), as
        :func:`~latentsym.physics.selection.choose_topology` takes them."""
        total: Counter[tuple[int, ...]] = Counter()
        for s in self.summaries:
            total.update(s[1])
        return sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))

    @property
    def offsets(self) -> np.ndarray:
        """``[n_chunks + 1]`` index of each chunk's first event among all events read."""
        return np.cumsum([0] + [s[0] for s in self.summaries])

    def cancel(self) -> None:
        """Release the chunks held on the workers."""
        self.client.cancel([fut for _, _, fut in self.units])

    def run_infos(self) -> list[RunInfo]:
        """One :class:`RunInfo` per file read, in input order (as ``read_events`` gives)."""
        infos: list[RunInfo] = []
        for i in dict.fromkeys(u[0] for u in self.units):
            mine = [s for u, s in zip(self.units, self.summaries, strict=True) if u[0] == i]
            n = sum(s[0] for s in mine)
            if i in self.root_files:
                f = self.root_files[i]
                extra = _merged_extra([s[3] for s in mine])
                infos.append(
                    run_info(f.path, f.tree, f.layout, n, f.stored, extra, f.sqrt_s, f.beams)
                )
            elif mine[0][2] is not None:  # an LHE file: its task made the RunInfo
                infos.append(mine[0][2])
        return infos

    def origin(self) -> tuple[np.ndarray, np.ndarray]:
        """``(file_index [N] int32, entry [N] int64)`` of every event read."""
        pairs = list(zip(self.units, self.summaries, strict=True))
        file_index = np.concatenate([np.full(s[0], u[0], dtype=np.int32) for u, s in pairs])
        entry = np.concatenate([np.arange(u[1], u[1] + s[0], dtype=np.int64) for u, s in pairs])
        return file_index, entry


def submit_reads(
    paths: Sequence[str | os.PathLike[str]],
    client: Any,
    *,
    max_events: int | None = None,
    step_size: int = DEFAULT_STEP_SIZE,
    **options: Any,
) -> DaskReads:
    """Read event files on the cluster's workers; wait for every chunk's counts.

    Args:
        paths: event files (``.lhe``, ``.lhe.gz``, ROOT), read in this order.
        client: a ``distributed.Client``.
        max_events: read at most this many events in all (files in order).
        step_size: events (LHE) or entries (ROOT) per read chunk.
        **options: ROOT reading options (:data:`ROOT_OPTIONS`; see ``read_root``).

    Returns:
        A :class:`DaskReads`; its chunks stay on the workers until :meth:`DaskReads.cancel`.

    Raises:
        EventFileError, SchemaError, ConfigError: as ``read_events`` raises them (the first
            failing chunk in input order); the chunks read so far are released.
    """
    paths = list(paths)
    if not paths:
        raise ConfigError("no event files given: pass at least one .lhe, .lhe.gz or ROOT file")
    remaining = None if max_events is None else _check_count("max_events", max_events)
    step = _check_count("step_size", step_size)
    units: list[tuple[int, int, Any]] = []  # (file index, first entry, future of a ReadPart)
    root_files: dict[int, _RootFile] = {}
    group: list[tuple[int, _RootFile, int]] = []  # ROOT files to read in one uproot.dask
    group_key: Any = None
    try:
        for i, path in enumerate(paths):
            if remaining is not None and remaining <= 0:
                break
            if detect_format(path) == "root":
                f, entries, key = _root_file(path, options)
                if group and (key != group_key or f.path in {g[1].path for g in group}):
                    units += _submit_root(client, group, step)
                    group = []
                root_files[i], group_key = f, key
                n = entries if remaining is None else min(entries, remaining)
                group.append((i, f, n))
            else:
                if options:
                    raise ConfigError(
                        f"{path}: options {sorted(options)} apply to ROOT files only; an LHE "
                        "file takes only max_events."
                    )
                if group:
                    units += _submit_root(client, group, step)
                    group = []
                fut = client.submit(_read_lhe, str(path), step, remaining, pure=False)
                units.append((i, 0, fut))
                if remaining is not None:  # the next files' shares depend on this count
                    n = int(client.submit(_summary, fut, pure=False).result()[0])
            if remaining is not None:
                remaining -= n
        if group:
            units += _submit_root(client, group, step)
        summaries = _gather_summaries(client, units, paths)
    except BaseException:
        client.cancel([fut for _, _, fut in units])
        raise
    return DaskReads(client, units, summaries, root_files)
