"""The bundled Pythia samples in samples/: both formats, the same events, exact physics."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
from conftest import SAMPLES, sample

from latentsym import read_events
from latentsym.io import EventFile

NAMES = (
    "ee_mumu_91GeV",
    "ee_tautau_91GeV",
    "ee_bb_91GeV",
    "pp_mumu_13TeV",
    "ee_ZH_250GeV",
)
EXTENSIONS = (".lhe.gz", ".root")
MAX_BYTES = 5_000_000
MIN_EVENTS = 20_000
M_MU = 0.10566  # GeV, Pythia 8.317's muon mass
M_B = 4.8  # GeV, Pythia 8.317's b-quark mass
M_TAU = 1.77682  # GeV, Pythia 8.317's tau mass
EXPECTED = {
    # name: (beams, sqrt_s in GeV, final-state PDG ids sorted, particles per event)
    "ee_mumu_91GeV": ((11, -11), 91.2, [-13, 13], 5),
    "ee_tautau_91GeV": ((11, -11), 91.2, [-15, 15], 5),
    "ee_bb_91GeV": ((11, -11), 91.2, [-5, 5], 5),
    "pp_mumu_13TeV": ((2212, 2212), 13000.0, [-13, 13], 5),
    "ee_ZH_250GeV": ((11, -11), 250.0, [-13, -5, 5, 13], 8),
}


@cache
def _read(filename: str) -> EventFile:
    return read_events(sample(filename))


@cache
def _manifest() -> dict:
    return json.loads(sample("manifest.json").read_text())


def _np(array: ak.Array) -> np.ndarray:
    return ak.to_numpy(array)


def _sum(particles: ak.Array) -> dict[str, np.ndarray]:
    """Summed (E, px, py, pz) per event, [N] each, in GeV."""
    return {c: _np(ak.sum(getattr(particles.p4, c), axis=1)) for c in ("E", "px", "py", "pz")}


def _final(name: str, ext: str) -> ak.Array:
    particles = _read(name + ext).events.particles
    return particles[particles.status == 1]


@pytest.mark.parametrize("ext", EXTENSIONS)
@pytest.mark.parametrize("name", NAMES)
def test_file_size_and_count(name: str, ext: str) -> None:
    path = sample(name + ext)
    size = path.stat().st_size
    assert 0 < size < MAX_BYTES
    assert size == _manifest()[name]["files"][path.name]
    events, info = _read(name + ext)
    assert len(events) >= MIN_EVENTS
    assert info.n_events == len(events) == _manifest()[name]["n_events"]


@pytest.mark.parametrize("name", NAMES)
def test_both_formats_hold_the_same_events(name: str) -> None:
    lhe = _read(name + ".lhe.gz").events
    root = _read(name + ".root").events
    assert len(lhe) == len(root)
    assert ak.all(ak.num(lhe.particles) == ak.num(root.particles))
    for field in ("pid", "status", "mother1", "mother2", "color1", "color2"):
        assert ak.all(lhe.particles[field] == root.particles[field]), field
    for comp in ("px", "py", "pz", "E"):
        a = _np(ak.flatten(getattr(lhe.particles.p4, comp)))
        b = _np(ak.flatten(getattr(root.particles.p4, comp)))
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9, err_msg=comp)
    np.testing.assert_array_equal(_np(lhe.weight), _np(root.weight))
    assert np.all(_np(lhe.weight) == 1.0)


@pytest.mark.parametrize("ext", EXTENSIONS)
@pytest.mark.parametrize("name", NAMES)
def test_topology_and_history(name: str, ext: str) -> None:
    _, _, final_ids, n_particles = EXPECTED[name]
    particles = _read(name + ext).events.particles
    assert np.all(_np(ak.num(particles)) == n_particles)
    status = particles.status
    assert ak.all(status[:, :2] == -1)
    assert ak.all(ak.sum(status == 2, axis=1) == n_particles - 2 - len(final_ids))
    final_pid = np.sort(_np(particles.pid[status == 1]), axis=1)
    assert np.all(final_pid == np.array(final_ids))
    # Incoming partons have no mothers; everything else points to an earlier particle.
    assert ak.all(particles.mother1[:, :2] == 0)
    index = ak.local_index(particles.mother1) + 1
    later = particles[:, 2:]
    assert ak.all((later.mother1 >= 1) & (later.mother1 < index[:, 2:]))


@pytest.mark.parametrize("ext", EXTENSIONS)
@pytest.mark.parametrize("name", NAMES)
def test_four_momentum_conserved(name: str, ext: str) -> None:
    particles = _read(name + ext).events.particles
    final = _sum(particles[particles.status == 1])
    incoming = _sum(particles[particles.status == -1])
    scale = incoming["E"]
    for comp in ("E", "px", "py", "pz"):
        np.testing.assert_allclose(final[comp] / scale, incoming[comp] / scale, atol=1e-9)
    # Incoming partons travel along the beam axis.
    inc = particles[particles.status == -1]
    assert np.all(_np(ak.flatten(inc.p4.px)) == 0.0)
    assert np.all(_np(ak.flatten(inc.p4.py)) == 0.0)


@pytest.mark.parametrize("ext", EXTENSIONS)
def test_ee_mumu_at_rest_and_on_shell(ext: str) -> None:
    final = _final("ee_mumu_91GeV", ext)
    total = _sum(final)
    np.testing.assert_allclose(total["E"], 91.2, rtol=1e-6)
    for comp in ("px", "py", "pz"):
        assert np.abs(total[comp]).max() < 1e-6 * 91.2, comp
    mass2 = _np(ak.flatten(final.p4.mass2))
    np.testing.assert_allclose(mass2, M_MU**2, rtol=1e-3)
    # Back-to-back muons of 45.6 GeV each.
    np.testing.assert_allclose(_np(ak.flatten(final.p4.E)), 45.6, rtol=1e-9)


@pytest.mark.parametrize("ext", EXTENSIONS)
@pytest.mark.parametrize(("name", "mass"), [("ee_tautau_91GeV", M_TAU), ("ee_bb_91GeV", M_B)])
def test_ee_pairs_at_the_z_pole_at_rest_and_on_shell(name: str, mass: float, ext: str) -> None:
    """tau+ tau- and b b~ at 91.2 GeV: back to back, 45.6 GeV each, |p| set by the mass."""
    final = _final(name, ext)
    total = _sum(final)
    np.testing.assert_allclose(total["E"], 91.2, rtol=1e-6)
    for comp in ("px", "py", "pz"):
        assert np.abs(total[comp]).max() < 1e-6 * 91.2, comp
    np.testing.assert_allclose(_np(ak.flatten(final.p4.mass2)), mass**2, rtol=1e-4)
    np.testing.assert_allclose(_np(ak.flatten(final.p4.E)), 45.6, rtol=1e-9)
    p = _np(ak.flatten(final.p4.p))
    np.testing.assert_allclose(p, np.sqrt(45.6**2 - mass**2), rtol=1e-6)


@pytest.mark.parametrize("name", ["ee_tautau_91GeV", "ee_bb_91GeV"])
def test_ee_pairs_angular_distribution(name: str) -> None:
    """1 + cos^2 theta with a small forward-backward asymmetry, flat in phi."""
    final = _final(name, ".lhe.gz")
    fermion = final[final.pid > 0]
    cos_theta = _np(ak.flatten(fermion.p4.costheta))
    n = len(cos_theta)
    assert abs(np.mean(cos_theta**2) - 0.4) < 5 * np.std(cos_theta**2) / np.sqrt(n)
    afb = (np.count_nonzero(cos_theta > 0) - np.count_nonzero(cos_theta < 0)) / n
    assert abs(afb) < 0.15
    phi = _np(ak.flatten(fermion.p4.phi))
    counts, _ = np.histogram(phi, bins=8, range=(-np.pi, np.pi))
    assert np.all(np.abs(counts - n / 8) < 5 * np.sqrt(n / 8))


def test_ee_mumu_angular_distribution() -> None:
    """dσ/dcosθ ∝ 1 + cos²θ + (8/3) A_FB cosθ: <cos²θ> = 0.4 and a small A_FB at the pole."""
    final = _final("ee_mumu_91GeV", ".lhe.gz")
    mu_minus = final[final.pid == 13]
    cos_theta = _np(ak.flatten(mu_minus.p4.costheta))
    n = len(cos_theta)
    assert abs(np.mean(cos_theta**2) - 0.4) < 5 * np.std(cos_theta**2) / np.sqrt(n)
    afb = (np.count_nonzero(cos_theta > 0) - np.count_nonzero(cos_theta < 0)) / n
    assert abs(afb) < 0.05
    phi = _np(ak.flatten(mu_minus.p4.phi))
    counts, _ = np.histogram(phi, bins=8, range=(-np.pi, np.pi))
    assert np.all(np.abs(counts - n / 8) < 5 * np.sqrt(n / 8))


@pytest.mark.parametrize("ext", EXTENSIONS)
def test_pp_mumu_balanced_in_pt_and_in_mass_window(ext: str) -> None:
    final = _final("pp_mumu_13TeV", ext)
    total = _sum(final)
    assert np.abs(total["px"]).max() < 1e-6
    assert np.abs(total["py"]).max() < 1e-6
    mass = np.sqrt(total["E"] ** 2 - total["px"] ** 2 - total["py"] ** 2 - total["pz"] ** 2)
    assert mass.min() > 60.0
    assert mass.max() < 120.0
    # The Z peak dominates the window.
    assert np.mean(np.abs(mass - 91.19) < 5.0) > 0.6
    np.testing.assert_allclose(_np(ak.flatten(final.p4.mass2)), M_MU**2, rtol=1e-2)


@pytest.mark.parametrize("ext", EXTENSIONS)
def test_ee_zh_four_bodies(ext: str) -> None:
    final = _final("ee_ZH_250GeV", ext)
    total = _sum(final)
    np.testing.assert_allclose(total["E"], 250.0, rtol=1e-6)
    for comp in ("px", "py", "pz"):
        assert np.abs(total[comp]).max() < 1e-6 * 250.0, comp
    b = final[abs(final.pid) == 5]
    mu = final[abs(final.pid) == 13]
    np.testing.assert_allclose(_np(ak.flatten(b.p4.mass2)), M_B**2, rtol=1e-6)
    np.testing.assert_allclose(_np(ak.flatten(mu.p4.mass2)), M_MU**2, rtol=1e-2)
    m_bb = _np((b.p4[:, 0] + b.p4[:, 1]).mass)
    m_mumu = _np((mu.p4[:, 0] + mu.p4[:, 1]).mass)
    assert np.abs(m_bb - 125.0).max() < 0.5  # Γ_H = 4 MeV
    assert np.median(np.abs(m_mumu - 91.19)) < 2.5  # Γ_Z = 2.5 GeV


@pytest.mark.parametrize("ext", EXTENSIONS)
@pytest.mark.parametrize("name", NAMES)
def test_run_info(name: str, ext: str) -> None:
    beams, sqrt_s, _, _ = EXPECTED[name]
    info = _read(name + ext).info
    entry = _manifest()[name]
    assert info.beams == beams
    assert info.sqrt_s == pytest.approx(sqrt_s, rel=1e-9)
    assert info.beam_energies == pytest.approx((sqrt_s / 2, sqrt_s / 2), rel=1e-9)
    assert info.cross_section_pb is not None
    assert info.cross_section_pb > 0
    assert info.cross_section_pb == pytest.approx(entry["cross_section_pb"], rel=1e-6)
    assert info.cross_section_error_pb is not None
    assert 0 <= info.cross_section_error_pb < 0.01 * info.cross_section_pb
    assert any("Pythia 8.317" in g for g in info.generators)
    readme = sample("README.md").read_text()
    assert f"{entry['cross_section_pb']:.6g} pb" in readme
    assert f"Random:seed = {entry['seed']}" in readme


def test_cross_sections_are_physical() -> None:
    """LO Pythia values: σ(ee → Z → μμ at the pole) ≈ 2 nb, σ(pp → Z → μμ) ≈ 1.5 nb."""
    manifest = _manifest()
    assert manifest["ee_mumu_91GeV"]["cross_section_pb"] == pytest.approx(2000, rel=0.05)
    assert manifest["pp_mumu_13TeV"]["cross_section_pb"] == pytest.approx(1460, rel=0.05)
    assert manifest["ee_ZH_250GeV"]["cross_section_pb"] == pytest.approx(0.0046, rel=0.1)
    # Z pole: lepton universality up to the tau phase space, dominated by the axial
    # coupling (beta^3 = 0.9977); Gamma(b b~) / Gamma(mu mu) = 377.6 / 83.98 MeV = 4.50 (PDG).
    mumu = manifest["ee_mumu_91GeV"]["cross_section_pb"]
    ratio_tau = manifest["ee_tautau_91GeV"]["cross_section_pb"] / mumu
    assert ratio_tau == pytest.approx(0.9977, abs=0.001)
    assert manifest["ee_bb_91GeV"]["cross_section_pb"] / mumu == pytest.approx(4.50, rel=0.05)


@pytest.mark.slow
def test_regeneration_reproduces_the_first_events(tmp_path: Path) -> None:
    """A fixed seed gives the same event sequence whatever the number of events asked for."""
    pytest.importorskip("pythia8mc")
    n = 200
    subprocess.run(
        [sys.executable, str(SAMPLES / "generate.py"), "--out", str(tmp_path), "--events", str(n)],
        check=True,
        capture_output=True,
    )
    for name in NAMES:
        for ext in EXTENSIONS:
            new = read_events(tmp_path / (name + ext)).events
            old = _read(name + ext).events[:n]
            assert len(new) == n
            assert ak.all(new.particles.pid == old.particles.pid)
            for comp in ("px", "py", "pz", "E"):
                a = _np(ak.flatten(getattr(new.particles.p4, comp)))
                b = _np(ak.flatten(getattr(old.particles.p4, comp)))
                np.testing.assert_array_equal(a, b, err_msg=f"{name}{ext} {comp}")
