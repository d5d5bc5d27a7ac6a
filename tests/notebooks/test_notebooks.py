"""The notebooks are part of the documentation: each one must run from top to bottom."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("name", ["01_ee_mumu.ipynb"])
def test_notebook_runs(name, monkeypatch):
    monkeypatch.setenv("LATENTSYM_NOTEBOOK_EPOCHS", os.environ.get("LATENTSYM_NOTEBOOK_EPOCHS", "5"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    outputs = "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    assert "mu+ mu-: kept" in outputs
    assert "k = " in outputs
