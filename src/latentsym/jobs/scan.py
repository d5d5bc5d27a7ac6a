"""The scan job: the relevant count against beta and seeds, written to ``scan.json``."""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib.pyplot as plt

from latentsym.analysis.scan import ScanResult, beta_scan
from latentsym.features import build
from latentsym.jobs.options import ScanOptions
from latentsym.jobs.reading import read_many
from latentsym.physics.constraints import dimension_ledger
from latentsym.physics.selection import select_final_state
from latentsym.physics.thickness import constraint_geometry
from latentsym.plotting import plot_scan, save_figure
from latentsym.report.outputs import atomic_write_json, prepare_output_dir

__all__ = ["run_scan"]


def run_scan(
    paths: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    options: ScanOptions | None = None,
) -> ScanResult:
    """Relevant count against beta and seeds: writes ``scan.json`` and ``scan.png``.

    One model per ``(beta, seed)`` of ``options.betas`` and ``options.seeds``, each with
    ``options.arch`` and ``options.train`` (whose beta and seed the scan replaces); see
    :func:`latentsym.analysis.scan.beta_scan`.

    Returns:
        The :class:`~latentsym.analysis.scan.ScanResult` (``scan.json`` is its
        ``to_dict()``), whose ``plateau`` gives the beta range with a stable count (None
        when there is none).

    Example:
        Four models of two epochs on 300 events (a fraction of a second): too short a
        training to open any direction, so the count is 0 at both betas, a plateau.

        >>> import tempfile
        >>> from latentsym.models import TrainConfig
        >>> options = ScanOptions(
        ...     betas=(0.1, 1.0),
        ...     seeds=(0, 1),
        ...     train=TrainConfig(epochs=2),
        ...     max_events=300,
        ...     progress=False,
        ... )
        >>> with tempfile.TemporaryDirectory() as out:
        ...     res = run_scan([SAMPLES / "ee_mumu_91GeV.lhe.gz"], out, options)
        ...     print(sorted(os.listdir(out)))
        ['scan.json', 'scan.png']
        >>> res.k_table.tolist(), res.plateau
        ([[0, 0], [0, 0]], Plateau(beta_min=0.1, beta_max=1.0, k=0, n_betas=2))
    """
    opts = options if options is not None else ScanOptions()
    out = prepare_output_dir(out_dir, paths, overwrite=opts.overwrite)
    events, *_ = read_many(paths, max_events=opts.max_events, read=opts.read)
    fs = select_final_state(events, opts.topology, inclusive=opts.inclusive)
    features = build(fs, opts.representation)
    momenta = fs.momenta()
    ledger = dimension_ledger(momenta, fs.names, features.representation)
    result = beta_scan(
        features,
        betas=opts.betas,
        seeds=opts.seeds,
        arch=opts.arch,
        train=opts.train,
        geometry=constraint_geometry(momenta, fs.names, ledger, seed=opts.train.seed),
        progress=opts.progress,
    )
    atomic_write_json(out / "scan.json", result.to_dict())
    fig, ax = plt.subplots(figsize=(7, 4.5))
    plot_scan(result, ax=ax)
    save_figure(fig, out / "scan.png", overwrite=True)
    return result
