"""Figures of the symmetry search: the test per candidate, found against named generators,
and the latent flow."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from latentsym.analysis.discovery import Discovery
from latentsym.analysis.distribution_symmetry import DistributionSymmetries
from latentsym.analysis.generators import LORENTZ_NAMES, ManifoldAlgebra
from latentsym.analysis.latent_flow import LatentFlow
from latentsym.plotting.style import CATEGORY_COLOURS, scaled_size

__all__ = ["plot_found_generators", "plot_latent_flow", "plot_symmetries", "plot_symmetry_tests"]


def plot_symmetry_tests(result: DistributionSymmetries, ax: Axes | None = None) -> Axes:
    """``-log10 p`` of every candidate's distribution test, invariant ones in blue.

    Example:
        >>> from latentsym.analysis.distribution_symmetry import (
        ...     TwoSampleOptions, distribution_symmetries)
        >>> from latentsym.features import Scaler
        >>> from latentsym.toys import MUON_PAIR, ee_to_mumu
        >>> p = ee_to_mumu(600)
        >>> opts = TwoSampleOptions(n_events=200, n_permutations=200)
        >>> sc = Scaler.fit(p.reshape(600, -1))
        >>> res = distribution_symmetries(p, MUON_PAIR, sc, options=opts)
        >>> ax = plot_symmetry_tests(res)
        >>> ax.get_ylabel()
        '$-\\\\log_{10} p$'
    """
    if ax is None:
        _, ax = plt.subplots(figsize=scaled_size(7.0, 4.0))
    names = [c.name for c in result.candidates]
    values = [-np.log10(max(c.pvalue, 1e-300)) for c in result.candidates]
    colours = [
        CATEGORY_COLOURS["relevant"] if c.invariant else CATEGORY_COLOURS["collapsed"]
        for c in result.candidates
    ]
    ax.bar(range(len(names)), values, color=colours)
    ax.axhline(-np.log10(result.alpha), color="0.3", ls="--", label=f"p = {result.alpha}")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_ylabel(r"$-\log_{10} p$")
    ax.legend(loc="best")
    return ax


def plot_found_generators(discovery: Discovery, ax: Axes | None = None) -> Axes:
    """``|cos|`` of every discovered generator with every named one (a heat map)."""
    if ax is None:
        _, ax = plt.subplots(figsize=scaled_size(6.0, 3.0))
    named = list(discovery.generators[0].cosines) if discovery.generators else list(LORENTZ_NAMES)
    table = np.array([[g.cosines.get(n, 0.0) for n in named] for g in discovery.generators])
    if table.size == 0:
        table = np.zeros((1, len(named)))
    image = ax.imshow(table, vmin=0.0, vmax=1.0, cmap="Blues", aspect="auto")
    ax.set_xticks(range(len(named)), named)
    rows = [f"found[{i}]{'' if g.invariant else ' (broken)'}"
            for i, g in enumerate(discovery.generators)]  # fmt: skip
    ax.set_yticks(range(len(rows)), rows)
    for (i, j), v in np.ndenumerate(table):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", color="k" if v < 0.6 else "w")
    ax.figure.colorbar(image, ax=ax, label="|cos|")
    return ax


def plot_latent_flow(flows: Sequence[LatentFlow], ax: Axes | None = None) -> Axes:
    """Share of each generator's latent displacement per latent direction (grouped bars)."""
    if ax is None:
        _, ax = plt.subplots(figsize=scaled_size(6.0, 4.0))
    if not flows:
        ax.text(0.5, 0.5, "no model: no latent view", ha="center", va="center",
                transform=ax.transAxes)  # fmt: skip
        return ax
    n_latent = len(flows[0].fractions)
    width = 0.8 / len(flows)
    for k, lf in enumerate(flows):
        ax.bar(np.arange(n_latent) + k * width, lf.fractions, width, label=lf.generator)
    ax.set_xticks(np.arange(n_latent) + 0.4 - width / 2, [f"z{i}" for i in range(n_latent)])
    ax.set_ylabel("share of the latent displacement")
    ax.set_ylim(0, 1.05)
    ax.legend(loc="best")
    return ax


def plot_symmetries(
    algebra: ManifoldAlgebra,
    distribution: DistributionSymmetries,
    discovery: Discovery,
    flows: Sequence[LatentFlow] = (),
) -> Figure:
    """The three panels of ``symmetries.png``: tests, found against named, latent flow."""
    fig, axes = plt.subplots(1, 3, figsize=scaled_size(18.0, 4.5))
    plot_symmetry_tests(distribution, axes[0])
    axes[0].set_title(f"manifold algebra: {', '.join(algebra.names) or 'none'}")
    plot_found_generators(discovery, axes[1])
    axes[1].set_title("discovered against named generators")
    plot_latent_flow(flows, axes[2])
    axes[2].set_title("latent flow")
    fig.tight_layout()
    return fig
