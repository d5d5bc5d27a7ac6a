"""Summary objects: their dictionaries keep the JSON keys, the report renders from them."""

from __future__ import annotations

import math

import numpy as np

from latentsym.analysis.compare import compare_observables
from latentsym.analysis.invariance import (
    InvariantMetrics,
    PlainMetrics,
    ProbePair,
    ProbeResult,
    RotationChange,
)
from latentsym.report import (
    CompareSummary,
    FeatureSummary,
    InvariantInputSummary,
    InvariantModelSummary,
    InvariantSummary,
    OutputsSummary,
    SampleSource,
    TimingSummary,
    render_invariant_report,
)
from latentsym.report.markdown import _fmt


def test_numbers_print_like_their_json() -> None:
    """None and NaN (both null in the JSON) print as a dash; numpy floats like floats."""
    assert _fmt(None) == _fmt(math.nan) == "–"
    assert _fmt(np.float32(0.123456)) == _fmt(0.123456) == "0.123"
    assert _fmt(3) == "3"
    assert _fmt(np.int64(3)) == "3"


def test_compare_summary_keys() -> None:
    rng = np.random.default_rng(0)
    comp = compare_observables(
        {"input": {"x": rng.normal(size=200)}, "truth": {"x": rng.normal(size=200)}}
    )
    bare = CompareSummary(
        input=SampleSource("a.root", {"collections": ["RP"]}),
        model=None,
        generate_from=None,
        truth=SampleSource("a.root", {"collections": ["MC"]}),
        exclusive=None,
        inclusive=comp,
        notes=("inclusive",),
    )
    d = bare.to_dict()
    assert list(d) == [
        "input", "model", "generate_from", "truth", "exclusive", "inclusive", "notes",
    ]  # fmt: skip
    assert d["input"] == {"path": "a.root", "options": {"collections": ["RP"]}}
    assert d["inclusive"]["comparisons"]["truth"]["x"]["ndf"] > 0
    assert bare.comparisons() == {"inclusive": comp}
    full = CompareSummary(
        **{**bare.__dict__, "frame": "rest", "topology": "mu+ mu-", "files": ("c.json",)}
    )
    assert {"frame", "topology", "files"} <= set(full.to_dict())


def _probe(acc: float) -> ProbePair:
    return ProbePair(
        ProbeResult(acc, 0.01, 0.34, "knn", 100, 100),
        ProbeResult(acc, 0.01, 0.34, "logistic", 100, 100),
    )


def test_invariant_report_from_objects() -> None:
    rot = RotationChange(relative_change=1e-9, rms_change=1e-5, spread=1.0)
    summary = InvariantSummary(
        input=InvariantInputSummary(
            paths=("a.lhe", "b.lhe"),
            classes=("a", "b"),
            label_branch=None,
            topologies=("mu+ mu-", "tau+ tau-"),
            n_events_per_class=(100, 100),
            n_train=160,
            n_test=40,
            labelled_fraction=0.5,
            n_labelled=80,
        ),
        features=FeatureSummary("collider", ("pt_p1", "m_p1"), ("GeV", "GeV"), ()),
        model=InvariantModelSummary("invariant-equivariant", 2, 4, (64, 64), 0.1, 3, 3, 0),
        chance_accuracy=0.5,
        invariant=InvariantMetrics(0.99, _probe(1.0), _probe(0.5), rot, rot, 1.0, 0.01),
        plain=PlainMetrics(_probe(0.9), rot, 0.02, epochs_run=3),
        timing=TimingSummary(0.1, 1.0, None),
        outputs=OutputsSummary(figures=("latents.png",)),
    )
    text = render_invariant_report(summary)
    assert "| invariant block | 1 | 1 | 1e-09 |" in text
    assert "| plain VAE, all latents | 0.9 | 0.9 | 1e-09 |" in text
    assert "hidden [64, 64]" in text
    d = summary.to_dict()
    assert d["plain"]["epochs_run"] == 3
    assert d["invariant"]["inv_probe"]["knn"]["method"] == "knn"
    assert d["outputs"] == {"figures": ["latents.png"], "model": "model/"}
    assert d["timing"]["train_events_per_s"] is None
