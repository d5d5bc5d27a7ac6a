"""beta_scan: the plateau rule on hand-made count tables, and a tiny real scan."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import numpy as np
import pytest

from latentsym.analysis.scan import Plateau, beta_scan, find_plateau
from latentsym.errors import ConfigError
from latentsym.models import TrainConfig
from latentsym.plotting.scan import plot_scan
from latentsym.toys import circle

BETAS = [0.03, 0.1, 0.3, 1.0, 3.0]


def test_plateau_exact_run() -> None:
    table = [[5, 6, 6], [3, 3, 3], [3, 3, 3], [3, 3, 3], [1, 2, 1]]
    assert find_plateau(BETAS, table) == Plateau(0.1, 1.0, 3, 3)


def test_plateau_one_outlier_of_three_is_stable() -> None:
    # (2, 2, 3) has std 0.47 < 0.5 and mean 2.33 -> k = 2
    table = [[4, 4, 5], [2, 2, 3], [2, 2, 2], [1, 1, 1], [0, 0, 0]]
    assert find_plateau(BETAS, table) == Plateau(0.1, 0.3, 2, 2)


def test_plateau_two_seeds_disagreeing_are_not_stable() -> None:
    # (2, 3) has std exactly 0.5: not stable, so it splits the run of 2s
    table = [[2, 2], [2, 2], [2, 3], [2, 2], [1, 1]]
    assert find_plateau(BETAS, table) == Plateau(0.03, 0.1, 2, 2)


def test_plateau_change_of_count_splits_runs() -> None:
    table = [[3, 3], [3, 3], [2, 2], [2, 2], [2, 2]]
    assert find_plateau(BETAS, table) == Plateau(0.3, 3.0, 2, 3)


def test_plateau_tie_prefers_exact_agreement_then_small_beta() -> None:
    betas = [0.1, 0.3, 1.0, 3.0]
    # both runs have length 2; the second has every seed agreeing at both betas
    assert find_plateau(betas, [[3, 3, 4], [3, 3, 3], [2, 2, 2], [2, 2, 2]]) == Plateau(
        1.0, 3.0, 2, 2
    )
    assert find_plateau(betas, [[3, 3], [3, 3], [2, 2], [2, 2]]) == Plateau(0.1, 0.3, 3, 2)


def test_no_plateau_below_min_length() -> None:
    table = [[5, 5], [4, 4], [3, 3], [2, 2], [1, 1]]
    assert find_plateau(BETAS, table) is None
    assert find_plateau(BETAS, table, min_length=1) == Plateau(0.03, 0.03, 5, 1)
    assert find_plateau(BETAS, [[1, 3]] * 5, min_length=1) is None


@pytest.mark.parametrize(
    ("betas", "table", "match"),
    [
        ([0.1, 0.3], [[1, 1]], "k_table must be"),
        ([0.3, 0.1], [[1, 1], [1, 1]], "strictly increasing"),
    ],
)
def test_plateau_bad_input(betas, table, match) -> None:
    with pytest.raises(ConfigError, match=match):
        find_plateau(betas, table)
    with pytest.raises(ConfigError, match="min_length"):
        find_plateau([0.1], [[1]], min_length=0)


@pytest.fixture(scope="module")
def scan():
    return beta_scan(
        circle(2000, seed=3),
        betas=(1.0, 0.1),
        seeds=(0, 1),
        train=TrainConfig(epochs=40, batch_size=128),
    )


def test_scan_structure(scan) -> None:
    assert scan.betas == (0.1, 1.0)  # sorted
    assert scan.seeds == (0, 1)
    assert [(p.beta, p.seed) for p in scan.points] == [(0.1, 0), (0.1, 1), (1.0, 0), (1.0, 1)]
    assert scan.k_table.shape == (2, 2)
    for p in scan.points:
        assert len(p.reading.relevance) == 6
        assert list(p.reading.relevance) == sorted(p.reading.relevance, reverse=True)
        assert p.reading.k == sum(r >= 0.5 for r in p.reading.relevance)
    d = json.loads(json.dumps(scan.to_dict(), allow_nan=False))
    assert d["k_table"] == scan.k_table.tolist()
    assert len(d["points"]) == 4
    assert d["plateau"] == (None if scan.plateau is None else scan.plateau.to_dict())


def test_scan_reads_the_circle(scan) -> None:
    # a circle (d = 1, r = 2) needs 1 or 2 directions; the encoded means lie on a curve
    assert np.all((scan.k_table >= 1) & (scan.k_table <= 2))
    for p in scan.points:
        assert abs(p.reading.latent_id - 1.0) < 0.3
    assert scan.plateau == find_plateau(scan.betas, scan.k_table)
    np.testing.assert_allclose(scan.k_mean, scan.k_table.mean(axis=1))


def test_plot_scan(scan) -> None:
    ax = plot_scan(scan)
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == r"$\beta$"
    plt.close(ax.figure)


def test_scan_bad_arguments() -> None:
    x = circle(200)
    with pytest.raises(ConfigError, match="betas"):
        beta_scan(x, betas=(0.1, -1.0))
    with pytest.raises(ConfigError, match="betas"):
        beta_scan(x, betas=(0.1, 0.1))
    with pytest.raises(ConfigError, match="seeds"):
        beta_scan(x, seeds=())
