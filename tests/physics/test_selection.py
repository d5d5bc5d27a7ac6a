import awkward as ak
import numpy as np
import pytest

from latentsym.errors import TopologyError
from latentsym.io.schema import make_events
from latentsym.physics.pdg import name_of, parse_topology, pid_of
from latentsym.physics.selection import final_state_counts, select_final_state


def _events():
    # event 0: e+ e- -> mu+ mu- ; event 1: e+ e- -> mu+ mu- (mu- listed first);
    # event 2: e+ e- -> e+ e- ; event 3: mu+ mu- gamma
    pid = [[-11, 11, 23, 13, -13], [-11, 11, -13, 13], [-11, 11, -11, 11], [-11, 11, 13, -13, 22]]
    status = [[-1, -1, 2, 1, 1], [-1, -1, 1, 1], [-1, -1, 1, 1], [-1, -1, 1, 1, 1]]
    energy = [
        [45.0, 45.0, 90.0, 40.0, 50.0],
        [45, 45, 30, 60],
        [45, 45, 45, 45],
        [45, 45, 40, 40, 10],
    ]
    zeros = [[0.0] * len(r) for r in pid]
    return make_events(
        p4={"px": zeros, "py": zeros, "pz": zeros, "E": energy},
        pid=pid,
        status=status,
        weight=[1.0, 2.0, -1.0, 1.0],
    )


def test_names_and_ids_round_trip():
    for pid in (13, -13, 11, -11, 21, 22, 5, -5, 23, 12):
        assert pid_of(name_of(pid)) == pid
    assert parse_topology("mu+ mu-") == (-13, 13)
    assert parse_topology("13, -13") == (-13, 13)
    assert parse_topology(["b~", "b", "mu-", "mu+"]) == (-13, -5, 5, 13)


def test_unknown_name_lists_examples():
    with pytest.raises(TopologyError, match=r"unknown particle name 'muon\+-'.*'mu\+'"):
        parse_topology("muon+- mu-")


def test_final_state_counts_most_common_first():
    counts = final_state_counts(_events())
    assert counts[0] == ((-13, 13), 2)
    assert dict(counts)[(-11, 11)] == 1
    assert dict(counts)[(-13, 13, 22)] == 1


def test_select_default_topology_order_and_report():
    fs = select_final_state(_events())
    assert fs.pids == (-13, 13)
    assert fs.names == ("mu+", "mu-")
    assert fs.n_events == 2
    assert fs.n_input == 4
    np.testing.assert_array_equal(fs.event_index, [0, 1])
    np.testing.assert_array_equal(fs.weight, [1.0, 2.0])
    # mu+ first in every event whatever the file order
    mom = fs.momenta()
    assert mom.shape == (2, 2, 4)
    np.testing.assert_array_equal(mom[:, 0, 0], [50.0, 30.0])  # E of the mu+
    assert fs.dropped == {"with final state e+ e-": 1, "with final state mu+ mu- gamma": 1}
    assert "kept 2 of 4" in fs.summary()


def test_identical_particles_ordered_by_descending_energy():
    fs = select_final_state(_events(), "e+ e-")
    assert fs.names == ("e+", "e-")
    ev = make_events(
        p4={
            "px": [[0.0, 0.0, 0.0]],
            "py": [[0.0, 0.0, 0.0]],
            "pz": [[0.0, 0.0, 0.0]],
            "E": [[10.0, 30.0, 20.0]],
        },
        pid=[[22, 22, 22]],
    )
    fs = select_final_state(ev)
    np.testing.assert_array_equal(fs.momenta()[0, :, 0], [30.0, 20.0, 10.0])


def test_absent_topology_lists_what_is_there():
    with pytest.raises(
        TopologyError, match=r"no event has the final state 'tau\+ tau-'.*mu\+ mu-: 2"
    ):
        select_final_state(_events(), "tau+ tau-")


def test_final_state_counts_equal_a_counter_over_events():
    """The vectorised count against the plain one: a Counter of each event's sorted ids."""
    from collections import Counter

    rng = np.random.default_rng(5)
    counts = rng.integers(0, 6, size=5000)
    n = int(counts.sum())

    def jag(values):
        return ak.unflatten(values, counts)

    events = make_events(
        p4={
            "px": jag(rng.normal(size=n)),
            "py": jag(rng.normal(size=n)),
            "pz": jag(rng.normal(size=n)),
            "E": jag(rng.normal(size=n) ** 2 + 5),
        },
        pid=jag(rng.choice([13, -13, 11, -11, 22, 0, 1000022], size=n)),
        status=jag(rng.choice([1, 1, 1, 2, -1], size=n)),
    )
    kept = ak.to_list(events.particles.pid[events.particles.status == 1])
    reference = Counter(tuple(sorted(row)) for row in kept)
    got = final_state_counts(events)
    assert dict(got) == dict(reference)
    assert [c for _, c in got] == sorted(reference.values(), reverse=True)
    assert () in dict(got)  # events without outgoing particles are counted too
    assert final_state_counts(events[:0]) == []
