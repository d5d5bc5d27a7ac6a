"""Relevance spectrum: R, Var(mu), KL, sorting, the relevant count, gap and weak directions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from latentsym.analysis import relevance, verdict
from latentsym.errors import ConfigError, SchemaError


def _encoder_outputs(sigmas: list[float], n: int = 4000, seed: int = 0):
    rng = np.random.default_rng(seed)
    s = np.asarray(sigmas)
    mu = rng.normal(size=(n, len(s))) * np.sqrt(1.0 - s**2)  # aggregate posterior ~ N(0, 1)
    return mu, np.tile(s, (n, 1))


def test_values_sorting_and_count() -> None:
    mu, sigma = _encoder_outputs([1.0, 0.5, 0.1, 0.99, 0.2])
    rel = relevance(mu, sigma=sigma)
    assert [d.dim for d in rel.directions] == [2, 4, 1, 3, 0]
    r = {d.dim: d.R for d in rel.directions}
    assert r[2] == pytest.approx(0.99)
    assert r[1] == pytest.approx(0.75)
    assert r[0] == pytest.approx(0.0)
    assert rel.n_relevant == 3
    assert rel.relevant_dims == [2, 4, 1]
    assert rel.gap == pytest.approx(0.75 - (1 - 0.99**2))
    var_mu = {d.dim: d.var_mu for d in rel.directions}
    assert var_mu[2] == pytest.approx(0.99, rel=0.05)
    assert var_mu[0] == 0.0
    # KL per dim: 0.5 (E[mu^2] + s^2 - 1 - log s^2) = -log s when E[mu^2] = 1 - s^2.
    kl = {d.dim: d.kl for d in rel.directions}
    assert kl[2] == pytest.approx(-np.log(0.1), rel=0.05)
    assert kl[0] == pytest.approx(0.0, abs=1e-12)


def test_logvar_and_sigma_agree() -> None:
    mu, sigma = _encoder_outputs([0.3, 0.9])
    a = relevance(mu, sigma=sigma).to_dict()
    b = relevance(mu, np.log(sigma**2)).to_dict()
    for x, y in zip(a["relevance"], b["relevance"], strict=True):
        assert x["dim"] == y["dim"]
        assert x["R"] == pytest.approx(y["R"])
        assert x["kl"] == pytest.approx(y["kl"])


def test_weak_and_ambiguous_directions() -> None:
    # Three relevant (R ~ 0.75 as seen on e+e- -> mu mu), one weak (R = 0.3), two collapsed.
    mu, sigma = _encoder_outputs([0.5, 0.5, 0.5, np.sqrt(0.7), 1.0, np.sqrt(0.97)])
    rel = relevance(mu, sigma=sigma)
    assert rel.n_relevant == 3
    assert rel.weak == (3,)
    assert [d.kind for d in rel.directions] == ["relevant"] * 3 + ["weak", "collapsed", "collapsed"]
    # R = 0.12 sits right above a collapsed R = 0.08: not clearly separated.
    mu, sigma = _encoder_outputs([0.2, np.sqrt(0.88), np.sqrt(0.92)])
    rel = relevance(mu, sigma=sigma)
    assert [d.kind for d in rel.directions] == ["relevant", "ambiguous", "collapsed"]
    assert rel.weak == ()


def test_edge_cases_and_json() -> None:
    mu, sigma = _encoder_outputs([1.0, 1.0])
    rel = relevance(mu, sigma=sigma * 1.5)  # wider than the prior: R clipped at 0
    assert rel.n_relevant == 0
    assert rel.gap is None
    assert all(d.R == 0.0 for d in rel.directions)
    mu, sigma = _encoder_outputs([0.1, 0.1])
    out = json.loads(json.dumps(relevance(mu, sigma=sigma).to_dict(), allow_nan=False))
    assert out["n_relevant"] == 2
    assert out["gap"] is None
    assert set(out["relevance"][0]) == {"dim", "R", "var_mu", "kl", "kind"}


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({}, ConfigError, "exactly one"),
        ({"sigma": np.ones((5, 2)), "logvar": np.zeros((5, 2))}, ConfigError, "exactly one"),
        ({"sigma": np.ones((5, 3))}, SchemaError, "differ in shape"),
        ({"sigma": -np.ones((5, 2))}, SchemaError, "negative"),
        ({"sigma": np.ones((5, 2)), "threshold": 0.05}, ConfigError, "weak_floor < threshold"),
    ],
)
def test_bad_input(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        relevance(np.zeros((5, 2)), **kwargs)


def test_nan_names_the_event() -> None:
    mu = np.zeros((5, 2))
    mu[3, 1] = np.nan
    with pytest.raises(SchemaError, match="event 3, latent 1"):
        relevance(mu, sigma=np.ones((5, 2)))


@pytest.mark.parametrize(
    ("args", "consistent", "phrases"),
    [
        ((3, 2, 3, 2.1), True, ["Consistent", "k = 3"]),
        ((2, 2, 3, 2.4), True, ["Consistent"]),
        ((1, 2, 3, 1.0), False, ["Too few", "misses degrees of freedom", "off d = 2 by 1.00"]),
        ((5, 2, 3, 2.0), False, ["Too many", "k = 5 > r = 3"]),
        ((3, 2, 3, 2.7), False, ["off d = 2 by 0.70"]),
        ((3, 2, 3, float("nan")), False, ["could not be measured"]),
        ((3, 4, 6, 3.1, 3), False, ["Too few", "matches d_approx = 3", "approximate"]),
        ((4, 4, 6, 3.9, 3), True, ["Consistent"]),
    ],
)
def test_verdict(args: tuple, consistent: bool, phrases: list[str]) -> None:
    v = verdict(*args)
    assert v.consistent is consistent
    for phrase in phrases:
        assert phrase in v.text
    assert v.to_dict() == {"consistent": consistent, "text": v.text}


def test_verdict_rejects_bad_counts() -> None:
    with pytest.raises(ConfigError, match="non-negative integer"):
        verdict(-1, 2, 3, 2.0)
