"""Branch names of ROOT trees: flat per-object naming, and the mapping a user gives.

**Flat naming.**
A flat tree stores one scalar branch per object and component: ``E1, px1, py1, pz1``
(CMS dimuon ntuples), ``lep0_PX, lep0_PY, lep0_PZ, lep0_E, lep0_PID``, ``mu1_px``,
``Px_1``, ``jet_e2`` ... A name is read as a *prefix* (the object kind, possibly empty), an
*index* (the object's number) and a *component*, with the index before or after the
component and ``_``, ``.`` or nothing between the parts. Components are matched without
regard to case, under these aliases (:data:`COMPONENTS`):

- ``E``: ``E``, ``energy``; ``px``/``py``/``pz``: ``px``, ``p_x``, ``p.x``;
- ``mass``: ``M``, ``mass`` (the energy is computed from it when there is no ``E``);
- ``pid``: ``pid``, ``pdgId``, ``pdg``, ``id``; ``charge``: ``Q``, ``charge``;
  ``status``: ``status``.

Names sharing the prefix, the order of index and component and the separators form a
*family* (:class:`Family`); its objects are the indices with px, py, pz and E (or mass).

**Mapping.** :func:`parse_branches` reads what ``--branches`` takes: ``px=lep0_PX,lep1_PX,
py=...`` (a key starts a list; the names after it, up to the next ``key=``, are its
branches) or the path of a JSON file with the same mapping; :func:`check_mapping` checks
its form (the layout checks the names against the tree).

Example:
    >>> [f.label for f in families(["lep0_PX", "lep0_PY", "lep0_PZ", "lep0_E", "lep0_PID"])]
    ['lep<i>_<comp>']
    >>> fam = families(["Px_1", "Py_1", "Pz_1", "E_1", "Px_2", "Py_2", "Pz_2", "E_2"])[0]
    >>> fam.indices, fam.objects["2"]["px"]
    (['1', '2'], ['Px_2'])
    >>> parse_branches("px=lep0_PX,lep1_PX,py=lep0_PY,lep1_PY,pz=a,b,e=c,d")["E"]
    ['c', 'd']
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from latentsym.errors import ConfigError

__all__ = [
    "COMPONENTS",
    "MAPPING_KEYS",
    "MOMENTUM",
    "Family",
    "check_mapping",
    "families",
    "is_scalar",
    "parse_branches",
    "parse_name",
]

#: the keys of a branch mapping (layout ``mapping``); px, py, pz and E are required
MAPPING_KEYS = ("px", "py", "pz", "E", "pid", "status", "weight")
_PARTICLE_KEYS = ("px", "py", "pz", "E", "pid", "status")
_EXAMPLE = "px=lep0_PX,lep1_PX,py=lep0_PY,lep1_PY,pz=lep0_PZ,lep1_PZ,E=lep0_E,lep1_E"

#: canonical component -> regular expression of its aliases (matched ignoring case)
COMPONENTS = {
    "E": r"energy|e",
    "px": r"p[_.]?x",
    "py": r"p[_.]?y",
    "pz": r"p[_.]?z",
    "mass": r"mass|m",
    "pid": r"pdg[_.]?id|pdg|pid|id",
    "charge": r"charge|q",
    "status": r"status",
}
#: the components that carry the four-momentum (E may be replaced by the mass)
MOMENTUM = ("px", "py", "pz", "E", "mass")

_ALT = "|".join(f"(?P<{k}>{v})" for k, v in COMPONENTS.items())
# index after the component (E1, Px_1, mu_px1) or before it (lep0_PX, mu1_px, lep_0.e)
_AFTER = re.compile(rf"(?P<prefix>.*?)(?P<s1>[_.]?)(?:{_ALT})(?P<s2>[_.]?)(?P<idx>\d+)", re.I)
_BEFORE = re.compile(rf"(?P<prefix>.*?)(?P<s1>[_.]?)(?P<idx>\d+)(?P<s2>[_.]?)(?:{_ALT})", re.I)


def parse_name(name: str) -> tuple[tuple[str, str, str, str], str, str] | None:
    """``((prefix, order, sep1, sep2), index, component)`` of a flat branch name, or None.

    ``order`` is ``"after"`` (index after the component) or ``"before"``.

    Example:
        >>> parse_name("lep0_PX"), parse_name("E1"), parse_name("pt1")
        ((('lep', 'before', '', '_'), '0', 'px'), (('', 'after', '', ''), '1', 'E'), None)
    """
    for order, pattern in (("after", _AFTER), ("before", _BEFORE)):
        m = pattern.fullmatch(name)
        if m is None:
            continue
        comp = next(k for k in COMPONENTS if m.group(k) is not None)
        return (m.group("prefix"), order, m.group("s1"), m.group("s2")), m.group("idx"), comp
    return None


@dataclass
class Family:
    """Flat branches of one kind of object (``lep0_PX, lep1_PX, ...``).

    Attributes:
        prefix, order, sep1, sep2: the naming (see :func:`parse_name`).
        objects: index -> component -> the branch names found (more than one name for a
            component, e.g. ``lep0_E`` and ``lep0_energy``, is an ambiguity).
    """

    prefix: str
    order: str
    sep1: str
    sep2: str
    objects: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The naming pattern, e.g. ``lep<i>_<comp>`` or ``<comp><i>``."""
        if self.order == "after":
            return f"{self.prefix}{self.sep1}<comp>{self.sep2}<i>"
        return f"{self.prefix}{self.sep1}<i>{self.sep2}<comp>"

    @property
    def indices(self) -> list[str]:
        """The complete objects (px, py, pz and E or mass), in numerical order."""
        return sorted((i for i in self.objects if _complete(self.objects[i])), key=_number)

    def example(self) -> str:
        """A few of the family's branch names, for messages."""
        names = [n for i in self.indices[:1] for v in self.objects[i].values() for n in v]
        more = len(self.indices) - 1
        return ", ".join(names) + (f", ... ({more} more objects)" if more > 0 else "")

    def branch_names(self) -> list[str]:
        """Every branch name of the family."""
        return [n for comps in self.objects.values() for names in comps.values() for n in names]


def _number(index: str) -> tuple[int, str]:
    return int(index), index


def _complete(comps: dict[str, list[str]]) -> bool:
    return all(c in comps for c in ("px", "py", "pz")) and ("E" in comps or "mass" in comps)


def is_scalar(typename: str) -> bool:
    """Whether a branch type (uproot's ``typenames()``) holds one number per entry.

    Example:
        >>> is_scalar("double"), is_scalar("std::int32_t"), is_scalar("double[]")
        (True, True, False)
    """
    return bool(typename) and not any(c in typename for c in "[<*") and "string" not in typename


def families(keys: Sequence[str], scalars: Collection[str] | None = None) -> list[Family]:
    """The families with at least one complete object among ``keys``, in branch order.

    Args:
        keys: branch names.
        scalars: the names of the scalar branches (others cannot be flat); None: all.
    """
    found: dict[tuple[str, str, str, str], Family] = {}
    for k in keys:
        if scalars is not None and k not in scalars:
            continue
        parsed = parse_name(k)
        if parsed is None:
            continue
        key, idx, comp = parsed
        fam = found.setdefault(key, Family(*key))
        fam.objects.setdefault(idx, {}).setdefault(comp, []).append(k)
    return [f for f in found.values() if f.indices]


def check_mapping(branches: Any, where: str) -> dict[str, str | list[str]]:
    """A branch mapping checked for its form: known keys, px, py, pz and E given, each a
    branch name or a non-empty list of names, lists of one length, ``weight`` one name.

    Returns:
        The mapping as a dict of names and lists of names.

    Raises:
        ConfigError: naming what is wrong and the allowed keys.
    """
    if not isinstance(branches, Mapping):
        raise ConfigError(
            f"{where}: branches must map schema fields to branch names, e.g. "
            f"{{'px': ['lep0_PX', 'lep1_PX'], ...}}; got {type(branches).__name__}"
        )
    unknown = sorted(str(k) for k in branches if k not in MAPPING_KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: branches=...: unknown keys {unknown}; allowed: {list(MAPPING_KEYS)}"
        )
    missing = [k for k in ("px", "py", "pz", "E") if k not in branches]
    if missing:
        raise ConfigError(
            f"{where}: branches=... must name {missing} (px, py, pz and E are required), "
            f"e.g. {_EXAMPLE}"
        )
    out: dict[str, str | list[str]] = {}
    for k, v in branches.items():
        names = [v] if isinstance(v, str) else v
        if (
            not isinstance(names, Sequence)
            or not names
            or not all(isinstance(n, str) and n for n in names)
        ):
            raise ConfigError(
                f"{where}: branches[{k!r}] must be a branch name or a list of branch names; "
                f"got {v!r}"
            )
        out[k] = v if isinstance(v, str) else list(names)
    if not isinstance(out.get("weight", ""), str):
        raise ConfigError(f"{where}: branches['weight'] must be one branch name")
    lengths = {k: len(v) for k, v in out.items() if k in _PARTICLE_KEYS and isinstance(v, list)}
    if len(set(lengths.values())) > 1:
        raise ConfigError(
            f"{where}: branches=... lists different numbers of branches per field "
            f"({', '.join(f'{k}: {n}' for k, n in lengths.items())}); give one branch per "
            "object for every field"
        )
    return out


def _mapping_key(key: str, where: str) -> str:
    for k in MAPPING_KEYS:
        if key.lower() == k.lower():
            return k
    raise ConfigError(f"{where}: unknown key {key!r}; allowed: {', '.join(MAPPING_KEYS)}")


def parse_branches(text: str | os.PathLike[str]) -> dict[str, str | list[str]]:
    """The branch mapping of ``--branches``: ``key=name,name,key=name,...`` or a JSON file.

    Keys are matched without regard to case (``e=`` is ``E=``); a key with several names
    gives a list (one scalar branch per object), and then every per-object key does; when
    all have one name, each stays a name (a jagged branch, or one scalar branch for one
    object). A path ending in ``.json``, or an existing file,
    is read as a JSON object of the same mapping.

    Raises:
        ConfigError: unreadable file, bad syntax, unknown or repeated keys, a mapping
            whose form is wrong (see :func:`check_mapping`).

    Example:
        >>> parse_branches("px=Muon_Px,py=Muon_Py,pz=Muon_Pz,E=Muon_E")["px"]
        'Muon_Px'
    """
    s = os.fspath(text)
    where = f"branches {s!r}"
    path = Path(s)
    if s.lower().endswith(".json") or ("=" not in s and path.is_file()):
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(
                f"{where}: no such file. Give key=branch,... or a JSON file such as "
                '{"px": ["lep0_PX", "lep1_PX"], ...}'
            ) from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ConfigError(f"{where}: not a readable JSON file ({exc})") from exc
        return check_mapping(d, where)
    spec: dict[str, list[str]] = {}
    key = None
    for token in (t.strip() for t in s.split(",")):
        if not token:
            continue
        if "=" in token:
            k, _, token = (x.strip() for x in token.partition("="))
            key = _mapping_key(k, where)
            if key in spec:
                raise ConfigError(f"{where}: {key!r} is given twice")
            if not token:
                raise ConfigError(f"{where}: {k}= names no branch, e.g. {_EXAMPLE}")
            spec[key] = []
        elif key is None:
            raise ConfigError(f"{where}: start with a key, e.g. {_EXAMPLE}")
        spec[key].append(token)
    # one name stays a name (a jagged branch, or one object) unless another field lists several
    several = any(len(v) > 1 for k, v in spec.items() if k in _PARTICLE_KEYS)
    mapping = {
        k: v if (several and k in _PARTICLE_KEYS) or len(v) > 1 else v[0] for k, v in spec.items()
    }
    return check_mapping(mapping, where)
