"""Reading a trained latent space: relevance, intrinsic dimension and the verdict."""

from latentsym.analysis.intrinsic import DimensionEstimate, mle_levina_bickel, pca_dim, twonn
from latentsym.analysis.relevance import DirectionRelevance, Relevance, relevance
from latentsym.analysis.verdict import ID_TOLERANCE, Verdict, verdict

__all__ = [
    "ID_TOLERANCE",
    "DimensionEstimate",
    "DirectionRelevance",
    "Relevance",
    "Verdict",
    "mle_levina_bickel",
    "pca_dim",
    "relevance",
    "twonn",
    "verdict",
]
