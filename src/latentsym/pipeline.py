"""The main job: events -> final state -> features -> VAE -> relevance -> verdict -> report.

:func:`run_analysis` calls the library stages in the order of the design's data flow and
writes everything into one output folder. The ``latentsym run`` command and the notebooks
call the same functions.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from latentsym.errors import ConfigError, TopologyError
from latentsym.io.read import read_events
from latentsym.io.schema import concatenate_events
from latentsym.physics.selection import FinalState, select_final_state, topology_name
from latentsym.report.markdown import render_invariant_report, render_report
from latentsym.report.outputs import atomic_write_json, atomic_write_text, prepare_output_dir

__all__ = ["physics_checks", "read_many", "run_analysis", "run_invariant", "run_scan"]


def read_many(
    paths: Sequence[str | os.PathLike[str]], *, max_events: int | None = None, **options: Any
) -> tuple[ak.Array, list[Any], np.ndarray, np.ndarray]:
    """Read several event files and concatenate them in input order.

    Returns:
        ``(events, infos, file_index, entry)``: the events, one RunInfo per file, and for
        every event the index of its file and its entry in that file. ``max_events``
        applies to the total.
    """
    chunks, infos, file_index, entry = [], [], [], []
    remaining = max_events
    for i, path in enumerate(paths):
        if remaining is not None and remaining <= 0:
            break
        events, info = read_events(path, max_events=remaining, **options)
        chunks.append(events)
        infos.append(info)
        file_index.append(np.full(len(events), i, dtype=np.int32))
        entry.append(np.arange(len(events), dtype=np.int64))
        if remaining is not None:
            remaining -= len(events)
    events = chunks[0] if len(chunks) == 1 else concatenate_events(chunks, paths)
    return events, infos, np.concatenate(file_index), np.concatenate(entry)


def _figure_paths() -> dict[str, str]:
    return {
        "Relevance of the latent directions": "relevance.png",
        "Training curves": "training.png",
        "Relevant latents coloured by physics observables": "latent_pairs.png",
        "Correlation of the relevant latents with physics observables": "correlations.png",
    }


def physics_checks(
    trained: Any,
    features: Any,
    ledger: Any,
    fs: FinalState,
    relevant_dims: Sequence[int],
    *,
    transforms: Sequence[str] = (),
    seed: int = 0,
) -> dict[str, Any]:
    """Hidden relations and azimuthal symmetry of a trained model, as JSON-safe dicts.

    ``constraints``: the spread of every ledger constraint on decoded prior samples and
    decoded data next to the data's and a shuffled null's; ``tangency``: how much of the
    decoder Jacobian lies along the exact-constraint gradients; ``azimuthal``: relevance
    and latents under random rotations about the beam axis, and the flatness of decoded
    phi. The first two need at least one relevant direction (else ``None``).
    ``transformations``: the same relevance and latent comparison under each of
    ``transforms`` (see :func:`latentsym.analysis.symmetry.parse_transform`), for a symmetry
    the user suspects.
    """
    from latentsym.analysis.checks import constraint_residuals, decoder_tangency
    from latentsym.analysis.symmetry import (
        parse_transform,
        rotation_check,
        transformation_check,
    )

    out: dict[str, Any] = {"constraints": None, "tangency": None}
    if relevant_dims:
        out["constraints"] = constraint_residuals(
            trained, features, ledger, relevant_dims, seed=seed
        ).to_dict()
        out["tangency"] = decoder_tangency(
            trained, features, ledger, relevant_dims, seed=seed
        ).to_dict()
    out["azimuthal"] = rotation_check(trained, fs, features.representation, seed=seed).to_dict()
    if transforms:
        out["transformations"] = [
            transformation_check(
                trained, fs, parse_transform(t), representation=features.representation, seed=seed
            ).to_dict()
            for t in transforms
        ]
    return out


@dataclass(frozen=True, eq=False)
class _Inputs:
    """The events of an analysis: final state, features, and where each event came from."""

    fs: FinalState
    features: Any
    infos: list[Any]
    file_index: np.ndarray
    entry: np.ndarray
    n_read: int
    read_s: float


def _read_inputs(
    paths: Sequence[str | os.PathLike[str]],
    *,
    topology: str | None,
    representation: str,
    max_events: int | None,
    read_options: dict[str, Any] | None,
    dask: str | None,
    transforms: Sequence[Any] = (),
) -> _Inputs:
    """Read, select the final state and build the features, in one process or on dask."""
    from latentsym.features import build

    t0 = time.perf_counter()
    features = None
    if dask is not None:
        from latentsym.io.dask_io import connect, read_select_build

        with connect(dask) as client:
            got = read_select_build(
                paths,
                client,
                topology=topology,
                representation=representation,
                max_events=max_events,
                **(read_options or {}),
            )
        fs, features, infos, n_read = got.final_state, got.features, got.infos, got.n_events
        file_index, entry = got.file_index, got.entry
    else:
        events, infos, file_index, entry = read_many(
            paths, max_events=max_events, **(read_options or {})
        )
        n_read = len(events)
        fs = select_final_state(events, topology)
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
        features = build(fs, representation)
    return _Inputs(fs, features, infos, file_index, entry, n_read, read_s)


def run_analysis(
    paths: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    topology: str | None = None,
    representation: str = "cartesian",
    latent_dim: int = 6,
    hidden: tuple[int, ...] = (128, 128),
    beta: float | None = None,
    epochs: int | None = None,
    batch_size: int = 1024,
    kl_warmup_epochs: int = 0,
    transforms: Sequence[str] = (),
    mechanisms: Sequence[str] = (),
    mechanism_particle: str | None = None,
    seed: int = 0,
    max_events: int | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    read_options: dict[str, Any] | None = None,
    dask: str | None = None,
) -> dict[str, Any]:
    """Run the whole analysis and write its outputs into ``out_dir``.

    Writes ``summary.json``, ``report.md``, the PNG figures, ``model/`` (checkpoint:
    weights, config, scaler, history) and ``latents.root`` (one entry per input event).

    ``mechanisms`` (``"azimuthal"``, ``"boost-z"``) trains a
    :class:`~latentsym.models.MechanismVAE` instead of the plain VAE: its first latents
    turn with the azimuth (a 2D block) or shift with the rapidity of the system, the others
    stay invariant; ``summary["mechanism"]`` measures how well (see
    :func:`latentsym.analysis.mechanism_check.mechanism_check`), against the azimuth of
    ``mechanism_particle`` (default: the first particle of the final state).

    ``dask`` (``"auto"`` or a scheduler address ``"tcp://host:port"``) reads the files,
    selects the final state and builds the features on a dask cluster
    (:func:`latentsym.io.dask_io.read_select_build`): the same features, bit for bit, as
    in one process, so the same results.

    Launched by ``torchrun`` (``WORLD_SIZE > 1``), every process reads the events and
    trains one model together (DDP, see :func:`latentsym.models.fit`); rank 0 alone
    prepares and writes ``out_dir``, the other ranks return after training.

    Returns:
        The summary dictionary (as written to ``summary.json``); on the other ranks of a
        torchrun job only ``{"rank": ..., "world_size": ...}``.

    Raises:
        ConfigError: options that do not go together (mechanisms with ``resume`` or under
            torchrun; ``dask="auto"`` under torchrun).

    Example:
        >>> s = run_analysis(["samples/ee_mumu_91GeV.lhe.gz"], "out")  # doctest: +SKIP
        >>> s["n_relevant"], s["expected"]["manifold_dim"]  # doctest: +SKIP
        (3, 2)
    """
    from latentsym.analysis.symmetry import parse_transform
    from latentsym.models.distributed import on_main_process, process_group
    from latentsym.models.mechanism import MECHANISMS

    checked = [parse_transform(t) for t in transforms]  # a misspelt one is refused at once
    mechanisms = tuple(mechanisms)
    unknown = sorted(set(mechanisms) - set(MECHANISMS))
    if unknown:
        raise ConfigError(f"unknown mechanisms {unknown}; allowed: {', '.join(MECHANISMS)}")
    if mechanisms and resume:
        raise ConfigError(
            "--resume continues a plain VAE's checkpoint; a mechanism VAE trains from the start "
            "(drop --resume, or drop --mechanism)"
        )
    with process_group() as info:
        if info.distributed and mechanisms:
            raise ConfigError(
                "--mechanism trains in one process; run it without torchrun, or drop --mechanism"
            )
        if info.distributed and dask == "auto":
            raise ConfigError(
                "--dask auto under torchrun would start one local cluster per rank; give every "
                "rank the address of one scheduler (--dask tcp://HOST:PORT) or read without dask"
            )
        # rank 0 alone prepares the folder (a race otherwise); the others share its failure
        prepared = on_main_process(
            lambda: prepare_output_dir(out_dir, paths, overwrite=overwrite, resume=resume)
        )
        out = prepared if prepared is not None else Path(out_dir).expanduser().resolve()
        inputs = _read_inputs(
            paths,
            topology=topology,
            representation=representation,
            max_events=max_events,
            read_options=read_options,
            dask=dask,
            transforms=checked,
        )
        fit_kwargs: dict[str, Any] = {
            "latent_dim": latent_dim,
            "hidden": hidden,
            "batch_size": batch_size,
            "seed": seed,
            "kl_warmup_epochs": kl_warmup_epochs,
            "progress": progress,
        }
        if beta is not None:
            fit_kwargs["beta"] = beta
        if epochs is not None:
            fit_kwargs["epochs"] = epochs
        if mechanism_particle is not None and mechanism_particle not in inputs.fs.names:
            raise ConfigError(
                f"--mechanism-particle {mechanism_particle!r} is not in the final state "
                f"{list(inputs.fs.names)}"
            )
        if mechanisms:
            from latentsym.models.mechanism import fit_mechanism

            trained = fit_mechanism(inputs.features, mechanisms=mechanisms, **fit_kwargs)
            trained.save(out / "model", overwrite=overwrite)
        else:
            from latentsym.models import fit

            trained = fit(
                inputs.features,
                out_dir=out / "model",
                resume=resume,
                overwrite=overwrite,
                **fit_kwargs,
            )
        if not info.is_main:  # the other ranks of a torchrun job only train
            return {"rank": info.rank, "world_size": info.world_size}
        summary = _analyse(
            trained,
            inputs,
            out,
            paths,
            transforms=transforms,
            mechanism_particle=mechanism_particle,
            seed=seed,
        )
        summary["model"].update(latent_dim=latent_dim, hidden=list(hidden), batch_size=batch_size)
        atomic_write_json(out / "summary.json", summary)
        atomic_write_text(out / "report.md", render_report(summary, _figure_paths()))
        return summary


def _analyse(
    trained: Any,
    inputs: _Inputs,
    out: Path,
    paths: Sequence[str | os.PathLike[str]],
    *,
    transforms: Sequence[str],
    mechanism_particle: str | None,
    seed: int,
) -> dict[str, Any]:
    """Relevance, verdict, physics checks, figures and ``latents.root`` of a trained model."""
    from latentsym.analysis.intrinsic import latent_dimension
    from latentsym.analysis.relevance import relevance
    from latentsym.analysis.verdict import verdict
    from latentsym.physics.constraints import dimension_ledger
    from latentsym.report.figures import make_figures
    from latentsym.report.outputs import write_latents_root

    fs, features = inputs.fs, inputs.features
    ledger = dimension_ledger(fs.momenta(), fs.names, features.representation)
    mu, sigma = trained.encode(features.values)
    rel = relevance(mu, sigma=sigma)
    relevant_dims = rel.relevant_dims
    ld = latent_dimension(mu, sigma, relevant_dims, seed=seed) if relevant_dims else None
    latent_id = ld.value if ld else 0.0
    v = verdict(
        rel.n_relevant,
        ledger.manifold_dim,
        ledger.linear_rank,
        latent_id,
        ledger.manifold_dim_approx,
    )
    checks = physics_checks(
        trained, features, ledger, fs, relevant_dims, transforms=transforms, seed=seed
    )
    figures = _figure_paths()
    naming = make_figures(out, fs, mu, relevant_dims, rel, trained.history, figures)
    write_latents_root(
        out / "latents.root",
        n_events=inputs.n_read,
        event_index=fs.event_index,
        mu=mu,
        sigma=sigma,
        file_index=inputs.file_index,
        entry=inputs.entry,
    )
    rel_d = rel.to_dict()
    summary: dict[str, Any] = {
        "input": {
            "paths": [str(p) for p in paths],
            "n_events_read": inputs.n_read,
            "n_events_used": fs.n_events,
            "topology": topology_name(fs.pids),
            "pids": list(fs.pids),
            "dropped": fs.dropped,
            "sqrt_s": inputs.infos[0].sqrt_s,
        },
        "features": {
            "representation": features.representation,
            "names": list(features.names),
            "units": list(features.units),
            "constant": list(features.constant),
        },
        "model": {
            "type": trained.model.model_type,
            "beta": trained.train_config.beta,
            "epochs_run": trained.epochs_run,
            "best_epoch": trained.best_epoch,
            "seed": trained.train_config.seed,
        },
        "relevance": rel_d["relevance"],
        "n_relevant": rel.n_relevant,
        "threshold": rel.threshold,
        "gap": rel_d["gap"],
        "weak": rel_d["weak"],
        "relevant_dims": relevant_dims,
        "expected": ledger.to_dict(),
        "latent_manifold_dim": latent_id,
        "latent_dimension": ld.to_dict() if ld else None,
        "latent_names": {
            b["latent"]: [b["observable"], b["dcor"]] for b in naming.to_dict()["best"]
        },
        "naming": naming.to_dict(),
        "verdict": {"consistent": bool(v.consistent), "text": v.text},
        "checks": checks,
        "timing": {
            "read_s": inputs.read_s,
            "train_s": trained.train_seconds,
            "train_events_per_s": trained.events_per_second,
        },
        "outputs": {
            "figures": list(figures.values()),
            "latents": "latents.root",
            "model": "model/",
        },
    }
    if trained.model.model_type == "mechanism-vae":
        from latentsym.analysis.mechanism_check import mechanism_check

        particle = mechanism_particle if mechanism_particle is not None else 0
        check = mechanism_check(trained, features, particle=particle, seed=seed)
        summary["mechanism"] = check.to_dict()
    return summary


def run_invariant(
    paths: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    topology: str | None = None,
    representation: str = "collider",
    latent_dim: int = 6,
    inv_dim: int = 2,
    hidden: tuple[int, ...] = (128, 128),
    beta: float | None = None,
    epochs: int | None = None,
    batch_size: int = 1024,
    labelled_fraction: float = 1.0,
    test_fraction: float = 0.2,
    compare_plain: bool = True,
    label_branch: str | None = None,
    seed: int = 0,
    max_events: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
    read_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Invariant/equivariant VAE on several processes: the class of an event is its file.

    Reads every file (``max_events`` per file), selects each file's final state (all with
    the same number of particles, named ``p1 .. pn``), splits the events per class into a
    training and a held-out test part (``test_fraction``), trains an
    :class:`~latentsym.models.InvariantEquivariantVAE` (``inv_dim`` invariant latents,
    ``latent_dim - inv_dim`` equivariant ones) with ``labelled_fraction`` of the training
    labels, and measures on the test events: the class accuracy of the invariant block alone
    and of the equivariant block alone (a kNN and a logistic probe; chance is 1/K), the
    change of each block under rotations about the beam axis, and the reconstruction error,
    next to a plain VAE of the same latent size trained on the same events
    (``compare_plain``). With ``label_branch`` the class of an event is the value of that
    branch of its ROOT file instead (see
    :func:`latentsym.analysis.invariance.class_features`); one file is then enough.

    Writes ``summary.json``, ``report.md``, ``latents.png`` and ``model/``.

    Returns:
        The summary dictionary.

    Raises:
        ConfigError: fewer than two files, ``latent_dim <= inv_dim``, a bad fraction.
        TopologyError: final states with different numbers of particles.

    Example:
        >>> s = run_invariant(["mumu.lhe.gz", "tautau.lhe.gz", "bb.lhe.gz"], "out",
        ...                   labelled_fraction=0.1)  # doctest: +SKIP
        >>> s["invariant"]["inv_probe"]["knn"]["accuracy"]  # doctest: +SKIP
        0.999
    """
    from latentsym.analysis.invariance import (
        class_features,
        evaluate_invariant,
        evaluate_plain,
        split_classes,
        take_events,
    )
    from latentsym.models import fit, fit_invariant
    from latentsym.plotting import plot_class_latents, save_figure

    if len(paths) < 2 and label_branch is None:
        raise ConfigError(
            f"the invariant-equivariant model needs at least two files, one per class; got "
            f"{len(paths)}. Or give the ROOT branch that holds each event's class "
            "(--label-branch)."
        )
    if latent_dim <= inv_dim:
        raise ConfigError(
            f"latent_dim {latent_dim} must exceed inv_dim {inv_dim}: the rest is the "
            "equivariant block"
        )
    out = prepare_output_dir(out_dir, paths, overwrite=overwrite)
    t0 = time.perf_counter()
    data = class_features(
        paths,
        representation,
        max_events=max_events,
        topology=topology,
        label_branch=label_branch,
        read_options=read_options,
    )
    read_s = time.perf_counter() - t0
    tr, te = split_classes(data.labels, test_fraction, seed)
    f_tr, f_te = take_events(data.features, tr), take_events(data.features, te)
    y_tr, y_te = data.labels[tr], data.labels[te]
    kw: dict[str, Any] = {"hidden": hidden, "batch_size": batch_size, "seed": seed}
    if beta is not None:
        kw["beta"] = beta
    if epochs is not None:
        kw["epochs"] = epochs
    res = fit_invariant(
        f_tr,
        y_tr,
        class_names=data.class_names,
        inv_dim=inv_dim,
        eq_dim=latent_dim - inv_dim,
        labelled_fraction=labelled_fraction,
        progress=progress,
        **kw,
    )
    res.trained.save(out / "model", overwrite=overwrite)
    metrics = evaluate_invariant(res, f_te, y_te, seed=seed)
    plain = None
    if compare_plain:
        plain_model = fit(f_tr, latent_dim=latent_dim, progress=progress, **kw)
        plain = evaluate_plain(plain_model, f_te, y_te, seed=seed)
        plain["epochs_run"] = plain_model.epochs_run
    mu, _ = res.trained.encode(f_te)
    dims = list(range(latent_dim))
    fig = plot_class_latents(
        mu, y_te, data.class_names, dims[res.model.inv_slice], dims[res.model.eq_slice]
    )
    save_figure(fig, out / "latents.png", overwrite=True)
    counts = np.bincount(data.labels, minlength=len(data.class_names))
    summary: dict[str, Any] = {
        "input": {
            "paths": [str(p) for p in paths],
            "classes": list(data.class_names),
            "label_branch": label_branch,
            "topologies": list(data.topologies),
            "n_events_per_class": counts.tolist(),
            "n_train": len(tr),
            "n_test": len(te),
            "labelled_fraction": labelled_fraction,
            "n_labelled": int(res.labelled.sum()),
        },
        "features": {
            "representation": data.features.representation,
            "names": list(data.features.names),
            "constant": list(data.features.constant),
        },
        "model": {
            "type": res.model.model_type,
            "inv_dim": inv_dim,
            "eq_dim": latent_dim - inv_dim,
            "hidden": list(hidden),
            "beta": res.trained.train_config.beta,
            "epochs_run": res.trained.epochs_run,
            "best_epoch": res.trained.best_epoch,
            "seed": seed,
        },
        "chance_accuracy": 1.0 / len(data.class_names),
        "invariant": metrics,
        "plain": plain,
        "timing": {"read_s": read_s, "train_s": res.trained.train_seconds},
        "outputs": {"figures": ["latents.png"], "model": "model/"},
    }
    atomic_write_json(out / "summary.json", summary)
    atomic_write_text(out / "report.md", render_invariant_report(summary))
    return summary


def run_scan(
    paths: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    topology: str | None = None,
    representation: str = "cartesian",
    betas: Sequence[float] = (0.03, 0.1, 0.3, 1.0, 3.0),
    seeds: Sequence[int] = (0, 1, 2),
    latent_dim: int = 6,
    epochs: int | None = None,
    max_events: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
    read_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Relevant count against beta and seeds: writes ``scan.json`` and ``scan.png``.

    Returns:
        The scan dictionary (:meth:`latentsym.analysis.scan.ScanResult.to_dict`), whose
        ``plateau`` gives the beta range with a stable count (None when there is none).
    """
    from latentsym.analysis.scan import beta_scan
    from latentsym.features import build
    from latentsym.plotting import save_figure
    from latentsym.plotting.scan import plot_scan

    out = prepare_output_dir(out_dir, paths, overwrite=overwrite)
    events, *_ = read_many(paths, max_events=max_events, **(read_options or {}))
    fs = select_final_state(events, topology)
    features = build(fs, representation)
    kwargs: dict[str, Any] = {} if epochs is None else {"epochs": epochs}
    result = beta_scan(
        features,
        betas=tuple(betas),
        seeds=tuple(seeds),
        latent_dim=latent_dim,
        progress=progress,
        **kwargs,
    )
    d = result.to_dict()
    atomic_write_json(out / "scan.json", d)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    plot_scan(result, ax=ax)
    save_figure(fig, out / "scan.png", overwrite=True)
    return d
