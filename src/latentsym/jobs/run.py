"""The main job: events -> final state -> features -> VAE -> relevance -> verdict -> report.

:func:`run_analysis` calls the library stages in the order of the design's data flow and
writes everything into one output folder. The ``latentsym run`` command and the notebooks
call the same functions.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latentsym.analysis.checks import constraint_residuals, decoder_tangency
from latentsym.analysis.compare import weight_summary
from latentsym.analysis.intrinsic import baselines, latent_dimension
from latentsym.analysis.mechanism_check import mechanism_check
from latentsym.analysis.relevance import relevance
from latentsym.analysis.resolution import dimension_scale, latent_per_unit, resolution
from latentsym.analysis.symmetry import (
    Transform,
    parse_transform,
    rotation_check,
    transformation_check,
)
from latentsym.analysis.verdict import verdict
from latentsym.errors import ConfigError, TopologyError
from latentsym.features import FeatureMatrix, build
from latentsym.features.scaler import constant_mask
from latentsym.io.schema import RunInfo
from latentsym.jobs.dask_read import connect, read_select_build
from latentsym.jobs.options import RunOptions
from latentsym.jobs.reading import read_many
from latentsym.jobs.symmetries import symmetry_section
from latentsym.models import FitOptions, MechanismSpec, TrainedModel, fit, fit_mechanism
from latentsym.models.distributed import on_main_process, process_group
from latentsym.models.flow import FLOW_TRAIN, PRIOR_DIR, fit_prior, weights_digest
from latentsym.physics.constraints import Ledger, dimension_ledger
from latentsym.physics.selection import FinalState, select_final_state, topology_name
from latentsym.physics.thickness import constraint_geometry
from latentsym.report.figures import make_figures, save_dimension_scale
from latentsym.report.markdown import render_report
from latentsym.report.outputs import (
    atomic_write_json,
    atomic_write_text,
    prepare_output_dir,
    write_latents_root,
)
from latentsym.report.summary import (
    FeatureSummary,
    InputSummary,
    ModelSummary,
    OutputsSummary,
    PhysicsChecks,
    RunSummary,
    TimingSummary,
)

__all__ = ["FIGURES", "physics_checks", "read_many", "run_analysis"]

FIGURES = {
    "Relevance of the latent directions": "relevance.png",
    "Training curves": "training.png",
    "Relevant latents coloured by physics observables": "latent_pairs.png",
    "Correlation of the relevant latents with physics observables": "correlations.png",
    "Dimension against scale": "dimension_scale.png",
}
"""Caption -> file name of the figures of a run, in the order of ``report.md``."""


def physics_checks(
    trained: TrainedModel,
    features: FeatureMatrix,
    ledger: Ledger,
    fs: FinalState,
    relevant_dims: Sequence[int],
    *,
    transforms: Sequence[str] = (),
    seed: int = 0,
) -> PhysicsChecks:
    """Hidden relations and azimuthal symmetry of a trained model.

    ``constraints``: the spread of every ledger constraint on decoded prior samples and
    decoded data next to the data's and a shuffled null's; ``tangency``: how much of the
    decoder Jacobian lies along the exact-constraint gradients; ``azimuthal``: relevance
    and latents under random rotations about the beam axis, and the flatness of decoded
    phi. The first two need at least one relevant direction (else ``None``).
    ``transformations``: the same relevance and latent comparison under each of
    ``transforms`` (see :func:`latentsym.analysis.symmetry.parse_transform`), for a symmetry
    the user suspects.
    """
    constraints = tangency = None
    if relevant_dims:
        constraints = constraint_residuals(trained, features, ledger, relevant_dims, seed=seed)
        tangency = decoder_tangency(trained, features, ledger, relevant_dims, seed=seed)
    azimuthal = rotation_check(trained, fs, features.representation, seed=seed)
    checked = tuple(
        transformation_check(
            trained, fs, parse_transform(t), representation=features.representation, seed=seed
        )
        for t in transforms
    )
    return PhysicsChecks(constraints, tangency, azimuthal, checked)


@dataclass(frozen=True, eq=False)
class _Inputs:
    """The events of an analysis: final state, features, and where each event came from."""

    fs: FinalState
    features: FeatureMatrix
    infos: list[RunInfo]
    file_index: np.ndarray
    entry: np.ndarray
    n_read: int
    read_s: float


def _read_inputs(
    paths: Sequence[str | os.PathLike[str]], options: RunOptions, transforms: Sequence[Transform]
) -> _Inputs:
    """Read, select the final state and build the features, in one process or on dask."""
    t0 = time.perf_counter()
    features = None
    if options.dask is not None:
        with connect(options.dask) as client:
            got = read_select_build(
                paths,
                client,
                topology=options.topology,
                representation=options.representation,
                max_events=options.max_events,
                **options.read.kwargs(),
            )
        fs, features, infos, n_read = got.final_state, got.features, got.infos, got.n_events
        file_index, entry = got.file_index, got.entry
    else:
        events, infos, file_index, entry = read_many(
            paths, max_events=options.max_events, read=options.read
        )
        n_read = len(events)
        fs = select_final_state(events, options.topology, inclusive=options.inclusive)
    read_s = time.perf_counter() - t0
    if fs.n_events < 100:
        raise TopologyError(
            f"only {fs.n_events} events have the final state {topology_name(fs.pids)!r}; "
            "at least 100 are needed to train. Choose another --topology or more events."
        )
    for transform in transforms:  # one that does not apply to the topology, before training
        if transform.check is not None:
            transform.check(fs.names)
    if features is None:
        features = build(fs, options.representation)
    return _Inputs(fs, features, infos, file_index, entry, n_read, read_s)


def run_analysis(
    paths: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    options: RunOptions | None = None,
) -> RunSummary | None:
    """Run the whole analysis and write its outputs into ``out_dir``.

    Writes ``summary.json``, ``report.md``, the PNG figures, ``model/`` (checkpoint:
    weights, config, scaler, history; ``options.resume`` continues from it; ``prior/``,
    the learned flow prior on the relevant latents, unless ``options.flow`` is False) and
    ``latents.root`` (one entry per input event).

    ``options.mechanisms`` (``"azimuthal"``, ``"boost-z"``) trains a
    :class:`~latentsym.models.MechanismVAE` instead of the plain VAE: its first latents
    turn with the azimuth (a 2D block) or shift with the rapidity of the system, the others
    stay invariant; ``summary.mechanism`` measures how well (see
    :func:`latentsym.analysis.mechanism_check.mechanism_check`), against the azimuth of
    ``options.mechanism_particle`` (default: the first particle of the final state).

    ``options.dask`` (``"auto"`` or a scheduler address ``"tcp://host:port"``) reads the
    files, selects the final state and builds the features on a dask cluster
    (:func:`latentsym.jobs.dask_read.read_select_build`): the same features, bit for bit,
    as in one process, so the same results.

    Launched by ``torchrun`` (``WORLD_SIZE > 1``), every process reads the events and
    trains one model together (DDP, see :func:`latentsym.models.fit`); rank 0 alone
    prepares and writes ``out_dir``, the other ranks return None after training.

    Returns:
        The :class:`~latentsym.report.summary.RunSummary` (``summary.json`` is its
        ``to_dict()``); None on the other ranks of a torchrun job.

    Raises:
        ConfigError: options that do not go together (``dask="auto"`` under torchrun, a
            ``mechanism_particle`` not in the final state).

    Example:
        The whole job on 300 events with two epochs (a second or two): far too short a
        training to open a latent direction (the default settings, on the whole sample,
        open three for this 2-sphere), but every output is written.

        >>> import tempfile
        >>> from latentsym.models import TrainConfig
        >>> options = RunOptions(max_events=300, train=TrainConfig(epochs=2), progress=False)
        >>> with tempfile.TemporaryDirectory() as out:
        ...     s = run_analysis([SAMPLES / "ee_mumu_91GeV.lhe.gz"], out, options)
        ...     print(sorted(os.listdir(out)))
        ['correlations.png', 'dimension_scale.png', 'latent_pairs.png', 'latents.root', 'model',
         'relevance.png', 'report.md', 'summary.json', 'training.png']
        >>> s.input.topology, s.input.n_events_used, s.model.epochs_run
        ('mu+ mu-', 300, 2)
        >>> s.expected.manifold_dim, s.n_relevant, s.verdict.consistent
        (2, 0, False)
    """
    opts = options if options is not None else RunOptions()
    checked = [parse_transform(t) for t in opts.transforms]
    with process_group() as info:
        if info.distributed and opts.dask == "auto":
            raise ConfigError(
                "--dask auto under torchrun would start one local cluster per rank; give every "
                "rank the address of one scheduler (--dask tcp://HOST:PORT) or read without dask"
            )
        # rank 0 alone prepares the folder (a race otherwise); the others share its failure
        prepared = on_main_process(
            lambda: prepare_output_dir(out_dir, paths, overwrite=opts.overwrite, resume=opts.resume)
        )
        out = prepared if prepared is not None else Path(out_dir).expanduser().resolve()
        inputs = _read_inputs(paths, opts, checked)
        particle = opts.mechanism_particle
        if particle is not None and particle not in inputs.fs.names:
            raise ConfigError(
                f"--mechanism-particle {particle!r} is not in the final state "
                f"{list(inputs.fs.names)}"
            )
        fit_options = FitOptions(
            out_dir=out / "model",
            resume=opts.resume,
            overwrite=opts.overwrite,
            progress=opts.progress,
        )
        if opts.mechanisms:
            trained = fit_mechanism(
                inputs.features,
                mechanism=MechanismSpec(mechanisms=opts.mechanisms),
                arch=opts.arch,
                train=opts.train,
                options=fit_options,
            )
        else:
            trained = fit(inputs.features, arch=opts.arch, train=opts.train, options=fit_options)
        if not info.is_main:  # the other ranks of a torchrun job only train
            return None
        trained = _fit_flow_prior(trained, inputs.features, out / "model", opts)
        summary = _analyse(trained, inputs, out, paths, opts)
        atomic_write_json(out / "summary.json", summary.to_dict())
        report = render_report(summary, FIGURES)
        if opts.symmetries:  # the run's model gives the latent view
            report += "\n" + symmetry_section(
                inputs.fs, inputs.infos, paths, trained, out, inputs.features.representation
            )
        atomic_write_text(out / "report.md", report)
        return summary


def _analyse(
    trained: TrainedModel,
    inputs: _Inputs,
    out: Path,
    paths: Sequence[str | os.PathLike[str]],
    opts: RunOptions,
) -> RunSummary:
    """Relevance, verdict, physics checks, figures and ``latents.root`` of a trained model."""
    seed = opts.train.seed
    fs, features = inputs.fs, inputs.features
    ledger = dimension_ledger(fs.momenta(), fs.names, features.representation)
    mu, sigma = trained.encode(features.values)
    rel = relevance(mu, sigma=sigma)
    relevant_dims = rel.relevant_dims
    ld = latent_dimension(mu, sigma, relevant_dims, seed=seed) if relevant_dims else None
    geometry = constraint_geometry(
        fs.momenta(), fs.names, ledger, trained.scaler.scale, seed=seed
    ).at_resolution(math.sqrt(trained.train_config.beta / 2.0))
    latent = None
    if relevant_dims and geometry.n_constraints:
        latent = latent_per_unit(trained, features, geometry, relevant_dims)
    res = None
    if ld is not None and latent is not None:
        res = resolution(geometry, ld.n1, ld.n2, ld.read_scale, latent=latent, seed=seed)
    v = verdict(
        rel.n_relevant,
        ledger.manifold_dim,
        ledger.linear_rank,
        ld.value if ld else 0.0,
        ledger.manifold_dim_approx,
        resolution=res,
        latent_dim=trained.latent_dim,
    )
    z = trained.scaler.transform(np.asarray(features.values, dtype=np.float64))
    z = z[:, ~constant_mask(z)]
    scale_curves = dimension_scale(
        geometry,
        z,
        latent_points=mu[:, relevant_dims] if relevant_dims else None,
        latent=latent,
        read_scale=ld.read_scale if ld else math.nan,
        seed=seed,
    )
    checks = physics_checks(
        trained, features, ledger, fs, relevant_dims, transforms=opts.transforms, seed=seed
    )
    naming = make_figures(out, fs, mu, relevant_dims, rel, trained.history, FIGURES)
    save_dimension_scale(out / FIGURES["Dimension against scale"], scale_curves)
    write_latents_root(
        out / "latents.root",
        n_events=inputs.n_read,
        event_index=fs.event_index,
        mu=mu,
        sigma=sigma,
        file_index=inputs.file_index,
        entry=inputs.entry,
    )
    mechanism = None
    if trained.model.model_type == "mechanism-vae":
        particle: int | str = opts.mechanism_particle or 0
        mechanism = mechanism_check(trained, features, particle=particle, seed=seed)
    return RunSummary(
        input=InputSummary(
            paths=tuple(str(p) for p in paths),
            n_events_read=inputs.n_read,
            n_events_used=fs.n_events,
            topology=topology_name(fs.pids),
            pids=tuple(fs.pids),
            dropped=dict(fs.dropped),
            sqrt_s=inputs.infos[0].sqrt_s,
            inclusive=fs.inclusive,
            ignored=dict(fs.ignored),
        ),
        features=_feature_summary(features),
        model=ModelSummary(
            type=trained.model.model_type,
            beta=trained.train_config.beta,
            epochs_run=trained.epochs_run,
            best_epoch=trained.best_epoch,
            seed=trained.train_config.seed,
            latent_dim=opts.arch.latent_dim,
            hidden=tuple(opts.arch.hidden),
            batch_size=opts.train.batch_size,
        ),
        relevance=rel,
        expected=ledger,
        latent_dimension=ld,
        naming=naming,
        verdict=v,
        checks=checks,
        timing=_timing(inputs.read_s, trained),
        outputs=OutputsSummary(figures=tuple(FIGURES.values()), latents="latents.root"),
        mechanism=mechanism,
        resolution=res,
        baselines=baselines(z, seed=seed),
        dimension_scale=scale_curves,
        weights={
            **weight_summary(np.asarray(fs.weight, dtype=np.float64)),
            "trained_weighted": trained.train_config.weighted,
        },
    )


def _fit_flow_prior(
    trained: TrainedModel, features: FeatureMatrix, model_dir: Path, opts: RunOptions
) -> TrainedModel:
    """The learned latent prior (a flow on the encoded means of the relevant directions,
    :func:`~latentsym.models.fit_prior`), checkpointed in ``model/prior``; resumed only
    when that checkpoint belongs to these VAE weights. None relevant, or ``opts.flow``
    False (``--no-flow``): no prior."""
    folder = model_dir / PRIOR_DIR
    dims: list[int] = []
    if opts.flow:
        mu, sigma = trained.encode(features.values)
        dims = relevance(mu, sigma=sigma).relevant_dims
    if not dims:
        if folder.is_dir():  # a prior of an earlier model in this folder: stale now
            shutil.rmtree(folder)
        return trained
    state = folder / "state.pt"
    resume = False
    if opts.resume and state.is_file() and (folder / "config.json").is_file():
        recorded = json.loads((folder / "config.json").read_text()).get("data", {})
        resume = recorded.get("vae_weights_sha256") == weights_digest(trained.model)
    train = FLOW_TRAIN.replace(
        epochs=min(FLOW_TRAIN.epochs, opts.train.epochs),
        seed=opts.train.seed,
        weighted=opts.train.weighted,
    )
    options = FitOptions(
        out_dir=folder, resume=resume, overwrite=not resume, progress=opts.progress,
        distributed=False,
    )  # fmt: skip
    return fit_prior(trained, features, dims=dims, train=train, options=options)


def _feature_summary(features: FeatureMatrix) -> FeatureSummary:
    return FeatureSummary(
        representation=features.representation,
        names=tuple(features.names),
        units=tuple(features.units),
        constant=tuple(features.constant),
    )


def _timing(read_s: float, trained: TrainedModel) -> TimingSummary:
    return TimingSummary(
        read_s=read_s,
        train_s=trained.train_seconds,
        train_events_per_s=trained.events_per_second,
        threads=trained.threads.to_dict() if trained.threads is not None else None,
        prior_train_s=trained.prior.train_seconds if trained.prior is not None else None,
    )
