"""ROOT files through uproot: common branch layouts in, the latentsym layout out.

Layouts (``layout=``; detected from the branch names when unambiguous):

- ``latentsym``: what :func:`write_root` writes: jagged ``particle_px, particle_py,
  particle_pz, particle_E, particle_pid, particle_status`` (+ further ``particle_*``
  fields), ``weight``, named weights ``weight_<i>`` and the run information as JSON in a
  ``latentsym_run_info`` string. Round trips are lossless.
- ``flat``: one branch per particle and component, ``E1, px1, py1, pz1, E2, ...`` (CMS
  dimuon ntuples). The PDG id comes from ``pid<i>`` or ``pdgId<i>`` when present, else from
  the charge ``Q<i>`` and ``flavour`` (default ``"mu"``: charge -1 -> 13, +1 -> -13).
- ``jagged``: collections ``<C>_Px, <C>_Py, <C>_Pz, <C>_E`` (+ ``<C>_Charge``), e.g. ``Muon``,
  ``Electron``, ``Jet``, ``Photon``; ``collections=`` picks them (default: all found). PDG
  ids: Muon -> ∓13, Electron -> ∓11 by charge, Photon -> 22, Jet and unknown -> 0 (no id).
  ``EventWeight`` or ``weight``, when present, is the event weight.
- ``edm4hep``: FCC/EDM4hep-style ``MC_px, MC_py, MC_pz, MC_e, MC_pdg, MC_status`` (truth,
  the default collection ``MC``) and ``RP_px, ..., RP_e, RP_charge`` (reconstructed,
  ``collections=["RP"]``). Generator status 1 -> 1 (final state), 4 (beam) -> -1, any
  other -> 2 (intermediate). Reconstructed particles have status 1 and PDG id 0 (unknown);
  their charge is kept in ``particles.charge``.
- ``nanoaod``: ``GenPart_pt, GenPart_eta, GenPart_phi, GenPart_mass, GenPart_pdgId,
  GenPart_status`` (+ ``Generator_weight``); status 1 -> 1, any other -> 2.
- ``mapping``: ``branches={"px": ..., "py": ..., "pz": ..., "E": ..., "pid": ...,
  "status": ..., "weight": ...}`` names the (jagged) branches of any other layout; ``pid``,
  ``status`` and ``weight`` are optional.

TTrees and RNTuples are read alike.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot
import vector

from latentsym.errors import ConfigError, EventFileError, OutputError, SchemaError
from latentsym.io.schema import EventFile, RunInfo, make_events
from latentsym.physics.pdg import pid_of

__all__ = ["LAYOUTS", "iterate_root", "read_root", "write_root"]

LAYOUTS = ("latentsym", "flat", "jagged", "edm4hep", "nanoaod", "mapping")
_RUN_INFO_KEY = "latentsym_run_info"
_COLLECTION_PIDS = {"muon": 13, "electron": 11, "tau": 15, "photon": 22}
_FLAVOURS = {"mu": 13, "e": 11, "tau": 15}


def _open(path: str | os.PathLike[str]) -> Any:
    try:
        return uproot.open(path)
    except Exception as exc:
        raise EventFileError(f"{path}: cannot be opened as a ROOT file ({exc})") from exc


def _trees(f: Any) -> dict[str, str]:
    return {
        k.split(";")[0]: c
        for k, c in f.classnames().items()
        if c == "TTree" or c.endswith("RNTuple")
    }


def _get_tree(path: str | os.PathLike[str], f: Any, tree: str | None) -> tuple[str, Any]:
    trees = _trees(f)
    if tree is None:
        if not trees:
            keys = ", ".join(f.keys()) or "nothing"
            raise EventFileError(
                f"{path}: contains no TTree or RNTuple (keys: {keys}). Give a file with event data."
            )
        if len(trees) > 1:
            raise EventFileError(
                f"{path}: holds several trees ({', '.join(sorted(trees))}); choose one with "
                "tree=... (--tree on the command line)"
            )
        tree = next(iter(trees))
    if tree not in trees:
        raise EventFileError(
            f"{path}: no tree {tree!r}; trees in the file: {', '.join(sorted(trees)) or 'none'}"
        )
    obj = f[tree]
    if obj.num_entries == 0:
        raise EventFileError(f"{path}: tree {tree!r} has no entries. Give a file with events.")
    return tree, obj


def _keys(obj: Any) -> list[str]:
    return [str(k) for k in obj.keys()]  # noqa: SIM118 (uproot objects iterate over branches)


def _collections_with(keys: Sequence[str], comps: Sequence[str]) -> list[str]:
    found = []
    for k in keys:
        m = re.fullmatch(rf"(\w+?)_{comps[0]}", k)
        if m and all(f"{m.group(1)}_{c}" in keys for c in comps[1:]):
            found.append(m.group(1))
    return found


def _flat_indices(keys: Sequence[str]) -> list[str]:
    idx = [m.group(1) for k in keys if (m := re.fullmatch(r"px(\d+)", k))]
    return [i for i in idx if all(f"{c}{i}" in keys for c in ("E", "py", "pz"))]


def _detect(path: str | os.PathLike[str], keys: Sequence[str], tree: str) -> str:
    found = []
    if "particle_px" in keys:
        found.append("latentsym")
    if _collections_with(keys, ("px", "py", "pz", "e")) and ("MC_pdg" in keys or "RP_px" in keys):
        found.append("edm4hep")
    if "GenPart_pt" in keys:
        found.append("nanoaod")
    if _flat_indices(keys):
        found.append("flat")
    if _collections_with(keys, ("Px", "Py", "Pz", "E")):
        found.append("jagged")
    if not found:
        raise EventFileError(
            f"{path}: tree {tree!r}: no known branch layout among its branches "
            f"({_listing(keys)}). Name the branches with layout='mapping', "
            "branches={'px': ..., 'py': ..., 'pz': ..., 'E': ..., 'pid': ...}"
        )
    if len(found) > 1:
        raise EventFileError(
            f"{path}: tree {tree!r} matches several layouts ({', '.join(found)}); choose one "
            "with layout=... (--layout)"
        )
    return found[0]


def _listing(keys: Sequence[str], n: int = 25) -> str:
    shown = ", ".join(keys[:n])
    return shown + (f", ... ({len(keys)} in all)" if len(keys) > n else "")


def _need(path: Any, tree: str, keys: Sequence[str], wanted: Sequence[str]) -> None:
    missing = [w for w in wanted if w not in keys]
    if missing:
        raise SchemaError(
            f"{path}: tree {tree!r} has no branch {', '.join(map(repr, missing))}; branches "
            f"present: {_listing(keys)}. Choose the layout or branches that match the file."
        )


class _Plan:
    """What to read from a tree and how to turn it into the event schema."""

    def __init__(self, branches: list[str], build: Any) -> None:
        self.branches = branches
        self.build = build


def _plan(
    path: Any,
    tree: str,
    keys: list[str],
    layout: str,
    collections: Sequence[str] | None,
    branches: Mapping[str, str] | None,
    flavour: str,
    f: Any,
) -> _Plan:
    if layout == "latentsym":
        return _plan_latentsym(path, tree, keys, f)
    if layout == "flat":
        return _plan_flat(path, tree, keys, flavour)
    if layout == "jagged":
        return _plan_jagged(path, tree, keys, collections)
    if layout == "edm4hep":
        return _plan_edm4hep(path, tree, keys, collections)
    if layout == "nanoaod":
        return _plan_nanoaod(path, tree, keys)
    if not branches:
        raise ConfigError(
            f"{path}: layout 'mapping' needs branches={{'px': ..., 'py': ..., 'pz': ..., 'E': ...}}"
        )
    return _plan_mapping(path, tree, keys, branches)


def _plan_latentsym(path: Any, tree: str, keys: list[str], f: Any) -> _Plan:
    _need(
        path,
        tree,
        keys,
        ["particle_px", "particle_py", "particle_pz", "particle_E", "particle_pid"],
    )
    info: dict[str, Any] = {}
    if _RUN_INFO_KEY in [k.split(";")[0] for k in f.keys()]:  # noqa: SIM118
        info = json.loads(str(f[_RUN_INFO_KEY]))
    names = list(info.get("weight_names", []))
    part = [k for k in keys if k.startswith("particle_")]
    wkeys = [f"weight_{i}" for i in range(len(names))]
    extra_names = [k for k in part if k[9:] not in ("px", "py", "pz", "E", "pid", "status")]

    def build(a: ak.Array) -> tuple[ak.Array, dict[str, Any]]:
        ev = make_events(
            px=a["particle_px"],
            py=a["particle_py"],
            pz=a["particle_pz"],
            E=a["particle_E"],
            pid=a["particle_pid"],
            status=a["particle_status"] if "particle_status" in a.fields else None,
            weight=ak.to_numpy(a["weight"]) if "weight" in a.fields else None,
            weights={n: ak.to_numpy(a[k]) for n, k in zip(names, wkeys, strict=True)} or None,
            extra={k[9:]: a[k] for k in extra_names},
            source=str(path),
        )
        for k in event_keys:
            ev = ak.with_field(ev, a[k], k[6:])
        return ev, info

    event_keys = [k for k in keys if k.startswith("event_")]
    wanted = part + event_keys + [k for k in ["weight", *wkeys] if k in keys]
    return _Plan(wanted, build)


def _plan_flat(path: Any, tree: str, keys: list[str], flavour: str) -> _Plan:
    idx = _flat_indices(keys)
    if not idx:
        _need(path, tree, keys, ["E1", "px1", "py1", "pz1"])
    if flavour not in _FLAVOURS:
        raise ConfigError(f"unknown flavour {flavour!r}; allowed: {', '.join(_FLAVOURS)}")
    comps = ["E", "px", "py", "pz"]
    wanted = [f"{c}{i}" for i in idx for c in comps]
    pid_src = {}
    for i in idx:
        for cand in (f"pid{i}", f"pdgId{i}", f"Q{i}"):
            if cand in keys:
                pid_src[i] = cand
                wanted.append(cand)
                break

    def build(a: ak.Array) -> tuple[ak.Array, dict[str, Any]]:
        def stack(prefix: str) -> ak.Array:
            cols = [np.asarray(a[f"{prefix}{i}"], dtype=np.float64) for i in idx]
            return ak.from_regular(np.stack(cols, axis=1))

        pids = []
        for i in idx:
            src = pid_src.get(i)
            if src is None:
                pids.append(np.zeros(len(a), dtype=np.int64))
            elif src.startswith("Q"):
                pids.append(-np.sign(np.asarray(a[src])).astype(np.int64) * _FLAVOURS[flavour])
            else:
                pids.append(np.asarray(a[src]).astype(np.int64))
        ev = make_events(
            px=stack("px"),
            py=stack("py"),
            pz=stack("pz"),
            E=stack("E"),
            pid=ak.from_regular(np.stack(pids, axis=1)),
            source=str(path),
        )
        return ev, {}

    return _Plan(wanted, build)


def _plan_jagged(path: Any, tree: str, keys: list[str], collections: Sequence[str] | None) -> _Plan:
    found = _collections_with(keys, ("Px", "Py", "Pz", "E"))
    chosen = list(collections) if collections else found
    for c in chosen:
        if c not in found:
            raise SchemaError(
                f"{path}: tree {tree!r} has no collection {c!r} with {c}_Px/Py/Pz/E; "
                f"collections present: {', '.join(found)}"
            )
    wanted = [f"{c}_{x}" for c in chosen for x in ("Px", "Py", "Pz", "E")]
    wanted += [f"{c}_Charge" for c in chosen if f"{c}_Charge" in keys]
    wkey = next((k for k in ("EventWeight", "weight") if k in keys), None)
    if wkey:
        wanted.append(wkey)

    def build(a: ak.Array) -> tuple[ak.Array, dict[str, Any]]:
        parts = {k: [] for k in ("px", "py", "pz", "E", "pid")}  # type: dict[str, list[Any]]
        for c in chosen:
            for k, b in zip(("px", "py", "pz", "E"), ("Px", "Py", "Pz", "E"), strict=True):
                parts[k].append(ak.values_astype(a[f"{c}_{b}"], np.float64))
            base = _COLLECTION_PIDS.get(c.lower(), 0)
            ones = ak.ones_like(a[f"{c}_Px"], dtype=np.int64)
            if f"{c}_Charge" in a.fields and base in (11, 13, 15):
                pid = -ak.values_astype(np.sign(a[f"{c}_Charge"]), np.int64) * base
            else:
                pid = ones * base
            parts["pid"].append(pid)
        cat = {k: ak.concatenate(v, axis=1) for k, v in parts.items()}
        ev = make_events(**cat, weight=ak.to_numpy(a[wkey]) if wkey else None, source=str(path))
        return ev, {"collections": chosen}

    return _Plan(wanted, build)


def _plan_edm4hep(
    path: Any, tree: str, keys: list[str], collections: Sequence[str] | None
) -> _Plan:
    chosen = list(collections) if collections else ["MC"]
    if len(chosen) != 1 or chosen[0] not in ("MC", "RP"):
        raise ConfigError(
            f"{path}: edm4hep layout reads one collection: 'MC' (truth) or 'RP' (reconstructed)"
        )
    c = chosen[0]
    comps = [f"{c}_{x}" for x in ("px", "py", "pz", "e")]
    extra = [f"{c}_pdg", f"{c}_status"] if c == "MC" else [f"{c}_charge"]
    _need(path, tree, keys, comps + extra)

    def build(a: ak.Array) -> tuple[ak.Array, dict[str, Any]]:
        px, py, pz, e = (a[k] for k in comps)
        if c == "MC":
            st = ak.values_astype(a["MC_status"], np.int64)
            status = ak.where(st == 1, 1, ak.where(st == 4, -1, 2))
            pid = ak.values_astype(a["MC_pdg"], np.int64)
            ev = make_events(
                px=px,
                py=py,
                pz=pz,
                E=e,
                pid=pid,
                status=status,
                extra={"generator_status": st},
                source=str(path),
            )
        else:
            ev = make_events(
                px=px,
                py=py,
                pz=pz,
                E=e,
                pid=ak.zeros_like(a["RP_px"], dtype=np.int64),
                extra={"charge": ak.values_astype(a["RP_charge"], np.float64)},
                source=str(path),
            )
        return ev, {"collections": chosen}

    return _Plan(comps + extra, build)


def _plan_nanoaod(path: Any, tree: str, keys: list[str]) -> _Plan:
    comps = [
        "GenPart_pt",
        "GenPart_eta",
        "GenPart_phi",
        "GenPart_mass",
        "GenPart_pdgId",
        "GenPart_status",
    ]
    _need(path, tree, keys, comps)
    wkey = "Generator_weight" if "Generator_weight" in keys else None

    def build(a: ak.Array) -> tuple[ak.Array, dict[str, Any]]:
        v = vector.zip(
            {
                "pt": ak.values_astype(a["GenPart_pt"], np.float64),
                "eta": ak.values_astype(a["GenPart_eta"], np.float64),
                "phi": ak.values_astype(a["GenPart_phi"], np.float64),
                "mass": ak.values_astype(a["GenPart_mass"], np.float64),
            }
        )
        st = ak.values_astype(a["GenPart_status"], np.int64)
        ev = make_events(
            px=v.px,
            py=v.py,
            pz=v.pz,
            E=v.E,
            pid=a["GenPart_pdgId"],
            status=ak.where(st == 1, 1, 2),
            weight=ak.to_numpy(a[wkey]) if wkey else None,
            extra={"generator_status": st},
            source=str(path),
        )
        return ev, {}

    return _Plan(comps + ([wkey] if wkey else []), build)


def _plan_mapping(path: Any, tree: str, keys: list[str], branches: Mapping[str, str]) -> _Plan:
    allowed = {"px", "py", "pz", "E", "pid", "status", "weight"}
    unknown = set(branches) - allowed
    if unknown:
        raise ConfigError(f"branches: unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}")
    for k in ("px", "py", "pz", "E"):
        if k not in branches:
            raise ConfigError(f"branches must name {k!r} (px, py, pz and E are required)")
    _need(path, tree, keys, list(branches.values()))

    def build(a: ak.Array) -> tuple[ak.Array, dict[str, Any]]:
        b = branches
        px = a[b["px"]]
        ev = make_events(
            px=px,
            py=a[b["py"]],
            pz=a[b["pz"]],
            E=a[b["E"]],
            pid=a[b["pid"]] if "pid" in b else ak.zeros_like(px, dtype=np.int64),
            status=a[b["status"]] if "status" in b else None,
            weight=ak.to_numpy(a[b["weight"]]) if "weight" in b else None,
            source=str(path),
        )
        return ev, {}

    return _Plan(list(dict.fromkeys(branches.values())), build)


def _prepare(
    path: Any, tree: str | None, layout: str | None, collections: Any, branches: Any, flavour: str
) -> tuple[Any, str, Any, str, _Plan]:
    f = _open(path)
    name, obj = _get_tree(path, f, tree)
    keys = _keys(obj)
    if layout is None:
        layout = "mapping" if branches else _detect(path, keys, name)
    if layout not in LAYOUTS:
        raise ConfigError(f"unknown layout {layout!r}; allowed: {', '.join(LAYOUTS)}")
    return f, name, obj, layout, _plan(path, name, keys, layout, collections, branches, flavour, f)


def _info(
    path: Any,
    name: str,
    layout: str,
    n: int,
    stored: dict[str, Any],
    sqrt_s: float | None,
    beams: Any,
) -> RunInfo:
    if layout == "latentsym" and stored.get("format"):
        d = dict(stored)
        d.pop("path", None)
        d.pop("n_events", None)
        d.pop("format", None)
        for key in ("beams", "beam_energies", "generators", "weight_names"):
            if d.get(key) is not None:
                d[key] = tuple(d[key])
        d.update({"tree": name, "layout": layout})
        d.setdefault("extra", {})
        d["extra"] = {**d["extra"], "source_format": stored.get("format")}
        return RunInfo(path=str(path), format="root", n_events=n, **d)
    beam_pids = tuple(pid_of(b) if isinstance(b, str) else int(b) for b in beams) if beams else None
    energies = (sqrt_s / 2.0, sqrt_s / 2.0) if sqrt_s else None
    return RunInfo(
        path=str(path),
        format="root",
        n_events=n,
        beams=beam_pids,  # type: ignore[arg-type]
        beam_energies=energies,
        sqrt_s=sqrt_s,
        tree=name,
        layout=layout,
        extra=dict(stored.items()),
    )


def read_root(
    path: str | os.PathLike[str],
    *,
    max_events: int | None = None,
    tree: str | None = None,
    layout: str | None = None,
    collections: Sequence[str] | None = None,
    branches: Mapping[str, str] | None = None,
    flavour: str = "mu",
    sqrt_s: float | None = None,
    beams: tuple[int | str, int | str] | None = None,
) -> EventFile:
    """Read a ROOT TTree or RNTuple into the latentsym event schema.

    Args:
        path: the ROOT file.
        max_events: read at most this many entries.
        tree: the tree or RNTuple (default: the only one in the file).
        layout: one of :data:`LAYOUTS` (default: detected from the branch names).
        collections: ``jagged``: collections to read (default all); ``edm4hep``: ``["MC"]``
            (truth, default) or ``["RP"]`` (reconstructed).
        branches: ``mapping`` layout: schema field -> branch name.
        flavour: ``flat`` layout: lepton flavour for PDG ids from charges (mu, e, tau).
        sqrt_s: centre-of-mass energy in GeV, when the file does not carry it.
        beams: the beam particles, e.g. ``("e+", "e-")`` or ``(2212, 2212)``.

    Example:
        >>> events, info = read_root("Zmumu.root")  # doctest: +SKIP
        >>> (events.particles.p4[:, 0] + events.particles.p4[:, 1]).mass  # doctest: +SKIP
    """
    _, name, obj, layout_, plan = _prepare(path, tree, layout, collections, branches, flavour)
    a = obj.arrays(plan.branches, entry_stop=max_events)
    events, stored = plan.build(a)
    return EventFile(events, _info(path, name, layout_, len(events), stored, sqrt_s, beams))


def iterate_root(
    path: str | os.PathLike[str],
    *,
    step_size: int,
    max_events: int | None = None,
    tree: str | None = None,
    layout: str | None = None,
    collections: Sequence[str] | None = None,
    branches: Mapping[str, str] | None = None,
    flavour: str = "mu",
    sqrt_s: float | None = None,
    beams: tuple[int | str, int | str] | None = None,
) -> Iterator[EventFile]:
    """Read a ROOT file in chunks of ``step_size`` entries (see :func:`read_root`).

    ``info.extra["first_event"]`` is the entry number of each chunk's first event.
    """
    _, name, obj, layout_, plan = _prepare(path, tree, layout, collections, branches, flavour)
    stop = obj.num_entries if max_events is None else min(obj.num_entries, int(max_events))
    for start in range(0, stop, int(step_size)):
        a = obj.arrays(
            plan.branches, entry_start=start, entry_stop=min(start + int(step_size), stop)
        )
        events, stored = plan.build(a)
        info = _info(path, name, layout_, len(events), stored, sqrt_s, beams)
        info.extra["first_event"] = start
        yield EventFile(events, info)


def _is_numeric(values: ak.Array) -> bool:
    """True for a flat or one-level jagged array of numbers (what a TTree branch holds)."""
    return (
        re.fullmatch(r"(\d+ \* )?(var \* )?(u?int\d+|float\d+|bool)", str(ak.type(values)))
        is not None
    )


def _branch_arrays(events: ak.Array, info: RunInfo | None) -> tuple[dict[str, Any], dict[str, Any]]:
    parts = events.particles
    p4 = parts.p4
    fields: dict[str, Any] = {
        "px": ak.values_astype(p4.px, np.float64),
        "py": ak.values_astype(p4.py, np.float64),
        "pz": ak.values_astype(p4.pz, np.float64),
        "E": ak.values_astype(p4.E, np.float64),
        "pid": parts.pid,
        "status": parts.status,
    }
    for k in ak.fields(parts):
        if k not in ("p4", "pid", "status") and _is_numeric(parts[k]):
            fields[k] = parts[k]
    out: dict[str, Any] = {"particle": ak.zip(fields), "weight": ak.to_numpy(events.weight)}
    for k in ak.fields(events):
        if k not in ("particles", "weight", "weights") and _is_numeric(events[k]):
            out[f"event_{k}"] = ak.to_numpy(events[k])
    names: list[str] = []
    if "weights" in ak.fields(events):
        names = list(ak.fields(events.weights))
        for i, n in enumerate(names):
            out[f"weight_{i}"] = ak.to_numpy(events.weights[n])
    meta = info.to_dict() if info is not None else {}
    meta["weight_names"] = names
    return out, meta


def write_root(
    events: ak.Array,
    path: str | os.PathLike[str],
    info: RunInfo | None = None,
    *,
    tree: str = "events",
    overwrite: bool = False,
) -> Path:
    """Write events to a ROOT TTree in the ``latentsym`` layout (lossless round trip).

    The file is written to a temporary file in the same folder and moved into place.

    Raises:
        OutputError: when ``path`` exists and ``overwrite`` is False.

    Example:
        >>> write_root(events, "out.root", info)  # doctest: +SKIP
    """
    target = Path(path)
    if target.exists() and not overwrite:
        raise OutputError(f"{target}: exists; pass overwrite=True to replace it")
    branches, meta = _branch_arrays(events, info)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        with uproot.recreate(tmp) as f:
            f.mktree(
                tree,
                {k: v.type if isinstance(v, ak.Array) else v.dtype for k, v in branches.items()},
            )
            f[tree].extend(branches)
            f[_RUN_INFO_KEY] = json.dumps(meta)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
