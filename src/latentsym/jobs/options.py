"""The options of the jobs, as frozen dataclasses: one object per job instead of many
keywords.

What a model is and how it trains come from :mod:`latentsym.models.config`
(:class:`~latentsym.models.Architecture`, :class:`~latentsym.models.TrainConfig`) and are
not restated here: a new training setting is added there and on the command line, nothing
else.

- :class:`~latentsym.io.root.ReadOptions`: how ROOT files are read (``tree``, ``layout``,
  ``collections``, ...), the options of :func:`latentsym.io.root.read_root`.
- :class:`RunOptions`: ``latentsym run`` (:func:`latentsym.jobs.run.run_analysis`).
- :class:`InvariantRunOptions`: ``latentsym run --model invariant-equivariant``.
- :class:`ScanOptions`: ``latentsym scan``.
- :class:`CompareOptions`: ``latentsym compare``.
- :class:`BenchmarkOptions`: ``latentsym benchmark``.

Example:
    >>> from latentsym.models import TrainConfig
    >>> opts = RunOptions(train=TrainConfig(epochs=5), read=ReadOptions(collections=["Muon"]))
    >>> opts.train.epochs, opts.read.kwargs()
    (5, {'collections': ['Muon']})
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from latentsym._frozen import Replaceable
from latentsym.analysis.compare import check_generate_from
from latentsym.analysis.discovery import DiscoveryOptions
from latentsym.analysis.distribution_symmetry import TwoSampleOptions
from latentsym.analysis.generators import AlgebraOptions
from latentsym.analysis.scan import DEFAULT_BETAS, DEFAULT_SEEDS
from latentsym.analysis.symmetry import parse_transform
from latentsym.errors import ConfigError
from latentsym.io.root import ReadOptions
from latentsym.models import Architecture, InvariantSpec, TrainConfig
from latentsym.models.config import positive_int
from latentsym.models.mechanism import MECHANISMS

__all__ = [
    "BenchmarkOptions",
    "CompareOptions",
    "InvariantRunOptions",
    "ReadOptions",
    "RunOptions",
    "ScanOptions",
    "SymmetriesOptions",
]


def _optional_count(name: str, value: int | None) -> None:
    if value is not None:
        positive_int(name, value)


def _check_inclusive(inclusive: bool, topology: str | None) -> None:
    if inclusive and not topology:
        raise ConfigError(
            "an inclusive selection needs the particles to take: give --topology, "
            "e.g. --topology 'mu+ mu-' --inclusive"
        )


@dataclass(frozen=True)
class RunOptions(Replaceable):
    """Options of :func:`latentsym.jobs.run.run_analysis` (``latentsym run``).

    Attributes:
        topology: the final state, e.g. ``"mu+ mu-"`` (default: the most common one).
        inclusive: select the topology inclusively: the highest-energy status-1 particle
            of each named id, the other particles ignored (see
            :func:`latentsym.physics.select_final_state`); needs ``topology``.
        representation: ``"cartesian"`` or ``"collider"`` features.
        arch: the network (latent size, hidden widths, activation).
        train: what is learned and how (beta, epochs, batch size, warm-up, seed, ...);
            its seed also seeds the checks.
        transforms: suspected symmetries to test (see
            :func:`latentsym.analysis.symmetry.parse_transform`); refused at once when
            misspelt.
        mechanisms: train a mechanism VAE with these (``"azimuthal"``, ``"boost-z"``)
            instead of the plain VAE.
        mechanism_particle: the particle whose azimuth is the truth of the mechanism check
            (default: the first of the final state).
        max_events: read at most this many events in all.
        read: how ROOT files are read.
        dask: ``"auto"`` or a scheduler address: read and build the features on dask.
        resume: continue training from the checkpoint in the output folder.
        overwrite: replace latentsym's files in a non-empty output folder.
        progress: show a progress bar.
        flow: fit the learned latent prior (a normalising flow on the relevant latents,
            :func:`latentsym.models.fit_prior`) after the VAE; False (``--no-flow``) skips
            it, and the model generates from N(0, 1).
        symmetries: also run the symmetry search of ``latentsym symmetries`` with the
            run's model (``symmetries.json`` and a section of ``report.md``; off by
            default, it adds about a minute on 20,000 events).
    """

    topology: str | None = None
    inclusive: bool = False
    representation: str = "cartesian"
    arch: Architecture = field(default_factory=Architecture)
    train: TrainConfig = field(default_factory=TrainConfig)
    transforms: tuple[str, ...] = ()
    mechanisms: tuple[str, ...] = ()
    mechanism_particle: str | None = None
    max_events: int | None = None
    read: ReadOptions = field(default_factory=ReadOptions)
    dask: str | None = None
    resume: bool = False
    overwrite: bool = False
    progress: bool = True
    flow: bool = True
    symmetries: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "transforms", tuple(self.transforms))
        object.__setattr__(self, "mechanisms", tuple(self.mechanisms))
        for t in self.transforms:  # a misspelt one is refused before anything is read
            parse_transform(t)
        unknown = sorted(set(self.mechanisms) - set(MECHANISMS))
        if unknown:
            raise ConfigError(f"unknown mechanisms {unknown}; allowed: {', '.join(MECHANISMS)}")
        _optional_count("max_events", self.max_events)
        _check_inclusive(self.inclusive, self.topology)
        if self.inclusive and self.dask is not None:
            raise ConfigError(
                "the inclusive selection runs in one process: drop --dask, or select exactly"
            )


@dataclass(frozen=True)
class InvariantRunOptions(Replaceable):
    """Options of :func:`latentsym.jobs.invariant.run_invariant`.

    Attributes:
        topology: the final state selected in every class (default: each class's most
            common one).
        representation: the features (``"collider"`` by default here).
        arch: the network; ``arch.latent_dim - spec.inv_dim`` latents form the
            equivariant block.
        train: training settings (also of the plain VAE compared with).
        spec: the latent split, the loss weights and the fraction of labels used.
        test_fraction: fraction of each class held out for the numbers.
        compare_plain: also train a plain VAE of the same latent size.
        label_branch: the ROOT branch holding each event's class (default: its file).
        max_events: events read per file.
        read: how ROOT files are read.
        resume: continue training from the checkpoint in the output folder.
        overwrite: replace latentsym's files in a non-empty output folder.
        progress: show a progress bar.
    """

    topology: str | None = None
    representation: str = "collider"
    arch: Architecture = field(default_factory=Architecture)
    train: TrainConfig = field(default_factory=TrainConfig)
    spec: InvariantSpec = field(default_factory=InvariantSpec)
    test_fraction: float = 0.2
    compare_plain: bool = True
    label_branch: str | None = None
    max_events: int | None = None
    read: ReadOptions = field(default_factory=ReadOptions)
    resume: bool = False
    overwrite: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        if self.arch.latent_dim <= self.spec.inv_dim:
            raise ConfigError(
                f"latent_dim {self.arch.latent_dim} must exceed inv_dim {self.spec.inv_dim}: "
                "the rest is the equivariant block"
            )
        if not 0 < self.test_fraction < 1:
            raise ConfigError(f"test_fraction must be in (0, 1); got {self.test_fraction!r}")
        _optional_count("max_events", self.max_events)


@dataclass(frozen=True)
class ScanOptions(Replaceable):
    """Options of :func:`latentsym.jobs.scan.run_scan` (``latentsym scan``).

    Attributes:
        topology: the final state (default: the most common one).
        inclusive: select it inclusively (see :class:`RunOptions`); needs ``topology``.
        representation: the features.
        betas: KL weights of the scan (``train.beta`` is replaced by each).
        seeds: training seeds (``train.seed`` is replaced by each).
        arch: the network of every model.
        train: the other training settings.
        max_events: read at most this many events in all.
        read: how ROOT files are read.
        overwrite: replace latentsym's files in a non-empty output folder.
        progress: show a progress bar over the models.
    """

    topology: str | None = None
    inclusive: bool = False
    representation: str = "cartesian"
    betas: tuple[float, ...] = DEFAULT_BETAS
    seeds: tuple[int, ...] = DEFAULT_SEEDS
    arch: Architecture = field(default_factory=Architecture)
    train: TrainConfig = field(default_factory=TrainConfig)
    max_events: int | None = None
    read: ReadOptions = field(default_factory=ReadOptions)
    overwrite: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        _optional_count("max_events", self.max_events)
        _check_inclusive(self.inclusive, self.topology)


@dataclass(frozen=True)
class CompareOptions(Replaceable):
    """Options of :func:`latentsym.jobs.compare.compare_files` (``latentsym compare``).

    Attributes:
        model_dir: folder of a trained model to generate events from.
        truth_path: a truth event file; with ``truth_read`` only, the input file is read
            a second time with those options (e.g. ``collections=("MC",)``).
        input_read: how the input file is read.
        truth_read: how the truth file is read (None: no truth unless ``truth_path``).
        topology: final state of the exclusive comparison (default: the most common one).
        inclusive: select the topology inclusively in the input and the truth (see
            :class:`RunOptions`), as the model was trained with ``run --inclusive``; needs
            ``topology``.
        n_generated: events to generate (default: as many as the selected input events).
        max_events: read at most this many events of each file.
        bins: histogram bins (see :func:`latentsym.analysis.compare.compare_observables`).
        seed: seed of the generated events.
        generate_from: the latent draws of the generated events: ``"prior"`` (the model's
            learned flow prior when it has one, else N(0, 1)), ``"gaussian"`` (N(0, 1)),
            ``"flow"`` (the learned prior; refused without one) or ``"posterior"`` (the
            aggregate posterior of the input events).
        project: move the generated events onto the exact constraints of the input's
            ledger (:func:`latentsym.analysis.checks.project_to_constraints`) before they
            are compared; off by default (the figures in the README are measured without it).
        overwrite: replace latentsym's files in a non-empty output folder.
    """

    model_dir: str | os.PathLike[str] | None = None
    truth_path: str | os.PathLike[str] | None = None
    input_read: ReadOptions = field(default_factory=ReadOptions)
    truth_read: ReadOptions | None = None
    topology: str | None = None
    inclusive: bool = False
    n_generated: int | None = None
    max_events: int | None = None
    bins: int = 40
    seed: int = 0
    generate_from: str = "prior"
    project: bool = False
    overwrite: bool = False

    def __post_init__(self) -> None:
        check_generate_from(self.generate_from)
        _optional_count("max_events", self.max_events)
        _check_inclusive(self.inclusive, self.topology)
        if self.project and self.model_dir is None:
            raise ConfigError(
                "--project moves generated events onto the exact constraints: give the "
                "model to generate from (--model DIR), or drop --project"
            )

    @property
    def has_truth(self) -> bool:
        """Whether a truth sample is read (a truth file or truth reading options)."""
        return self.truth_path is not None or self.truth_read is not None


@dataclass(frozen=True)
class BenchmarkOptions(Replaceable):
    """Options of :func:`latentsym.jobs.benchmark.run_benchmark` (``latentsym benchmark``).

    Attributes:
        n_events: events (points) per data set.
        arch: the network of every model.
        train: training settings; ``train.seed`` also seeds the data and the subsamples.
        quick: 2000 events, 60 epochs of batch 128 (for tests and smoke runs); overrides
            ``n_events``, ``train.epochs`` and ``train.batch_size``.
        baseline_points: the baselines use at most this many events (seeded subsample).
        samples_dir: folder with the bundled samples (``ee_mumu_91GeV.lhe.gz``,
            ``pp_mumu_13TeV.lhe.gz``); toys are used when None or missing.
        progress: print one line per data set.
    """

    n_events: int = 20000
    arch: Architecture = field(default_factory=Architecture)
    train: TrainConfig = field(default_factory=TrainConfig)
    quick: bool = False
    baseline_points: int = 5000
    samples_dir: str | os.PathLike[str] | None = None
    progress: bool = False

    def __post_init__(self) -> None:
        positive_int("n_events", self.n_events)
        positive_int("baseline_points", self.baseline_points)


@dataclass(frozen=True)
class SymmetriesOptions(Replaceable):
    """Options of :func:`latentsym.jobs.symmetries.run_symmetries` (``latentsym symmetries``).

    Attributes:
        topology: the final state (default: the most common one).
        inclusive: select the topology inclusively (needs ``topology``).
        representation: ``"cartesian"`` or ``"collider"`` features.
        algebra: probes and tolerance of the manifold algebra; its ``expected`` span
            defaults to :func:`~latentsym.analysis.generators.expected_span` of the ledger.
        tests: sizes, ranges and threshold of the distribution tests.
        discovery: the candidate-free search.
        latent: push the invariant generators through a model's encoder.
        model_dir: a trained model folder (``OUT/model`` of ``latentsym run``) to use;
            None trains one here with ``arch`` and ``train``.
        arch, train: the model trained when ``model_dir`` is None.
        max_events: read at most this many events.
        read: how ROOT files are read.
        overwrite: replace latentsym's files in a non-empty output folder.
        progress: show a training progress bar.
    """

    topology: str | None = None
    inclusive: bool = False
    representation: str = "cartesian"
    algebra: AlgebraOptions = field(default_factory=AlgebraOptions)
    tests: TwoSampleOptions = field(default_factory=TwoSampleOptions)
    discovery: DiscoveryOptions = field(default_factory=DiscoveryOptions)
    latent: bool = True
    model_dir: str | os.PathLike[str] | None = None
    arch: Architecture = field(default_factory=Architecture)
    train: TrainConfig = field(default_factory=TrainConfig)
    max_events: int | None = None
    read: ReadOptions = field(default_factory=ReadOptions)
    overwrite: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        _check_inclusive(self.inclusive, self.topology)
        _optional_count("max_events", self.max_events)
