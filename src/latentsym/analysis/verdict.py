"""The verdict: does the latent space agree with the dimensions the data's constraints imply?

Consistent when ``d <= k <= r`` (k relevant directions, manifold dimension d, linear rank
r: a Gaussian-prior VAE may need more directions than d to embed a curved manifold, e.g.
3 for a sphere, but no more than the data's linear rank) and the intrinsic dimension of
the encoded means along the relevant directions is within ``ID_TOLERANCE`` (0.5) of d.

With approximate constraints (narrow resonances) the dimension the latents can show
depends on the scale where it is read: ``d`` where the resonances' thickness is resolved,
``d_approx`` where it is not. Given a :class:`~latentsym.analysis.resolution.Resolution`
(the dimension predicted at the read scale from the constraints' thickness alone, never
from the measured latent dimension) the verdict compares with that prediction instead:
``floor(predicted) <= k <= r`` and the latent dimension within 0.5 of the prediction, and
it names every approximate constraint as resolved or unresolved. Samples whose
constraints are all exact have ``predicted = d``: their verdict is unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from latentsym.analysis.resolution import Resolution
from latentsym.errors import ConfigError

__all__ = ["ID_TOLERANCE", "Verdict", "verdict"]

ID_TOLERANCE = 0.5
"""Largest allowed ``|latent intrinsic dimension - d|``."""


@dataclass(frozen=True)
class Verdict:
    """Outcome of :func:`verdict`.

    Attributes:
        consistent: True when ``d <= k <= r`` and the latent ID is within 0.5 of d.
        text: one or more sentences saying what holds or which part fails.
    """

    consistent: bool
    text: str

    def to_dict(self) -> dict[str, object]:
        """JSON-safe dictionary ``{"consistent": ..., "text": ...}``."""
        return {"consistent": self.consistent, "text": self.text}


def _check_count(name: str, value: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"verdict: {name} must be a non-negative integer, got {value!r}")


def verdict(
    k: int,
    d: int,
    r: int,
    latent_id: float | None,
    d_approx: int | None = None,
    *,
    resolution: Resolution | None = None,
    latent_dim: int | None = None,
) -> Verdict:
    """Compare the relevant count and latent intrinsic dimension with the ledger.

    Args:
        k: number of relevant latent directions.
        d: expected manifold dimension (exact constraints).
        r: linear rank of the features.
        latent_id: intrinsic dimension of the encoded means along the relevant directions
            (None or NaN when it could not be measured, e.g. k = 0).
        d_approx: manifold dimension counting approximate constraints too, if any.
        resolution: the dimension predicted at the scale where ``latent_id`` was read
            (:func:`latentsym.analysis.resolution.resolution`); used when its shells (the
            approximate constraints, and broken pair masses thinner than the model's
            resolution) close at least one direction.
        latent_dim: the model's number of latent directions L; when every one of them is
            relevant and the reading fails, the text says the latent space may be too
            small.

    Returns:
        A :class:`Verdict`.

    Example:
        >>> verdict(3, 2, 3, 2.1).consistent
        True
        >>> print(verdict(1, 2, 3, 1.0).text)  # doctest: +ELLIPSIS
        Too few relevant directions: k = 1 < d = 2; the model misses degrees of freedom...
    """
    for name, value in (("k", k), ("d", d), ("r", r), ("d_approx", d_approx)):
        _check_count(name, value)
    _check_count("latent_dim", latent_dim)
    if resolution is not None and resolution.d_approx != resolution.d:
        out = _against_prediction(k, d, r, latent_id, resolution)
    else:
        out = _against_d(k, d, r, latent_id, d_approx)
    if not out.consistent and latent_dim is not None and k == latent_dim:
        return Verdict(False, out.text + _FULL.format(L=latent_dim))
    return out


_FULL = (
    " All {L} latent directions are relevant: the latent space may be too small to embed "
    "the manifold without folding it (a product of spheres needs more directions than its "
    "dimension); widen it (--latent-dim)."
)


def _too_many(k: int, r: int) -> str:
    return (
        f"Too many relevant directions: k = {k} > r = {r}, more than the features' linear "
        "rank; the extra directions encode noise (raise beta or check the feature scaling)."
    )


def _against_d(k: int, d: int, r: int, latent_id: float | None, d_approx: int | None) -> Verdict:
    """The verdict against d (and the hints about d_approx)."""
    has_approx = d_approx is not None and d_approx != d
    problems: list[str] = []
    if k < d:
        text = (
            f"Too few relevant directions: k = {k} < d = {d}; the model misses degrees of "
            "freedom (lower beta, train longer or widen the latent space)."
        )
        if has_approx and k == d_approx:
            text += (
                f" k matches d_approx = {d_approx}: the directions along approximate "
                "constraints (e.g. a narrow resonance's mass) are weak or closed."
            )
        problems.append(text)
    elif k > r:
        problems.append(_too_many(k, r))
    if latent_id is None or not math.isfinite(latent_id):
        problems.append("The latent intrinsic dimension could not be measured (k < 1?).")
    elif abs(latent_id - d) > ID_TOLERANCE:
        text = (
            f"Latent intrinsic dimension {latent_id:.2f} is off d = {d} by "
            f"{abs(latent_id - d):.2f} (> {ID_TOLERANCE})."
        )
        if has_approx and abs(latent_id - d_approx) <= ID_TOLERANCE:  # type: ignore[operator]
            text += (
                f" It matches d_approx = {d_approx}: approximate constraints are treated as "
                "exact by the model."
            )
        problems.append(text)
    if problems:
        return Verdict(False, " ".join(problems))
    id_text = f"{latent_id:.2f}"
    return Verdict(
        True,
        f"Consistent: k = {k} relevant directions lie between d = {d} and r = {r}, and the "
        f"encoded means along them have intrinsic dimension {id_text} (d = {d} +- "
        f"{ID_TOLERANCE}).",
    )


def _against_prediction(
    k: int, d: int, r: int, latent_id: float | None, res: Resolution
) -> Verdict:
    """The verdict against the dimension predicted at the read scale."""
    expected = res.predicted
    low = math.floor(expected + 1e-9)
    where = (
        f"predicted {expected:.2f} at the read scale {res.read_scale:.2g} "
        f"(d = {d}, d_approx = {res.d_approx})"
    )
    problems: list[str] = []
    if k < low:
        problems.append(
            f"Too few relevant directions: k = {k} < {low}, the floor of the dimension "
            f"{where}; the model misses degrees of freedom (lower beta, train longer or "
            "widen the latent space)."
        )
    elif k > r:
        problems.append(_too_many(k, r))
    if latent_id is None or not math.isfinite(latent_id):
        problems.append("The latent intrinsic dimension could not be measured (k < 1?).")
    elif abs(latent_id - expected) > ID_TOLERANCE:
        problems.append(
            f"Latent intrinsic dimension {latent_id:.2f} is off the dimension {where} by "
            f"{abs(latent_id - expected):.2f} (> {ID_TOLERANCE})."
        )
    notes = " ".join(res.sentences())
    if problems:
        return Verdict(False, " ".join(problems) + " " + notes)
    return Verdict(
        True,
        f"Consistent: k = {k} relevant directions lie between {low} and r = {r}, and the "
        f"encoded means along them have intrinsic dimension {latent_id:.2f}, the dimension "
        f"{where} +- {ID_TOLERANCE}. " + notes,
    )
