"""Write figures to disk atomically."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from latentsym._atomic import atomic_output
from latentsym.errors import ConfigError, OutputError

__all__ = ["FIGURE_FORMATS", "save_figure"]

FIGURE_FORMATS = (".png", ".pdf", ".svg")


def save_figure(
    fig: Figure,
    path: str | os.PathLike[str],
    *,
    dpi: int = 150,
    overwrite: bool = False,
) -> Path:
    """Save ``fig`` to ``path`` atomically and close it.

    The figure is drawn into a temporary file in the destination folder and moved into
    place with :func:`os.replace`, so a reader never sees a half-written image.

    Args:
        fig: the figure (``ax.figure`` for a plot function that returns Axes).
        path: destination; the suffix picks the format (``.png``, ``.pdf`` or ``.svg``).
        dpi: resolution of raster output.
        overwrite: replace an existing file; by default an existing file is an error.

    Returns:
        The path written.

    Raises:
        ConfigError: for an unsupported suffix.
        OutputError: when the file exists (and ``overwrite`` is false) or the folder is
            missing or not writable. The figure stays open then.

    Example:
        >>> from latentsym.plotting.relevance import plot_relevance
        >>> ax = plot_relevance([0.8, 0.7, 0.01], threshold=0.1)
        >>> save_figure(ax.figure, "relevance.png")
        PosixPath('relevance.png')
        >>> save_figure(ax.figure, "relevance.png")
        Traceback (most recent call last):
        ...
        latentsym.errors.OutputError: relevance.png: the file exists. Choose another path ...
    """
    dest = Path(path)
    suffix = dest.suffix.lower()
    if suffix not in FIGURE_FORMATS:
        raise ConfigError(
            f"{dest}: cannot save a figure as {suffix or 'a file without suffix'!r}; "
            f"allowed suffixes: {', '.join(FIGURE_FORMATS)}"
        )
    folder = dest.parent
    if not folder.is_dir():
        raise OutputError(f"{dest}: the folder {folder} does not exist. Create it first.")
    if dest.exists() and not overwrite:
        raise OutputError(
            f"{dest}: the file exists. Choose another path or pass overwrite=True to replace it."
        )
    try:
        with atomic_output(dest, suffix=suffix) as tmp:
            fig.savefig(tmp, format=suffix[1:], dpi=dpi, bbox_inches="tight")
    except PermissionError as exc:
        raise OutputError(f"{dest}: cannot write in {folder} ({exc}). Check permissions.") from exc
    plt.close(fig)
    return dest
