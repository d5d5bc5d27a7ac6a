"""The main job: events -> final state -> features -> VAE -> relevance -> verdict -> report.

:func:`run_analysis` calls the library stages in the order of the design's data flow and
writes everything into one output folder. The ``latentsym run`` command and the notebooks
call the same functions.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

import awkward as ak
import numpy as np

from latentsym.errors import TopologyError
from latentsym.io.read import read_events
from latentsym.io.schema import concatenate_events
from latentsym.physics.selection import FinalState, select_final_state, topology_name

__all__ = ["physics_checks", "read_many", "run_analysis"]


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
    seed: int = 0,
    max_events: int | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    read_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the whole analysis and write its outputs into ``out_dir``.

    Writes ``summary.json``, ``report.md``, the PNG figures, ``model/`` (checkpoint:
    weights, config, scaler, history) and ``latents.root`` (one entry per input event).

    Launched by ``torchrun`` (``WORLD_SIZE > 1``), every process reads the events and
    trains one model together (DDP, see :func:`latentsym.models.fit`); rank 0 alone
    prepares and writes ``out_dir``, the other ranks return after training.

    Returns:
        The summary dictionary (as written to ``summary.json``); on the other ranks of a
        torchrun job only ``{"rank": ..., "world_size": ...}``.

    Example:
        >>> s = run_analysis(["samples/ee_mumu_91GeV.lhe.gz"], "out")  # doctest: +SKIP
        >>> s["n_relevant"], s["expected"]["manifold_dim"]  # doctest: +SKIP
        (3, 2)
    """
    from pathlib import Path

    from latentsym.analysis.intrinsic import twonn
    from latentsym.analysis.relevance import relevance
    from latentsym.analysis.symmetry import parse_transform
    from latentsym.analysis.verdict import verdict
    from latentsym.features import build
    from latentsym.models import fit
    from latentsym.models.distributed import on_main_process, process_group
    from latentsym.physics.constraints import dimension_ledger
    from latentsym.report.figures import make_figures
    from latentsym.report.markdown import render_report
    from latentsym.report.outputs import (
        atomic_write_json,
        atomic_write_text,
        prepare_output_dir,
        write_latents_root,
    )

    with process_group() as info:
        checked = [parse_transform(t) for t in transforms]  # a misspelt one is refused at once
        # rank 0 alone prepares the folder (a race otherwise); the others share its failure
        prepared = on_main_process(
            lambda: prepare_output_dir(out_dir, paths, overwrite=overwrite, resume=resume)
        )
        out = prepared if prepared is not None else Path(out_dir).expanduser().resolve()

        t0 = time.perf_counter()
        events, infos, file_index, entry = read_many(
            paths, max_events=max_events, **(read_options or {})
        )
        read_s = time.perf_counter() - t0
        fs: FinalState = select_final_state(events, topology)
        if fs.n_events < 100:
            raise TopologyError(
                f"only {fs.n_events} events have the final state {topology_name(fs.pids)!r}; "
                "at least 100 are needed to train. Choose another --topology or more events."
            )

        for transform in checked:  # and one that does not apply to the topology, before training
            if transform.check is not None:
                transform.check(fs.names)
        features = build(fs, representation)
        ledger = dimension_ledger(fs.momenta(), fs.names, representation)

        fit_kwargs: dict[str, Any] = {
            "latent_dim": latent_dim,
            "hidden": hidden,
            "batch_size": batch_size,
            "seed": seed,
            "kl_warmup_epochs": kl_warmup_epochs,
        }
        if beta is not None:
            fit_kwargs["beta"] = beta
        if epochs is not None:
            fit_kwargs["epochs"] = epochs
        trained = fit(
            features,
            out_dir=out / "model",
            resume=resume,
            overwrite=overwrite,
            progress=progress,
            **fit_kwargs,
        )
        if not info.is_main:  # the other ranks of a torchrun job only train
            return {"rank": info.rank, "world_size": info.world_size}

        mu, sigma = trained.encode(features.values)
        rel = relevance(mu, sigma=sigma)
        relevant_dims = rel.relevant_dims
        latent_id = float(twonn(mu[:, relevant_dims])) if len(relevant_dims) >= 1 else 0.0
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
            n_events=len(events),
            event_index=fs.event_index,
            mu=mu,
            sigma=sigma,
            file_index=file_index,
            entry=entry,
        )
        rel_d = rel.to_dict()
        summary: dict[str, Any] = {
            "input": {
                "paths": [str(p) for p in paths],
                "n_events_read": len(events),
                "n_events_used": fs.n_events,
                "topology": topology_name(fs.pids),
                "pids": list(fs.pids),
                "dropped": fs.dropped,
                "sqrt_s": infos[0].sqrt_s,
            },
            "features": {
                "representation": features.representation,
                "names": list(features.names),
                "units": list(features.units),
                "constant": list(features.constant),
            },
            "model": {
                "latent_dim": latent_dim,
                "beta": trained.train_config.beta,
                "hidden": list(hidden),
                "epochs_run": trained.epochs_run,
                "best_epoch": trained.best_epoch,
                "seed": seed,
                "batch_size": batch_size,
            },
            "relevance": rel_d["relevance"],
            "n_relevant": rel.n_relevant,
            "threshold": rel.threshold,
            "gap": rel_d["gap"],
            "weak": rel_d["weak"],
            "relevant_dims": relevant_dims,
            "expected": ledger.to_dict(),
            "latent_manifold_dim": latent_id,
            "latent_names": {
                b["latent"]: [b["observable"], b["dcor"]] for b in naming.to_dict()["best"]
            },
            "naming": naming.to_dict(),
            "verdict": {"consistent": bool(v.consistent), "text": v.text},
            "checks": checks,
            "timing": {
                "read_s": read_s,
                "train_s": trained.train_seconds,
                "train_events_per_s": trained.events_per_second,
            },
            "outputs": {
                "figures": list(figures.values()),
                "latents": "latents.root",
                "model": "model/",
            },
        }
        atomic_write_json(out / "summary.json", summary)
        atomic_write_text(out / "report.md", render_report(summary, figures))
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
    from latentsym.report.outputs import atomic_write_json, prepare_output_dir

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
