"""The fast paths of the numpy LHE reader against the ones they stand in for: blocks parsed
by threads against the serial read (same arrays, same messages wherever the damage is),
the vectorised named weights against the per-weight reader, the event array built layout
by layout against :func:`~latentsym.io.schema.make_events`."""

from __future__ import annotations

import gzip
import multiprocessing
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
from conftest import EXTERNAL_LHE, SAMPLES, external

from latentsym.errors import LatentsymError
from latentsym.io import lhe_fast, read_events
from latentsym.io.lhe import EVENT_FIELDS
from latentsym.io.schema import EventFile, make_events

WEIGHTED = "pylhe-testfile-madgraph5-3.5.8-pp_to_jj.lhe.gz"  # 145 named weights per event
CLUSTERED = "pylhe-testfile-madgraph-2.2.1-Z-mlm.lhe.gz"  # <clustering> in every event
SAMPLE = SAMPLES / "ee_mumu_91GeV.lhe.gz"
FAST_FILES = [n for n in EXTERNAL_LHE if n not in {"pylhe-testfile-madgraph-2.0.0-wbj.lhe",
                                                   "pylhe-testlhef3.lhe"}]  # fmt: skip


def _text(path: Path, events: int | None = None) -> bytes:
    """The decompressed text of ``path``, cut to its first ``events`` events."""
    data = path.read_bytes()
    text = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    if events is None:
        return text
    end = text.index(b"</init>")
    for _ in range(events):
        end = text.index(b"</event>", end) + len(b"</event>")
    return text[:end] + b"\n</LesHouchesEvents>\n"


def _same(a: EventFile, b: EventFile) -> None:
    assert ak.array_equal(a.events, b.events, dtype_exact=True, check_parameters=True)
    assert a.events.layout.form == b.events.layout.form
    assert a.info == b.info


def _outcome(read: Callable[[], EventFile]) -> EventFile | str:
    try:
        return read()
    except LatentsymError as exc:
        return f"{type(exc).__name__}: {exc}"


def _serial_and_threads(
    path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> tuple[EventFile | str, EventFile | str]:
    monkeypatch.setattr(lhe_fast, "_BLOCK_BYTES", block)
    monkeypatch.setattr(lhe_fast, "_MAX_WORKERS", 1)
    serial = _outcome(lambda: read_events(path))
    monkeypatch.setattr(lhe_fast, "_MAX_WORKERS", 4)
    monkeypatch.setattr(lhe_fast, "_workers", lambda: 3)  # threads even on one core
    threads = _outcome(lambda: read_events(path))
    return serial, threads


def test_threads_are_used(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    parallel = lhe_fast._parallel
    monkeypatch.setattr(lhe_fast, "_workers", lambda: 2)
    monkeypatch.setattr(lhe_fast, "_parallel", lambda *a: calls.append(1) or parallel(*a))
    read_events(SAMPLE)
    assert calls
    calls.clear()
    read_events(SAMPLE, max_events=100)  # a limit reads serially: only the blocks it needs
    assert not calls


def _count_in_child(path: str, out: Any) -> None:
    out.put(len(read_events(path).events))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_a_forked_child_reads_with_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The thread pool of the parent does not exist in a forked child (multiprocessing,
    dask, torch data loaders): the child starts its own instead of waiting forever."""
    monkeypatch.setattr(lhe_fast, "_workers", lambda: 2)
    monkeypatch.setattr(lhe_fast, "_BLOCK_BYTES", 1 << 16)
    expected = len(read_events(SAMPLE).events)  # the parent's pool is running now
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    child = context.Process(target=_count_in_child, args=(str(SAMPLE), out))
    child.start()
    try:
        assert out.get(timeout=120) == expected
    finally:
        child.join(timeout=30)
        if child.is_alive():
            child.kill()


@pytest.mark.parametrize("name", FAST_FILES, ids=str)
@pytest.mark.parametrize("block", [20_000, 1 << 18])
def test_threads_read_what_the_serial_read_reads(
    name: str, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    serial, threads = _serial_and_threads(external(name), monkeypatch, block)
    assert isinstance(serial, EventFile)
    assert isinstance(threads, EventFile)
    _same(serial, threads)


def _damage(text: bytes, kind: str, at: int) -> bytes:
    """``text`` with one damage in event ``at`` (the rest of the file intact)."""
    start = 0
    for _ in range(at + 1):
        start = text.index(b"<event", start + 1)
    end = text.index(b"</event>", start)
    event = text[start:end]
    lines = event.split(b"\n")
    if kind == "NUP":
        head = lines[1].split()
        head[0] = str(int(head[0]) + 1).encode()
        lines[1] = b" ".join(head)
    elif kind == "number":
        lines[2] = lines[2].replace(b"0", b"O", 1)
    elif kind == "unclosed":
        return text[:end] + text[end + len(b"</event>") :]
    elif kind == "joined":  # text between this event and the next, on the same line
        after = end + len(b"</event>")
        return text[:after] + b" junk " + text[after:].lstrip(b"\n")
    elif kind == "deleted line":
        del lines[3]
    elif kind == "weight order":
        wgts = [i for i, line in enumerate(lines) if line.startswith(b"<wgt")]
        lines[wgts[0]], lines[wgts[1]] = lines[wgts[1]], lines[wgts[0]]
    elif kind == "weight id":
        wgt = next(i for i, line in enumerate(lines) if line.startswith(b"<wgt"))
        lines[wgt] = lines[wgt].replace(b"id='", b"id='x", 1)
    elif kind == "weight missing":
        del lines[next(i for i, line in enumerate(lines) if line.startswith(b"<wgt"))]
    elif kind == "weight value":
        wgt = next(i for i, line in enumerate(lines) if line.startswith(b"<wgt"))
        lines[wgt] = lines[wgt].replace(b"> ", b"> 1.0 ", 1)
    elif kind == "weight text":
        wgt = next(i for i, line in enumerate(lines) if line.startswith(b"<wgt"))
        lines[wgt] = lines[wgt].replace(b"e+", b"x+", 1)
    elif kind == "weight attribute":
        wgt = next(i for i, line in enumerate(lines) if line.startswith(b"<wgt"))
        lines[wgt] = lines[wgt].replace(b"<wgt ", b"<wgt a='1' ", 1)
    elif kind == "weight close":
        wgt = next(i for i, line in enumerate(lines) if line.startswith(b"<wgt"))
        lines[wgt] = lines[wgt].replace(b"</wgt>", b"</wgt >", 1)
    return text[:start] + b"\n".join(lines) + text[end:]


LAYOUT_DAMAGE = ["NUP", "number", "unclosed", "deleted line", "joined"]
WEIGHT_DAMAGE = ["weight order", "weight id", "weight missing", "weight value",
                 "weight text", "weight attribute", "weight close"]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "kind"),
    [(CLUSTERED, k) for k in LAYOUT_DAMAGE]
    + [(WEIGHTED, k) for k in LAYOUT_DAMAGE + WEIGHT_DAMAGE],
)
@pytest.mark.parametrize("at", [0, 1, 40])
def test_damage_anywhere_gives_the_serial_message(
    name: str, kind: str, at: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Damage in the first event, the second and a late block: threads or not, the same
    error (or, for a valid variant, the same events)."""
    path = tmp_path / name
    path.write_bytes(gzip.compress(_damage(_text(external(name), 60), kind, at), mtime=0))
    serial, threads = _serial_and_threads(path, monkeypatch, 1 << 13)  # a late block
    if isinstance(serial, str):
        assert threads == serial
        assert f"{name}: " in serial
    else:
        assert isinstance(threads, EventFile)
        _same(serial, threads)


def test_a_late_corrupt_gzip_stream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stream cut off late: the same message (events and bytes before the cut) from both."""
    path = tmp_path / "cut.lhe.gz"
    path.write_bytes(SAMPLE.read_bytes()[:600_000])
    serial, threads = _serial_and_threads(path, monkeypatch, 1 << 16)
    assert isinstance(serial, str)
    assert "corrupt or truncated gzip stream after event" in serial
    assert threads == serial


@pytest.mark.parametrize("kind", [None, *WEIGHT_DAMAGE])
@pytest.mark.parametrize("at", [0, 7])
def test_vectorised_weights_against_the_reader_they_stand_in_for(
    kind: str | None, at: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """:func:`lhe_fast._same_weights` against :func:`lhe_fast._weights` (by the regular
    expression, weight by weight): the same weights, or the same error."""
    text = _text(external(WEIGHTED), 30)
    path = tmp_path / "weights.lhe"
    path.write_bytes(text if kind is None else _damage(text, kind, at))
    fast = _outcome(lambda: read_events(path))
    monkeypatch.setattr(lhe_fast, "_same_weights", lambda *a: None)
    slow = _outcome(lambda: read_events(path))
    if isinstance(slow, str):
        assert fast == slow
    else:
        assert isinstance(fast, EventFile)
        _same(fast, slow)
        assert len(slow.info.weight_names) == 145


def test_weights_in_another_order_per_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events that list the same weights in different orders are valid: the slow path reads
    them (the vectorised one takes only identical tags), to the same columns."""
    text = _text(external(WEIGHTED))
    for at in (3, 500):
        text = _damage(text, "weight order", at)
    path = tmp_path / "orders.lhe"
    path.write_bytes(text)
    got = read_events(path)
    reference = read_events(external(WEIGHTED))
    assert ak.array_equal(got.events.weights, reference.events.weights, dtype_exact=True)
    monkeypatch.setattr(lhe_fast, "_same_weights", lambda *a: None)
    _same(got, read_events(path))


@pytest.mark.parametrize("name", [*FAST_FILES, *(p.name for p in SAMPLES.glob("*.lhe.gz"))])
def test_event_array_is_what_make_events_builds(name: str) -> None:
    path = SAMPLES / name if name.startswith("ee_") or name.startswith("pp_") else external(name)
    for engine in ("fast", "pylhe"):
        events = read_events(path, engine=engine, max_events=3000).events
        counts = ak.to_numpy(ak.num(events.particles))
        particles = events.particles

        def jag(x: ak.Array, counts: np.ndarray = counts) -> ak.Array:
            return ak.unflatten(ak.to_numpy(ak.flatten(x)), counts)

        weights = None
        if "weights" in events.fields:
            weights = {k: ak.to_numpy(events.weights[k]) for k in events.weights.fields}
        extra = ("mother1", "mother2", "color1", "color2", "mass", "lifetime", "spin")
        built = make_events(
            p4={k: jag(getattr(particles.p4, k)) for k in ("px", "py", "pz", "E")},
            pid=jag(particles.pid),
            status=jag(particles.status),
            weight=ak.to_numpy(events.weight),
            weights=weights,
            extra={k: jag(particles[k]) for k in extra},
            check=False,
        )
        for field in EVENT_FIELDS:
            built = ak.with_field(built, events[field], field)
        assert built.layout.form == events.layout.form
        assert ak.array_equal(built, events, dtype_exact=True, check_parameters=True)
        assert built.behavior == events.behavior
        assert np.allclose(ak.to_numpy(ak.flatten(events.particles.p4.mass2)),
                           ak.to_numpy(ak.flatten(built.particles.p4.mass2)))  # fmt: skip
