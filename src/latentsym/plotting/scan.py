"""The relevant count against the KL weight beta, with its spread over seeds."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from latentsym.analysis.scan import ScanResult
from latentsym.plotting.style import CATEGORY_COLOURS, scaled_size

__all__ = ["plot_scan"]


def plot_scan(result: ScanResult, ax: Axes | None = None) -> Axes:
    """Mean relevant count over seeds against beta (log axis), error bars = std over seeds.

    Each seed's count is drawn as a faint dot; the plateau (if any) is shaded and labelled.
    The mean latent intrinsic dimension over seeds is drawn beside the count, and, on a
    sample with approximate constraints, the dimension predicted at the read scale.

    Args:
        result: a :class:`~latentsym.analysis.scan.ScanResult`.
        ax: Axes to draw on; a new figure when None.

    Returns:
        The Axes.

    Example:
        Four short fits (two seconds) on the unit circle: two relevant directions (the
        circle's linear rank) at both betas, a plateau.

        >>> from latentsym.analysis.scan import beta_scan
        >>> from latentsym.models import Architecture, TrainConfig
        >>> from latentsym.toys import circle
        >>> result = beta_scan(
        ...     circle(1000, seed=0),
        ...     betas=(0.3, 0.5),
        ...     seeds=(0, 1),
        ...     arch=Architecture(latent_dim=3, hidden=(32,)),
        ...     train=TrainConfig(epochs=50, batch_size=100),
        ... )
        >>> result.k_table.tolist(), result.plateau.k
        ([[2, 2], [2, 2]], 2)
        >>> ax = plot_scan(result)
        >>> ax.get_xscale(), ax.get_legend_handles_labels()[1]
        ('log', ['latent dimension', 'plateau: k = 2', 'mean over seeds'])
    """
    if ax is None:
        _, ax = plt.subplots(figsize=scaled_size(6.0, 4.0))
    betas = np.asarray(result.betas)
    table = result.k_table
    colour = CATEGORY_COLOURS["relevant"]
    for j in range(table.shape[1]):
        ax.plot(betas, table[:, j], "o", color=colour, alpha=0.3, markersize=4)
    ax.errorbar(
        betas,
        result.k_mean,
        yerr=result.k_std,
        fmt="o-",
        color=colour,
        capsize=4,
        label="mean over seeds",
    )
    latent_id, predicted = result.latent_id_mean, result.predicted_mean
    if np.isfinite(latent_id).any():
        ax.plot(betas, latent_id, "D--", color="0.3", markersize=4, label="latent dimension")
    if np.isfinite(predicted).any():
        ax.plot(
            betas,
            predicted,
            "s:",
            color=CATEGORY_COLOURS["weak"],
            label="predicted at the read scale",
        )
    p = result.plateau
    if p is not None:
        lo, hi = p.beta_min / 1.25, p.beta_max * 1.25
        ax.axvspan(lo, hi, color=CATEGORY_COLOURS["weak"], alpha=0.25, label=f"plateau: k = {p.k}")
    ax.set_xscale("log")
    ax.set_xlabel(r"$\beta$")
    ax.set_ylabel("relevant directions $k$")
    top = max(float(table.max()), float(np.nanmax(latent_id, initial=0.0)), 1.0)
    ax.set_ylim(-0.3, top + 0.8)
    ax.set_yticks(range(int(top) + 1))
    ax.legend(loc="best")
    return ax
