"""``read_events`` and ``iterate_events``: one entry point for every event-file format."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from latentsym.errors import ConfigError
from latentsym.io.formats import FORMATS, check_path, detect_format
from latentsym.io.hepmc import iterate_hepmc, read_hepmc
from latentsym.io.lhe import iterate_lhe, read_lhe
from latentsym.io.root import iterate_root, read_root
from latentsym.io.schema import EventFile

__all__ = ["FORMATS", "detect_format", "iterate_events", "read_events"]


def read_events(
    path: str | os.PathLike[str],
    *,
    max_events: int | None = None,
    format: str | None = None,
    **options: Any,
) -> EventFile:
    """Read an event file into the latentsym event schema.

    Args:
        path: an ``.lhe``, ``.lhe.gz``, HepMC3 ASCII (plain or gzip) or ROOT file.
        max_events: read at most this many events (from the start of the file).
        format: force ``"lhe"``, ``"lhe.gz"``, ``"root"``, ``"hepmc3"`` or ``"hepmc3.gz"``
            instead of detecting it.
        **options: format-specific options; for LHE files ``engine`` (see
            :func:`latentsym.io.lhe.read_lhe`); for ROOT files ``tree``, ``layout``,
            ``collections``, ``branches``, ``flavour``, ``sqrt_s``, ``beams``
            (see :func:`latentsym.io.root.read_root`).

    Returns:
        ``EventFile(events, info)``: an awkward array of events and a :class:`RunInfo`.

    Example:
        >>> events, info = read_events(SAMPLES / "ee_mumu_91GeV.lhe.gz", max_events=500)
        >>> len(events), info.format, info.sqrt_s
        (500, 'lhe.gz', 91.2)
        >>> events.particles.pid[0].tolist()
        [11, -11, 23, 13, -13]
        >>> [round(m, 3) for m in events.particles.p4.mass[0].tolist()]
        [0.0, 0.0, 91.2, 0.106, 0.106]

        The ROOT twin holds the same events, bit for bit:

        >>> import awkward as ak
        >>> twin, twin_info = read_events(SAMPLES / "ee_mumu_91GeV.root", max_events=500)
        >>> twin_info.format, twin_info.layout
        ('root', 'latentsym')
        >>> bool(ak.all(twin.particles.p4.px == events.particles.p4.px))
        True
    """
    fmt = _resolve_format(path, format)
    _check_max_events(max_events)
    if fmt in ("lhe", "lhe.gz"):
        return read_lhe(path, max_events=max_events, **_lhe_options(path, options))
    if fmt in ("hepmc3", "hepmc3.gz"):
        return read_hepmc(path, max_events=max_events, **_hepmc_options(path, options))
    return read_root(path, max_events=max_events, **options)


def iterate_events(
    path: str | os.PathLike[str],
    *,
    step_size: int = 100_000,
    max_events: int | None = None,
    format: str | None = None,
    **options: Any,
) -> Iterator[EventFile]:
    """Read an event file in chunks of ``step_size`` events.

    Yields ``EventFile(events, info)`` per chunk; ``info.n_events`` is the chunk's size and
    ``info.extra["first_event"]`` the index of its first event in the file. LHE files go
    through the numpy reader block by block, ROOT files through ``uproot.iterate``: memory
    stays bounded by ``step_size`` whatever the size of the file.

    Example:
        >>> path = SAMPLES / "ee_mumu_91GeV.lhe.gz"
        >>> for events, info in iterate_events(path, step_size=400, max_events=1000):
        ...     print(info.extra["first_event"], info.n_events, len(events))
        0 400 400
        400 400 400
        800 200 200
    """
    if int(step_size) < 1:
        raise ConfigError(f"step_size must be a positive number of events, got {step_size}")
    fmt = _resolve_format(path, format)
    _check_max_events(max_events)
    if fmt in ("lhe", "lhe.gz"):
        yield from iterate_lhe(
            path, step_size=step_size, max_events=max_events, **_lhe_options(path, options)
        )
    elif fmt in ("hepmc3", "hepmc3.gz"):
        _hepmc_options(path, options)
        yield from iterate_hepmc(path, step_size=step_size, max_events=max_events)
    else:
        yield from iterate_root(path, step_size=step_size, max_events=max_events, **options)


def _lhe_options(path: str | os.PathLike[str], options: dict[str, Any]) -> dict[str, Any]:
    extra = sorted(set(options) - {"engine"})
    if extra:
        raise ConfigError(
            f"{path}: options {extra} apply to ROOT files only; an LHE file takes max_events "
            "and engine ('auto', 'fast' or 'pylhe')."
        )
    return options


def _hepmc_options(path: str | os.PathLike[str], options: dict[str, Any]) -> dict[str, Any]:
    if options:
        raise ConfigError(
            f"{path}: options {sorted(options)} do not apply to a HepMC3 file; it takes "
            "max_events only."
        )
    return options


def _resolve_format(path: str | os.PathLike[str], format: str | None) -> str:
    if format is None:
        return detect_format(path)
    if format not in FORMATS:
        raise ConfigError(f"unknown format {format!r}; allowed: {', '.join(FORMATS)}")
    check_path(path)
    return format


def _check_max_events(max_events: int | None) -> None:
    if max_events is not None and int(max_events) < 1:
        raise ConfigError(f"max_events must be a positive number of events, got {max_events}")
