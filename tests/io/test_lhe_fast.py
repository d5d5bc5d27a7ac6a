"""The numpy LHE reader against pylhe's route: same arrays on every file, and fallbacks."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
from conftest import EXTERNAL_LHE, TEST_DATA, external

from latentsym.errors import ConfigError, EventFileError
from latentsym.io import iterate_events, lhe_fast, read_events
from latentsym.io.lhe import iterate_lhe, read_lhe
from latentsym.io.schema import EventFile

SAMPLES = sorted(str(p) for p in (Path(__file__).parents[2] / "samples").glob("*.lhe.gz"))
# files with <weights> blocks (positional weights): the fast path hands them to pylhe
NOT_COVERED = {"pylhe-testfile-madgraph-2.0.0-wbj.lhe", "pylhe-testlhef3.lhe"}


def _same(a: EventFile, b: EventFile, same_file: bool = True) -> None:
    assert len(a.events) == len(b.events)
    assert a.events.fields == b.events.fields
    assert a.events.particles.fields == b.events.particles.fields
    # every field, bitwise for floats (NaN never occurs: it is refused on reading)
    assert ak.array_equal(a.events, b.events, dtype_exact=True, check_parameters=True)
    for field in ("px", "py", "pz", "E"):
        x = ak.to_numpy(ak.flatten(getattr(a.events.particles.p4, field)))
        y = ak.to_numpy(ak.flatten(getattr(b.events.particles.p4, field)))
        assert np.array_equal(x.view(np.int64), y.view(np.int64))
    ia, ib = a.info.to_dict(), b.info.to_dict()
    ia["extra"].pop("lhe_reader"), ib["extra"].pop("lhe_reader")
    if not same_file:
        for key in ("path", "format"):
            ia.pop(key), ib.pop(key)
    assert ia == ib


@pytest.mark.parametrize("path", EXTERNAL_LHE + SAMPLES, ids=lambda p: Path(p).name)
def test_fast_equals_pylhe_route(path: str) -> None:
    if path in EXTERNAL_LHE:  # a name in ../shared/data/external: skipped when absent
        path = str(external(path))
    fast = read_lhe(path)
    _same(fast, read_lhe(path, engine="pylhe"))
    covered = Path(path).name not in NOT_COVERED
    assert fast.info.extra["lhe_reader"] == ("fast" if covered else "pylhe")


@pytest.mark.parametrize("name", sorted(NOT_COVERED))
def test_fallback_is_said(name: str, caplog: pytest.LogCaptureFixture) -> None:
    """In the log at level INFO (a CLI user sees nothing unless they raise it)."""
    with caplog.at_level(logging.INFO, logger="latentsym.io.lhe"):
        read_lhe(external(name))
    assert "read with pylhe" in caplog.text
    assert "<weights>" in caplog.text
    with pytest.raises(EventFileError, match=r"fast LHE reader does not cover.*engine='pylhe'"):
        read_lhe(external(name), engine="fast")


def test_unknown_engine() -> None:
    with pytest.raises(ConfigError, match="allowed: auto, fast, pylhe"):
        read_lhe(TEST_DATA / "ee_mumu_3events.lhe", engine="numba")


def test_read_events_passes_the_engine() -> None:
    path = TEST_DATA / "ee_mumu_3events.lhe"
    for engine in ("fast", "pylhe"):
        assert read_events(path, engine=engine).info.extra["lhe_reader"] == engine
        chunks = list(iterate_events(path, step_size=2, engine=engine))
        assert [c.info.extra["lhe_reader"] for c in chunks] == [engine, engine]
    with pytest.raises(ConfigError, match=r"options \['tree'\] apply to ROOT files only"):
        read_events(path, tree="events")
    with pytest.raises(ConfigError, match=r"options \['tree'\] apply to ROOT files only"):
        next(iterate_events(path, tree="events"))


@pytest.mark.parametrize("step", [1, 7, 333, 5000])
def test_chunks_across_block_boundaries(step: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of ~4 kB cut the file between events many times; chunks must not care."""
    path = external("pylhe-testfile-madgraph-2.2.1-Z-mlm.lhe.gz")
    monkeypatch.setattr(lhe_fast, "_BLOCK_BYTES", 4096)
    full = read_lhe(path, max_events=1200, engine="pylhe")
    chunks = list(iterate_lhe(path, step_size=step, max_events=1200))
    assert all(c.info.extra["lhe_reader"] == "fast" for c in chunks)
    assert [len(c.events) for c in chunks[:-1]] == [step] * (len(chunks) - 1)
    assert [c.info.extra["first_event"] for c in chunks] == list(range(0, 1200, step))
    merged = ak.concatenate([c.events for c in chunks])
    assert ak.array_equal(merged, full.events, dtype_exact=True)


def test_block_ending_inside_a_closing_tag(monkeypatch: pytest.MonkeyPatch) -> None:
    """A block whose text ends inside ``</event>`` (e.g. at ``</event``) waits for the rest."""
    path = TEST_DATA / "ee_mumu_3events.lhe"
    text = path.read_bytes()
    full = read_lhe(path, engine="pylhe")
    tags = [i for i in range(len(text)) if text.startswith(b"</event>", i)]
    # a plain file is read in blocks of _BLOCK_BYTES: the k-th block ends at k * size
    sizes = {
        (tag + j) // k
        for tag in tags
        for j in range(1, len(b"</event>"))
        for k in (1, 2, 3, 4)
        if (tag + j) % k == 0
    }
    for size in sorted(sizes):
        monkeypatch.setattr(lhe_fast, "_BLOCK_BYTES", size)
        got = read_lhe(path, engine="fast")
        assert ak.array_equal(got.events, full.events, dtype_exact=True), size


def _synthetic(path: Path, rows: list[str], tail: str = "</LesHouchesEvents>\n") -> Path:
    head = (TEST_DATA / "ee_mumu_3events.lhe").read_text().split("<event>")[0]
    path.write_text(head + "".join(rows) + tail)
    return path


def _event(rng: np.random.Generator, fmt: str, comment: bool = False) -> str:
    info = f" 2 1 {rng.normal():{fmt}} 91.188 7.54e-03 0.118\n"
    lines = []
    for pid in (13, -13):
        p = rng.normal(size=4) * 10.0 ** rng.integers(-3, 4)
        nums = " ".join(f"{v:{fmt}}" for v in (*p, 0.105, 0.0, 9.0))
        lines.append(f" {pid:+d} 1 1 2 0 0 {nums}\n")
    extra = "#aMCatNLO 1 2 3\n" if comment else ""
    return f"<event>\n{info}{''.join(lines)}{extra}</event>\n"


@pytest.mark.parametrize("fmt", [".10e", "+.17g", "18.10E", ".3f", "r"])
def test_number_formats_parse_like_python(fmt: str, tmp_path: Path) -> None:
    """Numbers as generators print them (fixed, exponent, 17 digits) parse bitwise alike."""
    rng = np.random.default_rng(len(fmt))
    fmt = "" if fmt == "r" else fmt
    rows = [_event(rng, fmt, comment=i % 3 == 0) for i in range(300)]
    path = _synthetic(tmp_path / "numbers.lhe", rows)
    fast = read_lhe(path, engine="fast")
    _same(fast, read_lhe(path, engine="pylhe"))


def test_fallback_in_the_middle_of_iteration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An event the numpy path does not cover (a CDATA section inside it) late in the file:
    the chunks already delivered stay, and pylhe goes on from the next event."""
    monkeypatch.setattr(lhe_fast, "_BLOCK_BYTES", 2048)
    rng = np.random.default_rng(3)
    rows = [_event(rng, ".10e") for _ in range(200)]
    rows[150] = rows[150].replace("e+", "E+", 1)  # still Python-readable: covered
    path = _synthetic(tmp_path / "late.lhe", rows)
    assert read_lhe(path).info.extra["lhe_reader"] == "fast"
    rows[170] = rows[170].replace("<event>", "<event>\n<![CDATA[ ]]>", 1)
    path = _synthetic(tmp_path / "late.lhe", rows)
    with caplog.at_level(logging.INFO, logger="latentsym.io.lhe"):
        chunks = list(iterate_lhe(path, step_size=40))
    names = [c.info.extra["lhe_reader"] for c in chunks]
    assert (names[0], names[-1]) == ("fast", "pylhe")
    assert "CDATA" in caplog.text
    merged = ak.concatenate([c.events for c in chunks])
    assert ak.array_equal(merged, read_lhe(path, engine="pylhe").events, dtype_exact=True)


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("bad_truncated.lhe", "cut off"),
        ("bad_truncated.lhe.gz", "corrupt or truncated gzip"),
        ("bad_corrupt.lhe.gz", "corrupt or truncated gzip"),
        ("bad_nup.lhe", "declares NUP = 5"),
        ("bad_columns.lhe", "12 numbers instead of 13"),
        ("bad_nonnumeric.lhe", "'abc' is not a plain decimal number"),
    ],
)
def test_malformed_files_give_one_error_on_every_engine(name: str, match: str) -> None:
    """The numpy reader's checks judge every route: the same message from each engine."""
    messages = set()
    for engine in ("auto", "fast", "pylhe"):
        with pytest.raises(EventFileError, match=match) as caught:
            read_lhe(TEST_DATA / name, engine=engine)
        messages.add(str(caught.value))
    assert len(messages) == 1, messages


def test_gzip_and_plain_give_the_same(tmp_path: Path) -> None:
    src = external("pylhe-testfile-madgraph-2.2.1-Z-mlm.lhe.gz")
    plain = tmp_path / "z.lhe"
    plain.write_bytes(gzip.decompress(Path(src).read_bytes()))
    _same(read_lhe(plain, engine="fast"), read_lhe(src, engine="fast"), same_file=False)
