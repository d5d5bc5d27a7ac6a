"""Branch layouts of ROOT event files: detection and the recipe that turns branches into events.

Each layout gives a :class:`Plan`: the branches to read, the branches that must hold finite
numbers (momenta and weights), and a ``build`` function from the arrays read to an event
array in the latentsym schema (see :mod:`latentsym.io.schema`). :mod:`latentsym.io.root`
documents the layouts for users; this module holds their mechanics.

Example:
    >>> detect_layouts(["E1", "px1", "py1", "pz1", "Q1"])
    ['flat']
    >>> detect_layouts(["lep0_PX", "lep0_PY", "lep0_PZ", "lep0_E", "lep0_PID"])
    ['flat']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import awkward as ak
import numpy as np
import vector

from latentsym.errors import ConfigError, EventFileError, SchemaError
from latentsym.io._root_names import MOMENTUM, Family, check_mapping, families
from latentsym.io.schema import make_events

__all__ = [
    "COLLECTION_PIDS",
    "FLAVOURS",
    "LAYOUTS",
    "NANOAOD_ETA_ALONG_BEAM",
    "Plan",
    "detect_layouts",
    "listing",
    "make_plan",
]

LAYOUTS = ("latentsym", "flat", "jagged", "edm4hep", "nanoaod", "mapping")
#: jagged layout: |PDG id| per collection name (lower case); the sign comes from the charge.
COLLECTION_PIDS = {"muon": 13, "electron": 11, "tau": 15, "photon": 22}
#: flat layout: |PDG id| of the charged lepton named by ``flavour``.
FLAVOURS = {"mu": 13, "e": 11, "tau": 15}
#: nanoaod: |eta| above this with pt = 0 marks a particle along the beam axis (ROOT writes
#: eta = ±(22756 + |pz|) there), whose pz cannot be recovered.
NANOAOD_ETA_ALONG_BEAM = 700.0

Build = Callable[[ak.Array, str], tuple[ak.Array, dict[str, Any]]]


@dataclass(frozen=True)
class Plan:
    """What to read from a tree and how to turn it into events.

    Attributes:
        branches: branch (or RNTuple field) names to read.
        finite: the branches among them that must hold finite numbers within the float32
            range (momenta, weights).
        build: ``build(arrays, source) -> (events, info_extra)``.
        integral: the branches that must hold whole numbers (PDG ids, statuses, charges:
            a NaN or 1.5 there would become a silent integer).
    """

    branches: list[str]
    finite: list[str]
    build: Build
    integral: list[str] = field(default_factory=list)


def listing(keys: Sequence[str], n: int = 20) -> str:
    """The first ``n`` names, comma-separated, with the total when there are more."""
    shown = ", ".join(keys[:n])
    return shown + (f", ... ({len(keys)} in all)" if len(keys) > n else "")


def _collections_with(keys: Sequence[str], comps: Sequence[str]) -> list[str]:
    have = set(keys)
    found = []
    for k in keys:
        m = re.fullmatch(rf"(\w+?)_{comps[0]}", k)
        if m and all(f"{m.group(1)}_{c}" in have for c in comps[1:]):
            found.append(m.group(1))
    return found


def _edm4hep_collections(keys: Sequence[str]) -> list[str]:
    return _collections_with(keys, ("px", "py", "pz", "e"))


def detect_layouts(keys: Sequence[str], scalars: Collection[str] | None = None) -> list[str]:
    """The layouts whose characteristic branches are all among ``keys``.

    ``scalars``, the names of the branches holding one number per entry (None: unknown),
    keeps the flat layout to scalar branches and the others to jagged ones.
    """
    found = []
    jagged = list(keys) if scalars is None else [k for k in keys if k not in scalars]
    if "particle_px" in jagged:
        found.append("latentsym")
    if families(keys, scalars):
        found.append("flat")
    if _collections_with(jagged, ("Px", "Py", "Pz", "E")):
        found.append("jagged")
    if _edm4hep_collections(jagged):
        found.append("edm4hep")
    if "GenPart_pt" in jagged:
        found.append("nanoaod")
    return found


def _need(where: str, keys: Sequence[str], wanted: Sequence[str], fix: str) -> None:
    have = set(keys)
    missing = [w for w in wanted if w not in have]
    if missing:
        raise SchemaError(
            f"{where}: no branch {', '.join(map(repr, missing))}; branches present: "
            f"{listing(keys)}. {fix}"
        )


def _f64(a: Any) -> ak.Array:
    return ak.values_astype(a, np.float64)


def _i64(a: Any) -> ak.Array:
    return ak.values_astype(a, np.int64)


def _column(a: ak.Array, name: str, dtype: Any = np.float64) -> np.ndarray:
    """One scalar branch as a numpy array (whole numbers rounded first: 3.9999999 -> 4)."""
    values = ak.to_numpy(a[name])
    if np.dtype(dtype).kind == "i" and values.dtype.kind == "f":
        values = np.rint(values)
    return values.astype(dtype)


def _stack(a: ak.Array, names: Sequence[str], dtype: Any = np.float64) -> ak.Array:
    """Scalar branches, one per particle, as a jagged ``[N, len(names)]`` array."""
    cols = [_column(a, n, dtype) for n in names]
    return ak.from_regular(np.stack(cols, axis=1))


def _pid_from_charge(charge: Any, abs_pid: int) -> Any:
    """Charged leptons: charge -1 -> +abs_pid (particle), +1 -> -abs_pid (antiparticle)."""
    if isinstance(charge, ak.Array):
        return -_i64(np.sign(charge)) * abs_pid
    return -np.sign(charge).astype(np.int64) * abs_pid


def make_plan(
    where: str,
    keys: list[str],
    layout: str,
    *,
    collections: Sequence[str] | None,
    branches: Mapping[str, Any] | None,
    flavour: str,
    stored: Mapping[str, Any],
    scalars: Collection[str] | None = None,
) -> Plan:
    """The reading plan for ``layout`` on a tree with branches ``keys``.

    Args:
        where: ``"<file>: tree '<name>'"``, the prefix of error messages.
        keys: the tree's branch names.
        layout: one of :data:`LAYOUTS`.
        collections, branches, flavour: the reader's options (see ``read_root``);
            ``collections`` of the flat layout are object prefixes (``["lep"]``).
        stored: the run information a latentsym file carries (empty otherwise).
        scalars: the branches with one number per entry (None: not known).

    Raises:
        SchemaError: a branch the layout needs is missing (lists the branches present).
        ConfigError: an option does not fit the layout.
    """
    if branches is not None and layout != "mapping":
        raise ConfigError(
            f"{where}: branches=... names the branches of layout 'mapping', but layout "
            f"{layout!r} was chosen. Drop layout=... or branches=..."
        )
    if collections is not None and layout not in ("jagged", "edm4hep", "flat"):
        raise ConfigError(
            f"{where}: collections=... applies to the 'jagged', 'edm4hep' and 'flat' layouts, "
            f"not {layout!r}. Drop it, or choose one of those layouts with layout=..."
        )
    if layout == "latentsym":
        return _plan_latentsym(where, keys, stored)
    if layout == "flat":
        return _plan_flat(where, _flat_families(where, keys, collections, scalars), flavour)
    if layout == "jagged":
        return _plan_jagged(where, keys, collections)
    if layout == "edm4hep":
        return _plan_edm4hep(where, keys, collections)
    if layout == "nanoaod":
        return _plan_nanoaod(where, keys)
    if not branches:
        raise ConfigError(
            f"{where}: layout 'mapping' needs branches={{'px': ..., 'py': ..., 'pz': ..., "
            "'E': ...}} naming the tree's branches (optional: 'pid', 'status', 'weight')"
        )
    return _plan_mapping(where, keys, branches, scalars)


def _plan_latentsym(where: str, keys: list[str], stored: Mapping[str, Any]) -> Plan:
    comps = ["particle_px", "particle_py", "particle_pz", "particle_E"]
    _need(where, keys, [*comps, "particle_pid"], "Is this a file written by write_root?")
    names = [str(n) for n in stored.get("weight_names", [])]
    wbranches = dict(stored.get("weight_branches") or {})
    wkeys = [wbranches.get(n, f"weight_{i}") for i, n in enumerate(names)]
    _need(where, keys, wkeys, "The run information names weight branches the tree lacks.")
    fixed = {"px", "py", "pz", "E", "pid", "status"}
    part = [k for k in keys if k.startswith("particle_")]
    extra_parts = [k for k in part if k.removeprefix("particle_") not in fixed]
    event_keys = [k for k in keys if k.startswith("event_")]
    wanted = part + event_keys + [k for k in ["weight", *wkeys] if k in keys]

    def build(a: ak.Array, source: str) -> tuple[ak.Array, dict[str, Any]]:
        ev = make_events(
            p4={
                "px": a["particle_px"],
                "py": a["particle_py"],
                "pz": a["particle_pz"],
                "E": a["particle_E"],
            },
            pid=a["particle_pid"],
            status=a["particle_status"] if "particle_status" in a.fields else None,
            weight=ak.to_numpy(a["weight"]) if "weight" in a.fields else None,
            weights={n: ak.to_numpy(a[k]) for n, k in zip(names, wkeys, strict=True)} or None,
            extra={k.removeprefix("particle_"): a[k] for k in extra_parts},
            source=source,
        )
        for k in event_keys:
            ev = ak.with_field(ev, a[k], k.removeprefix("event_"))
        return ev, {}

    ids: list[str] = [k for k in ("particle_pid", "particle_status") if k in keys]
    finite = [*comps, *[k for k in ["weight", *wkeys] if k in keys]]
    return Plan(wanted, finite, build, integral=ids)


def _flat_families(
    where: str, keys: list[str], collections: Sequence[str] | None, scalars: Any
) -> list[Family]:
    """The families of flat objects to read: the only one, or those ``collections`` name."""
    found = families(keys, scalars)
    present = "; ".join(f"{f.prefix or '(no prefix)'}: {f.label} ({f.example()})" for f in found)
    if not found:
        raise SchemaError(
            f"{where}: no flat objects among the branches ({listing(keys)}). A flat tree has "
            "one scalar branch per object and component, e.g. E1, px1, py1, pz1 or lep0_PX, "
            "lep0_PY, lep0_PZ, lep0_E; name other branches with branches=... (--branches)."
        )
    if collections:
        chosen = []
        for c in collections:
            match = [f for f in found if f.prefix == c]
            if len(match) != 1:
                raise SchemaError(
                    f"{where}: {'no' if not match else 'several'} flat object families with "
                    f"the prefix {c!r}; present: {present}. Choose prefixes with "
                    "collections=[...] (--collections), or name the branches with "
                    "branches=... (--branches)."
                )
            chosen += match
        return chosen
    if len(found) > 1:
        raise EventFileError(
            f"{where}: the branches hold several kinds of flat objects: {present}. Choose "
            f"them by prefix with collections={[f.prefix for f in found][:2]!r} "
            "(--collections), or name the branches with --branches px=...,py=...,pz=...,E=... "
            "(branches={...} in Python)."
        )
    return found


def _flat_objects(where: str, fams: list[Family]) -> list[dict[str, str]]:
    """Per object, component -> branch name; refuses ambiguous and incomplete objects."""
    objects = []
    for f in fams:
        for i, comps in f.objects.items():
            doubled = {c: v for c, v in comps.items() if len(v) > 1}
            if doubled and i in f.indices:
                c, twins = next(iter(doubled.items()))
                raise EventFileError(
                    f"{where}: object {i} of {f.label} has several {c} branches "
                    f"({', '.join(twins)}). Name the branches to read with --branches "
                    f"(branches={{'{c}': [...], ...}} in Python)."
                )
            if i not in f.indices and any(c in comps for c in MOMENTUM):
                need = [c for c in ("px", "py", "pz") if c not in comps]
                have = ", ".join(n for v in comps.values() for n in v)
                raise SchemaError(
                    f"{where}: object {i} of {f.label} has {have} but no "
                    f"{', '.join(need) or 'E or mass'} branch. Add the missing branches, "
                    "or name the branches to read with --branches (branches=... in Python)."
                )
        objects += [{c: v[0] for c, v in f.objects[i].items()} for i in f.indices]
    return objects


def _plan_flat(where: str, fams: list[Family], flavour: str) -> Plan:
    if flavour not in FLAVOURS:
        raise ConfigError(f"{where}: unknown flavour {flavour!r}; allowed: {', '.join(FLAVOURS)}")
    objects = _flat_objects(where, fams)
    pid_src = [o.get("pid", o.get("charge")) for o in objects]
    momenta = [o[c] for o in objects for c in ("E", "px", "py", "pz", "mass") if c in o]
    ids = [o[c] for o in objects for c in ("pid", "charge", "status") if c in o]
    with_charge = all("charge" in o for o in objects)

    def build(a: ak.Array, source: str) -> tuple[ak.Array, dict[str, Any]]:
        cols: dict[str, list[np.ndarray]] = {c: [] for c in ("px", "py", "pz", "E", "pid")}
        status = []
        for o in objects:
            p = [_column(a, o[c]) for c in ("px", "py", "pz")]
            if "E" in o:
                e = _column(a, o["E"])
            else:  # from the mass: E = sqrt(p^2 + m^2)
                e = np.sqrt(p[0] ** 2 + p[1] ** 2 + p[2] ** 2 + _column(a, o["mass"]) ** 2)
            for c, v in zip(("px", "py", "pz", "E"), [*p, e], strict=True):
                cols[c].append(v)
            if "pid" in o:
                cols["pid"].append(_column(a, o["pid"], np.int64))
            elif "charge" in o:
                q = _column(a, o["charge"], np.int64)
                cols["pid"].append(_pid_from_charge(q, FLAVOURS[flavour]))
            else:
                cols["pid"].append(np.zeros(len(a), dtype=np.int64))
            st = o.get("status")
            status.append(_column(a, st, np.int64) if st else np.ones(len(a), dtype=np.int64))
        jag = {c: ak.from_regular(np.stack(v, axis=1)) for c, v in cols.items()}
        extra = {}
        if with_charge:
            extra["charge"] = _stack(a, [o["charge"] for o in objects], np.int64)
        ev = make_events(
            p4={c: jag[c] for c in ("px", "py", "pz", "E")},
            pid=jag["pid"],
            status=ak.from_regular(np.stack(status, axis=1)),
            extra=extra,
            source=source,
        )
        info = {"objects": [f.label for f in fams], "pid_from": pid_src, "flavour": flavour}
        return ev, info

    return Plan(momenta + ids, momenta, build, integral=ids)


def _plan_jagged(where: str, keys: list[str], collections: Sequence[str] | None) -> Plan:
    found = _collections_with(keys, ("Px", "Py", "Pz", "E"))
    chosen = list(collections) if collections else found
    for c in chosen:
        if c not in found:
            raise SchemaError(
                f"{where}: no collection {c!r} (branches {c}_Px, {c}_Py, {c}_Pz, {c}_E); "
                f"collections present: {', '.join(found) or 'none'}. "
                "Choose among them with collections=[...]"
            )
    momenta = [f"{c}_{x}" for c in chosen for x in ("Px", "Py", "Pz", "E")]
    charges = [f"{c}_Charge" for c in chosen if f"{c}_Charge" in keys]
    wkey = next((k for k in ("EventWeight", "weight", "Weight") if k in keys), None)
    finite = momenta + ([wkey] if wkey else [])

    def build(a: ak.Array, source: str) -> tuple[ak.Array, dict[str, Any]]:
        parts: dict[str, list[Any]] = {k: [] for k in ("px", "py", "pz", "E", "pid", "charge")}
        for c in chosen:
            for k, b in zip(("px", "py", "pz", "E"), ("Px", "Py", "Pz", "E"), strict=True):
                parts[k].append(_f64(a[f"{c}_{b}"]))
            base = COLLECTION_PIDS.get(c.lower(), 0)
            ones = ak.ones_like(a[f"{c}_Px"], dtype=np.int64)
            q = _i64(a[f"{c}_Charge"]) if f"{c}_Charge" in a.fields else ones * 0
            parts["charge"].append(q)
            charged = base in (11, 13, 15) and f"{c}_Charge" in a.fields
            parts["pid"].append(_pid_from_charge(q, base) if charged else ones * base)
        cat = {k: ak.concatenate(v, axis=1) for k, v in parts.items()}
        charge, pid = cat.pop("charge"), cat.pop("pid")
        ev = make_events(
            p4=cat,
            pid=pid,
            weight=ak.to_numpy(a[wkey]) if wkey else None,
            extra={"charge": charge} if charges else None,
            source=source,
        )
        return ev, {"collections": chosen, "weight_branch": wkey}

    return Plan(momenta + charges + ([wkey] if wkey else []), finite, build, integral=charges)


def _plan_edm4hep(where: str, keys: list[str], collections: Sequence[str] | None) -> Plan:
    found = _edm4hep_collections(keys)
    chosen = list(collections) if collections else ["MC"]
    present = (
        f"collections present: {', '.join(found) or 'none'} "
        "(MC: generator truth, RP: reconstructed)"
    )
    if len(chosen) != 1:
        raise ConfigError(
            f"{where}: the edm4hep layout reads one collection at a time, got {chosen}; "
            f"{present}. Choose one, e.g. collections=['MC']"
        )
    if chosen[0] not in found:
        raise SchemaError(
            f"{where}: no collection {chosen[0]!r} (branches {chosen[0]}_px, _py, _pz, _e); "
            f"{present}. Choose one with collections=[...]"
        )
    c = chosen[0]
    momenta = [f"{c}_{x}" for x in ("px", "py", "pz", "e")]
    truth = f"{c}_pdg" in keys
    if truth:
        _need(where, keys, [f"{c}_status"], "Truth particles need a generator status branch.")
    optional = [f"{c}_{x}" for x in ("charge", "parentindex") if f"{c}_{x}" in keys]
    ids = [f"{c}_pdg", f"{c}_status"] if truth else []

    def build(a: ak.Array, source: str) -> tuple[ak.Array, dict[str, Any]]:
        px = a[momenta[0]]
        extra: dict[str, Any] = {}
        if f"{c}_charge" in a.fields:
            extra["charge"] = _i64(np.rint(a[f"{c}_charge"]))
        if f"{c}_parentindex" in a.fields:
            extra["parent_index"] = _i64(a[f"{c}_parentindex"])
        if truth:
            st = _i64(np.rint(a[f"{c}_status"]))
            status = ak.where(st == 1, 1, ak.where(st == 4, -1, 2))
            pid = _i64(np.rint(a[f"{c}_pdg"]))
            extra["generator_status"] = st
        else:
            status = ak.ones_like(px, dtype=np.int64)
            pid = ak.zeros_like(px, dtype=np.int64)
        ev = make_events(
            p4={"px": px, "py": a[momenta[1]], "pz": a[momenta[2]], "E": a[momenta[3]]},
            pid=pid,
            status=status,
            extra=extra,
            source=source,
        )
        return ev, {"collections": chosen}

    # a truth charge may be fractional (quarks): finite, rounded as before; ids are whole
    charge = [b for b in optional if b.endswith("_charge")]
    return Plan(momenta + ids + optional, momenta + charge, build, integral=ids)


def _plan_nanoaod(where: str, keys: list[str]) -> Plan:
    comps = ["GenPart_pt", "GenPart_eta", "GenPart_phi", "GenPart_mass"]
    ids = ["GenPart_pdgId", "GenPart_status"]
    _need(where, keys, comps + ids, "NanoAOD generator particles need all of these.")
    wkey = "Generator_weight" if "Generator_weight" in keys else None

    def build(a: ak.Array, source: str) -> tuple[ak.Array, dict[str, Any]]:
        pt, eta = _f64(a["GenPart_pt"]), _f64(a["GenPart_eta"])
        keep = ~((pt == 0) & (abs(eta) > NANOAOD_ETA_ALONG_BEAM))
        n_dropped = int(ak.sum(~keep))
        v = vector.zip(
            {
                "pt": pt[keep],
                "eta": eta[keep],
                "phi": _f64(a["GenPart_phi"])[keep],
                "mass": _f64(a["GenPart_mass"])[keep],
            }
        )
        st = _i64(a["GenPart_status"][keep])
        ev = make_events(
            p4={"px": v.px, "py": v.py, "pz": v.pz, "E": v.E},
            pid=a["GenPart_pdgId"][keep],
            status=ak.where(st == 1, 1, ak.where(st == 21, -1, 2)),
            weight=ak.to_numpy(a[wkey]) if wkey else None,
            extra={"generator_status": st},
            source=source,
        )
        return ev, {"dropped_along_beam": n_dropped}

    finite = comps + ([wkey] if wkey else [])
    return Plan(comps + ids + ([wkey] if wkey else []), finite, build, integral=ids)


def _plan_mapping(
    where: str, keys: list[str], branches: Mapping[str, Any], scalars: Collection[str] | None
) -> Plan:
    mapping = check_mapping(branches, where)
    spec = {k: [v] if isinstance(v, str) else v for k, v in mapping.items()}
    names = list(dict.fromkeys(b for v in spec.values() for b in v))
    _need(where, keys, names, "Fix the names given in branches=... (--branches).")
    if scalars is not None:
        _check_mapping_types(where, spec, scalars)
    momenta = [b for k in ("px", "py", "pz", "E") for b in spec[k]]

    def build(a: ak.Array, source: str) -> tuple[ak.Array, dict[str, Any]]:
        def get(k: str, dtype: Any = np.float64) -> ak.Array:
            one = len(spec[k]) == 1 and a[spec[k][0]].ndim > 1  # a jagged branch
            return ak.values_astype(a[spec[k][0]], dtype) if one else _stack(a, spec[k], dtype)

        px = get("px")
        ev = make_events(
            p4={"px": px, "py": get("py"), "pz": get("pz"), "E": get("E")},
            pid=get("pid", np.int64) if "pid" in spec else ak.zeros_like(px, dtype=np.int64),
            status=get("status", np.int64) if "status" in spec else None,
            weight=ak.to_numpy(a[spec["weight"][0]]) if "weight" in spec else None,
            source=source,
        )
        return ev, {"branches": dict(mapping)}

    weight = spec.get("weight", [])
    ids = [b for k in ("pid", "status") for b in spec.get(k, [])]
    return Plan(names, momenta + weight, build, integral=ids)


def _check_mapping_types(where: str, spec: dict[str, list[str]], scalars: Collection[str]) -> None:
    """Per-object fields: all one jagged branch each, or all one scalar branch per object."""
    kinds = {}
    for k, names in spec.items():
        if k == "weight":
            if names[0] not in scalars:
                raise ConfigError(f"{where}: branches['weight'] = {names[0]!r} is not a scalar")
            continue
        jagged = [n for n in names if n not in scalars]
        if len(names) > 1 and jagged:
            raise ConfigError(
                f"{where}: branches[{k!r}] lists {jagged[0]!r}, which holds several values per "
                "entry: a list names one scalar branch per object; give a jagged branch alone "
                f"(e.g. {k}={jagged[0]})"
            )
        kinds[k] = "jagged" if jagged else f"{len(names)} scalar"
    if len(set(kinds.values())) > 1:
        raise ConfigError(
            f"{where}: branches=... mixes jagged and scalar branches "
            f"({', '.join(f'{k}: {v}' for k, v in kinds.items())}); give every field the same "
            "kind: one jagged branch each, or one scalar branch per object"
        )
