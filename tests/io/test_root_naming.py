"""Flat per-object ROOT naming (lep0_PX, mu1_px, Px_1, E1, ...) and the branch mapping
(``branches=``, ``--branches``): the same events whatever the naming, clear errors on
ambiguity, from Python and from the command line."""

from __future__ import annotations

import json

import awkward as ak
import numpy as np
import pytest
import uproot
from conftest import sample

from latentsym.cli import main
from latentsym.errors import ConfigError, EventFileError, SchemaError
from latentsym.io import read_events
from latentsym.io.root import ReadOptions, parse_branches

N = 300
# naming -> (pattern of a branch name, the component names, first index)
NAMINGS = {
    "lep0_PX": ("lep{i}_{c}", {"px": "PX", "py": "PY", "pz": "PZ", "E": "E", "pid": "PID"}, 0),
    "mu1_px": ("mu{i}_{c}", {"px": "px", "py": "py", "pz": "pz", "E": "e", "pid": "pdgId"}, 1),
    "Px_1": ("{c}_{i}", {"px": "Px", "py": "Py", "pz": "Pz", "E": "E", "pid": "PID"}, 1),
    "muon.p_x.1": (
        "muon.{c}.{i}",
        {"px": "p_x", "py": "p_y", "pz": "p_z", "E": "energy", "pid": "id"},
        1,
    ),
    "jetPx1": ("jet{c}{i}", {"px": "Px", "py": "Py", "pz": "Pz", "E": "E", "pid": "Pdg"}, 1),
    "E1": ("{c}{i}", {"px": "px", "py": "py", "pz": "pz", "E": "E", "pid": "pid"}, 1),
}


def _namer(naming):
    pattern, comps, first = NAMINGS[naming]
    return (lambda c, i: pattern.format(c=comps[c], i=i)), first


@pytest.fixture(scope="module")
def muons():
    """The two outgoing muons of the first N events of the bundled e+e- -> mu+ mu- sample."""
    events, _ = read_events(sample("ee_mumu_91GeV.root"), max_events=N)
    mu = events.particles[events.particles.status == 1]
    cols = {c: ak.to_numpy(getattr(mu.p4, c)) for c in ("px", "py", "pz", "E")}
    cols["pid"] = ak.to_numpy(mu.pid).astype(np.int32)
    return cols


def _write(path, muons, name, first=1, comps=("px", "py", "pz", "E", "pid"), rntuple=False):
    cols = {}
    for k in range(2):
        for c in comps:
            cols[name(c, first + k)] = muons[c][:, k]
    with uproot.recreate(path) as f:
        if rntuple:
            f["t"] = cols
        else:
            f.mktree("t", {k: v.dtype for k, v in cols.items()})
            f["t"].extend(cols)
    return path, cols


@pytest.fixture(scope="module")
def reference(muons, tmp_path_factory):
    """The E1, px1, ..., pid1 layout the reader has always known."""
    path, _ = _write(tmp_path_factory.mktemp("ref") / "ref.root", muons, _namer("E1")[0])
    ref = read_events(path)
    assert ref.info.extra["pid_from"] == ["pid1", "pid2"]
    return ref


def _same(a, b):
    for c in ("px", "py", "pz", "E"):
        x, y = (ak.to_numpy(getattr(e.particles.p4, c)) for e in (a, b))
        assert x.tobytes() == y.tobytes(), c
    assert ak.to_list(a.particles.pid) == ak.to_list(b.particles.pid)
    assert ak.to_list(a.particles.status) == ak.to_list(b.particles.status)
    assert ak.to_numpy(a.weight).tolist() == ak.to_numpy(b.weight).tolist()


@pytest.mark.parametrize("rntuple", [False, True], ids=["TTree", "RNTuple"])
@pytest.mark.parametrize("naming", NAMINGS)
def test_every_flat_naming_reads_as_the_e1_px1_layout(tmp_path, muons, reference, naming, rntuple):
    name, first = _namer(naming)
    path, _ = _write(tmp_path / "f.root", muons, name, first, rntuple=rntuple)
    events, info = read_events(path)
    assert (info.layout, info.tree, len(events)) == ("flat", "t", N)
    assert info.extra["pid_from"] == [name("pid", first), name("pid", first + 1)]
    _same(events, reference.events)
    assert set(np.unique(ak.to_numpy(events.particles.pid))) == {-13, 13}


def test_index_order_not_branch_order(tmp_path, muons, reference):
    """Objects come in index order (lep2 after lep10 in the file reads as 2, 10)."""
    name = _namer("lep0_PX")[0]
    cols = {}
    for k, i in ((1, 10), (0, 2)):  # object 10 written first
        for c in ("px", "py", "pz", "E", "pid"):
            cols[name(c, i)] = muons[c][:, k]
    path = tmp_path / "order.root"
    with uproot.recreate(path) as f:
        f["t"] = cols
    _same(read_events(path).events, reference.events)


def test_mass_instead_of_energy_and_charge_instead_of_pid(tmp_path, muons, reference):
    mass = np.sqrt(
        np.maximum(muons["E"] ** 2 - muons["px"] ** 2 - muons["py"] ** 2 - muons["pz"] ** 2, 0)
    )
    cols = {}
    for k in range(2):
        cols |= {f"lep{k}_{c}": muons[c][:, k] for c in ("px", "py", "pz")}
        cols[f"lep{k}_M"] = mass[:, k]
        cols[f"lep{k}_charge"] = -np.sign(muons["pid"][:, k]).astype(np.int32)
    path = tmp_path / "mass.root"
    with uproot.recreate(path) as f:
        f["t"] = cols
    events, info = read_events(path)
    assert info.extra["pid_from"] == ["lep0_charge", "lep1_charge"]
    ref = reference.events
    np.testing.assert_allclose(
        ak.to_numpy(events.particles.p4.E), ak.to_numpy(ref.particles.p4.E), rtol=1e-12
    )
    assert ak.to_list(events.particles.pid) == ak.to_list(ref.particles.pid)
    assert ak.to_list(events.particles.charge) == ak.to_list(-np.sign(ref.particles.pid))


def _tree(path, cols):
    with uproot.recreate(path) as f:
        f.mktree("t", {k: np.asarray(v).dtype for k, v in cols.items()})
        f["t"].extend({k: np.asarray(v) for k, v in cols.items()})
    return path


def _object(prefix, i, n=3, **values):
    out = {f"{prefix}{i}_{c}": np.full(n, v) for c, v in (("PX", 1.0), ("PY", 0.0), ("PZ", 0.0))}
    out[f"{prefix}{i}_E"] = np.full(n, 2.0)
    return out | {f"{prefix}{i}_{k}": np.asarray(v) for k, v in values.items()}


def test_several_object_kinds_need_a_choice(tmp_path):
    path = _tree(tmp_path / "two.root", _object("lep", 0) | _object("lep", 1) | _object("jet", 0))
    with pytest.raises(
        EventFileError,
        match=r"several kinds of flat objects: lep: lep<i>_<comp> \(lep0_PX, lep0_PY, lep0_PZ, "
        r"lep0_E, \.\.\. \(1 more objects\)\); jet: jet<i>_<comp> .*"
        r"collections=\['lep', 'jet'\] \(--collections\), or name the branches with --branches",
    ):
        read_events(path)
    assert ak.num(read_events(path, collections=["lep"]).events.particles).tolist() == [2, 2, 2]
    both, info = read_events(path, collections=["jet", "lep"])
    assert ak.num(both.particles).tolist() == [3, 3, 3]
    assert info.extra["objects"] == ["jet<i>_<comp>", "lep<i>_<comp>"]
    with pytest.raises(SchemaError, match=r"no flat object families with the prefix 'tau'"):
        read_events(path, collections=["tau"])


def test_two_branches_for_one_component_are_refused(tmp_path):
    cols = _object("lep", 0) | {"lep0_energy": np.full(3, 2.0)}
    with pytest.raises(
        EventFileError,
        match=r"object 0 of lep<i>_<comp> has several E branches \(lep0_E, lep0_energy\)\. "
        r"Name the branches to read with --branches",
    ):
        read_events(_tree(tmp_path / "twice.root", cols))


def test_incomplete_object_is_refused_not_dropped(tmp_path):
    cols = _object("lep", 0) | _object("lep", 1) | {"lep2_PX": np.ones(3), "lep2_E": np.ones(3)}
    with pytest.raises(
        SchemaError, match=r"object 2 of lep<i>_<comp> has lep2_PX, lep2_E but no py, pz branch"
    ):
        read_events(_tree(tmp_path / "part.root", cols))


def test_garbage_in_integer_and_huge_momenta_are_named(tmp_path):
    pid = np.array([13.0, np.nan, 13.0])
    with pytest.raises(SchemaError, match=r"branch 'lep0_PID': event 1 is nan, not a whole number"):
        read_events(_tree(tmp_path / "nan.root", _object("lep", 0, PID=pid)))
    with pytest.raises(SchemaError, match=r"branch 'lep0_Q': event 2 is 0.5, not a whole number"):
        read_events(_tree(tmp_path / "half.root", _object("lep", 0, Q=[1.0, -1.0, 0.5])))
    cols = _object("lep", 0)
    cols["lep0_PZ"] = np.array([0.0, -3.5e38, 0.0])
    with pytest.raises(
        SchemaError, match=r"branch 'lep0_PZ': event 1 is -3.5e\+38 \(beyond the float32 range"
    ):
        read_events(_tree(tmp_path / "huge.root", cols))
    cols["lep0_PZ"] = np.array([3.0e38, 0.0, 0.0])  # fits in float32, but E from the mass not
    cols["lep0_M"] = np.array([2.5e38, 1.0, 1.0])
    del cols["lep0_E"]
    with pytest.raises(SchemaError, match=r"event 0, particle 0: E is 3.9\d*e\+38, beyond"):
        read_events(_tree(tmp_path / "derived.root", cols))


# --- the mapping: branches= and --branches ----------------------------------------------


def test_parse_branches_text_and_json(tmp_path):
    text = "px=lep0_PX,lep1_PX,py=lep0_PY,lep1_PY,pz=lep0_PZ, lep1_PZ,e=lep0_E,lep1_E,pid=lep0_PID"
    with pytest.raises(ConfigError, match=r"different numbers of branches per field .*pid: 1"):
        parse_branches(text)
    mapping = parse_branches(text + ",lep1_PID,weight=w")
    assert mapping == {
        "px": ["lep0_PX", "lep1_PX"],
        "py": ["lep0_PY", "lep1_PY"],
        "pz": ["lep0_PZ", "lep1_PZ"],
        "E": ["lep0_E", "lep1_E"],
        "pid": ["lep0_PID", "lep1_PID"],
        "weight": "w",
    }
    path = tmp_path / "map.json"
    path.write_text(json.dumps(mapping))
    assert parse_branches(path) == parse_branches(str(path)) == mapping
    assert ReadOptions(branches=str(path)).branches == mapping
    for bad, message in [
        ("lep0_PX,px=a", r"start with a key"),
        ("px=a,px=b", r"'px' is given twice"),
        ("px=a,energy=b", r"unknown key 'energy'; allowed: px, py, pz, E, pid, status, weight"),
        ("px=a,py=b,pz=", r"pz= names no branch"),
        ("px=a,py=b,pz=c", r"must name \['E'\] \(px, py, pz and E are required\)"),
        ("px=a,py=b,pz=c,E=d,weight=w1,w2", r"branches\['weight'\] must be one branch name"),
        (str(tmp_path / "none.json"), r"none.json': no such file"),
    ]:
        with pytest.raises(ConfigError, match=message):
            parse_branches(bad)
    (tmp_path / "bad.json").write_text("{'px': 1}")
    with pytest.raises(ConfigError, match=r"bad.json': not a readable JSON file"):
        parse_branches(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text('[["px", "a"]]')
    with pytest.raises(ConfigError, match=r"must map schema fields to branch names"):
        parse_branches(tmp_path / "list.json")


def test_mapping_reaches_any_naming(tmp_path, muons, reference):
    """An unusual naming (no index at all) read through the mapping, as text."""
    cols = {}
    for k, who in enumerate(("first", "second")):
        cols |= {f"{c}_{who}": muons[c][:, k] for c in ("px", "py", "pz", "E", "pid")}
    path = _tree(tmp_path / "odd.root", cols)
    with pytest.raises(EventFileError, match=r"no known branch layout"):
        read_events(path)
    text = ",".join(f"{c}={c}_first,{c}_second" for c in ("px", "py", "pz", "E", "pid"))
    events, info = read_events(path, branches=text)
    assert info.layout == "mapping"
    _same(events, reference.events)
    one, _ = read_events(path, branches="px=px_first,py=py_first,pz=pz_first,E=E_first")
    assert ak.num(one.particles).tolist() == [1] * N  # one scalar branch: one particle
    with pytest.raises(SchemaError, match=r"no branch 'pz_third'; branches present: px_first"):
        read_events(path, branches="px=px_first,py=py_first,pz=pz_third,E=E_first")


def test_mapping_refuses_mixed_kinds(tmp_path):
    jag = ak.Array([[1.0, 2.0], [3.0], []])
    path = tmp_path / "mixed.root"
    with uproot.recreate(path) as f:
        f["t"] = {"j_px": jag, "s1": np.ones(3), "s2": np.ones(3)}
    with pytest.raises(ConfigError, match=r"branches\['px'\] lists 'j_px', which holds several"):
        read_events(path, branches={"px": ["j_px", "s1"], "py": "s1", "pz": "s1", "E": "s1"})
    with pytest.raises(ConfigError, match=r"mixes jagged and scalar branches \(px: jagged, py: 1"):
        read_events(path, branches={"px": "j_px", "py": "s1", "pz": "s1", "E": "s1"})


# --- the command line -------------------------------------------------------------------


@pytest.fixture(scope="module")
def lep_tree(muons, tmp_path_factory):
    path, _ = _write(tmp_path_factory.mktemp("cli") / "leptons.root", muons, *_namer("lep0_PX"))
    return path


def test_cli_inspect_detects_lep0_px(lep_tree, capsys):
    assert main(["inspect", str(lep_tree), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert (d["layout"], d["n_events"]) == ("flat", N)
    assert d["final_states"] == [{"particles": ["mu+", "mu-"], "pids": [-13, 13], "count": N}]


def test_cli_branches_text_json_and_errors(lep_tree, tmp_path, capsys):
    mapping = {c: [f"lep0_{c.upper()}", f"lep1_{c.upper()}"] for c in ("px", "py", "pz", "E")}
    text = ",".join(f"{k}={','.join(v)}" for k, v in mapping.items())
    assert (
        main(["inspect", str(lep_tree), "--json", "--branches", text + ",pid=lep0_PID,lep1_PID"])
        == 0
    )
    d = json.loads(capsys.readouterr().out)
    assert (d["layout"], d["final_states"][0]["pids"]) == ("mapping", [-13, 13])
    path = tmp_path / "map.json"
    path.write_text(json.dumps(mapping))
    assert main(["inspect", str(lep_tree), "--json", "--branches", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["final_states"][0]["pids"] == [0, 0]
    assert main(["inspect", str(lep_tree), "--branches", "px=lep0_PX,py=lep0_PY,pz=x,E=y"]) == 2
    err = capsys.readouterr().err
    assert "no branch 'x', 'y'; branches present: lep0_PX" in err
    assert len(err.strip().splitlines()) == 1
    assert main(["inspect", str(lep_tree), "--branches", "px=a,energy=b"]) == 2
    assert "unknown key 'energy'" in capsys.readouterr().err


def test_cli_run_on_a_lep0_px_tree(lep_tree, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["run", str(lep_tree), "--out", str(out), "--epochs", "2", "--max-events", "300"]
    assert main([*args, "--quiet", "--latent-dim", "3", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == {
        "n_relevant",
        "latent_manifold_dim",
        "verdict",
    }
    summary = json.loads((out / "summary.json").read_text())
    assert summary["input"]["n_events_read"] == N
    assert summary["input"]["topology"] == "mu+ mu-"


def test_cli_every_reading_command_takes_branches(lep_tree, tmp_path, capsys):
    """run, scan and inspect share the ROOT reading options; compare has its own pair."""
    from latentsym.cli import _parser, _read_options

    text = ",".join(f"{c}=lep0_{c.upper()},lep1_{c.upper()}" for c in ("px", "py", "pz", "E"))
    for command in (["inspect"], ["run", "--out", "o"], ["scan", "--out", "o"]):
        args = _parser().parse_args([command[0], str(lep_tree), *command[1:], "--branches", text])
        assert _read_options(args).branches == parse_branches(text)
    out = tmp_path / "cmp"
    cmd = ["compare", str(lep_tree), "--truth", str(lep_tree), "--out", str(out)]
    assert (
        main([*cmd, "--branches", text, "--truth-branches", text + ",pid=lep0_PID,lep1_PID"]) == 0
    )
    d = json.loads((out / "comparison.json").read_text())
    assert d["input"]["options"]["branches"] == parse_branches(text)
    assert d["truth"]["options"]["branches"]["pid"] == ["lep0_PID", "lep1_PID"]
    capsys.readouterr()
