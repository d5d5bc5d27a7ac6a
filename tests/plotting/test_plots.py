import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib import colors
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from latentsym.errors import ConfigError, OutputError
from latentsym.plotting import (
    CATEGORY_COLOURS,
    plot_correlations,
    plot_latent_pairs,
    plot_relevance,
    plot_training,
    save_figure,
    scaled_size,
    use_style,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _no_show_and_close(monkeypatch):
    def _show(*args, **kwargs):
        raise AssertionError("library code must never call plt.show()")

    monkeypatch.setattr(plt, "show", _show)
    yield
    plt.close("all")


def _colour_bars(fig: Figure) -> list[Axes]:
    return [a for a in fig.axes if a.get_label() == "<colorbar>"]


def test_backend_is_headless():
    assert mpl.get_backend().lower() == "agg"


# ---------------------------------------------------------------- relevance


R = [0.02, 0.76, 0.74, 0.3, 0.001, 0.75]


def test_relevance_bars_sorted_and_coloured_by_category():
    ax = plot_relevance(R, threshold=0.5, weak=0.1)
    assert isinstance(ax, Axes)
    heights = [p.get_height() for p in sorted(ax.patches, key=lambda p: p.get_x())]
    np.testing.assert_allclose(heights, sorted(R, reverse=True))
    expected = ["relevant"] * 3 + ["weak"] + ["collapsed"] * 2
    got = [colors.to_hex(p.get_facecolor()) for p in sorted(ax.patches, key=lambda p: p.get_x())]
    assert got == [CATEGORY_COLOURS[c] for c in expected]
    hlines = {round(line.get_ydata()[0], 6): line.get_linestyle() for line in ax.lines}
    assert hlines == {0.5: "--", 0.1: ":"}
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "$z_{1}$", "$z_{5}$", "$z_{2}$", "$z_{3}$", "$z_{0}$", "$z_{4}$",
    ]  # fmt: skip
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [
        "relevant (3)",
        "weak (1)",
        "collapsed (2)",
        "threshold 0.5",
        "weak above 0.1",
    ]
    assert "0.76" in [t.get_text() for t in ax.texts]


def test_relevance_weak_mask_labels_and_var_mu_axis():
    fig, ax = plt.subplots()
    var = [1e-4, 0.9, 0.8, 0.05, 1e-6, 0.85]
    weak = [False, False, False, True, True, False]
    out = plot_relevance(R, threshold=0.5, weak=weak, labels=list("abcdef"), var_mu=var, ax=ax)
    assert out is ax
    assert out.figure is fig
    bars = sorted(ax.patches, key=lambda p: p.get_x())
    cats = [colors.to_hex(p.get_facecolor()) for p in bars]
    # the mask marks d (0.3) and e (0.001) weak; the last bar is a (0.02): collapsed
    assert cats[3:] == [
        CATEGORY_COLOURS["weak"],
        CATEGORY_COLOURS["collapsed"],
        CATEGORY_COLOURS["weak"],
    ]
    right = ax.right_ax
    assert right.get_yscale() == "log"
    np.testing.assert_allclose(right.lines[0].get_ydata(), [0.9, 0.85, 0.8, 0.05, 1e-4, 1e-6])
    assert "Var" in ax.get_legend().get_texts()[-1].get_text()
    assert len(ax.lines) == 1  # only the threshold: a mask draws no second line


def test_relevance_errors():
    with pytest.raises(ConfigError, match=r"weak=0\.6 must be below threshold=0\.5"):
        plot_relevance(R, threshold=0.5, weak=0.6)
    with pytest.raises(ConfigError, match="labels has 2 entries but R has 6"):
        plot_relevance(R, threshold=0.5, labels=["a", "b"])
    with pytest.raises(ConfigError, match="finite"):
        plot_relevance([0.5, np.nan], threshold=0.5)
    with pytest.raises(ConfigError, match="weak has 2 entries"):
        plot_relevance(R, threshold=0.5, weak=[True, False])


# ---------------------------------------------------------------- training


def _history(n=12):
    e = np.arange(1, n + 1)
    val = 2.0 / e + 0.02 * (e - 8) ** 2 / 10
    return {
        "train_loss": list(2.0 / e + 0.5),
        "val_loss": list(val + 0.5),
        "train_recon": list(1.5 / e + 0.1),
        "val_recon": list(1.6 / e + 0.1),
        "train_kl": list(0.4 + 0.01 * e),
        "val_kl": list(0.41 + 0.01 * e),
        "lr": [1e-3] * n,
    }


def test_training_curves_log_scale_and_best_epoch():
    hist = _history()
    ax = plot_training(hist)
    curves = [line for line in ax.lines if len(line.get_xdata()) > 2]
    assert len(curves) == 6  # the learning rate is not drawn
    styles = sorted((line.get_label(), line.get_linestyle()) for line in curves)
    assert ("total loss (validation)", "--") in styles
    assert ("KL (train)", "-") in styles
    assert ax.get_yscale() == "log"
    best = [line for line in ax.lines if "best" in str(line.get_label())]
    assert len(best) == 1
    assert best[0].get_xdata()[0] == int(np.argmin(hist["val_loss"])) + 1
    np.testing.assert_array_equal(curves[0].get_xdata(), np.arange(1, 13))
    assert ax.get_xlabel() == "epoch"


def test_training_linear_scale_when_a_loss_is_negative_and_plain_keys():
    _, ax = plt.subplots()
    out = plot_training({"loss": [-1.0, -2.0, -2.5], "kl": [1.0, 2.0, 2.2]}, ax=ax)
    assert out is ax
    assert ax.get_yscale() == "linear"
    assert sorted(str(line.get_label()) for line in ax.lines) == [
        "KL (train)",
        "total loss (train)",
    ]


def test_training_without_loss_keys_lists_accepted_ones():
    with pytest.raises(ConfigError, match=r"no loss curve.*'lr'.*accepted keys: loss"):
        plot_training({"lr": [0.1, 0.1]})


# ---------------------------------------------------------------- latent pairs


def _latent_data(n=8000, k=3, seed=3):
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=(n, k))
    colour = {
        "cos_theta_star": np.tanh(mu[:, 0]),
        "phi_star": np.arctan2(mu[:, 1 % k], mu[:, 0]),
        "y_sys": 0.5 * mu[:, 2 % k],
        "m_sys": 91.0 + 2.5 * rng.standard_cauchy(n),
    }
    return mu, colour


def test_latent_pairs_grid_colour_bars_and_subset():
    mu, colour = _latent_data()
    titles = {"cos_theta_star": r"$\cos\theta^*$", "m_sys": "$m$ [GeV]"}
    fig = plot_latent_pairs(mu, colour, colour_labels=titles, max_points=3000)
    assert isinstance(fig, Figure)
    bars = _colour_bars(fig)
    assert len(bars) == 4
    assert [b.get_ylabel() for b in bars] == [r"$\cos\theta^*$", "phi_star", "y_sys", "$m$ [GeV]"]
    panels = [a for a in fig.axes if a not in bars]
    assert len(panels) == 4 * 3  # 4 observables x 3 pairs
    assert [(a.get_xlabel(), a.get_ylabel()) for a in panels[:3]] == [
        (r"$\mu_{0}$", r"$\mu_{1}$"), (r"$\mu_{0}$", r"$\mu_{2}$"), (r"$\mu_{1}$", r"$\mu_{2}$"),
    ]  # fmt: skip
    sc = panels[0].collections[0]
    assert sc.get_offsets().shape == (3000, 2)
    # the same events in every panel: the offsets of (mu0, mu1) agree across rows
    np.testing.assert_array_equal(sc.get_offsets(), panels[3].collections[0].get_offsets())
    assert panels[3].collections[0].get_cmap().name == "twilight"  # phi is cyclic
    # the heavy-tailed (Breit-Wigner) mass is clipped to its central 98 %, not its full range
    norm = panels[9].collections[0].norm
    shown = np.ma.getdata(panels[9].collections[0].get_array())
    np.testing.assert_allclose([norm.vmin, norm.vmax], np.percentile(shown, [1, 99]))
    assert norm.vmax - norm.vmin < 0.1 * (shown.max() - shown.min())
    assert bars[3].get_label() == "<colorbar>"
    fig.canvas.draw()


def test_latent_pairs_one_latent_and_given_figure():
    mu, colour = _latent_data(n=500, k=1)
    fig = plt.figure()
    out = plot_latent_pairs(mu, {"cos_theta_star": colour["cos_theta_star"]}, fig=fig)
    assert out is fig
    panel = next(a for a in fig.axes if a not in _colour_bars(fig))
    assert panel.get_ylabel() == "cos_theta_star"
    np.testing.assert_allclose(panel.collections[0].get_offsets()[:, 1], np.tanh(mu[:, 0]))


def test_latent_pairs_errors():
    mu, colour = _latent_data(n=100)
    with pytest.raises(ConfigError, match=r"colour\['y'\] has shape \(99,\) but mu has 100"):
        plot_latent_pairs(mu, {"y": np.zeros(99)})
    with pytest.raises(ConfigError, match="colour is empty"):
        plot_latent_pairs(mu, {})
    with pytest.raises(ConfigError, match=r"\[N, k\]"):
        plot_latent_pairs(mu[:, 0], colour)


# ---------------------------------------------------------------- correlations


def test_correlation_map_cell_text_and_contrast():
    m = np.array([[0.95, 0.0, -0.4], [np.nan, 0.12, -0.99]])
    ax = plot_correlations(m, ["$z_0$", "$z_1$"], ["cos", "phi", "y"])
    texts = {(t.get_position(), t.get_text()): t.get_color() for t in ax.texts}
    assert texts == {
        ((0, 0), "+0.95"): "white",
        ((1, 0), "+0.00"): "black",
        ((2, 0), "-0.40"): "black",
        ((0, 1), "n/a"): "black",
        ((1, 1), "+0.12"): "black",
        ((2, 1), "-0.99"): "white",
    }
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cos", "phi", "y"]
    bars = _colour_bars(ax.figure)
    assert len(bars) == 1
    assert bars[0].get_ylabel() == "correlation"
    np.testing.assert_allclose(ax.images[0].get_clim(), (-1, 1))


def test_correlation_shape_mismatch():
    with pytest.raises(ConfigError, match=r"shape \(2, 3\) but 2 latent labels and 2 observable"):
        plot_correlations(np.zeros((2, 3)), ["a", "b"], ["x", "y"])


# ---------------------------------------------------------------- saving


def test_save_figure_writes_a_png_atomically_and_closes(tmp_path):
    ax = plot_relevance(R, threshold=0.5)
    fig = ax.figure
    path = save_figure(fig, tmp_path / "relevance.png")
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = plt.imread(path)
    assert image.ndim == 3
    assert image.shape[0] > 200
    assert image.shape[1] > 200
    assert image.std() > 0.05  # not a blank canvas
    assert not plt.fignum_exists(fig.number)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["relevance.png"]  # no temp left


def test_save_figure_refuses_to_overwrite_unless_asked(tmp_path):
    dest = tmp_path / "fig.png"
    dest.write_bytes(b"old")
    fig = plot_training({"loss": [1.0, 0.5]}).figure
    with pytest.raises(OutputError, match=r"exists.*overwrite=True"):
        save_figure(fig, dest)
    assert dest.read_bytes() == b"old"
    assert plt.fignum_exists(fig.number)  # still open: the caller can retry
    save_figure(fig, dest, overwrite=True)
    assert dest.read_bytes()[:8] == PNG_SIGNATURE


def test_save_figure_bad_suffix_and_missing_folder(tmp_path):
    fig = plot_training({"loss": [1.0, 0.5]}).figure
    with pytest.raises(ConfigError, match=r"'\.jpeg'.*\.png, \.pdf, \.svg"):
        save_figure(fig, tmp_path / "fig.jpeg")
    with pytest.raises(OutputError, match="does not exist"):
        save_figure(fig, tmp_path / "missing" / "fig.png")


# ---------------------------------------------------------------- style


def test_use_style_scales_figures_with_the_font_and_is_opt_in():
    assert scaled_size(6.0, 4.0) == (6.0, 4.0)  # library calls leave the style alone
    with mpl.rc_context():
        use_style("CMS")
        assert mpl.rcParams["font.size"] == 26
        np.testing.assert_allclose(scaled_size(6.0, 4.0), (15.6, 10.4))
        ax = plot_training({"loss": [1.0, 0.5]})
        np.testing.assert_allclose(ax.figure.get_size_inches(), (15.6, 10.4))
    assert mpl.rcParams["font.size"] == 10
    with pytest.raises(ConfigError, match="unknown plot style 'cms'; allowed: ATLAS, CMS"):
        use_style("cms")
