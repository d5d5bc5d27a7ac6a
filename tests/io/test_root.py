"""ROOT reading (every layout, TTree and RNTuple) and the lossless latentsym writer."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot
from conftest import external

from latentsym.errors import ConfigError, EventFileError, OutputError, SchemaError
from latentsym.io import iterate_events, make_events, read_events
from latentsym.io.root import iterate_root, read_root, write_root

ZMUMU, HZZ, FCC = "uproot-Zmumu.root", "uproot-HZZ.root", "uproot-issue-589.root"


def _np(a):
    return ak.to_numpy(ak.flatten(a)) if a.ndim > 1 else ak.to_numpy(a)


# --- real files ------------------------------------------------------------------------


def test_flat_layout_real_cms_dimuons():
    path = external(ZMUMU)
    events, info = read_root(path, sqrt_s=7000, beams=("p", "p"))
    assert len(events) == info.n_events == 2304
    assert (info.format, info.tree, info.layout) == ("root", "events", "flat")
    assert (info.sqrt_s, info.beams) == (7000.0, (2212, 2212))
    raw = uproot.open(path)["events"].arrays(["M", "Q1", "Q2"], library="np")
    # the dimuon mass rebuilt from the float64 four-vectors equals the file's float64 M
    # branch to 1.1e-8 relative (M was computed upstream, not from these exact doubles)
    p4 = events.particles.p4
    np.testing.assert_allclose(ak.to_numpy((p4[:, 0] + p4[:, 1]).mass), raw["M"], rtol=1e-7)
    # Q = -1 -> 13 (mu-), Q = +1 -> -13 (mu+); every muon has a charge of +-1
    pid = ak.to_numpy(events.particles.pid)
    np.testing.assert_array_equal(pid, -13 * np.stack([raw["Q1"], raw["Q2"]], axis=1))
    np.testing.assert_array_equal(ak.to_numpy(events.particles.charge[:, 1]), raw["Q2"])
    assert set(np.unique(pid)) == {-13, 13}
    assert ak.all(events.particles.status == 1)
    assert ak.all(events.weight == 1.0)
    electrons, _ = read_root(path, flavour="e", max_events=50)
    np.testing.assert_array_equal(ak.to_numpy(electrons.particles.pid), pid[:50] // 13 * 11)
    with pytest.raises(ConfigError, match=r"unknown flavour 'muon'; allowed: mu, e, tau"):
        read_root(path, flavour="muon")


def test_jagged_collections_real_hzz():
    path = external(HZZ)
    raw = uproot.open(path)["events"].arrays(
        ["NMuon", "NElectron", "Muon_Charge", "Muon_Px", "EventWeight"], library="np"
    )
    events, info = read_root(path, collections=["Muon", "Electron"])
    assert (len(events), info.layout) == (2421, "jagged")
    assert info.extra["collections"] == ["Muon", "Electron"]
    pid = events.particles.pid
    np.testing.assert_array_equal(ak.to_numpy(ak.num(pid)), raw["NMuon"] + raw["NElectron"])
    np.testing.assert_array_equal(ak.to_numpy(ak.sum(abs(pid) == 13, axis=1)), raw["NMuon"])
    np.testing.assert_array_equal(ak.to_numpy(ak.sum(abs(pid) == 11, axis=1)), raw["NElectron"])
    # muons come first, in file order, with the sign of the PDG id opposite to the charge
    muons = events.particles[:, :4][abs(events.particles.pid[:, :4]) == 13]
    np.testing.assert_array_equal(_np(muons.pid), -13 * np.concatenate(raw["Muon_Charge"]))
    np.testing.assert_array_equal(_np(muons.p4.px), np.concatenate(raw["Muon_Px"]))
    np.testing.assert_array_equal(ak.to_numpy(events.weight), raw["EventWeight"])
    assert float(np.std(raw["EventWeight"])) > 0  # a real per-event weight, not 1.0
    photons, _ = read_root(path, collections=["Photon", "Jet"], max_events=200)
    assert set(np.unique(_np(photons.particles.pid))) == {0, 22}
    with pytest.raises(SchemaError, match=r"no collection 'Tau'.*present: Jet, Muon, Electron"):
        read_root(path, collections=["Tau"])


def test_edm4hep_truth_balances_beams():
    path = external(FCC)
    events, info = read_root(path, sqrt_s=91.2, beams=("e-", "e+"))
    assert (len(events), info.layout, info.extra["collections"]) == (151, "edm4hep", ["MC"])
    parts = events.particles
    beams = parts[parts.status == -1]
    assert ak.all(ak.num(beams) == 2)
    assert ak.all(beams.generator_status == 4)
    assert beams.pid.tolist()[0] == [11, -11]
    # FCC-ee Z: the final state (generator status 1) carries exactly the four-momentum of
    # the two beams (float32 in the file: 1.5e-6 GeV in p, 5e-6 GeV in E); the beams have
    # an energy spread, so the total energy is 91.2 GeV only on average
    final = parts[parts.status == 1].p4
    for c in ("px", "py", "pz", "E"):
        total = ak.to_numpy(ak.sum(getattr(final, c), axis=1))
        beam = ak.to_numpy(ak.sum(getattr(beams.p4, c), axis=1))
        np.testing.assert_allclose(total, beam, atol=2e-5)
    e_total = ak.to_numpy(ak.sum(final.E, axis=1))
    assert abs(e_total.mean() - 91.2) < 0.01
    assert np.all(np.abs(e_total - 91.2) < 0.3)
    assert set(np.unique(_np(parts.status))) == {-1, 1, 2}
    assert "parent_index" in ak.fields(parts)
    assert "charge" in ak.fields(parts)


def test_edm4hep_reconstructed_particles():
    path = external(FCC)
    reco, info = read_root(path, collections=["RP"])
    assert (len(reco), info.extra["collections"]) == (151, ["RP"])
    assert ak.all(reco.particles.pid == 0)
    assert ak.all(reco.particles.status == 1)
    assert set(np.unique(_np(reco.particles.charge))) == {-1, 0, 1}
    e_total = ak.to_numpy(ak.sum(reco.particles.p4.E, axis=1))
    assert np.all((e_total > 40) & (e_total < 100))  # detector-level, not 91.2 exactly
    with pytest.raises(ConfigError, match=r"collections present: MC, RP"):
        read_root(path, collections=["MC", "RP"])
    with pytest.raises(SchemaError, match=r"no collection 'Jet' .*present: MC, RP"):
        read_root(path, collections=["Jet"])


# --- files written here: NanoAOD, RNTuple, mapping -------------------------------------


def _nanoaod(tmp_path, ttree=True):
    rng = np.random.default_rng(1)
    counts = rng.integers(2, 5, size=50)
    n = int(counts.sum())
    cols = {
        "pt": rng.uniform(5, 50, n),
        "eta": rng.uniform(-2, 2, n),
        "phi": rng.uniform(-np.pi, np.pi, n),
        "mass": np.full(n, 0.105),
        "pdgId": rng.choice([13, -13], n),
        "status": rng.choice([1, 21, 62], n),
    }
    # one particle along the beam axis, as NanoAOD stores incoming partons
    cols["pt"][0], cols["eta"][0], cols["status"][0] = 0.0, 22756.0 + 3200.0, 21
    gen = ak.zip({k: ak.unflatten(v, counts) for k, v in cols.items()})
    weight = rng.normal(1, 0.1, 50)
    path = tmp_path / "nano.root"
    with uproot.recreate(path) as f:
        if ttree:
            f.mktree("Events", {"GenPart": gen.type, "Generator_weight": weight.dtype})
            f["Events"].extend({"GenPart": gen, "Generator_weight": weight})
        else:
            f["Events"] = {f"GenPart_{k}": gen[k] for k in cols} | {"Generator_weight": weight}
    return path, cols, counts, weight


@pytest.mark.parametrize("ttree", [True, False], ids=["TTree", "RNTuple"])
def test_nanoaod_values(tmp_path, ttree):
    path, cols, counts, weight = _nanoaod(tmp_path, ttree)
    classes = set(uproot.open(path).classnames().values())
    assert classes == ({"TTree"} if ttree else {"ROOT::RNTuple"})
    events, info = read_root(path)
    assert (info.layout, info.tree, info.extra["dropped_along_beam"]) == ("nanoaod", "Events", 1)
    keep = slice(1, None)  # the particle along the beam is left out
    pt, eta, phi, m = (cols[k][keep] for k in ("pt", "eta", "phi", "mass"))
    p4 = events.particles.p4
    np.testing.assert_allclose(_np(p4.px), pt * np.cos(phi), rtol=1e-12)
    np.testing.assert_allclose(_np(p4.py), pt * np.sin(phi), rtol=1e-12)
    np.testing.assert_allclose(_np(p4.pz), pt * np.sinh(eta), rtol=1e-12)
    np.testing.assert_allclose(_np(p4.E), np.hypot(pt * np.cosh(eta), m), rtol=1e-12)
    np.testing.assert_allclose(_np(p4.mass), m, rtol=1e-6)
    status = cols["status"][keep]
    np.testing.assert_array_equal(_np(events.particles.generator_status), status)
    expected = np.select([status == 1, status == 21], [1, -1], 2)
    np.testing.assert_array_equal(_np(events.particles.status), expected)
    np.testing.assert_array_equal(_np(events.particles.pid), cols["pdgId"][keep])
    np.testing.assert_array_equal(ak.to_numpy(ak.num(p4)), counts - np.eye(50, dtype=int)[0])
    np.testing.assert_array_equal(ak.to_numpy(events.weight), weight)


def test_rntuple_chunks(tmp_path):
    path, *_ = _nanoaod(tmp_path, ttree=False)
    full, _ = read_root(path)
    chunks = list(iterate_root(path, step_size=20))
    assert [c.info.extra["first_event"] for c in chunks] == [0, 20, 40]
    assert ak.to_list(ak.concatenate([c.events for c in chunks])) == ak.to_list(full)


def test_mapping_layout(tmp_path):
    path, cols, *_ = _nanoaod(tmp_path)
    events, info = read_root(
        path,
        branches={
            "px": "GenPart_pt",
            "py": "GenPart_eta",
            "pz": "GenPart_phi",
            "E": "GenPart_pt",
            "pid": "GenPart_pdgId",
        },
    )
    assert info.layout == "mapping"
    np.testing.assert_array_equal(_np(events.particles.p4.py), cols["eta"])
    np.testing.assert_array_equal(_np(events.particles.pid), cols["pdgId"])
    assert ak.all(events.particles.status == 1)
    with pytest.raises(SchemaError, match=r"no branch 'Muon_E'; branches present: nGenPart, Gen"):
        read_root(
            path,
            branches={"px": "GenPart_pt", "py": "GenPart_pt", "pz": "GenPart_pt", "E": "Muon_E"},
        )
    with pytest.raises(ConfigError, match=r"unknown keys \['energy'\]; allowed"):
        read_root(path, branches={"px": "a", "py": "b", "pz": "c", "E": "d", "energy": "e"})
    with pytest.raises(ConfigError, match=r"names the branches of layout 'mapping'"):
        read_root(path, layout="nanoaod", branches={"px": "a"})


def test_mapping_of_scalar_branches_equals_flat_layout():
    path = external(ZMUMU)
    flat, _ = read_root(path)
    names = {c: [f"{c}1", f"{c}2"] for c in ("px", "py", "pz", "E")}
    mapped, info = read_root(path, branches=names)
    assert info.layout == "mapping"
    assert ak.to_list(mapped.particles.p4) == ak.to_list(flat.particles.p4)


# --- writing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "options"),
    [
        (ZMUMU, {}),
        (HZZ, {"collections": ["Muon", "Electron", "Photon"]}),
        (FCC, {}),
        ("pylhe-testlhef3.lhe", {}),
        ("pylhe-testfile-powheg-box-v2-W.lhe", {}),
    ],
)
def test_write_read_round_trip_is_lossless(tmp_path, name, options):
    events, info = read_events(external(name), **options)
    out = write_root(events, tmp_path / "rt.root", info)
    back, info2 = read_root(out)
    assert (info2.layout, info2.tree, info2.format) == ("latentsym", "events", "root")
    assert ak.fields(back.particles) == ak.fields(events.particles)
    for c in ("px", "py", "pz", "E"):  # bit for bit
        a, b = _np(getattr(back.particles.p4, c)), _np(getattr(events.particles.p4, c))
        assert a.dtype == b.dtype == np.float64
        assert a.tobytes() == b.tobytes()
    assert ak.to_list(back) == ak.to_list(events)
    for key in ("sqrt_s", "beams", "cross_section_pb", "generators", "weight_names"):
        assert getattr(info2, key) == getattr(info, key)
    assert info2.extra["source_format"] == info.format


def test_named_weights_keep_their_exact_names(tmp_path):
    names = ["muR=2 muF=0.5", "muR_2_muF_0_5", "PDF set = 260001"]
    w = {n: np.array([1.0 + i, -0.5]) for i, n in enumerate(names)}
    ev = make_events(
        p4={"px": [[1.0], [2.0]], "py": [[0.0], [0]], "pz": [[0.0], [0]], "E": [[1.0], [2]]},
        pid=[[22], [22]],
        weight=[1.0, -2.0],
        weights=w,
    )
    path = write_root(ev, tmp_path / "w.root")
    keys = uproot.open(path)["events"].keys()
    assert {"weight_muR_2_muF_0_5", "weight_muR_2_muF_0_5_1", "weight_PDF_set___260001"} <= set(
        keys
    )
    back, info = read_root(path)
    assert info.weight_names == tuple(names)
    assert ak.to_list(back.weights) == ak.to_list(ev.weights)
    np.testing.assert_array_equal(ak.to_numpy(back.weight), [1.0, -2.0])  # negative kept


def test_writer_refuses_to_overwrite(tmp_path):
    ev = make_events(p4={"px": [[1.0]], "py": [[0.0]], "pz": [[0.0]], "E": [[1.0]]}, pid=[[22]])
    path = write_root(ev, tmp_path / "a.root")
    before = path.read_bytes()
    with pytest.raises(OutputError, match=r"a.root: exists; pass overwrite=True"):
        write_root(ev, path)
    assert path.read_bytes() == before
    write_root(ev, path, overwrite=True, tree="t2")
    assert [p.name for p in tmp_path.iterdir()] == ["a.root"]  # no temporary file left
    assert read_root(path).info.tree == "t2"


def test_writer_rejects_fields_a_tree_cannot_hold(tmp_path):
    ev = make_events(p4={"px": [[1.0]], "py": [[0.0]], "pz": [[0.0]], "E": [[1.0]]}, pid=[[22]])
    ev = ak.with_field(ev, ["run A"], "label")
    with pytest.raises(OutputError, match=r"cannot write the fields \['label'\].*without_field"):
        write_root(ev, tmp_path / "a.root")
    assert list(tmp_path.iterdir()) == []


# --- chunks and max_events -------------------------------------------------------------


def test_chunks_and_max_events():
    path = external(HZZ)
    full, _ = read_root(path, collections=["Muon"])
    chunks = list(iterate_events(path, step_size=1000, collections=["Muon"]))
    assert [len(c.events) for c in chunks] == [1000, 1000, 421]
    assert [c.info.extra["first_event"] for c in chunks] == [0, 1000, 2000]
    assert [c.info.n_events for c in chunks] == [1000, 1000, 421]
    assert ak.to_list(ak.concatenate([c.events for c in chunks])) == ak.to_list(full)
    head, info = read_root(path, collections=["Muon"], max_events=10)
    assert len(head) == info.n_events == 10
    assert ak.to_list(head) == ak.to_list(full[:10])
    capped = list(iterate_root(path, step_size=400, max_events=1000, collections=["Muon"]))
    assert [len(c.events) for c in capped] == [400, 400, 200]


# --- bad input -------------------------------------------------------------------------


def test_empty_file():
    with pytest.raises(EventFileError, match=r"uproot-empty.root: tree 'tree' has no entries"):
        read_events(external("uproot-empty.root"))


def test_not_a_root_file(tmp_path):
    path = tmp_path / "fake.root"
    path.write_bytes(b"root" + b"\0" * 20)
    with pytest.raises(EventFileError, match=r"fake.root: cannot be opened as a ROOT file"):
        read_root(path)


def test_missing_tree_lists_keys():
    with pytest.raises(
        EventFileError,
        match=r"no tree or RNTuple 'Events'; keys in the file: "
        r"events \(TTree\)",
    ):
        read_root(external(ZMUMU), tree="Events")


def test_several_trees_need_a_choice(tmp_path):
    ev = make_events(p4={"px": [[1.0]], "py": [[0.0]], "pz": [[0.0]], "E": [[1.0]]}, pid=[[22]])
    path = write_root(ev, tmp_path / "a.root")
    with uproot.update(path) as f:
        f["other"] = {"x": np.ones(2)}
    with pytest.raises(EventFileError, match=r"several trees \(events, other\); choose one"):
        read_root(path)
    assert len(read_root(path, tree="events").events) == 1


def test_unknown_and_ambiguous_layout(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown layout 'cms'; allowed: latentsym, flat"):
        read_events(external(ZMUMU), layout="cms")
    path = tmp_path / "both.root"
    names = ("px1", "py1", "pz1", "E1")
    pt = ak.Array([[1.0], [2.0, 3.0], []])
    with uproot.recreate(path) as f:
        f.mktree("t", {**dict.fromkeys(names, np.float64), "GenPart_pt": pt.type})
        f["t"].extend({**{k: np.ones(3) for k in names}, "GenPart_pt": pt})
    with pytest.raises(EventFileError, match=r"fit several layouts \(flat, nanoaod\); choose"):
        read_root(path)
    assert read_root(path, layout="flat").info.layout == "flat"
    with pytest.raises(SchemaError, match=r"no branch 'GenPart_eta', .*branches present: px1"):
        read_root(path, layout="nanoaod")
    # the branch types count too: a scalar GenPart_pt is no NanoAOD collection
    scalar = tmp_path / "scalar.root"
    with uproot.recreate(scalar) as f:
        f.mktree("t", dict.fromkeys((*names, "GenPart_pt"), np.float64))
        f["t"].extend({k: np.ones(3) for k in (*names, "GenPart_pt")})
    assert read_root(scalar).info.layout == "flat"


def test_undetectable_layout(tmp_path):
    path = tmp_path / "odd.root"
    with uproot.recreate(path) as f:
        f["t"] = {"x": np.ones(3), "y": np.zeros(3)}
    with pytest.raises(EventFileError, match=r"tree 't': no known branch layout .*\(x, y\)"):
        read_root(path)


def test_nan_momenta_named(tmp_path):
    path = tmp_path / "nan.root"
    with uproot.recreate(path) as f:
        f["t"] = {
            "E1": np.array([1.0, 2.0, 3.0, np.nan]),
            "px1": np.zeros(4),
            "py1": np.zeros(4),
            "pz1": np.array([0, np.inf, 0, 0]),
        }
    with pytest.raises(SchemaError, match=r"nan.root: tree 't', branch 'E1': event 3 is nan"):
        read_root(path)
    with pytest.raises(SchemaError, match=r"branch 'pz1': event 1 is inf"):
        read_root(path, max_events=3)
    with uproot.recreate(path) as f:
        f["t"] = {
            "E1": np.array([1.0, 2.0, 3.0, np.nan]),
            "px1": np.zeros(4),
            "py1": np.zeros(4),
            "pz1": np.zeros(4),
        }
    chunks = iterate_root(path, step_size=2, layout="flat")
    assert len(next(chunks).events) == 2
    with pytest.raises(SchemaError, match=r"branch 'E1': event 3 is nan"):  # not chunk-relative
        next(chunks)


def test_nan_in_jagged_branch_names_particle(tmp_path):
    path = tmp_path / "nan.root"
    with uproot.recreate(path) as f:
        px = ak.Array([[1.0], [1.0, np.nan]])
        f["t"] = {"p_px": px, "p_py": px * 0, "p_pz": px * 0, "p_E": ak.Array([[1.0], [1, 1]])}
    with pytest.raises(SchemaError, match=r"branch 'p_px': event 1, particle 1 is nan"):
        read_root(path, branches={"px": "p_px", "py": "p_py", "pz": "p_pz", "E": "p_E"})


def test_tree_in_a_folder(tmp_path):
    path = tmp_path / "folder.root"
    with uproot.recreate(path) as f:
        f["sub/t"] = {"px1": np.ones(2), "py1": np.zeros(2), "pz1": np.zeros(2), "E1": [3.0, 2]}
    events, info = read_root(path)
    assert info.tree == "sub/t"
    np.testing.assert_array_equal(ak.to_numpy(events.particles.p4.mass2[:, 0]), [8.0, 3.0])


def test_lhe_and_root_files_concatenate(caplog):
    """The LHE and ROOT copies of one sample carry different optional fields; read_many keeps
    the shared ones, so the events concatenate and select as one sample."""
    from conftest import sample

    from latentsym.jobs import read_many
    from latentsym.physics.selection import select_final_state

    paths = [sample("ee_mumu_91GeV.lhe.gz"), sample("ee_mumu_91GeV.root")]
    with caplog.at_level("INFO", logger="latentsym.io.schema"):
        events, _, file_index, _ = read_many(paths)
    assert "process_id" in caplog.text
    assert "particles.spin" in caplog.text
    root, _ = read_events(paths[1])
    assert set(events.fields) == set(root.fields)
    assert set(events.particles.fields) == set(root.particles.fields)
    n = len(root)
    assert np.bincount(file_index).tolist() == [n, n]
    fs = select_final_state(events)
    assert fs.n_events == 2 * n
    # the same sample in both formats: the same momenta, in the same order
    np.testing.assert_array_equal(fs.momenta()[:n], fs.momenta()[n:])
