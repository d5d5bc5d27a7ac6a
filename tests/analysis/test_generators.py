"""Candidate generators and the manifold algebra of the exact constraints."""

from __future__ import annotations

import numpy as np
import pytest
import vector
from conftest import sample

from latentsym.analysis.generators import (
    LORENTZ_NAMES,
    AlgebraOptions,
    discrete_candidates,
    expected_span,
    flow,
    generator_matrix,
    lorentz_generators,
    manifold_algebra,
    name_directions,
    tangent_vectors,
)
from latentsym.errors import ConfigError, SchemaError
from latentsym.features import Scaler, build
from latentsym.io import read_events
from latentsym.physics import select_final_state
from latentsym.physics.constraints import dimension_ledger
from latentsym.toys import MUON_PAIR, ee_to_mumu, flat_phase_space, pp_to_mumu


def _scale(p: np.ndarray, representation: str = "cartesian") -> np.ndarray:
    fm = build(p, representation, particle_names=["p"] * p.shape[1])
    return Scaler.fit(fm.values, constant=[fm.names[i] for i in np.flatnonzero(fm.constant_mask)],
                      names=fm.names).scale  # fmt: skip


def test_lorentz_algebra_commutators() -> None:
    g = dict(zip(LORENTZ_NAMES, lorentz_generators(), strict=True))

    def br(a: str, b: str) -> np.ndarray:
        return g[a] @ g[b] - g[b] @ g[a]

    assert np.allclose(br("J_x", "J_y"), g["J_z"])
    assert np.allclose(br("J_y", "J_z"), g["J_x"])
    assert np.allclose(br("J_x", "K_y"), g["K_z"])
    assert np.allclose(br("K_x", "K_y"), -g["J_z"])  # boosts close on a rotation
    metric = np.einsum("aij,bij->ab", lorentz_generators(), lorentz_generators()) / 2
    assert np.allclose(metric, np.eye(6))


def test_flow_matches_vector_rotations_and_boosts() -> None:
    p = pp_to_mumu(50, seed=1)
    angle, y = 0.7, 0.4
    p4 = vector.zip({"E": p[..., 0], "px": p[..., 1], "py": p[..., 2], "pz": p[..., 3]})
    rot = flow(p, lorentz_generators()[2], angle)
    ref = p4.rotateZ(angle)
    assert np.allclose(rot[..., 1], np.asarray(ref.px))
    assert np.allclose(rot[..., 2], ref.py)
    boosted = flow(p, lorentz_generators()[5], y)
    ref = p4.boostZ(beta=np.tanh(y))
    assert np.allclose(boosted[..., 3], np.asarray(ref.pz))
    assert np.allclose(boosted[..., 0], ref.E)
    per_event = flow(p, lorentz_generators()[2], np.full(len(p), angle))
    assert np.allclose(per_event, rot)


@pytest.mark.parametrize("representation", ["cartesian", "collider"])
def test_tangent_vectors_are_the_flow_derivative(representation: str) -> None:
    p = pp_to_mumu(20, seed=2)
    scale = _scale(p, representation)
    t = tangent_vectors(p, representation, scale)
    eps = 1e-6
    for a, g in enumerate(lorentz_generators()):
        plus = build(flow(p, g, eps), representation, particle_names=MUON_PAIR).values
        minus = build(flow(p, g, -eps), representation, particle_names=MUON_PAIR).values
        # float32 features: compare the direction, to the precision a difference allows
        fd = (plus.astype(float) - minus.astype(float)) / (2 * eps) / scale
        assert np.allclose(t[:, a], fd, rtol=0.05, atol=0.05 * np.abs(t[:, a]).max())


def test_name_directions_keeps_the_span() -> None:
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(np.eye(6)[[0, 2]].T @ rng.normal(size=(2, 2)))
    named = np.abs(name_directions(q.T))
    named = named[np.argsort(np.argmax(named, axis=1))]
    assert np.allclose(named, np.eye(6)[[0, 2]], atol=1e-12)


@pytest.mark.parametrize("representation", ["cartesian", "collider"])
def test_toy_algebras(representation: str) -> None:
    cases = [
        (ee_to_mumu(1500, seed=4), MUON_PAIR, ("J_x", "J_y", "J_z")),
        (pp_to_mumu(1500, seed=4), MUON_PAIR, ("J_z", "K_z")),
        (flat_phase_space(1500, 3, seed=4), ("g", "g", "g"), ("J_x", "J_y", "J_z")),
    ]
    for p, names, expected in cases:
        ledger = dimension_ledger(p, names, representation)
        assert expected_span(ledger) == expected
        alg = manifold_algebra(p, names, ledger, _scale(p, representation),
                               AlgebraOptions(expected=expected))  # fmt: skip
        assert alg.dimension == len(expected), (names, alg.singular_values)
        assert alg.names == expected
        assert min(alg.cosines) > 0.999999
        assert alg.max_principal_angle is not None
        assert alg.max_principal_angle < 0.01
        assert alg.gap > 1e6  # kept singular values at rounding level, the others O(0.1)
        gram = alg.gram_array
        assert np.allclose(gram, gram.T)
        for c in alg.basis_array:  # the penalty vanishes on the algebra
            assert c @ gram @ c < 1e-12


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ee_mumu_91GeV.lhe.gz", ("J_x", "J_y", "J_z")),
        ("pp_mumu_13TeV.lhe.gz", ("J_z", "K_z")),
        ("ee_ZH_250GeV.lhe.gz", ("J_x", "J_y", "J_z")),
    ],
)
def test_bundled_sample_algebras(name: str, expected: tuple[str, ...]) -> None:
    events, _ = read_events(sample(name), max_events=2000)
    fs = select_final_state(events)
    p = fs.momenta()
    fm = build(fs)
    scale = Scaler.fit(fm.values, names=fm.names, constant=fm.constant).scale
    ledger = dimension_ledger(p, fs.names)
    alg = manifold_algebra(
        p, fs.names, ledger, scale, AlgebraOptions(expected=expected_span(ledger))
    )
    assert alg.expected == expected
    assert alg.names == expected
    assert alg.max_principal_angle is not None
    assert alg.max_principal_angle < 0.01
    assert set(alg.in_algebra) == set(LORENTZ_NAMES)
    others = [alg.in_algebra[n] for n in LORENTZ_NAMES if n not in expected]
    assert max(others) < 1e-6


def test_discrete_candidates() -> None:
    p = ee_to_mumu(10, seed=0)
    by_name = {c.name: c for c in discrete_candidates(MUON_PAIR)}
    assert list(by_name) == ["P_z", "P", "C", "C*P_z", "CP"]
    assert np.allclose(by_name["P_z"].fn(p)[..., 3], -p[..., 3])
    assert np.allclose(by_name["C"].fn(p), p[:, ::-1])
    # on back-to-back muons C acts as the inversion P
    assert np.allclose(by_name["C"].fn(p), by_name["P"].fn(p))
    zh = discrete_candidates(["mu+", "b~", "b", "mu-"])
    c = next(d for d in zh if d.name == "C")
    q = np.arange(4 * 4 * 2, dtype=float).reshape(2, 4, 4)
    assert np.allclose(c.fn(q), q[:, [3, 2, 1, 0]])
    assert np.allclose(c.fn(c.fn(q)), q)
    assert [d.name for d in discrete_candidates(["mu+", "e-"])] == ["P_z", "P"]  # no C
    swaps = [d.name for d in discrete_candidates(["g", "g", "g"])]
    assert swaps[-3:] == ["swap(0,1)", "swap(0,2)", "swap(1,2)"]


def test_errors() -> None:
    with pytest.raises(SchemaError, match=r"momenta must be \[N, n, 4\]"):
        flow(np.zeros((3, 4)), np.eye(4), 0.1)
    with pytest.raises(ConfigError, match="6 coefficients"):
        generator_matrix([1.0, 0.0])
    with pytest.raises(ConfigError, match="unknown generators"):
        AlgebraOptions(expected=("J_w",))
    p = ee_to_mumu(100)
    ledger = dimension_ledger(p, MUON_PAIR)
    with pytest.raises(SchemaError, match="pass the momenta the ledger was made from"):
        manifold_algebra(p[:50], MUON_PAIR, ledger, np.ones(8))
    with pytest.raises(ConfigError, match="scale must be 8 positive numbers"):
        manifold_algebra(p, MUON_PAIR, ledger, np.ones(7))
