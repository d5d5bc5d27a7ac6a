"""Reports of the jobs: summary objects -> ``summary.json``, ``report.md`` and figures."""

from latentsym.report.markdown import render_invariant_report, render_report
from latentsym.report.outputs import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    prepare_output_dir,
    write_latents_root,
)
from latentsym.report.summary import (
    CompareSummary,
    FeatureSummary,
    InputSummary,
    InvariantInputSummary,
    InvariantModelSummary,
    InvariantSummary,
    ModelSummary,
    OutputsSummary,
    PhysicsChecks,
    RunSummary,
    SampleSource,
    TimingSummary,
)

__all__ = [
    "CompareSummary",
    "FeatureSummary",
    "InputSummary",
    "InvariantInputSummary",
    "InvariantModelSummary",
    "InvariantSummary",
    "ModelSummary",
    "OutputsSummary",
    "PhysicsChecks",
    "RunSummary",
    "SampleSource",
    "TimingSummary",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "prepare_output_dir",
    "render_invariant_report",
    "render_report",
    "write_latents_root",
]
