"""mplhep-styled figures: Axes in (``ax=None``), Axes or Figure out; never ``plt.show()``."""

from latentsym.plotting.compare import plot_all, plot_comparison, plot_naming
from latentsym.plotting.dimension import plot_dimension_scale
from latentsym.plotting.latents import plot_class_latents, plot_correlations, plot_latent_pairs
from latentsym.plotting.relevance import plot_relevance
from latentsym.plotting.save import FIGURE_FORMATS, save_figure
from latentsym.plotting.scan import plot_scan
from latentsym.plotting.style import CATEGORY_COLOURS, STYLES, scaled_size, use_style
from latentsym.plotting.symmetries import (
    plot_found_generators,
    plot_latent_flow,
    plot_symmetries,
    plot_symmetry_tests,
)
from latentsym.plotting.training import plot_training

__all__ = [
    "CATEGORY_COLOURS",
    "FIGURE_FORMATS",
    "STYLES",
    "plot_all",
    "plot_class_latents",
    "plot_comparison",
    "plot_correlations",
    "plot_dimension_scale",
    "plot_found_generators",
    "plot_latent_flow",
    "plot_latent_pairs",
    "plot_naming",
    "plot_relevance",
    "plot_scan",
    "plot_symmetries",
    "plot_symmetry_tests",
    "plot_training",
    "save_figure",
    "scaled_size",
    "use_style",
]
