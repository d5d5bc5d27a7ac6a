"""Known-answer benchmark: expected dimensions, baselines and verdicts on the toys."""

from __future__ import annotations

import json
import math

import pytest
from conftest import SAMPLES, sample

from latentsym.analysis.benchmark import (
    DATASETS,
    BenchmarkRow,
    MomentumSample,
    format_table,
    known_answer,
)
from latentsym.errors import ConfigError
from latentsym.jobs import BenchmarkOptions, run_benchmark
from latentsym.models import TrainConfig


@pytest.fixture(scope="module")
def rows():
    # the whole suite at quick size: about 15 s on two cores
    options = BenchmarkOptions(quick=True, samples_dir=SAMPLES)
    return {r.dataset: r for r in run_benchmark(options=options)}


def test_circle_known_answer(rows) -> None:
    row = rows["circle"]
    assert (row.d, row.d_approx, row.r, row.n_features, row.n_events) == (1, 1, 2, 2, 2000)
    assert row.pca == 2  # PCA overestimates the curved circle
    assert abs(row.twonn - 1.0) < 0.15
    assert abs(row.mle - 1.0) < 0.15
    assert 1 <= row.k <= 2
    assert abs(row.latent_id - 1.0) <= 0.5
    assert row.consistent, row.verdict_text


def test_sphere_known_answer(rows) -> None:
    row = rows["sphere"]
    assert (row.d, row.r, row.pca) == (2, 3, 3)
    assert abs(row.twonn - 2.0) < 0.2
    assert 2 <= row.k <= 3
    assert abs(row.latent_id - 2.0) <= 0.5
    assert row.consistent, row.verdict_text


def test_row_to_dict_and_table(rows) -> None:
    d = json.loads(json.dumps(rows["circle"].to_dict(), allow_nan=False))
    assert d["dataset"] == "circle"
    assert d["pca"] == 2
    table = format_table(list(rows.values())).splitlines()
    assert table[0] == (
        "| data set | d | r | VAE k | latent ID (NN) | predicted | PCA | TwoNN | MLE | verdict |"
    )
    assert table[2].startswith("| circle | 1 | 2 | ")
    assert table[2].endswith(
        "| 2 | " + f"{rows['circle'].twonn:.2f} | {rows['circle'].mle:.2f} | consistent |"
    )


def test_table_marks_approximate_dimension_and_missing_values() -> None:
    row = BenchmarkRow(
        "pp_mumu",
        "pp",
        "ledger",
        True,
        100,
        8,
        4,
        3,
        6,
        0,
        (0.0,) * 6,
        math.nan,
        6,
        3.3,
        3.2,
        False,
        "no",
        1.0,
    )
    assert format_table([row]).splitlines()[-1] == (
        "| pp_mumu | 4 (3) | 6 | 0 | - (-) | - | 6 | 3.30 | 3.20 | inconsistent |"
    )
    assert row.to_dict()["latent_id"] is None


def test_unknown_dataset() -> None:
    with pytest.raises(ConfigError, match="allowed: circle"):
        run_benchmark(["cirle"], BenchmarkOptions(quick=True))


def test_collider_ledger_from_bundled_sample() -> None:
    options = BenchmarkOptions(
        n_events=2000,
        train=TrainConfig(epochs=1),
        samples_dir=sample("ee_mumu_91GeV.lhe.gz").parent,
    )
    (row,) = run_benchmark(["ee_mumu"], options)
    assert row.source == "ledger, ee_mumu_91GeV.lhe.gz"
    assert (row.d, row.r, row.n_features) == (2, 3, 8)
    assert row.pca == 3  # PCA on the curved e+e- -> mu+ mu- sample: 3 > d = 2
    assert abs(row.twonn - 2.0) < 0.2


def test_known_answer_takes_given_momenta() -> None:
    """The analysis side reads no file: a collider set takes the momenta it is given."""
    toy = known_answer("ee_mumu", 500, seed=1)
    assert toy.source == "ledger, toy"
    given = MomentumSample(toy.features.momenta, ("mu+", "mu-"), "mine.lhe")
    data = known_answer("ee_mumu_noise", 123, seed=1, sample=given)
    assert data.source == "ledger, mine.lhe, noise 0.03 std"
    assert (data.d, data.d_approx, data.r) == (toy.d, toy.d_approx, toy.r) == (2, 2, 3)
    assert data.features.values.shape == (500, 8)


_KNOWN_DISCREPANCIES = {
    "ee_ww": "six latents cannot embed the three 2-spheres of W+W- decays without folding "
    "them (k = 6 = every latent; at 2,000 events the latent ID reads 4.98 against 6.00 "
    "predicted, at 20,000 5.63, consistent); with 12 latents it reads 6.31 against 6.29 "
    "(README, known answers)",
}
# pp with noise passes for a reason that is not the physics: the noise (3 % of each
# feature's spread, 13 GeV on the muon energies) raises every dimension estimate of the
# narrow-Z sample by about 0.3; test_noise_raises_pp_dimension checks that instead.
_NOT_A_VERDICT = {"pp_mumu_noise"}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(reason=_KNOWN_DISCREPANCIES[n]))
        if n in _KNOWN_DISCREPANCIES
        else n
        for n in DATASETS
        if n not in _NOT_A_VERDICT
    ],
)
def test_quick_verdict(rows, name: str) -> None:
    """Against d, or where approximate constraints lower it, against the dimension
    predicted at the read scale (from their thickness, not from the latents)."""
    row = rows[name]
    target = row.predicted if math.isfinite(row.predicted) else row.d
    assert math.floor(target) <= row.k <= row.r, row.verdict_text
    assert abs(row.latent_id - target) <= 0.5, row.verdict_text
    assert row.consistent, row.verdict_text


def test_narrow_resonances_are_named_unresolved(rows) -> None:
    for name in ("pp_mumu", "bw_0.1pct", "bw_1pct", "bw_3pct"):
        row = rows[name]
        assert row.d_approx == row.d - 1, name
        assert row.resolution is not None, name
        (c,) = row.resolution["constraints"]
        assert not c["resolved"], name
        assert c["thickness_latent"] < row.resolution["read_scale"], name
        assert "unresolved" in row.verdict_text
    # the ledger calls a Breit-Wigner of 10 % or more broken (relative width > 0.1), but
    # its thickness lies below the decoder noise sqrt(beta/2) = 0.22: a shell for the model
    for name in ("bw_10pct", "bw_30pct"):
        row = rows[name]
        assert row.d_approx == row.d == 4, name
        (c,) = row.resolution["constraints"]
        assert c["kind"] == "broken", name
        assert c["thickness"] < row.resolution["resolution_limit"], name
        assert row.resolution["d_approx"] == 3, name


def test_pca_overestimates_curved_manifolds(rows) -> None:
    for name in ("circle", "sphere", "torus", "oscillators", "ee_mumu", "flat3"):
        assert rows[name].pca > rows[name].d, name
    assert rows["annulus"].pca == rows["annulus"].d == 2  # flat: PCA is right


def test_pp_ledger(rows) -> None:
    row = rows["pp_mumu"]
    assert (row.d, row.d_approx, row.r) == (4, 3, 6)
    assert abs(row.latent_id - row.d_approx) <= 0.5


def test_noise_raises_pp_dimension(rows) -> None:
    clean, noisy = rows["pp_mumu"], rows["pp_mumu_noise"]
    assert (noisy.d, noisy.d_approx, noisy.r) == (clean.d, clean.d_approx, clean.r)
    assert noisy.latent_id > clean.latent_id
    assert noisy.mle > clean.mle


def test_resolution_reads_through_noise(rows) -> None:
    """On the noisy circle the noise is resolved at the nearest neighbours (every estimate
    there reads about 2); at the posterior width the latent dimension is the circle's."""
    row = rows["circle_noise"]
    assert row.latent_id_nearest > 1.5
    assert row.twonn > 1.5
    assert abs(row.latent_id - 1.0) <= 0.2
    assert row.latent_id_scale > 0
    clean = rows["circle"]
    assert abs(clean.latent_id - clean.latent_id_nearest) < 0.1  # no noise: they agree
