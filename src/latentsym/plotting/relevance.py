"""Bar chart of the relevance spectrum of a VAE's latent directions."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from latentsym.errors import ConfigError
from latentsym.plotting.style import CATEGORY_COLOURS, scaled_size

__all__ = ["plot_relevance"]


def _categories(
    r: np.ndarray, threshold: float, weak: float | Sequence[bool] | np.ndarray | None
) -> np.ndarray:
    """``"relevant"``, ``"weak"`` or ``"collapsed"`` for each direction."""
    relevant = r > threshold
    if weak is None:
        is_weak = np.zeros_like(relevant)
    elif np.ndim(weak) == 0:
        lower = float(weak)  # type: ignore[arg-type]
        if not lower < threshold:
            raise ConfigError(
                f"weak={lower:g} must be below threshold={threshold:g}: directions with "
                "weak < R <= threshold are drawn as weak"
            )
        is_weak = (r > lower) & ~relevant
    else:
        mask = np.asarray(weak, dtype=bool)
        if mask.shape != r.shape:
            raise ConfigError(
                f"weak has {mask.size} entries but R has {r.size}: give one flag per latent "
                "direction, or a lower threshold as a number"
            )
        is_weak = mask & ~relevant
    return np.where(relevant, "relevant", np.where(is_weak, "weak", "collapsed"))


def plot_relevance(
    R: Sequence[float] | np.ndarray,
    *,
    threshold: float,
    weak: float | Sequence[bool] | np.ndarray | None = None,
    labels: Sequence[str] | None = None,
    var_mu: Sequence[float] | np.ndarray | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Relevance ``R_i`` of each latent direction, sorted, coloured by category.

    Args:
        R: ``[k]`` relevance values ``R_i = 1 - mean_x sigma_i^2(x)``.
        threshold: directions with ``R_i > threshold`` are relevant (dashed line).
        weak: a lower threshold (``weak < R_i <= threshold`` is weak, dotted line) or a
            ``[k]`` boolean mask of weak directions; None: no weak category.
        labels: ``[k]`` names of the directions (default ``z_0 .. z_{k-1}``), in the
            order of ``R``; the bars carry them after sorting.
        var_mu: ``[k]`` ``Var_x mu_i(x)``, drawn as markers on a secondary (log) axis.
        ax: Axes to draw on; a new figure when None.

    Returns:
        The Axes with the bars (the secondary axis, if any, is ``ax.right_ax``).

    Example:
        >>> ax = plot_relevance([0.02, 0.76, 0.74, 0.3], threshold=0.5, weak=0.1)
        >>> len(ax.patches)
        4
    """
    r = np.asarray(R, dtype=np.float64)
    if r.ndim != 1 or r.size == 0 or not np.all(np.isfinite(r)):
        raise ConfigError(
            f"R must be a non-empty 1-d sequence of finite numbers (got shape {r.shape}); "
            "pass the relevance of each latent direction"
        )
    k = r.size
    names = list(labels) if labels is not None else [f"$z_{{{i}}}$" for i in range(k)]
    if len(names) != k:
        raise ConfigError(f"labels has {len(names)} entries but R has {k}; give one per direction")
    cats = _categories(r, float(threshold), weak)
    order = np.argsort(-r, kind="stable")
    if ax is None:
        _, ax = plt.subplots(
            figsize=scaled_size(max(4.0, 0.6 * k + 2.0), 4.0), layout="constrained"
        )
    x = np.arange(k)
    for cat, colour in CATEGORY_COLOURS.items():
        sel = cats[order] == cat
        if sel.any():
            n = int(sel.sum())
            ax.bar(x[sel], r[order][sel], color=colour, label=f"{cat} ({n})", width=0.8)
    for xi, ri in zip(x, r[order], strict=True):
        ax.annotate(f"{ri:.2f}", (xi, ri), xytext=(0, 2), textcoords="offset points",
                    ha="center", va="bottom", fontsize="x-small")  # fmt: skip
    ax.axhline(threshold, color="black", ls="--", lw=1.2, label=f"threshold {threshold:g}")
    if weak is not None and np.ndim(weak) == 0:
        ax.axhline(float(weak), color="black", ls=":", lw=1.2, label=f"weak above {weak:g}")  # type: ignore[arg-type]
    ax.set_xticks(x, [names[i] for i in order])
    ax.set_xlim(-0.6, k - 0.4)
    ax.set_ylim(0.0, 1.1)
    ax.set_xlabel(r"latent direction, sorted by $R_i$")
    ax.set_ylabel(r"relevance $R_i = 1 - \langle \sigma_i^2 \rangle_x$")
    handles, texts = ax.get_legend_handles_labels()
    # categories first, then the lines
    bars_first = sorted(range(len(handles)), key=lambda i: not texts[i].endswith(")"))
    handles, texts = [handles[i] for i in bars_first], [texts[i] for i in bars_first]
    if var_mu is not None:
        v = np.asarray(var_mu, dtype=np.float64)
        if v.shape != r.shape:
            raise ConfigError(
                f"var_mu has shape {v.shape} but R has {r.shape}; give one per direction"
            )
        right = ax.twinx()
        (line,) = right.plot(x, v[order], "D", color="#832db6", ms=5, label=r"Var$_x\,\mu_i$")
        if np.all(v > 0):
            right.set_yscale("log")
        right.set_ylabel(r"$\mathrm{Var}_x\,\mu_i$")
        ax.right_ax = right  # type: ignore[attr-defined]
        handles.append(line)
        texts.append(str(line.get_label()))
    ax.legend(handles, texts, loc="upper right", fontsize="small")
    return ax
