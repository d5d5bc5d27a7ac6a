"""Loss curves of a training run."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from latentsym.errors import ConfigError
from latentsym.plotting.style import scaled_size

__all__ = ["plot_training"]

_KEY = re.compile(
    r"^(?:(?P<split>train|training|val|valid|validation)[_/])?"
    r"(?P<what>loss|total|recon|reconstruction|kl)$"
)
_WHAT = {"loss": "total", "total": "total", "recon": "recon", "reconstruction": "recon", "kl": "kl"}
_COLOURS = {"total": "#3f90da", "recon": "#bd1f01", "kl": "#ffa90e"}
_NAMES = {"total": "total loss", "recon": "reconstruction", "kl": "KL"}


def _series(history: Mapping[str, Sequence[float]]) -> list[tuple[str, str, np.ndarray]]:
    """``(quantity, split, values)`` for every recognised key, totals first."""
    found = []
    for key, values in history.items():
        m = _KEY.match(key.lower())
        if m is None:
            continue
        split = "train" if m["split"] in (None, "train", "training") else "val"
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim != 1:
            raise ConfigError(f"history[{key!r}] must be a list of numbers, one per epoch")
        if arr.size:
            found.append((_WHAT[m["what"]], split, arr))
    rank = {"total": 0, "recon": 1, "kl": 2}
    return sorted(found, key=lambda s: (rank[s[0]], s[1] != "train"))


def plot_training(history: Mapping[str, Sequence[float]], *, ax: Axes | None = None) -> Axes:
    """Training and validation losses per epoch: total, reconstruction and KL.

    Recognised keys are ``loss``/``total``, ``recon``/``reconstruction`` and ``kl``, each
    optionally prefixed by ``train_`` or ``val_`` (also ``training``, ``valid``,
    ``validation``, and ``/`` as separator); an unprefixed key is a training curve.
    Other entries (learning rate, beta, timings) are not drawn. Training curves are solid,
    validation curves dashed, one colour per quantity; the y axis is logarithmic when every
    value is positive. The epoch with the lowest validation total loss is marked.

    Args:
        history: ``{key: [value per epoch]}``.
        ax: Axes to draw on; a new figure when None.

    Returns:
        The Axes.

    Raises:
        ConfigError: when no key is recognised (lists the accepted ones).

    Example:
        >>> ax = plot_training({"train_loss": [3.0, 2.0, 1.5], "val_loss": [3.1, 2.2, 1.7],
        ...                     "train_kl": [0.5, 0.8, 0.9]})
        >>> len(ax.lines)  # three curves and the best-epoch marker
        4
    """
    series = _series(history)
    if not series:
        keys = ", ".join(map(repr, history)) or "none"
        raise ConfigError(
            f"no loss curve in the training history (keys: {keys}); "
            "accepted keys: loss, total, recon, reconstruction, kl, each optionally prefixed by "
            "train_ or val_"
        )
    if ax is None:
        _, ax = plt.subplots(figsize=scaled_size(6.0, 4.0), layout="constrained")
    positive = True
    for what, split, values in series:
        epochs = np.arange(1, values.size + 1)
        label = f"{_NAMES[what]} ({'train' if split == 'train' else 'validation'})"
        ax.plot(epochs, values, color=_COLOURS[what], ls="-" if split == "train" else "--",
                marker="o" if values.size < 30 else None, ms=3, label=label)  # fmt: skip
        finite = values[np.isfinite(values)]
        positive &= bool(np.all(finite > 0))
    if positive:
        ax.set_yscale("log")
    val_total = [v for what, split, v in series if what == "total" and split == "val"]
    if val_total and np.any(np.isfinite(val_total[0])):
        best = int(np.nanargmin(val_total[0])) + 1
        ax.axvline(best, color="grey", ls=":", lw=1.0, label=f"best validation epoch ({best})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(fontsize="small")
    return ax
