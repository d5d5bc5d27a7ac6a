"""HepMC3 input: files written by pyhepmc from Pythia events (hard process and showered).

The files are generated here, at test time (about a second each): e+ e- -> Z -> mu+ mu- at
91.2 GeV, the hard process (``pythia.process``, parton and hadron level off, no ISR) with
the settings and seed of the bundled ``ee_mumu_91GeV`` sample, so the same events as its
LHE file; and showered (``pythia.event``: lepton ISR, QED FSR, hadronisation on). Damaged
copies of them (truncated, garbage lines, bad numbers, broken counts) must give
latentsym's own error, naming the line and the event, and a one-line CLI error with exit
code 2.
"""

from __future__ import annotations

import gzip
import json
import random
import re

import awkward as ak
import numpy as np
import pytest
from conftest import sample

from latentsym.cli import main
from latentsym.errors import EventFileError, LatentsymError, SchemaError
from latentsym.io import detect_format, iterate_events, read_events
from latentsym.io.hepmc import iterate_hepmc, read_hepmc
from latentsym.physics.selection import select_final_state

pythia8mc = pytest.importorskip("pythia8mc")
pyhepmc = pytest.importorskip("pyhepmc")

EE_MUMU = (
    "Beams:idA = 11",
    "Beams:idB = -11",
    "Beams:eCM = 91.2",
    "WeakSingleBoson:ffbar2gmZ = on",
    "23:onMode = off",
    "23:onIfAny = 13",
)
HARD = ("PDF:lepton = off", "PartonLevel:all = off", "HadronLevel:all = off")
# as samples/generate.py writes ee_mumu_91GeV: the same events
SAMPLE_SETTINGS = (*EE_MUMU, *HARD, "Print:quiet = on", "Random:setSeed = on", "Random:seed = 9101")
SHOWER_SETTINGS = (*EE_MUMU, "Print:quiet = on", "Random:setSeed = on", "Random:seed = 16")
N_HARD, N_SHOWER = 200, 300


def _genevent(record, number, run_info):
    """A Pythia event record (entries 1.., the system entry 0 left out) as a GenEvent,
    particles in an order where every mother comes before its daughters (HepMC3 reads
    back only such files)."""
    n = record.size()
    mothers = {i: [m for m in record[i].motherList() if m > 0] for i in range(1, n)}
    order, seen = [], set()
    for root in range(1, n):
        stack = [(root, False)]
        while stack:
            i, done = stack.pop()
            if done:
                order.append(i)
            elif i not in seen:
                seen.add(i)
                stack.append((i, True))
                stack += [(m, False) for m in reversed(mothers[i]) if m not in seen]
    parts = {}
    for i in range(1, n):
        q = record[i]
        mom = pyhepmc.FourVector(q.px(), q.py(), q.pz(), q.e())
        parts[i] = pyhepmc.GenParticle(mom, q.id(), q.statusHepMC())
        parts[i].generated_mass = q.m()
    event = pyhepmc.GenEvent(pyhepmc.Units.GEV, pyhepmc.Units.MM)
    event.event_number = number
    event.run_info = run_info
    end_vertex = {}
    for i in order:
        if not mothers[i]:
            event.add_particle(parts[i])
            continue
        vertex = end_vertex.get(mothers[i][0])
        if vertex is None:
            vertex = pyhepmc.GenVertex()
            for m in mothers[i]:
                if m not in end_vertex:
                    vertex.add_particle_in(parts[m])
                    end_vertex[m] = vertex
            event.add_vertex(vertex)
        vertex.add_particle_out(parts[i])
    return event


def _generate(path, settings, n_events, *, showered):
    """Write ``n_events`` Pythia events to ``path`` with pyhepmc; the particle counts."""
    pythia = pythia8mc.Pythia("", False)
    for setting in settings:
        assert pythia.readString(setting), setting
    assert pythia.init()
    run_info = pyhepmc.GenRunInfo()
    run_info.tools = [pyhepmc.GenRunInfo.ToolInfo("Pythia8", "8.317", "latentsym tests")]
    run_info.weight_names = ["Weight"]
    sizes, n = [], 0
    with pyhepmc.open(path, "w") as f:
        while n < n_events:
            if not pythia.next():
                continue
            record = pythia.event if showered else pythia.process
            event = _genevent(record, n, run_info)
            info = pythia.infoPython()
            event.weights = [info.weight()]
            xsec = pyhepmc.GenCrossSection()
            xsec.set_cross_section(info.sigmaGen() * 1e9, info.sigmaErr() * 1e9, n + 1, n + 1)
            event.cross_section = xsec
            f.write(event)
            sizes.append(record.size() - 1)
            n += 1
    return sizes


@pytest.fixture(scope="module")
def hard(tmp_path_factory):
    path = tmp_path_factory.mktemp("hepmc") / "ee_mumu_hard.hepmc"
    sizes = _generate(path, SAMPLE_SETTINGS, N_HARD, showered=False)
    return path, sizes


@pytest.fixture(scope="module")
def shower(tmp_path_factory):
    path = tmp_path_factory.mktemp("hepmc") / "ee_mumu_shower.hepmc.gz"
    sizes = _generate(path, SHOWER_SETTINGS, N_SHOWER, showered=True)
    return path, sizes


def _regular(values):
    return ak.to_numpy(ak.to_regular(values))


# ---------------------------------------------------------------------- reading


def test_detect_format(hard, shower, tmp_path):
    assert detect_format(hard[0]) == "hepmc3"
    assert detect_format(shower[0]) == "hepmc3.gz"
    hepmc2 = tmp_path / "old.hepmc"
    hepmc2.write_text("HepMC::Version 2.06.09\nHepMC::IO_GenEvent-START_EVENT_LISTING\n")
    with pytest.raises(EventFileError, match=r"old\.hepmc: a HepMC2 ASCII file; .*HepMC3"):
        detect_format(hepmc2)


def test_hard_process_reads_the_events_of_the_lhe_sample(hard):
    """Same seed and settings as the bundled sample: the HepMC3 file holds its events, bit
    for bit (beams first, then the LHE record: incoming e- e+, Z, mu- mu+)."""
    events, info = read_events(hard[0])
    lhe, lhe_info = read_events(sample("ee_mumu_91GeV.lhe.gz"), max_events=N_HARD)
    assert len(events) == N_HARD
    hep = events.particles[:, 2:]  # the two beam particles (HepMC status 4) first
    for c in ("px", "py", "pz", "E"):
        np.testing.assert_array_equal(
            _regular(getattr(hep.p4, c)), _regular(getattr(lhe.particles.p4, c))
        )
    np.testing.assert_array_equal(_regular(hep.pid), _regular(lhe.particles.pid))
    np.testing.assert_array_equal(_regular(hep.mass), _regular(lhe.particles.mass))
    assert events.particles.status[0].tolist() == [-1, -1, 2, 2, 2, 1, 1]
    assert events.particles.status_hepmc[0].tolist() == [4, 4, 21, 21, 22, 1, 1]
    assert events.particles.mother1[0].tolist() == [0, 0, 1, 2, 3, 5, 5]
    assert events.particles.mother2[0].tolist() == [0, 0, 0, 0, 4, 0, 0]
    assert events.event_number.tolist() == list(range(N_HARD))
    # the LHE path selects the same final state with the same momenta
    a, b = select_final_state(events, "mu+ mu-"), select_final_state(lhe, "mu+ mu-")
    np.testing.assert_array_equal(a.momenta(), b.momenta())
    assert info.format == "hepmc3"
    assert (info.beams, info.beam_energies, info.sqrt_s) == ((11, -11), (45.6, 45.6), 91.2)
    assert info.sqrt_s == lhe_info.sqrt_s
    assert info.generators == ("Pythia8 8.317",)
    assert info.weight_names == ("Weight",)
    assert info.extra["tools"][0]["description"] == "latentsym tests"
    assert info.cross_section_pb == pytest.approx(lhe_info.cross_section_pb, rel=1e-6)
    np.testing.assert_array_equal(events.weight, 1.0)
    np.testing.assert_array_equal(events.weights.Weight, 1.0)


def test_hard_process_conserves_momentum_and_keeps_muon_masses(hard):
    events, _ = read_events(hard[0])
    fs = select_final_state(events, "mu+ mu-")
    total = fs.momenta().sum(axis=1)
    np.testing.assert_allclose(total[:, 0], 91.2, rtol=1e-12)
    np.testing.assert_allclose(total[:, 1:], 0.0, atol=1e-10)
    m2 = ak.to_numpy(ak.flatten(fs.p4.mass2))
    np.testing.assert_allclose(np.sqrt(m2), 0.10566, rtol=1e-6)


def test_showered_file_keeps_every_particle(shower):
    path, sizes = shower
    events, info = read_events(path)
    assert info.format == "hepmc3.gz"
    assert ak.num(events.particles).tolist() == sizes
    status, hep = ak.flatten(events.particles.status), ak.flatten(events.particles.status_hepmc)
    assert set(np.unique(ak.to_numpy(status)).tolist()) == {-1, 1, 2}
    np.testing.assert_array_equal(ak.to_numpy(hep == 1), ak.to_numpy(status == 1))
    np.testing.assert_array_equal(ak.to_numpy(hep == 4), ak.to_numpy(status == -1))
    # every final-state particle but the beams' remnants comes from an earlier particle
    m1 = events.particles.mother1
    index = ak.local_index(m1) + 1
    assert bool(ak.all((m1 < index) | (m1 == 0)))
    assert bool(ak.all((m1 > 0) | (events.particles.status == -1)))
    # ISR and FSR: the muons no longer carry sqrt(s)
    fs = select_final_state(events, "mu+ mu-", inclusive=True)
    assert fs.n_events == N_SHOWER
    assert fs.ignored["gamma"] > N_SHOWER
    assert np.std(fs.momenta().sum(axis=1)[:, 0]) > 0.1


def test_plain_and_gzip_and_chunks_agree(shower, tmp_path):
    plain = tmp_path / "shower.hepmc3"
    plain.write_bytes(gzip.decompress(shower[0].read_bytes()))
    a, _ = read_events(plain)
    b, _ = read_events(shower[0])
    assert ak.to_list(a) == ak.to_list(b)
    chunks = list(iterate_events(plain, step_size=70, max_events=250))
    assert [c.info.extra["first_event"] for c in chunks] == [0, 70, 140, 210]
    assert [c.info.n_events for c in chunks] == [70, 70, 70, 40]
    assert ak.to_list(ak.concatenate([c.events for c in chunks])) == ak.to_list(a[:250])
    assert len(read_hepmc(plain, max_events=5).events) == 5
    assert sum(len(c.events) for c in iterate_hepmc(plain, step_size=1000)) == N_SHOWER


def test_units_in_mev_are_converted(hard, tmp_path):
    text = hard[0].read_text()
    lines = []
    for line in text.splitlines():
        if line == "U GEV MM":
            line = "U MEV MM"
        elif line.startswith("P "):
            f = line.split()
            f[4:9] = [repr(float(x) * 1000.0) for x in f[4:9]]
            line = " ".join(f)
        lines.append(line)
    mev = tmp_path / "mev.hepmc"
    mev.write_text("\n".join(lines) + "\n")
    a, info = read_events(mev)
    b, _ = read_events(hard[0])
    assert info.extra["momentum_unit"] == "MEV"
    np.testing.assert_allclose(_regular(a.particles.p4.E), _regular(b.particles.p4.E))
    np.testing.assert_allclose(_regular(a.particles.mass), _regular(b.particles.mass))


def test_unnamed_weights_are_named_by_position(hard, tmp_path):
    lines = [line for line in _lines(hard[0]) if line != "W Weight"]
    lines = [line + " 0.5" if line.startswith("W 1") else line for line in lines]
    events, info = read_events(_write(tmp_path, lines, "unnamed.hepmc"))
    assert info.weight_names == ("0", "1")
    np.testing.assert_array_equal(events.weights["1"], 0.5)
    np.testing.assert_array_equal(events.weight, 1.0)
    at = _first(lines, "W 1", 7)
    lines[at] = "W 1.0"
    with pytest.raises(EventFileError, match=r"1 weights in the event, 2 in the events before"):
        read_events(_write(tmp_path, lines, "varying.hepmc"))


def test_options_of_other_formats_are_refused(hard):
    with pytest.raises(LatentsymError, match=r"options \['tree'\] do not apply to a HepMC3"):
        read_events(hard[0], tree="events")


# ------------------------------------------------------------------------ damage


def _lines(path):
    return path.read_text().split("\n")


def _write(tmp_path, lines, name="damaged.hepmc"):
    out = tmp_path / name
    out.write_text("\n".join(lines) if isinstance(lines, list) else lines)
    return out


def _first(lines, prefix, k=0):
    return [i for i, line in enumerate(lines) if line.startswith(prefix)][k]


def _replace_field(lines, i, field, value):
    f = lines[i].split(" ")
    f[field] = value
    return [*lines[:i], " ".join(f), *lines[i + 1 :]]


DAMAGE = {
    "cut inside an event": (
        lambda ls: "\n".join(ls)[: len("\n".join(ls)) // 2],
        r"line \d+: the file ends inside event \d+ .* without HepMC::Asciiv3-END_EVENT_LISTING"
        r".*max_events=\d+",
    ),
    "cut between events": (
        lambda ls: "\n".join(ls[: _first(ls, "E ", 150)]) + "\n",
        r"the file ends inside event 149 .*cut short",
    ),
    "footer deleted": (
        lambda ls: [line for line in ls if "END_EVENT_LISTING" not in line],
        r"the file ends inside event 199 .*without HepMC::Asciiv3-END_EVENT_LISTING",
    ),
    "garbage line in an event": (
        lambda ls: [*ls[: _first(ls, "P ", 30)], "hello world", *ls[_first(ls, "P ", 30) :]],
        r"line \d+: not a valid HepMC3 line: 'hello world' \(event 4\)",
    ),
    "garbage line between events": (
        lambda ls: [*ls[: _first(ls, "E ", 9)], "#garbage", *ls[_first(ls, "E ", 9) :]],
        r"not a valid HepMC3 line: '#garbage' \(event 8\)",
    ),
    "a word for a number": (
        lambda ls: _replace_field(ls, _first(ls, "P ", 39), 6, "abc"),
        r"line 74: not a valid HepMC3 particle line \(pz is 'abc', not a plain ASCII number\): "
        r"'P 5 .*abc.*' \(event 5\)",
    ),
    "nan momentum": (
        lambda ls: _replace_field(ls, _first(ls, "P ", 39), 7, "nan"),
        r"particle line \(E is 'nan', not a plain ASCII number\)",
    ),
    "number with junk after it": (
        lambda ls: _replace_field(ls, _first(ls, "P ", 39), 7, "45.6x"),
        r"particle line \(E is '45.6x', not a plain ASCII number\)",
    ),
    "non-ASCII digit": (
        lambda ls: _replace_field(ls, _first(ls, "P ", 39), 7, "\u0664\u0665.6"),
        r"particle line \(E is '\\\\xd9.*', not a plain ASCII number\)",
    ),
    "a column missing": (
        lambda ls: _replace_field(ls, _first(ls, "P ", 39), 9, ""),
        r"particle line \(8 fields where a particle line has 9: id parent pid px py pz E m "
        r"status\)",
    ),
    "two spaces": (
        lambda ls: _replace_field(ls, _first(ls, "P ", 39), 3, " 13"),
        r"particle line \(two spaces between fields\)",
    ),
    "particle line deleted": (
        lambda ls: [*ls[: _first(ls, "P ", 39)], *ls[_first(ls, "P ", 39) + 1 :]],
        r"particle 6 where particle 5 comes next .*\(event 5\)",
    ),
    "last particle line deleted": (
        lambda ls: [*ls[: _first(ls, "E ", 6) - 1], *ls[_first(ls, "E ", 6) :]],
        r"the event declares 7 particles and has 6 particle lines \(event 5\)",
    ),
    "particle line duplicated": (
        lambda ls: [*ls[: _first(ls, "P ", 39) + 1], *ls[_first(ls, "P ", 39) :]],
        r"particle 5 where particle 6 comes next",
    ),
    "event line deleted": (
        lambda ls: [*ls[: _first(ls, "E ", 7)], *ls[_first(ls, "E ", 7) + 1 :]],
        r"not a valid HepMC3 line: 'U GEV MM' \(event 6\)",
    ),
    "vertex count changed": (
        lambda ls: _replace_field(ls, _first(ls, "E ", 7), 2, "9"),
        r"the event declares 9 vertices and its lines make 4 \(event 7\)",
    ),
    "vertex id out of range": (
        lambda ls: _replace_field(ls, _first(ls, "V ", 7), 1, "-99"),
        r"vertex -99 is out of range: the event declares 4 vertices \(event 7\)",
    ),
    "vertex line deleted": (
        lambda ls: [*ls[: _first(ls, "V ", 7)], *ls[_first(ls, "V ", 7) + 1 :]],
        r"particle 5 comes from vertex -3, which has no V line \(event 7\)",
    ),
    "parent out of range": (
        lambda ls: _replace_field(ls, _first(ls, "P ", 39), 2, "70"),
        r"particle 5 comes from 70, neither another of the event's 7 particles",
    ),
    "a particle into two vertices": (
        lambda ls: _replace_field(ls, _first(ls, "V ", 7), 3, "[3,4,5]"),
        r"particle 5 goes into two vertices \(event 7\)",
    ),
    "an attribute ending in a lone backslash": (
        lambda ls: [
            *ls[: _first(ls, "A 0", 2) + 1],
            "A 0 note x\\",
            *ls[_first(ls, "A 0", 2) + 1 :],
        ],
        r"an attribute ending in a lone backslash: 'A 0 note x.*' \(event 2\)",
    ),
    "weights do not match the names": (
        lambda ls: _replace_field(ls, _first(ls, "W 1", 3), 1, "1.0 2.0"),
        r"2 weights in the event, while the run names 1 weights \(event 3\)",
    ),
    "windows line ends": (
        lambda ls: "\r\n".join(ls),
        r"line 1: a carriage return \(Windows line ends, CR LF\?\)",
    ),
    "text after the footer": (
        lambda ls: [*ls, "more"],
        r"text after HepMC::Asciiv3-END_EVENT_LISTING: 'more'",
    ),
    "two files concatenated": (
        lambda ls: ls + ls,
        r"text after HepMC::Asciiv3-END_EVENT_LISTING: 'HepMC::Version.*give the files "
        r"separately",
    ),
    "a second run inside the file": (
        lambda ls: [*ls[: _first(ls, "E ", 9)], "T Herwig\\|7\\|x", *ls[_first(ls, "E ", 9) :]],
        r"run information \('T Herwig.*inside event 8.*one run per HepMC3 file",
    ),
    "header only": (
        lambda ls: ls[:4],
        r"the file ends in its header without HepMC::Asciiv3-END_EVENT_LISTING",
    ),
    "bad cross-section": (
        lambda ls: _replace_field(ls, _first(ls, "A 0 GenCrossSection", 2), 3, "x"),
        r"a GenCrossSection that is not numbers: 'x .*' \(event 2\)",
    ),
}


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_damaged_file_gives_our_error_naming_the_place(hard, tmp_path, kind):
    damage, message = DAMAGE[kind]
    path = _write(tmp_path, damage(_lines(hard[0])))
    with pytest.raises(EventFileError, match=message) as err:
        read_events(path)
    assert str(err.value).startswith(str(path))
    with pytest.raises(EventFileError, match=message):
        for _ in iterate_events(path, step_size=3):
            pass


def test_text_of_the_header_is_checked(hard, tmp_path):
    raw = hard[0].read_bytes()
    for bad, message in (
        (b"T Pythia8\\|8.317\\|\xff\xfe", r"line 4: bytes that are not UTF-8 text in 'T Pyth"),
        (b"T Pythia8\\|8.317\\|a\x07b", r"line 4: a control character in 'T Pyth"),
        (b"T Pythia8\\", r"line 4: a line ending in a lone backslash"),
        (b"X 1", r"line 4: not a HepMC3 run-information line: 'X 1'"),
    ):
        lines = raw.split(b"\n")
        lines[3] = bad
        path = tmp_path / "header.hepmc"
        path.write_bytes(b"\n".join(lines))
        with pytest.raises(EventFileError, match=message):
            read_events(path)


def test_a_listing_without_events_reads_as_no_events(hard, tmp_path):
    head = "\n".join(_lines(hard[0])[:4])
    path = _write(tmp_path, head + "\nHepMC::Asciiv3-END_EVENT_LISTING\n")
    events, info = read_events(path)
    assert len(events) == 0
    assert info.n_events == 0
    assert info.generators == ("Pythia8 8.317",)
    assert list(iterate_events(path, step_size=10)) == []


def test_truncated_file_reads_the_events_before_the_cut(hard, tmp_path):
    lines = _lines(hard[0])
    path = _write(tmp_path, "\n".join(lines[: _first(lines, "E ", 150)]) + "\n")
    with pytest.raises(EventFileError, match="max_events=149"):
        read_events(path)
    events, _ = read_events(path, max_events=149)
    assert len(events) == 149


def test_values_beyond_float32_are_refused(hard, tmp_path):
    lines = _lines(hard[0])
    for value, shown in (("1e400", "inf"), ("4e38", "4e+38")):
        path = _write(tmp_path, _replace_field(lines, _first(lines, "P ", 39), 6, value))
        message = rf"line 74 \(event 5, particle 5\): pz is {re.escape(shown)}"
        with pytest.raises(SchemaError, match=message):
            read_events(path)


def test_damaged_gzip_streams(shower, tmp_path):
    data = shower[0].read_bytes()
    cut = _write(tmp_path, "", "cut.hepmc.gz")
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(EventFileError, match=r"cut\.hepmc\.gz: .*gzip stream ends early"):
        read_events(cut)
    flipped = _write(tmp_path, "", "flip.hepmc.gz")
    flipped.write_bytes(data[:3000] + bytes([data[3000] ^ 0x55]) + data[3001:])
    with pytest.raises(EventFileError, match=r"flip\.hepmc\.gz: .*(corrupt gzip|gzip stream)"):
        read_events(flipped)


def test_seeded_mutations_never_escape_as_foreign_errors(hard, tmp_path):
    """Byte flips, insertions, deletions, cuts and line edits: latentsym's error, or a read
    of as many events and particles as the original (a digit changed into a digit is
    invisible to any reader)."""
    raw = hard[0].read_bytes()
    base, _ = read_events(hard[0])
    n_particles = ak.num(base.particles).tolist()
    rng = random.Random(16)
    outcomes = {"error": 0, "same shape": 0}
    path = tmp_path / "mutated.hepmc"
    for _ in range(150):
        data = bytearray(raw)
        i = rng.randrange(len(data))
        kind = rng.choice(("flip", "insert", "delete", "cut", "line"))
        if kind == "flip":
            data[i] = rng.randrange(256)
        elif kind == "insert":
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 6)))
        elif kind == "delete":
            del data[i : i + rng.randint(1, 40)]
        elif kind == "cut":
            del data[i:]
        else:
            lines = bytes(data).split(b"\n")
            j = rng.randrange(len(lines))
            lines[j : j + 1] = rng.choice(([], [lines[j]] * 2, [b"x"]))
            data = bytearray(b"\n".join(lines))
        path.write_bytes(bytes(data))
        try:
            events, _ = read_events(path)
        except LatentsymError:
            outcomes["error"] += 1
            continue
        assert ak.num(events.particles).tolist() == n_particles, kind
        outcomes["same shape"] += 1
    assert outcomes["error"] > 100


def test_cli_damaged_file_one_line_exit_2(hard, tmp_path, capfd):
    lines = _lines(hard[0])
    for name, damaged in (
        ("cut.hepmc", "\n".join(lines)[:20000]),
        ("garbage.hepmc", [*lines[:60], "garbage line", *lines[60:]]),
        ("nan.hepmc", _replace_field(lines, _first(lines, "P ", 39), 6, "nan")),
    ):
        path = _write(tmp_path, damaged, name)
        for argv in (["inspect", str(path)], ["run", str(path), "--out", str(tmp_path / name)]):
            assert main(argv) == 2
            out, err = capfd.readouterr()
            assert out == ""
            assert err.count("\n") == 1
            assert err.startswith(f"latentsym {argv[0]}: error: {path}")


# ---------------------------------------------------------------- end to end


def test_cli_run_inclusive_on_the_showered_file(shower, tmp_path, capfd):
    """The showered sample end to end: the ledger says which constraints radiation made
    approximate (the total four-momentum and the pair mass of the two muons) and which
    stayed exact (the muon masses)."""
    out = tmp_path / "run"
    argv = ["run", str(shower[0]), "--topology", "mu+ mu-", "--inclusive", "--epochs", "3",
            "--max-events", "300", "--out", str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    printed = capfd.readouterr().out
    assert printed.startswith("mu+ mu- (inclusive): 300 events, 8 cartesian features")
    summary = json.loads((out / "summary.json").read_text())
    kinds = {c["name"]: c["kind"] for c in summary["expected"]["constraints"]}
    for name in ("sum_E", "sum_px", "sum_py", "sum_pz", "m2(mu+,mu-)"):
        assert kinds[name] in ("approximate", "broken"), (name, kinds[name])
    assert kinds["m2(mu+)"] == kinds["m2(mu-)"] == "exact"
    assert summary["expected"]["manifold_dim"] == 6  # 8 features - 2 exact muon masses
    assert summary["input"]["n_events_used"] == 300
    report = (out / "report.md").read_text()
    assert "| `sum_E` | approximate |" in report or "| `sum_E` | broken |" in report
    assert "| `m2(mu+,mu-)` | approximate |" in report
    assert summary["input"]["inclusive"] is True
    assert sum(summary["input"]["ignored"].values()) > 300  # the shower's photons at least
    assert "inclusive selection: the highest-energy final-state particle" in report

    # an exact selection would keep few events: ISR and FSR photons are everywhere
    parts = read_events(shower[0]).events.particles
    assert int(ak.sum(ak.num(parts[parts.status == 1]) == 2)) < N_SHOWER // 2


def test_cli_inspect_describes_a_hepmc3_file(shower, capfd):
    assert main(["inspect", str(shower[0]), "--json"]) == 0
    d = json.loads(capfd.readouterr().out)
    assert (d["format"], d["n_events"], d["sqrt_s"], d["beams"]) == (
        "hepmc3.gz",
        N_SHOWER,
        91.2,
        ["e-", "e+"],
    )
    assert all(set(fs["particles"]) >= {"mu+", "mu-"} for fs in d["final_states"][:3])
