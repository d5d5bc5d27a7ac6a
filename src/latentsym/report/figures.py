"""Figures of an analysis and the latent-observable correlation table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from latentsym.physics.observables import observable_labels, observables
from latentsym.physics.selection import FinalState

__all__ = ["latent_observable_correlations", "make_figures", "naming_observables"]

#: observables used to colour the pair plots, in this order, when present
_PAIR_COLOURS = ("cos_theta_star", "phi_star", "y_sys", "m_sys")


def naming_observables(fs: FinalState) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Observables to name latents by, with their axis labels.

    The observables of :func:`latentsym.physics.observables.observables` (Collins–Soper
    angles of the first particle, system mass, rapidity, pT, per-particle pT/eta/phi),
    plus ``cos`` and ``sin`` of ``phi_star``: a VAE encodes an angle as a point on a circle,
    which a rank correlation with the angle itself does not see.
    """
    obs = observables(fs.p4, fs.names)
    labels = observable_labels(fs.names)
    if "phi_star" in obs:
        obs["cos_phi_star"] = np.cos(obs["phi_star"])
        obs["sin_phi_star"] = np.sin(obs["phi_star"])
        labels["cos_phi_star"] = r"$\cos\phi^*$"
        labels["sin_phi_star"] = r"$\sin\phi^*$"
    return obs, labels


def latent_observable_correlations(
    mu: np.ndarray, obs: Mapping[str, np.ndarray], *, max_points: int = 20000, seed: int = 0
) -> tuple[np.ndarray, list[str]]:
    """Absolute Spearman rank correlation of each latent with each observable.

    Args:
        mu: ``[N, k]`` encoder means.
        obs: ``{name: [N]}`` observables; constant or non-finite ones get NaN.

    Returns:
        ``([k, n_obs] |rho|, observable names)``.
    """
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(mu))[:max_points]
    names = list(obs)
    out = np.full((mu.shape[1], len(names)), np.nan)
    for j, name in enumerate(names):
        values = np.asarray(obs[name])[idx]
        ok = np.isfinite(values)
        if ok.sum() < 10 or np.ptp(values[ok]) == 0:
            continue
        for i in range(mu.shape[1]):
            rho = spearmanr(mu[idx][ok, i], values[ok]).statistic
            out[i, j] = abs(float(rho))
    return out, names


def make_figures(
    out: Path,
    fs: FinalState,
    mu: np.ndarray,
    relevant_dims: Sequence[int],
    rel: Any,
    history: Sequence[Mapping[str, Any]],
    figures: Mapping[str, str],
) -> dict[str, tuple[str, float]]:
    """Draw and save the analysis figures into ``out``; name the relevant latents.

    Returns:
        ``{latent dim: (observable it follows best, |Spearman rho|)}`` for the relevant
        directions.
    """
    import matplotlib.pyplot as plt

    from latentsym.plotting import (
        plot_correlations,
        plot_latent_pairs,
        plot_relevance,
        plot_training,
        save_figure,
    )

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

    obs, labels = naming_observables(fs)
    shown = list(relevant_dims) or [d.dim for d in rel.directions[:2]]
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

    corr, names = latent_observable_correlations(mu[:, shown], obs)
    fig, ax = plt.subplots(figsize=(max(7.0, 0.6 * len(names)), 1.2 + 0.6 * len(shown)))
    plot_correlations(
        corr,
        [f"z{d}" for d in shown],
        [labels.get(n, n) for n in names],
        ax=ax,
        vmin=0.0,
        vmax=1.0,
        cmap="viridis",
        fmt="{:.2f}",
        cbar_label="|Spearman ρ|",
    )
    save_figure(
        fig,
        out / files["Correlation of the relevant latents with physics observables"],
        overwrite=True,
    )

    named: dict[str, tuple[str, float]] = {}
    for row, dim in enumerate(shown):
        if dim not in relevant_dims or np.all(np.isnan(corr[row])):
            continue
        j = int(np.nanargmax(corr[row]))
        named[str(dim)] = (names[j], float(corr[row, j]))
    return named
