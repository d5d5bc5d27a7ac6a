"""Particle names and PDG ids (through the ``particle`` package)."""

from __future__ import annotations

import functools
import re

from particle import Particle
from particle.particle import ParticleNotFound

from latentsym.errors import TopologyError

__all__ = ["name_of", "parse_topology", "pid_of"]

# Common spellings physicists type that the PDG table spells differently.
_ALIASES: dict[str, int] = {
    "mu": 13,
    "mu-": 13,
    "mu+": -13,
    "muon": 13,
    "antimuon": -13,
    "e": 11,
    "e-": 11,
    "e+": -11,
    "electron": 11,
    "positron": -11,
    "tau": 15,
    "tau-": 15,
    "tau+": -15,
    "nu_e": 12,
    "nu_e~": -12,
    "ve": 12,
    "ve~": -12,
    "nu_mu": 14,
    "nu_mu~": -14,
    "vm": 14,
    "vm~": -14,
    "nu_tau": 16,
    "nu_tau~": -16,
    "vt": 16,
    "vt~": -16,
    "g": 21,
    "gluon": 21,
    "a": 22,
    "gamma": 22,
    "photon": 22,
    "z": 23,
    "z0": 23,
    "w+": 24,
    "w-": -24,
    "h": 25,
    "h0": 25,
    "d": 1,
    "u": 2,
    "s": 3,
    "c": 4,
    "b": 5,
    "t": 6,
    "d~": -1,
    "u~": -2,
    "s~": -3,
    "c~": -4,
    "b~": -5,
    "t~": -6,
    "dbar": -1,
    "ubar": -2,
    "sbar": -3,
    "cbar": -4,
    "bbar": -5,
    "tbar": -6,
}


@functools.lru_cache(maxsize=1024)
def name_of(pid: int) -> str:
    """Short PDG name of a particle id, e.g. ``13 -> "mu-"``, ``-5 -> "b~"``.

    Unknown ids come back as their number in brackets: ``"[9900012]"``.

    Example:
        >>> name_of(-13)
        'mu+'
    """
    try:
        return str(Particle.from_pdgid(int(pid)).name)
    except (ParticleNotFound, ValueError, Exception):
        return f"[{int(pid)}]"


@functools.lru_cache(maxsize=1024)
def pid_of(name: str) -> int:
    """PDG id of a particle name (``"mu+"``, ``"b~"``, ``"gamma"``) or a number (``"-13"``).

    Raises:
        TopologyError: for an unknown name, with examples of accepted names.

    Example:
        >>> pid_of("mu+")
        -13
    """
    text = name.strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    key = text.lower()
    if key in _ALIASES:
        return _ALIASES[key]
    try:
        return int(Particle.from_name(text).pdgid)
    except Exception as exc:
        raise TopologyError(
            f"unknown particle name {name!r}: use a PDG name such as 'mu+', 'e-', 'b~', "
            "'gamma', 'g', 'nu(e)' or a PDG id such as -13"
        ) from exc


def parse_topology(
    topology: str | int | list[int] | list[str] | tuple[int | str, ...],
) -> tuple[int, ...]:
    """Turn ``"mu+ mu-"``, ``"-13,13"`` or ``[-13, 13]`` into a sorted tuple of PDG ids.

    Example:
        >>> parse_topology("mu+ mu-")
        (-13, 13)
    """
    if isinstance(topology, str):
        items: list[int | str] = [t for t in re.split(r"[\s,]+", topology.strip()) if t]
    elif isinstance(topology, int):
        items = [topology]
    else:
        items = list(topology)
    if not items:
        raise TopologyError(
            "empty topology: give the final-state particles, e.g. 'mu+ mu-' or [-13, 13]"
        )
    pids = [pid_of(i) if isinstance(i, str) else int(i) for i in items]
    return tuple(sorted(pids))
