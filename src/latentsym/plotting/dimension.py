"""Dimension against scale: measured and predicted, for the data and for the latents."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from latentsym.analysis.resolution import DimensionScale, constraint_label
from latentsym.plotting.style import CATEGORY_COLOURS, scaled_size

__all__ = ["plot_dimension_scale"]


def _steps(
    ax: Axes, d: int, d_approx: int, thickness: list[float], x_range: tuple[float, float]
) -> None:
    """The ledger's steps: d below every thickness, one step down at each, d_approx above."""
    lo, hi = x_range
    edges = sorted(t for t in thickness if math.isfinite(t) and t > 0)
    xs = [min(lo, *(edges or [lo])) / 3.0, *edges, max(hi, *(edges or [hi])) * 3.0]
    ys = [d_approx + sum(1 for t in edges if t > x) for x in xs[:-1]]
    ys = [min(y, d) for y in ys]
    ax.step(
        [*xs[:-1], xs[-1]],
        [*ys, ys[-1]],
        where="post",
        color="0.4",
        lw=1.2,
        ls="--",
        label="ledger steps",
    )


def _panel(
    ax: Axes,
    points: tuple,
    predicted: tuple[float, ...],
    line: tuple[tuple[float, float], ...],
    ds: DimensionScale,
    thickness: tuple[float, ...],
    title: str,
) -> None:
    scales = np.array([p.scale for p in points])
    dims = np.array([p.dim for p in points])
    x_range = (float(scales.min()), float(scales.max())) if len(scales) else (1e-3, 1.0)
    if ds.d_approx != ds.d:
        _steps(ax, ds.d, ds.d_approx, list(thickness), x_range)
    else:
        ax.axhline(ds.d, color="0.4", lw=1.2, ls="--", label=f"d = {ds.d}")
    if line:
        xs, ys = zip(*line, strict=True)
        ax.plot(
            xs,
            ys,
            "-",
            color=CATEGORY_COLOURS["weak"],
            lw=1.0,
            alpha=0.7,
            label="predicted, every scale",
        )
    ax.plot(scales, dims, "o-", color=CATEGORY_COLOURS["relevant"], label="measured (GRIDE)")
    if predicted:
        ax.plot(
            scales,
            predicted,
            "s:",
            color=CATEGORY_COLOURS["weak"],
            label="predicted at those points",
        )
    for name, t in zip(ds.names, thickness, strict=True):
        if math.isfinite(t) and t > 0:
            ax.axvline(t, color="0.6", lw=0.8, ls=":")
            ax.annotate(
                constraint_label(name), (t, ds.d_approx - 0.35), rotation=90, fontsize="x-small",
                ha="right", va="top", color="0.4",
            )  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("scale (median distance to the n2-th neighbour)")
    ax.set_ylabel("intrinsic dimension")
    ax.set_ylim(max(ds.d_approx - 1.5, 0), ds.d + 1)
    ax.set_title(title, fontsize="small")


def plot_dimension_scale(ds: DimensionScale, fig: Figure | None = None) -> Figure:
    """Two panels: the standardised features (no model) and the encoded means along the
    relevant directions, each with the measured GRIDE dimension against scale, the
    prediction from the approximate constraints' thickness, the ledger's steps (d below
    each constraint's thickness, d_approx above all of them) and, on the latent panel, the
    scale where the latent dimension is read.

    Example:
        >>> from latentsym.toys import pp_to_mumu
        >>> from latentsym.physics.constraints import dimension_ledger
        >>> from latentsym.physics.thickness import constraint_geometry
        >>> from latentsym.analysis.resolution import dimension_scale
        >>> p = pp_to_mumu(2000)
        >>> geo = constraint_geometry(p, ["mu+", "mu-"], dimension_ledger(p, ["mu+", "mu-"]))
        >>> z = (p.reshape(2000, -1) - p.reshape(2000, -1).mean(0)) / geo.scale
        >>> fig = plot_dimension_scale(dimension_scale(geo, z, max_n2=16))
        >>> left = fig.axes[0]
        >>> left.get_xscale(), left.get_legend_handles_labels()[1][:3]
        ('log', ['ledger steps', 'predicted, every scale', 'measured (GRIDE)'])
    """
    if fig is None:
        fig = plt.figure(figsize=scaled_size(11.0, 4.2))
    left, right = fig.subplots(1, 2, sharey=True)
    _panel(
        left,
        ds.data,
        ds.data_predicted,
        ds.data_line,
        ds,
        ds.thickness,
        "standardised features (no model)",
    )
    if ds.latent:
        _panel(
            right,
            ds.latent,
            ds.latent_predicted,
            ds.latent_line,
            ds,
            ds.thickness_latent,
            "encoded means, relevant directions",
        )
        if math.isfinite(ds.read_scale):
            right.axvline(
                ds.read_scale,
                color=CATEGORY_COLOURS["relevant"],
                lw=1.5,
                alpha=0.5,
                label="read scale",
            )
    else:
        right.text(
            0.5, 0.5, "no relevant direction", ha="center", va="center", transform=right.transAxes
        )
        right.set_axis_off()
    left.legend(fontsize="x-small", loc="lower right")
    if ds.latent:
        right.legend(fontsize="x-small", loc="lower right")
    return fig
