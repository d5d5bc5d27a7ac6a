"""ROOT reading (every layout, TTree and RNTuple) and the lossless latentsym writer."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot
import vector
from conftest import EXTERNAL_LHE, external

from latentsym.errors import ConfigError, EventFileError, OutputError, SchemaError
from latentsym.io import iterate_events, make_events, read_events, write_root
from latentsym.io.root import read_root


def test_flat_layout_real_cms_dimuons():
    path = external("uproot-Zmumu.root")
    events, info = read_events(path)
    assert len(events) == 2304
    assert (info.format, info.tree, info.layout) == ("root", "events", "flat")
    assert set(ak.to_numpy(ak.flatten(events.particles.pid))) == {-13, 13}
    # the mass rebuilt from the four-vectors equals the file's own M branch (float64 branches)
    p4 = events.particles.p4
    m = ak.to_numpy((p4[:, 0] + p4[:, 1]).mass)
    stored = uproot.open(path)["events"]["M"].array(library="np")
    np.testing.assert_allclose(m, stored, rtol=1e-6, atol=1e-6)
    # charges decide mu+ (Q = +1 -> -13) and mu- (Q = -1 -> 13)
    q1 = uproot.open(path)["events"]["Q1"].array(library="np")
    np.testing.assert_array_equal(ak.to_numpy(events.particles.pid[:, 0]), -13 * q1)


def test_jagged_collections_real_hzz():
    path = external("uproot-HZZ.root")
    tree = uproot.open(path)["events"]
    events, info = read_events(path, collections=["Muon", "Electron"])
    assert len(events) == 2421
    n = tree.arrays(["NMuon", "NElectron"], library="np")
    np.testing.assert_array_equal(ak.to_numpy(ak.num(events.particles)), n["NMuon"] + n["NElectron"])
    pid = events.particles.pid
    np.testing.assert_array_equal(ak.to_numpy(ak.sum(abs(pid) == 13, axis=1)), n["NMuon"])
    np.testing.assert_allclose(ak.to_numpy(events.weight), tree["EventWeight"].array(library="np"))
    assert info.extra["collections"] == ["Muon", "Electron"]
    with pytest.raises(SchemaError, match="no collection 'Tau'.*collections present: Jet, Muon"):
        read_events(path, collections=["Tau"])


def test_edm4hep_truth_and_reco():
    path = external("uproot-issue-589.root")
    events, info = read_events(path)
    assert (len(events), info.layout) == (151, "edm4hep")
    parts = events.particles
    assert ak.all(ak.sum(parts.status == -1, axis=1) == 2)  # the e+ e- beams
    final = parts[parts.status == 1].p4
    total_e = ak.to_numpy(ak.sum(final.E, axis=1))
    total_p = np.stack([ak.to_numpy(ak.sum(getattr(final, c), axis=1)) for c in ("px", "py", "pz")])
    # FCC-ee Z at 91.2 GeV: the generated final state balances to float32 precision in p,
    # and its energy sits within the beam-energy spread of 91.2 GeV
    assert np.max(np.abs(total_p)) < 1e-4
    assert np.all(np.abs(total_e - 91.2) < 1.0)
    reco, _ = read_events(path, collections=["RP"])
    assert len(reco) == 151
    assert set(np.unique(ak.to_numpy(ak.flatten(reco.particles.charge)))) <= {-1.0, 0.0, 1.0}


def _nanoaod(tmp_path, ttree=True):
    rng = np.random.default_rng(1)
    counts = rng.integers(2, 5, size=50)
    pt = ak.unflatten(rng.uniform(5, 50, counts.sum()), counts)
    eta = ak.unflatten(rng.uniform(-2, 2, counts.sum()), counts)
    phi = ak.unflatten(rng.uniform(-np.pi, np.pi, counts.sum()), counts)
    mass = ak.unflatten(np.full(counts.sum(), 0.105), counts)
    pdg = ak.unflatten(rng.choice([13, -13], counts.sum()), counts)
    status = ak.unflatten(rng.choice([1, 62], counts.sum()), counts)
    data = {
        "GenPart": ak.zip({"pt": pt, "eta": eta, "phi": phi, "mass": mass, "pdgId": pdg, "status": status}),
        "Generator_weight": rng.normal(1, 0.1, 50),
    }
    path = tmp_path / "nano.root"
    with uproot.recreate(path) as f:
        if ttree:
            f.mktree("Events", {k: v.type if isinstance(v, ak.Array) else v.dtype for k, v in data.items()})
            f["Events"].extend(data)
        else:
            f["Events"] = {"GenPart_" + k: data["GenPart"][k] for k in data["GenPart"].fields} | {
                "Generator_weight": data["Generator_weight"]
            }
    return path, data


@pytest.mark.parametrize("ttree", [True, False], ids=["TTree", "RNTuple"])
def test_nanoaod_values(tmp_path, ttree):
    path, data = _nanoaod(tmp_path, ttree)
    events, info = read_events(path)
    assert info.layout == "nanoaod"
    ref = vector.zip({k: data["GenPart"][k] for k in ("pt", "eta", "phi", "mass")})
    for c in ("px", "py", "pz", "E"):
        np.testing.assert_allclose(
            ak.to_numpy(ak.flatten(getattr(events.particles.p4, c))),
            ak.to_numpy(ak.flatten(getattr(ref, c))),
            rtol=1e-12,
        )
    status = ak.to_numpy(ak.flatten(events.particles.status))
    np.testing.assert_array_equal(status, np.where(ak.to_numpy(ak.flatten(data["GenPart"].status)) == 1, 1, 2))
    np.testing.assert_allclose(ak.to_numpy(events.weight), data["Generator_weight"])


def test_mapping_layout(tmp_path):
    path, _ = _nanoaod(tmp_path)
    events, info = read_events(
        path, branches={"px": "GenPart_pt", "py": "GenPart_eta", "pz": "GenPart_phi", "E": "GenPart_pt"}
    )
    assert info.layout == "mapping"
    assert ak.all(events.particles.pid == 0)
    with pytest.raises(SchemaError, match="no branch 'Muon_E'.*branches present: nGenPart"):
        read_events(path, branches={"px": "GenPart_pt", "py": "GenPart_pt", "pz": "GenPart_pt", "E": "Muon_E"})
    with pytest.raises(ConfigError, match="unknown keys \\['energy'\\]"):
        read_events(path, branches={"px": "a", "py": "b", "pz": "c", "E": "d", "energy": "e"})


@pytest.mark.parametrize(
    "name",
    [
        "uproot-Zmumu.root",
        "uproot-issue-589.root",
        "pylhe-testfile-madgraph5-3.5.8-pp_to_jj.lhe.gz",
        "pylhe-testfile-powheg-box-v2-W.lhe",
    ],
)
def test_write_read_round_trip_is_lossless(tmp_path, name):
    events, info = read_events(external(name))
    out = write_root(events, tmp_path / "rt.root", info)
    back, info2 = read_events(out)
    assert info2.layout == "latentsym"
    assert ak.to_list(back) == ak.to_list(events)
    assert (info2.sqrt_s, info2.cross_section_pb, info2.weight_names) == (
        info.sqrt_s,
        info.cross_section_pb,
        info.weight_names,
    )
    assert EXTERNAL_LHE  # the LHE list is shared with the LHE tests


def test_writer_refuses_to_overwrite(tmp_path):
    ev = make_events(px=[[1.0]], py=[[0.0]], pz=[[0.0]], E=[[1.0]], pid=[[22]])
    path = write_root(ev, tmp_path / "a.root")
    before = path.read_bytes()
    with pytest.raises(OutputError, match="exists; pass overwrite=True"):
        write_root(ev, path)
    assert path.read_bytes() == before
    write_root(ev, path, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["a.root"]


def test_chunks_and_max_events():
    path = external("uproot-HZZ.root")
    full, _ = read_events(path, collections=["Muon"])
    chunks = list(iterate_events(path, step_size=1000, collections=["Muon"]))
    assert [len(c.events) for c in chunks] == [1000, 1000, 421]
    assert [c.info.extra["first_event"] for c in chunks] == [0, 1000, 2000]
    assert ak.to_list(ak.concatenate([c.events for c in chunks])) == ak.to_list(full)
    head, info = read_events(path, collections=["Muon"], max_events=10)
    assert len(head) == info.n_events == 10


def test_empty_file():
    with pytest.raises(EventFileError, match="uproot-empty.root: tree 'tree' has no entries"):
        read_events(external("uproot-empty.root"))


def test_missing_tree_lists_trees():
    with pytest.raises(EventFileError, match="no tree 'Events'; trees in the file: events"):
        read_root(external("uproot-Zmumu.root"), tree="Events")


def test_unknown_and_ambiguous_layout(tmp_path):
    with pytest.raises(ConfigError, match="unknown layout 'cms'; allowed: latentsym, flat"):
        read_events(external("uproot-Zmumu.root"), layout="cms")
    path = tmp_path / "both.root"
    with uproot.recreate(path) as f:
        f.mktree("t", {"px1": np.float64, "py1": np.float64, "pz1": np.float64, "E1": np.float64, "GenPart_pt": np.float64})
        f["t"].extend({k: np.ones(3) for k in ("px1", "py1", "pz1", "E1", "GenPart_pt")})
    with pytest.raises(EventFileError, match="matches several layouts \\(nanoaod, flat\\)"):
        read_events(path)


def test_nan_momenta_named(tmp_path):
    path = tmp_path / "nan.root"
    with uproot.recreate(path) as f:
        f["t"] = {"E1": np.array([1.0, 2.0, np.nan]), "px1": np.zeros(3), "py1": np.zeros(3), "pz1": np.zeros(3)}
    with pytest.raises(SchemaError, match="event 2, particle 0: E is nan"):
        read_events(path)
