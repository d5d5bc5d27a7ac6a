"""Feature representations: differentiable maps between momenta and features.

Every representation maps ``[..., n, 4]`` momenta ordered (E, px, py, pz) in GeV to
``[..., 4 n]`` features and back, in torch, so that constraint Jacobians and decoder checks
can be taken in any representation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from latentsym.errors import ConfigError

__all__ = ["REPRESENTATIONS", "Cartesian", "Collider", "Representation", "get_representation"]


@dataclass(frozen=True)
class Representation:
    """Base class. ``name``; per-particle component names and units."""

    name: str = ""
    components: tuple[str, ...] = ()
    units: tuple[str, ...] = ()

    def feature_names(self, particle_names: tuple[str, ...]) -> list[str]:
        """``[f"{component}_{particle}"]`` with particle index appended for duplicates."""
        labels = _unique_labels(particle_names)
        return [f"{c}_{p}" for p in labels for c in self.components]

    def feature_units(self, n_particles: int) -> list[str]:
        """Units of every feature, in feature order."""
        return list(self.units) * n_particles

    def from_momenta(self, p: torch.Tensor) -> torch.Tensor:
        """``[..., n, 4]`` (E, px, py, pz) -> ``[..., 4 n]`` features."""
        raise NotImplementedError

    def to_momenta(self, f: torch.Tensor) -> torch.Tensor:
        """``[..., 4 n]`` features -> ``[..., n, 4]`` (E, px, py, pz)."""
        raise NotImplementedError


def _unique_labels(names: tuple[str, ...]) -> list[str]:
    seen: dict[str, int] = {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
    out, idx = [], dict.fromkeys(seen, 0)
    for n in names:
        if seen[n] > 1:
            idx[n] += 1
            out.append(f"{n}{idx[n]}")
        else:
            out.append(n)
    return out


@dataclass(frozen=True)
class Cartesian(Representation):
    """(E, px, py, pz) per particle, in GeV: the identity map."""

    name: str = "cartesian"
    components: tuple[str, ...] = ("E", "px", "py", "pz")
    units: tuple[str, ...] = ("GeV", "GeV", "GeV", "GeV")

    def from_momenta(self, p: torch.Tensor) -> torch.Tensor:
        return p.reshape(*p.shape[:-2], -1)

    def to_momenta(self, f: torch.Tensor) -> torch.Tensor:
        return f.reshape(*f.shape[:-1], -1, 4)


@dataclass(frozen=True)
class Collider(Representation):
    """(pT, eta, phi, m) per particle: GeV, 1, rad, GeV.

    The mass is ``sqrt(max(E^2 - |p|^2, 0))``; ``to_momenta`` uses
    ``E = sqrt(pT^2 cosh^2 eta + m^2)``.
    """

    name: str = "collider"
    components: tuple[str, ...] = ("pt", "eta", "phi", "m")
    units: tuple[str, ...] = ("GeV", "1", "rad", "GeV")

    def from_momenta(self, p: torch.Tensor) -> torch.Tensor:
        e, px, py, pz = p.unbind(-1)
        pt = torch.hypot(px, py)
        eta = torch.asinh(pz / pt)
        phi = torch.atan2(py, px)
        m = torch.sqrt(torch.clamp(e * e - px * px - py * py - pz * pz, min=0.0))
        return torch.stack([pt, eta, phi, m], dim=-1).reshape(*p.shape[:-2], -1)

    def to_momenta(self, f: torch.Tensor) -> torch.Tensor:
        g = f.reshape(*f.shape[:-1], -1, 4)
        pt, eta, phi, m = g.unbind(-1)
        px, py, pz = pt * torch.cos(phi), pt * torch.sin(phi), pt * torch.sinh(eta)
        e = torch.sqrt(px * px + py * py + pz * pz + m * m)
        return torch.stack([e, px, py, pz], dim=-1)


REPRESENTATIONS: dict[str, Representation] = {"cartesian": Cartesian(), "collider": Collider()}


def get_representation(name: str | Representation) -> Representation:
    """Look a representation up by name (``"cartesian"`` or ``"collider"``)."""
    if isinstance(name, Representation):
        return name
    try:
        return REPRESENTATIONS[name]
    except KeyError:
        raise ConfigError(
            f"unknown feature representation {name!r}; allowed: {', '.join(REPRESENTATIONS)}"
        ) from None
