"""Physics observables of a fixed final state, for truth comparison and for naming latents.

All quantities are computed with ``vector`` on the ``[N, n]`` Momentum4D array of a
:class:`~latentsym.physics.selection.FinalState` (``fs.p4``) and come back as plain
``[N]`` float64 numpy arrays in an ordered dict.

Keys (``<a>``, ``<b>`` are particle names; a name that occurs more than once in the final
state gets a 1-based suffix, e.g. ``g1``, ``g2``):

=====================  ==============================================================
``m_sys``              invariant mass of the sum of all final-state particles [GeV]
``y_sys``              rapidity of that system
``pt_sys``             transverse momentum of that system [GeV]
``cos_theta_star``     cosine of the polar angle of the reference particle in the
                       rest frame of the system (Collins–Soper frame by default)
``phi_star``           azimuth of the reference particle in the same frame [rad]
``pt_<a>``             lab-frame transverse momentum of each particle [GeV]
``eta_<a>``            lab-frame pseudorapidity of each particle
``phi_<a>``            lab-frame azimuth of each particle, in (-pi, pi] [rad]
``m_<a>_<b>``          invariant mass of each pair (only for n >= 3) [GeV]
=====================  ==============================================================

Rest-frame axes (``frame``):

* ``"collins-soper"`` (default): boost to the system's rest frame with
  ``boostCM_of_p4`` and take the two beam directions there, ``a`` (the beam moving along
  +z in the lab) and ``b`` (along -z). Then ``z* = unit(a - b)`` (the bisector of the
  angle between ``a`` and ``-b``), ``x* = -unit(a + b)`` (in the beam plane; it points
  along the system's lab transverse momentum) and ``y* = z* x x*``. When the system's
  transverse momentum is below ``min_qt_fraction * m_sys`` the beams are back to back
  in the rest frame and the lab x axis is used for ``x*`` (then ``phi_star`` is the
  rest-frame azimuth about the lab z axis). With ``symmetric_beams=True`` (pp
  collisions, where the quark direction is unknown) beam ``a`` is the one along the
  sign of the system's lab p_z, so ``z*`` follows the system's longitudinal motion;
  this flips ``z*`` and ``y*`` for events with p_z < 0. The two closed forms of the
  literature, ``cos θ_CS = 2 (p1+ p2- - p1- p2+) / (m sqrt(m² + pT²))`` with
  ``p± = (E ± p_z)/√2`` (massless particles, ``p1`` the reference), and
  ``tan φ_CS = sqrt(m² + pT²)/m · (Δ·R̂)/(Δ·Q̂_T)`` with ``Δ = p1 - p2`` and
  ``R = ẑ x Q``, agree with this construction (the tests check both).
* ``"rest"``: the pure boost ``boostCM_of_p4`` of the system, angles measured against
  the lab axes carried into that frame. Identical to Collins–Soper for systems without
  transverse momentum; for p_T > 0 it differs by a (Wigner) rotation about y*.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import awkward as ak
import numpy as np
import vector
from particle import Particle

from latentsym.errors import ConfigError, SchemaError, TopologyError
from latentsym.physics.pdg import pid_of

__all__ = ["FRAMES", "observable_labels", "observable_names", "observables"]

FRAMES = ("collins-soper", "rest")
Frame = Literal["collins-soper", "rest"]


def _unique_names(particle_names: Sequence[str]) -> list[str]:
    """Particle names made unique by a 1-based suffix where a name repeats."""
    names = [str(n) for n in particle_names]
    counts = {n: names.count(n) for n in names}
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if counts[n] > 1:
            seen[n] = seen.get(n, 0) + 1
            out.append(f"{n}{seen[n]}")
        else:
            out.append(n)
    return out


def _check_options(n: int, reference: int, frame: str) -> None:
    if n < 2:
        raise TopologyError(
            f"observables need at least 2 final-state particles, got {n}: a rest-frame angle is "
            "undefined for a single particle. Select a topology with 2 or more particles."
        )
    if not -n <= reference < n:
        raise ConfigError(
            f"reference={reference} is not a particle index of this {n}-particle final state; "
            f"allowed: 0 .. {n - 1}"
        )
    if frame not in FRAMES:
        raise ConfigError(f"frame={frame!r} is not known; allowed: {', '.join(FRAMES)}")


def observable_names(particle_names: Sequence[str]) -> list[str]:
    """Keys of :func:`observables` for a final state, in order.

    Example:
        >>> observable_names(["mu+", "mu-"])[:5]
        ['m_sys', 'y_sys', 'pt_sys', 'cos_theta_star', 'phi_star']
    """
    names = _unique_names(particle_names)
    keys = ["m_sys", "y_sys", "pt_sys", "cos_theta_star", "phi_star"]
    for a in names:
        keys += [f"pt_{a}", f"eta_{a}", f"phi_{a}"]
    if len(names) >= 3:
        keys += [f"m_{a}_{b}" for i, a in enumerate(names) for b in names[i + 1 :]]
    return keys


def _latex_particle(name: str, original: str) -> str:
    """Mathtext of a particle from its PDG name (``mu+`` -> ``\\mu^{+}``)."""
    try:
        tex = str(Particle.from_pdgid(pid_of(original)).latex_name)
    except Exception:
        tex = r"\mathrm{" + original.replace("~", r"\~") + "}"
    suffix = name[len(original) :]
    return f"{tex}_{{{suffix}}}" if suffix else tex


def observable_labels(
    particle_names: Sequence[str],
    *,
    reference: int = 0,
    frame: Frame = "collins-soper",
    units: bool = True,
) -> dict[str, str]:
    """Axis titles (matplotlib mathtext with units) for every key of :func:`observables`.

    Args:
        particle_names: the n particle names of the final state (``FinalState.names``).
        reference: index of the particle whose rest-frame angles are labelled.
        frame: ``"collins-soper"`` or ``"rest"`` (appears in the angle labels).
        units: append ``" [GeV]"`` / ``" [rad]"`` where the quantity has a unit.

    Returns:
        ``{key: title}`` in the order of :func:`observables`.

    Example:
        >>> observable_labels(["mu+", "mu-"])["m_sys"]
        '$m(\\\\mu^{+}\\\\mu^{-})$ [GeV]'
    """
    _check_options(len(particle_names), reference, frame)
    originals = [str(n) for n in particle_names]
    names = _unique_names(originals)
    tex = [_latex_particle(n, o) for n, o in zip(names, originals, strict=True)]
    system = "".join(tex) if len(tex) <= 3 else r"\mathrm{sys}"
    star = r"^{*}_{\mathrm{CS}}" if frame == "collins-soper" else r"^{*}"
    ref = tex[reference]
    gev, rad = (" [GeV]", " [rad]") if units else ("", "")
    labels = {
        "m_sys": f"$m({system})${gev}",
        "y_sys": f"$y({system})$",
        "pt_sys": f"$p_{{T}}({system})${gev}",
        "cos_theta_star": rf"$\cos\theta{star}({ref})$",
        "phi_star": rf"$\phi{star}({ref})${rad}",
    }
    for n, t in zip(names, tex, strict=True):
        labels[f"pt_{n}"] = f"$p_{{T}}({t})${gev}"
        labels[f"eta_{n}"] = rf"$\eta({t})$"
        labels[f"phi_{n}"] = rf"$\phi({t})${rad}"
    if len(names) >= 3:
        for i, a in enumerate(names):
            for j in range(i + 1, len(names)):
                labels[f"m_{a}_{names[j]}"] = f"$m({tex[i]}{tex[j]})${gev}"
    return labels


def _np(x: ak.Array) -> np.ndarray:
    return np.asarray(ak.to_numpy(x), dtype=np.float64)


def _xyz(v: ak.Array) -> np.ndarray:
    """``[N, 3]`` float64 array of a vector array's (px, py, pz)."""
    return np.stack([_np(v.px), _np(v.py), _np(v.pz)], axis=-1)


def _unit(a: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(a, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return a / norm


def _rest_axes(
    system: ak.Array, frame: str, symmetric_beams: bool, min_qt_fraction: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit axes ``(x*, y*, z*)``, each ``[N, 3]``, in the system's rest frame."""
    n = len(system)
    if frame == "rest":
        eye = np.eye(3)
        return tuple(np.broadcast_to(e, (n, 3)) for e in eye)  # type: ignore[return-value]
    zeros, ones = np.zeros(n), np.ones(n)
    beam_a = vector.zip({"px": zeros, "py": zeros, "pz": ones, "E": ones})
    beam_b = vector.zip({"px": zeros, "py": zeros, "pz": -ones, "E": ones})
    a = _unit(_xyz(beam_a.boostCM_of_p4(system)))
    b = _unit(_xyz(beam_b.boostCM_of_p4(system)))
    if symmetric_beams:
        flip = (_np(system.pz) < 0)[:, None]
        a, b = np.where(flip, b, a), np.where(flip, a, b)
    z = _unit(a - b)
    x = -(a + b)
    small = _np(system.pt) <= min_qt_fraction * np.abs(_np(system.mass))
    x[small] = (1.0, 0.0, 0.0)
    # remove the part along z (exactly zero in exact arithmetic) before normalising
    x = _unit(x - np.sum(x * z, axis=-1, keepdims=True) * z)
    y = np.cross(z, x)
    return x, y, z


def observables(
    p4: ak.Array,
    particle_names: Sequence[str],
    *,
    reference: int = 0,
    frame: Frame = "collins-soper",
    symmetric_beams: bool = False,
    min_qt_fraction: float = 1e-6,
) -> dict[str, np.ndarray]:
    """Truth-level observables of a fixed final state.

    Args:
        p4: ``[N, n]`` Momentum4D array (px, py, pz, E in GeV), e.g. ``FinalState.p4``.
        particle_names: the n particle names, e.g. ``FinalState.names``.
        reference: index of the particle whose angles ``cos_theta_star`` and ``phi_star``
            are measured (default 0, the first particle of the stable order).
        frame: rest-frame axes, ``"collins-soper"`` (default) or ``"rest"`` (see the module
            docstring).
        symmetric_beams: orient ``z*`` along the sign of the system's lab p_z (pp); the
            default keeps it along the beam moving to +z (e+e-, or when the direction of
            the incoming quark is known).
        min_qt_fraction: below ``pt_sys / m_sys`` of this, the Collins–Soper x axis is the
            lab x axis (the beam plane is undefined for a system at rest transversally).

    Returns:
        Ordered ``{key: [N] float64}``; the keys are those of :func:`observable_names`.
        The two rest-frame angles are NaN where the reference particle is at rest in the
        system's frame (a direction is undefined there).

    Raises:
        SchemaError: when ``p4`` is not an ``[N, n]`` Momentum4D array matching the names.
        TopologyError: for fewer than 2 particles.
        ConfigError: for a bad ``reference`` or ``frame``.

    Example:
        >>> import vector
        >>> p4 = vector.zip({"px": [[0.0, 0.0]], "py": [[30.0, -30.0]],
        ...                  "pz": [[40.0, -40.0]], "E": [[50.0, 50.0]]})
        >>> obs = observables(p4, ["mu+", "mu-"])
        >>> float(obs["m_sys"][0]), float(obs["cos_theta_star"][0])
        (100.0, 0.8)
    """
    n = len(particle_names)
    _check_options(n, reference, frame)
    if not (isinstance(p4, ak.Array) and hasattr(p4, "boostCM_of_p4") and p4.ndim == 2):
        raise SchemaError(
            f"expected an [N, n] Momentum4D array (type {getattr(p4, 'type', type(p4))!s}); "
            "build it with vector.zip({'px': ..., 'py': ..., 'pz': ..., 'E': ...}) or use "
            "FinalState.p4"
        )
    counts = np.asarray(ak.to_numpy(ak.num(p4, axis=1)))
    bad = np.flatnonzero(counts != n)
    if bad.size:
        raise SchemaError(
            f"event {bad[0]} has {counts[bad[0]]} particles but {n} names were given "
            f"({' '.join(map(str, particle_names))}); {bad.size} events differ. Select one "
            "topology first with latentsym.physics.select_final_state"
        )
    names = _unique_names(particle_names)
    parts = [p4[:, i] for i in range(n)]
    system = parts[0]
    for p in parts[1:]:
        system = system + p

    out: dict[str, np.ndarray] = {
        "m_sys": _np(system.mass),
        "y_sys": _np(system.rapidity),
        "pt_sys": _np(system.pt),
    }
    ref = _xyz(parts[reference].boostCM_of_p4(system))
    x, y, z = _rest_axes(system, frame, symmetric_beams, min_qt_fraction)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["cos_theta_star"] = np.sum(ref * z, axis=-1) / np.linalg.norm(ref, axis=-1)
    out["phi_star"] = np.arctan2(np.sum(ref * y, axis=-1), np.sum(ref * x, axis=-1))
    for name, p in zip(names, parts, strict=True):
        out[f"pt_{name}"] = _np(p.pt)
        out[f"eta_{name}"] = _np(p.eta)
        out[f"phi_{name}"] = _np(p.phi)
    if n >= 3:
        for i in range(n):
            for j in range(i + 1, n):
                out[f"m_{names[i]}_{names[j]}"] = _np((parts[i] + parts[j]).mass)
    return out
