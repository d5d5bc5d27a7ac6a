"""Reading a trained latent space: relevance, intrinsic dimension and the verdict."""

from latentsym.analysis.benchmark import DATASETS, BenchmarkRow, format_table, run_benchmark
from latentsym.analysis.checks import (
    ConstraintCheck,
    ConstraintResidual,
    TangencyCheck,
    constraint_residuals,
    decoder_tangency,
)
from latentsym.analysis.compare import (
    Comparison,
    ObservableComparison,
    compare_files,
    compare_observables,
    generated_final_state_p4,
    inclusive_observables,
)
from latentsym.analysis.intrinsic import DimensionEstimate, mle_levina_bickel, pca_dim, twonn
from latentsym.analysis.naming import Naming, distance_correlation, latent_correlations
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
    parse_transform,
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
    "Comparison",
    "ConstraintCheck",
    "ConstraintResidual",
    "DimensionEstimate",
    "DirectionRelevance",
    "FlatnessTest",
    "LatentReading",
    "Naming",
    "ObservableComparison",
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
    "compare_files",
    "compare_observables",
    "constraint_residuals",
    "decoder_tangency",
    "distance_correlation",
    "find_plateau",
    "format_table",
    "generated_final_state_p4",
    "inclusive_observables",
    "latent_correlations",
    "mle_levina_bickel",
    "parse_transform",
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
