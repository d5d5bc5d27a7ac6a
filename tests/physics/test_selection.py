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


# ------------------------------------------------------------------ inclusive


def _radiating():
    """Showered-like toy events: the muons beside photons, a soft extra mu-, hadrons."""
    pid = [
        [-11, 11, 13, -13, 22, 22],  # FSR: two photons
        [-11, 11, 13, 13, -13, 211],  # a second, softer mu-, a pion
        [-11, 11, 13, 22],  # no mu+
        [-11, 11, -13, 13],  # exactly the two muons
        [-11, 11, 22, 22],  # no muon at all
    ]
    status = [[-1, -1, 1, 1, 1, 1], [-1, -1, 1, 1, 1, 1], [-1, -1, 1, 1], [-1] * 2 + [1] * 2,
              [-1, -1, 1, 1]]  # fmt: skip
    energy = [
        [45.6, 45.6, 44.0, 45.0, 1.6, 1.0],
        [45.6, 45.6, 5.0, 40.0, 45.6, 1.4],
        [45.6, 45.6, 45.6, 45.6],
        [45.6, 45.6, 45.6, 45.6],
        [45.6, 45.6, 45.6, 45.6],
    ]
    px = [[float(i) for i in range(len(r))] for r in pid]  # tells the particles apart
    zeros = [[0.0] * len(r) for r in pid]
    return make_events(
        p4={"px": px, "py": zeros, "pz": zeros, "E": energy},
        pid=pid,
        status=status,
        weight=[1.0, 2.0, 3.0, 4.0, 5.0],
    )


def test_inclusive_takes_the_leading_particle_of_each_named_id():
    fs = select_final_state(_radiating(), "mu+ mu-", inclusive=True)
    assert fs.inclusive
    assert fs.pids == (-13, 13)
    np.testing.assert_array_equal(fs.event_index, [0, 1, 3])
    np.testing.assert_array_equal(fs.weight, [1.0, 2.0, 4.0])
    mom = fs.momenta()
    # (mu+, mu-) in every event; in event 1 the 40 GeV mu- (px 3), not the 5 GeV one (px 2)
    np.testing.assert_array_equal(mom[:, :, 0], [[45.0, 44.0], [45.6, 40.0], [45.6, 45.6]])
    np.testing.assert_array_equal(mom[:, :, 1], [[3.0, 2.0], [4.0, 3.0], [2.0, 3.0]])
    assert fs.dropped == {
        "without a mu+ among the final-state particles": 1,
        "without a mu+ and a mu- among the final-state particles": 1,
    }
    assert fs.ignored == {"gamma": 2, "mu-": 1, "pi+": 1}
    assert fs.n_ignored == 4
    assert fs.summary() == (
        "mu+ mu-: kept 3 of 5 events (inclusive: the leading particle of each named id by "
        "energy); dropped: 1 without a mu+ among the final-state particles, 1 without a mu+ "
        "and a mu- among the final-state particles; ignored 4 other final-state particles "
        "(2 gamma, 1 mu-, 1 pi+)"
    )


def test_inclusive_with_a_particle_named_twice_takes_the_two_leading():
    fs = select_final_state(_radiating(), "mu- mu-", inclusive=True)
    np.testing.assert_array_equal(fs.event_index, [1])
    np.testing.assert_array_equal(fs.momenta()[0, :, 0], [40.0, 5.0])
    assert fs.dropped == {"without 2 mu- among the final-state particles": 4}
    assert fs.ignored == {"mu+": 1, "pi+": 1}


def test_inclusive_on_exact_events_is_the_exact_selection():
    """Where the final state is exactly the topology both modes agree, event for event."""
    from conftest import sample

    from latentsym.io import read_events

    events, _ = read_events(sample("ee_mumu_91GeV.lhe.gz"), max_events=2000)
    exact = select_final_state(events, "mu+ mu-")
    inclusive = select_final_state(events, "mu+ mu-", inclusive=True)
    np.testing.assert_array_equal(inclusive.momenta(), exact.momenta())
    np.testing.assert_array_equal(inclusive.event_index, exact.event_index)
    assert (inclusive.ignored, inclusive.dropped, exact.inclusive) == ({}, {}, False)


def test_exact_mode_is_unchanged_beside_inclusive():
    fs = select_final_state(_radiating(), "mu+ mu-")
    np.testing.assert_array_equal(fs.event_index, [3])
    assert not fs.inclusive
    assert fs.ignored == {}
    assert "inclusive" not in fs.summary()
    # where the particles are there only among others, the error points to --inclusive
    with pytest.raises(
        TopologyError,
        match=r"no event has the final state 'mu\+ gamma'.*\. 1 event has these particles "
        r"among others: select them inclusively \(--inclusive, inclusive=True\)",
    ):
        select_final_state(_radiating()[:1], "mu+ gamma")


def test_inclusive_needs_a_topology_present_in_some_event():
    with pytest.raises(TopologyError, match=r"inclusive selection needs the particles"):
        select_final_state(_radiating(), inclusive=True)
    with pytest.raises(
        TopologyError,
        match=r"no event has 'tau\+ tau-' among its final-state .*Most common final-state "
        r"particles: mu-: 5, gamma: 5, mu\+: 3, pi\+: 1",
    ):
        select_final_state(_radiating(), "tau+ tau-", inclusive=True)


def test_run_and_scan_options_check_the_inclusive_flag():
    from latentsym.errors import ConfigError
    from latentsym.jobs.options import RunOptions, ScanOptions

    assert RunOptions(topology="mu+ mu-", inclusive=True).inclusive
    for make in (RunOptions, ScanOptions):
        with pytest.raises(ConfigError, match=r"inclusive selection needs .*--topology"):
            make(inclusive=True)
    with pytest.raises(ConfigError, match=r"inclusive selection runs in one process"):
        RunOptions(topology="mu+ mu-", inclusive=True, dask="auto")
