"""Write Les Houches Event files (``.lhe``, ``.lhe.gz``) through pylhe's own classes.

Every number is printed with the shortest decimal string that reads back to the same
double, so ``read_lhe(write_lhe(read_lhe(f)))`` is bitwise lossless; pylhe's default
format keeps 9 to 11 significant digits (and 5 for named weights).
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pylhe

from latentsym._atomic import atomic_output
from latentsym.errors import ConfigError, OutputError, SchemaError
from latentsym.io.lhe import EVENT_FIELDS, INIT_KEYS
from latentsym.io.schema import RunInfo

__all__ = ["write_lhe"]

# Numbers are printed without a precision: Python then writes the shortest string that
# reads back to the same double (e.g. "91.1876", "-0.0", "1.2345678901234567e-05").
_FORMAT = pylhe.LHEXMLFormat(
    indent=" ",
    eventinfo="{nparticles:d} {pid:d} {weight} {scale} {aqed} {aqcd}",
    particle="{id:>5d} {status:>2d} {mother1:>2d} {mother2:>2d} {color1:>3d} {color2:>3d} "
    "{px} {py} {pz} {e} {m} {lifetime} {spin}",
    initinfo="{beamA:d} {beamB:d} {energyA} {energyB} {PDFgroupA:d} {PDFgroupB:d} "
    "{PDFsetA:d} {PDFsetB:d} {weightingStrategy:d} {numProcesses:d}",
    procinfo="{xSection} {error} {unitWeight} {procId:d}",
)


class _Exact(float):
    """A float printed in full whatever format pylhe asks for (it prints weights as 11.4e)."""

    def __format__(self, spec: str) -> str:
        return repr(float(self))


class _Init(pylhe.LHEInit):
    """pylhe's <init> block without the empty line it prints when there is no process line
    (pylhe cannot read that line back); no process line means "cross-section unknown"."""

    __slots__ = ()

    def tolhe(self, lheformat: pylhe.LHEXMLFormat = _FORMAT) -> str:
        return super().tolhe(lheformat=lheformat).replace("\n\n</init>", "\n</init>")


# ---------------------------------------------------------------------------- writing


def write_lhe(
    events: ak.Array,
    path: str | os.PathLike[str],
    info: RunInfo | None = None,
    *,
    overwrite: bool = False,
) -> Path:
    """Write events in the latentsym schema to an LHE file (gzip when the name ends .gz).

    Numbers are printed in full (shortest round-trip form), so reading the file back gives
    bitwise identical momenta and weights. Per-particle fields the events lack get the LHE
    defaults (mothers and colours 0, lifetime 0, spin 9, mass from ``p4``); per-event
    ``process_id``, ``scale``, ``alpha_qed``, ``alpha_qcd`` default to the single process
    id and -1. The run information (beams, energies, cross-section, generators, named
    weights with their labels) goes into ``<init>`` and ``<initrwgt>``; the rest of
    ``info.extra`` is stored as JSON in a ``<latentsym>`` header element and read back.

    Args:
        events: N events with ``particles`` (``p4``, ``pid``, ``status``, ...) and ``weight``.
        path: output ``.lhe`` or ``.lhe.gz`` file; written atomically.
        info: run metadata (default: beams and cross-section unknown).
        overwrite: replace an existing file.

    Returns:
        The path written.

    Raises:
        OutputError: the file exists (without ``overwrite=True``), the folder is missing,
            or the suffix is neither ``.lhe`` nor ``.lhe.gz``.
        SchemaError: ``events`` lack ``particles`` or ``weight``, or a weight name cannot
            be written.

    Example:
        >>> from latentsym.io.lhe import read_lhe
        >>> events, info = read_lhe(SAMPLES / "ee_mumu_91GeV.lhe.gz", max_events=100)
        >>> write_lhe(events, "first100.lhe.gz", info)
        PosixPath('first100.lhe.gz')
        >>> back, back_info = read_lhe("first100.lhe.gz")
        >>> len(back), back_info.sqrt_s
        (100, 91.2)
        >>> ak.to_list(back.particles.p4.px) == ak.to_list(events.particles.p4.px)
        True
    """
    out = Path(path)
    compress = out.name.endswith(".lhe.gz")
    if not (compress or out.name.endswith(".lhe")):
        raise OutputError(f"{out}: an LHE file name must end in .lhe or .lhe.gz (gzip).")
    if out.is_dir():
        raise OutputError(f"{out}: is a directory. Give a file name ending in .lhe or .lhe.gz.")
    if out.exists() and not overwrite:
        raise OutputError(
            f"{out}: exists. Pass overwrite=True to replace it, or choose another path."
        )
    if not out.parent.is_dir():
        raise OutputError(f"{out}: the folder {out.parent} does not exist. Create it first.")
    lhef = _to_pylhe(events, info, str(out))
    with atomic_output(out) as tmp, open(tmp, "wb") as raw:
        if compress:
            # mtime=0 and no file name in the gzip header: identical input, identical bytes.
            with (
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
                io.TextIOWrapper(gz, encoding="utf-8", newline="\n") as text,
            ):
                lhef.write(text, lheformat=_FORMAT)
        else:
            with io.TextIOWrapper(raw, encoding="utf-8", newline="\n") as text:
                lhef.write(text, lheformat=_FORMAT)
    return out


def _to_pylhe(events: ak.Array, info: RunInfo | None, source: str) -> pylhe.LHEFile:
    fields = set(ak.fields(events))
    if not {"particles", "weight"} <= fields:
        raise SchemaError(
            f"{source}: the events have fields {sorted(fields)}; writing LHE needs "
            "'particles' and 'weight' (build them with latentsym.io.make_events)."
        )
    info = info or RunInfo(path=source, format="lhe", n_events=len(events))
    extra = dict(info.extra)
    names = list(ak.fields(events.weights)) if "weights" in fields else []
    labels = dict(extra.get("weight_labels") or {})
    for name in names:
        if not name or re.search(r"[\s<>&'\"]", name):
            raise SchemaError(
                f"{source}: weight name {name!r} cannot be written to LHE: use names without "
                "spaces, quotes, '<', '>' or '&' (e.g. 'muR2_muF1')."
            )
    weight = ak.to_numpy(events.weight).astype(np.float64)
    procs = _processes(info, extra, events, weight)
    beams = info.beams or (0, 0)
    energies = info.beam_energies or (0.0, 0.0)
    group = [int(v) for v in extra.get("pdf_group", (-1, -1))]
    pdf_set = [int(v) for v in extra.get("pdf_set", (-1, -1))]
    init_info = pylhe.LHEInitInfo(
        beamA=int(beams[0]), beamB=int(beams[1]),
        energyA=float(energies[0]), energyB=float(energies[1]),
        PDFgroupA=group[0], PDFgroupB=group[1], PDFsetA=pdf_set[0], PDFsetB=pdf_set[1],
        weightingStrategy=int(
            extra.get("weighting_strategy", 3 if np.all(weight == weight[:1]) else -4)
        ),
        numProcesses=len(procs),
    )  # fmt: skip
    generators = [
        pylhe.LHEGenerator(name=g.rsplit(" ", 1)[0], version=g.rsplit(" ", 1)[1], description="")
        if " " in g
        else pylhe.LHEGenerator(name=g, version="", description="")
        for g in info.generators
    ]
    rest = {k: v for k, v in extra.items() if k not in (*INIT_KEYS, "first_event")}
    elements = []
    if rest:
        try:
            text = json.dumps(rest)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"{source}: info.extra must be JSON-serialisable to be stored in the LHE "
                f"header ({exc}). Convert its values to numbers, strings, lists or dicts."
            ) from exc
        elements.append(ET.Element("latentsym"))
        elements[0].text = text
    rwgt = [pylhe.LHEInitRWGTWeight(id=n, name=str(labels.get(n, ""))) for n in names]
    header = (
        pylhe.LHEHeader(initrwgt=pylhe.LHEInitRWGT(entries=list(rwgt)), extra_elements=elements)
        if rwgt or elements
        else None
    )
    default_proc = procs[0].procId if len(procs) == 1 else 1
    return pylhe.LHEFile(
        init=_Init(initInfo=init_info, procInfo=procs, generators=generators),
        events=_events(events, weight, names, default_proc),
        header=header,
    )


def _processes(
    info: RunInfo, extra: dict[str, Any], events: ak.Array, weight: np.ndarray
) -> list[pylhe.LHEProcInfo]:
    listed = extra.get("processes") or []
    if (
        listed
        and info.cross_section_pb is not None
        and math.isclose(
            math.fsum(p["cross_section_pb"] for p in listed), info.cross_section_pb, rel_tol=1e-12
        )
    ):
        return [
            pylhe.LHEProcInfo(
                float(p["cross_section_pb"]), float(p["error_pb"]), float(p["max_weight"]),
                int(p["id"]),
            )
            for p in listed
        ]  # fmt: skip
    if info.cross_section_pb is None:
        return []
    ids: Any = []
    if "process_id" in ak.fields(events):
        ids = np.unique(ak.to_numpy(events.process_id))
    return [
        pylhe.LHEProcInfo(
            float(info.cross_section_pb),
            float(info.cross_section_error_pb or 0.0),
            float(np.max(np.abs(weight))) if len(weight) else 1.0,
            int(ids[0]) if len(ids) == 1 else 1,
        )
    ]


def _events(
    events: ak.Array, weight: np.ndarray, names: list[str], default_proc: int
) -> Iterator[pylhe.LHEEvent]:
    """pylhe events built lazily, a block of events at a time, from ``events``."""
    block = 4096
    for start in range(0, len(events), block):
        stop = start + block
        yield from _block_events(events[start:stop], weight[start:stop], names, default_proc)


def _block_events(
    events: ak.Array, weight: np.ndarray, names: list[str], default_proc: int
) -> Iterator[pylhe.LHEEvent]:
    particles = events.particles
    fields = set(ak.fields(particles))
    counts = ak.to_numpy(ak.num(particles, axis=1))
    offsets = np.concatenate([[0], np.cumsum(counts)]).tolist()
    n_flat = int(offsets[-1])

    def flat(values: Any) -> np.ndarray:
        return np.asarray(ak.to_numpy(ak.flatten(values, axis=1)))

    p4 = particles.p4
    px, py, pz, e = (flat(getattr(p4, c)).astype(np.float64) for c in ("px", "py", "pz", "E"))
    if "mass" in fields:
        mass = flat(particles.mass).astype(np.float64)
    else:
        # E^2 - p^2 cancels digits: 9 significant digits are all a light particle's mass has.
        computed = np.sqrt(np.maximum(e**2 - px**2 - py**2 - pz**2, 0.0)).tolist()
        mass = np.array([float(f"{m:.9g}") for m in computed])

    def column(name: str, default: float, dtype: type) -> list[Any]:
        values = flat(particles[name]) if name in fields else np.full(n_flat, default)
        return values.astype(dtype).tolist()

    ints = [column(k, 0, np.int64) for k in ("pid", "status", "mother1", "mother2")]
    ints += [column(k, 0, np.int64) for k in ("color1", "color2")]
    floats = [a.tolist() for a in (px, py, pz, e, mass)]
    floats += [column("lifetime", 0.0, np.float64), column("spin", 9.0, np.float64)]
    top = set(ak.fields(events))
    proc = _column_or(events, top, "process_id", default_proc, np.int64)
    scale, aqed, aqcd = (_column_or(events, top, k, -1.0, np.float64) for k in EVENT_FIELDS[1:])
    named = [ak.to_numpy(events.weights[n]).astype(np.float64).tolist() for n in names]
    w = weight.tolist()
    for i in range(len(counts)):
        a, b = offsets[i], offsets[i + 1]
        yield pylhe.LHEEvent(
            eventinfo=pylhe.LHEEventInfo(b - a, proc[i], w[i], scale[i], aqed[i], aqcd[i]),
            particles=[
                pylhe.LHEParticle(*(c[j] for c in ints), *(c[j] for c in floats))
                for j in range(a, b)
            ],
            weights={n: _Exact(v[i]) for n, v in zip(names, named, strict=True)},
        )


def _column_or(
    events: ak.Array, top: set[str], name: str, default: float, dtype: type
) -> list[Any]:
    values = ak.to_numpy(events[name]) if name in top else np.full(len(events), default)
    return np.asarray(values).astype(dtype).tolist()
