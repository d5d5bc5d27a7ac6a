"""Latent-space figures: pair plots coloured by physics observables, correlation maps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colors
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.figure import Figure

from latentsym.errors import ConfigError
from latentsym.plotting.style import scaled_size

__all__ = ["plot_class_latents", "plot_correlations", "plot_latent_pairs"]


def _cmap_for(key: str) -> str:
    """A cyclic colour map for azimuthal angles, a sequential one otherwise."""
    return "twilight" if key.startswith("phi") else "viridis"


def _norm(values: np.ndarray, key: str) -> tuple[colors.Normalize, str]:
    """Colour scale from the 1st to the 99th percentile (full range for angles)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return colors.Normalize(0.0, 1.0), "neither"
    if key.startswith(("phi", "cos")):
        lo, hi = float(finite.min()), float(finite.max())
    else:
        lo, hi = (float(q) for q in np.percentile(finite, [1.0, 99.0]))
    below, above = bool(finite.min() < lo), bool(finite.max() > hi)
    extend = {(False, False): "neither", (True, False): "min", (False, True): "max"}.get(
        (below, above), "both"
    )
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return colors.Normalize(lo, hi), extend


def plot_latent_pairs(
    mu: np.ndarray,
    colour: Mapping[str, np.ndarray],
    *,
    labels: Sequence[str] | None = None,
    colour_labels: Mapping[str, str] | None = None,
    max_points: int = 5000,
    seed: int = 0,
    fig: Figure | None = None,
) -> Figure:
    """Scatter plots of every pair of latent means, one row per colouring observable.

    Row ``r`` shows all ``k (k - 1) / 2`` pairs ``(mu_i, mu_j)``, ``i < j``, coloured by
    observable ``r`` with one colour bar per row. Azimuthal observables (keys starting with
    ``phi``) use a cyclic colour map. For ``k = 1`` each row plots the observable against
    ``mu_0``. The same random subset of events is drawn in every panel.

    Args:
        mu: ``[N, k]`` encoder means of the relevant directions.
        colour: ``{key: [N] values}``, e.g. a selection of
            :func:`latentsym.physics.observables.observables`.
        labels: ``[k]`` axis names of the latents (default ``mu_0 ..``).
        colour_labels: ``{key: colour-bar title}`` (e.g. from ``observable_labels``);
            missing keys use the key itself.
        max_points: at most this many events are drawn (random subset, fixed ``seed``).
        seed: seed of the subset.
        fig: an empty figure to draw in; a new one when None.

    Returns:
        The Figure (``len(colour)`` rows of Axes plus one colour bar per row).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> mu = rng.normal(size=(500, 3))
        >>> fig = plot_latent_pairs(mu, {"cos_theta_star": np.tanh(mu[:, 0])})
        >>> len(fig.axes)  # 3 pairs + 1 colour bar
        4
    """
    mu = np.asarray(mu, dtype=np.float64)
    if mu.ndim != 2 or mu.shape[1] == 0:
        raise ConfigError(f"mu must be an [N, k] array with k >= 1, got shape {mu.shape}")
    n, k = mu.shape
    if not colour:
        raise ConfigError("colour is empty: give at least one {name: [N] values} to colour by")
    for key, values in colour.items():
        if np.shape(values) != (n,):
            raise ConfigError(
                f"colour[{key!r}] has shape {np.shape(values)} but mu has {n} events: give "
                "one value per event, in the order of mu"
            )
    names = list(labels) if labels is not None else [f"$\\mu_{{{i}}}$" for i in range(k)]
    if len(names) != k:
        raise ConfigError(f"labels has {len(names)} entries but mu has {k} columns")
    if max_points < 1:
        raise ConfigError(f"max_points={max_points} must be at least 1")
    titles = dict(colour_labels or {})
    idx = np.arange(n)
    if n > max_points:
        idx = np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))
    pairs = list(combinations(range(k), 2)) if k > 1 else [(0, -1)]
    rows, cols = len(colour), len(pairs)
    if fig is None:
        fig = plt.figure(figsize=scaled_size(2.6 * cols + 1.4, 2.4 * rows), layout="constrained")
    axes = np.asarray(fig.subplots(rows, cols, squeeze=False))
    for r, (key, values) in enumerate(colour.items()):
        c = np.asarray(values, dtype=np.float64)[idx]
        norm, extend = _norm(c, key)
        cmap = _cmap_for(key)
        title = titles.get(key, key)
        for col, (i, j) in enumerate(pairs):
            ax = axes[r, col]
            y = mu[idx, j] if j >= 0 else c
            ax.scatter(mu[idx, i], y, c=c, cmap=cmap, norm=norm, s=2, lw=0, rasterized=True)
            ax.set_xlabel(names[i])
            ax.set_ylabel(names[j] if j >= 0 else title)
            ax.tick_params(labelsize="x-small")
        sm = ScalarMappable(norm=norm, cmap=cmap)
        fig.colorbar(sm, ax=list(axes[r]), label=title, extend=extend, aspect=15)
    return fig


def plot_correlations(
    matrix: np.ndarray | Sequence[Sequence[float]],
    latent_labels: Sequence[str],
    observable_labels: Sequence[str],
    *,
    ax: Axes | None = None,
    vlim: tuple[float, float] = (-1.0, 1.0),
    cmap: str = "RdBu_r",
    fmt: str = "{:+.2f}",
    cbar_label: str = "correlation",
) -> Axes:
    """Heat map of a ``[k, n_obs]`` latent-observable matrix with the values in the cells.

    Args:
        matrix: ``[k, n_obs]`` values, e.g. correlation coefficients (NaN cells show "n/a").
        latent_labels: ``[k]`` row names.
        observable_labels: ``[n_obs]`` column names (axis titles work: units are fine).
        ax: Axes to draw on; a new figure when None.
        vlim: colour range ``(vmin, vmax)`` (default -1 .. 1 for correlations).
        cmap: matplotlib colour map (diverging by default).
        fmt: format of the cell text.
        cbar_label: colour-bar title.

    Returns:
        The Axes of the map.

    Example:
        >>> ax = plot_correlations([[0.9, -0.1], [0.05, 0.7]], ["$z_0$", "$z_1$"],
        ...                        ["cos", "phi"])
        >>> [t.get_text() for t in ax.texts]
        ['+0.90', '-0.10', '+0.05', '+0.70']
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2:
        raise ConfigError(f"matrix must be 2-d [k, n_obs], got shape {m.shape}")
    if m.shape != (len(latent_labels), len(observable_labels)):
        raise ConfigError(
            f"matrix has shape {m.shape} but {len(latent_labels)} latent labels and "
            f"{len(observable_labels)} observable labels were given: one label per row and column"
        )
    k, n_obs = m.shape
    if ax is None:
        _, ax = plt.subplots(
            figsize=scaled_size(1.0 * n_obs + 2.5, 0.6 * k + 1.8), layout="constrained"
        )
    norm = colors.Normalize(*vlim)
    image = ax.imshow(m, cmap=cmap, norm=norm, aspect="auto")
    colour_map = image.get_cmap()
    for i in range(k):
        for j in range(n_obs):
            v = m[i, j]
            if np.isfinite(v):
                red, green, blue, _ = colour_map(norm(v))
                dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5
                text, tc = fmt.format(v), "white" if dark else "black"
                if text.lstrip("+-").strip("0.") == "":  # no "-0.00"
                    text = fmt.format(0.0)
            else:
                text, tc = "n/a", "black"
            ax.text(j, i, text, ha="center", va="center", color=tc, fontsize="small")
    ax.set_xticks(np.arange(n_obs), list(observable_labels), rotation=40, ha="right")
    ax.set_yticks(np.arange(k), list(latent_labels))
    ax.minorticks_off()
    ax.tick_params(which="both", top=False, right=False)
    ax.set_xlabel("observable")
    ax.set_ylabel("latent direction")
    ax.figure.colorbar(image, ax=ax, label=cbar_label)
    return ax


def plot_class_latents(
    mu: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    inv_dims: Sequence[int],
    eq_dims: Sequence[int],
    *,
    max_points: int = 5000,
    seed: int = 0,
) -> Figure:
    """The two latent blocks of an invariant/equivariant VAE, coloured by class.

    Left: the first two invariant latents (the class block: one cluster per class).
    Right: the equivariant block projected on its two principal directions (where the
    event sits inside its class: the classes should overlap).
    """
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(mu))[:max_points]
    fig, axes = plt.subplots(1, 2, figsize=scaled_size(12, 5))
    eq = mu[idx][:, list(eq_dims)]
    eq = eq - eq.mean(0)
    top2 = np.linalg.svd(eq, full_matrices=False)[2][:2].T if eq.shape[1] >= 2 else None
    panels = [
        (mu[idx][:, list(inv_dims)[:2]], "invariant block (class)", [f"z{d}" for d in inv_dims]),
        (eq @ top2 if top2 is not None else eq, "equivariant block, 2 principal directions",
         ["PC 1", "PC 2"]),
    ]  # fmt: skip
    for ax, (pts, title, axis_names) in zip(axes, panels, strict=True):
        for k, name in enumerate(class_names):
            sel = labels[idx] == k
            y = pts[sel, 1] if pts.shape[1] > 1 else np.zeros(int(sel.sum()))
            ax.scatter(pts[sel, 0], y, s=2, alpha=0.4, label=name, rasterized=True)
        ax.set_title(title, fontsize="medium")
        ax.set_xlabel(axis_names[0])
        if pts.shape[1] > 1:
            ax.set_ylabel(axis_names[1])
    axes[0].legend(markerscale=5, fontsize="small")
    return fig
