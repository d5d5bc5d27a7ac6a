"""Generate the bundled event samples with Pythia 8 (hard process only).

Each sample is written twice, as gzipped LHE (``NAME.lhe.gz``) and as a ROOT TTree
(``NAME.root``), through :func:`latentsym.io.write_lhe` and :func:`latentsym.io.write_root`,
and its provenance (settings, seed, cross-section, sizes, timings) goes to
``manifest.json`` in the output folder.

Parton shower, multiparton interactions and hadronisation are off, so the events are the
hard process of ``pythia.process``: beam-remnant free, with exact four-momentum
conservation between the two incoming partons (status -1) and the final state (status 1).

Usage::

    .venv/bin/python samples/generate.py [--out samples] [--events N] [--only NAME]

Needs ``pythia8mc==8.317.2`` (``pip install 'latentsym[pythia]'``); it runs offline.

Example:
    >>> from generate import SAMPLES, generate  # doctest: +SKIP
    >>> events, meta = generate(SAMPLES["ee_mumu_91GeV"], n_events=100)  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from latentsym.io import RunInfo, make_events, write_lhe, write_root

__all__ = [
    "COMMON_SETTINGS",
    "SAMPLES",
    "SampleMeta",
    "SampleSpec",
    "generate",
    "main",
    "pythia_settings",
    "write_sample",
]

COMMON_SETTINGS: tuple[str, ...] = (
    "PartonLevel:all = off",
    "HadronLevel:all = off",
    "Print:quiet = on",
)
"""Settings used for every sample: hard process only, no printout."""

_MB_TO_PB = 1e9
_MAX_FAILED_NEXT = 10


@dataclass(frozen=True)
class SampleSpec:
    """One bundled sample.

    Attributes:
        name: file stem (``NAME.lhe.gz``, ``NAME.root``).
        process: the physics process in words.
        settings: the process-specific Pythia settings (beams, process, decays, cuts).
        seed: the Pythia random seed (``Random:seed``).
        n_events: default number of events.
    """

    name: str
    process: str
    settings: tuple[str, ...]
    seed: int
    n_events: int = 20_000


@dataclass(frozen=True)
class SampleMeta:
    """Run-level results of one generation.

    Attributes:
        beams: PDG ids of the two beams.
        beam_energies: beam energies in GeV.
        sqrt_s: centre-of-mass energy in GeV.
        cross_section_pb: ``pythia.info.sigmaGen()`` after generation, in pb.
        cross_section_error_pb: ``pythia.info.sigmaErr()`` after generation, in pb.
        generator: ``"Pythia 8.317"``.
        n_events: number of events generated.
        seconds: wall time of the event loop (initialisation excluded), in s.
        init_seconds: wall time of ``pythia.init()``, in s.
    """

    beams: tuple[int, int]
    beam_energies: tuple[float, float]
    sqrt_s: float
    cross_section_pb: float
    cross_section_error_pb: float
    generator: str
    n_events: int
    seconds: float
    init_seconds: float


SAMPLES: dict[str, SampleSpec] = {
    spec.name: spec
    for spec in (
        SampleSpec(
            name="ee_mumu_91GeV",
            process="e+ e- -> Z/gamma* -> mu+ mu- at sqrt(s) = 91.2 GeV, no ISR",
            settings=(
                "Beams:idA = 11",
                "Beams:idB = -11",
                "Beams:eCM = 91.2",
                "PDF:lepton = off",
                "WeakSingleBoson:ffbar2gmZ = on",
                "23:onMode = off",
                "23:onIfAny = 13",
            ),
            seed=9101,
        ),
        SampleSpec(
            name="ee_tautau_91GeV",
            process="e+ e- -> Z/gamma* -> tau+ tau- at sqrt(s) = 91.2 GeV, no ISR, taus undecayed",
            settings=(
                "Beams:idA = 11",
                "Beams:idB = -11",
                "Beams:eCM = 91.2",
                "PDF:lepton = off",
                "WeakSingleBoson:ffbar2gmZ = on",
                "23:onMode = off",
                "23:onIfAny = 15",
            ),
            seed=9115,
        ),
        SampleSpec(
            name="ee_bb_91GeV",
            process="e+ e- -> Z/gamma* -> b b~ at sqrt(s) = 91.2 GeV, no ISR, no shower",
            settings=(
                "Beams:idA = 11",
                "Beams:idB = -11",
                "Beams:eCM = 91.2",
                "PDF:lepton = off",
                "WeakSingleBoson:ffbar2gmZ = on",
                "23:onMode = off",
                "23:onIfAny = 5",
            ),
            seed=9105,
        ),
        SampleSpec(
            name="pp_mumu_13TeV",
            process="p p -> Z/gamma* -> mu+ mu- at sqrt(s) = 13 TeV, 60 < m(mu mu) < 120 GeV",
            settings=(
                "Beams:idA = 2212",
                "Beams:idB = 2212",
                "Beams:eCM = 13000",
                "WeakSingleBoson:ffbar2gmZ = on",
                "23:onMode = off",
                "23:onIfAny = 13",
                "PhaseSpace:mHatMin = 60",
                "PhaseSpace:mHatMax = 120",
            ),
            seed=13000,
        ),
        SampleSpec(
            name="ee_ZH_250GeV",
            process=(
                "e+ e- -> Z H at sqrt(s) = 250 GeV, Z -> mu+ mu-, H -> b b~ (4 bodies), no ISR"
            ),
            settings=(
                "Beams:idA = 11",
                "Beams:idB = -11",
                "Beams:eCM = 250",
                "PDF:lepton = off",
                "HiggsSM:ffbar2HZ = on",
                "23:onMode = off",
                "23:onIfAny = 13",
                "25:onMode = off",
                "25:onIfAny = 5",
            ),
            seed=25000,
        ),
    )
}
"""The bundled samples by name."""


def pythia_settings(spec: SampleSpec) -> list[str]:
    """All Pythia settings of a sample, in the order they are read.

    Example:
        >>> pythia_settings(SAMPLES["ee_mumu_91GeV"])[-2:]
        ['Random:setSeed = on', 'Random:seed = 9101']
    """
    return [*spec.settings, *COMMON_SETTINGS, "Random:setSeed = on", f"Random:seed = {spec.seed}"]


def _init_pythia(spec: SampleSpec) -> Any:
    import pythia8mc  # optional dependency: latentsym[pythia]

    pythia = pythia8mc.Pythia("", False)
    for setting in pythia_settings(spec):
        if not pythia.readString(setting):
            raise ValueError(f"{spec.name}: Pythia does not accept the setting {setting!r}")
    if not pythia.init():
        raise RuntimeError(
            f"{spec.name}: pythia.init() failed with settings {pythia_settings(spec)}; "
            "rerun with 'Print:quiet = off' to see Pythia's message."
        )
    return pythia


def _status(index: int, particle: Any) -> int:
    if particle.isFinal():
        return 1
    if index in (3, 4):
        return -1
    return 2


def _lhe_mother(index: int) -> int:
    # Entries 0 (system), 1 and 2 (beams) are not written; entry 3 becomes LHE particle 1.
    return index - 2 if index >= 3 else 0


def generate(spec: SampleSpec, n_events: int | None = None) -> tuple[ak.Array, SampleMeta]:
    """Generate a sample and return it in the latentsym event schema.

    The particles of each event are entries 3 onwards of ``pythia.process``: the two
    incoming partons (status -1), intermediate resonances (status 2) and the final state
    (status 1), with LHE-style 1-based ``mother1``/``mother2`` (0: none) and colour tags
    ``color1``/``color2`` and the generator's ``mass`` (GeV).

    Args:
        spec: the sample.
        n_events: number of events (default ``spec.n_events``).

    Returns:
        ``(events, meta)``: an awkward array of ``n_events`` events (momenta in GeV,
        weight ``pythia.info.weight()``) and the run-level :class:`SampleMeta`.

    Raises:
        ValueError: when Pythia rejects a setting.
        RuntimeError: when ``pythia.init()`` fails or ``pythia.next()`` fails repeatedly.

    Example:
        >>> events, meta = generate(SAMPLES["ee_mumu_91GeV"], n_events=10)  # doctest: +SKIP
        >>> meta.sqrt_s  # doctest: +SKIP
        91.2
    """
    n = spec.n_events if n_events is None else int(n_events)
    if n < 1:
        raise ValueError(f"{spec.name}: n_events must be a positive number, got {n}")
    t0 = time.perf_counter()
    pythia = _init_pythia(spec)
    t1 = time.perf_counter()
    rows: list[tuple[float, ...]] = []
    counts = np.zeros(n, dtype=np.int64)
    weights = np.zeros(n, dtype=np.float64)
    for iev in range(n):
        failed = 0
        while not pythia.next():
            failed += 1
            if failed >= _MAX_FAILED_NEXT:
                raise RuntimeError(
                    f"{spec.name}: pythia.next() failed {failed} times in a row at event {iev}"
                )
        record = pythia.process
        size = record.size()
        for i in range(3, size):
            q = record[i]
            rows.append(
                (
                    q.px(),
                    q.py(),
                    q.pz(),
                    q.e(),
                    q.id(),
                    _status(i, q),
                    _lhe_mother(q.mother1()),
                    _lhe_mother(q.mother2()),
                    q.col(),
                    q.acol(),
                    q.m(),
                )
            )
        counts[iev] = size - 3
        # infoPython() returns a snapshot: take a fresh one for each event.
        weights[iev] = pythia.infoPython().weight()
    t2 = time.perf_counter()
    table = np.asarray(rows, dtype=np.float64)

    def jag(col: int, dtype: type) -> ak.Array:
        return ak.unflatten(table[:, col].astype(dtype), counts)

    events = make_events(
        p4={
            "px": jag(0, np.float64),
            "py": jag(1, np.float64),
            "pz": jag(2, np.float64),
            "E": jag(3, np.float64),
        },
        pid=jag(4, np.int64),
        status=jag(5, np.int64),
        weight=weights,
        extra={
            "mother1": jag(6, np.int64),
            "mother2": jag(7, np.int64),
            "color1": jag(8, np.int64),
            "color2": jag(9, np.int64),
            "mass": jag(10, np.float64),
        },
        source=spec.name,
    )
    info = pythia.infoPython()
    version = pythia.settings.parm("Pythia:versionNumber")
    beams = (int(pythia.settings.mode("Beams:idA")), int(pythia.settings.mode("Beams:idB")))
    meta = SampleMeta(
        beams=beams,
        beam_energies=(round(float(info.eA()), 9), round(float(info.eB()), 9)),
        sqrt_s=float(info.eCM()),
        cross_section_pb=float(info.sigmaGen()) * _MB_TO_PB,
        cross_section_error_pb=float(info.sigmaErr()) * _MB_TO_PB,
        generator=f"Pythia {version:.3f}",
        n_events=n,
        seconds=t2 - t1,
        init_seconds=t1 - t0,
    )
    return events, meta


def _run_info(spec: SampleSpec, meta: SampleMeta, path: Path, fmt: str) -> RunInfo:
    return RunInfo(
        path=str(path),
        format=fmt,
        n_events=meta.n_events,
        beams=meta.beams,
        beam_energies=meta.beam_energies,
        sqrt_s=meta.sqrt_s,
        cross_section_pb=meta.cross_section_pb,
        cross_section_error_pb=meta.cross_section_error_pb,
        generators=(meta.generator,),
        extra={
            "sample": spec.name,
            "process": spec.process,
            "seed": spec.seed,
            "pythia_settings": pythia_settings(spec),
        },
    )


def write_sample(spec: SampleSpec, out: Path, n_events: int | None = None) -> dict[str, Any]:
    """Generate one sample and write ``NAME.lhe.gz`` and ``NAME.root`` into ``out``.

    Existing files of the same name are replaced.

    Args:
        spec: the sample.
        out: output folder (created if missing).
        n_events: number of events (default ``spec.n_events``).

    Returns:
        The sample's manifest entry: settings, seed, cross-section, files and their sizes
        in bytes, timings in s.

    Example:
        >>> write_sample(SAMPLES["ee_mumu_91GeV"], Path("/tmp/s"), 100)  # doctest: +SKIP
    """
    out.mkdir(parents=True, exist_ok=True)
    events, meta = generate(spec, n_events)
    lhe_path = out / f"{spec.name}.lhe.gz"
    root_path = out / f"{spec.name}.root"
    t0 = time.perf_counter()
    write_lhe(events, lhe_path, _run_info(spec, meta, lhe_path, "lhe.gz"), overwrite=True)
    t1 = time.perf_counter()
    write_root(events, root_path, _run_info(spec, meta, root_path, "root"), overwrite=True)
    t2 = time.perf_counter()
    return {
        "process": spec.process,
        "generator": meta.generator,
        "pythia_settings": pythia_settings(spec),
        "seed": spec.seed,
        "n_events": meta.n_events,
        "beams": list(meta.beams),
        "beam_energies_GeV": list(meta.beam_energies),
        "sqrt_s_GeV": meta.sqrt_s,
        "cross_section_pb": meta.cross_section_pb,
        "cross_section_error_pb": meta.cross_section_error_pb,
        "files": {
            lhe_path.name: lhe_path.stat().st_size,
            root_path.name: root_path.stat().st_size,
        },
        "seconds": {
            "init": round(meta.init_seconds, 3),
            "generate": round(meta.seconds, 3),
            "write_lhe": round(t1 - t0, 3),
            "write_root": round(t2 - t1, 3),
        },
    }


def _write_manifest(out: Path, entries: dict[str, dict[str, Any]]) -> Path:
    path = out / "manifest.json"
    manifest: dict[str, Any] = {}
    if path.exists():
        manifest = json.loads(path.read_text())
    manifest.update(entries)
    fd, tmp = tempfile.mkstemp(dir=out, prefix=".manifest-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump(dict(sorted(manifest.items())), fh, indent=2)
        fh.write("\n")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: generate the samples and write them with their manifest."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent, help="output folder"
    )
    parser.add_argument("--events", type=int, default=None, help="events per sample")
    parser.add_argument(
        "--only", choices=sorted(SAMPLES), action="append", help="generate only this sample"
    )
    args = parser.parse_args(argv)
    if args.events is not None and args.events < 1:
        parser.error(f"--events must be a positive number, got {args.events}")
    names = args.only or list(SAMPLES)
    entries = {}
    for name in names:
        entry = write_sample(SAMPLES[name], args.out, args.events)
        entries[name] = entry
        sizes = ", ".join(f"{f} {b / 1e6:.2f} MB" for f, b in entry["files"].items())
        print(
            f"{name}: {entry['n_events']} events, sigma = {entry['cross_section_pb']:.6g} "
            f"+- {entry['cross_section_error_pb']:.2g} pb; times {entry['seconds']} s; {sizes}"
        )
    print(f"manifest: {_write_manifest(args.out, entries)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
