"""Damaged ROOT files: latentsym's own error naming the file and the place, or a read
identical to the original; never a foreign exception, never a silent difference.

The fuzz loop mutates the bundled samples, the real files of ../shared/data/external and
two RNTuples written here (byte flips anywhere and in the keys, directory and tree
metadata, truncation, zeroed ranges anywhere and at keys and baskets), seeded, and reads
each copy with ``read_events`` or ``iterate_events``.
"""

from __future__ import annotations

import glob
from collections import Counter

import awkward as ak
import numpy as np
import pytest
import uproot
from conftest import SAMPLES, external, sample

from latentsym.cli import main
from latentsym.errors import EventFileError, LatentsymError
from latentsym.io import iterate_events, read_events
from latentsym.io.describe import describe

KINDS = ("flip", "flip_metadata", "truncate", "zero", "zero_at_key_or_basket")
SAMPLE_FILES = sorted(p.split("/")[-1] for p in glob.glob(str(SAMPLES / "*.root")))
EXTERNAL_FILES = ["uproot-Zmumu.root", "uproot-HZZ.root", "uproot-issue-589.root"]


def _fingerprint(events):
    form, length, buffers = ak.to_buffers(ak.to_packed(events))
    return form, length, {k: np.asarray(v).tobytes() for k, v in buffers.items()}


def _info(info):
    return {k: v for k, v in info.to_dict().items() if k != "path"}


def _where(path):
    """Byte ranges of metadata (key headers and objects, the key list, the file header) and
    the offsets of keys and baskets, where damage is most telling."""
    f = uproot.open(path)
    regions = [(0, int(f.file._fBEGIN)), (int(f._fSeekKeys), int(f._fSeekKeys) + 200)]
    spots = [int(f._fSeekKeys), int(f.file._fSeekInfo)]
    for name in f.keys(cycle=True):
        key = f.key(name)
        regions.append((int(key.fSeekKey), int(key.fSeekKey) + int(key.fNbytes)))
        spots.append(int(key.fSeekKey))
    for name, cls in f.classnames().items():
        if cls == "TTree":
            for b in f[name].branches:
                spots += [int(s) for s in b.member("fBasketSeek")[: b.num_baskets]]
    return regions, spots


def _mutate(data, kind, rng, regions, spots):
    b = bytearray(data)
    n = len(b)
    if kind == "flip":
        b[int(rng.integers(n))] ^= int(rng.integers(1, 256))
    elif kind == "flip_metadata":
        lo, hi = regions[int(rng.integers(len(regions)))]
        b[min(n - 1, int(rng.integers(lo, hi)))] ^= int(rng.integers(1, 256))
    elif kind == "truncate":
        b = b[: int(rng.integers(n))]
    else:
        if kind == "zero":
            start = int(rng.integers(n))
        else:
            start = spots[int(rng.integers(len(spots)))] + int(rng.integers(0, 64))
        stop = min(n, start + int(rng.integers(1, 256)))
        b[start:stop] = bytes(stop - start)
    return bytes(b)


def _read(path, iterate, options, n_entries):
    if not iterate:
        events, info = read_events(path, **options)
        return _fingerprint(events), _info(info)
    step = n_entries // 3 + 1
    chunks = [c.events for c in iterate_events(path, step_size=step, **options)]
    return _fingerprint(ak.concatenate(chunks)), None


def _fuzz(path, tmp_path, n_cases, seed, options=None):
    options = options or {}
    data = path.read_bytes()
    original = _read(path, False, options, 0)
    n_entries = original[0][1]
    regions, spots = _where(path)
    rng = np.random.default_rng(seed)
    table: Counter[tuple[str, str]] = Counter()
    bad = []
    copy = tmp_path / f"damaged-{path.name}"
    for k in range(n_cases):
        kind = KINDS[k % len(KINDS)]
        iterate = k % 4 == 3
        copy.write_bytes(_mutate(data, kind, rng, regions, spots))
        detail = ""
        try:
            got = _read(copy, iterate, options, n_entries)
        except LatentsymError as exc:
            outcome, detail = "latentsym error", str(exc)
            if str(copy) not in detail or "\n" in detail:
                outcome = "error without the file name or on several lines"
        except Exception as exc:  # what this test is about: nothing foreign gets out
            outcome, detail = f"foreign {type(exc).__name__}", str(exc)
        else:
            same = got[0] == original[0] and (got[1] is None or got[1] == original[1])
            outcome = "identical read" if same else "silent difference"
        table[kind, outcome] += 1
        if outcome not in ("latentsym error", "identical read"):
            bad.append((k, kind, "iterate" if iterate else "read", outcome, detail[:300]))
    assert not bad, f"{path.name}: {bad[:5]} ... outcomes {dict(table)}"
    assert table[KINDS[2], "latentsym error"] > 0  # the loop does reach the reader
    return table


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_fuzz_bundled_samples(tmp_path, name):
    _fuzz(sample(name), tmp_path, n_cases=20, seed=SAMPLE_FILES.index(name))


@pytest.mark.parametrize("name", EXTERNAL_FILES)
def test_fuzz_real_files(tmp_path, name):
    options = {"collections": ["Muon", "Electron"]} if "HZZ" in name else {}
    _fuzz(
        external(name), tmp_path, n_cases=60, seed=100 + EXTERNAL_FILES.index(name), options=options
    )


@pytest.fixture(scope="module")
def rntuples(tmp_path_factory):
    """A flat (lep0_PX) and a jagged (Muon_Px) RNTuple from the bundled pp sample."""
    events, _ = read_events(sample("pp_mumu_13TeV.root"), max_events=2000)
    folder = tmp_path_factory.mktemp("rntuple")
    mu = events.particles[events.particles.status == 1]
    flat = {}
    for i in range(2):
        for c in ("px", "py", "pz", "E"):
            flat[f"lep{i}_{c.upper()}"] = ak.to_numpy(getattr(mu.p4, c)[:, i])
        flat[f"lep{i}_PID"] = ak.to_numpy(mu.pid[:, i]).astype(np.int32)
    p = events.particles
    jagged = {
        f"Muon_{c.capitalize() if c != 'E' else c}": getattr(p.p4, c)
        for c in ("px", "py", "pz", "E")
    }
    jagged["Muon_Charge"] = ak.values_astype(-np.sign(p.pid), np.int32)
    paths = []
    for name, cols in (("flat", flat), ("jagged", jagged)):
        with uproot.recreate(folder / f"{name}.root") as f:
            f["Events"] = cols
        paths.append(folder / f"{name}.root")
    return paths


@pytest.mark.parametrize("which", [0, 1], ids=["flat", "jagged"])
def test_fuzz_rntuples(tmp_path, rntuples, which):
    path = rntuples[which]
    assert set(uproot.open(path).classnames().values()) == {"ROOT::RNTuple"}
    _fuzz(path, tmp_path, n_cases=50, seed=200 + which)


@pytest.mark.slow
def test_fuzz_campaign(tmp_path, rntuples):
    """The larger campaign (250 cases per file, 2,500 in all, a few minutes):
    LATENTSYM_SLOW=1 pytest -s ... prints the outcome per mutation kind."""
    files = [(sample(n), {}) for n in SAMPLE_FILES]
    files += [
        (external(n), {"collections": ["Muon", "Electron"]} if "HZZ" in n else {})
        for n in EXTERNAL_FILES
    ]
    files += [(p, {}) for p in rntuples]
    total: Counter[tuple[str, str]] = Counter()
    for i, (path, options) in enumerate(files):
        total += _fuzz(path, tmp_path, n_cases=250, seed=2026 + i, options=options)
    outcomes = sorted({o for _, o in total})
    print(f"\n| mutation | {' | '.join(outcomes)} |\n" + "|---" * (len(outcomes) + 1) + "|")
    for kind in KINDS:
        print(f"| {kind} | {' | '.join(str(total[kind, o]) for o in outcomes)} |")
    assert sum(total.values()) == 250 * len(files)


# --- what the errors say ----------------------------------------------------------------


@pytest.fixture
def flat_tree(tmp_path):
    rng = np.random.default_rng(0)
    cols = {f"{c}{i}": rng.normal(size=300) for i in (1, 2) for c in ("px", "py", "pz")}
    cols |= {f"E{i}": 10 + rng.random(300) for i in (1, 2)}
    path = tmp_path / "t.root"
    with uproot.recreate(path) as f:
        f.mktree("t", dict.fromkeys(cols, np.float64))
        f["t"].extend(cols)
    return path


def test_damaged_basket_named_by_every_entry_point(flat_tree, capsys):
    branch = uproot.open(flat_tree)["t"]["px1"]
    seek = int(branch.member("fBasketSeek")[0])
    end = seek + int(branch.member("fBasketBytes")[0])
    data = bytearray(flat_tree.read_bytes())
    data[end - 40 : end - 20] = bytes(20)
    flat_tree.write_bytes(bytes(data))
    message = (
        rf"t.root: tree 't': branch 'px1', basket 0 \(entries 0-299, at byte {seek}\) cannot be "
        r"read \(zlib.error: Error -3 while decompressing data: incorrect data check\)\. The file "
        r"is damaged \(truncated, or corrupted when written or copied\): copy or generate it"
    )
    with pytest.raises(EventFileError, match=message):
        read_events(flat_tree)
    with pytest.raises(EventFileError, match=message):
        list(iterate_events(flat_tree, step_size=100))
    with pytest.raises(EventFileError, match=message):
        describe(flat_tree)
    assert main(["inspect", str(flat_tree)]) == 2
    err = capsys.readouterr().err
    assert "branch 'px1', basket 0" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_damaged_entry_count_is_not_fewer_events(flat_tree):
    """The tree's entry count (uncompressed metadata, no checksum) lowered by one: without
    the cross-check against the branches, 299 events would read without a word."""
    f = uproot.open(flat_tree)
    key = f.key("t")
    data = bytearray(flat_tree.read_bytes())
    lo = int(key.fSeekKey)
    at = data.index((300).to_bytes(8, "big"), lo, lo + int(key.fNbytes))
    data[at : at + 8] = (299).to_bytes(8, "big")
    flat_tree.write_bytes(bytes(data))
    with pytest.raises(
        EventFileError,
        match=r"tree 't', branch 'E1': the tree has 299 entries but the branch stores 300",
    ):
        read_events(flat_tree)


def test_damaged_key_name_is_not_a_renamed_tree(flat_tree):
    f = uproot.open(flat_tree)
    data = bytearray(flat_tree.read_bytes())
    at = data.index(b"\x05TTree\x01t", int(f._fSeekKeys))  # the tree's name in the key list
    data[at + 7] = ord("u")
    flat_tree.write_bytes(bytes(data))
    with pytest.raises(
        EventFileError,
        match=r"t.root: key 'u;1' at byte \d+: the directory and the key's own header disagree "
        r"\(fName 'u' / 't'\)",
    ):
        read_events(flat_tree)


def test_truncated_file(flat_tree):
    data = flat_tree.read_bytes()
    flat_tree.write_bytes(data[: len(data) // 2])
    with pytest.raises(EventFileError, match=r"t.root: .*cannot be (opened|read)"):
        read_events(flat_tree)


def test_damaged_branch_name_is_not_a_missing_branch(tmp_path):
    """A flipped byte that makes a branch name undecodable (found by the campaign:
    ``particle_mother1`` became ``\\x94article_mother1``, and the file read without the
    mothers) is damaged metadata."""
    path = sample("ee_bb_91GeV.root")
    data = bytearray(path.read_bytes())
    at = data.index(b"particle_mother1")
    data[at] ^= 0xE4  # 'p' (0x70) -> 0x94, not UTF-8 on its own
    bad = tmp_path / "renamed.root"
    bad.write_bytes(bytes(data))
    with pytest.raises(EventFileError, match=r"renamed\.root: tree 'events': the name of branch"):
        read_events(bad)


def test_branch_renamed_by_one_byte_is_damage(tmp_path):
    """A flipped byte in the branch's name (``particle_mass`` -> ``particl,_mass``, found by
    the campaign) leaves valid text; its leaf list ``particle_mass[nparticle]/D`` still
    has the name, and one character between the two copies is damage."""
    path = sample("ee_mumu_91GeV.root")
    data = bytearray(path.read_bytes())
    at = data.index(b"\rparticle_mass\x1aparticle_mass[") + 8  # the 'e' of the name
    data[at] = ord(",")
    bad = tmp_path / "renamed.root"
    bad.write_bytes(bytes(data))
    with pytest.raises(EventFileError, match=r"branch 'particl,_mass' has the leaf list"):
        read_events(bad)
    with pytest.raises(EventFileError, match=r"differ in one character"):
        list(iterate_events(bad, step_size=5000))
