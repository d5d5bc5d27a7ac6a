"""Comparison of observable distributions: input sample, generated events, MC truth.

For every observable shared by all samples and every sample other than the reference,
two numbers are computed:

* **chi2/ndf** between normalised histograms. The binning is shared: ``bins`` equal
  bins between the 0.5th and 99.5th percentiles of the reference sample (of all samples
  pooled when the reference is constant), plus the underflow and overflow bins, so that
  every entry takes part. Each histogram is divided by its sample's total weight, with
  the statistical variance ``sum(w^2) / W^2`` per bin (``n / N^2`` unweighted). Then
  ``chi2 = sum_b (p_b - q_b)^2 / (var_p_b + var_q_b)`` over the bins where at least one
  sample has entries (bins empty in both are skipped), and ``ndf = (bins used) - 1`` (the
  normalisation removes one degree of freedom). Two samples drawn from the same
  distribution give chi2/ndf near 1; the errors are Gaussian approximations, so bins with
  very few entries make the number less reliable.
* **Wasserstein-1 distance** ``integral |F_ref(x) - F_s(x)| dx`` between the unbinned
  values' cumulative distributions (:func:`weighted_w1`, the algorithm of
  ``scipy.stats.wasserstein_distance``, which it equals for positive weights, extended to
  signed weights: a weighted CDF ``sum_{x_i <= x} w_i / W`` may then step down), in the
  observable's unit, and divided by the reference's standard deviation (``w1_rel``,
  unit-free; the pooled standard deviation is used when the reference is constant, i.e.
  its spread is below 1e-6 of max(|value|, 1)).

**Weights.** Histograms are filled with the event weights (Weight storage); the errors
are ``sum(w^2)`` per bin, so negative weights (NLO samples) raise the errors as they
should. Weighted means and standard deviations use the signed weights too.

**Observables fixed by an exact constraint.** Where the input holds an observable fixed
(the mass, rapidity and transverse momentum of the system at fixed sqrt(s); the pT of an
LO pp system), a chi2 against a delta function measures only the generated spread in
units of the input's rounding. Those observables (``fixed``, :func:`fixed_observables`)
get no chi2 and no ``w1_rel`` (``w1`` stays, in the observable's unit: the mean distance
from the fixed value); they are reported by their relative spread ``std / scale`` in the
input and in each sample, to be judged with the constraint check's decoded/null ratios.

Non-finite values (e.g. an angle undefined for a particle at rest) are dropped per sample
and observable and counted in ``n_dropped``.

:func:`latentsym.jobs.compare.compare_files` is the job of ``latentsym compare``: it reads
the files, generates events from a trained model with :func:`generated_final_state_p4` and
writes ``comparison.json`` and figures.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import awkward as ak
import hist
import numpy as np
import torch
import vector

from latentsym.errors import ConfigError
from latentsym.features.representations import get_representation

__all__ = [
    "GENERATE_FROM",
    "INVISIBLE_PIDS",
    "Comparison",
    "ObservableComparison",
    "check_generate_from",
    "compare_observables",
    "fixed_observables",
    "generated_final_state_p4",
    "inclusive_observables",
    "weight_summary",
    "weighted_w1",
    "without_transverse_momentum",
]

INVISIBLE_PIDS = (12, 14, 16)
"""PDG ids (and their antiparticles) left out of the visible sums: the neutrinos."""

_ZERO_QT = 1e-6
"""``pt_sys / m_sys`` at or below which a system has no transverse momentum (the
Collins-Soper threshold of :func:`~latentsym.physics.observables.observables`)."""

_CONSTANT_RTOL = 1e-6
"""A reference spread below this fraction of max(|value|, 1) counts as constant."""


@dataclass(frozen=True)
class ObservableComparison:
    """One observable, one sample against the reference.

    Attributes:
        observable: the observable's key.
        sample: the compared sample's name.
        chi2: chi-square between the normalised histograms.
        ndf: degrees of freedom (bins used minus one).
        w1: Wasserstein-1 distance, in the observable's unit.
        w1_rel: ``w1`` divided by the reference's standard deviation.
        n_reference: finite entries of the reference.
        n_sample: finite entries of the sample.
        fixed: the input holds this observable fixed (an exact constraint): no chi2 and
            no ``w1_rel`` (NaN; ``w1`` stays, in the observable's unit), judged by the
            spreads instead.
        spread_reference: ``std / scale`` of the reference (fixed observables only).
        spread_sample: ``std / scale`` of the sample (fixed observables only).
    """

    observable: str
    sample: str
    chi2: float
    ndf: int
    w1: float
    w1_rel: float
    n_reference: int
    n_sample: int
    fixed: bool = False
    spread_reference: float = float("nan")
    spread_sample: float = float("nan")

    @property
    def chi2_ndf(self) -> float:
        """``chi2 / ndf`` (NaN when ndf is 0)."""
        return self.chi2 / self.ndf if self.ndf > 0 else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (non-finite numbers become None)."""
        return {
            "observable": self.observable,
            "sample": self.sample,
            "chi2": _num(self.chi2),
            "ndf": self.ndf,
            "chi2_ndf": _num(self.chi2_ndf),
            "w1": _num(self.w1),
            "w1_rel": _num(self.w1_rel),
            "n_reference": self.n_reference,
            "n_sample": self.n_sample,
            **(
                {
                    "fixed": True,
                    "judged_by": "relative spread (constraint check), not a chi2 against a delta",
                    "spread_reference": _num(self.spread_reference),
                    "spread_sample": _num(self.spread_sample),
                }
                if self.fixed
                else {}
            ),
        }


@dataclass
class Comparison:
    """All observables of several samples against a reference sample.

    Attributes:
        reference: name of the reference sample.
        samples: sample names, the reference first.
        observables: compared observable keys, in order.
        results: one :class:`ObservableComparison` per observable and non-reference sample.
        histograms: ``{observable: {sample: hist.Hist}}`` with Weight storage, raw
            (unnormalised) counts, underflow and overflow included.
        labels: ``{observable: axis title}`` for figures.
        n_dropped: ``{sample: {observable: non-finite values dropped}}`` (non-zero only).
        skipped: observables present in some samples only (not compared).
        fixed: ``{observable: scale}`` of the observables the input holds fixed (judged
            by their spreads, not by chi2 or W1).
    """

    reference: str
    samples: list[str]
    observables: list[str]
    results: list[ObservableComparison]
    histograms: dict[str, dict[str, hist.Hist]]
    labels: dict[str, str] = field(default_factory=dict)
    n_dropped: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    fixed: dict[str, float] = field(default_factory=dict)

    def result(self, observable: str, sample: str) -> ObservableComparison:
        """The comparison of ``sample`` against the reference for ``observable``."""
        for r in self.results:
            if r.observable == observable and r.sample == sample:
                return r
        raise ConfigError(
            f"no comparison for observable {observable!r} and sample {sample!r}; observables: "
            f"{', '.join(self.observables)}; samples: {', '.join(self.samples[1:])}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary: per sample and observable the numbers, plus the bin edges."""
        per_sample: dict[str, dict[str, Any]] = {s: {} for s in self.samples[1:]}
        for r in self.results:
            d = r.to_dict()
            per_sample[r.sample][r.observable] = {
                k: v for k, v in d.items() if k not in ("sample", "observable")
            }
        worst = {}
        for s in self.samples[1:]:
            rows = [r for r in self.results if r.sample == s and np.isfinite(r.chi2_ndf)]
            if rows:
                top = max(rows, key=lambda r: r.chi2_ndf)
                worst[s] = {"observable": top.observable, "chi2_ndf": _num(top.chi2_ndf)}
        return {
            "reference": self.reference,
            "samples": list(self.samples),
            "observables": list(self.observables),
            "method": (
                "chi2 between histograms normalised to unit total weight, shared binning from "
                "the reference's 0.5-99.5 percentiles plus under/overflow, variances sum(w^2)/W^2 "
                "of both samples, bins empty in both skipped, ndf = bins used - 1; "
                "w1 = integral |CDF_ref - CDF_s| of the unbinned (signed-)weighted values, "
                "w1_rel = w1 / std(ref); observables the input holds fixed get no chi2 and no "
                "w1_rel, but their relative spreads std / scale"
            ),
            "fixed": dict(self.fixed),
            "comparisons": per_sample,
            "worst": worst,
            "edges": {
                o: [float(e) for e in next(iter(h.values())).axes[0].edges]
                for o, h in self.histograms.items()
            },
            "n_dropped": self.n_dropped,
            "skipped": list(self.skipped),
        }


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _edges(ref: np.ndarray, pooled: np.ndarray, bins: int) -> np.ndarray:
    lo, hi = (float(q) for q in np.percentile(ref, [0.5, 99.5]))
    if hi - lo <= _CONSTANT_RTOL * max(abs(lo), 1.0):
        lo, hi = (float(q) for q in np.percentile(pooled, [0.5, 99.5]))
    if hi - lo <= _CONSTANT_RTOL * max(abs(lo), 1.0):
        half = 1e-6 * max(abs(lo), 1.0)
        lo, hi = lo - half, hi + half
    return np.linspace(lo, hi, bins + 1)


def _histogram(values: np.ndarray, weights: np.ndarray, edges: np.ndarray, name: str) -> hist.Hist:
    h = hist.Hist(hist.axis.Variable(edges, name=name), storage=hist.storage.Weight())
    h.fill(values, weight=weights)
    return h


def _chi2(h1: hist.Hist, h2: hist.Hist) -> tuple[float, int]:
    v1, v2 = np.asarray(h1.values(flow=True)), np.asarray(h2.values(flow=True))
    s1, s2 = np.asarray(h1.variances(flow=True)), np.asarray(h2.variances(flow=True))
    w1, w2 = float(v1.sum()), float(v2.sum())
    p, q = v1 / w1, v2 / w2
    var = np.asarray(s1 / w1**2 + s2 / w2**2)
    used = np.asarray(var > 0)
    chi2 = float(np.sum((p[used] - q[used]) ** 2 / var[used]))
    return chi2, int(used.sum()) - 1


def compare_observables(
    samples: Mapping[str, Mapping[str, np.ndarray]],
    *,
    reference: str = "input",
    bins: int = 40,
    weights: Mapping[str, np.ndarray] | None = None,
    labels: Mapping[str, str] | None = None,
    fixed: Mapping[str, float] | None = None,
) -> Comparison:
    """Compare the observables of several samples with those of a reference sample.

    Args:
        samples: ``{sample name: {observable: [N_s] values}}``, e.g. the output of
            :func:`latentsym.physics.observables.observables` per sample. Observables
            present in every sample are compared.
        reference: name of the reference sample (binning and W1 scale come from it).
        bins: number of equal bins between the reference's 0.5 and 99.5 percentiles.
        weights: optional ``{sample name: [N_s] event weights}`` (1 when absent).
        labels: optional ``{observable: axis title}`` kept for figures.
        fixed: optional ``{observable: scale}`` of observables the reference holds fixed
            (e.g. :func:`fixed_observables`): reported by ``std / scale``, no chi2, no
            ``w1_rel``.

    Returns:
        A :class:`Comparison` (see the module docstring for the definitions).

    Raises:
        ConfigError: unknown reference, fewer than two samples, bad ``bins``, weights of
            the wrong length, or a sample with fewer than 2 finite values.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> c = compare_observables({"input": {"x": rng.normal(size=5000)},
        ...                          "other": {"x": rng.normal(size=5000)}})
        >>> 0.5 < c.result("x", "other").chi2_ndf < 2.0
        True
    """
    if reference not in samples:
        raise ConfigError(
            f"reference sample {reference!r} is not among the samples; allowed: "
            f"{', '.join(samples)}"
        )
    if len(samples) < 2:
        raise ConfigError("give at least two samples to compare (the reference and another)")
    if not isinstance(bins, int) or bins < 2:
        raise ConfigError(f"bins={bins!r}: give an integer number of bins >= 2")
    names = [reference] + [s for s in samples if s != reference]
    keys = [k for k in samples[reference] if all(k in samples[s] for s in names)]
    skipped = sorted({k for s in names for k in samples[s]} - set(keys))
    if not keys:
        raise ConfigError(
            f"the samples {', '.join(names)} share no observable; keys of {reference!r}: "
            f"{', '.join(samples[reference]) or '(none)'}"
        )
    wts = {s: _weights(samples[s][keys[0]], (weights or {}).get(s), s) for s in names}
    results: list[ObservableComparison] = []
    histograms: dict[str, dict[str, hist.Hist]] = {}
    dropped: dict[str, dict[str, int]] = {}
    for key in keys:
        vals, ws = {}, {}
        for s in names:
            v = np.asarray(samples[s][key], dtype=np.float64).ravel()
            if v.shape != wts[s].shape:
                raise ConfigError(
                    f"sample {s!r}: observable {key!r} has {v.size} values but "
                    f"{wts[s].size} events; all observables of a sample need one value per event"
                )
            ok = np.isfinite(v)
            if (~ok).any():
                dropped.setdefault(s, {})[key] = int((~ok).sum())
            if ok.sum() < 2:
                raise ConfigError(
                    f"sample {s!r}: observable {key!r} has {int(ok.sum())} finite values; "
                    "need at least 2"
                )
            vals[s], ws[s] = v[ok], wts[s][ok]
        edges = _edges(vals[reference], np.concatenate(list(vals.values())), bins)
        histograms[key] = {s: _histogram(vals[s], ws[s], edges, key) for s in names}
        scale = _std(vals[reference], ws[reference])
        if scale <= _CONSTANT_RTOL * max(abs(float(np.mean(vals[reference]))), 1.0):
            scale = float(np.std(np.concatenate(list(vals.values()))))
        fixed_scale = (fixed or {}).get(key)
        for s in names[1:]:
            if fixed_scale is not None:
                results.append(
                    ObservableComparison(
                        observable=key,
                        sample=s,
                        chi2=float("nan"),
                        ndf=0,
                        w1=weighted_w1(vals[reference], vals[s], ws[reference], ws[s]),
                        w1_rel=float("nan"),
                        n_reference=int(vals[reference].size),
                        n_sample=int(vals[s].size),
                        fixed=True,
                        spread_reference=_std(vals[reference], ws[reference]) / fixed_scale,
                        spread_sample=_std(vals[s], ws[s]) / fixed_scale,
                    )
                )
                continue
            chi2, ndf = _chi2(histograms[key][reference], histograms[key][s])
            w1 = weighted_w1(vals[reference], vals[s], ws[reference], ws[s])
            results.append(
                ObservableComparison(
                    observable=key,
                    sample=s,
                    chi2=chi2,
                    ndf=ndf,
                    w1=w1,
                    w1_rel=w1 / scale if scale > 0 else float("nan"),
                    n_reference=int(vals[reference].size),
                    n_sample=int(vals[s].size),
                )
            )
    return Comparison(
        reference=reference,
        samples=names,
        observables=keys,
        results=results,
        histograms=histograms,
        labels={k: (labels or {}).get(k, k) for k in keys},
        n_dropped=dropped,
        skipped=skipped,
        fixed={k: float(v) for k, v in (fixed or {}).items() if k in keys},
    )


def _weights(first: np.ndarray, w: np.ndarray | None, name: str) -> np.ndarray:
    n = np.asarray(first).size
    if w is None:
        return np.ones(n)
    out = np.asarray(w, dtype=np.float64).ravel()
    if out.shape != (n,):
        raise ConfigError(f"weights of sample {name!r} have {out.size} entries; expected {n}")
    if not np.all(np.isfinite(out)):
        raise ConfigError(f"weights of sample {name!r} contain NaN or inf")
    return out


def weighted_w1(
    u: np.ndarray,
    v: np.ndarray,
    u_weights: np.ndarray | None = None,
    v_weights: np.ndarray | None = None,
) -> float:
    """Wasserstein-1 distance ``integral |F_u(x) - F_v(x)| dx`` of two weighted samples.

    ``F`` is the weighted empirical CDF ``sum_{x_i <= x} w_i / sum_i w_i``; weights may be
    negative (NLO samples), each sample's total must be positive. For positive weights
    this is ``scipy.stats.wasserstein_distance``.

    Example:
        >>> float(weighted_w1(np.array([0.0, 1.0]), np.array([1.0, 2.0])))
        1.0
        >>> signed = np.array([1.0, -1.0, 1.0])
        >>> float(weighted_w1(np.array([0.0, 1.0, 2.0]), np.array([0.0]), signed))
        1.0
    """
    u, v = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
    wu = np.ones(u.size) if u_weights is None else np.asarray(u_weights, dtype=np.float64)
    wv = np.ones(v.size) if v_weights is None else np.asarray(v_weights, dtype=np.float64)
    if wu.sum() <= 0 or wv.sum() <= 0:
        raise ConfigError(
            f"weighted_w1: the total weights are {wu.sum():.6g} and {wv.sum():.6g}; both must "
            "be positive"
        )
    su, sv = np.argsort(u), np.argsort(v)
    allv = np.sort(np.concatenate([u, v]))
    deltas = np.diff(allv)
    cu = np.concatenate([[0.0], np.cumsum(wu[su])]) / wu.sum()
    cv = np.concatenate([[0.0], np.cumsum(wv[sv])]) / wv.sum()
    fu = cu[np.searchsorted(u[su], allv[:-1], side="right")]
    fv = cv[np.searchsorted(v[sv], allv[:-1], side="right")]
    return float(np.sum(np.abs(fu - fv) * deltas))


_FIXED_RTOL = 1e-5
"""An observable whose input spread is below this fraction of its scale is fixed."""


def fixed_observables(obs: Mapping[str, np.ndarray]) -> dict[str, float]:
    """The observables a sample holds fixed, with the scale of their relative spread.

    Scale: the mean ``m_sys`` for masses and transverse momenta (keys ``m_...`` and
    ``pt_...``, GeV), 1 for rapidities and angles. An observable is fixed when
    ``std / scale <= 1e-5`` over the sample: at fixed sqrt(s) the system's ``m_sys``,
    ``y_sys`` and ``pt_sys``; in LO pp collisions ``pt_sys``.

    Example:
        >>> obs = {"m_sys": np.full(4, 91.2), "pt_sys": np.zeros(4),
        ...        "pt_mu+": np.array([10.0, 20.0, 30.0, 40.0])}
        >>> fixed_observables(obs)
        {'m_sys': 91.2, 'pt_sys': 91.2}
    """
    m = np.asarray(obs.get("m_sys", np.ones(1)), dtype=np.float64)
    mass = float(np.mean(m[np.isfinite(m)])) if np.isfinite(m).any() else 1.0
    out = {}
    for key, values in obs.items():
        v = np.asarray(values, dtype=np.float64)
        v = v[np.isfinite(v)]
        scale = mass if key.startswith(("m_", "pt_")) else 1.0
        if v.size > 1 and scale > 0 and float(np.std(v)) <= _FIXED_RTOL * scale:
            out[key] = scale
    return out


def weight_summary(weights: np.ndarray) -> dict[str, float | int]:
    """How many events have negative weights and what share of the cross-section they carry.

    Returns:
        ``n_events``, ``n_negative``, ``negative_fraction`` (of the events),
        ``negative_share`` (``sum_{w<0} |w| / sum |w|``: the share of the summed
        |weight|, i.e. of the generated cross-section before cancellation), ``sum_w``
        (the net cross-section in the file's weight units) and ``sum_abs_w``.

    Example:
        >>> weight_summary(np.array([1.0, 1.0, -1.0, 1.0]))["negative_share"]
        0.25
    """
    w = np.asarray(weights, dtype=np.float64)
    neg = w < 0
    total = float(np.abs(w).sum())
    return {
        "n_events": int(w.size),
        "n_negative": int(neg.sum()),
        "negative_fraction": float(neg.mean()) if w.size else 0.0,
        "negative_share": float(-w[neg].sum() / total) if total > 0 else 0.0,
        "sum_w": float(w.sum()),
        "sum_abs_w": total,
    }


def _std(v: np.ndarray, w: np.ndarray) -> float:
    mean = np.average(v, weights=w)
    return float(np.sqrt(max(np.average((v - mean) ** 2, weights=w), 0.0)))


def without_transverse_momentum(obs: Mapping[str, np.ndarray]) -> bool:
    """True when no event of ``obs`` (observables with ``pt_sys`` and ``m_sys``) has
    transverse momentum: ``pt_sys <= 1e-6 m_sys`` everywhere (e+e- at fixed sqrt(s)).

    There the Collins-Soper x axis of the input is the lab x axis, while a generated event
    with a decoded ``pt_sys`` of 1e-3 m would take the direction of that pt: the rest frame
    with the lab axes (``frame="rest"``) is continuous there and equal on the input.

    Example:
        >>> without_transverse_momentum({"pt_sys": np.zeros(3), "m_sys": np.ones(3)})
        True
    """
    return bool(np.all(np.asarray(obs["pt_sys"]) <= _ZERO_QT * np.asarray(obs["m_sys"])))


GENERATE_FROM = ("prior", "gaussian", "flow", "posterior")
"""Latent distributions that generated events can be drawn from: ``"prior"`` (the
model's prior: its learned flow when it has one, else N(0, 1)), ``"gaussian"`` (N(0, 1)),
``"flow"`` (the learned prior, refused without one) and ``"posterior"`` (the aggregate
posterior of given events)."""


def check_generate_from(generate_from: str) -> None:
    """Refuse a ``generate_from`` that is not one of :data:`GENERATE_FROM`."""
    if generate_from not in GENERATE_FROM:
        raise ConfigError(
            f"generate_from={generate_from!r}: choose one of {', '.join(GENERATE_FROM)}"
        )


def generated_final_state_p4(
    trained: Any,
    n: int,
    *,
    seed: int = 0,
    generate_from: str = "prior",
    features: Any = None,
    project: Callable[[np.ndarray], np.ndarray] | None = None,
) -> ak.Array:
    """Events generated by a trained model, as an ``[n, n_particles]`` Momentum4D array.

    Latent points are drawn from the model's prior (``trained.sample``: the learned flow
    prior when the model has one, else N(0, 1) in every direction), from N(0, 1) with
    ``generate_from="gaussian"``, from the flow with ``"flow"``, or with ``"posterior"``
    from the aggregate posterior of ``features`` (``trained.sample_posterior``), decoded to
    physical features and mapped back to (E, px, py, pz) with the model's feature
    representation.

    Args:
        trained: a :class:`~latentsym.models.checkpoint.TrainedModel`.
        n: number of events to generate.
        seed: seed of the latent draw.
        generate_from: one of :data:`GENERATE_FROM`.
        features: the events whose posterior is drawn (a FeatureMatrix of the model's
            representation); needed for ``"posterior"`` only.
        project: optional map of the ``[n, F]`` decoded features before they become
            momenta, e.g. ``lambda f: project_to_constraints(f, fm, ledger)``
            (:func:`~latentsym.analysis.checks.project_to_constraints`) to put generated
            events on the exact constraints; the project's figures are measured without.

    Returns:
        ``[n, F / 4]`` vector Momentum4D array (GeV), ready for
        :func:`~latentsym.physics.observables.observables`.

    Example:
        A short fit (a fraction of a second) on the e+e- -> mu+ mu- toy at 91.2 GeV; the
        decoded muon pairs already come out near the Z mass:

        >>> from latentsym.features import build
        >>> from latentsym.models import Architecture, FitOptions, TrainConfig, fit
        >>> from latentsym.physics.observables import observables
        >>> from latentsym.toys import MUON_PAIR, ee_to_mumu
        >>> fm = build(ee_to_mumu(1000, seed=0), particle_names=MUON_PAIR)
        >>> trained = fit(
        ...     fm,
        ...     arch=Architecture(latent_dim=4, hidden=(32, 32)),
        ...     train=TrainConfig(epochs=10, batch_size=128),
        ...     options=FitOptions(progress=False),
        ... )
        >>> p4 = generated_final_state_p4(trained, 1000, seed=1)
        >>> len(p4), ak.num(p4, axis=1).tolist()[:3]
        (1000, [2, 2, 2])
        >>> obs = observables(p4, MUON_PAIR)
        >>> bool(abs(np.median(obs["m_sys"]) - 91.2) < 1.0)
        True
        >>> post = generated_final_state_p4(trained, 500, generate_from="posterior", features=fm)
        >>> len(post)
        500
    """
    if not isinstance(n, int) or n < 1:
        raise ConfigError(f"n={n!r}: give a positive number of events to generate")
    check_generate_from(generate_from)
    if generate_from == "posterior":
        if features is None:
            raise ConfigError(
                "generate_from='posterior' draws from the posterior of given events; pass "
                "features=build(final_state, trained.representation)"
            )
        feats = trained.sample_posterior(features, n, seed=seed)
    else:
        prior = {"prior": "auto", "gaussian": "gaussian", "flow": "flow"}[generate_from]
        feats = trained.sample(n, seed=seed, prior=prior)
    if project is not None:
        feats = project(np.asarray(feats, dtype=np.float64))
    rep = get_representation(trained.representation)
    mom = rep.to_momenta(torch.from_numpy(np.asarray(feats, dtype=np.float64))).numpy()
    return vector.zip(
        {
            "px": ak.from_numpy(mom[..., 1]),
            "py": ak.from_numpy(mom[..., 2]),
            "pz": ak.from_numpy(mom[..., 3]),
            "E": ak.from_numpy(mom[..., 0]),
        }
    )


def inclusive_observables(
    events: ak.Array, *, invisible: Sequence[int] = INVISIBLE_PIDS
) -> dict[str, np.ndarray]:
    """Observables of all outgoing (status 1) particles, for samples of differing topology.

    Used where exclusive final states cannot be matched, e.g. generator-level particles
    against reconstructed particles (which carry no PDG id). Particles whose ``|pid|`` is
    in ``invisible`` are left out.

    Args:
        events: events in the latentsym schema.
        invisible: PDG ids (absolute values) to leave out (default: neutrinos).

    Returns:
        ``{key: [N] float64}`` with ``n_visible`` (multiplicity), ``e_vis`` (sum of
        energies, GeV), ``m_vis`` (mass of the summed four-momentum, GeV), ``pt_vis``
        (its transverse momentum, GeV), ``pz_vis`` (its longitudinal momentum, GeV) and
        ``sum_pt`` (scalar sum of the particles' pT, GeV).

    Example:
        The four outgoing particles of e+e- -> Z H -> mu+ mu- b b~ at 250 GeV:

        >>> from latentsym.io import read_events
        >>> events, _ = read_events(SAMPLES / "ee_ZH_250GeV.lhe.gz", max_events=500)
        >>> obs = inclusive_observables(events)
        >>> list(obs)
        ['n_visible', 'e_vis', 'm_vis', 'pt_vis', 'pz_vis', 'sum_pt']
        >>> obs["n_visible"][:3], round(float(obs["m_vis"].mean()), 1)
        (array([4., 4., 4.]), 250.0)
    """
    parts = events.particles
    keep = parts.status == 1
    for pid in invisible:
        keep = keep & (abs(parts.pid) != abs(int(pid)))
    p4 = parts.p4[keep]
    px = ak.to_numpy(ak.sum(p4.px, axis=1)).astype(np.float64)
    py = ak.to_numpy(ak.sum(p4.py, axis=1)).astype(np.float64)
    pz = ak.to_numpy(ak.sum(p4.pz, axis=1)).astype(np.float64)
    e = ak.to_numpy(ak.sum(p4.E, axis=1)).astype(np.float64)
    m2 = e**2 - px**2 - py**2 - pz**2
    return {
        "n_visible": ak.to_numpy(ak.num(p4, axis=1)).astype(np.float64),
        "e_vis": e,
        "m_vis": np.sign(m2) * np.sqrt(np.abs(m2)),
        "pt_vis": np.hypot(px, py),
        "pz_vis": pz,
        "sum_pt": ak.to_numpy(ak.sum(p4.pt, axis=1)).astype(np.float64),
    }
