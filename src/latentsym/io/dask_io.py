"""Reading, final-state selection and feature building over many files on a dask cluster.

:func:`read_select_build` gives what the single-process path
(:func:`latentsym.pipeline.read_many`, :func:`~latentsym.physics.select_final_state`,
:func:`~latentsym.features.build`) gives, bit for bit and in the same event order, with the
work spread over the workers of a ``distributed`` cluster:

1. **Read** (one task per chunk). ROOT files go through ``uproot.dask``: one dask-awkward
   partition per ``step_size`` entries, turned into events by the layout's recipe (every
   layout of :mod:`latentsym.io.root`, TTree or RNTuple). LHE files are one task per file,
   read ``step_size`` events at a time with :func:`~latentsym.io.iterate_events`. Each task
   keeps only the outgoing (status 1) particles and the weights, in worker memory, and
   reports its final-state counts.
2. **Choose** the topology on the client from the summed counts, as
   :func:`~latentsym.physics.select_final_state` does on the whole sample (the most common
   one unless ``topology`` names one; ties broken the same way).
3. **Select and build** (one task per chunk that holds the topology): the final state and
   the float64 features; the client concatenates them in input order and applies the
   constant-feature rule to the whole sample.

``max_events`` applies to the total, files read in order, as in ``read_many``: the share
of a ROOT file is known from its entry count; the files after an LHE file wait until that
file's count is known (the LHE files themselves still read in parallel when
``max_events`` is None). The files must be readable under the same path from the client
(which reads the ROOT headers) and from every worker; the workers need latentsym installed.

Example:
    >>> with connect("auto") as client:  # doctest: +SKIP
    ...     got = read_select_build(["a.root", "b.lhe.gz"], client, topology="mu+ mu-")
    >>> got.final_state.n_events, got.features.values.shape  # doctest: +SKIP
    (40000, (40000, 8))
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import awkward as ak
import numpy as np

from latentsym.errors import ConfigError
from latentsym.io.schema import RunInfo, concatenate_events
from latentsym.physics.selection import (
    FinalState,
    choose_topology,
    dropped_counts,
    final_state_counts,
)

if TYPE_CHECKING:  # features.build imports torch: the workers load it only to build features
    from latentsym.features.build import FeatureMatrix

__all__ = ["DEFAULT_STEP_SIZE", "DaskEvents", "connect", "read_select_build"]

#: events (LHE) or entries (ROOT) per task chunk
DEFAULT_STEP_SIZE = 100_000
_ROOT_OPTIONS = ("tree", "layout", "collections", "branches", "flavour", "sqrt_s", "beams")
_START_HINT = (
    "Start a scheduler with `dask scheduler` (it prints its address, port 8786 by default) "
    "and workers with `dask worker tcp://HOST:8786` (latentsym must be installed where the "
    "workers run), or use 'auto' for a local cluster."
)


@contextmanager
def connect(
    address: str = "auto", *, n_workers: int | None = None, timeout: float = 10.0
) -> Iterator[Any]:
    """A ``distributed.Client``: on a new local cluster, or on a running scheduler.

    Args:
        address: ``"auto"`` starts a ``LocalCluster`` of ``n_workers`` processes (one
            thread each, its HTTP endpoints on a free port of 127.0.0.1, quiet logs),
            closed at exit; ``"tcp://host:port"``
            (or ``tls://``) connects to a running scheduler, left running at exit.
        n_workers: ``"auto"`` only: worker processes (default ``os.cpu_count()``, at most
            8: every worker holds its own copy of numpy, awkward and torch).
        timeout: seconds to wait for the scheduler.

    Yields:
        The connected ``distributed.Client``.

    Raises:
        ConfigError: an address of another form, or no scheduler answers there.

    Example:
        >>> with connect("auto", n_workers=2) as client:  # doctest: +SKIP
        ...     print(len(client.scheduler_info()["workers"]))
        2
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ConfigError(
            f"dask address {address!r}: dask is not installed here ({exc}). Install it with "
            "pip install 'latentsym[dask]'."
        ) from exc

    if address == "auto":
        n = n_workers if n_workers is not None else min(os.cpu_count() or 2, 8)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"n_workers must be a positive number of processes, got {n!r}")
        with (
            LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                # the scheduler's HTTP server on a free local port: with the default
                # (8787) a second local cluster on the machine has to retry another port
                dashboard_address="127.0.0.1:0",
                silence_logs=logging.ERROR,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    if not isinstance(address, str) or not address.startswith(("tcp://", "tls://")):
        raise ConfigError(
            f"dask address {address!r}: expected 'auto' or a scheduler address such as "
            f"'tcp://127.0.0.1:8786'. {_START_HINT}"
        )
    try:
        client = Client(address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise ConfigError(
            f"cannot reach a dask scheduler at {address} within {timeout:g} s ({exc}). "
            f"{_START_HINT}"
        ) from exc
    with client:
        yield client


@dataclass(frozen=True, eq=False)
class DaskEvents:
    """What the single-process path gets from ``read_many`` + selection + features.

    Attributes:
        final_state: the selected events (as ``select_final_state`` on all events read).
        features: ``build(final_state, representation)``, or None without a representation.
        infos: one :class:`RunInfo` per file read, in input order.
        file_index: ``[n_events]`` int32 index of each event's file in ``paths``.
        entry: ``[n_events]`` int64 entry of each event in its file.
        n_events: number of events read (before the selection).
    """

    final_state: FinalState
    features: FeatureMatrix | None
    infos: list[RunInfo]
    file_index: np.ndarray
    entry: np.ndarray
    n_events: int


@dataclass(frozen=True, eq=False)
class _Part:
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
    plan_options: dict[str, Any]
    stored: dict[str, Any]
    sqrt_s: float | None
    beams: Any

    @property
    def where(self) -> str:
        return f"{self.path}: tree {self.tree!r}"


def _outgoing_part(events: ak.Array, info: RunInfo | None, extra: dict[str, Any]) -> _Part:
    parts = events.particles
    kept = ak.with_field(events[["particles", "weight"]], parts[parts.status == 1], "particles")
    return _Part(kept, dict(final_state_counts(events)), info, extra)


def _read_lhe(path: str, step_size: int, max_events: int | None) -> _Part:
    """Worker: one LHE file, read in chunks of ``step_size`` events."""
    from latentsym.io.read import iterate_events, read_events

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
    return _Part(events, dict(counts), info, {})


def _read_root(arrays: ak.Array, f: _RootFile, start: int) -> _Part:
    """Worker: one uproot.dask partition (entries from ``start``) of a ROOT file."""
    from latentsym.io._root_layouts import make_plan
    from latentsym.io.root import _check_branches

    plan = make_plan(f.where, f.keys, f.layout, stored=f.stored, **f.plan_options)
    _check_branches(arrays, plan, f.where, start)
    source = f.path if start == 0 else f"{f.path} (entries from {start})"
    events, extra = plan.build(arrays, source)
    return _outgoing_part(events, None, extra)


def _summary(part: _Part) -> tuple[int, dict[tuple[int, ...], int], RunInfo | None, dict]:
    return len(part.events), part.counts, part.info, part.extra


def _select(part: _Part, wanted: tuple[int, ...], offset: int, representation: Any) -> dict:
    """Worker: the final state of one part and its float64 features."""
    from latentsym.physics.selection import select_final_state

    fs = select_final_state(part.events, wanted)
    fs = dataclasses.replace(fs, event_index=fs.event_index + offset)
    out: dict[str, Any] = {"particles": fs.particles, "weight": fs.weight, "index": fs.event_index}
    if representation is not None:
        import torch

        from latentsym.features.build import build
        from latentsym.features.representations import get_representation

        fm = build(fs, representation)  # its checks name the event by its global index
        rep = get_representation(representation)
        out["values"] = rep.from_momenta(torch.from_numpy(fm.momenta)).numpy()
        out["meta"] = (fm.names, fm.units, fm.representation, fm.particle_names)
    return out


def _root_file(path: Any, options: dict[str, Any]) -> tuple[_RootFile, int, Any]:
    """Client: open a ROOT file's header, choose its tree and layout (errors as read_root).

    Returns the file's plan inputs, its number of entries, and a key equal for files that
    one ``uproot.dask`` call can read together (same tree, layout and branch types).
    """
    from latentsym.io.root import _check_options, _prepare

    unknown = sorted(set(options) - set(_ROOT_OPTIONS))
    if unknown:
        raise ConfigError(f"{path}: unknown options {unknown}; allowed: {list(_ROOT_OPTIONS)}")
    _check_options(options.get("sqrt_s"), options.get("beams"))
    plan_options = {
        "collections": options.get("collections"),
        "branches": options.get("branches"),
        "flavour": options.get("flavour", "mu"),
    }
    tree, layout = options.get("tree"), options.get("layout")
    name, obj, layout, plan, stored = _prepare(path, tree, layout, plan_options)
    keys = [str(k) for k in obj.keys()]  # noqa: SIM118 (uproot objects iterate over branches)
    sqrt_s, beams = options.get("sqrt_s"), options.get("beams")
    f = _RootFile(str(path), name, layout, keys, plan_options, stored, sqrt_s, beams)
    types = obj.typenames()
    key = (name, layout, type(obj).__name__, tuple((b, types.get(b)) for b in plan.branches))
    return f, int(obj.num_entries), key


def _submit_root(
    client: Any, group: list[tuple[int, _RootFile, int]], step_size: int
) -> list[tuple[int, int, Any]]:
    """Client: read a group of ROOT files through one ``uproot.dask`` array.

    ``group`` holds ``(file index, file, entries to read)``; returns ``(file index, first
    entry, future of a _Part)`` per partition, in file and entry order.
    """
    import dask
    import uproot

    from latentsym.io._root_layouts import make_plan

    first = group[0][1]
    plan = make_plan(
        first.where, first.keys, first.layout, stored=first.stored, **first.plan_options
    )
    spec, parts = {}, []
    for i, f, n in group:
        steps = [[s, min(s + step_size, n)] for s in range(0, n, step_size)]
        spec[f.path] = {"object_path": f.tree, "steps": steps}
        parts += [(i, s, f) for s, _ in steps]
    arr = uproot.dask(spec, filter_name=plan.branches)
    delayed = arr.to_delayed()
    tasks = [dask.delayed(_read_root)(d, f, s) for d, (_, s, f) in zip(delayed, parts, strict=True)]
    futures = client.compute(tasks)
    return [(i, s, fut) for (i, s, _), fut in zip(parts, futures, strict=True)]


def _in_order(client: Any, futures: list[Any]) -> list[Any]:
    """All results; on failures, the error of the first failed future in list order."""
    from distributed import wait

    wait(futures)
    for fut in futures:
        if fut.status == "error":
            fut.result()  # raises the worker's exception
    return list(client.gather(futures))


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


def read_select_build(
    paths: Sequence[str | os.PathLike[str]],
    client: Any,
    *,
    topology: str | list[int] | list[str] | tuple[int | str, ...] | None = None,
    representation: Any = "cartesian",
    max_events: int | None = None,
    step_size: int = DEFAULT_STEP_SIZE,
    **options: Any,
) -> DaskEvents:
    """Read files, select one final state and build its features on the cluster's workers.

    Args:
        paths: event files (``.lhe``, ``.lhe.gz``, ROOT), read in this order.
        client: a ``distributed.Client`` (see :func:`connect`).
        topology: as in ``select_final_state`` (default: the most common final state of
            all events read).
        representation: as in ``features.build`` (``"cartesian"``, ``"collider"``); None
            skips the features.
        max_events: read at most this many events in all (as ``read_many``).
        step_size: events (LHE) or entries (ROOT) per read chunk.
        **options: ROOT reading options (``tree``, ``layout``, ``collections``,
            ``branches``, ``flavour``, ``sqrt_s``, ``beams``; see ``read_root``).

    Returns:
        A :class:`DaskEvents`, equal to the single-process results: final state, features
        ``[N, F]``, RunInfos, and per event read its file index and entry.

    Raises:
        EventFileError, SchemaError, TopologyError, ConfigError: as the single-process
        path raises them (the first failing chunk in input order).

    Example:
        >>> with connect("auto") as client:  # doctest: +SKIP
        ...     got = read_select_build(sorted(glob.glob("run*/*.root")), client)
    """
    from latentsym.io.read import detect_format

    paths = list(paths)
    if not paths:
        raise ConfigError("no event files given: pass at least one .lhe, .lhe.gz or ROOT file")
    remaining = None if max_events is None else _check_count("max_events", max_events)
    step = _check_count("step_size", step_size)
    units: list[tuple[int, int, Any]] = []  # (file index, first entry, future of a _Part)
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
        summaries = _in_order(client, [client.submit(_summary, f, pure=False) for *_, f in units])
        total: Counter[tuple[int, ...]] = Counter()
        for s in summaries:
            total.update(s[1])
        counts = sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))
        wanted = choose_topology(counts, topology)
        offsets = np.cumsum([0] + [s[0] for s in summaries])
        selected = [
            client.submit(_select, fut, wanted, int(offsets[k]), representation, pure=False)
            for k, (_, _, fut) in enumerate(units)
            if wanted in summaries[k][1]
        ]
        results = _in_order(client, selected)
    finally:
        client.cancel([fut for _, _, fut in units])
    return _assemble(units, summaries, root_files, counts, wanted, results, representation)


def _assemble(
    units: list[tuple[int, int, Any]],
    summaries: list[tuple[int, dict, RunInfo | None, dict]],
    root_files: dict[int, _RootFile],
    counts: list[tuple[tuple[int, ...], int]],
    wanted: tuple[int, ...],
    results: list[dict],
    representation: Any,
) -> DaskEvents:
    from latentsym.features.build import FeatureMatrix
    from latentsym.features.scaler import constant_mask
    from latentsym.io.root import _run_info

    def cat(key: str) -> Any:
        items = [r[key] for r in results]
        if isinstance(items[0], np.ndarray):
            return np.concatenate(items)
        return concatenate_events(items)  # on the fields all files share, as read_many

    n_read = sum(s[0] for s in summaries)
    fs = FinalState(
        particles=cat("particles"),
        pids=wanted,
        weight=cat("weight"),
        event_index=cat("index"),
        n_input=n_read,
        dropped=dropped_counts(counts, wanted),
    )
    features = None
    if representation is not None:
        values = cat("values")
        names, units_, rep_name, particle_names = results[0]["meta"]
        const = constant_mask(values)
        features = FeatureMatrix(
            values=values.astype(np.float32),
            names=names,
            units=units_,
            representation=rep_name,
            particle_names=particle_names,
            momenta=np.asarray(fs.momenta(), dtype=np.float64),
            constant=tuple(n for n, c in zip(names, const, strict=True) if c),
            weight=np.asarray(fs.weight, dtype=np.float64),
            event_index=np.asarray(fs.event_index, dtype=np.int64),
        )
    infos: list[RunInfo] = []
    for i in dict.fromkeys(u[0] for u in units):
        mine = [s for u, s in zip(units, summaries, strict=True) if u[0] == i]
        n = sum(s[0] for s in mine)
        if i in root_files:
            f = root_files[i]
            extra = _merged_extra([s[3] for s in mine])
            infos.append(_run_info(f.path, f.tree, f.layout, n, f.stored, extra, f.sqrt_s, f.beams))
        elif mine[0][2] is not None:  # an LHE file: its task made the RunInfo
            infos.append(mine[0][2])
    file_index = np.concatenate(
        [np.full(s[0], u[0], dtype=np.int32) for u, s in zip(units, summaries, strict=True)]
    )
    entry = np.concatenate(
        [
            np.arange(u[1], u[1] + s[0], dtype=np.int64)
            for u, s in zip(units, summaries, strict=True)
        ]
    )
    return DaskEvents(fs, features, infos, file_index, entry, n_read)
