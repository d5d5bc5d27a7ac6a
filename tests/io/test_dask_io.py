"""Many files through dask: the results equal the single-process path bit for bit.

One local cluster of 2 worker processes serves the whole module (starting it costs a few
seconds, and the workers' first task imports latentsym, uproot and torch).
"""

from __future__ import annotations

import gzip
import socket

import awkward as ak
import numpy as np
import pytest
from conftest import external, sample

pytest.importorskip("distributed")
pytest.importorskip("dask_awkward")

from latentsym.errors import ConfigError, EventFileError, TopologyError
from latentsym.features import build
from latentsym.io import make_events, write_root
from latentsym.jobs import ReadOptions, read_many
from latentsym.jobs.dask_read import connect, read_select_build
from latentsym.physics.selection import select_final_state

EE_LHE = "ee_mumu_91GeV.lhe.gz"
PP_LHE = "pp_mumu_13TeV.lhe.gz"
PP_ROOT = "pp_mumu_13TeV.root"


@pytest.fixture(scope="module")
def client():
    with connect("auto", n_workers=2) as c:
        assert len(c.scheduler_info()["workers"]) == 2
        yield c


def _single(paths, topology=None, representation="cartesian", max_events=None, **options):
    read = ReadOptions(**options)
    events, infos, file_index, entry = read_many(paths, max_events=max_events, read=read)
    fs = select_final_state(events, topology)
    return events, infos, file_index, entry, fs, build(fs, representation)


def _assert_same(got, paths, **kw):
    kw.pop("step_size", None)
    events, infos, file_index, entry, fs, fm = _single(paths, **kw)
    g = got.final_state
    assert got.n_events == len(events)
    assert got.infos == infos
    np.testing.assert_array_equal(got.file_index, file_index)
    np.testing.assert_array_equal(got.entry, entry)
    assert (got.file_index.dtype, got.entry.dtype) == (file_index.dtype, entry.dtype)
    assert (g.pids, g.n_input, g.dropped) == (fs.pids, fs.n_input, fs.dropped)
    assert str(ak.type(g.particles)) == str(ak.type(fs.particles))
    assert ak.array_equal(g.particles, fs.particles)
    assert np.array_equal(g.weight, fs.weight)
    assert np.array_equal(g.event_index, fs.event_index)
    assert np.array_equal(g.momenta(), fs.momenta())
    f = got.features
    assert (f.names, f.units, f.representation, f.constant) == (
        fm.names,
        fm.units,
        fm.representation,
        fm.constant,
    )
    assert f.values.dtype == np.float32
    assert np.array_equal(f.values, fm.values)
    assert np.array_equal(f.momenta, fm.momenta)
    assert np.array_equal(f.weight, fm.weight)
    assert np.array_equal(f.event_index, fm.event_index)


def test_lhe_file_in_chunks(client):
    paths = [sample(EE_LHE)]
    got = read_select_build(paths, client, step_size=7000)
    assert got.final_state.n_events == 20000
    _assert_same(got, paths)


@pytest.mark.parametrize("representation", ["cartesian", "collider"])
def test_root_file_in_chunks(client, representation):
    paths = [sample(PP_ROOT)]
    got = read_select_build(paths, client, representation=representation, step_size=6000)
    _assert_same(got, paths, representation=representation)


def test_same_root_file_three_times_with_max_events(client):
    paths = [sample(PP_ROOT)] * 3
    got = read_select_build(paths, client, max_events=45000, step_size=7000)
    assert [i.n_events for i in got.infos] == [20000, 20000, 5000]
    _assert_same(got, paths, max_events=45000)


def test_two_lhe_samples_with_max_events_and_topology(client):
    paths = [sample(EE_LHE), sample(PP_LHE), sample(EE_LHE)]
    kw = {"max_events": 30000, "topology": "mu+ mu-"}
    got = read_select_build(paths, client, step_size=8000, **kw)
    assert len(got.infos) == 2
    assert np.bincount(got.file_index).tolist() == [20000, 10000]
    _assert_same(got, paths, **kw)


def test_lhe_and_root_copies_of_one_sample(client):
    paths = [sample(EE_LHE), sample("ee_mumu_91GeV.root")]
    got = read_select_build(paths, client, step_size=9000)
    assert np.bincount(got.file_index).tolist() == [20000, 20000]
    _assert_same(got, paths)


def _mixed_topologies(path, seed):
    """Events with 2 to 4 outgoing particles drawn from 4 kinds: many final states."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(2, 5, size=3000)
    n = int(counts.sum())
    p = rng.normal(0, 20, size=(n, 3))
    e = np.linalg.norm(p, axis=1) + 1.0
    cols = dict(zip(("px", "py", "pz"), p.T, strict=True))
    events = make_events(
        p4={**{k: ak.unflatten(v, counts) for k, v in cols.items()}, "E": ak.unflatten(e, counts)},
        pid=ak.unflatten(rng.choice([13, -13, 11, 22], size=n), counts),
        status=ak.unflatten(rng.choice([1, 1, 1, 2], size=n), counts),
        weight=rng.normal(1, 0.2, size=len(counts)),
    )
    return write_root(events, path)


def test_topology_counted_over_all_files(client, tmp_path):
    paths = [_mixed_topologies(tmp_path / f"mix{i}.root", seed=i) for i in range(2)]
    for topology in (None, [22, 22, 22, 22]):  # the most common, and one of 4 events
        # chunks of 1000 events: some hold none of the 4-photon events
        got = read_select_build(paths, client, topology=topology, step_size=1000)
        assert len(got.final_state.dropped) == 6  # 5 named, the rest summed
        _assert_same(got, paths, topology=topology)
    with pytest.raises(TopologyError) as single:
        _single(paths, topology="tau+ tau-")
    with pytest.raises(TopologyError) as dask:
        read_select_build(paths, client, topology="tau+ tau-")
    assert str(dask.value) == str(single.value)


def test_flat_and_jagged_layouts_of_real_files(client):
    zmumu, hzz = external("uproot-Zmumu.root"), external("uproot-HZZ.root")
    got = read_select_build([zmumu], client, step_size=700)
    _assert_same(got, [zmumu])
    opts = {"collections": ["Muon", "Electron"]}
    got = read_select_build([hzz, hzz], client, step_size=500, **opts)
    assert got.infos[0].layout == "jagged"
    _assert_same(got, [hzz, hzz], **opts)


def test_worker_errors_are_the_single_process_errors(client, tmp_path):
    with gzip.open(sample(EE_LHE), "rt") as fh:
        text = fh.read()
    cut = tmp_path / "cut.lhe"  # cut off in the middle of an event
    cut.write_text(text[: text.index("<event", len(text) // 2) + 300])
    paths = [sample(PP_ROOT), cut]
    with pytest.raises(EventFileError) as single:
        read_many(paths)
    with pytest.raises(EventFileError) as dask:
        read_select_build(paths, client)
    assert str(dask.value) == str(single.value)
    with pytest.raises(ConfigError, match=r"apply to ROOT files only"):
        read_select_build([sample(EE_LHE)], client, tree="events")
    with pytest.raises(ConfigError, match=r"unknown options \['colections'\]"):
        read_select_build([sample(PP_ROOT)], client, colections=["Muon"])
    with pytest.raises(EventFileError, match="no such file"):
        read_select_build([sample(PP_ROOT), tmp_path / "missing.root"], client)


def test_connect_to_a_running_scheduler_by_address(client):
    address = client.scheduler.address
    assert address.startswith("tcp://")
    paths = [sample(PP_ROOT)]
    with connect(address) as other:
        assert other is not client
        got = read_select_build(paths, other, max_events=5000, step_size=2000)
    _assert_same(got, paths, max_events=5000)
    assert len(client.scheduler_info()["workers"]) == 2  # the cluster outlives that client


def test_bad_addresses_say_how_to_start_a_scheduler():
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    with pytest.raises(ConfigError, match=r"dask scheduler") as err, connect(address, timeout=1):
        pass
    assert address in str(err.value)
    assert "dask worker tcp://" in str(err.value)
    with (
        pytest.raises(ConfigError, match=r"expected 'auto' or a scheduler address"),
        connect("localhost:8786"),
    ):
        pass
    with pytest.raises(ConfigError, match="n_workers"), connect("auto", n_workers=0):
        pass
