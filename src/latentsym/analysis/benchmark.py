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
  momenta of the bundled samples when given (:data:`SAMPLE_FILES`, read by the job
  :func:`latentsym.jobs.benchmark.run_benchmark`), the seeded toys otherwise.

Every data set also comes with noise (``<name>_noise``): Gaussian noise of
``NOISE_LEVEL`` (3 %) of each feature's standard deviation is added to every feature, and
d and r are those of the noise-free data (noise is not the thickness of a constraint, so
these sets are read against d, without a prediction).

Resonance sets (no noise twin): two-body decays of a Breit-Wigner resonance in pp-like
kinematics at Gamma / M = 0.1 %, 1 %, 3 %, 10 % and 30 %
(:func:`latentsym.toys.resonance_decay`, :data:`RESONANCE_WIDTHS`) and e+e- -> W+W- ->
four massless bodies at 200 GeV with Breit-Wigner W masses (:func:`latentsym.toys.ee_to_ww`).
For every collider set the verdict compares the latent dimension with the dimension
predicted at its read scale from the approximate constraints' thickness
(:mod:`latentsym.analysis.resolution`), which is d where every constraint is exact.

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
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from latentsym import toys
from latentsym._json import json_safe
from latentsym.analysis.intrinsic import baselines
from latentsym.analysis.scan import read_latents
from latentsym.analysis.verdict import verdict
from latentsym.errors import ConfigError
from latentsym.features.build import FeatureMatrix, build
from latentsym.features.scaler import constant_mask
from latentsym.models import Architecture, TrainConfig
from latentsym.physics.constraints import dimension_ledger
from latentsym.physics.thickness import ConstraintGeometry, constraint_geometry

__all__ = [
    "DATASETS",
    "NOISE_LEVEL",
    "RESONANCE_WIDTHS",
    "SAMPLE_FILES",
    "BenchmarkRow",
    "KnownAnswer",
    "MomentumSample",
    "benchmark_row",
    "check_datasets",
    "format_table",
    "known_answer",
    "sample_topology",
]

NOISE_LEVEL = 0.03
"""Noise of the ``_noise`` data sets, as a fraction of each feature's standard deviation."""

SAMPLE_FILES = {"ee_mumu": "ee_mumu_91GeV.lhe.gz", "pp_mumu": "pp_mumu_13TeV.lhe.gz"}
"""Collider data sets that a bundled sample can stand in for (with or without noise)."""


@dataclass(frozen=True, eq=False)
class MomentumSample:
    """Momenta of a real sample for a collider data set: ``[N, n, 4]`` (E, px, py, pz),
    the particle names, and where they come from (e.g. the file name)."""

    momenta: np.ndarray
    particle_names: tuple[str, ...]
    source: str


@dataclass(frozen=True, eq=False)
class KnownAnswer:
    """A data set of the benchmark: the features and their expected dimensions.

    Attributes:
        features: a FeatureMatrix (collider sets) or a raw ``[N, D]`` array (geometric).
        d, d_approx: expected manifold dimension (with approximate constraints).
        r: linear rank.
        source: where d and r come from and which events were used.
        geometry: the approximate constraints event by event (collider sets; None for
            the geometric toys), for the dimension predicted at the read scale.
    """

    features: FeatureMatrix | np.ndarray
    d: int
    d_approx: int
    r: int
    source: str
    geometry: ConstraintGeometry | None = None


_Prepare = Callable[[int, int, MomentumSample | None], KnownAnswer]


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
        predicted: the dimension predicted at the read scale from the approximate
            constraints' thickness (NaN when no constraint is approximate or k = 0).
        resolution: its details (thickness, resolved or not) as a dictionary, or None.
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
    predicted: float = math.nan
    resolution: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (NaN as None)."""
        out = asdict(self)
        out["relevance"] = list(self.relevance)
        return json_safe(out)


def _annulus(n: int, seed: int) -> np.ndarray:
    radius = np.random.default_rng(seed + 1).uniform(0.5, 1.5, n)
    return toys.circle(n, seed=seed) * radius[:, None]


def _geometric(make: Callable[[int, int], np.ndarray], d: int, r: int) -> _Prepare:
    def prepare(n: int, seed: int, sample: MomentumSample | None) -> KnownAnswer:
        return KnownAnswer(make(n, seed), d, d, r, "toy truth")

    return prepare


def _collider(make: Callable[[int, int], np.ndarray], names: Sequence[str]) -> _Prepare:
    def prepare(n: int, seed: int, sample: MomentumSample | None) -> KnownAnswer:
        if sample is not None:
            momenta, labels = sample.momenta, list(sample.particle_names)
            source = f"ledger, {sample.source}"
        else:
            momenta, labels, source = make(n, seed), list(names), "ledger, toy"
        feats = build(np.asarray(momenta, dtype=np.float64), particle_names=labels)
        led = dimension_ledger(momenta, labels)
        geometry = constraint_geometry(momenta, labels, led, seed=seed)
        return KnownAnswer(
            feats, led.manifold_dim, led.manifold_dim_approx, led.linear_rank, source, geometry
        )

    return prepare


def _noisy(prepare: _Prepare) -> _Prepare:
    """The same data set with Gaussian noise of NOISE_LEVEL x each feature's std added
    (seeded); d, d_approx and r stay those of the noise-free data."""

    def noisy(n: int, seed: int, sample: MomentumSample | None) -> KnownAnswer:
        prep = prepare(n, seed, sample)
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
        # noise is not a constraint's thickness: the noisy sets are read against d
        return replace(
            prep, features=feats, source=f"{prep.source}, noise {NOISE_LEVEL:g} std", geometry=None
        )

    return noisy


_PARTICLES = {"ee_mumu": toys.MUON_PAIR, "pp_mumu": toys.MUON_PAIR, "flat3": ("g", "g", "g")}
RESONANCE_WIDTHS = {
    "bw_0.1pct": 0.001,
    "bw_1pct": 0.01,
    "bw_3pct": 0.03,
    "bw_10pct": 0.1,
    "bw_30pct": 0.3,
}
"""Data sets of :func:`latentsym.toys.resonance_decay` and their Gamma / M."""


def _resonance(width_ratio: float) -> _Prepare:
    return _collider(lambda n, s: toys.resonance_decay(n, width_ratio, seed=s), toys.LEPTON_PAIR)


def _registry() -> dict[str, tuple[str, bool, _Prepare]]:
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
            _collider(lambda n, s: toys.ee_to_mumu(n, seed=s), _PARTICLES["ee_mumu"]),
        ),
        "pp_mumu": (
            "pp -> Z -> mu+mu- (LO)",
            True,
            _collider(lambda n, s: toys.pp_to_mumu(n, seed=s), _PARTICLES["pp_mumu"]),
        ),
        "flat3": (
            "flat massless 3-body phase space",
            True,
            _collider(lambda n, s: toys.flat_phase_space(n, 3, seed=s), _PARTICLES["flat3"]),
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
    for name, ratio in RESONANCE_WIDTHS.items():
        out[name] = (
            f"pp-like X -> l+l-, Breit-Wigner Gamma/M = {100 * ratio:g}%",
            True,
            _resonance(ratio),
        )
    out["ee_ww"] = (
        "e+e- -> W+W- -> 4 massless bodies at 200 GeV",
        True,
        _collider(lambda n, s: toys.ee_to_ww(n, seed=s), toys.WW_FINAL_STATE),
    )
    return out


_CLEAN = ("circle", "annulus", "sphere", "torus", "oscillators", "ee_mumu", "pp_mumu", "flat3")
DATASETS: tuple[str, ...] = (
    *(name for clean in _CLEAN for name in (clean, f"{clean}_noise")),
    *RESONANCE_WIDTHS,
    "ee_ww",
)
"""Names accepted by :func:`latentsym.jobs.benchmark.run_benchmark`, in table order: every
clean set with its noisy twin, then the resonance sets (no noise)."""


def _n_features(features: FeatureMatrix | np.ndarray) -> int:
    return int((features.values if isinstance(features, FeatureMatrix) else features).shape[1])


def _standardised(features: FeatureMatrix | np.ndarray) -> np.ndarray:
    x = np.asarray(
        features.values if isinstance(features, FeatureMatrix) else features, dtype=np.float64
    )
    x = x[:, ~constant_mask(x)]
    return (x - x.mean(axis=0)) / x.std(axis=0)


def check_datasets(datasets: Sequence[str] | None = None) -> list[str]:
    """The data sets asked for (default: all of :data:`DATASETS`), checked.

    Raises:
        ConfigError: an unknown data-set name.

    Example:
        >>> check_datasets(["circle", "sphere_noise"])
        ['circle', 'sphere_noise']
    """
    names = list(DATASETS if datasets is None else datasets)
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        raise ConfigError(
            f"run_benchmark: unknown data set(s) {unknown}; allowed: {', '.join(DATASETS)}"
        )
    return names


def sample_topology(name: str) -> str | None:
    """The final state to select from the bundled sample of data set ``name`` (see
    :data:`SAMPLE_FILES`; noisy sets share their clean set's), or None when it has none.

    Example:
        >>> sample_topology("ee_mumu_noise"), sample_topology("circle")
        ('mu+ mu-', None)
    """
    base = name.removesuffix("_noise")
    return " ".join(_PARTICLES[base]) if base in SAMPLE_FILES else None


def known_answer(
    name: str, n_events: int, seed: int = 0, sample: MomentumSample | None = None
) -> KnownAnswer:
    """The features and expected dimensions of data set ``name`` (a :data:`DATASETS` key).

    Args:
        name: the data set.
        n_events: points to generate (a given ``sample`` is used as it is).
        seed: seed of the toy and of the noise.
        sample: the momenta of a bundled sample for a collider set (the toy otherwise).

    Example:
        >>> data = known_answer("circle", 100)
        >>> data.features.shape, data.d, data.r
        ((100, 2), 1, 2)
    """
    (checked,) = check_datasets([name])
    return _registry()[checked][2](n_events, seed, sample)


def benchmark_row(
    name: str,
    data: KnownAnswer,
    *,
    arch: Architecture | None = None,
    train: TrainConfig | None = None,
    baseline_points: int = 5000,
) -> BenchmarkRow:
    """Train and read a VAE on one data set and compare it with the baselines.

    Args:
        name: the data set (a :data:`DATASETS` key: its description and curvature).
        data: its features and expected dimensions (:func:`known_answer`).
        arch: the network (default :class:`~latentsym.models.Architecture`).
        train: training settings (default :class:`~latentsym.models.TrainConfig`); its
            seed also seeds the subsample of the baselines.
        baseline_points: the baselines use at most this many events.

    Returns:
        The :class:`BenchmarkRow`.
    """
    (checked,) = check_datasets([name])
    description, curved, _ = _registry()[checked]
    cfg = train if train is not None else TrainConfig()
    t0 = time.perf_counter()
    reading = read_latents(
        data.features, arch=arch, train=cfg, id_points=baseline_points, geometry=data.geometry
    )
    train_s = time.perf_counter() - t0
    x = _standardised(data.features)
    base = baselines(x, max_points=baseline_points, seed=cfg.seed)
    v = verdict(
        reading.k,
        data.d,
        data.r,
        reading.latent_id if math.isfinite(reading.latent_id) else None,
        data.d_approx,
        resolution=reading.resolution,
        latent_dim=(arch if arch is not None else Architecture()).latent_dim,
    )
    return BenchmarkRow(
        dataset=checked,
        description=description,
        source=data.source,
        curved=curved,
        n_events=len(x),
        n_features=_n_features(data.features),
        d=data.d,
        d_approx=data.d_approx,
        r=data.r,
        k=reading.k,
        relevance=reading.relevance,
        latent_id=reading.latent_id,
        pca=base.pca,
        twonn=base.twonn,
        mle=base.mle,
        consistent=v.consistent,
        verdict_text=v.text,
        train_s=train_s,
        latent_id_nearest=reading.latent_id_nearest,
        latent_id_scale=reading.latent_id_scale,
        predicted=reading.predicted,
        resolution=reading.resolution.to_dict() if reading.resolution else None,
    )


def _num(value: float) -> str:
    return f"{value:.2f}" if math.isfinite(value) else "-"


def format_table(rows: Sequence[BenchmarkRow]) -> str:
    """Markdown table: data set, d, r, VAE k, latent ID (at the model's resolution and, in
    brackets, at the nearest neighbours), the dimension predicted at the read scale, PCA,
    TwoNN, MLE, verdict.

    ``d`` reads ``4 (3)`` when approximate constraints lower it to ``d_approx = 3``; the
    prediction is ``-`` where no constraint is approximate (it is then d).

    Example:
        >>> print(format_table([]))
        | data set | d | r | VAE k | latent ID (NN) | predicted | PCA | TwoNN | MLE | verdict |
        |---|---|---|---|---|---|---|---|---|---|
    """
    lines = [
        "| data set | d | r | VAE k | latent ID (NN) | predicted | PCA | TwoNN | MLE | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        d = str(row.d) if row.d_approx == row.d else f"{row.d} ({row.d_approx})"
        lines.append(
            f"| {row.dataset} | {d} | {row.r} | {row.k} | {_num(row.latent_id)} "
            f"({_num(row.latent_id_nearest)}) | {_num(row.predicted)} | {row.pca} "
            f"| {_num(row.twonn)} | {_num(row.mle)} | "
            f"{'consistent' if row.consistent else 'inconsistent'} |"
        )
    return "\n".join(lines)
