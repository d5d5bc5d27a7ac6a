"""A one-look summary of an event file: what ``latentsym inspect`` prints."""

from __future__ import annotations

import os
import time
from typing import Any

import awkward as ak
import numpy as np

from latentsym.io.read import read_events
from latentsym.physics.pdg import name_of
from latentsym.physics.selection import final_state_counts, select_final_state

__all__ = ["describe", "format_description"]


def _range(values: np.ndarray) -> list[float]:
    return [float(np.min(values)), float(np.max(values))] if len(values) else [0.0, 0.0]


def describe(
    path: str | os.PathLike[str], *, max_events: int | None = None, **options: Any
) -> dict[str, Any]:
    """Read a file and summarise it as a JSON-serialisable dictionary.

    Keys: ``path``, ``format``, ``n_events``, ``read_s``, ``beams`` (names), ``beam_pids``,
    ``beam_energies``, ``sqrt_s``, ``cross_section_pb``, ``cross_section_error_pb``,
    ``generators``, ``weights`` (``n_named``, ``names``, ``sum``, ``n_negative``),
    ``final_states`` (list of ``particles`` (names), ``pids``, ``count``, most common
    first) and ``kinematics``: for the most common final state, per particle (in the
    order of :func:`select_final_state`) the ranges of E, pT, eta and phi.

    Example:
        >>> d = describe(SAMPLES / "ee_mumu_91GeV.lhe.gz", max_events=500)
        >>> d["format"], d["n_events"], d["sqrt_s"], d["beams"]
        ('lhe.gz', 500, 91.2, ['e-', 'e+'])
        >>> d["final_states"]
        [{'particles': ['mu+', 'mu-'], 'pids': [-13, 13], 'count': 500}]
        >>> d["kinematics"][0]["particle"], d["kinematics"][0]["E"]
        ('mu+', [45.6, 45.6])
    """
    t0 = time.perf_counter()
    events, info = read_events(path, max_events=max_events, **options)
    read_s = time.perf_counter() - t0
    weight = ak.to_numpy(events.weight)
    counts = final_state_counts(events)
    kinematics: list[dict[str, Any]] = []
    if counts and counts[0][0]:
        fs = select_final_state(events, list(counts[0][0]))
        p4 = fs.p4
        for i, name in enumerate(fs.names):
            pi = p4[:, i]
            kinematics.append(
                {
                    "particle": name,
                    "E": _range(ak.to_numpy(pi.E)),
                    "pt": _range(ak.to_numpy(pi.pt)),
                    "eta": _range(ak.to_numpy(pi.eta)),
                    "phi": _range(ak.to_numpy(pi.phi)),
                }
            )
    return {
        "path": str(path),
        "format": info.format,
        "tree": info.tree,
        "layout": info.layout,
        "n_events": len(events),
        "read_s": round(read_s, 4),
        "beams": [name_of(b) for b in info.beams] if info.beams else None,
        "beam_pids": list(info.beams) if info.beams else None,
        "beam_energies": list(info.beam_energies) if info.beam_energies else None,
        "sqrt_s": info.sqrt_s,
        "cross_section_pb": info.cross_section_pb,
        "cross_section_error_pb": info.cross_section_error_pb,
        "generators": list(info.generators),
        "weights": {
            "n_named": len(info.weight_names),
            "names": list(info.weight_names),
            "sum": float(np.sum(weight)),
            "n_negative": int(np.sum(weight < 0)),
        },
        "final_states": [
            {"particles": [name_of(p) for p in pids], "pids": list(pids), "count": int(n)}
            for pids, n in counts
        ],
        "kinematics": kinematics,
    }


def format_description(d: dict[str, Any], *, max_final_states: int = 10) -> str:
    """Human-readable text of a :func:`describe` dictionary.

    Example:
        The table's columns are wider in the real output.

        >>> d = describe(SAMPLES / "ee_mumu_91GeV.lhe.gz", max_events=500)
        >>> print(format_description(d))
        /...samples/ee_mumu_91GeV.lhe.gz
          format        lhe.gz
          events        500  (read in ... s)
          beams         e- e+  (45.6 + 45.6 GeV)
          sqrt(s)       91.2 GeV
          cross-section 1998.11 +- 9.917e-06 pb
          generators    Pythia 8.317
          weights       0 named; sum 500; 0 negative
          final states
                 500  mu+ mu-
          kinematics of the most common final state (min .. max)
            particle         E [GeV]          pT [GeV]          eta            phi
            mu+        45.6 .. 45.6     2.387 .. 45.6    -3.64 .. 3.08   -3.141 .. 3.082
            mu-        45.6 .. 45.6     2.387 .. 45.6    -3.08 .. 3.64   -3.127 .. 3.140
    """
    lines = [f"{d['path']}"]
    where = f" (tree {d['tree']!r}, layout {d['layout']})" if d.get("tree") else ""
    lines.append(f"  format        {d['format']}{where}")
    lines.append(f"  events        {d['n_events']}  (read in {d['read_s']:.2f} s)")
    if d["beams"]:
        energies = " + ".join(f"{e:g}" for e in d["beam_energies"] or [])
        lines.append(f"  beams         {' '.join(d['beams'])}  ({energies} GeV)")
    else:
        lines.append("  beams         not given by the file")
    lines.append(
        f"  sqrt(s)       {d['sqrt_s']:g} GeV" if d["sqrt_s"] else "  sqrt(s)       unknown"
    )
    if d["cross_section_pb"] is not None:
        err = d.get("cross_section_error_pb")
        err_txt = f" +- {err:.4g}" if err else ""
        lines.append(f"  cross-section {d['cross_section_pb']:.6g}{err_txt} pb")
    else:
        lines.append("  cross-section not given by the file")
    if d["generators"]:
        lines.append(f"  generators    {', '.join(d['generators'])}")
    w = d["weights"]
    lines.append(
        f"  weights       {w['n_named']} named; sum {w['sum']:.6g}; {w['n_negative']} negative"
    )
    lines.append("  final states")
    fss = d["final_states"]
    for fs in fss[:max_final_states]:
        names = " ".join(fs["particles"]) or "(no outgoing particles)"
        lines.append(f"    {fs['count']:>8}  {names}")
    if len(fss) > max_final_states:
        rest = sum(fs["count"] for fs in fss[max_final_states:])
        lines.append(f"    {rest:>8}  in {len(fss) - max_final_states} other final states")
    if d["kinematics"]:
        lines.append("  kinematics of the most common final state (min .. max)")
        lines.append(
            f"    {'particle':<10} {'E [GeV]':>21} {'pT [GeV]':>21} {'eta':>17} {'phi':>15}"
        )
        for k in d["kinematics"]:
            lines.append(
                f"    {k['particle']:<10} {k['E'][0]:>9.4g} .. {k['E'][1]:<9.4g}"
                f" {k['pt'][0]:>9.4g} .. {k['pt'][1]:<9.4g}"
                f" {k['eta'][0]:>7.3g} .. {k['eta'][1]:<7.3g}"
                f" {k['phi'][0]:>6.3f} .. {k['phi'][1]:<6.3f}"
            )
    return "\n".join(lines)
