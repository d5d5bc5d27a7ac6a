"""Figures of an analysis and the naming of its relevant latents."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from latentsym.analysis.naming import Naming, latent_correlations
from latentsym.analysis.resolution import DimensionScale
from latentsym.physics.observables import observable_labels, observables
from latentsym.physics.selection import FinalState
from latentsym.plotting import (
    plot_dimension_scale,
    plot_latent_pairs,
    plot_naming,
    plot_relevance,
    plot_training,
    save_figure,
)

__all__ = ["make_figures", "name_latents", "save_dimension_scale"]

#: observables used to colour the pair plots, in this order, when present
_PAIR_COLOURS = ("cos_theta_star", "phi_star", "y_sys", "m_sys")


def name_latents(fs: FinalState, mu: np.ndarray, dims: Sequence[int], *, seed: int = 0) -> Naming:
    """Correlate the latents ``dims`` with the physics observables of the final state.

    Absolute Spearman and distance correlation against the observables of
    :func:`latentsym.physics.observables.observables` (with cos and sin of every azimuth:
    a VAE encodes an angle as a point on a circle); each latent is named after the
    observable it follows best by distance correlation.
    """
    return latent_correlations(
        mu[:, list(dims)],
        observables(fs.p4, fs.names),
        latent_names=[f"z{d}" for d in dims],
        labels=observable_labels(fs.names),
        seed=seed,
    )


def make_figures(
    out: Path,
    fs: FinalState,
    mu: np.ndarray,
    relevant_dims: Sequence[int],
    rel: Any,
    history: Sequence[Mapping[str, Any]],
    figures: Mapping[str, str],
) -> Naming:
    """Draw and save the analysis figures into ``out``; return the naming of the latents.

    The pair plots and the correlation heat map show the relevant directions (the two
    most relevant ones when none passes the threshold).
    """
    files = dict(figures.items())
    fig, ax = plt.subplots(figsize=(7, 4.5))
    plot_relevance(
        [d.R for d in rel.directions],
        threshold=rel.threshold,
        weak=rel.weak_floor,
        labels=[f"z{d.dim}" for d in rel.directions],
        var_mu=[d.var_mu for d in rel.directions],
        ax=ax,
    )
    save_figure(fig, out / files["Relevance of the latent directions"], overwrite=True)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    curves = {
        key: [np.nan if row.get(key) is None else float(row[key]) for row in history]
        for key in ("train_total", "train_recon", "train_kl", "val_total", "val_recon", "val_kl")
        if history and key in history[0]
    }
    plot_training(curves, ax=ax)
    save_figure(fig, out / files["Training curves"], overwrite=True)

    shown = list(relevant_dims) or [d.dim for d in rel.directions[:2]]
    obs = observables(fs.p4, fs.names)
    labels = observable_labels(fs.names)
    colour = {k: obs[k] for k in _PAIR_COLOURS if k in obs}
    fig = plot_latent_pairs(
        mu[:, shown],
        colour,
        labels=[f"$\\mu_{{{d}}}$" for d in shown],
        colour_labels={k: labels.get(k, k) for k in colour},
    )
    save_figure(
        fig, out / files["Relevant latents coloured by physics observables"], overwrite=True
    )

    naming = name_latents(fs, mu, shown)
    fig, ax = plt.subplots(
        figsize=(max(7.0, 0.6 * len(naming.observable_names)), 1.6 + 0.6 * len(shown))
    )
    plot_naming(naming, ax=ax)
    save_figure(
        fig,
        out / files["Correlation of the relevant latents with physics observables"],
        overwrite=True,
    )
    return naming


def save_dimension_scale(path: Path, curves: DimensionScale) -> None:
    """Draw :func:`~latentsym.plotting.plot_dimension_scale` and save it at ``path``."""
    save_figure(plot_dimension_scale(curves), path, overwrite=True)
