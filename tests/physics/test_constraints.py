"""The dimension ledger on toys with known answers and on the bundled samples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from latentsym.errors import ConfigError, SchemaError
from latentsym.physics.constraints import Tolerances, candidate_constraints, dimension_ledger
from latentsym.toys import MUON_PAIR, ee_to_mumu, flat_phase_space, pp_to_mumu

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
TWO = ["sum_E", "sum_px", "sum_py", "sum_pz", "m2(mu+)", "m2(mu-)", "m2(mu+,mu-)"]


def _float32(p: np.ndarray) -> np.ndarray:
    return p.astype(np.float32).astype(np.float64)


def _lhe_digits(p: np.ndarray) -> np.ndarray:
    return np.array([float(f"{v:.10e}") for v in p.ravel()]).reshape(p.shape)


def test_candidate_names_and_values() -> None:
    cands = candidate_constraints(["g", "g", "mu+"])
    names = [c.name for c in cands]
    assert names[:4] == ["sum_E", "sum_px", "sum_py", "sum_pz"]
    assert "m2(g1)" in names
    assert "m2(g1,mu+)" in names
    assert len(names) == 4 + 3 + 3
    p = torch.tensor([[[5.0, 3.0, 0.0, 0.0], [5.0, -3.0, 0.0, 0.0], [2.0, 0.0, 1.0, 1.0]]])
    values = {c.name: float(c.fn(p)[0]) for c in cands}
    assert values["sum_E"] == 12.0
    assert values["m2(g1)"] == 16.0
    assert values["m2(g1,g2)"] == 100.0
    assert values["m2(mu+)"] == 2.0


@pytest.mark.parametrize("rounding", [None, _float32, _lhe_digits])
@pytest.mark.parametrize("representation", ["cartesian", "collider"])
def test_ee_to_mumu(rounding, representation: str) -> None:
    p = ee_to_mumu(3000, seed=1)
    if rounding is not None:
        p = rounding(p)
    led = dimension_ledger(p, MUON_PAIR, representation)
    assert all(led.kind_of(n) == "exact" for n in TWO)
    assert max(c.spread for c in led.constraints) < 1e-7
    assert led.n_features == 8
    assert led.manifold_dim == 2
    assert led.manifold_dim_approx == 2
    assert led.jacobian.min == led.jacobian.max == 6
    if representation == "cartesian":
        assert led.linear_rank == 3
        assert set(led.constant_features) == {"E_mu+", "E_mu-"}


@pytest.mark.parametrize("rounding", [None, _float32])
@pytest.mark.parametrize("representation", ["cartesian", "collider"])
def test_pp_to_mumu(rounding, representation: str) -> None:
    p = pp_to_mumu(3000, seed=2)
    if rounding is not None:
        p = rounding(p)
    led = dimension_ledger(p, MUON_PAIR, representation)
    assert led.names("exact")[:4] == ["sum_px", "sum_py", "m2(mu+)", "m2(mu-)"]
    assert led.names("broken") == ["sum_E", "sum_pz"]
    assert led.names("approximate") == ["m2(mu+,mu-)"]
    z_mass = next(c for c in led.constraints if c.name == "m2(mu+,mu-)")
    assert 0.02 < z_mass.width < 0.06
    assert led.manifold_dim == 4
    assert led.manifold_dim_approx == 3
    if representation == "cartesian":
        assert led.linear_rank == 6


def test_wide_mass_window_is_broken() -> None:
    # A Breit-Wigner truncated far from its peak is a continuum: the pair mass is broken.
    p = pp_to_mumu(3000, seed=3, mass_window=(130.0, 400.0))
    led = dimension_ledger(p, MUON_PAIR)
    assert led.kind_of("m2(mu+,mu-)") == "broken"
    assert led.manifold_dim == led.manifold_dim_approx == 4


@pytest.mark.parametrize("representation", ["cartesian", "collider"])
@pytest.mark.parametrize("rounding", [None, _float32])
def test_flat_three_body(representation: str, rounding) -> None:
    p = flat_phase_space(3000, 3, 100.0, seed=4)
    if rounding is not None:
        p = rounding(p)
    led = dimension_ledger(p, ["g", "g", "g"], representation)
    assert led.names("broken") == ["m2(g1,g2)", "m2(g1,g3)", "m2(g2,g3)"]
    assert led.manifold_dim == 5
    assert led.linear_rank == (8 if representation == "cartesian" else 9)


def test_five_bodies() -> None:
    led = dimension_ledger(flat_phase_space(2000, 5, 300.0, seed=6), list("abcde"))
    assert (led.n_features, led.manifold_dim, led.linear_rank) == (20, 11, 16)


def test_to_dict_is_json_safe() -> None:
    led = dimension_ledger(pp_to_mumu(500, seed=1), MUON_PAIR)
    data = json.loads(json.dumps(led.to_dict(), allow_nan=False))
    assert data["manifold_dim"] == 4
    assert {c["name"]: c["kind"] for c in data["constraints"]}["sum_pz"] == "broken"
    assert "d = 4" in led.table()


def _bundled(name: str) -> tuple[np.ndarray, tuple[str, ...]]:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"{path} not generated yet (samples/generate.py)")
    from latentsym.io import read_events
    from latentsym.physics.selection import select_final_state

    fs = select_final_state(read_events(path).events, "mu+ mu-")
    return fs.momenta()[:5000], fs.names


def test_bundled_ee_mumu() -> None:
    p, names = _bundled("ee_mumu_91GeV.lhe.gz")
    led = dimension_ledger(p, names)
    assert all(led.kind_of(n) == "exact" for n in TWO)
    assert (led.manifold_dim, led.linear_rank) == (2, 3)
    assert dimension_ledger(p, names, "collider").manifold_dim == 2


def test_bundled_pp_mumu() -> None:
    p, names = _bundled("pp_mumu_13TeV.lhe.gz")
    led = dimension_ledger(p, names)
    assert led.names("broken") == ["sum_E", "sum_pz"]
    assert led.kind_of("m2(mu+,mu-)") == "approximate"
    assert (led.manifold_dim, led.manifold_dim_approx, led.linear_rank) == (4, 3, 6)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"momenta": np.zeros((10, 2, 3))}, SchemaError, r"\[N, n, 4\]"),
        ({"particle_names": ["mu+"]}, ConfigError, "one name per particle"),
        ({"representation": "polar"}, ConfigError, "allowed: cartesian, collider"),
        ({"tolerances": Tolerances(exact_tol=0.5)}, ConfigError, "exact_tol < approx_tol"),
        ({"n_points": 0}, ConfigError, "n_points"),
    ],
)
def test_bad_input(kwargs: dict, error: type, match: str) -> None:
    args = {"momenta": ee_to_mumu(20), "particle_names": MUON_PAIR, **kwargs}
    with pytest.raises(error, match=match):
        dimension_ledger(**args)


def test_non_finite_momenta_name_the_event() -> None:
    p = ee_to_mumu(20)
    p[7, 1, 2] = np.nan
    with pytest.raises(SchemaError, match="event 7, particle 1"):
        dimension_ledger(p, MUON_PAIR)
    q = ee_to_mumu(20)
    q[3, 0, 1:3] = 0.0  # along the beam: eta infinite
    with pytest.raises(SchemaError, match="event 3"):
        dimension_ledger(q, MUON_PAIR, "collider")
