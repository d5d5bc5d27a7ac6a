"""Shared fixtures: the real files in ../shared/data/external and the bundled samples."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXTERNAL = ROOT.parent / "shared" / "data" / "external"
SAMPLES = ROOT / "samples"
TEST_DATA = Path(__file__).resolve().parent / "data"

os.environ.setdefault("MPLBACKEND", "Agg")
if "MPLCONFIGDIR" not in os.environ:
    _mpl_dir = tempfile.mkdtemp(prefix="latentsym-mpl-")
    atexit.register(shutil.rmtree, _mpl_dir, ignore_errors=True)
    os.environ["MPLCONFIGDIR"] = _mpl_dir


def external(name: str) -> Path:
    """Path of a real file from ../shared/data/external; skips the test when absent."""
    path = EXTERNAL / name
    if not path.exists():
        pytest.skip(f"{path} not present (../shared/data is beside the checkout only in CI)")
    return path


def sample(name: str) -> Path:
    """Path of a bundled sample in samples/; fails when missing (they are committed)."""
    path = SAMPLES / name
    assert path.exists(), f"bundled sample {path} is missing: run samples/generate.py"
    return path


EXTERNAL_LHE = [
    "pylhe-testfile-sherpa-3.0.1-eejjj.lhe",
    "pylhe-testfile-whizard-3.1.4-eeWW.lhe",
    "pylhe-testfile-madgraph-2.2.1-Z-mlm.lhe.gz",
    "pylhe-testfile-madgraph5-3.5.8-pp_to_jj.lhe.gz",
    "pylhe-testfile-powheg-box-v2-W.lhe",
    "pylhe-testfile-powheg-box-v2-Z.lhe",
    "pylhe-testfile-madgraph-2.0.0-wbj.lhe",
    "pylhe-testlhef3.lhe",
    "pylhe-testfile-pr29.lhe",
]


def pytest_collection_modifyitems(config, items):
    """Slow physics runs are collected always but run only with LATENTSYM_SLOW=1."""
    if os.environ.get("LATENTSYM_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow physics run: set LATENTSYM_SLOW=1 to run it")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
