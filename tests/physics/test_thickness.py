"""Thickness of approximate constraints: the displacement per unit stays on the exact
manifold, changes the constraint by one unit, and is the shortest such displacement."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentsym import toys
from latentsym.errors import ConfigError, SchemaError
from latentsym.physics.constraints import (
    candidate_constraints,
    constraint_gradients,
    dimension_ledger,
)
from latentsym.physics.thickness import constraint_geometry


def _geometry(p: np.ndarray, names: tuple[str, ...], **kw: object):
    led = dimension_ledger(p, names)
    return led, constraint_geometry(p, names, led, **kw)


def test_exact_only_sample_has_no_approximate_constraint() -> None:
    led, geo = _geometry(toys.ee_to_mumu(3000), toys.MUON_PAIR)
    assert geo.n_constraints == 0
    assert geo.names == ()
    assert (geo.d, geo.d_approx) == (led.manifold_dim, led.manifold_dim_approx) == (2, 2)
    assert geo.nn_distance > 0


def test_displacement_per_unit_moves_along_the_exact_manifold_only() -> None:
    p = toys.pp_to_mumu(4000, seed=1)
    led, geo = _geometry(p, toys.MUON_PAIR, n_probes=200)
    assert geo.names == ("m2(mu+,mu-)",)
    feats = torch.from_numpy(p[geo.probes].reshape(len(geo.probes), -1))
    by_name = {c.name: c for c in candidate_constraints(toys.MUON_PAIR)}
    exact = [by_name[c.name] for c in led.constraints if c.kind == "exact"]
    g_exact = constraint_gradients(feats, "cartesian", exact).numpy() * geo.scale
    g_mass = constraint_gradients(feats, "cartesian", [by_name["m2(mu+,mu-)"]]).numpy() * geo.scale
    step = geo.per_unit[:, :, 0]  # [P, F] per unit of m^2
    # the exact constraints do not change, the pair mass squared changes by one unit
    rel_exact = np.einsum("pkf,pf->pk", g_exact, step) / (
        np.linalg.norm(g_exact, axis=2) * np.linalg.norm(step, axis=1)[:, None]
    )
    assert np.abs(rel_exact).max() < 1e-9
    np.testing.assert_allclose(np.einsum("pf,pf->p", g_mass[:, 0], step), 1.0, rtol=1e-9)


def test_the_physical_path_is_never_shorter_than_the_minimal_displacement() -> None:
    """Changing the pair mass at fixed rapidity and decay angles is one path on the exact
    manifold; the minimal-norm displacement cannot be longer than it."""
    rng = np.random.default_rng(3)
    n = 300
    m = rng.uniform(85.0, 97.0, n)
    dirs = rng.normal(size=(n, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    y = rng.normal(0.0, 1.0, n)

    def events(mass: np.ndarray) -> np.ndarray:
        half = mass / 2.0
        a = np.concatenate([half[:, None], dirs * half[:, None]], axis=1)
        b = np.concatenate([half[:, None], -dirs * half[:, None]], axis=1)
        p = np.stack([b, a], axis=1)
        ch, sh = np.cosh(y)[:, None], np.sinh(y)[:, None]
        e, pz = p[..., 0].copy(), p[..., 3].copy()
        p[..., 0], p[..., 3] = e * ch + pz * sh, pz * ch + e * sh
        return p

    p = events(m)
    names = ("e+", "e-")
    led = dimension_ledger(p, names)
    assert led.kind_of("m2(e+,e-)") == "approximate"
    geo = constraint_geometry(p, names, led, n_probes=n)
    dm = 1e-4
    path = (events(m + dm) - events(m - dm)).reshape(n, -1) / (2 * dm) / geo.scale  # dz / dm
    per_m2 = np.linalg.norm(path, axis=1) / (2 * m)  # |dz| per unit of m^2 along the path
    minimal = np.linalg.norm(geo.per_unit[:, :, 0], axis=1)
    order = np.argsort(geo.probes)
    assert np.all(minimal[order] <= per_m2[geo.probes][order] * (1 + 1e-6))


def test_thickness_grows_with_the_width() -> None:
    thick = []
    for ratio in (0.001, 0.01):
        _, geo = _geometry(toys.resonance_decay(4000, ratio, seed=2), toys.LEPTON_PAIR)
        thick.append(float(geo.thickness[0]))
    # m^2 spreads as Gamma M; the gradient does not depend on the width
    assert 7.0 < thick[1] / thick[0] < 13.0


def test_two_resonances_give_two_thicknesses() -> None:
    _, geo = _geometry(toys.ee_to_ww(4000), toys.WW_FINAL_STATE)
    assert set(geo.names) == {"m2(nu_mu~,mu-)", "m2(e+,nu_e)"}
    assert geo.per_unit.shape[1:] == (16, 2)
    assert np.all(geo.thickness > 0)
    # the two W decays are alike: thicknesses within 20 % of each other
    assert abs(np.log(geo.thickness[0] / geo.thickness[1])) < 0.2


def test_bad_inputs_are_refused() -> None:
    p = toys.pp_to_mumu(500)
    led = dimension_ledger(p, toys.MUON_PAIR)
    with pytest.raises(ConfigError, match="scale"):
        constraint_geometry(p, toys.MUON_PAIR, led, np.ones(3))
    with pytest.raises(SchemaError, match="500 events"):
        constraint_geometry(p[:100], toys.MUON_PAIR, led)
    with pytest.raises(ConfigError, match="n_probes"):
        constraint_geometry(p, toys.MUON_PAIR, led, n_probes=0)
    _, geo = _geometry(p, toys.MUON_PAIR)
    with pytest.raises(SchemaError, match="Jacobian"):
        geo.in_latent(np.zeros((3, 2, 8)))


def test_latent_displacement_counts_only_what_leaves_the_encoded_sheet() -> None:
    """``in_latent`` keeps the part of ``J per_unit`` off the image of the sheet: none
    when the k latents are all the sheet's (the shell not opened), all of it when one
    latent reads the step across the shell and the others the sheet."""
    _, geo = _geometry(toys.pp_to_mumu(3000), toys.MUON_PAIR, n_probes=50)
    assert geo.sheet is not None
    # the sheet: d_approx = 3 directions, orthogonal to the step across the shell
    np.testing.assert_allclose(np.trace(geo.sheet, axis1=1, axis2=2), geo.d_approx, atol=1e-9)
    np.testing.assert_allclose(np.einsum("pfg,pgc->pfc", geo.sheet, geo.per_unit), 0, atol=1e-9)
    w, v = np.linalg.eigh(geo.sheet)
    along = v[:, :, -geo.d_approx :]  # [P, F, 3]: eigenvalue 1
    assert np.all(w[:, -geo.d_approx :] > 1 - 1e-9)
    rng = np.random.default_rng(1)
    mix = rng.normal(size=(len(geo.probes), 3, 3))
    closed = np.einsum("pab,pfb->paf", mix, along)  # three latents, all along the sheet
    assert np.all(geo.in_latent(closed) == 0.0)  # not opened: exactly zero, not rounding
    step = geo.per_unit[:, :, 0] / np.linalg.norm(geo.per_unit[:, :, 0], axis=1, keepdims=True)
    opened = np.concatenate([closed, step[:, None, :]], axis=1)  # a fourth reads the step
    np.testing.assert_allclose(
        np.linalg.norm(geo.in_latent(opened)[:, :, 0], axis=1),
        np.linalg.norm(geo.per_unit[:, :, 0], axis=1),
        rtol=1e-9,
    )
    # a fourth latent that also reads the sheet tilts the encoded sheet towards it: the
    # distance from it is the step's over sqrt(1 + tilt^2), here sqrt(2)
    sheared = opened.copy()
    sheared[:, 3] += closed[:, 0]  # the fourth latent = step + the first latent
    np.testing.assert_allclose(
        np.linalg.norm(geo.in_latent(sheared)[:, :, 0], axis=1),
        np.linalg.norm(geo.per_unit[:, :, 0], axis=1) / np.sqrt(2),
        rtol=1e-6,
    )
