"""Doctest set-up for the docstring examples in src/latentsym (run by ``make test``).

Every docstring example runs with:

- ``SAMPLES``: the absolute :class:`~pathlib.Path` of the bundled ``samples/`` folder, so
  ``read_events(SAMPLES / "ee_mumu_91GeV.lhe.gz", max_events=500)`` works from any
  working directory;
- the working directory set to a fresh temporary folder, so an example that writes
  ``"relevance.png"`` or ``"first100.lhe.gz"`` never writes into the repository;
- one torch thread (restored afterwards): the examples train tiny models, and two torch
  threads on a busy two-core machine make them ten times slower, not faster;
- the matplotlib backend Agg and a temporary matplotlib config folder.

The test suite's own fixtures are in ``tests/conftest.py``.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parent / "samples"

# the examples of the dask modules need the ``dask`` extra (``make`` installs it)
collect_ignore = (
    []
    if importlib.util.find_spec("distributed") is not None
    else ["src/latentsym/io/dask_io.py", "src/latentsym/jobs/dask_read.py"]
)

os.environ.setdefault("MPLBACKEND", "Agg")
if "MPLCONFIGDIR" not in os.environ:
    _mpl_dir = tempfile.mkdtemp(prefix="latentsym-mpl-")
    atexit.register(shutil.rmtree, _mpl_dir, ignore_errors=True)
    os.environ["MPLCONFIGDIR"] = _mpl_dir


@pytest.fixture(autouse=True)
def _doctest_setup(request: pytest.FixtureRequest) -> Iterator[None]:
    """For docstring examples only: ``SAMPLES``, a temporary cwd, one torch thread."""
    if not isinstance(request.node, pytest.DoctestItem):
        yield
        return
    import torch

    request.getfixturevalue("doctest_namespace")["SAMPLES"] = SAMPLES
    request.getfixturevalue("monkeypatch").chdir(request.getfixturevalue("tmp_path"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
