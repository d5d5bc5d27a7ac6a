"""Truth-comparison figures: normalised histograms with a ratio panel, and a grid of them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import mplhep
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from latentsym.analysis.compare import Comparison, compare_observables
from latentsym.analysis.naming import Naming
from latentsym.errors import ConfigError
from latentsym.plotting.latents import plot_correlations
from latentsym.plotting.style import scaled_size

__all__ = ["plot_all", "plot_comparison", "plot_naming"]

_COLOURS = ("black", "#3f90da", "#e42536", "#ffa90e", "#964a8b")


def _as_comparison(data: Comparison | Mapping[str, Mapping[str, np.ndarray]]) -> Comparison:
    return data if isinstance(data, Comparison) else compare_observables(data)


def _density(comp: Comparison, observable: str, sample: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit-x density of a sample (fraction of its total weight) and its error."""
    h = comp.histograms[observable][sample]
    total = float(h.values(flow=True).sum())
    width = np.diff(h.axes[0].edges)
    values, variances = np.asarray(h.values()), np.asarray(h.variances())
    return values / total / width, np.sqrt(variances) / total / width


def plot_comparison(
    data: Comparison | Mapping[str, Mapping[str, np.ndarray]],
    observable: str,
    *,
    ax: tuple[Axes, Axes] | None = None,
    label: str | None = None,
) -> tuple[Axes, Axes]:
    """One observable: normalised histograms of every sample and their ratio to the reference.

    The reference is drawn as points with statistical errors, the other samples as steps
    with error bars; the lower panel shows ``sample / reference`` per bin (errors of the
    sample only; the grey band is the reference's relative error). The legend carries each
    sample's chi2/ndf and W1 / std(reference).

    Args:
        data: a :class:`~latentsym.analysis.compare.Comparison`, or
            ``{sample: {observable: values}}`` with an ``"input"`` sample (compared first).
        observable: the observable key.
        ax: ``(main, ratio)`` Axes to draw on; a new figure when None.
        label: x-axis title (default: the comparison's label of the observable).

    Returns:
        The ``(main, ratio)`` Axes.

    Raises:
        ConfigError: for an observable that was not compared.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> main, ratio = plot_comparison({"input": {"x": rng.normal(size=1000)},
        ...                                "generated": {"x": rng.normal(size=1000)}}, "x")
        >>> len(main.get_legend().get_texts())
        2
    """
    comp = _as_comparison(data)
    if observable not in comp.histograms:
        raise ConfigError(
            f"observable {observable!r} was not compared; allowed: {', '.join(comp.observables)}"
        )
    if ax is None:
        fig = plt.figure(figsize=scaled_size(5.0, 5.0))
        gs = fig.add_gridspec(2, 1, height_ratios=(3, 1), hspace=0.05)
        main, ratio = fig.add_subplot(gs[0]), fig.add_subplot(gs[1])
    else:
        main, ratio = ax
    ratio.sharex(main)
    edges = comp.histograms[observable][comp.reference].axes[0].edges
    centres = 0.5 * (edges[1:] + edges[:-1])
    ref, ref_err = _density(comp, observable, comp.reference)
    mplhep.histplot(
        ref, edges, yerr=ref_err, histtype="errorbar", color=_COLOURS[0], label=comp.reference,
        ax=main, flow="none",
    )  # fmt: skip
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(ref > 0, ref_err / ref, np.nan)
    ratio.fill_between(edges, np.append(1 - rel, 1 - rel[-1]), np.append(1 + rel, 1 + rel[-1]),
                       step="post", color="0.85", linewidth=0)  # fmt: skip
    for i, sample in enumerate(comp.samples[1:], start=1):
        colour = _COLOURS[i % len(_COLOURS)]
        r = comp.result(observable, sample)
        text = f"{sample} ($\\chi^2$/ndf {r.chi2_ndf:.2f}, $W_1/\\sigma$ {r.w1_rel:.3f})"
        if r.fixed:  # held fixed by an exact constraint: no chi2 against a delta
            text = f"{sample} (fixed in the input; spread {r.spread_sample:.2g})"
        val, err = _density(comp, observable, sample)
        mplhep.histplot(val, edges, yerr=err, histtype="step", color=colour, label=text,
                        ax=main, flow="none")  # fmt: skip
        with np.errstate(divide="ignore", invalid="ignore"):
            q, qe = np.where(ref > 0, val / ref, np.nan), np.where(ref > 0, err / ref, np.nan)
        ratio.errorbar(centres, q, yerr=qe, fmt="o", markersize=3, color=colour)
    ratio.axhline(1.0, color="0.4", linewidth=0.8)
    ratio.set_ylim(0.5, 1.5)
    ratio.set_ylabel("ratio")
    ratio.set_xlabel(label or comp.labels.get(observable, observable))
    main.set_ylabel("normalised density")
    main.tick_params(labelbottom=False)
    main.set_xlabel("")
    main.legend(fontsize="small")
    return main, ratio


def plot_all(
    data: Comparison | Mapping[str, Mapping[str, np.ndarray]],
    *,
    observables: Sequence[str] | None = None,
    ncols: int = 4,
) -> Figure:
    """A grid of :func:`plot_comparison` panels, one per observable.

    Args:
        data: a Comparison or ``{sample: {observable: values}}`` (see :func:`plot_comparison`).
        observables: keys to draw (default: all compared observables, in order).
        ncols: panels per row.

    Returns:
        The Figure.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> fig = plot_all({"input": {"a": rng.normal(size=500), "b": rng.random(500)},
        ...                 "generated": {"a": rng.normal(size=500), "b": rng.random(500)}})
        >>> len(fig.axes)
        4
    """
    comp = _as_comparison(data)
    keys = list(observables) if observables is not None else list(comp.observables)
    if not keys:
        raise ConfigError("no observables to draw; allowed: " + ", ".join(comp.observables))
    ncols = max(1, min(ncols, len(keys)))
    nrows = math.ceil(len(keys) / ncols)
    fig = plt.figure(figsize=scaled_size(4.5 * ncols, 4.5 * nrows))
    outer = fig.add_gridspec(nrows, ncols, hspace=0.35, wspace=0.3)
    for i, key in enumerate(keys):
        inner = outer[i // ncols, i % ncols].subgridspec(2, 1, height_ratios=(3, 1), hspace=0.05)
        plot_comparison(comp, key, ax=(fig.add_subplot(inner[0]), fig.add_subplot(inner[1])))
    return fig


def plot_naming(naming: Naming, *, which: str = "dcor", ax: Axes | None = None) -> Axes:
    """Heat map of a :class:`~latentsym.analysis.naming.Naming` (latents x observables).

    Args:
        naming: the result of :func:`~latentsym.analysis.naming.latent_correlations`.
        which: ``"dcor"`` (distance correlation) or ``"spearman"`` (absolute Spearman).
        ax: Axes to draw on; a new figure when None.

    Returns:
        The Axes of the map.

    Example:
        Two latents that are the cosine and the sine of an azimuth (the harmonics of
        ``phi_star`` are added to the observables):

        >>> from latentsym.analysis.naming import latent_correlations
        >>> rng = np.random.default_rng(0)
        >>> phi = rng.uniform(-np.pi, np.pi, 1000)
        >>> naming = latent_correlations(np.stack([np.cos(phi), np.sin(phi)], axis=1),
        ...                              {"phi_star": phi})
        >>> ax = plot_naming(naming)
        >>> [t.get_text() for t in ax.get_xticklabels()]
        ['phi_star', 'cos_phi_star', 'sin_phi_star']
        >>> [t.get_text() for t in ax.texts]
        ['0.50', '1.00', '0.19', '0.86', '0.19', '1.00']
    """
    options = {"dcor": "distance correlation", "spearman": "|Spearman|"}
    if which not in options:
        raise ConfigError(f"which={which!r} is not known; allowed: {', '.join(options)}")
    matrix = naming.dcor if which == "dcor" else naming.spearman
    latents, obs = list(naming.latent_names), list(naming.observable_names)
    labels = naming.labels
    if ax is None:
        _, ax = plt.subplots(
            figsize=scaled_size(max(4.0, 0.9 * len(obs) + 2.0), 1.0 + 0.6 * len(latents))
        )
    return plot_correlations(
        matrix, latents, [labels.get(o, o) for o in obs], ax=ax, vlim=(0.0, 1.0),
        cmap="viridis", fmt="{:.2f}", cbar_label=options[which],
    )  # fmt: skip
