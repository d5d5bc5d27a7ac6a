"""Damaged LHE files give latentsym's own error, valid ones read: no foreign exception,
no silent difference.

Every file here is made from a real one (the bundled samples and, where present, the
files of ../shared/data/external), cut to its first events: valid variants (blank lines,
XML comments, CRLF) must read to the same events and run information, damaged ones
(each case a regression test of issue 16) must raise a
:class:`~latentsym.errors.LatentsymError` that names the file and the place. A seeded
mutation loop ends the file: byte flips, insertions and deletions, deleted and duplicated
lines, 64-byte runs deleted, truncation, NUP changed, numbers replaced by NaN, inf, 1e400,
non-ASCII digits or garbage, closing tags removed, corrupt gzip streams; each outcome is
an error of ours or a read identical to the original.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gzip
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
from conftest import EXTERNAL, EXTERNAL_LHE, SAMPLES, TEST_DATA

from latentsym.cli import main
from latentsym.errors import EventFileError, LatentsymError, SchemaError
from latentsym.io import iterate_events, lhe_fast, read_events
from latentsym.io.describe import describe
from latentsym.io.formats import detect_format
from latentsym.io.schema import EventFile

N_EVENTS = 25
SAMPLE_NAMES = sorted(p.name for p in SAMPLES.glob("*.lhe.gz"))
EXTERNAL_NAMES = [n for n in EXTERNAL_LHE if (EXTERNAL / n).exists()]
SOURCES = SAMPLE_NAMES + EXTERNAL_NAMES
PYLHE_ROUTE = {"pylhe-testfile-madgraph-2.0.0-wbj.lhe", "pylhe-testlhef3.lhe"}  # <weights>
FAST_SOURCES = [n for n in SOURCES if n not in PYLHE_ROUTE]


@functools.cache
def _text(name: str) -> bytes:
    """The decompressed text of a real file cut to its first events (still well-formed)."""
    path = SAMPLES / name if name in SAMPLE_NAMES else EXTERNAL / name
    data = path.read_bytes()
    text = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    start = text.index(b"</init>")
    end = start
    for _ in range(N_EVENTS):
        found = text.find(b"</event>", end + 1)
        if found < 0:
            break
        end = found
    end = text.index(b">", end) + 1
    return text[:end] + b"\n</LesHouchesEvents>\n"


def _write(folder: Path, name: str, text: bytes, gz: bool = False) -> Path:
    path = folder / (name + (".lhe.gz" if gz else ".lhe"))
    path.write_bytes(gzip.compress(text, mtime=0) if gz else text)
    return path


def _same_events(a: ak.Array, b: ak.Array) -> bool:
    if len(a) != len(b) or set(a.fields) != set(b.fields):
        return False
    for field in a.fields:
        if field == "weights":
            if set(a.weights.fields) != set(b.weights.fields):
                return False
            if not all(ak.array_equal(a.weights[k], b.weights[k]) for k in a.weights.fields):
                return False
        elif not ak.array_equal(a[field], b[field], dtype_exact=True):
            return False
    return True


def _info(read: EventFile, relaxed: bool) -> dict[str, object]:
    info = read.info.to_dict()
    for key in ("path", "format"):
        info.pop(key)
    extra = info.pop("extra")
    extra.pop("lhe_reader", None)
    if relaxed:  # free text of the header: generators, labels, our own JSON
        keep = ("processes", "weighting_strategy", "pdf_group", "pdf_set")
        extra = {k: extra.get(k) for k in keep}
        info.pop("generators")
        info["weight_names"] = sorted(info["weight_names"])  # type: ignore[call-overload]
    info["extra"] = extra
    return info


def _same(a: EventFile, b: EventFile, relaxed: bool = False) -> bool:
    return _same_events(a.events, b.events) and _info(a, relaxed) == _info(b, relaxed)


def _outcome(read: Callable[[], EventFile], reference: EventFile, relaxed: bool) -> str:
    try:
        got = read()
    except LatentsymError:
        return "error"
    except Exception as exc:  # the point of the test: name any other exception
        return f"FOREIGN {type(exc).__name__}: {exc}"
    return "same" if _same(got, reference, relaxed) else "SILENT difference"


# ----------------------------------------------------------------------- valid files


def _valid_variants(text: bytes) -> dict[str, bytes]:
    """Files that the LHE standard allows and that hold the same events as ``text``."""
    events = text.index(b"<event")
    head, body = text[:events], text[events:]
    first_particle = re.compile(rb"(<event[^>]*>\n[^\n]*\n)")  # after the information line
    text_end = re.compile(rb"(<event[^>]*>[^<]*)")  # an event's text: up to its first tag
    variants = {
        "blank line after the information line": first_particle.sub(rb"\1\n", body, count=3),
        "blank lines between particle lines": re.sub(
            rb"(<event[^>]*>\n[^\n]*\n[^\n]*\n)", rb"\1   \n\n", body, count=3
        ),
        "comment then text after the particle lines": text_end.sub(
            rb"\1<!-- x --> more\n", body, count=3
        ),
        "comment line then the next block": text_end.sub(
            rb"\1<!-- a comment\n on two lines -->\n", body, count=3
        ),
        "comment before the information line": re.sub(
            rb"(<event[^>]*>\n)", rb"\1<!-- x -->\n", body, count=3
        ),
        "comment inside a line's indentation": first_particle.sub(rb"\1<!-- x --> ", body, count=3),
        "comments between events": body.replace(b"</event>\n<event",
                                                b"</event>\n<!-- y -->\n<event", 3),
        "CRLF line ends": body.replace(b"\n", b"\r\n"),
    }  # fmt: skip
    out = {k: head + v for k, v in variants.items()}
    init = text.index(b"<init")
    out["comment between </header> and <init>"] = (
        text[:init] + b"<!-- a comment -->\n<!-- another -->\n" + text[init:]
    )
    beam_end = text.index(b"\n", text.index(b">", init) + 2)
    out["comment and blank line inside <init>"] = (
        text[:beam_end] + b"\n<!-- x -->\n\n" + text[beam_end:]
    )
    return out


VALID_KINDS = list(_valid_variants(b"<init>\n1\n</init>\n<event>\n1\n</event>\n"))


@pytest.mark.parametrize("kind", VALID_KINDS)
@pytest.mark.parametrize("name", SOURCES)
def test_valid_variants_read_the_same(name: str, kind: str, tmp_path: Path) -> None:
    """Blank lines and XML comments where the standard allows them (refused before)."""
    text = _text(name)
    original = _write(tmp_path, "original", text)
    variant = _write(tmp_path, "variant", _valid_variants(text)[kind])
    for engine in ("auto", "fast", "pylhe"):
        if engine == "fast" and name in PYLHE_ROUTE:
            continue
        reference = read_events(original, engine=engine)
        got = read_events(variant, engine=engine)
        assert _same(got, reference), (kind, engine)
        if engine == "auto":
            assert got.info.extra["lhe_reader"] == ("pylhe" if name in PYLHE_ROUTE else "fast")


# -------------------------------------------------------------------- damaged files

MUMU = TEST_DATA / "ee_mumu_3events.lhe"


def _damage(tmp_path: Path, old: str, new: str, count: int = 1, gz: bool = False) -> Path:
    text = MUMU.read_text()
    assert old in text
    return _write(tmp_path, "damaged", text.replace(old, new, count).encode(), gz=gz)


P4_LINE = "23  2  1  2   0   0 0.0 0.0 0.0 91.2 91.2 0.0 9.0"
DAMAGED = [
    # (case, old, new, error type, message)
    ("non-ASCII digit", "91.2 91.2 0.0", "91.2 9\u0661.2 0.0", EventFileError,
     r"event 0 \(line 13: .*'9\u0661\.2' is not a plain decimal number"),
    ("digit separator", "91.2 91.2 0.0", "91.2 9_1.2 0.0", EventFileError,
     r"'9_1\.2' is not a plain decimal number"),
    ("Fortran D exponent", "0.0078125", "0.78125D-02", EventFileError,
     r"event 0 \(line 10: .*'0\.78125D-02' is not a plain decimal number"),
    ("NaN in an integer column", "23  2  1  2", "23  nan  1  2", EventFileError,
     r"event 0, particle 2 \(line 13: .*ISTUP is nan, not a whole number"),
    ("fraction in an integer column", "23  2  1  2", "23  2  1.5  2", EventFileError,
     r"MOTHUP1 is 1\.5, not a whole number"),
    ("integer beyond 2^31", "23  2  1  2", "2e10  2  1  2", EventFileError,
     r"IDUP is 2e\+10, not a whole number below 2\^31"),
    ("momentum beyond float32", "0.0 45.6 45.6 0.0", "0.0 3.5e38 45.6 0.0", SchemaError,
     r"event 0, particle 0 \(line 11: .*pz is 3\.5e\+38, beyond the float32 range"),
    ("weight beyond float32", "5 1 1.0 91.2", "5 1 -1e39 91.2", SchemaError,
     r"event 0 \(line 10: .*XWGTUP is -1e\+39, beyond the float32 range"),
    ("1e400 momentum", "0.0 45.6 45.6 0.0", "0.0 1e400 45.6 0.0", SchemaError,
     r"event 0, particle 0 .*pz is inf"),
    ("NaN mass", P4_LINE, P4_LINE.replace("91.2 0.0", "nan 0.0"), SchemaError,
     r"event 0, particle 2 .*M is nan"),
    ("deleted particle line", f"   {P4_LINE}\n", "", EventFileError,
     r"event 0 \(line 10: .*declares NUP = 5 particles but has 4 particle lines"),
    ("NUP one too small", "5 1 1.0", "4 1 1.0", EventFileError,
     r"event 0 \(line 10: .*declares NUP = 4 particles but has 5"),
    ("NUP not a whole number", "5 1 1.0", "5.5 1 1.0", EventFileError,
     r"declares NUP = 5\.5 particles"),
    ("extra column", P4_LINE, P4_LINE + " 1.0", EventFileError,
     r"event 0 \(line 13: .*a particle line with 14 numbers instead of 13 \(too many"),
    ("missing </event>", "</event>\n<event>", "\n<event>", EventFileError,
     r"event 0 \(line 17: '<event>'\): the event is not closed"),
    ("missing <event>", "</event>\n<event>", "</event>\n", EventFileError,
     r"line 24: '</event>': an </event> tag without its <event> \(after event 0\)"),
    ("text between events", "</event>\n<event>", "</event>\n1 2 3\n<event>", EventFileError,
     r"line 17: '1 2 3': text outside any event \(between event 0 and event 1\)"),
    ("comment as the information line", "<event>\n5 1", "<event>\n#5 1", EventFileError,
     r"event 0 \(line 10: .*the first line of the event is a comment"),
    ("text before a particle line", "<event>\n5 1 1.0 91.2 0.0078125 0.118\n",
     "<event>\n5 1 1.0 91.2 0.0078125 0.118\nsome words\n", EventFileError,
     r"event 0 \(line 11: 'some words'\): a line that is neither a particle line"),
    ("no </LesHouchesEvents>", "</LesHouchesEvents>", "", EventFileError,
     r"the file ends at line 33 without the closing </LesHouchesEvents> tag "
     r"\(events 0 to 2 are complete"),
    ("NPRUP larger than the process lines", "3 1\n1500", "3 2\n1500", EventFileError,
     r"line 6: .*NPRUP = 2 processes but has 1 process lines"),
    ("deleted process line", "1500.0 1.5 1.0 1\n", "", EventFileError,
     r"line 6: .*NPRUP = 1 processes but has 0 process lines"),
    ("1e400 cross-section", "1500.0 1.5", "1e400 1.5", EventFileError,
     r"line 7: '1e400 1\.5 1\.0 1': XSECUP is 1e400, not finite in the <init> block"),
    ("non-ASCII digit in <init>", "45.6 45.6 -1", "45.6 4\u0665.6 -1", EventFileError,
     r"line 6: .*EBMUP2 is '4\u0665\.6', not a plain number in the <init> block"),
    ("short beam line", "3 1\n1500", "3\n1500", EventFileError,
     r"a beam line with 9 numbers instead of 10 in the <init> block"),
    ("negative beam energy", "11 -11 45.6 45.6", "11 -11 -45.6 45.6", EventFileError,
     r"line 6: .*a negative beam energy \(EBMUP1 EBMUP2 = -45\.6 45\.6 GeV\)"),
    ("no </init>", "</init>", "", EventFileError, r"the file ends inside the <init> block"),
]  # fmt: skip


@pytest.mark.parametrize("engine", ["auto", "pylhe"])
@pytest.mark.parametrize(
    ("case", "old", "new", "error", "match"), DAMAGED, ids=[c[0] for c in DAMAGED]
)
def test_damaged_files_raise(
    case: str, old: str, new: str, error: type, match: str, engine: str, tmp_path: Path
) -> None:
    """Each damage of issue 16 on each route: our error, naming the file and the place."""
    path = _damage(tmp_path, old, new)
    with pytest.raises(error, match=r"damaged\.lhe: .*" + match):
        read_events(path, engine=engine)
    with pytest.raises(error, match=match):
        list(iterate_events(path, step_size=1, engine=engine))


@pytest.mark.parametrize("engine", ["auto", "pylhe"])
def test_a_damaged_closing_tag_at_the_end_of_a_block(
    engine: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``</eventX>`` where a block ends: the block holds an <event> that nothing closes."""
    text = MUMU.read_bytes()
    path = _write(tmp_path, "tag", text.replace(b"</event>", b"</eventX>", 1))
    for size in range(300, 900, 23):
        monkeypatch.setattr(lhe_fast, "_BLOCK_BYTES", size)
        with pytest.raises(EventFileError, match=r"tag\.lhe: event 0 .*the event is not closed"):
            read_events(path, engine=engine)


def test_our_header_element_must_hold_a_json_object(tmp_path: Path) -> None:
    text = re.sub(rb"<latentsym>.*?</latentsym>", b"<latentsym>[1, 2]</latentsym>",
                  _text(SAMPLE_NAMES[0]), flags=re.S)  # fmt: skip
    with pytest.raises(EventFileError, match=r"<latentsym> header element is not valid JSON"):
        read_events(_write(tmp_path, "json", text))


def test_damage_in_a_pylhe_route_file(tmp_path: Path) -> None:
    """A file with <weights> blocks is read by pylhe, after the same checks."""
    text = _text("pylhe-testlhef3.lhe") if "pylhe-testlhef3.lhe" in SOURCES else None
    if text is None:
        pytest.skip("pylhe-testlhef3.lhe not present")
    nup = re.search(rb"<event[^>]*>\n\s*5 ", text)
    assert nup is not None
    cases = {
        "NUP": (text[: nup.end() - 2] + b"4 " + text[nup.end() :], r"declares NUP = 4"),
        "digit": (text.replace(b"0.14330946E+03", b"0.1433094\xd9\xa1E+03", 1),
                  r"not a plain decimal number"),
        "weights": (text.replace(b"<weights> 1.000e+00", b"<weights> 1.000e+0\xd9\xa1", 1),
                    r"<weights> element that does not hold numbers"),
    }  # fmt: skip
    for case, (damaged, match) in cases.items():
        path = _write(tmp_path, case, damaged)
        for engine in ("auto", "pylhe"):
            with pytest.raises(EventFileError, match=match):
                read_events(path, engine=engine)


def test_corrupt_gzip_streams(tmp_path: Path) -> None:
    text = _text(SAMPLE_NAMES[0])
    packed = gzip.compress(text, mtime=0)
    cut = _write(tmp_path, "cut", b"")
    cut.write_bytes(packed[: len(packed) * 2 // 3])
    with pytest.raises(EventFileError, match=r"cut\.lhe: corrupt or truncated gzip stream .*"
                       r"bytes into the decompressed text .*gzip -t cut\.lhe"):  # fmt: skip
        read_events(cut)
    # damaged in its first bytes: detect_format's own look at the content (zlib.error)
    early = bytearray(packed)
    early[12:40] = bytes(range(28))
    bad = tmp_path / "early.lhe.gz"
    bad.write_bytes(bytes(early))
    with pytest.raises(EventFileError, match=r"early\.lhe\.gz: corrupt gzip stream at the start"):
        detect_format(bad)
    for engine in ("auto", "fast", "pylhe"):
        with pytest.raises(EventFileError, match=r"early\.lhe\.gz: corrupt"):
            read_events(bad, engine=engine)
    # a bad CRC at the end: the events parsed before it are not handed out as the file
    crc = bytearray(packed)
    crc[-8] ^= 0xFF
    path = tmp_path / "crc.lhe.gz"
    path.write_bytes(bytes(crc))
    with pytest.raises(EventFileError, match=r"crc\.lhe\.gz: corrupt .*CRC check failed"):
        read_events(path)


def test_truncated_files_are_refused_but_their_start_reads(tmp_path: Path) -> None:
    """A file without </LesHouchesEvents> is refused once the read reaches its end;
    max_events reads the events before the cut (documented in io/lhe.py)."""
    text = _text(SAMPLE_NAMES[0])
    cut = text.index(b"<event", len(text) // 2) + 30
    for gz in (False, True):
        path = _write(tmp_path, "cut", text[:cut], gz=gz)
        with pytest.raises(EventFileError, match=r"cut off|corrupt or truncated gzip"):
            read_events(path)
        done = text[:cut].count(b"</event>")
        assert len(read_events(path, max_events=done).events) == done
    # cut right after an event: no event is lost, still refused (the rest is unknown)
    end = text.rindex(b"</event>") + len(b"</event>\n")
    path = _write(tmp_path, "end", text[:end])
    with pytest.raises(EventFileError, match=r"without the closing </LesHouchesEvents> tag"):
        read_events(path)


def test_describe_and_the_cli_say_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI prints one line and exits 2; the fallback to pylhe says nothing there."""
    damaged = _damage(tmp_path, "5 1 1.0", "4 1 1.0")
    with pytest.raises(EventFileError, match="NUP = 4"):
        describe(damaged)
    assert main(["inspect", str(damaged)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"latentsym inspect: error: {damaged}: event 0 (line 10")
    if "pylhe-testlhef3.lhe" in SOURCES:  # read with pylhe: the log is at INFO, unseen
        assert main(["inspect", str(EXTERNAL / "pylhe-testlhef3.lhe")]) == 0
        assert capsys.readouterr().err == ""


def test_cli_names_the_file_of_an_os_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import latentsym.io.describe as module

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(module, "describe", fail)
    assert main(["inspect", str(MUMU)]) == 2
    err = capsys.readouterr().err
    assert err == f"latentsym inspect: error: {MUMU}: Invalid argument (errno 22)\n"


# -------------------------------------------------------------------- mutation loop

# Bytes that never turn a number into another number (a digit would, and so would a
# space put over the first digit of "15": any reader then reads 5)
SAFE = b"xX_D<>/!#\xff"
INSERT = SAFE + b"\t\n \x00"
NUMBER_BYTES = set(b"0123456789.+-eE")
BAD_NUMBERS = [b"nan", b"inf", b"-inf", b"1e400", b"-1e999", b"abc", b"1_0", "\u0663".encode(),
               "4\u0665.1".encode(), b"0x1F", b"1.0D+00", b"", b"--1", b"1e", b"\xff"]  # fmt: skip


def _regions(text: bytes) -> tuple[int, int, int]:
    """Where ``<init`` starts, where its child elements start, where ``</init>`` ends."""
    init = text.index(b"<init")
    end = text.index(b"</init>") + len(b"</init>")
    child = text.find(b"<", text.index(b">", init) + 1)
    return init, child, end


def _lines(text: bytes) -> list[int]:
    return [0, *[m.end() for m in re.finditer(rb"\n", text)][:-1]]


def _mutate(text: bytes, kind: str, rng: np.random.Generator) -> tuple[bytes, int]:
    """A damaged copy of ``text`` and the position of the damage."""
    init, _, _ = _regions(text)
    after = init + int(rng.integers(0, len(text) - init))  # most damage goes to the data
    pos = after if rng.random() < 0.85 else int(rng.integers(0, len(text)))
    if kind == "flip":
        return text[:pos] + bytes([SAFE[rng.integers(len(SAFE))]]) + text[pos + 1 :], pos
    if kind == "insert":
        return text[:pos] + bytes([INSERT[rng.integers(len(INSERT))]]) + text[pos:], pos
    if kind == "delete":
        while text[pos] in NUMBER_BYTES:
            pos = (pos + 1) % len(text)
        return text[:pos] + text[pos + 1 :], pos
    if kind == "delete run":
        return text[:pos] + text[pos + 64 :], pos
    if kind == "truncate":
        return text[:pos], pos
    starts = _lines(text)
    if kind in ("delete line", "duplicate line"):
        k = int(rng.integers(len(starts)))
        a = starts[k]
        b = starts[k + 1] if k + 1 < len(starts) else len(text)
        line = text[a:b]
        return text[:a] + (line + line if kind == "duplicate line" else b"") + text[b:], a
    if kind == "NUP":
        infos = [m.start(1) for m in re.finditer(rb"<event[^>]*>\s*(\d+)", text)]
        at = infos[int(rng.integers(len(infos)))]
        end = at + len(re.match(rb"\d+", text[at:]).group())  # type: ignore[union-attr]
        nup = int(text[at:end]) + int(rng.choice([-1, 1]))
        return text[:at] + str(nup).encode() + text[end:], at
    if kind == "number":
        numbers = [m.span() for m in re.finditer(rb"(?<=\s)[+-]?\d+\.?\d*(?:[eE][+-]?\d+)?(?=\s)",
                                                 text[init:])]  # fmt: skip
        a, b = numbers[int(rng.integers(len(numbers)))]
        bad = BAD_NUMBERS[int(rng.integers(len(BAD_NUMBERS)))]
        return text[: init + a] + bad + text[init + b :], init + a
    if kind == "closing tag":
        tags = [m.start() for m in re.finditer(rb"</(?:event|init|LesHouchesEvents|header)>", text)]
        at = tags[int(rng.integers(len(tags)))]
        return text[:at] + text[text.index(b">", at) + 1 :], at
    raise AssertionError(kind)


KINDS = ["flip", "insert", "delete", "delete run", "truncate", "delete line", "duplicate line",
         "NUP", "number", "closing tag"]  # fmt: skip
N_MUTATIONS = 600


def _campaign(n: int, seed: int, folder: Path) -> tuple[Counter[tuple[str, str]], list]:
    """``n`` seeded mutations of the real files (plain and gzip), each read with
    ``read_events`` (every other one with engine='pylhe', every fifth also through
    ``iterate_events``): the outcome of each, and the ones that are neither our error nor
    the same read.

    Damage in the free text of the header (or in ``<init>``'s child elements, e.g.
    ``<generator>``) cannot be told from a different header: there only the events and
    the numbers of ``<init>`` must stay the same.
    """
    rng = np.random.default_rng(seed)
    texts = {name: _text(name) for name in SOURCES}
    references = {name: read_events(_write(folder, "original", t)) for name, t in texts.items()}
    outcomes: Counter[tuple[str, str]] = Counter()
    failures = []
    for i in range(n):
        name = SOURCES[i % len(SOURCES)]
        text = texts[name]
        kind = KINDS[int(rng.integers(len(KINDS)))]
        damaged, pos = _mutate(text, kind, rng)
        init, child, end = _regions(text)
        relaxed = pos < init or child <= pos < end
        gz = bool(rng.random() < 0.3)
        path = _write(folder, "mutated", damaged, gz=gz)
        if gz and rng.random() < 0.3:  # and damage the compressed stream itself
            packed = bytearray(path.read_bytes())
            packed[int(rng.integers(10, len(packed)))] ^= 1 << int(rng.integers(8))
            path.write_bytes(bytes(packed))
            kind = "gzip+" + kind
        engine = "pylhe" if i % 2 else "auto"
        read = functools.partial(read_events, path, engine=engine)
        # every third read in small blocks: the damage falls on block boundaries too
        size = int(rng.integers(1500, 6000)) if i % 3 == 2 else lhe_fast.BLOCK_BYTES
        with _blocks(size):
            outcome = _outcome(read, references[name], relaxed)
            if i % 5 == 0 and not outcome.startswith("FOREIGN"):
                chunks = _outcome(functools.partial(_iterate, path, engine), references[name],
                                  relaxed)  # fmt: skip
                if chunks != outcome:
                    outcome = f"iterate gives {chunks}, read gives {outcome}"
        outcomes[(kind, outcome)] += 1
        if outcome not in ("same", "error"):
            kept = folder / f"failed-{i}{''.join(path.suffixes)}"
            path.rename(kept)
            failures.append((i, name, kind, engine, pos, outcome, str(kept)))
    return outcomes, failures


@contextlib.contextmanager
def _blocks(size: int) -> Iterator[None]:
    """Read in blocks of ``size`` bytes of text (the readers take 1 MB)."""
    saved = lhe_fast._BLOCK_BYTES
    lhe_fast._BLOCK_BYTES = size
    try:
        yield
    finally:
        lhe_fast._BLOCK_BYTES = saved


def _table(outcomes: Counter[tuple[str, str]]) -> str:
    kinds = sorted({k for k, _ in outcomes})
    names = sorted({o for _, o in outcomes})
    rows = [f"| mutation | {' | '.join(names)} |", "|---" * (len(names) + 1) + "|"]
    rows += [f"| {k} | {' | '.join(str(outcomes[(k, o)]) for o in names)} |" for k in kinds]
    return "\n".join(rows)


def test_mutations_never_crash_nor_change_silently(tmp_path: Path) -> None:
    """A bounded run in the default suite (a few seconds)."""
    outcomes, failures = _campaign(N_MUTATIONS, 16, tmp_path)
    print(_table(outcomes))
    assert not failures, failures[:10]
    assert sum(n for (_, o), n in outcomes.items() if o == "error") > N_MUTATIONS / 2


@pytest.mark.slow
def test_mutation_campaign(tmp_path: Path) -> None:
    """The larger campaign (10,000 cases, a few minutes): LATENTSYM_SLOW=1 pytest -s ... ."""
    outcomes, failures = _campaign(10_000, 2026, tmp_path)
    print("\n" + _table(outcomes))
    assert not failures, failures[:10]


def _iterate(path: Path, engine: str = "auto") -> EventFile:
    chunks = list(iterate_events(path, step_size=7, engine=engine))
    info = chunks[0].info
    extra = {k: v for k, v in info.extra.items() if k != "first_event"}
    n = sum(len(c.events) for c in chunks)
    return EventFile(ak.concatenate([c.events for c in chunks]),
                     dataclasses.replace(info, n_events=n, extra=extra))  # fmt: skip


def test_mutation_loop_helpers_make_damage() -> None:
    """The loop's mutations change the file (a no-op would pass for nothing)."""
    rng = np.random.default_rng(0)
    text = _text(SAMPLE_NAMES[0])
    for kind in KINDS:
        for _ in range(5):
            damaged, _ = _mutate(text, kind, rng)
            assert damaged != text or kind in ("flip", "duplicate line"), kind


def test_zlib_error_is_ours(tmp_path: Path) -> None:
    """A deflate stream with a bad block type raises zlib.error in gzip: ours now."""
    text = _text(SAMPLE_NAMES[0])
    packed = bytearray(gzip.compress(text, mtime=0))
    packed[10] = 0xFF  # the first deflate block header: an invalid block type
    path = tmp_path / "zlib.lhe.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(zlib.error):
        gzip.decompress(bytes(packed))
    with pytest.raises(EventFileError, match=r"zlib\.lhe\.gz: corrupt"):
        read_events(path)
