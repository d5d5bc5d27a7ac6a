"""Plot styling: the experiment styles of ``mplhep`` and the colours of latent categories.

Library plotting functions never change the global matplotlib style; call
:func:`use_style` once (the CLI does) or ``mplhep.style.use(...)`` yourself.
"""

from __future__ import annotations

import matplotlib as mpl
import mplhep
from matplotlib.font_manager import FontProperties

from latentsym.errors import ConfigError

__all__ = ["CATEGORY_COLOURS", "STYLES", "scaled_size", "use_style"]

STYLES = ("ATLAS", "CMS", "LHCb", "ALICE", "ROOT", "DUNE")

CATEGORY_COLOURS: dict[str, str] = {
    "relevant": "#3f90da",
    "weak": "#ffa90e",
    "collapsed": "#94a4a2",
}
"""Bar colours of relevant, weak and collapsed latent directions (colour-blind safe)."""


def use_style(name: str = "CMS") -> None:
    """Set the global matplotlib style to one of mplhep's experiment styles.

    Args:
        name: one of :data:`STYLES`.

    Raises:
        ConfigError: for an unknown style name.

    Example:
        Inside ``matplotlib.rc_context`` the style is undone on leaving the block:

        >>> import matplotlib as mpl
        >>> with mpl.rc_context():
        ...     use_style("ATLAS")
        ...     mpl.rcParams["xtick.direction"], mpl.rcParams["xtick.minor.visible"]
        ('in', True)
        >>> use_style("CDF")
        Traceback (most recent call last):
        ...
        latentsym.errors.ConfigError: unknown plot style 'CDF'; allowed: ATLAS, CMS, LHCb, ...
    """
    if name not in STYLES:
        raise ConfigError(f"unknown plot style {name!r}; allowed: {', '.join(STYLES)}")
    mplhep.style.use(getattr(mplhep.style, name))


def scaled_size(width: float, height: float) -> tuple[float, float]:
    """A figure size in inches, scaled with the font size of the current style.

    Sizes are given for matplotlib's default 10 pt axis labels; experiment styles with
    larger fonts (CMS: 26 pt) get proportionally larger figures so that the text keeps its
    share of the canvas.

    Example:
        >>> scaled_size(6.0, 4.0)  # with matplotlib's default style
        (6.0, 4.0)
    """
    points = FontProperties(size=mpl.rcParams["axes.labelsize"]).get_size_in_points()
    scale = min(max(float(points) / 10.0, 1.0), 3.5)
    return width * scale, height * scale
