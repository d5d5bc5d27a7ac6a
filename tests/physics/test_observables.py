import awkward as ak
import matplotlib.pyplot as plt
import numpy as np
import pytest
import vector
from conftest import external

from latentsym.errors import ConfigError, SchemaError, TopologyError
from latentsym.physics.observables import observable_labels, observable_names, observables

RNG_SEED = 20250

# ---------------------------------------------------------------- helpers (plain numpy)


def _boost(p: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Active boost of (E, px, py, pz) rows by velocity ``beta`` [3] (the textbook matrix)."""
    b2 = float(beta @ beta)
    gamma = 1.0 / np.sqrt(1.0 - b2)
    e, v = p[..., 0], p[..., 1:]
    bp = v @ beta
    e_new = gamma * (e + bp)
    v_new = v + ((gamma - 1.0) * bp / b2 + gamma * e)[..., None] * beta
    return np.concatenate([e_new[..., None], v_new], axis=-1)


def _two_body(theta, phi, m_sys=91.0, m1=0.0, m2=0.0):
    """[N, 2, 4] rest-frame momenta, particle 0 along (theta, phi)."""
    theta, phi = np.broadcast_arrays(np.asarray(theta, float), np.asarray(phi, float))
    pstar = np.sqrt((m_sys**2 - (m1 + m2) ** 2) * (m_sys**2 - (m1 - m2) ** 2)) / (2 * m_sys)
    n = np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], axis=-1)
    e1, e2 = np.hypot(pstar, m1), np.hypot(pstar, m2)
    p1 = np.concatenate([np.full((*theta.shape, 1), e1), pstar * n], axis=-1)
    p2 = np.concatenate([np.full((*theta.shape, 1), e2), -pstar * n], axis=-1)
    return np.stack([p1, p2], axis=1)


def _p4(mom: np.ndarray) -> ak.Array:
    """Regular [N, n] Momentum4D from an (E, px, py, pz) array, as FinalState.p4 is built."""
    return vector.zip(
        {
            "px": ak.Array(mom[..., 1]),
            "py": ak.Array(mom[..., 2]),
            "pz": ak.Array(mom[..., 3]),
            "E": ak.Array(mom[..., 0]),
        }
    )


def _wrap(a):
    return np.angle(np.exp(1j * np.asarray(a)))


THETA = np.array([0.3, 1.0, 1.5707963, 2.2, 2.9])
PHI = np.array([-2.8, -1.0, 0.2, 1.3, 3.0])


# ---------------------------------------------------------------- known angles


def test_rest_frame_event_gives_its_angles_back():
    obs = observables(_p4(_two_body(THETA, PHI)), ["mu+", "mu-"])
    np.testing.assert_allclose(obs["cos_theta_star"], np.cos(THETA), atol=1e-12)
    np.testing.assert_allclose(obs["phi_star"], PHI, atol=1e-12)
    np.testing.assert_allclose(obs["m_sys"], 91.0, rtol=1e-12)
    np.testing.assert_allclose(obs["y_sys"], 0.0, atol=1e-12)
    np.testing.assert_allclose(obs["pt_sys"], 0.0, atol=1e-12)


@pytest.mark.parametrize("frame", ["collins-soper", "rest"])
@pytest.mark.parametrize("beta_z", [0.6, -0.9])
def test_longitudinal_boost_keeps_angles_and_shifts_rapidity(frame, beta_z):
    mom = _boost(_two_body(THETA, PHI, m1=0.1, m2=0.1), np.array([0.0, 0.0, beta_z]))
    obs = observables(_p4(mom), ["mu+", "mu-"], frame=frame)
    np.testing.assert_allclose(obs["cos_theta_star"], np.cos(THETA), atol=1e-10)
    np.testing.assert_allclose(_wrap(obs["phi_star"] - PHI), 0.0, atol=1e-10)
    np.testing.assert_allclose(obs["m_sys"], 91.0, rtol=1e-10)
    np.testing.assert_allclose(obs["y_sys"], np.arctanh(beta_z), rtol=1e-10)
    # the lab angles did change: the test is not trivially passing
    assert np.max(np.abs(np.cos(2 * np.arctan(np.exp(-obs["eta_mu+"]))) - np.cos(THETA))) > 0.05


@pytest.mark.parametrize("alpha", [0.0, 0.7, -2.5])
def test_collins_soper_angles_after_transverse_then_longitudinal_boost(alpha):
    # The CS frame is reached from the lab by a longitudinal boost to p_z = 0 followed by a
    # transverse boost to p_T = 0: build the event by the inverse steps from the CS frame.
    beta_t, beta_z = 0.5, 0.8
    mom = _two_body(THETA, PHI, m1=0.105, m2=0.105)
    mom = _boost(mom, beta_t * np.array([np.cos(alpha), np.sin(alpha), 0.0]))
    mom = _boost(mom, np.array([0.0, 0.0, beta_z]))
    obs = observables(_p4(mom), ["mu-", "mu+"])
    np.testing.assert_allclose(obs["cos_theta_star"], np.cos(THETA), atol=1e-10)
    # x* points along the system's transverse momentum, so phi* is measured from alpha
    np.testing.assert_allclose(_wrap(obs["phi_star"] - (PHI - alpha)), 0.0, atol=1e-10)
    np.testing.assert_allclose(obs["m_sys"], 91.0, rtol=1e-10)
    np.testing.assert_allclose(obs["pt_sys"], 91.0 * beta_t / np.sqrt(1 - beta_t**2), rtol=1e-10)
    np.testing.assert_allclose(obs["y_sys"], np.arctanh(beta_z), rtol=1e-10)
    # the plain rest-frame angle differs here by a Wigner rotation
    rest = observables(_p4(mom), ["mu-", "mu+"], frame="rest")
    assert np.max(np.abs(rest["cos_theta_star"] - np.cos(THETA))) > 0.01


def test_symmetric_beams_follow_the_system_direction():
    mom = _boost(_two_body(THETA, PHI), np.array([0.3, 0.0, -0.7]))
    fixed = observables(_p4(mom), ["mu+", "mu-"])
    sym = observables(_p4(mom), ["mu+", "mu-"], symmetric_beams=True)
    # p_z < 0: z* and y* flip (a rotation by pi about x*)
    np.testing.assert_allclose(sym["cos_theta_star"], -fixed["cos_theta_star"], atol=1e-12)
    np.testing.assert_allclose(_wrap(sym["phi_star"] + fixed["phi_star"]), 0.0, atol=1e-12)
    # p_z > 0: nothing changes
    mom = _boost(_two_body(THETA, PHI), np.array([0.3, 0.0, 0.7]))
    fixed = observables(_p4(mom), ["mu+", "mu-"])
    sym = observables(_p4(mom), ["mu+", "mu-"], symmetric_beams=True)
    np.testing.assert_allclose(sym["cos_theta_star"], fixed["cos_theta_star"], atol=1e-12)


def _closed_form_cs(mom: np.ndarray, ref: int):
    """Collins-Soper angles from the closed forms of the literature (massless particles)."""
    p1, p2 = mom[:, ref], mom[:, 1 - ref]
    q = p1 + p2
    m2 = q[:, 0] ** 2 - np.sum(q[:, 1:] ** 2, axis=1)
    qt = np.hypot(q[:, 1], q[:, 2])
    plus = lambda p: (p[:, 0] + p[:, 3]) / np.sqrt(2)  # noqa: E731
    minus = lambda p: (p[:, 0] - p[:, 3]) / np.sqrt(2)  # noqa: E731
    cos = 2 * (plus(p1) * minus(p2) - minus(p1) * plus(p2)) / np.sqrt(m2 * (m2 + qt**2))
    delta = p1[:, 1:3] - p2[:, 1:3]
    qhat = q[:, 1:3] / qt[:, None]
    rhat = np.stack([-qhat[:, 1], qhat[:, 0]], axis=1)  # z x Q_T
    phi = np.arctan2(
        np.sqrt((m2 + qt**2) / m2) * np.sum(delta * rhat, axis=1), np.sum(delta * qhat, axis=1)
    )
    return cos, phi


def test_collins_soper_matches_closed_forms_on_random_events():
    rng = np.random.default_rng(RNG_SEED)
    n = 2000
    theta = np.arccos(rng.uniform(-1, 1, n))
    phi = rng.uniform(-np.pi, np.pi, n)
    mom = np.empty((n, 2, 4))
    for i in range(n):  # a different boost per event
        a = rng.uniform(-np.pi, np.pi)
        bt = rng.uniform(0, 0.8) * np.array([np.cos(a), np.sin(a), 0.0])
        ev = _boost(_two_body(theta[i : i + 1], phi[i : i + 1]), bt)
        mom[i] = _boost(ev, np.array([0.0, 0.0, rng.uniform(-0.95, 0.95)]))[0]
    obs = observables(_p4(mom), ["e+", "e-"], reference=1)
    cos, phi_cf = _closed_form_cs(mom, ref=1)
    np.testing.assert_allclose(obs["cos_theta_star"], cos, atol=1e-9)
    np.testing.assert_allclose(_wrap(obs["phi_star"] - phi_cf), 0.0, atol=1e-9)


# ---------------------------------------------------------------- lab-frame quantities


def test_lab_quantities_match_numpy_formulas():
    rng = np.random.default_rng(RNG_SEED + 1)
    n = 500
    p3 = rng.normal(0.0, 40.0, size=(n, 3, 3))
    masses = np.array([0.0, 4.8, 0.105])
    e = np.sqrt(np.sum(p3**2, axis=-1) + masses**2)
    mom = np.concatenate([e[..., None], p3], axis=-1)
    obs = observables(_p4(mom), ["b", "b~", "mu-"])
    for i, name in enumerate(["b", "b~", "mu-"]):
        px, py, pz = p3[:, i].T
        pt = np.hypot(px, py)
        np.testing.assert_allclose(obs[f"pt_{name}"], pt, rtol=1e-12)
        np.testing.assert_allclose(obs[f"eta_{name}"], np.arcsinh(pz / pt), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(obs[f"phi_{name}"], np.arctan2(py, px), atol=1e-12)
    for i, j, key in [(0, 1, "m_b_b~"), (0, 2, "m_b_mu-"), (1, 2, "m_b~_mu-")]:
        s = mom[:, i] + mom[:, j]
        np.testing.assert_allclose(obs[key], np.sqrt(s[:, 0] ** 2 - np.sum(s[:, 1:] ** 2, 1)))
    tot = mom.sum(axis=1)
    np.testing.assert_allclose(obs["pt_sys"], np.hypot(tot[:, 1], tot[:, 2]), rtol=1e-12)
    y = 0.5 * np.log((tot[:, 0] + tot[:, 3]) / (tot[:, 0] - tot[:, 3]))
    np.testing.assert_allclose(obs["y_sys"], y, rtol=1e-9, atol=1e-12)
    assert list(obs) == observable_names(["b", "b~", "mu-"])
    assert all(v.dtype == np.float64 and v.shape == (n,) for v in obs.values())
    # pair masses are Lorentz invariant: unchanged by an arbitrary boost
    boosted = observables(_p4(_boost(mom, np.array([0.3, -0.4, 0.6]))), ["b", "b~", "mu-"])
    np.testing.assert_allclose(boosted["m_b_mu-"], obs["m_b_mu-"], rtol=1e-9)
    np.testing.assert_allclose(boosted["m_sys"], obs["m_sys"], rtol=1e-9)


def test_repeated_names_get_suffixes_and_two_body_has_no_pair_mass():
    keys = observable_names(["g", "g", "g"])
    assert {"pt_g1", "pt_g2", "pt_g3", "m_g1_g2", "m_g1_g3", "m_g2_g3"} <= set(keys)
    assert not any(k.startswith("m_mu") for k in observable_names(["mu+", "mu-"]))


# ---------------------------------------------------------------- labels


def test_labels_cover_every_key_and_render():
    names = ["mu+", "mu-", "b~"]
    labels = observable_labels(names)
    assert list(labels) == observable_names(names)
    assert labels["m_sys"] == r"$m(\mu^{+}\mu^{-}\overline{b})$ [GeV]"
    assert labels["cos_theta_star"].endswith(r"(\mu^{+})$")
    assert labels["phi_mu-"].endswith("[rad]")
    assert "[" not in labels["eta_mu-"]
    assert "[" not in observable_labels(names, units=False)["pt_sys"]
    fig, ax = plt.subplots()
    for i, text in enumerate(labels.values()):
        ax.text(0.0, i, text)
    fig.canvas.draw()  # mathtext must parse every label
    plt.close(fig)


# ---------------------------------------------------------------- errors


def test_bad_inputs_raise_clear_errors():
    p4 = _p4(_two_body(THETA, PHI))
    with pytest.raises(SchemaError, match="2 particles but 3 names"):
        observables(p4, ["mu+", "mu-", "gamma"])
    with pytest.raises(ConfigError, match=r"reference=2.*allowed: 0 \.\. 1"):
        observables(p4, ["mu+", "mu-"], reference=2)
    with pytest.raises(ConfigError, match=r"frame='helicity'.*collins-soper, rest"):
        observables(p4, ["mu+", "mu-"], frame="helicity")  # type: ignore[arg-type]
    with pytest.raises(TopologyError, match="at least 2"):
        observables(p4[:, :1], ["mu+"])
    with pytest.raises(SchemaError, match="Momentum4D"):
        observables(ak.Array([[1.0, 2.0]]), ["mu+", "mu-"])
    ragged = vector.zip({"px": [[1.0, 2.0], [1.0]], "py": [[0.0, 0.0], [0.0]],
                         "pz": [[0.0, 0.0], [0.0]], "E": [[5.0, 5.0], [5.0]]})  # fmt: skip
    with pytest.raises(SchemaError, match="event 1 has 1 particles"):
        observables(ragged, ["mu+", "mu-"])


# ---------------------------------------------------------------- a real generator file


def test_powheg_z_events_collins_soper():
    from latentsym.io.read import read_events
    from latentsym.physics.selection import select_final_state

    events = read_events(external("pylhe-testfile-powheg-box-v2-Z.lhe")).events
    fs = select_final_state(events, "e+ e- g")
    assert fs.names[:2] == ("e+", "e-")
    assert fs.n_events > 40
    obs = observables(fs.p4[:, :2], fs.names[:2], reference=1, symmetric_beams=True)
    assert np.all(np.abs(obs["cos_theta_star"]) <= 1.0)
    mom = fs.momenta()[:, :2]
    cos, phi = _closed_form_cs(mom, ref=1)
    # electrons: the massless closed form holds to (m_e / m_ll)^2
    sign = np.sign(mom[:, :, 3].sum(axis=1))
    np.testing.assert_allclose(obs["cos_theta_star"], sign * cos, atol=1e-6)
    assert np.all(obs["pt_sys"] > 0)  # NLO: the Z recoils against a parton
    np.testing.assert_allclose(_wrap(obs["phi_star"] - sign * phi), 0.0, atol=1e-5)
    q = mom.sum(axis=1)
    np.testing.assert_allclose(obs["m_sys"], np.sqrt(q[:, 0] ** 2 - np.sum(q[:, 1:] ** 2, axis=1)))
    # the CS angle differs from the plain rest-frame one once the Z has p_T
    cs = observables(fs.p4[:, :2], fs.names[:2], reference=1)
    rest = observables(fs.p4[:, :2], fs.names[:2], reference=1, frame="rest")
    assert np.max(np.abs(rest["cos_theta_star"] - cs["cos_theta_star"])) > 1e-3
