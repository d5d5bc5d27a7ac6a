"""Reading a trained latent space: relevance, intrinsic dimension and the verdict."""

from latentsym.analysis.benchmark import DATASETS, BenchmarkRow, format_table, run_benchmark
from latentsym.analysis.checks import (
    ConstraintCheck,
    ConstraintResidual,
    TangencyCheck,
    constraint_residuals,
    decoder_tangency,
)
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
from latentsym.analysis.symmetry import (
    FlatnessTest,
    SymmetryCheck,
    Transform,
    boost_z,
    rotate_z,
    rotation_check,
    swap_identical,
    transformation_check,
)
from latentsym.analysis.verdict import ID_TOLERANCE, Verdict, verdict

__all__ = [
    "DATASETS",
    "ID_TOLERANCE",
    "BenchmarkRow",
    "ConstraintCheck",
    "ConstraintResidual",
    "DimensionEstimate",
    "DirectionRelevance",
    "FlatnessTest",
    "LatentReading",
    "Plateau",
    "Relevance",
    "ScanPoint",
    "ScanResult",
    "SymmetryCheck",
    "TangencyCheck",
    "Transform",
    "Verdict",
    "beta_scan",
    "boost_z",
    "constraint_residuals",
    "decoder_tangency",
    "find_plateau",
    "format_table",
    "mle_levina_bickel",
    "pca_dim",
    "read_latents",
    "relevance",
    "rotate_z",
    "rotation_check",
    "run_benchmark",
    "swap_identical",
    "transformation_check",
    "twonn",
    "verdict",
]
