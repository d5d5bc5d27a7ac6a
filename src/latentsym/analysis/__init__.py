"""Reading a trained latent space: relevance, intrinsic dimension and the verdict."""

from latentsym.analysis.benchmark import DATASETS, BenchmarkRow, format_table, run_benchmark
from latentsym.analysis.intrinsic import DimensionEstimate, mle_levina_bickel, pca_dim, twonn
from latentsym.analysis.relevance import DirectionRelevance, Relevance, relevance
from latentsym.analysis.scan import (
    LatentReading,
    Plateau,
    ScanPoint,
    ScanResult,
    beta_scan,
    find_plateau,
    read_latents,
)
from latentsym.analysis.verdict import ID_TOLERANCE, Verdict, verdict

__all__ = [
    "DATASETS",
    "ID_TOLERANCE",
    "BenchmarkRow",
    "DimensionEstimate",
    "DirectionRelevance",
    "LatentReading",
    "Plateau",
    "Relevance",
    "ScanPoint",
    "ScanResult",
    "Verdict",
    "beta_scan",
    "find_plateau",
    "format_table",
    "mle_levina_bickel",
    "pca_dim",
    "read_latents",
    "relevance",
    "run_benchmark",
    "twonn",
    "verdict",
]
