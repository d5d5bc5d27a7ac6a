"""The notebooks are part of the documentation: each one must run from top to bottom."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

# What each notebook must print: the labels of its key numbers (the numbers themselves
# depend on the number of epochs, which the test keeps small).
EXPECTED = {
    "03_symmetries.ipynb": (
        "manifold algebra: dimension 3, J_x, J_y, J_z",
        "J_z      p = ",
        "A_FB(mu-) from the test",
        "discovered[0]: nearest J_z",
        "latent view of J_z: ",
        "manifold algebra: dimension 2, J_z, K_z",
        "K_z: p = ",
    ),
    "01_ee_mumu.ipynb": ("mu+ mu-: kept", "k = ", "('m2(mu+,mu-)',) thickness"),
    "02_symmetry_models.ipynb": (
        # the invariant/equivariant VAE on the three Z-pole samples
        "100% of labels",
        "10% of labels",
        "z_inv class accuracy: ",
        "z_eq class accuracy: ",
        "z_inv rotation change: ",
        "z_eq rotation change: ",
        "reconstruction error (invariant VAE): ",
        "plain VAE class accuracy (all 6 latents): ",
        "reconstruction error (plain VAE): ",
        # mechanism-identified latents
        "mu+ mu-: kept",
        "mechanism VAE circular correlation with phi(mu-): ",
        "mechanism VAE invariance error of the other latents: ",
        "plain VAE best latent pair",
        "plain VAE best linear plane (fitted on the truth) circular correlation: ",
        "boost-z correlation of the shift latent with y(mu mu): ",
        "boost-z shift slope: ",
        # the linear VAE against its analytic optimum
        "beta = 0.1 ",
        "active directions ",
        "largest |sigma^2 / theory - 1| ",
        "loss / optimum - 1 ",
        "O(2): active directions per seed ",
        "O(2) angle of the latent axes to the nearest eigenvector, per seed: ",
        "control angle of the latent axes to the nearest eigenvector, per seed: ",
    ),
}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_runs(name, monkeypatch):
    epochs = os.environ.get("LATENTSYM_NOTEBOOK_EPOCHS", "5")
    monkeypatch.setenv("LATENTSYM_NOTEBOOK_EPOCHS", epochs)
    monkeypatch.setenv(
        "LATENTSYM_NOTEBOOK_EVENTS", os.environ.get("LATENTSYM_NOTEBOOK_EVENTS", "4000")
    )
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    client.execute()
    outputs = "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    for text in EXPECTED[name]:
        assert text in outputs, f"{name} did not print {text!r}"
