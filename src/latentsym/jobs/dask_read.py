"""Reading, final-state selection and feature building over many files on a dask cluster.

:func:`read_select_build` gives what the single-process path
(:func:`latentsym.jobs.run.read_many`, :func:`~latentsym.physics.select_final_state`,
:func:`~latentsym.features.build`) gives, bit for bit and in the same event order, with the
work spread over the workers of a ``distributed`` cluster:

1. **Read** (one task per chunk, :func:`latentsym.io.dask_io.submit_reads`). Each task
   keeps only the outgoing (status 1) particles and the weights, in worker memory, and
   reports its final-state counts.
2. **Choose** the topology on the client from the summed counts, as
   :func:`~latentsym.physics.select_final_state` does on the whole sample (the most common
   one unless ``topology`` names one; ties broken the same way).
3. **Select and build** (one task per chunk that holds the topology): the final state and
   the float64 features; the client concatenates them in input order and applies the
   constant-feature rule to the whole sample.

``max_events`` applies to the total, files read in order, as in ``read_many``. The files
must be readable under the same path from the client and from every worker; the workers
need latentsym installed.

Example:
    Both files of the bundled e+e- -> mu+ mu- sample (20,000 events each) on an in-process
    cluster (``connect("auto")`` starts worker processes instead):

    >>> from distributed import Client
    >>> paths = [SAMPLES / "ee_mumu_91GeV.root", SAMPLES / "ee_mumu_91GeV.lhe.gz"]
    >>> with Client(processes=False, n_workers=1, dashboard_address="127.0.0.1:0") as client:
    ...     got = read_select_build(paths, client, topology="mu+ mu-")
    >>> got.final_state.n_events, got.features.values.shape
    (40000, (40000, 8))
    >>> got.file_index[19999:20001].tolist(), got.entry[19999:20001].tolist()
    ([0, 1], [19999, 0])
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from latentsym.errors import ConfigError
from latentsym.features.build import FeatureMatrix, build
from latentsym.features.representations import get_representation
from latentsym.features.scaler import constant_mask
from latentsym.io.dask_io import (
    DEFAULT_STEP_SIZE,
    DaskReads,
    ReadPart,
    gather_in_order,
    submit_reads,
)
from latentsym.io.schema import RunInfo, concatenate_events
from latentsym.physics.selection import (
    FinalState,
    choose_topology,
    dropped_counts,
    select_final_state,
)

__all__ = ["DaskEvents", "connect", "read_select_build"]

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
        A local cluster of one worker process (a second or two to start and close):

        >>> with connect("auto", n_workers=1) as client:
        ...     print(len(client.scheduler_info()["workers"]))
        1
    """
    try:  # an optional dependency (latentsym[dask])
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


def _select(
    part: ReadPart, wanted: tuple[int, ...], offset: int, representation: Any
) -> dict[str, Any]:
    """Worker: the final state of one part and its float64 features."""
    fs = select_final_state(part.events, wanted)
    fs = dataclasses.replace(fs, event_index=fs.event_index + offset)
    out: dict[str, Any] = {"particles": fs.particles, "weight": fs.weight, "index": fs.event_index}
    if representation is not None:
        fm = build(fs, representation)  # its checks name the event by its global index
        rep = get_representation(representation)
        out["values"] = rep.from_momenta(torch.from_numpy(fm.momenta)).numpy()
        out["meta"] = (fm.names, fm.units, fm.representation, fm.particle_names)
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
        The same features, bit for bit, as one process gives:

        >>> from distributed import Client
        >>> from latentsym.io import read_events
        >>> from latentsym.physics import select_final_state
        >>> path = SAMPLES / "ee_ZH_250GeV.root"
        >>> with Client(processes=False, n_workers=1, dashboard_address="127.0.0.1:0") as client:
        ...     got = read_select_build([path], client, max_events=1500, step_size=500)
        >>> got.final_state.names, got.features.values.shape
        (('mu+', 'b~', 'b', 'mu-'), (1500, 16))
        >>> events, _ = read_events(path, max_events=1500)
        >>> bool((build(select_final_state(events)).values == got.features.values).all())
        True
    """
    reads = submit_reads(paths, client, max_events=max_events, step_size=step_size, **options)
    try:
        counts = reads.counts
        wanted = choose_topology(counts, topology)
        offsets = reads.offsets
        selected = [
            client.submit(_select, fut, wanted, int(offsets[k]), representation, pure=False)
            for k, (_, _, fut) in enumerate(reads.units)
            if wanted in reads.summaries[k][1]
        ]
        results = gather_in_order(client, selected)
    finally:
        reads.cancel()
    return _assemble(reads, counts, wanted, results, representation)


def _assemble(
    reads: DaskReads,
    counts: list[tuple[tuple[int, ...], int]],
    wanted: tuple[int, ...],
    results: list[dict[str, Any]],
    representation: Any,
) -> DaskEvents:
    def cat(key: str) -> Any:
        items = [r[key] for r in results]
        if isinstance(items[0], np.ndarray):
            return np.concatenate(items)
        return concatenate_events(items)  # on the fields all files share, as read_many

    n_read = reads.n_events
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
    file_index, entry = reads.origin()
    return DaskEvents(fs, features, reads.run_infos(), file_index, entry, n_read)
