"""ROOT files through uproot: common branch layouts in, the latentsym layout out.

Layouts (``layout=``; detected from the branch names and types when only one fits):

- ``latentsym``: what :func:`write_root` writes (lossless round trip): a TTree with jagged
  ``particle_px, particle_py, particle_pz, particle_E, particle_pid, particle_status``
  (counter ``nparticle``) and any further numeric ``particle_<field>``; ``weight``; one
  ``weight_<name>`` branch per named weight (name sanitised to ``[A-Za-z0-9_]``, exact
  names in the run information); numeric event-level fields as ``event_<field>``; the
  :class:`RunInfo` as JSON in the TObjString ``latentsym_run_info``.
- ``flat``: one scalar branch per object and component, in any case and with ``_``, ``.``
  or nothing between prefix, index and component: ``E1, px1, py1, pz1, E2, ...`` (CMS
  dimuon ntuples), ``lep0_PX, lep0_PY, lep0_PZ, lep0_E, lep0_PID, lep1_...``, ``mu1_px``,
  ``Px_1`` (component aliases in :mod:`latentsym.io._root_names`: ``E``/``energy``,
  ``px``/``p_x``, ``M``/``mass`` (E computed from it when there is no E), ``pid``/``pdgId``/
  ``id``, ``Q``/``charge``, ``status``). Objects in index order. The PDG id comes from the
  ``pid`` branch when present, else from the charge and ``flavour`` (default ``"mu"``:
  Q = -1 -> 13 (mu-), Q = +1 -> -13 (mu+); ``"e"``, ``"tau"`` alike), else 0. The charges
  are kept as ``particles.charge``. Status from the ``status`` branch, else 1. Several
  kinds of objects (``lep0_*`` and ``jet0_*``) are refused unless ``collections=`` names
  their prefixes (``["lep", "jet"]``, read in that order); two branches for one component
  (``lep0_E`` and ``lep0_energy``) or an object with some components only are refused too.
- ``jagged``: collections ``<C>_Px, <C>_Py, <C>_Pz, <C>_E`` (+ ``<C>_Charge``), e.g.
  ``Muon``, ``Electron``, ``Photon``, ``Jet``; ``collections=`` picks them, in that order
  (default: all found). PDG ids: Muon ∓13, Electron ∓11, Tau ∓15 by the sign of the charge
  (without a charge branch: +13, +11, +15), Photon 22, Jet and any other collection 0 (a
  jet has no PDG id). Status 1. ``EventWeight`` (or ``weight``, ``Weight``) is the event
  weight.
- ``edm4hep``: FCC/EDM4hep-style ``<C>_px, <C>_py, <C>_pz, <C>_e``; ``collections=["MC"]``
  (generator truth, the default) or ``["RP"]`` (reconstructed). Truth (a ``<C>_pdg``
  branch present): PDG id from ``<C>_pdg``; generator status 1 (final state) -> 1, 4
  (beam particle) -> -1, any other -> 2 (intermediate); the original code is kept as
  ``particles.generator_status`` and ``<C>_parentindex`` as ``particles.parent_index``.
  Reconstructed: status 1 and PDG id 0 (a reconstructed particle has no identity in these
  files; its charge is kept as ``particles.charge``).
- ``nanoaod``: CMS NanoAOD ``GenPart_pt, GenPart_eta, GenPart_phi, GenPart_mass,
  GenPart_pdgId, GenPart_status`` (+ ``Generator_weight``); four-momenta through
  ``vector`` from (pt, eta, phi, mass). Status 1 (final state) -> 1, 21 (incoming parton of
  the hard process) -> -1, any other -> 2; the original in ``particles.generator_status``.
  Particles along the beam axis (pt = 0 and |eta| > 700: ROOT writes eta = ±(22756 + |pz|)
  there, which NanoAOD's reduced precision does not keep) have no recoverable pz and are
  left out; their number is in ``info.extra["dropped_along_beam"]``.
- ``mapping``: ``branches={"px": ..., "py": ..., "pz": ..., "E": ..., "pid": ...,
  "status": ..., "weight": ...}`` names the branches of any other layout: each a jagged
  branch name, or a list of scalar branches (one per particle, e.g.
  ``{"px": ["px1", "px2"], ...}``; a single scalar branch is one particle). ``pid``
  (default 0), ``status`` (default 1) and ``weight`` (default 1.0) are optional.
  ``branches`` may also be the text of ``--branches`` (``"px=px1,px2,py=py1,py2,..."``) or
  the path of a JSON file holding the mapping (see
  :func:`latentsym.io._root_names.parse_branches`).

A damaged file raises :class:`~latentsym.errors.EventFileError` naming the place (key,
tree, branch, basket and entries), never uproot's own exceptions; momenta and weights must
be finite and within the float32 range (|x| <= 3.4e38, what the features are stored in),
PDG ids, statuses and charges whole numbers, or :class:`~latentsym.errors.SchemaError`
names the branch and entry.

TTrees and RNTuples are read alike. ROOT files rarely carry run information: give
``sqrt_s`` (GeV) and ``beams`` to record it in the :class:`RunInfo`.

Example:
    The bundled samples' ROOT files are in the ``latentsym`` layout; the two outgoing
    muons of every event add up to the Z at rest:

    >>> import awkward as ak
    >>> events, info = read_root(SAMPLES / "ee_mumu_91GeV.root", max_events=1000)
    >>> info.layout, info.tree, info.sqrt_s, len(events)
    ('latentsym', 'events', 91.2, 1000)
    >>> mu = events.particles.p4[events.particles.status == 1]
    >>> bool(ak.max(abs((mu[:, 0] + mu[:, 1]).mass - 91.2)) < 1e-9)
    True
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot

from latentsym._atomic import atomic_output
from latentsym._frozen import Replaceable
from latentsym.errors import ConfigError, EventFileError, LatentsymError, OutputError, SchemaError
from latentsym.io._root_guard import (
    FIX,
    check_entries,
    check_keys,
    describe_error,
    guard,
    iterate_arrays,
    read_arrays,
)
from latentsym.io._root_layouts import LAYOUTS, Plan, detect_layouts, listing, make_plan
from latentsym.io._root_names import is_scalar, parse_branches
from latentsym.io.schema import EventFile, RunInfo
from latentsym.physics.pdg import pid_of

__all__ = [
    "FLOAT32_MAX",
    "LAYOUTS",
    "RUN_INFO_KEY",
    "ReadOptions",
    "build_events",
    "check_branches",
    "check_options",
    "iterate_root",
    "parse_branches",
    "prepare",
    "read_root",
    "run_info",
    "write_root",
]

#: the TObjString holding the run information as JSON in files written by write_root
RUN_INFO_KEY = "latentsym_run_info"
_RUN_INFO_FIELDS = {f.name for f in fields(RunInfo)}
#: the largest momentum or weight accepted: the features are float32 (larger is inf there)
FLOAT32_MAX = float(np.finfo(np.float32).max)


def _open(path: str | os.PathLike[str]) -> Any:
    try:
        return uproot.open(path)
    except Exception as exc:
        raise EventFileError(
            f"{path}: cannot be opened as a ROOT file ({describe_error(exc)}). "
            "Check the path and that the file is complete (not truncated)."
        ) from exc


def _names(path: Any, f: Any) -> dict[str, str]:
    """Key path (no cycle, folders included as dir/name) -> class name."""
    with guard(str(path), "the list of keys (the file's directory)"):
        return {k.split(";")[0]: c for k, c in f.classnames().items()}


def _seek(f: Any, key: str) -> str:
    """`` (TKey at byte N)`` of a key, for messages (empty when unknown)."""
    try:
        return f" (TKey at byte {int(f.key(key).fSeekKey)})"
    except Exception:
        return ""


def _select_tree(path: Any, f: Any, tree: str | None) -> tuple[str, Any]:
    names = _names(path, f)
    trees = sorted(k for k, c in names.items() if c == "TTree" or c.endswith("RNTuple"))
    keys = ", ".join(f"{k} ({c})" for k, c in names.items()) or "none"
    if tree is None:
        if not trees:
            raise EventFileError(
                f"{path}: contains no TTree or RNTuple (keys: {keys}). Give a file with events."
            )
        if len(trees) > 1:
            raise EventFileError(
                f"{path}: holds several trees ({', '.join(trees)}); choose one with "
                "tree=... (--tree on the command line)"
            )
        tree = trees[0]
    if tree not in trees:
        raise EventFileError(
            f"{path}: no tree or RNTuple {tree!r}; keys in the file: {keys}. "
            f"Choose one of the trees ({', '.join(trees) or 'none'}) with tree=..."
        )
    with guard(str(path), f"tree {tree!r}{_seek(f, tree)}"):
        obj = f[tree]
        n = obj.num_entries
    if n == 0:
        raise EventFileError(
            f"{path}: tree {tree!r} has no entries (branches: {listing(_keys(path, tree, obj))}). "
            "Give a file with events."
        )
    return tree, obj


def _keys(path: Any, name: str, obj: Any) -> list[str]:
    with guard(f"{path}: tree {name!r}", "the list of branches"):
        keys = [str(k) for k in obj.keys()]  # noqa: SIM118 (uproot objects iterate over branches)
    for i, key in enumerate(keys):
        _check_text(path, name, i, key)
    with guard(f"{path}: tree {name!r}", "the branch titles"):
        titles = [(str(b.name), str(b.title)) for b in getattr(obj, "branches", ())]
    for branch, title in titles:
        _check_title(path, name, branch, title)
    return keys


def _check_title(path: Any, tree: str, branch: str, title: str) -> None:
    """A TTree keeps each branch's name twice, as its name and at the start of its leaf
    list (``px[n]/D``); where the two differ in one character alone, one copy was damaged
    (a deliberate other name differs in more than one). Uncompressed metadata has no
    checksum: without this, a flipped byte renames a branch and its field is read as
    missing."""
    leaf = title.split("[", 1)[0].split("/", 1)[0]
    if len(leaf) == len(branch) and sum(a != b for a, b in zip(leaf, branch, strict=True)) == 1:
        raise EventFileError(
            f"{path}: tree {tree!r}: branch {branch!r} has the leaf list {title!r}: the two "
            f"copies of its name differ in one character, the tree's metadata is damaged. {FIX}"
        )


def _check_text(path: Any, tree: str, index: int, key: str) -> None:
    """A branch name that is not UTF-8 text (uproot keeps the bytes it could not decode as
    surrogates) is damaged metadata, not a branch the layout does not use: reading on
    without it would drop its field silently."""
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise EventFileError(
            f"{path}: tree {tree!r}: the name of branch {index} is not text ({key!r}): the "
            f"tree's metadata is damaged. {FIX}"
        ) from None


def _scalars(path: Any, name: str, obj: Any) -> set[str]:
    """The branches of ``obj`` that hold one number per entry."""
    with guard(f"{path}: tree {name!r}", "the branch types"):
        types = {str(k): str(t) for k, t in obj.typenames().items()}
    for i, key in enumerate(types):
        _check_text(path, name, i, key)
    return {k for k, t in types.items() if is_scalar(t)}


def _stored_info(path: Any, f: Any) -> dict[str, Any]:
    if RUN_INFO_KEY not in _names(path, f):
        return {}
    with guard(str(path), f"key {RUN_INFO_KEY!r} (the run information){_seek(f, RUN_INFO_KEY)}"):
        text = str(f[RUN_INFO_KEY])
    try:
        stored = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EventFileError(
            f"{path}: key {RUN_INFO_KEY!r} is not valid JSON ({exc}). Re-write the file "
            "with write_root, or delete that key."
        ) from exc
    if not isinstance(stored, dict):
        raise EventFileError(f"{path}: key {RUN_INFO_KEY!r} is not a JSON object.")
    return stored


def check_options(sqrt_s: float | None, beams: Any, step_size: int | None = None) -> None:
    """Refuse a non-positive ``sqrt_s``, ``beams`` that are not two particles, or a
    non-positive ``step_size`` (the checks :func:`read_root` makes before opening)."""
    if sqrt_s is not None and not (math.isfinite(float(sqrt_s)) and float(sqrt_s) > 0):
        raise ConfigError(f"sqrt_s must be a positive energy in GeV, got {sqrt_s}")
    if beams is not None and (isinstance(beams, str) or len(beams) != 2):
        raise ConfigError(
            f"beams must be two particles, e.g. ('e+', 'e-') or (2212, 2212); got {beams!r}"
        )
    if step_size is not None and int(step_size) < 1:
        raise ConfigError(f"step_size must be a positive number of events, got {step_size}")


def prepare(path: Any, tree: str | None, layout: str | None, options: dict[str, Any]) -> Any:
    """Open ``path``, choose its tree and layout and make the reading plan.

    ``options`` are the plan's (``collections``, ``branches``, ``flavour``).

    Returns:
        ``(tree name, uproot tree or RNTuple, layout, Plan, stored run information)``.

    Raises:
        EventFileError, ConfigError, SchemaError: as :func:`read_root`.
    """
    f = _open(path)
    check_keys(f, str(path))
    name, obj = _select_tree(path, f, tree)
    keys = _keys(path, name, obj)
    scalars = _scalars(path, name, obj)
    where = f"{path}: tree {name!r}"
    if layout is None:
        if options.get("branches"):
            layout = "mapping"
        else:
            found = detect_layouts(keys, scalars)
            if not found:
                raise EventFileError(
                    f"{where}: no known branch layout among its branches ({listing(keys)}). "
                    "Name the branches with branches={'px': ..., 'py': ..., 'pz': ..., "
                    "'E': ..., 'pid': ...} (layout 'mapping')."
                )
            if len(found) > 1:
                raise EventFileError(
                    f"{where}: the branches fit several layouts ({', '.join(found)}); choose "
                    "one with layout=... (--layout on the command line)"
                )
            layout = found[0]
    if layout not in LAYOUTS:
        raise ConfigError(f"unknown layout {layout!r}; allowed: {', '.join(LAYOUTS)}")
    stored = _stored_info(path, f) if layout == "latentsym" else {}
    plan = make_plan(where, keys, layout, stored=stored, scalars=scalars, **options)
    check_entries(obj, plan.branches, where)
    return name, obj, layout, plan, stored


def _first_bad(values: ak.Array, bad_of: Any) -> tuple[int, str, Any, int] | None:
    """``(event, ", particle k" or "", value, count)`` of the first value where ``bad_of``
    is true, or None."""
    nested = values.ndim > 1
    flat = ak.to_numpy(ak.flatten(values) if nested else values)
    bad = bad_of(flat)
    if not bad.any():
        return None
    if not nested:
        ev = int(np.flatnonzero(bad)[0])
        return ev, "", flat[ev], int(bad.sum())
    i = int(np.flatnonzero(bad)[0])
    counts = ak.to_numpy(ak.num(values, axis=1))
    ev = int(np.searchsorted(np.cumsum(counts), i, side="right"))
    k = i - int(counts[:ev].sum())
    return ev, f", particle {k}", flat[i], int(bad.sum())


def _not_finite32(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind not in "fc":
        return np.abs(x.astype(np.float64)) > FLOAT32_MAX
    return ~np.isfinite(x) | (np.abs(x) > FLOAT32_MAX)


def _not_whole(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind != "f":
        return np.zeros(x.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        return ~np.isfinite(x) | (np.abs(x - np.rint(x)) > 1e-6 * np.maximum(1, np.abs(x)))


def check_branches(a: ak.Array, plan: Plan, where: str, first_event: int) -> None:
    """Name the branch, entry and position of the first value that cannot be used: a NaN,
    infinite or beyond-float32 momentum or weight, or a PDG id, status or charge that is
    not a whole number (it would become a silent integer)."""
    for b in plan.finite:
        found = _first_bad(a[b], _not_finite32)
        if found is not None:
            ev, at, value, n = found
            why = "beyond the float32 range (|x| <= 3.4e38)" if np.isfinite(value) else "not finite"
            raise SchemaError(
                f"{where}, branch {b!r}: event {first_event + ev}{at} is {value} ({why}; "
                f"{n} such values in this branch). Momenta and weights must be finite and "
                "within the float32 range of the features: fix or remove these events when "
                "writing the file."
            )
    for b in plan.integral:
        found = _first_bad(a[b], _not_whole)
        if found is not None:
            ev, at, value, n = found
            raise SchemaError(
                f"{where}, branch {b!r}: event {first_event + ev}{at} is {value}, not a whole "
                f"number ({n} such values in this branch). PDG ids, statuses and charges must "
                "be whole numbers: fix or remove these events when writing the file."
            )


def build_events(plan: Plan, a: ak.Array, source: str, first_event: int) -> Any:
    """``plan.build`` on arrays read from ``source`` (entries from ``first_event``): the
    events and the layout's info extra; any failure there is a :class:`SchemaError`, and
    derived momenta (from pt/eta or a mass) are held to the float32 range."""
    try:
        events, extra = plan.build(a, source)
    except LatentsymError:
        raise
    except Exception as exc:
        raise SchemaError(
            f"{source}: the branches read do not fit the layout ({describe_error(exc)}). "
            "Choose the layout with layout=... (--layout), or name the branches with "
            "branches=... (--branches)."
        ) from exc
    p4 = events.particles.p4
    for c in ("px", "py", "pz", "E"):
        found = _first_bad(getattr(p4, c), _not_finite32)
        if found is not None:
            ev, at, value, _ = found
            raise SchemaError(
                f"{source}: event {first_event + ev}{at}: {c} is {value}, beyond the float32 "
                "range (|x| <= 3.4e38) of the features. Fix or remove these events."
            )
    return events, extra


def run_info(
    path: Any,
    name: str,
    layout: str,
    n: int,
    stored: Mapping[str, Any],
    extra: Mapping[str, Any],
    sqrt_s: float | None,
    beams: Any,
) -> RunInfo:
    """The :class:`RunInfo` of ``n`` events read from tree ``name`` of ``path``.

    ``stored`` is the run information :func:`write_root` stored in the file (its keys that
    are no RunInfo field go to ``extra``), ``extra`` what the layout's build reported;
    ``sqrt_s`` and ``beams``, when given, override the stored ones.
    """
    d: dict[str, Any] = {}
    if stored:
        d = {k: v for k, v in stored.items() if k in _RUN_INFO_FIELDS}
        d["extra"] = dict(d.get("extra") or {})
        d["extra"].update({k: v for k, v in stored.items() if k not in _RUN_INFO_FIELDS})
        for k in ("path", "format", "tree", "layout"):
            if d.get(k) is not None:
                d["extra"][f"source_{k}"] = d[k]
        for k in ("path", "format", "n_events", "tree", "layout"):
            d.pop(k, None)
        for k in ("beams", "beam_energies", "generators", "weight_names"):
            if d.get(k) is not None:
                d[k] = tuple(d[k])
    if sqrt_s is not None:
        d["sqrt_s"] = float(sqrt_s)
    if beams is not None:
        d["beams"] = tuple(pid_of(b) if isinstance(b, str) else int(b) for b in beams)
    d["extra"] = {**d.get("extra", {}), **extra}
    return RunInfo(path=str(path), format="root", n_events=n, tree=name, layout=layout, **d)


@dataclass(frozen=True)
class ReadOptions(Replaceable):
    """How a ROOT file is read (LHE files take none of these).

    Attributes:
        tree: the TTree or RNTuple (default: the only one in the file).
        layout: one of :data:`LAYOUTS` (default: detected from the branch names; see the
            module documentation for each layout's conventions).
        collections: ``jagged``: the collections to read, in order (default all);
            ``edm4hep``: ``["MC"]`` (truth, default) or ``["RP"]`` (reconstructed).
        branches: ``mapping`` layout: schema field -> branch name (or list of names); or
            the text of ``--branches`` (``"px=px1,px2,py=..."``) or a JSON file's path,
            parsed here (:func:`parse_branches`).
        flavour: ``flat`` layout: lepton flavour of PDG ids from charges (mu, e, tau).
        sqrt_s: centre-of-mass energy in GeV, recorded in the run information.
        beams: the beam particles, e.g. ``("e+", "e-")`` or ``(2212, 2212)``.

    Example:
        >>> ReadOptions(collections=["Muon"]).kwargs()
        {'collections': ['Muon']}
        >>> ReadOptions(branches="px=a1,a2,py=b1,b2,pz=c1,c2,E=d1,d2").branches["pz"]
        ['c1', 'c2']
    """

    tree: str | None = None
    layout: str | None = None
    collections: tuple[str, ...] | None = None
    branches: Mapping[str, Any] | str | os.PathLike[str] | None = None
    flavour: str = "mu"
    sqrt_s: float | None = None
    beams: tuple[int | str, int | str] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.collections, str):
            raise ConfigError(
                f"collections must be a list of names, e.g. ['Muon']; got {self.collections!r}"
            )
        if self.collections is not None:
            object.__setattr__(self, "collections", tuple(self.collections))
        if isinstance(self.branches, str | os.PathLike):
            object.__setattr__(self, "branches", parse_branches(self.branches))
        check_options(self.sqrt_s, self.beams)
        if self.beams is not None:
            object.__setattr__(self, "beams", tuple(self.beams))

    @classmethod
    def from_keywords(cls, path: Any, keywords: Mapping[str, Any]) -> ReadOptions:
        """The options named by ``keywords`` (as ``read_events`` takes them), checked."""
        allowed = [f.name for f in fields(cls)]
        unknown = sorted(set(keywords) - set(allowed))
        if unknown:
            raise ConfigError(f"{path}: unknown ROOT reading options {unknown}; allowed: {allowed}")
        return cls(**keywords)

    def kwargs(self) -> dict[str, Any]:
        """The options that differ from the defaults, as keywords of
        :func:`latentsym.read_events` (``collections`` as a list)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value == f.default:
                continue
            out[f.name] = list(value) if f.name == "collections" else value
        return out

    def plan_options(self) -> dict[str, Any]:
        """The options of the reading plan (``collections``, ``branches``, ``flavour``)."""
        return {"collections": self.collections, "branches": self.branches, "flavour": self.flavour}


def _options(path: Any, options: ReadOptions | None, keywords: Mapping[str, Any]) -> ReadOptions:
    if keywords and options is not None:
        raise ConfigError(
            f"{path}: give the reading options either as options=ReadOptions(...) or as "
            f"keywords, not both (got both and {sorted(keywords)})"
        )
    if keywords:
        return ReadOptions.from_keywords(path, keywords)
    return options if options is not None else ReadOptions()


def read_root(
    path: str | os.PathLike[str],
    options: ReadOptions | None = None,
    *,
    max_events: int | None = None,
    **keywords: Any,
) -> EventFile:
    """Read a ROOT TTree or RNTuple into the latentsym event schema.

    Args:
        path: the ROOT file.
        options: how it is read (:class:`ReadOptions`: tree, layout, collections,
            branches, flavour, sqrt_s, beams).
        max_events: read at most this many entries (from the first).
        **keywords: the fields of :class:`ReadOptions` as keywords instead of
            ``options`` (``read_root(path, collections=["Muon"])``).

    Returns:
        ``EventFile(events, info)``: ``events`` has N entries of ``particles`` (``p4``
        Momentum4D in GeV, ``pid``, ``status`` and the layout's extras) and ``weight``
        ``[N]``; ``info.format == "root"`` with ``tree`` and ``layout`` set.

    Raises:
        EventFileError: unreadable file, no or several trees, no entries, unclear layout.
        SchemaError: a branch the layout needs is missing, or a momentum is NaN/infinite.
        ConfigError: an unknown layout or option, or an option that does not fit it.

    Example:
        A two-event file with a jagged ``Muon`` collection (``Muon_Px`` ...), written with
        uproot: the PDG ids follow the sign of the charge.

        >>> import awkward as ak
        >>> muon = {
        ...     "Px": [[20.0, -20.0], [5.0]],
        ...     "Py": [[0.0, 0.0], [1.0]],
        ...     "Pz": [[10.0, -10.0], [3.0]],
        ...     "E": [[22.4, 22.4], [6.0]],
        ...     "Charge": [[-1, 1], [1]],
        ... }
        >>> with uproot.recreate("muons.root") as f:
        ...     f["Events"] = {f"Muon_{k}": ak.Array(v) for k, v in muon.items()}
        >>> events, info = read_root("muons.root", collections=["Muon"])
        >>> info.layout, info.tree, events.particles.pid.tolist()
        ('jagged', 'Events', [[13, -13], [-13]])
        >>> events.particles.p4.px.tolist(), events.weight.tolist()
        ([[20.0, -20.0], [5.0]], [1.0, 1.0])
    """
    opts = _options(path, options, keywords)
    name, obj, layout_, plan, stored = prepare(path, opts.tree, opts.layout, opts.plan_options())
    where = f"{path}: tree {name!r}"
    n = int(obj.num_entries)
    stop = n if max_events is None else min(n, int(max_events))
    a = read_arrays(obj, plan.branches, where, stop)
    check_branches(a, plan, where, 0)
    events, extra = build_events(plan, a, str(path), 0)
    info = run_info(path, name, layout_, len(events), stored, extra, opts.sqrt_s, opts.beams)
    return EventFile(events, info)


def iterate_root(
    path: str | os.PathLike[str],
    options: ReadOptions | None = None,
    *,
    step_size: int,
    max_events: int | None = None,
    **keywords: Any,
) -> Iterator[EventFile]:
    """Read a ROOT file in chunks of ``step_size`` entries (options as :func:`read_root`).

    Yields:
        ``EventFile(events, info)`` per chunk; ``info.n_events`` is the chunk's size and
        ``info.extra["first_event"]`` the entry number of its first event.

    Example:
        >>> path = SAMPLES / "ee_mumu_91GeV.root"
        >>> for events, info in iterate_root(path, step_size=400, max_events=1000):
        ...     print(info.extra["first_event"], len(events))
        0 400
        400 400
        800 200
    """
    opts = _options(path, options, keywords)
    check_options(opts.sqrt_s, opts.beams, step_size)
    name, obj, layout_, plan, stored = prepare(path, opts.tree, opts.layout, opts.plan_options())
    where = f"{path}: tree {name!r}"
    n = int(obj.num_entries)
    stop = n if max_events is None else min(n, int(max_events))
    for start, a in iterate_arrays(obj, plan.branches, where, int(step_size), stop):
        check_branches(a, plan, where, start)
        events, extra = build_events(plan, a, f"{path} (entries from {start})", start)
        info = run_info(path, name, layout_, len(events), stored, extra, opts.sqrt_s, opts.beams)
        info.extra["first_event"] = start
        yield EventFile(events, info)


def _writable(values: ak.Array) -> bool:
    """True for a flat or one-level jagged array of numbers (what a TTree branch holds)."""
    pattern = r"(\d+ \* )?(var \* )?(u?int\d+|float\d+|bool)"
    return re.fullmatch(pattern, str(ak.type(values))) is not None


def _branch_name(name: str, taken: set[str]) -> str:
    base = "weight_" + (re.sub(r"\W", "_", name, flags=re.ASCII) or "_")
    out, i = base, 1
    while out in taken:
        out, i = f"{base}_{i}", i + 1
    taken.add(out)
    return out


def _branch_arrays(
    events: ak.Array, info: RunInfo | None, target: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    parts = events.particles
    p4 = parts.p4
    cols: dict[str, Any] = {
        c: ak.values_astype(getattr(p4, c), np.float64) for c in ("px", "py", "pz", "E")
    }
    cols["pid"], cols["status"] = parts.pid, parts.status
    bad = []
    for k in ak.fields(parts):
        if k in ("p4", "pid", "status"):
            continue
        if _writable(parts[k]) and re.fullmatch(r"\w+", k, flags=re.ASCII):
            cols[k] = parts[k]
        else:
            bad.append(f"particles.{k}")
    out: dict[str, Any] = {"particle": ak.zip(cols), "weight": ak.to_numpy(events.weight)}
    for k in ak.fields(events):
        if k in ("particles", "weight", "weights"):
            continue
        if _writable(events[k]) and events[k].ndim == 1 and re.fullmatch(r"\w+", k, flags=re.ASCII):
            out[f"event_{k}"] = ak.to_numpy(events[k])
        else:
            bad.append(k)
    if bad:
        raise OutputError(
            f"{target}: cannot write the fields {bad} to a TTree (a TTree branch holds numbers "
            "per event or per particle, under an [A-Za-z0-9_] name). Drop them first, e.g. "
            f"events = ak.without_field(events, {bad[0].split('.')[-1]!r})."
        )
    names = [str(n) for n in ak.fields(events.weights)] if "weights" in ak.fields(events) else []
    taken = set(out)
    wbranches = {n: _branch_name(n, taken) for n in names}
    for n, b in wbranches.items():
        out[b] = ak.to_numpy(events.weights[n]).astype(np.float64)
    meta = info.to_dict() if info is not None else {}
    meta.update({"weight_names": names, "weight_branches": wbranches})
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

    The momenta are stored as float64, so ``read_root`` gives them back bit for bit. The
    file is written to a temporary file in the same folder and moved into place.

    Args:
        events: events in the latentsym schema (``N`` entries).
        path: the ROOT file to write.
        info: run information stored beside the tree (JSON in ``latentsym_run_info``).
        tree: the TTree's name.
        overwrite: replace an existing file.

    Returns:
        The path written.

    Raises:
        OutputError: ``path`` exists and ``overwrite`` is False, or a field cannot be
            stored in a TTree.

    Example:
        The first 100 events of an LHE sample, written and read back unchanged:

        >>> import awkward as ak
        >>> from latentsym.io import read_events
        >>> events, info = read_events(SAMPLES / "ee_mumu_91GeV.lhe.gz", max_events=100)
        >>> write_root(events, "first100.root", info)
        PosixPath('first100.root')
        >>> back, back_info = read_root("first100.root")
        >>> back_info.layout, back_info.sqrt_s, back.fields == events.fields
        ('latentsym', 91.2, True)
        >>> bool(ak.all(back.particles.p4.E == events.particles.p4.E))
        True
    """
    target = Path(path)
    if target.exists() and not overwrite:
        raise OutputError(f"{target}: exists; pass overwrite=True to replace it")
    if not target.parent.is_dir():
        raise OutputError(f"{target}: the folder {target.parent} does not exist; create it first")
    branches, meta = _branch_arrays(events, info, target)
    with atomic_output(target) as tmp, uproot.recreate(tmp) as f:
        types = {k: v.type if isinstance(v, ak.Array) else v.dtype for k, v in branches.items()}
        f.mktree(tree, types)
        f[tree].extend(branches)
        f[RUN_INFO_KEY] = json.dumps(meta)
    return target
