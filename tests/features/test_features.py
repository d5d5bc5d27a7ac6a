"""Feature building and the invertible scaler."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import torch
import vector
from conftest import TEST_DATA

from latentsym.errors import ConfigError, SchemaError
from latentsym.features import FeatureMatrix, Scaler, build, constant_mask
from latentsym.io import make_events, read_events
from latentsym.physics.selection import select_final_state
from latentsym.toys import MUON_PAIR, ee_to_mumu, pp_to_mumu


@pytest.fixture(scope="module")
def ee() -> np.ndarray:
    return ee_to_mumu(2000, seed=3)


def test_cartesian_names_units_values(ee: np.ndarray) -> None:
    fm = build(ee, particle_names=MUON_PAIR)
    assert isinstance(fm, FeatureMatrix)
    assert fm.names == (
        "E_mu+", "px_mu+", "py_mu+", "pz_mu+", "E_mu-", "px_mu-", "py_mu-", "pz_mu-",
    )  # fmt: skip
    assert fm.units == ("GeV",) * 8
    assert fm.representation == "cartesian"
    assert fm.particle_names == MUON_PAIR
    assert fm.values.dtype == np.float32
    assert fm.momenta.dtype == np.float64
    assert fm.values.shape == (2000, 8)
    np.testing.assert_array_equal(fm.values, ee.reshape(2000, 8).astype(np.float32))
    np.testing.assert_array_equal(fm.weight, np.ones(2000))
    # both muons carry sqrt(s) / 2 at fixed sqrt(s): exactly the energies are constant
    assert fm.constant == ("E_mu+", "E_mu-")
    np.testing.assert_array_equal(fm.constant_mask, [1, 0, 0, 0, 1, 0, 0, 0])


def test_collider_matches_vector(ee: np.ndarray) -> None:
    fm = build(ee, "collider", particle_names=MUON_PAIR)
    assert fm.names[:4] == ("pt_mu+", "eta_mu+", "phi_mu+", "m_mu+")
    assert fm.units[:4] == ("GeV", "1", "rad", "GeV")
    assert fm.representation == "collider"
    v: Any = vector.array({"E": ee[..., 0], "px": ee[..., 1], "py": ee[..., 2], "pz": ee[..., 3]})
    got = fm.values.reshape(-1, 2, 4).astype(np.float64)
    np.testing.assert_allclose(got[..., 0], v.pt, rtol=1e-6)
    np.testing.assert_allclose(got[..., 1], v.eta, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got[..., 2], v.phi, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got[..., 3], v.mass, rtol=1e-5)
    np.testing.assert_allclose(got[..., 3], 0.1056583755, rtol=1e-5)
    # the muon mass is constant, pT is not (it is a function of the polar angle)
    assert fm.constant == ("m_mu+", "m_mu-")


def test_pp_toy_has_no_constant_features() -> None:
    fm = build(pp_to_mumu(500, seed=1), particle_names=MUON_PAIR)
    assert fm.constant == ()
    assert build(pp_to_mumu(500, seed=1), "collider").constant == ("m_p1", "m_p2")


def test_final_state_input_uses_selection_order(ee: np.ndarray) -> None:
    # give mu- first: the final state puts mu+ (pid -13) first
    p = ee[:50]
    comp = [p[:, ::-1, i].tolist() for i in range(4)]
    events = make_events(
        p4={"E": comp[0], "px": comp[1], "py": comp[2], "pz": comp[3]},
        pid=[[13, -13]] * 50, weight=np.full(50, 2.5),
    )  # fmt: skip
    fs = select_final_state(events, "mu+ mu-")
    fm = build(fs)
    assert fm.particle_names == ("mu+", "mu-")
    np.testing.assert_allclose(fm.momenta, p, rtol=1e-15)
    np.testing.assert_array_equal(fm.weight, np.full(50, 2.5))
    np.testing.assert_array_equal(fm.event_index, np.arange(50))


def test_real_lhe_file() -> None:
    fs = select_final_state(read_events(TEST_DATA / "ee_mumu_3events.lhe").events, "mu+ mu-")
    fm = build(fs)
    assert fm.n_events == 3
    assert fm.names[0] == "E_mu+"
    np.testing.assert_array_equal(fm.momenta[:, :, 0], 45.6)
    assert fm.constant == ("E_mu+", "E_mu-")
    # momentum balance of the file
    np.testing.assert_allclose(fm.values[:, 1:4], -fm.values[:, 5:8], rtol=1e-6)


def test_constant_rule_edges() -> None:
    rng = np.random.default_rng(0)
    base = np.full((1000, 4), 45.6)
    base[:, 1] += 45.6 * 1e-9 * rng.standard_normal(1000)  # rounding-level: constant
    base[:, 2] += 45.6 * 1e-4 * rng.standard_normal(1000)  # physical spread: not constant
    base[:, 3] = 1e-8 * rng.standard_normal(1000)  # ~0 in any unit: constant
    np.testing.assert_array_equal(constant_mask(base), [True, True, False, True])


def test_build_errors(ee: np.ndarray) -> None:
    bad = ee[:10].copy()
    bad[3, 1, 2] = np.nan
    with pytest.raises(SchemaError, match=r"py of particle 1 \(mu-\) in event 3"):
        build(bad, particle_names=MUON_PAIR)
    beam = ee[:10].copy()
    beam[5, 0, 1:3] = 0.0
    with pytest.raises(SchemaError, match=r"eta .* event 5 .*beam axis"):
        build(beam, "collider")
    build(beam, "cartesian")  # fine in (E, px, py, pz)
    with pytest.raises(ConfigError, match=r"\[N, n, 4\]"):
        build(ee.reshape(-1, 8))
    with pytest.raises(ConfigError, match="allowed: cartesian, collider"):
        build(ee, "spherical")
    with pytest.raises(ConfigError, match="3 particle names"):
        build(ee, particle_names=["a", "b", "c"])


def test_scaler_inverse_numpy_and_torch(ee: np.ndarray) -> None:
    fm = build(ee, particle_names=MUON_PAIR)
    sc = Scaler.fit(fm.values, names=fm.names, constant=fm.constant)
    assert sc.constant == ("E_mu+", "E_mu-")
    np.testing.assert_array_equal(sc.scale[[0, 4]], 1.0)
    y = sc.transform(fm.momenta.reshape(-1, 8))
    assert y.dtype == np.float64
    np.testing.assert_allclose(y[:, [0, 4]], 0.0, atol=1e-5)
    np.testing.assert_allclose(y[:, [1, 2, 3]].std(axis=0), 1.0, rtol=1e-6)
    np.testing.assert_allclose(y[:, [1, 2, 3]].mean(axis=0), 0.0, atol=1e-6)
    x = fm.momenta.reshape(-1, 8)
    np.testing.assert_allclose(sc.inverse_transform(y), x, rtol=1e-14, atol=1e-12)
    y32 = sc.transform(fm.values)
    assert y32.dtype == np.float32
    np.testing.assert_allclose(sc.inverse_transform(y32), fm.values, rtol=1e-6, atol=1e-5)
    # torch: same numbers, autograd through the inverse (decoder Jacobians in GeV)
    t = torch.tensor(y, requires_grad=True)
    back = sc.inverse_transform(t)
    np.testing.assert_allclose(back.detach().numpy(), x, rtol=1e-14, atol=1e-12)
    back[:, 1].sum().backward()
    assert t.grad is not None
    np.testing.assert_allclose(t.grad[:, 1].numpy(), sc.scale[1])
    np.testing.assert_allclose(sc.transform(torch.from_numpy(x)).numpy(), y, rtol=1e-12)


def test_scaler_json_round_trip_and_errors(ee: np.ndarray) -> None:
    fm = build(ee, particle_names=MUON_PAIR)
    sc = Scaler.fit(fm.values, names=fm.names)
    again = Scaler.from_dict(json.loads(json.dumps(sc.to_dict())))
    np.testing.assert_array_equal(again.mean, sc.mean)
    np.testing.assert_array_equal(again.scale, sc.scale)
    assert again.names == sc.names
    assert again.constant == sc.constant == ("E_mu+", "E_mu-")  # found on the data itself
    with pytest.raises(ConfigError, match=r"expects \[\.\.\., 8\] features"):
        sc.transform(np.zeros((3, 7)))
    with pytest.raises(ConfigError, match="unknown scaler kind"):
        Scaler.from_dict({**sc.to_dict(), "kind": "minmax"})
    with pytest.raises(ConfigError, match="not among the names"):
        Scaler.fit(fm.values, names=fm.names, constant=["E_e+"])
