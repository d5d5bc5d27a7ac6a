"""Select one fixed final-state topology, with particles in a stable order.

Two modes: *exact* (the default), which keeps the events whose status-1 particles are
exactly the topology, and *inclusive* (``inclusive=True``), which keeps the events that
have at least the named particles among their status-1 particles and takes, for each
named particle, the highest-energy status-1 particle of that PDG id (the two highest for a
particle named twice, and so on); the other status-1 particles (photons radiated by the
leptons, the hadrons of a shower, a second same-sign lepton) are ignored and counted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import awkward as ak
import numpy as np

from latentsym.errors import SchemaError, TopologyError
from latentsym.physics.pdg import name_of, parse_topology

__all__ = [
    "FinalState",
    "choose_topology",
    "dropped_counts",
    "final_state_counts",
    "select_final_state",
    "topology_name",
]


def topology_name(pids: tuple[int, ...]) -> str:
    """Space-separated particle names of a topology, e.g. ``"mu+ mu-"``."""
    return " ".join(name_of(p) for p in pids)


@dataclass(frozen=True)
class FinalState:
    """Events reduced to one final-state topology.

    Particle order (the same in every event): by PDG id ascending, then by descending
    energy among identical ids. For ``mu+ mu-`` that is ``(mu+, mu-)`` since -13 < 13.

    Attributes:
        particles: ``[N, n]`` records (``p4`` Momentum4D, ``pid``, ``status``, ...).
        pids: the PDG ids of the n particles, in order.
        weight: ``[N]`` nominal event weights.
        event_index: ``[N]`` index of each kept event in the input array.
        n_input: number of events given.
        dropped: reason -> number of events dropped for it.
        inclusive: whether the selection was inclusive (the leading particle of each named
            id, the rest ignored) rather than exact.
        ignored: inclusive only: particle name -> number of status-1 particles left out of
            the kept events (most first); empty for an exact selection.
    """

    particles: ak.Array
    pids: tuple[int, ...]
    weight: np.ndarray
    event_index: np.ndarray
    n_input: int
    dropped: dict[str, int] = field(default_factory=dict)
    inclusive: bool = False
    ignored: dict[str, int] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        """Particle names, in order."""
        return tuple(name_of(p) for p in self.pids)

    @property
    def n_events(self) -> int:
        """Number of events kept."""
        return len(self.weight)

    @property
    def n_particles(self) -> int:
        """Number of final-state particles per event."""
        return len(self.pids)

    @property
    def p4(self) -> ak.Array:
        """``[N, n]`` Momentum4D of the ordered final-state particles."""
        return self.particles.p4

    def momenta(self) -> np.ndarray:
        """``[N, n, 4]`` float64 array of (E, px, py, pz) in GeV."""
        p4 = self.particles.p4
        comps = [p4.E, p4.px, p4.py, p4.pz]
        n = self.n_particles
        return np.stack([ak.to_numpy(c).reshape(-1, n) for c in comps], axis=-1)

    @property
    def n_ignored(self) -> int:
        """Inclusive selection: status-1 particles left out of the kept events, in all."""
        return sum(self.ignored.values())

    def summary(self) -> str:
        """One line: kept / input, the drop reasons and (inclusive) the ignored particles."""
        text = f"{topology_name(self.pids)}: kept {self.n_events} of {self.n_input} events"
        if self.inclusive:
            text += " (inclusive: the leading particle of each named id by energy)"
        if self.dropped:
            text += "; dropped: " + ", ".join(f"{n} {why}" for why, n in self.dropped.items())
        if self.inclusive:
            parts = [f"{n} {name}" for name, n in list(self.ignored.items())[:5]]
            if len(self.ignored) > 5:
                parts.append(f"{sum(list(self.ignored.values())[5:])} others")
            text += f"; ignored {self.n_ignored} other final-state particles"
            text += f" ({', '.join(parts)})" if parts else ""
        return text


def _outgoing(events: ak.Array) -> ak.Array:
    parts = events.particles
    return parts[parts.status == 1]


def final_state_counts(events: ak.Array) -> list[tuple[tuple[int, ...], int]]:
    """All final-state topologies (sorted PDG ids of status-1 particles) with their counts.

    Returns:
        ``[(pids, count), ...]`` sorted by count, most common first.
    """
    parts = events.particles
    sorted_pid = ak.sort(parts.pid[parts.status == 1], axis=1)
    sizes = ak.to_numpy(ak.num(sorted_pid, axis=1))
    ids, codes = np.unique(ak.to_numpy(ak.flatten(sorted_pid)), return_inverse=True)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    counts: dict[tuple[int, ...], int] = {}
    for n in np.unique(sizes).tolist():  # one vectorised count per multiplicity
        rows = starts[sizes == n]
        table = codes[rows[:, None] + np.arange(n)].astype(np.int64)
        if len(ids) ** n < 2**62:  # each row as one integer in base len(ids)
            packed = table @ (len(ids) ** np.arange(n, dtype=np.int64))
            _, first, found = np.unique(packed, return_index=True, return_counts=True)
            keys = table[first]
        else:
            keys, found = np.unique(table, axis=0, return_counts=True)
        for key, c in zip(ids[keys].tolist(), found.tolist(), strict=True):
            counts[tuple(key)] = c
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def choose_topology(
    counts: list[tuple[tuple[int, ...], int]],
    topology: str | list[int] | list[str] | tuple[int | str, ...] | None,
) -> tuple[int, ...]:
    """The final state to select, given the counts of every final state (most common first).

    Raises:
        TopologyError: no events, an empty most common final state, or a requested final
            state that no event has (the message lists the ones present).
    """
    if not counts:
        raise TopologyError("no events given")
    if topology is None:
        wanted = counts[0][0]
        if not wanted:
            raise TopologyError(
                "the most common final state is empty: the events have no outgoing (status 1) "
                "particles. Check the file's status codes."
            )
    else:
        wanted = parse_topology(topology)
    if wanted not in dict(counts):
        listing = "; ".join(f"{topology_name(k) or '(none)'}: {n}" for k, n in counts[:8])
        need = Counter(wanted)
        among = sum(n for k, n in counts if not need - Counter(k))
        hint = (
            f". {among} {'event has' if among == 1 else 'events have'} these particles among "
            "others: select them inclusively "
            "(--inclusive, inclusive=True)"
            if among
            else ""
        )
        raise TopologyError(
            f"no event has the final state {topology_name(wanted)!r}. Present: {listing}{hint}"
        )
    return wanted


def dropped_counts(
    counts: list[tuple[tuple[int, ...], int]], wanted: tuple[int, ...]
) -> dict[str, int]:
    """Events left out by the selection of ``wanted``, by final state (the 5 largest and
    the rest summed when there are more than 6)."""
    dropped = {
        f"with final state {topology_name(k) or '(none)'}": c for k, c in counts if k != wanted
    }
    if len(dropped) > 6:
        items = sorted(dropped.items(), key=lambda kv: -kv[1])
        dropped = dict(items[:5])
        dropped["with other final states"] = sum(c for _, c in items[5:])
    return dropped


def select_final_state(
    events: ak.Array,
    topology: str | list[int] | list[str] | tuple[int | str, ...] | None = None,
    *,
    inclusive: bool = False,
) -> FinalState:
    """Keep the events whose outgoing final state (status 1) is exactly ``topology``, or
    (``inclusive=True``) that contains it.

    Exact (the default): every status-1 particle of a kept event is in the topology and
    every particle of the topology is there.

    Inclusive: an event is kept when its status-1 particles include the named ones; for
    each named particle the highest-energy status-1 particle of that PDG id is taken (for
    a particle named k times, the k highest; equal energies keep the file's order), and
    the other status-1 particles are ignored and counted in ``FinalState.ignored``. After
    radiation (ISR, FSR, a shower) the taken particles no longer carry the whole event:
    momentum conservation and resonance masses hold only approximately among them, and
    :func:`latentsym.physics.constraints.dimension_ledger` reports them as they come out.

    Args:
        events: an event array in the latentsym schema.
        topology: particle names or PDG ids (``"mu+ mu-"``, ``[-13, 13]``); by default the
            most common final state of the sample (exact selection only: an inclusive one
            needs the particles named).
        inclusive: take the leading named particles and ignore the rest (see above).

    Returns:
        A :class:`FinalState` with the particles in the documented order and the counts
        of kept and dropped events (and, inclusive, of the ignored particles).

    Raises:
        TopologyError: when no event has the requested final state (lists the ones present)
            or, inclusive, no event has the named particles (lists the most common
            final-state particles), or an inclusive selection without a topology.

    Example:
        >>> from latentsym.io import read_events
        >>> events, _ = read_events(SAMPLES / "ee_mumu_91GeV.lhe.gz", max_events=1000)
        >>> fs = select_final_state(events, "mu+ mu-")
        >>> fs.summary()
        'mu+ mu-: kept 1000 of 1000 events'
        >>> fs.names, fs.pids, fs.momenta().shape
        (('mu+', 'mu-'), (-13, 13), (1000, 2, 4))
        >>> select_final_state(events, "e+ e-")
        Traceback (most recent call last):
        ...
        latentsym.errors.TopologyError: no event has the final state 'e+ e-'. Present: mu+ mu-: 1000

        Inclusive: the leading mu+ and mu- of events with more (toy events: the first has a
        FSR photon, the second a photon and a second, softer mu-):

        >>> from latentsym.io import make_events
        >>> zeros = [[0.0] * 3, [0.0] * 4]
        >>> toy = make_events(
        ...     p4={"px": zeros, "py": zeros, "pz": zeros,
        ...         "E": [[44.0, 45.6, 1.6], [45.6, 40.0, 5.6, 1.0]]},
        ...     pid=[[13, -13, 22], [13, -13, 13, 22]],
        ... )
        >>> fs = select_final_state(toy, "mu+ mu-", inclusive=True)
        >>> print(fs.summary())
        mu+ mu-: kept 2 of 2 events (inclusive: the leading particle of each named id by
        energy); ignored 3 other final-state particles (2 gamma, 1 mu-)
        >>> fs.momenta()[:, :, 0].tolist()  # energies of (mu+, mu-)
        [[45.6, 44.0], [40.0, 45.6]]
    """
    if "particles" not in ak.fields(events):
        raise SchemaError("events have no 'particles' field; read them with latentsym.read_events")
    if inclusive:
        return _select_inclusive(events, topology)
    counts = final_state_counts(events)
    n_input = len(events)
    wanted = choose_topology(counts, topology)
    out = _outgoing(events)
    key = ak.sort(out.pid, axis=1)
    n = len(wanted)
    mask = ak.to_numpy(ak.num(out, axis=1) == n)
    mask_idx = np.flatnonzero(mask)
    if n:
        same = np.all(ak.to_numpy(key[mask]).reshape(-1, n) == np.asarray(wanted), axis=1)
        keep = np.zeros(n_input, dtype=bool)
        keep[mask_idx[same]] = True
    else:
        keep = mask
    sel = out[keep]
    # stable order: PDG id ascending, then energy descending
    order = ak.argsort(sel.p4.E, axis=1, ascending=False, stable=True)
    sel = sel[order]
    order = ak.argsort(sel.pid, axis=1, ascending=True, stable=True)
    sel = sel[order]
    sel = ak.to_regular(sel, axis=1)
    return FinalState(
        particles=sel,
        pids=wanted,
        weight=ak.to_numpy(events.weight[keep]).astype(np.float64),
        event_index=np.flatnonzero(keep).astype(np.int64),
        n_input=n_input,
        dropped=dropped_counts(counts, wanted),
    )


def _select_inclusive(
    events: ak.Array, topology: str | list[int] | list[str] | tuple[int | str, ...] | None
) -> FinalState:
    """The inclusive selection of :func:`select_final_state`."""
    if topology is None:
        raise TopologyError(
            "an inclusive selection needs the particles to take: give the topology, "
            "e.g. 'mu+ mu-' (--topology 'mu+ mu-' --inclusive)"
        )
    wanted = parse_topology(topology)
    if not wanted:
        raise TopologyError("an inclusive selection needs at least one particle in the topology")
    n_input = len(events)
    out = _outgoing(events)
    out = out[ak.argsort(out.p4.E, axis=1, ascending=False, stable=True)]
    need = Counter(wanted)
    pids = sorted(need)
    has = np.ones((n_input, len(pids)), dtype=bool)
    for j, pid in enumerate(pids):
        has[:, j] = ak.to_numpy(ak.sum(out.pid == pid, axis=1)) >= need[pid]
    keep: np.ndarray = np.asarray(has.all(axis=1), dtype=bool)
    if not keep.any():
        ids, found = np.unique(ak.to_numpy(ak.flatten(out.pid)), return_counts=True)
        order = np.argsort(-found, kind="stable")[:8]
        common = ", ".join(f"{name_of(int(ids[k]))}: {int(found[k])}" for k in order)
        raise TopologyError(
            f"no event has {topology_name(wanted)!r} among its final-state (status 1) particles. "
            f"Most common final-state particles: {common or '(none)'}"
        )
    kept = out[keep]
    pieces = [kept[kept.pid == pid][:, : need[pid]] for pid in pids]
    sel = ak.to_regular(ak.concatenate(pieces, axis=1) if len(pieces) > 1 else pieces[0], axis=1)
    return FinalState(
        particles=sel,
        pids=wanted,
        weight=ak.to_numpy(events.weight[keep]).astype(np.float64),
        event_index=np.flatnonzero(keep).astype(np.int64),
        n_input=n_input,
        dropped=_lacking(has, keep, pids, need),
        inclusive=True,
        ignored=_ignored(kept, need),
    )


def _ignored(kept: ak.Array, need: Counter[int]) -> dict[str, int]:
    """Status-1 particles of the kept events that the inclusive selection left out, by name."""
    ids, found = np.unique(ak.to_numpy(ak.flatten(kept.pid)), return_counts=True)
    left = found - np.array([need.get(int(i), 0) for i in ids], dtype=np.int64) * len(kept)
    order = np.lexsort((ids, -left))
    return {name_of(int(ids[k])): int(left[k]) for k in order if left[k] > 0}


def _lacking(
    has: np.ndarray, keep: np.ndarray, pids: list[int], need: Counter[int]
) -> dict[str, int]:
    """Events dropped by an inclusive selection, by the named particles they lack."""
    lacking = ~has[~keep]
    if not len(lacking):
        return {}
    rows, found = np.unique(lacking, axis=0, return_counts=True)
    dropped = {}
    for k in np.argsort(-found, kind="stable"):
        what = " and ".join(
            f"{'a' if need[pid] == 1 else need[pid]} {name_of(pid)}"
            for pid, miss in zip(pids, rows[k].tolist(), strict=True)
            if miss
        )
        dropped[f"without {what} among the final-state particles"] = int(found[k])
    return dropped
