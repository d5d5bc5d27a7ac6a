"""How thin the approximate constraints of a sample are, in the metric the model sees.

An approximate constraint ``c`` (the pair mass squared of a narrow resonance) holds to a
width: the events fill a shell around the surface ``c = c0`` inside the manifold of the
exact constraints. How thick that shell is in feature space decides at which scale the
direction across it can be seen. In the standardised features ``z = (x - mean) / scale``
that the VAE is trained on, the thickness of constraint ``j`` at event ``i`` is

    ``t_ij = spread_j / |P_i grad_z c_j(x_i)|``  (for one constraint; for several,
    ``spread_j`` times the length of the minimal-norm displacement that changes ``c_j``
    by one unit and the others not at all)

with ``spread_j = IQR(c_j) / 1.349`` (a robust standard deviation, GeV^2 for a mass
squared), ``grad_z c = scale * grad_x c`` and ``P_i`` the projector onto the tangent
space of the exact constraints at ``x_i``: events only move within the exact manifold,
so only the part of the gradient along it separates them. (On pp -> mu+ mu- most of the
pair mass's gradient lies in the muons' px and py, along the exact ``sum_px`` and
``sum_py``: without the projection the thickness reads five times thinner.) The
reported thickness is the median of ``t_ij`` over probe events.

Besides that summary, :class:`ConstraintGeometry` keeps what a prediction of the
dimension at a scale needs, event by event (see
:mod:`latentsym.analysis.resolution`): the values of the approximate constraints on every
event and, at the probe events, the displacement in standardised features per unit change
of the constraints, the minimal-norm ``delta_z = (P_i G_i)^+ delta_c`` within the exact
manifold (``G_i`` the gradients of the approximate constraints), and the tangent space
of the ``d_approx``-dimensional sheet the shells leave (:attr:`ConstraintGeometry.sheet`).
Pushed through the encoder's Jacobian the displacement gives the same in latent units,
less its part along the encoded sheet (:meth:`ConstraintGeometry.in_latent`): a model
that spends its relevant latents on the sheet alone maps a step across the shell to a
move along the sheet, which opens no direction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from scipy.spatial import cKDTree

from latentsym.errors import ConfigError, SchemaError
from latentsym.features.representations import get_representation
from latentsym.physics.constraints import Ledger, candidate_constraints, constraint_gradients

__all__ = ["ConstraintGeometry", "ShellCandidates", "constraint_geometry"]

_IQR_TO_SIGMA = 1.349
_NN_POINTS = 200_000


@dataclass(frozen=True, eq=False)
class ShellCandidates:
    """Every constraint that can be a thin shell: the approximate ones of the ledger and
    the pair masses it calls broken (a wide relative width can still be a thin shell in
    the metric of the model: a narrow peak on a wide continuum, or a wide Breit-Wigner
    in a strongly boosted sample).

    Attributes:
        names, kinds: the constraints and their ledger kind (``"approximate"``,
            ``"broken"``).
        widths: ``[C]`` their robust relative widths.
        values: ``[N, C]`` their values on every event.
        spread: ``[C]`` robust spreads ``IQR / 1.349``.
        tangent: ``[P, C, F]`` their gradients in standardised features along the exact
            manifold, at the probes.
        single: ``[C]`` each one's own thickness, ``median(spread / |tangent|)``.
        d_approx: the ledger's ``manifold_dim_approx`` (exact and approximate closed).
        exact_normals: ``[P, F, R]`` an orthonormal basis of the exact constraints'
            normals at the probes (columns of zeros past each probe's rank); None when
            not known.
    """

    names: tuple[str, ...]
    kinds: tuple[str, ...]
    widths: np.ndarray
    values: np.ndarray
    spread: np.ndarray
    tangent: np.ndarray
    single: np.ndarray
    d_approx: int
    exact_normals: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class ConstraintGeometry:
    """The approximate constraints of a sample, event by event, in standardised features.

    Attributes:
        names: the constraints treated as thin shells (``"m2(mu+,mu-)"``), in order: the
            ledger's approximate ones and, after :meth:`at_resolution`, the broken pair
            masses thinner than the model's resolution.
        kinds: their ledger kind, ``"approximate"`` or ``"broken"``.
        widths: ``[C]`` their robust relative widths (the ledger's ``width``).
        values: ``[N, C]`` their values on every event.
        spread: ``[C]`` robust spreads ``IQR / 1.349`` (units of the constraint).
        probes: ``[P]`` indices of the probe events.
        per_unit: ``[P, F, C]`` displacement in standardised features per unit change of
            each constraint, within the exact manifold, at the probes.
        thickness: ``[C]`` median over the probes of ``spread / |P grad_z c|``.
        d, d_approx: the manifold dimension of the exact constraints, and with these
            shells closed too (the ledger's ``manifold_dim_approx`` when every one is
            approximate).
        scale: ``[F]`` the standardisation of the features ``per_unit`` is in.
        nn_distance: median nearest-neighbour distance of the standardised features over
            the N events, the finest scale the data resolves (above 200,000 events it is
            measured on a seeded subsample of 200,000 and scaled by ``(200000 / N)^(1 /
            d_approx)``, as the distance falls on a ``d_approx``-dimensional sample).
        n_events: N.
        candidates: every constraint that can be a shell (:class:`ShellCandidates`).
        resolution_limit: the model resolution the broken pair masses were compared with
            (NaN before :meth:`at_resolution`).
        sheet: ``[P, F, F]`` the projector onto the tangent space of the ``d_approx``
            sheet at the probes (along the exact manifold and along every shell of
            ``names``); None when not known (then :meth:`in_latent` does not project).
    """

    names: tuple[str, ...]
    kinds: tuple[str, ...]
    widths: np.ndarray
    values: np.ndarray
    spread: np.ndarray
    probes: np.ndarray
    per_unit: np.ndarray
    thickness: np.ndarray
    d: int
    d_approx: int
    scale: np.ndarray
    nn_distance: float
    n_events: int
    candidates: ShellCandidates
    resolution_limit: float = float("nan")
    sheet: np.ndarray | None = None

    @property
    def n_constraints(self) -> int:
        """Number of approximate constraints C."""
        return len(self.names)

    def in_latent(self, jacobian: np.ndarray) -> np.ndarray:
        """Displacement per unit change of the constraints in latent units ``[P, k, C]``,
        across the encoded sheet.

        The encoder carries a step across the shell (``per_unit``) to ``J per_unit``, but
        only its part off the image of the sheet, ``J T`` with ``T`` the sheet's tangent
        space (:attr:`sheet`), separates an event from the sheet in latent space; the
        rest moves it *along* the encoded sheet, which adds no dimension. Where the
        model gives the sheet all its k relevant directions (k = d_approx: the shell is
        not opened), nothing is left across it and the displacement is zero.

        Args:
            jacobian: ``[P, k, F]`` Jacobian of the encoded means (the k relevant
                directions) with respect to the standardised features, at the probes.
        """
        jac = np.asarray(jacobian, dtype=np.float64)
        if (
            jac.ndim != 3
            or jac.shape[0] != len(self.probes)
            or jac.shape[2] != self.per_unit.shape[1]
        ):
            raise SchemaError(
                f"ConstraintGeometry.in_latent: need a Jacobian [{len(self.probes)}, k, "
                f"{self.per_unit.shape[1]}] at the probes, got shape {jac.shape}"
            )
        step = np.einsum("pkf,pfc->pkc", jac, self.per_unit)
        if self.sheet is None or jac.shape[1] == 0:
            return step
        along = _orthonormal(np.einsum("pkf,pfg->pkg", jac, self.sheet))  # [P, k, k]
        across = step - np.einsum("pka,pla,plc->pkc", along, along, step)
        # what is left of a step along the sheet is rounding: a clean zero (not opened)
        size = np.linalg.norm(step, axis=1, keepdims=True)
        rounding = np.linalg.norm(across, axis=1, keepdims=True) <= 1e-9 * size
        return np.where(rounding, 0.0, across)

    def at_resolution(self, limit: float) -> ConstraintGeometry:
        """The same sample for a model of resolution ``limit`` in standardised features
        (the decoder noise ``sqrt(beta / 2)``): the approximate constraints plus every
        broken pair mass whose own thickness lies below ``limit``. Such a pair mass is as
        thin as a narrow resonance for that model: its direction cannot be opened by it.

        Example:
            >>> from latentsym.toys import resonance_decay
            >>> from latentsym.physics.constraints import dimension_ledger
            >>> p = resonance_decay(4000, 0.3)
            >>> geo = constraint_geometry(p, ["e+", "e-"], dimension_ledger(p, ["e+", "e-"]))
            >>> geo.names, geo.at_resolution(0.22).names, geo.at_resolution(0.01).names
            ((), ('m2(e+,e-)',), ())
        """
        if not (math.isfinite(limit) and limit > 0):
            raise ConfigError(f"at_resolution: limit must be positive, got {limit!r}")
        c = self.candidates
        keep = [
            k == "approximate" or (k == "broken" and t < limit)
            for k, t in zip(c.kinds, c.single, strict=True)
        ]
        return replace(_select(self, np.array(keep, dtype=bool)), resolution_limit=float(limit))

    def thickness_of(self, per_unit: np.ndarray) -> np.ndarray:
        """``[C]`` thickness in the units of ``per_unit`` ``[P, D, C]``: the median over the
        probes of ``spread * |per_unit[:, :, j]|`` (``per_unit`` itself for features,
        :meth:`in_latent` for latents)."""
        return np.median(self.spread * np.linalg.norm(per_unit, axis=1), axis=0)


def _check_scale(scale: np.ndarray, n_features: int) -> np.ndarray:
    arr = np.asarray(scale, dtype=np.float64)
    if arr.shape != (n_features,) or not np.all(np.isfinite(arr)) or not np.all(arr > 0):
        raise ConfigError(
            f"constraint_geometry: scale must be {n_features} positive finite numbers (the "
            f"feature standardisation, e.g. Scaler.scale), got shape {arr.shape}"
        )
    return arr


def _nn_distance(z: np.ndarray, dim: int, seed: int) -> float:
    take = np.random.default_rng([seed, 1]).permutation(len(z))[:_NN_POINTS]
    pts = np.unique(z[take], axis=0)
    if len(pts) < 2:
        return float("nan")
    dist, _ = cKDTree(pts).query(pts, k=2)
    return float(np.median(dist[:, 1])) * (len(take) / len(z)) ** (1.0 / max(dim, 1))


def constraint_geometry(
    momenta: np.ndarray,
    particle_names: Sequence[str],
    ledger: Ledger,
    scale: np.ndarray | None = None,
    *,
    n_probes: int = 2000,
    seed: int = 0,
) -> ConstraintGeometry:
    """Thickness and per-event geometry of the ledger's approximate constraints.

    Args:
        momenta: ``[N, n, 4]`` (E, px, py, pz) in GeV, the events of ``ledger``.
        particle_names: their names, in order.
        ledger: the sample's :func:`~latentsym.physics.constraints.dimension_ledger`.
        scale: ``[F]`` standardisation of the features (the model's ``Scaler.scale``);
            default: the standard deviation of each feature over the sample (1 where it
            is constant).
        n_probes: events (drawn at random) where gradients are taken.
        seed: seed of that draw.

    Returns:
        A :class:`ConstraintGeometry` (with no constraints when none is approximate).

    Example:
        >>> from latentsym.toys import pp_to_mumu
        >>> from latentsym.physics.constraints import dimension_ledger
        >>> p = pp_to_mumu(5000)
        >>> geo = constraint_geometry(p, ["mu+", "mu-"], dimension_ledger(p, ["mu+", "mu-"]))
        >>> geo.names, bool(0.002 < geo.thickness[0] < 0.02), geo.nn_distance < 0.3
        (('m2(mu+,mu-)',), True, True)
    """
    if isinstance(n_probes, bool) or not isinstance(n_probes, int) or n_probes < 1:
        raise ConfigError(
            f"constraint_geometry: n_probes must be a positive integer, got {n_probes!r}"
        )
    p = np.asarray(momenta, dtype=np.float64)
    if p.ndim != 3 or len(p) != ledger.n_events:
        raise SchemaError(
            f"constraint_geometry: momenta [N, n, 4] of the ledger's {ledger.n_events} events "
            f"expected, got shape {p.shape}"
        )
    rep = get_representation(ledger.representation)
    feats = rep.from_momenta(torch.from_numpy(p))
    x = feats.numpy()
    std = x.std(axis=0)
    constant = np.isin(np.asarray(ledger.feature_names), ledger.constant_features)
    default = np.where(constant | (std <= 0), 1.0, std)
    sc = _check_scale(default if scale is None else scale, x.shape[1])
    z = (x - x.mean(axis=0)) / sc
    nn = _nn_distance(z[:, ~constant], ledger.manifold_dim_approx, seed)
    by_name = {c.name: c for c in candidate_constraints(particle_names)}
    approx_results = [c for c in ledger.constraints if c.kind == "approximate"]
    exact = [by_name[c.name] for c in ledger.constraints if c.kind == "exact" and c.name in by_name]
    cand_results = approx_results + [
        c
        for c in ledger.constraints
        if c.kind == "broken" and c.family == "mass2" and len(by_name[c.name].particles) > 1
    ]
    cand = [by_name[c.name] for c in cand_results]
    n_c = len(cand)
    rng = np.random.default_rng(seed)
    probes = np.sort(rng.choice(len(p), size=min(n_probes, len(p)), replace=False))
    with torch.no_grad():
        values = (
            torch.stack([c.fn(torch.from_numpy(p)) for c in cand], dim=-1).numpy()
            if cand
            else np.zeros((len(p), 0))
        )
    q25, q75 = np.percentile(values, [25, 75], axis=0) if cand else (np.zeros(0), np.zeros(0))
    spread = (q75 - q25) / _IQR_TO_SIGMA
    at = feats[probes]
    grads = constraint_gradients(at, rep, cand + exact).numpy() * sc  # d c / d z
    rows = [grads[:, n_c:]]
    if constant.any():  # a constant feature is an exact constraint along its own axis
        eye = np.eye(x.shape[1])[constant]
        rows.append(np.broadcast_to(eye, (len(probes), *eye.shape)))
    exact_rows = np.concatenate(rows, axis=1)
    basis, sv, _ = np.linalg.svd(np.transpose(exact_rows, (0, 2, 1)), full_matrices=False)
    keep = sv > 1e-9 * np.maximum(sv[:, :1], np.finfo(float).tiny)
    basis = basis * keep[:, None, :]
    g = grads[:, :n_c]  # [P, C, F]
    g_tangent = g - np.einsum("pfk,pck->pcf", basis, np.einsum("pfk,pcf->pck", basis, g))
    norms = np.maximum(np.linalg.norm(g_tangent, axis=2), np.finfo(float).tiny)
    candidates = ShellCandidates(
        names=tuple(c.name for c in cand_results),
        kinds=tuple(c.kind for c in cand_results),
        widths=np.array([c.width for c in cand_results]),
        values=values,
        spread=spread,
        tangent=g_tangent,
        single=np.median(spread / norms, axis=0) if cand else np.zeros(0),
        d_approx=ledger.manifold_dim_approx,
        exact_normals=basis,
    )
    empty = np.zeros(0)
    whole = ConstraintGeometry(
        names=(), kinds=(), widths=empty, values=np.zeros((len(p), 0)), spread=empty,
        probes=probes, per_unit=np.zeros((len(probes), x.shape[1], 0)), thickness=empty,
        d=ledger.manifold_dim, d_approx=ledger.manifold_dim_approx, scale=sc,
        nn_distance=nn, n_events=len(p), candidates=candidates,
    )  # fmt: skip
    return _select(whole, np.array([k == "approximate" for k in candidates.kinds], dtype=bool))


def _orthonormal(columns: np.ndarray) -> np.ndarray:
    """``[P, A, B]``: an orthonormal basis of the span of the B columns, per probe, padded
    with columns of zeros (relative tolerance 1e-6 of the largest singular value)."""
    u, sv, _ = np.linalg.svd(columns, full_matrices=False)
    keep = sv > 1e-6 * np.maximum(sv[:, :1], np.finfo(float).tiny)
    return u * keep[:, None, :]


def _sheet(normals: np.ndarray | None, tangent: np.ndarray) -> np.ndarray | None:
    """``[P, F, F]`` projector onto the complement of the exact normals and the shells'
    gradients ``tangent`` ``[P, C, F]``: the tangent space of the sheet."""
    if normals is None:
        return None
    basis = _orthonormal(np.concatenate([normals, np.transpose(tangent, (0, 2, 1))], axis=2))
    eye = np.eye(tangent.shape[2])
    return eye - np.einsum("pfa,pga->pfg", basis, basis)


def _rank(rows: np.ndarray) -> np.ndarray:
    """Rank of ``[P, C, F]`` row sets, per probe (relative tolerance 1e-9)."""
    if rows.shape[1] == 0:
        return np.zeros(len(rows), dtype=int)
    sv = np.linalg.svd(rows, compute_uv=False)
    return (sv > 1e-9 * np.maximum(sv[:, :1], np.finfo(float).tiny)).sum(axis=1)


def _select(geometry: ConstraintGeometry, keep: np.ndarray) -> ConstraintGeometry:
    """The geometry of the candidate shells in ``keep``."""
    c = geometry.candidates
    idx = np.flatnonzero(keep)
    tangent = c.tangent[:, idx]
    per_unit = (
        np.linalg.pinv(tangent) if len(idx) else np.zeros((len(tangent), c.tangent.shape[2], 0))
    )
    approx = np.array([c.kinds[i] == "approximate" for i in idx], dtype=bool)
    # the broken pair masses close directions the approximate ones leave open
    closed = int(np.median(_rank(tangent) - _rank(tangent[:, approx]))) if len(idx) else 0
    return replace(
        geometry,
        names=tuple(c.names[i] for i in idx),
        kinds=tuple(c.kinds[i] for i in idx),
        widths=c.widths[idx],
        values=c.values[:, idx],
        spread=c.spread[idx],
        per_unit=per_unit,
        thickness=np.median(c.spread[idx] * np.linalg.norm(per_unit, axis=1), axis=0)
        if len(idx)
        else np.zeros(0),
        d_approx=c.d_approx - closed,
        sheet=_sheet(c.exact_normals, tangent),
    )
