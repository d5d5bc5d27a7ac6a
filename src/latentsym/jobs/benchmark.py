"""The known-answer benchmark job: every data set of :mod:`latentsym.analysis.benchmark`,
with the bundled samples read where they stand in for a toy."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from latentsym.analysis.benchmark import (
    SAMPLE_FILES,
    BenchmarkRow,
    KnownAnswer,
    MomentumSample,
    benchmark_row,
    check_datasets,
    format_table,
    known_answer,
    sample_topology,
)
from latentsym.io.read import read_events
from latentsym.jobs.options import BenchmarkOptions
from latentsym.models import TrainConfig
from latentsym.physics.selection import select_final_state

__all__ = ["load_known_answer", "run_benchmark"]


def _bundled(name: str, folder: Path | None, n_events: int) -> MomentumSample | None:
    """The momenta of the bundled sample of data set ``name``, when ``folder`` holds it."""
    topology = sample_topology(name)
    if folder is None or topology is None:
        return None
    path = folder / SAMPLE_FILES[name.removesuffix("_noise")]
    if not path.exists():
        return None
    events, _ = read_events(path, max_events=n_events)
    fs = select_final_state(events, topology)
    return MomentumSample(fs.momenta(), tuple(fs.names), path.name)


def _sizes(opts: BenchmarkOptions) -> tuple[int, TrainConfig]:
    """Events per data set and training settings, after the quick mode."""
    if opts.quick:
        return 2000, opts.train.replace(epochs=60, batch_size=128)
    return opts.n_events, opts.train


def load_known_answer(name: str, options: BenchmarkOptions | None = None) -> KnownAnswer:
    """The features and expected dimensions of one data set, as :func:`run_benchmark` uses
    them: the bundled sample of ``options.samples_dir`` where it stands in for the toy.

    Example:
        >>> load_known_answer("circle").d
        1
    """
    opts = options if options is not None else BenchmarkOptions()
    n_events, train = _sizes(opts)
    folder = Path(opts.samples_dir) if opts.samples_dir is not None else None
    return known_answer(name, n_events, train.seed, _bundled(name, folder, n_events))


def run_benchmark(
    datasets: Sequence[str] | None = None, options: BenchmarkOptions | None = None
) -> list[BenchmarkRow]:
    """Train and read a VAE on each known-answer data set; compare with the baselines.

    Args:
        datasets: names from :data:`~latentsym.analysis.benchmark.DATASETS` (default: all).
        options: events per data set, network, training, the quick mode, the baselines'
            subsample, the folder of the bundled samples and the progress lines.

    Returns:
        One :class:`~latentsym.analysis.benchmark.BenchmarkRow` per data set, in the order
        asked.

    Raises:
        ConfigError: an unknown data-set name.

    Example:
        The unit circle (d = 1, linear rank r = 2) with a small network (half a second):
        two relevant directions, as PCA's two components; TwoNN finds the dimension 1.

        >>> from latentsym.models import Architecture, TrainConfig
        >>> options = BenchmarkOptions(
        ...     n_events=1000,
        ...     arch=Architecture(latent_dim=3, hidden=(32,)),
        ...     train=TrainConfig(beta=0.3, epochs=30, batch_size=100, seed=2),
        ... )
        >>> rows = run_benchmark(["circle"], options)
        >>> row = rows[0]
        >>> row.d, row.r, row.k, row.pca, round(row.twonn), row.consistent
        (1, 2, 2, 2, 1, True)
    """
    opts = options if options is not None else BenchmarkOptions()
    names = check_datasets(datasets)
    _, train = _sizes(opts)
    rows = []
    for name in names:
        data = load_known_answer(name, opts)
        row = benchmark_row(
            name, data, arch=opts.arch, train=train, baseline_points=opts.baseline_points
        )
        if opts.progress:
            print(format_table([row]).splitlines()[-1], flush=True)
        rows.append(row)
    return rows
