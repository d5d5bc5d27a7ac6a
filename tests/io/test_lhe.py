"""LHE reading and writing: real generator files against pylhe, round trips, error paths.

The malformed files in tests/data are tiny hand-made variants of ``ee_mumu_3events.lhe``
(three e+ e- -> Z -> mu+ mu- events at 91.2 GeV): cut inside event 2, not LHE, without
<init>, ``abc`` as px of event 1 (line 22), NaN / -Infinity as py of event 2 (line 31),
a 12-column particle line (line 12), NUP = 5 with 4 particle lines (event 1), and two
200-event gzip streams, one overwritten in the middle, one cut at 70 % of its length.
"""

from __future__ import annotations

import dataclasses
import gzip
import tracemalloc
from functools import cache
from pathlib import Path

import awkward as ak
import numpy as np
import pylhe
import pytest
from conftest import EXTERNAL_LHE, TEST_DATA, external

from latentsym.errors import EventFileError, OutputError, SchemaError
from latentsym.io.lhe import iterate_lhe, read_lhe
from latentsym.io.lhe_write import write_lhe
from latentsym.io.read import iterate_events, read_events
from latentsym.io.schema import EventFile, RunInfo, make_events

COMPONENTS = ("px", "py", "pz", "E")
INT_FIELDS = ("pid", "status", "mother1", "mother2", "color1", "color2")
FLOAT_FIELDS = ("mass", "lifetime", "spin")
EVENT_FIELDS = ("weight", "process_id", "scale", "alpha_qed", "alpha_qcd")
ROUND_TRIP = (
    "pylhe-testfile-whizard-3.1.4-eeWW.lhe",
    "pylhe-testfile-sherpa-3.0.1-eejjj.lhe",
    "pylhe-testfile-powheg-box-v2-W.lhe",
    "pylhe-testfile-madgraph5-3.5.8-pp_to_jj.lhe.gz",
    "pylhe-testlhef3.lhe",
    "pylhe-testfile-pr29.lhe",
)


@cache
def _read(name: str) -> EventFile:
    return read_lhe(external(name))


@cache
def _pylhe(name: str) -> ak.Array:
    return pylhe.to_awkward(pylhe.LHEFile.fromfile(external(name)))


def _flat(values: ak.Array) -> np.ndarray:
    return np.asarray(ak.to_numpy(ak.flatten(values, axis=None)))


def _bits(values: ak.Array) -> np.ndarray:
    """Float64 values as their bit patterns: equality is bitwise (-0.0 != 0.0)."""
    return _flat(values).astype(np.float64).view(np.int64)


def _assert_same_events(a: ak.Array, b: ak.Array) -> None:
    """Bitwise equal momenta and floats, equal integers, the same named weights."""
    assert len(a) == len(b)
    np.testing.assert_array_equal(
        ak.to_numpy(ak.num(a.particles)), ak.to_numpy(ak.num(b.particles))
    )
    for comp in COMPONENTS:
        np.testing.assert_array_equal(
            _bits(getattr(a.particles.p4, comp)), _bits(getattr(b.particles.p4, comp)), comp
        )
    for field in INT_FIELDS:
        np.testing.assert_array_equal(_flat(a.particles[field]), _flat(b.particles[field]), field)
    for field in FLOAT_FIELDS:
        np.testing.assert_array_equal(_bits(a.particles[field]), _bits(b.particles[field]), field)
    for field in EVENT_FIELDS:
        np.testing.assert_array_equal(_flat(a[field]), _flat(b[field]), field)
    assert ("weights" in a.fields) == ("weights" in b.fields)
    if "weights" in a.fields:
        assert a.weights.fields == b.weights.fields
        for name in a.weights.fields:
            np.testing.assert_array_equal(_bits(a.weights[name]), _bits(b.weights[name]), name)


# ------------------------------------------------------------------ real files vs pylhe


@pytest.mark.parametrize("name", EXTERNAL_LHE)
def test_event_count_matches_pylhe(name: str) -> None:
    events, info = _read(name)
    assert len(events) == info.n_events == pylhe.LHEFile.count_events(external(name)) > 0
    assert info.format == ("lhe.gz" if name.endswith(".gz") else "lhe")


@pytest.mark.parametrize("name", EXTERNAL_LHE)
def test_particles_match_pylhe(name: str) -> None:
    events, _ = _read(name)
    ref = _pylhe(name)
    p, q = events.particles, ref.particles
    np.testing.assert_array_equal(ak.to_numpy(ak.num(p)), ak.to_numpy(ak.num(q)))
    for ours, theirs in zip(COMPONENTS, ("px", "py", "pz", "e"), strict=True):
        np.testing.assert_array_equal(_bits(getattr(p.p4, ours)), _bits(q.vector[theirs]))
    for ours, theirs in (("pid", "id"), ("status", "status"), ("mother1", "mother1"),
                         ("mother2", "mother2"), ("color1", "color1"), ("color2", "color2"),
                         ("mass", "m"), ("lifetime", "lifetime"), ("spin", "spin")):  # fmt: skip
        np.testing.assert_array_equal(_flat(p[ours]), _flat(q[theirs]), ours)
    for ours, theirs in (("weight", "weight"), ("process_id", "pid"), ("scale", "scale"),
                         ("alpha_qed", "aqed"), ("alpha_qcd", "aqcd")):  # fmt: skip
        np.testing.assert_array_equal(_flat(events[ours]), _flat(ref.eventinfo[theirs]), ours)


@pytest.mark.parametrize("name", EXTERNAL_LHE)
def test_named_weights_match_pylhe(name: str) -> None:
    events, info = _read(name)
    ref = _pylhe(name)
    if "weights" not in ref.fields:
        assert "weights" not in events.fields
        assert info.weight_names == ()
        return
    assert set(info.weight_names) == set(ref.weights.fields)
    assert tuple(events.weights.fields) == info.weight_names
    for key in info.weight_names:
        np.testing.assert_array_equal(_flat(events.weights[key]), _flat(ref.weights[key]), key)


def test_many_named_weights_with_labels() -> None:
    events, info = _read("pylhe-testfile-madgraph5-3.5.8-pp_to_jj.lhe.gz")
    assert len(info.weight_names) == 145
    assert info.weight_names[:3] == ("1", "2", "3")  # <initrwgt> order
    assert info.extra["weight_labels"]["1"] == "MUR=0.5 MUF=0.5"
    assert info.extra["weight_labels"]["3"] == "MUR=0.5 MUF=0.5 dyn_scale_choice=HT"
    # Scale variations move the weight, so the named weights are not copies of XWGTUP.
    ratio = _flat(events.weights["1"]) / _flat(events.weight)
    assert np.all(ratio > 0)
    assert np.std(ratio) > 0.01


@pytest.mark.parametrize(
    ("name", "negative"),
    [("pylhe-testfile-powheg-box-v2-W.lhe", [89]), ("pylhe-testfile-pr29.lhe", [679, 756])],
)
def test_negative_weights_kept(name: str, negative: list[int]) -> None:
    events, _ = _read(name)
    weight = _flat(events.weight)
    assert np.flatnonzero(weight < 0).tolist() == negative
    assert weight.sum() == pytest.approx(float(np.sum(_flat(_pylhe(name).eventinfo.weight))))
    if name.endswith("W.lhe"):
        assert weight[89] == -5011.86
        assert _flat(events.weights["ct10"])[89] < 0


@pytest.mark.parametrize(
    ("name", "beams", "energy", "xsec", "xsec_err", "generators"),
    [
        ("pylhe-testfile-whizard-3.1.4-eeWW.lhe", (-11, 11), 250.0, 7.1988749153,
         0.0025187211053, ("WHIZARD 3.1.6",)),
        ("pylhe-testfile-sherpa-3.0.1-eejjj.lhe", (11, -11), 22.0, 1.0, 1.0,
         ("SHERPA 3.0.1",)),
        ("pylhe-testfile-madgraph-2.2.1-Z-mlm.lhe.gz", (2212, 2212), 3500.0,
         607.33273992 + 1078.596989 + 2064.9062749,
         float(np.sqrt(1.4435748608**2 + 2.5637272551**2 + 4.9080950071**2)),
         ("MadGraph5 2.2.1",)),
        ("pylhe-testfile-madgraph5-3.5.8-pp_to_jj.lhe.gz", (2212, 2212), 6500.0, 699670700.0,
         4219275.0, ("MadGraph5_aMC@NLO 3.5.8",)),
        ("pylhe-testfile-powheg-box-v2-Z.lhe", (2212, 2212), 4000.0, 1205.36, 1.73235,
         ("POWHEG-BOX-V2",)),
        ("pylhe-testlhef3.lhe", (2212, 2212), 4000.0, 50.109086, 0.089185414,
         ("SomeGen1 1.2.3", "SomeGen2 a.x.3", "SomeGen3 +.#.@")),
    ],
)  # fmt: skip
def test_run_info(
    name: str,
    beams: tuple[int, int],
    energy: float,
    xsec: float,
    xsec_err: float,
    generators: tuple[str, ...],
) -> None:
    _, info = _read(name)
    assert info.beams == beams
    assert info.beam_energies == (energy, energy)
    assert info.sqrt_s == pytest.approx(2 * energy, rel=1e-15)
    assert info.cross_section_pb == pytest.approx(xsec, rel=1e-12)
    assert info.cross_section_error_pb == pytest.approx(xsec_err, rel=1e-12)
    assert info.generators == generators


def test_run_info_processes_and_unknowns() -> None:
    _, info = _read("pylhe-testfile-madgraph-2.2.1-Z-mlm.lhe.gz")
    assert [p["id"] for p in info.extra["processes"]] == [3, 2, 1]
    assert info.extra["pdf_set"] == [10800, 10800]
    assert info.extra["weighting_strategy"] == 3
    assert "weight_labels" not in info.extra  # the file has no <initrwgt>
    # GiBUU file: odd beams, no process lines, so no cross-section.
    _, info = _read("pylhe-testfile-pr29.lhe")
    assert info.beams == (1, 2)
    assert info.cross_section_pb is None
    assert info.cross_section_error_pb is None
    assert info.generators == ("GiBUU",)


@pytest.mark.parametrize(
    "name", ["pylhe-testfile-sherpa-3.0.1-eejjj.lhe", "pylhe-testfile-whizard-3.1.4-eeWW.lhe"]
)
def test_ee_four_momentum_conserved(name: str) -> None:
    events, info = _read(name)
    p = events.particles
    incoming, outgoing = p[p.status == -1], p[p.status == 1]
    assert ak.all(ak.num(incoming) == 2)
    sqrt_s = info.sqrt_s
    assert sqrt_s is not None
    for comp in COMPONENTS:
        out = _flat(ak.sum(getattr(outgoing.p4, comp), axis=1))
        inc = _flat(ak.sum(getattr(incoming.p4, comp), axis=1))
        np.testing.assert_allclose(out / sqrt_s, inc / sqrt_s, rtol=0, atol=1e-6)
    np.testing.assert_allclose(_flat(ak.sum(incoming.p4.E, axis=1)), sqrt_s, rtol=1e-12)
    if "WW" in name:  # on-shell W bosons with WHIZARD's mass
        np.testing.assert_allclose(_flat(outgoing.p4.mass), 80.419, rtol=1e-9)
        assert set(_flat(outgoing.pid).tolist()) == {24, -24}


# ------------------------------------------------------------------ max_events, chunks


@pytest.mark.parametrize(
    "name", ["pylhe-testfile-madgraph-2.2.1-Z-mlm.lhe.gz", "pylhe-testfile-pr29.lhe"]
)
def test_max_events(name: str) -> None:
    full, _ = _read(name)
    events, info = read_lhe(external(name), max_events=37)
    assert len(events) == info.n_events == 37
    _assert_same_events(events, full[:37])
    events, info = read_lhe(external(name), max_events=10**9)
    assert info.n_events == len(full)


@pytest.mark.parametrize(
    "name",
    [
        "pylhe-testfile-pr29.lhe",
        "pylhe-testfile-madgraph5-3.5.8-pp_to_jj.lhe.gz",
        "pylhe-testfile-whizard-3.1.4-eeWW.lhe",
    ],
)
def test_iterate_concatenates_to_full_read(name: str) -> None:
    full, info = _read(name)
    chunks = list(iterate_lhe(external(name), step_size=97))
    assert [c.info.extra["first_event"] for c in chunks] == list(range(0, len(full), 97))
    assert [c.info.n_events for c in chunks] == [len(c.events) for c in chunks]
    assert all(c.info.n_events == 97 for c in chunks[:-1])
    _assert_same_events(ak.concatenate([c.events for c in chunks]), full)
    assert chunks[-1].info.weight_names == info.weight_names
    limited = list(iterate_lhe(external(name), step_size=4, max_events=9))
    assert [len(c.events) for c in limited] == [4, 4, 1][: -(-min(9, len(full)) // 4)]
    _assert_same_events(ak.concatenate([c.events for c in limited]), full[:9])


def _peak(read: object) -> int:
    tracemalloc.start()
    try:
        read()  # type: ignore[operator]
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_iterate_holds_one_chunk_at_a_time() -> None:
    path = external("pylhe-testfile-madgraph-2.2.1-Z-mlm.lhe.gz")

    def chunks(n: int, engine: str) -> int:
        return sum(len(c.events) for c in iterate_lhe(path, step_size=200, max_events=n,
                                                       engine=engine))  # fmt: skip

    # pylhe's route holds Python objects per event: the whole read costs far more.
    whole = _peak(lambda: read_lhe(path, max_events=5000, engine="pylhe"))
    assert _peak(lambda: chunks(5000, "pylhe")) < whole / 4
    # the numpy route parses about 1 MB of text at a time: its peak does not grow with
    # the number of events read in chunks
    assert chunks(10000, "fast") == 10000
    small, large = _peak(lambda: chunks(2000, "fast")), _peak(lambda: chunks(10000, "fast"))
    assert large < 1.2 * small


@pytest.mark.parametrize("suffix", [".lhe", ".lhe.gz"])
@pytest.mark.parametrize("name", ROUND_TRIP)
def test_round_trip_is_lossless(name: str, suffix: str, tmp_path: Path) -> None:
    events, info = _read(name)
    out = write_lhe(events, tmp_path / ("copy" + suffix), info)
    assert out == tmp_path / ("copy" + suffix)
    assert (out.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".lhe.gz")
    again, info2 = read_lhe(out)
    _assert_same_events(again, events)
    assert info2.format == suffix[1:]
    # the written file has <rwgt> weights, which the numpy path reads, where the original
    # may have had a <weights> block that only pylhe reads: all else is equal
    extra = {k: v for k, v in info.extra.items() if k != "lhe_reader"}
    assert info2.extra.pop("lhe_reader") == "fast"
    assert dataclasses.replace(info2, path="", format="") == dataclasses.replace(
        info, path="", format="", extra=extra
    )
    assert pylhe.LHEFile.count_events(out) == len(events)
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # no temporary left


def test_write_prints_full_precision(tmp_path: Path) -> None:
    # pylhe's default format keeps 9 digits of momenta and 5 of named weights; ours all 17.
    px = [[0.1 + 0.2, -0.0, 1e-300, 1.0 / 3.0], [2.0**0.5, -123456.78901234567]]
    events = make_events(
        p4={
            "px": px,
            "py": [[7.0] * 4, [np.pi, -np.e]],
            "pz": [[0.0] * 4, [1e20, 5e-324]],
            "E": [[1.0, 2.0, 3.0, 4.0], [1e21, 1e6 / 7]],
        },
        pid=[[11, -11, 13, -13], [22, 22]],
        status=[[-1, -1, 1, 1], [1, 1]],
        weight=[-1.0 / 3.0, 2.0 / 3.0],
        weights={"nominal": [1.0 / 7.0, -2.0 / 7.0], "muR2": [np.pi, 1e-17]},
    )
    out = write_lhe(events, tmp_path / "precise.lhe.gz")
    again, info = read_lhe(out)
    for comp in COMPONENTS:
        np.testing.assert_array_equal(
            _bits(getattr(again.particles.p4, comp)), _bits(getattr(events.particles.p4, comp))
        )
    np.testing.assert_array_equal(_bits(again.weight), _bits(events.weight))
    assert info.weight_names == ("nominal", "muR2")
    np.testing.assert_array_equal(_bits(again.weights.nominal), _bits(events.weights.nominal))
    np.testing.assert_array_equal(_bits(again.weights.muR2), _bits(events.weights.muR2))
    # Defaults for what the events lack, and no invented run information.
    assert _flat(again.particles.spin).tolist() == [9.0] * 6
    assert _flat(again.particles.mother1).tolist() == [0] * 6
    assert info.beams is None
    assert info.sqrt_s is None
    assert info.cross_section_pb is None
    text = gzip.decompress(out.read_bytes()).decode()
    assert "0.30000000000000004" in text
    assert "-123456.78901234567" in text


def test_write_run_info_and_extra(tmp_path: Path) -> None:
    events, _ = _read("pylhe-testfile-whizard-3.1.4-eeWW.lhe")
    info = RunInfo(
        path="x", format="lhe", n_events=3, beams=(11, -11), beam_energies=(45.6, 45.6),
        sqrt_s=91.2, cross_section_pb=1234.5, cross_section_error_pb=0.5,
        generators=("Pythia 8.317",), extra={"seed": 7, "settings": ["a = 1", "b <&> 2"]},
    )  # fmt: skip
    _, back = read_lhe(write_lhe(events, tmp_path / "w.lhe", info))
    assert back.beams == (11, -11)
    assert back.beam_energies == (45.6, 45.6)
    assert back.sqrt_s == pytest.approx(91.2, rel=1e-15)
    assert (back.cross_section_pb, back.cross_section_error_pb) == (1234.5, 0.5)
    assert back.generators == ("Pythia 8.317",)
    assert back.extra["seed"] == 7
    assert back.extra["settings"] == ["a = 1", "b <&> 2"]
    assert back.n_events == len(events) == 10


def test_write_refuses_to_overwrite(tmp_path: Path) -> None:
    events, info = read_lhe(TEST_DATA / "ee_mumu_3events.lhe")
    out = write_lhe(events, tmp_path / "ee.lhe", info)
    before = out.read_bytes()
    with pytest.raises(OutputError, match=r"ee\.lhe: exists.*overwrite=True"):
        write_lhe(events[:1], out, info)
    assert out.read_bytes() == before
    write_lhe(events[:1], out, info, overwrite=True)
    assert read_lhe(out).info.n_events == 1
    with pytest.raises(OutputError, match=r"\.lhe or \.lhe\.gz"):
        write_lhe(events, tmp_path / "ee.txt", info)
    with pytest.raises(OutputError, match="does not exist"):
        write_lhe(events, tmp_path / "missing" / "ee.lhe", info)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ee.lhe"]


def test_write_zero_events(tmp_path: Path) -> None:
    events, info = read_lhe(TEST_DATA / "ee_mumu_3events.lhe")
    empty, back = read_lhe(write_lhe(events[:0], tmp_path / "empty.lhe", info))
    assert len(empty) == back.n_events == 0
    assert back.cross_section_pb == 1500.0
    assert list(iterate_lhe(tmp_path / "empty.lhe", step_size=2)) == []


def test_gzip_output_is_reproducible(tmp_path: Path) -> None:
    events, info = read_lhe(TEST_DATA / "ee_mumu_3events.lhe")
    a = write_lhe(events, tmp_path / "a.lhe.gz", info).read_bytes()
    b = write_lhe(events, tmp_path / "b.lhe.gz", info).read_bytes()
    assert a == b


# ------------------------------------------------------------------ malformed input


@pytest.mark.parametrize(
    ("name", "error", "match"),
    [
        ("bad_truncated.lhe", EventFileError,
         r"bad_truncated\.lhe: .*cut off.* event 2 .*line 31.*events 0 to 1 are complete"),
        ("bad_not_lhe.lhe", EventFileError, r"bad_not_lhe\.lhe: not an LHE or ROOT file"),
        ("bad_no_init.lhe", EventFileError, r"bad_no_init\.lhe: .*No <init> block.*IDBMUP1"),
        ("bad_corrupt.lhe.gz", EventFileError,
         r"bad_corrupt\.lhe\.gz: corrupt or truncated gzip stream .*CRC check failed.*gzip -t"),
        ("bad_truncated.lhe.gz", EventFileError,
         r"bad_truncated\.lhe\.gz: corrupt or truncated gzip stream .*ended before"),
        ("bad_nonnumeric.lhe", EventFileError,
         r"bad_nonnumeric\.lhe: event 1 \(line 22: '13 1 3 3 0 0 abc .*'abc'.*13 numbers"),
        ("bad_columns.lhe", EventFileError,
         r"bad_columns\.lhe: event 0 \(line 12: .*too few columns.*13 numbers"),
        ("bad_nup.lhe", EventFileError,
         r"bad_nup\.lhe: event 1 \(line 18: .*NUP = 5 particles but has 4"),
        ("bad_nan.lhe", SchemaError, r"bad_nan\.lhe: event 2, particle 4 \(line 31: .*py is nan"),
        ("bad_inf.lhe", SchemaError, r"bad_inf\.lhe: event 2, particle 4 \(line 31: .*py is -inf"),
    ],
)  # fmt: skip
def test_malformed_files_raise(name: str, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        read_lhe(TEST_DATA / name)
    with pytest.raises(error, match=match):
        list(iterate_lhe(TEST_DATA / name, step_size=7))


def test_truncated_file_is_never_returned_in_part() -> None:
    chunks = iterate_lhe(TEST_DATA / "bad_truncated.lhe", step_size=1)
    assert len(next(chunks).events) == 1  # event 0
    assert len(next(chunks).events) == 1  # event 1
    with pytest.raises(EventFileError, match="cut off"):
        next(chunks)  # event 2 is cut: an error, not a short last chunk
    with pytest.raises(EventFileError, match="cut off"):
        read_lhe(TEST_DATA / "bad_truncated.lhe", max_events=3)
    events, _ = read_lhe(TEST_DATA / "bad_truncated.lhe", max_events=2)  # before the cut
    assert len(events) == 2


def test_reference_file_reads() -> None:
    events, info = read_lhe(TEST_DATA / "ee_mumu_3events.lhe")
    assert len(events) == 3
    assert info.sqrt_s == pytest.approx(91.2)
    final = events.particles[events.particles.status == 1]
    np.testing.assert_allclose(_flat(final.p4.mass), 0.10566, rtol=1e-9)


def test_dispatcher() -> None:
    path = TEST_DATA / "ee_mumu_3events.lhe"
    events, _ = read_events(path)
    _assert_same_events(events, read_lhe(path).events)
    assert [len(c.events) for c in iterate_events(path, step_size=2)] == [2, 1]
    with pytest.raises(EventFileError, match=r"nowhere\.lhe: no such file"):
        read_events(TEST_DATA / "nowhere.lhe")
    with pytest.raises(EventFileError, match=r"data: is a directory"):
        read_events(TEST_DATA)
    with pytest.raises(EventFileError, match="not an LHE or ROOT file"):
        read_events(TEST_DATA / "bad_not_lhe.lhe")
    with pytest.raises(EventFileError, match="cut off"):
        read_events(TEST_DATA / "bad_truncated.lhe")
