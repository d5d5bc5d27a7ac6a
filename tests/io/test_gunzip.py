"""ISA-L decompression against the standard library's gzip: the same bytes on every gzip
file of the test data, multi-member streams included; damaged streams fail in both and
give latentsym's own error naming the file, with ISA-L and with the zlib fallback."""

from __future__ import annotations

import gzip
import io
import itertools
from pathlib import Path

import awkward as ak
import pytest
from conftest import EXTERNAL, SAMPLES, TEST_DATA

from latentsym.errors import EventFileError
from latentsym.io import _gunzip, read_events
from latentsym.io.formats import detect_format

isal = pytest.importorskip("isal.igzip")

GZIP_FILES = sorted(SAMPLES.glob("*.lhe.gz")) + sorted(EXTERNAL.glob("*.lhe.gz"))
GZIP_FILES += sorted(TEST_DATA.glob("*.gz"))
SAMPLE = SAMPLES / "ee_mumu_91GeV.lhe.gz"


def _stream(data: bytes, folder: Path, chunk: int = 1 << 16) -> bytes:
    """What the readers see: the file read through :func:`_gunzip.open_gzip` in chunks."""
    path = folder / "stream.gz"
    path.write_bytes(data)
    out = []
    with _gunzip.open_gzip(path) as fh:
        while piece := fh.read(chunk):
            out.append(piece)
    return b"".join(out)


def test_isal_is_used() -> None:
    assert _gunzip.BACKEND == "isal"


@pytest.mark.parametrize("path", GZIP_FILES, ids=lambda p: p.name)
def test_same_bytes_as_gzip(path: Path, tmp_path: Path) -> None:
    data = path.read_bytes()
    try:
        expected: bytes | None = gzip.decompress(data)
    except (OSError, EOFError) as exc:  # the damaged test files: both must fail
        expected = None
        reason = exc
    if expected is None:
        with pytest.raises(_gunzip.ERRORS):
            _gunzip.decompress(data)
        with pytest.raises(_gunzip.ERRORS):
            _stream(data, tmp_path)
        assert reason
        return
    assert _gunzip.decompress(data) == expected
    assert _stream(data, tmp_path) == expected


def test_multi_member_and_padding(tmp_path: Path) -> None:
    """Several gzip members one after the other (``cat a.gz b.gz``), and zero padding."""
    text = gzip.decompress(SAMPLE.read_bytes())
    cuts = [0, 1000, 250_000, 250_001, len(text)]
    members = b"".join(gzip.compress(text[a:b]) for a, b in itertools.pairwise(cuts))
    assert gzip.decompress(members) == text
    assert _gunzip.decompress(members) == text
    assert _stream(members, tmp_path) == text
    assert (
        _stream(members + b"\0" * 64, tmp_path) == gzip.GzipFile(fileobj=io.BytesIO(members)).read()
    )


def _damaged(data: bytes) -> dict[str, bytes]:
    flip = bytearray(data)
    flip[len(data) // 3] ^= 0x40
    crc = bytearray(data)
    crc[-8] ^= 1
    size = bytearray(data)
    size[-1] ^= 1
    header = bytearray(data)
    header[3] = 0xFF  # every header flag set: a header that does not parse
    block = bytearray(data)
    block[10] = 0xFF  # the first deflate block: an invalid block type
    return {
        "truncated": data[: len(data) // 2],
        "flipped byte": bytes(flip),
        "bad CRC": bytes(crc),
        "bad length": bytes(size),
        "bad header": bytes(header),
        "bad block": bytes(block),
        "trailing garbage": data + b"garbage",
        "magic only": data[:2],
    }


DAMAGE = list(_damaged(bytes(64)))


@pytest.mark.parametrize("kind", DAMAGE)
def test_damaged_streams_fail_in_both(kind: str, tmp_path: Path) -> None:
    data = _damaged(SAMPLE.read_bytes())[kind]
    with pytest.raises((OSError, EOFError, gzip.zlib.error)):  # type: ignore[attr-defined]
        gzip.GzipFile(fileobj=io.BytesIO(data)).read()
    with pytest.raises(_gunzip.ERRORS):
        _stream(data, tmp_path)


@pytest.mark.parametrize("backend", ["isal", "zlib"])
@pytest.mark.parametrize("kind", DAMAGE)
def test_damaged_streams_give_our_error(
    kind: str, backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``read_events`` and ``detect_format`` raise EventFileError naming the file, on each
    route, with ISA-L and with the fallback (isal not installed)."""
    if backend == "zlib":
        monkeypatch.setattr(_gunzip, "igzip", None)
    path = tmp_path / "damaged.lhe.gz"
    path.write_bytes(_damaged(SAMPLE.read_bytes())[kind])
    try:
        detect_format(path)  # reads the first 4 kB only: some damage lies further on
    except EventFileError as exc:
        message = str(exc)
    else:
        message = "damaged.lhe.gz: corrupt gzip stream (not seen in the first 4 kB)"
    assert "damaged.lhe.gz: corrupt gzip stream" in message
    # a flipped byte garbles the text after it: the events there are refused (the gzip
    # CRC, at the end, is never reached)
    match = r"damaged\.lhe\.gz: " + ("" if kind == "flipped byte" else ".*gzip")
    for engine in ("auto", "pylhe"):
        with pytest.raises(EventFileError, match=match):
            read_events(path, engine=engine)


def test_fallback_reads_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without isal the standard library decompresses, to the same events."""
    with_isal = read_events(SAMPLE)
    monkeypatch.setattr(_gunzip, "igzip", None)
    assert _gunzip.decompress(SAMPLE.read_bytes()) == gzip.decompress(SAMPLE.read_bytes())
    without = read_events(SAMPLE)
    assert ak.array_equal(with_isal.events, without.events, dtype_exact=True)
    assert with_isal.info == without.info
