"""The jobs: end-to-end runs that read event files, call the library and write outputs.

Only this layer (and the command line above it) opens files and writes results; every
job takes one options object (:mod:`latentsym.jobs.options`) and returns a summary object
(:mod:`latentsym.report.summary`) whose ``to_dict()`` is the JSON it wrote.
"""

from latentsym.jobs.benchmark import load_known_answer, run_benchmark
from latentsym.jobs.compare import compare_files
from latentsym.jobs.dask_read import DaskEvents, connect, read_select_build
from latentsym.jobs.invariant import ClassData, class_features, run_invariant
from latentsym.jobs.options import (
    BenchmarkOptions,
    CompareOptions,
    InvariantRunOptions,
    ReadOptions,
    RunOptions,
    ScanOptions,
)
from latentsym.jobs.run import FIGURES, physics_checks, read_many, run_analysis
from latentsym.jobs.scan import run_scan
from latentsym.jobs.symmetries import SymmetriesOptions, SymmetriesResult, run_symmetries

__all__ = [
    "FIGURES",
    "BenchmarkOptions",
    "ClassData",
    "CompareOptions",
    "DaskEvents",
    "InvariantRunOptions",
    "ReadOptions",
    "RunOptions",
    "ScanOptions",
    "SymmetriesOptions",
    "SymmetriesResult",
    "class_features",
    "compare_files",
    "connect",
    "load_known_answer",
    "physics_checks",
    "read_many",
    "read_select_build",
    "run_analysis",
    "run_benchmark",
    "run_invariant",
    "run_scan",
    "run_symmetries",
]
