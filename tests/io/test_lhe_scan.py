"""The C scanner of the LHE reader (``latentsym.io._lhe_scan``) against what it replaces.

Its numbers against Python's ``float`` (correct rounding, bit for bit) on chosen and on
random tokens, including halfway cases between doubles; its reads against the numpy and
Arrow scanner on every real file and on seeded mutations of them: the same events and run
information, or the same error message, at several block sizes.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import struct
from collections.abc import Iterator
from decimal import Decimal, localcontext
from pathlib import Path

import numpy as np
import pytest
from conftest import EXTERNAL, SAMPLES
from test_lhe_damage import (
    FAST_SOURCES,
    KINDS,
    _blocks,
    _mutate,
    _same,
    _text,
    _write,
)

from latentsym.errors import LatentsymError
from latentsym.io import lhe_fast, read_events
from latentsym.io._lhe_text import PLAIN_NUMBER

try:
    from latentsym.io import _lhe_scan as scan
except ImportError:  # installed without it (LATENTSYM_NO_C=1 or no compiler)
    scan = None
needs_c = pytest.mark.skipif(scan is None, reason="the C scanner is not built")
_PLAIN = re.compile(PLAIN_NUMBER.pattern + rb"|[+-]?(?i:nan|inf|infinity)")


def test_the_c_scanner_is_built() -> None:
    """``make`` builds it (hatch_build.py); only LATENTSYM_NO_C=1 installs without it."""
    if os.environ.get("LATENTSYM_NO_C"):
        pytest.skip("installed without the C scanner on purpose")
    assert scan is not None


def _python(token: bytes) -> float | None:
    return float(token) if _PLAIN.fullmatch(token) else None


def _bits(x: float | None) -> bytes | None:
    return None if x is None else struct.pack("<d", x)


CHOSEN = [b"1.", b".5", b"+.5", b"-0", b"-0.0", b"+0e5", b"00012", b"1E5", b"1.5e-3",
          b"0.58437780464E+02", b"+4.5600000000e+01", b"14.118304254934086",
          b"1e400", b"-1e999", b"1e-400", b"5e-324", b"4.9406564584124654e-324",
          b"2.2250738585072011e-308", b"1.7976931348623157e308", b"1.7976931348623159e308",
          b"9007199254740993", b"9007199254740993.0", b"123456789012345678901234567890",
          b"0.000000000000000000000000000001", b"1e-27", b"1e27", b"1e28", b"1e-28",
          b"18446744073709551615", b"18446744073709551616", b"1e+0000000000000000000001",
          b"nan", b"NaN", b"-nan", b"inf", b"-INF", b"Infinity", b"+infinity",
          # not numbers
          b"1e", b"e5", b"1e+", b".", b"+", b"-", b"+-1", b"1..2", b"1e5.0", b"1D5", b"0x10",
          b"1_0", "\u0663".encode(), b"infinit", b"nana", b"1 ", b" 1", b"1,5", b"--1"]  # fmt: skip


@needs_c
@pytest.mark.parametrize("token", CHOSEN, ids=lambda t: t.decode("utf-8", "replace"))
def test_chosen_tokens_parse_as_python_float(token: bytes) -> None:
    assert _bits(scan.number(token)) == _bits(_python(token))


def _random_tokens(rng: np.random.Generator, n: int) -> Iterator[bytes]:
    for _ in range(n):
        kind = rng.random()
        if kind < 0.25:  # any double, shortest repr (17 digits and fewer)
            yield repr(float(np.frombuffer(rng.bytes(8), dtype="<f8")[0])).encode()
        elif kind < 0.5:  # printf formats, as generators write them
            x = rng.uniform(-1e3, 1e3) * 10.0 ** int(rng.integers(-30, 31))
            yield (f"%.{int(rng.integers(0, 21))}{'eEfg'[int(rng.integers(4))]}" % x).encode()
        elif kind < 0.75:  # 16-19 digit mantissas at small exponents: the long double path
            yield f"{int(rng.integers(10**15, 10**18)) * 10 + int(rng.integers(10))}" \
                  f"e{int(rng.integers(-27, 28))}".encode()  # fmt: skip
        else:  # digit strings with a point anywhere and leading zeros
            digits = "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(1, 26))))
            cut = int(rng.integers(0, len(digits) + 1))
            sign = ["", "+", "-"][int(rng.integers(3))]
            exp = f"e{int(rng.integers(-40, 41))}" if rng.random() < 0.5 else ""
            yield f"{sign}{digits[:cut]}.{digits[cut:]}{exp}".encode()


@needs_c
def test_random_tokens_parse_as_python_float() -> None:
    rng = np.random.default_rng(7)
    wrong = [t for t in _random_tokens(rng, 40_000) if _bits(scan.number(t)) != _bits(_python(t))]
    assert not wrong, wrong[:5]


@needs_c
def test_halfway_cases_round_to_even() -> None:
    """Decimals exactly halfway between two doubles: where the long double product is
    itself the halfway point, the scanner must hand the token to strtod."""
    rng = np.random.default_rng(3)
    tried = 0
    with localcontext() as ctx:
        ctx.prec = 80
        for _ in range(20_000):
            x = float(rng.uniform(1, 2)) * 2.0 ** int(rng.integers(-30, 60))
            mid = (Decimal(x) + Decimal(math.nextafter(x, math.inf))) / 2
            token = format(mid.normalize(), "f").encode()
            if len(token.replace(b".", b"").lstrip(b"0")) > 19:
                continue  # more digits than the fast path takes: strtod anyway
            tried += 1
            assert _bits(scan.number(token)) == _bits(float(token)), token
    assert tried > 500


@contextlib.contextmanager
def _numpy_scanner() -> Iterator[None]:
    saved = lhe_fast.USE_C_SCANNER
    lhe_fast.USE_C_SCANNER = False
    try:
        yield
    finally:
        lhe_fast.USE_C_SCANNER = saved


def _read(path: Path) -> tuple[str, object]:
    try:
        return "read", read_events(path, engine="fast")
    except LatentsymError as exc:
        return "error", str(exc)


def _same_by_both(path: Path, size: int | None = None, where: object = None) -> str:
    """Read ``path`` by the C scanner and by numpy (in blocks of ``size`` bytes of text):
    the same events or the same message (``where`` names the case when they differ).
    Returns ``"read"`` or ``"error"``."""
    with _blocks(lhe_fast.BLOCK_BYTES if size is None else size):
        got = _read(path)
        with _numpy_scanner():
            reference = _read(path)
    if got[0] == "read" and reference[0] == "read":
        assert _same(got[1], reference[1]), where  # type: ignore[arg-type]
    else:
        assert got == reference, where
    return got[0]


@needs_c
@pytest.mark.parametrize("name", FAST_SOURCES)
def test_whole_files_read_the_same_by_both_scanners(name: str) -> None:
    path = SAMPLES / name if (SAMPLES / name).exists() else EXTERNAL / name
    got = read_events(path, engine="fast")
    with _numpy_scanner():
        reference = read_events(path, engine="fast")
    assert _same(got, reference)


@needs_c
def test_mutations_read_the_same_by_both_scanners(tmp_path: Path) -> None:
    """300 seeded mutations of the real files, in whole and in small blocks: the same
    events or the same message."""
    rng = np.random.default_rng(11)
    texts = {name: _text(name) for name in FAST_SOURCES}
    errors = 0
    for i in range(300):
        name = FAST_SOURCES[i % len(FAST_SOURCES)]
        kind = KINDS[int(rng.integers(len(KINDS)))]
        damaged, _ = _mutate(texts[name], kind, rng)
        path = _write(tmp_path, "mutated", damaged)
        size = int(rng.integers(1500, 6000)) if i % 2 else None
        errors += _same_by_both(path, size, (i, name, kind)) == "error"
    assert errors > 100  # the mutations reach the checks


_TAGGED = ["pylhe-testfile-madgraph5-3.5.8-pp_to_jj.lhe.gz", "pylhe-testfile-powheg-box-v2-W.lhe"]


def _tag_mutation(text: bytes, rng: np.random.Generator) -> bytes:
    """``text`` damaged inside or beside the tags of its events (the C scanner's
    ``check_tags`` and ``same_weights`` against numpy's checks of the same)."""
    start = text.index(b"</init>")
    tags = [m.span() for m in re.finditer(rb"<[^<>]*>", text[start:])]
    a, b = tags[int(rng.integers(len(tags)))]
    a, b = a + start, b + start
    wgts = [m.span(1) for m in re.finditer(rb"<wgt[^>]*>([^<]*)</wgt>", text[start:])]
    kind = int(rng.integers(9))
    if kind == 0:  # a byte of a tag changed
        at = int(rng.integers(a, b))
        return text[:at] + bytes([b"x<>/? '#1"[int(rng.integers(9))]]) + text[at + 1 :]
    if kind == 1:  # a byte of a tag removed
        at = int(rng.integers(a, b))
        return text[:at] + text[at + 1 :]
    if kind == 2:  # text, a comment line, or a control byte after a tag
        extra = [b"stray", b"\n# a note\n", b"\x01", b" \t\r\n", b"\n  #x\n1 2\n", b"\x01" * 9,
                 b"\n\x0b\x0c #\n"]  # fmt: skip
        return text[:b] + extra[int(rng.integers(len(extra)))] + text[b:]
    if kind == 3:  # a tag duplicated
        return text[:b] + text[a:b] + text[b:]
    if kind == 4:  # a self-closing tag or a processing instruction added
        return text[:b] + [b"<x/>", b"<?pi?>", b"<y >", b"</y>"][int(rng.integers(4))] + text[b:]
    if not wgts:
        return text[:a] + text[b:]  # a tag removed
    c, d = wgts[int(rng.integers(len(wgts)))]
    c, d = c + start, d + start
    if kind == 5:  # a weight's number replaced
        bad = [b"", b" 1 2 ", b"1e400", b"nan", b"0x1", b"+", b" -3.5e-2 ", b"1,5"]
        return text[:c] + bad[int(rng.integers(len(bad)))] + text[d:]
    if kind == 6:  # a weight's id changed in one event
        at = text.rfind(b"id=", start, c)
        return text[: at + 4] + b"Z" + text[at + 5 :]
    if kind == 7:  # a weight's closing tag changed
        return text[:d] + [b"</wgt >", b"</wgtx>", b"<wgt>"][int(rng.integers(3))] + text[d + 6 :]
    return text[:a] + text[b:]  # a tag removed


@needs_c
def test_tag_and_weight_mutations_read_the_same_by_both_scanners(tmp_path: Path) -> None:
    """200 seeded mutations of the tags and <wgt> weights of the files that have them:
    the same events or the same message by the C checks and by numpy's."""
    rng = np.random.default_rng(5)
    texts = {name: _text(name) for name in _TAGGED}
    outcomes = {"read": 0, "error": 0}
    for i in range(200):
        name = _TAGGED[i % len(_TAGGED)]
        path = _write(tmp_path, "tagged", _tag_mutation(texts[name], rng))
        size = int(rng.integers(1500, 6000)) if i % 2 else None
        outcomes[_same_by_both(path, size, (i, name))] += 1
    assert outcomes["read"] > 20, outcomes  # both outcomes are reached
    assert outcomes["error"] > 50, outcomes


_INTEGER_TOKENS = [b"+13", b"-0", b"+0", b"0000013", b"1234567", b"-1234567", b"12345678",
                   b"2147483647", b"2147483648", b"13.", b"13.0", b"1.3e1", b"13e0", b"-13",
                   b"+-13", b"13x", b"1_3", b"-", b"+", b"0x1", b"\xd9\xa3"]  # fmt: skip


@needs_c
@pytest.mark.parametrize("token", _INTEGER_TOKENS, ids=lambda t: t.decode("utf-8", "replace"))
def test_integer_columns_read_the_same_by_both_scanners(tmp_path: Path, token: bytes) -> None:
    """The C scanner's short cut for small integers (up to 7 digits, nothing after them)
    against the general parse and numpy's, in every integer column of a particle line."""
    text = _text("ee_mumu_91GeV.lhe.gz")
    line = re.search(rb"\n(\s+-?\d+)(\s+-?\d+)(\s+-?\d+)(\s+-?\d+)(\s+-?\d+)(\s+-?\d+)\s+\S+\.",
                     text[text.index(b"<event>"):])  # fmt: skip
    assert line is not None
    base = text.index(b"<event>")
    for column in range(1, 7):
        a, b = line.span(column)
        value = line.group(column)
        cut = base + a + len(value) - len(value.lstrip())
        damaged = text[:cut] + token + text[base + b :]
        _same_by_both(_write(tmp_path, f"column{column}", damaged), where=column)
