"""Known-answer benchmark: the whole reading on data sets whose dimensions are known.

For every data set the expected manifold dimension ``d`` and linear rank ``r`` come from
an independent route:

- geometric toys (circle, annulus, sphere, torus, oscillators) are plain point clouds,
  not momenta: ``d`` and ``r`` are their documented truth (:mod:`latentsym.toys.geometric`;
  the annulus, a circle with a radius uniform in [0.5, 1.5], has d = r = 2) and the VAE is
  trained on the raw ``[N, D]`` array (:func:`latentsym.models.fit` accepts one);
- collider sets (e+e- -> mu+ mu-, pp -> mu+ mu-, flat massless 3-body phase space) are
  momenta: ``d``, ``d_approx`` and ``r`` come from
  :func:`latentsym.physics.constraints.dimension_ledger` on the cartesian features, the VAE
  is trained on :func:`latentsym.features.build`'s FeatureMatrix. e+e- and pp use the
  bundled samples when ``samples_dir`` holds them, the seeded toys otherwise.

Every data set also comes with noise (``<name>_noise``): Gaussian noise of
``NOISE_LEVEL`` (3 %) of each feature's standard deviation is added to every feature, and
d and r are those of the noise-free data.

Per data set: the VAE's relevant count k and the intrinsic dimension of its encoded means
along the relevant directions, read at the model's resolution (the posterior width,
:func:`latentsym.analysis.intrinsic.latent_dimension`; TwoNN at the nearest neighbours is
kept beside it), from :func:`latentsym.analysis.scan.read_latents`; the baselines on the
standardised features (constant columns dropped; PCA components for 99 % of the
variance, TwoNN, Levina-Bickel MLE with k = 20, on a seeded subsample of at most
``baseline_points`` events) and the :func:`latentsym.analysis.verdict.verdict`.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from latentsym.analysis.intrinsic import mle_levina_bickel, pca_dim, twonn
from latentsym.analysis.scan import read_latents
from latentsym.analysis.verdict import verdict
from latentsym.errors import ConfigError
from latentsym.features.build import FeatureMatrix
from latentsym.features.scaler import constant_mask

__all__ = ["DATASETS", "NOISE_LEVEL", "BenchmarkRow", "format_table", "run_benchmark"]

NOISE_LEVEL = 0.03
"""Noise of the ``_noise`` data sets, as a fraction of each feature's standard deviation."""

_SAMPLES = {"ee_mumu": "ee_mumu_91GeV.lhe.gz", "pp_mumu": "pp_mumu_13TeV.lhe.gz"}


@dataclass(frozen=True)
class _Prepared:
    features: FeatureMatrix | np.ndarray
    d: int
    d_approx: int
    r: int
    source: str


@dataclass(frozen=True)
class BenchmarkRow:
    """One data set of the benchmark.

    Attributes:
        dataset: data-set name (a key of :data:`DATASETS`).
        description: what the data set is.
        source: where d and r come from and which events were used.
        curved: True for curved manifolds, where PCA is expected to exceed d.
        n_events: events used for training.
        n_features: F.
        d: expected manifold dimension; d_approx: counting approximate constraints too.
        r: linear rank of the features.
        k: relevant latent directions of the VAE.
        relevance: sorted relevance spectrum.
        latent_id: intrinsic dimension of the encoded means along the relevant directions,
            at the model's resolution (the verdict uses it).
        pca, twonn, mle: baselines on the standardised features.
        consistent: the verdict; verdict_text: its sentence.
        train_s: training time in seconds.
        latent_id_nearest: TwoNN of the encoded means at the nearest-neighbour scale.
        latent_id_scale: the resolution (median posterior width) latent_id was read at.
    """

    dataset: str
    description: str
    source: str
    curved: bool
    n_events: int
    n_features: int
    d: int
    d_approx: int
    r: int
    k: int
    relevance: tuple[float, ...]
    latent_id: float
    pca: int
    twonn: float
    mle: float
    consistent: bool
    verdict_text: str
    train_s: float
    latent_id_nearest: float = math.nan
    latent_id_scale: float = math.nan

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (NaN as None)."""
        out = asdict(self)
        out["relevance"] = list(self.relevance)
        for key in ("latent_id", "twonn", "mle", "latent_id_nearest", "latent_id_scale"):
            if not math.isfinite(out[key]):
                out[key] = None
        return out


def _annulus(n: int, seed: int) -> np.ndarray:
    from latentsym.toys import circle

    radius = np.random.default_rng(seed + 1).uniform(0.5, 1.5, n)
    return circle(n, seed=seed) * radius[:, None]


def _geometric(make: Callable[[int, int], np.ndarray], d: int, r: int) -> Callable[..., _Prepared]:
    def prepare(n: int, seed: int, samples_dir: Path | None) -> _Prepared:
        return _Prepared(make(n, seed), d, d, r, "toy truth")

    return prepare


def _collider(
    name: str, make: Callable[[int, int], np.ndarray], names: Sequence[str]
) -> Callable[..., _Prepared]:
    def prepare(n: int, seed: int, samples_dir: Path | None) -> _Prepared:
        from latentsym.features import build
        from latentsym.physics.constraints import dimension_ledger

        path = samples_dir / _SAMPLES[name] if samples_dir and name in _SAMPLES else None
        if path is not None and path.exists():
            from latentsym.io.read import read_events
            from latentsym.physics.selection import select_final_state

            events, _ = read_events(path, max_events=n)
            fs = select_final_state(events, " ".join(names))
            momenta, labels, source = fs.momenta(), list(fs.names), f"ledger, {path.name}"
        else:
            momenta, labels, source = make(n, seed), list(names), "ledger, toy"
        feats = build(np.asarray(momenta, dtype=np.float64), particle_names=labels)
        led = dimension_ledger(momenta, labels)
        return _Prepared(feats, led.manifold_dim, led.manifold_dim_approx, led.linear_rank, source)

    return prepare


def _noisy(prepare: Callable[..., _Prepared]) -> Callable[..., _Prepared]:
    """The same data set with Gaussian noise of NOISE_LEVEL x each feature's std added
    (seeded); d, d_approx and r stay those of the noise-free data."""

    def noisy(n: int, seed: int, samples_dir: Path | None) -> _Prepared:
        prep = prepare(n, seed, samples_dir)
        clean = prep.features.values if isinstance(prep.features, FeatureMatrix) else prep.features
        x = np.asarray(clean, dtype=np.float64)
        rng = np.random.default_rng([seed, 7919])
        x = x + rng.normal(size=x.shape) * (NOISE_LEVEL * x.std(axis=0))
        if isinstance(prep.features, FeatureMatrix):
            feats: FeatureMatrix | np.ndarray = replace(
                prep.features, values=x.astype(prep.features.values.dtype)
            )
        else:
            feats = x
        return replace(prep, features=feats, source=f"{prep.source}, noise {NOISE_LEVEL:g} std")

    return noisy


def _registry() -> dict[str, tuple[str, bool, Callable[..., _Prepared]]]:
    from latentsym import toys

    mumu = toys.MUON_PAIR
    clean = {
        "circle": (
            "O(2) circle in R^2",
            True,
            _geometric(lambda n, s: toys.circle(n, seed=s), 1, 2),
        ),
        "annulus": ("circle with radius U(0.5, 1.5)", False, _geometric(_annulus, 2, 2)),
        "sphere": ("2-sphere in R^3", True, _geometric(lambda n, s: toys.sphere(n, seed=s), 2, 3)),
        "torus": (
            "torus of revolution in R^3",
            True,
            _geometric(lambda n, s: toys.torus(n, seed=s), 2, 3),
        ),
        "oscillators": (
            "2 oscillators at fixed energies",
            True,
            _geometric(lambda n, s: toys.oscillators(n, seed=s), 2, 4),
        ),
        "ee_mumu": (
            "e+e- -> mu+mu- at 91.2 GeV",
            True,
            _collider("ee_mumu", lambda n, s: toys.ee_to_mumu(n, seed=s), mumu),
        ),
        "pp_mumu": (
            "pp -> Z -> mu+mu- (LO)",
            True,
            _collider("pp_mumu", lambda n, s: toys.pp_to_mumu(n, seed=s), mumu),
        ),
        "flat3": (
            "flat massless 3-body phase space",
            True,
            _collider("flat3", lambda n, s: toys.flat_phase_space(n, 3, seed=s), ("g", "g", "g")),
        ),
    }
    out = {}
    for name, (description, curved, prepare) in clean.items():
        out[name] = (description, curved, prepare)
        out[f"{name}_noise"] = (
            f"{description}, noise {NOISE_LEVEL:g} std",
            curved,
            _noisy(prepare),
        )
    return out


_CLEAN = ("circle", "annulus", "sphere", "torus", "oscillators", "ee_mumu", "pp_mumu", "flat3")
DATASETS: tuple[str, ...] = tuple(name for clean in _CLEAN for name in (clean, f"{clean}_noise"))
"""Names accepted by :func:`run_benchmark`, in table order."""


def _n_features(features: FeatureMatrix | np.ndarray) -> int:
    return int((features.values if isinstance(features, FeatureMatrix) else features).shape[1])


def _standardised(features: FeatureMatrix | np.ndarray) -> np.ndarray:
    x = np.asarray(
        features.values if isinstance(features, FeatureMatrix) else features, dtype=np.float64
    )
    x = x[:, ~constant_mask(x)]
    return (x - x.mean(axis=0)) / x.std(axis=0)


def run_benchmark(
    datasets: Sequence[str] | None = None,
    *,
    n_events: int = 20000,
    epochs: int | None = None,
    batch_size: int = 1024,
    beta: float = 0.1,
    latent_dim: int = 6,
    seed: int = 0,
    quick: bool = False,
    baseline_points: int = 5000,
    samples_dir: str | os.PathLike[str] | None = None,
    progress: bool = False,
) -> list[BenchmarkRow]:
    """Train and read a VAE on each known-answer data set; compare with the baselines.

    Args:
        datasets: names from :data:`DATASETS` (default: all).
        n_events: events (points) per data set.
        epochs: training epochs (default: :class:`latentsym.models.TrainConfig`'s).
        batch_size: training batch size.
        beta: KL weight; latent_dim: latent directions.
        seed: seed of the data, the training and the subsamples.
        quick: 2000 events, 60 epochs of batch 128 (for tests and smoke runs, about 2 s
            per data set); overrides ``n_events``, ``epochs`` and ``batch_size``.
        baseline_points: the baselines use at most this many events (seeded subsample).
        samples_dir: folder with the bundled samples (``ee_mumu_91GeV.lhe.gz``,
            ``pp_mumu_13TeV.lhe.gz``); toys are used when None or missing.
        progress: print one line per data set.

    Returns:
        One :class:`BenchmarkRow` per data set, in the order asked.

    Raises:
        ConfigError: an unknown data-set name.

    Example:
        >>> rows = run_benchmark(["circle"], quick=True)  # doctest: +SKIP
        >>> rows[0].pca, round(rows[0].twonn)  # doctest: +SKIP
        (2, 1)
    """
    names = list(DATASETS if datasets is None else datasets)
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        raise ConfigError(
            f"run_benchmark: unknown data set(s) {unknown}; allowed: {', '.join(DATASETS)}"
        )
    if quick:
        n_events, epochs, batch_size = 2000, 60, 128
    fit_kwargs: dict[str, Any] = {"batch_size": batch_size}
    if epochs is not None:
        fit_kwargs["epochs"] = epochs
    folder = Path(samples_dir) if samples_dir is not None else None
    registry = _registry()
    rows = []
    for name in names:
        description, curved, prepare = registry[name]
        prep = prepare(n_events, seed, folder)
        t0 = time.perf_counter()
        reading = read_latents(
            prep.features,
            beta=beta,
            seed=seed,
            latent_dim=latent_dim,
            id_points=baseline_points,
            **fit_kwargs,
        )
        train_s = time.perf_counter() - t0
        x = _standardised(prep.features)
        sub = x[np.random.default_rng(seed).permutation(len(x))[:baseline_points]]
        v = verdict(
            reading.k,
            prep.d,
            prep.r,
            reading.latent_id if math.isfinite(reading.latent_id) else None,
            prep.d_approx,
        )
        row = BenchmarkRow(
            dataset=name,
            description=description,
            source=prep.source,
            curved=curved,
            n_events=len(x),
            n_features=_n_features(prep.features),
            d=prep.d,
            d_approx=prep.d_approx,
            r=prep.r,
            k=reading.k,
            relevance=reading.relevance,
            latent_id=reading.latent_id,
            pca=int(pca_dim(x)),
            twonn=float(twonn(sub)),
            mle=float(mle_levina_bickel(sub)),
            consistent=v.consistent,
            verdict_text=v.text,
            train_s=train_s,
            latent_id_nearest=reading.latent_id_nearest,
            latent_id_scale=reading.latent_id_scale,
        )
        if progress:
            print(format_table([row]).splitlines()[-1], flush=True)
        rows.append(row)
    return rows


def _num(value: float) -> str:
    return f"{value:.2f}" if math.isfinite(value) else "-"


def format_table(rows: Sequence[BenchmarkRow]) -> str:
    """Markdown table: data set, d, r, VAE k, latent ID (at the model's resolution and, in
    brackets, at the nearest neighbours), PCA, TwoNN, MLE, verdict.

    ``d`` reads ``4 (3)`` when approximate constraints lower it to ``d_approx = 3``.

    Example:
        >>> print(format_table([]))
        | data set | d | r | VAE k | latent ID (NN) | PCA | TwoNN | MLE | verdict |
        |---|---|---|---|---|---|---|---|---|
    """
    lines = [
        "| data set | d | r | VAE k | latent ID (NN) | PCA | TwoNN | MLE | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        d = str(row.d) if row.d_approx == row.d else f"{row.d} ({row.d_approx})"
        lines.append(
            f"| {row.dataset} | {d} | {row.r} | {row.k} | {_num(row.latent_id)} "
            f"({_num(row.latent_id_nearest)}) | {row.pca} "
            f"| {_num(row.twonn)} | {_num(row.mle)} | "
            f"{'consistent' if row.consistent else 'inconsistent'} |"
        )
    return "\n".join(lines)
