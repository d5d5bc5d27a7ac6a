r"""A VAE whose latents are identified through known mechanisms (Ahuja et al., 2110.15796).

We can act on an event ourselves: rotate every particle by an angle ``alpha`` about the beam
axis (``"azimuthal"``) or boost it along the beam by a rapidity ``dy`` (``"boost-z"``).
:class:`MechanismVAE` is the VAE of :mod:`latentsym.models.vae` trained on pairs
``(x, g x)`` with ``g`` drawn at random and known, and a loss that makes a *designated*
latent block transform by the matching action while the other latents stay invariant.

Latent layout (fixed by the configuration; the order given does not matter):

- ``"azimuthal"``: dims ``(0, 1)`` rotate by the same angle,
  ``mu_a(g x) = R(alpha) mu_a(x)``, so ``atan2(mu_1, mu_0)`` is an azimuth up to a constant;
- ``"boost-z"``: the next dim shifts by the rapidity change,
  ``mu_b(g x) = mu_b(x) + dy`` (the scale is fixed by the mechanism: one latent unit is one
  unit of rapidity);
- every other dim (the "rest") is invariant: ``mu_r(g x) = mu_r(x)``.

Both mechanisms together act as ``g = rotation(alpha) o boost(dy)`` (they commute). The
loss per pair, averaged over events (weighted means with event weights):

``0.5 [vae(x) + vae(g x)] + w_eq [|R(alpha) mu_a(x) - mu_a(g x)|^2 + (mu_b(g x) - mu_b(x)
- dy)^2] + w_inv |mu_r(g x) - mu_r(x)|^2``

with ``vae = recon + beta * KL`` in the convention of :mod:`latentsym.models.loss`.
Default weights ``w_eq = 100``, ``w_inv = 10`` (beta = 0.1). Why ``w_eq`` is large: for the
boost the KL term pulls the shift coordinate towards 0 against the fixed scale. With
``mu_b = s y`` the two balance at ``s = 1 / (1 + 3 beta Var(y) / (2 w_eq boost_range^2))``:
0.93 for ``w_eq = 10`` and 0.99 for 100 on the pp sample (Var(y_sys) = 5.1; measured slopes
0.94 and 0.994). The rotation has no such bias (the block's radius is free). A larger
``w_inv`` (100) pushes weakly used latents of the rest to collapse and costs
reconstruction (pp, boost-z: validation recon 0.25 instead of 0.17).

``alpha`` is uniform in [0, 2 pi) and ``dy`` uniform in ``[-boost_range, boost_range]``,
drawn per pair. The transformed member is built the exact way: momenta rotated or boosted
in float64, then the features of the same representation and the same scaler.

Example:
    >>> model = MechanismVAE(8, 6, mechanisms=("azimuthal",))
    >>> model.config.azimuthal_dims, model.config.rest_dims
    ((0, 1), (2, 3, 4, 5))
    >>> out = model.eval()(torch.zeros(4, 8))
    >>> out.mu.shape
    torch.Size([4, 6])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from latentsym.errors import ConfigError
from latentsym.features.build import FeatureMatrix
from latentsym.features.representations import get_representation
from latentsym.features.scaler import Scaler
from latentsym.models.checkpoint import TrainedModel
from latentsym.models.config import Architecture, FitOptions, JsonConfig, TrainConfig, VAEConfig
from latentsym.models.distributed import all_reduce_sum
from latentsym.models.loss import vae_loss
from latentsym.models.trainer import (
    Batch,
    Objective,
    Split,
    TrainData,
    as_train_data,
    epoch_seed,
)
from latentsym.models.trainer import train as train_loop
from latentsym.models.vae import VAE, VAEOutput

__all__ = [
    "MECHANISMS",
    "MechanismLossTerms",
    "MechanismObjective",
    "MechanismSpec",
    "MechanismVAE",
    "MechanismVAEConfig",
    "act",
    "fit_mechanism",
    "mechanism_loss",
    "system_rapidity",
]

MECHANISMS = ("azimuthal", "boost-z")
"""Known mechanisms, in the order their latent blocks take."""


@dataclass(frozen=True)
class MechanismSpec(JsonConfig):
    """The mechanisms a :class:`MechanismVAE` is trained with, and the weights of its loss.

    Attributes:
        mechanisms: a non-empty subset of :data:`MECHANISMS`, stored in that order.
        equivariance_weight: weight ``w_eq`` of the designated-block terms.
        invariance_weight: weight ``w_inv`` of the invariance of the other latents.
        boost_range: ``dy`` is drawn uniform in ``[-boost_range, boost_range]``.
    """

    mechanisms: tuple[str, ...] = ("azimuthal",)
    equivariance_weight: float = 100.0
    invariance_weight: float = 10.0
    boost_range: float = 1.0

    def __post_init__(self) -> None:
        mech = (self.mechanisms,) if isinstance(self.mechanisms, str) else tuple(self.mechanisms)
        unknown = [m for m in mech if m not in MECHANISMS]
        if not mech or unknown or len(set(mech)) != len(mech):
            raise ConfigError(
                f"mechanisms must be a non-empty set of {list(MECHANISMS)} without repeats; "
                f"got {list(mech)}"
            )
        object.__setattr__(self, "mechanisms", tuple(m for m in MECHANISMS if m in mech))
        for name in ("equivariance_weight", "invariance_weight", "boost_range"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"{name} must be a number >= 0; got {value!r}")
            object.__setattr__(self, name, float(value))
        if "boost-z" in self.mechanisms and self.boost_range <= 0:
            raise ConfigError(f"boost_range must be > 0 for boost-z; got {self.boost_range}")

    def for_architecture(self, config: VAEConfig) -> MechanismVAEConfig:
        """The :class:`MechanismVAEConfig` of this spec on the network ``config`` (checked)."""
        spec = {f.name: getattr(self, f.name) for f in fields(MechanismSpec)}
        return MechanismVAEConfig(**{**config.to_dict(), **spec})


@dataclass(frozen=True)
class MechanismVAEConfig(MechanismSpec, VAEConfig):
    """Architecture of :class:`MechanismVAE` plus the settings of its mechanism loss.

    The fields of :class:`VAEConfig` (``n_features, latent_dim, hidden, activation``)
    followed by those of :class:`MechanismSpec`. The loss settings live here (not in
    :class:`TrainConfig`, which the plain VAE shares) so that ``config.json`` records
    everything the model was trained with.
    """

    def __post_init__(self) -> None:
        VAEConfig.__post_init__(self)
        MechanismSpec.__post_init__(self)
        if self.latent_dim < self.block_size:
            raise ConfigError(
                f"latent_dim {self.latent_dim} is smaller than the {self.block_size} designated "
                f"latent(s) of mechanisms {list(self.mechanisms)}; raise latent_dim"
            )

    @property
    def block_size(self) -> int:
        """Number of designated latents (2 for azimuthal, 1 for boost-z)."""
        return 2 * ("azimuthal" in self.mechanisms) + ("boost-z" in self.mechanisms)

    @property
    def azimuthal_dims(self) -> tuple[int, ...]:
        """The two latents that rotate with the event, or ``()``."""
        return (0, 1) if "azimuthal" in self.mechanisms else ()

    @property
    def boost_dim(self) -> int | None:
        """The latent that shifts with the rapidity, or None."""
        return len(self.azimuthal_dims) if "boost-z" in self.mechanisms else None

    @property
    def rest_dims(self) -> tuple[int, ...]:
        """The latents that must stay invariant."""
        return tuple(range(self.block_size, self.latent_dim))


class MechanismVAE(VAE):
    """The MLP VAE of :class:`~latentsym.models.VAE` with a designated latent block.

    The network is the plain VAE's; what differs is the meaning of the first
    ``config.block_size`` latents, given by the loss (:func:`mechanism_loss`).

    Args:
        n_features, latent_dim, hidden, activation: as :class:`~latentsym.models.VAE`.
        mechanisms, equivariance_weight, invariance_weight, boost_range: see
            :class:`MechanismVAEConfig`.

    Raises:
        ConfigError: bad sizes, unknown mechanisms, too few latents for the block.
    """

    model_type = "mechanism-vae"
    config_class = MechanismVAEConfig

    def __init__(
        self,
        n_features: int,
        latent_dim: int,
        hidden: tuple[int, ...] = (128, 128),
        activation: str = "silu",
        mechanisms: Sequence[str] = ("azimuthal",),
        equivariance_weight: float = 100.0,
        invariance_weight: float = 10.0,
        boost_range: float = 1.0,
    ) -> None:
        cfg = MechanismVAEConfig(
            n_features,
            latent_dim,
            tuple(hidden),
            activation,
            tuple(mechanisms),
            equivariance_weight,
            invariance_weight,
            boost_range,
        )
        super().__init__(n_features, latent_dim, hidden, activation)
        self.config: MechanismVAEConfig = cfg

    @classmethod
    def from_config(cls, config: VAEConfig) -> MechanismVAE:
        """A freshly initialised model with this configuration."""
        if not isinstance(config, MechanismVAEConfig):
            raise ConfigError(f"MechanismVAE needs a MechanismVAEConfig; got {type(config)}")
        c = config
        return cls(
            c.n_features,
            c.latent_dim,
            c.hidden,
            c.activation,
            c.mechanisms,
            c.equivariance_weight,
            c.invariance_weight,
            c.boost_range,
        )


def act(
    momenta: torch.Tensor | np.ndarray,
    angle: torch.Tensor | np.ndarray | None = None,
    rapidity: torch.Tensor | np.ndarray | None = None,
) -> torch.Tensor:
    """Apply the mechanisms: rotate about z by ``angle``, then boost along z by ``rapidity``.

    Args:
        momenta: ``[N, n, 4]`` (E, px, py, pz) in GeV.
        angle: ``[N]`` rotation angles (rad, counter-clockwise seen from +z), or None.
        rapidity: ``[N]`` rapidity changes of the longitudinal boost, or None.

    Returns:
        ``[N, n, 4]`` transformed momenta (float64 for numpy input, else the input dtype).
        The same as ``p4.rotateZ(angle).boostZ(beta=tanh(rapidity))`` of ``vector``.

    Example:
        >>> p = torch.tensor([[[5.0, 3.0, 0.0, 4.0]]], dtype=torch.float64)
        >>> quarter_turn = torch.tensor([math.pi / 2], dtype=torch.float64)
        >>> act(p, angle=quarter_turn).round(decimals=12).tolist()
        [[[5.0, 0.0, 3.0, 4.0]]]
    """
    p = torch.as_tensor(momenta)
    if isinstance(momenta, np.ndarray) or not p.is_floating_point():
        p = p.double()
    e, px, py, pz = p.unbind(-1)
    if angle is not None:
        a = torch.as_tensor(angle, dtype=p.dtype, device=p.device)[:, None]
        c, s = torch.cos(a), torch.sin(a)
        px, py = c * px - s * py, s * px + c * py
    if rapidity is not None:
        y = torch.as_tensor(rapidity, dtype=p.dtype, device=p.device)[:, None]
        ch, sh = torch.cosh(y), torch.sinh(y)
        e, pz = ch * e + sh * pz, sh * e + ch * pz
    return torch.stack([e, px, py, pz], dim=-1)


class MechanismLossTerms(NamedTuple):
    """Terms of :func:`mechanism_loss`, each averaged over pairs (scalars).

    Attributes:
        total: the full loss.
        recon, kl: the VAE terms, averaged over the two members of each pair.
        equivariance: designated-block error (rotation plus shift), unweighted.
        invariance: squared change of the other latents, unweighted.
        kl_per_dim: ``[L]`` KL per latent, averaged over both members.
    """

    total: torch.Tensor
    recon: torch.Tensor
    kl: torch.Tensor
    equivariance: torch.Tensor
    invariance: torch.Tensor
    kl_per_dim: torch.Tensor


def _mean(values: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    return values.mean() if weights is None else (weights * values).sum() / weights.sum()


def _mechanism_errors(
    cfg: MechanismVAEConfig,
    mu: torch.Tensor,
    mu_g: torch.Tensor,
    angle: torch.Tensor | None,
    rapidity: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-event squared equivariance and invariance errors, each ``[B]``."""
    eq = torch.zeros(len(mu), dtype=mu.dtype, device=mu.device)
    if cfg.azimuthal_dims:
        if angle is None:
            raise ConfigError("the azimuthal mechanism needs the rotation angle of every pair")
        c, s = torch.cos(angle), torch.sin(angle)
        a0, a1 = mu[:, 0], mu[:, 1]
        eq = eq + (c * a0 - s * a1 - mu_g[:, 0]) ** 2 + (s * a0 + c * a1 - mu_g[:, 1]) ** 2
    if cfg.boost_dim is not None:
        if rapidity is None:
            raise ConfigError("the boost-z mechanism needs the rapidity change of every pair")
        b = cfg.boost_dim
        eq = eq + (mu_g[:, b] - mu[:, b] - rapidity) ** 2
    r = list(cfg.rest_dims)
    inv = ((mu_g[:, r] - mu[:, r]) ** 2).sum(-1)
    return eq, inv


def mechanism_loss(
    model: MechanismVAE,
    x: torch.Tensor,
    gx: torch.Tensor,
    beta: float,
    angle: torch.Tensor | None = None,
    rapidity: torch.Tensor | None = None,
    weights: torch.Tensor | None = None,
) -> MechanismLossTerms:
    """The loss of the module docstring on a batch of pairs.

    Args:
        model: the model (its config gives the blocks and the weights; its mode decides
            sampling).
        x: ``[B, F]`` standardised features of the events.
        gx: ``[B, F]`` standardised features of the transformed events.
        beta: KL weight.
        angle: ``[B]`` rotation angles (azimuthal), rad.
        rapidity: ``[B]`` rapidity changes (boost-z).
        weights: optional ``[B]`` event weights.

    Returns:
        :class:`MechanismLossTerms`.
    """
    return _pair_terms(
        model.config, (model(x), model(gx)), (x, gx), beta, (angle, rapidity), weights
    )


def _pair_terms(
    cfg: MechanismVAEConfig,
    outs: tuple[VAEOutput, VAEOutput],
    xs: tuple[torch.Tensor, torch.Tensor],
    beta: float,
    moves: tuple[torch.Tensor | None, torch.Tensor | None],
    weights: torch.Tensor | None,
) -> MechanismLossTerms:
    """:func:`mechanism_loss` from the two members' outputs."""
    (out, out_g), (x, gx) = outs, xs
    t0, t1 = vae_loss(out, x, beta, weights), vae_loss(out_g, gx, beta, weights)
    eq, inv = _mechanism_errors(cfg, out.mu, out_g.mu, *moves)
    eq_m, inv_m = _mean(eq, weights), _mean(inv, weights)
    total = (
        0.5 * (t0.total + t1.total) + cfg.equivariance_weight * eq_m + cfg.invariance_weight * inv_m
    )
    return MechanismLossTerms(
        total,
        0.5 * (t0.recon + t1.recon),
        0.5 * (t0.kl + t1.kl),
        eq_m,
        inv_m,
        0.5 * (t0.kl_per_dim + t1.kl_per_dim),
    )


def fit_mechanism(
    features: FeatureMatrix,
    *,
    mechanism: MechanismSpec | None = None,
    arch: Architecture | None = None,
    train: TrainConfig | None = None,
    options: FitOptions | None = None,
) -> TrainedModel:
    """Train a :class:`MechanismVAE` on pairs ``(x, g x)`` of a feature matrix's events.

    The one training loop of :func:`latentsym.models.fit` (seeded split and shuffles, the
    scaler fitted on the training events, early stopping on the validation loss with the
    best weights restored, checkpoints and ``resume``, device, DDP under torchrun) with
    the loss of :func:`mechanism_loss`. The transformations of every batch are drawn
    afresh each epoch from the epoch's seed; the validation pairs are drawn once.

    Args:
        features: a :class:`~latentsym.features.FeatureMatrix` (it carries the momenta and
            the representation the transformed events are rebuilt with).
        mechanism: the mechanisms and the loss weights (default :class:`MechanismSpec`:
            azimuthal).
        arch, train, options: as :func:`latentsym.models.fit`.

    Returns:
        A :class:`TrainedModel` (``model`` a :class:`MechanismVAE`, in eval mode). Its
        history rows add ``train_equivariance``, ``train_invariance``,
        ``val_equivariance`` and ``val_invariance`` to those of ``fit``.

    Raises:
        ConfigError: bad settings; boost-z on events whose system rapidity does not vary
            (e.g. e+e- at fixed sqrt(s): the boosted events would lie far outside the data).
        TrainingError: the loss became NaN or infinite.

    Example:
        >>> from latentsym.features import build
        >>> from latentsym.toys import pp_to_mumu
        >>> fm = build(pp_to_mumu(600, seed=0))
        >>> trained = fit_mechanism(fm, train=TrainConfig(epochs=2),
        ...                         options=FitOptions(progress=False))
        >>> mu, _ = trained.encode(fm)
        >>> angle = np.arctan2(mu[:, 1], mu[:, 0])  # the identified azimuth, up to an offset
        >>> angle.shape, trained.model.config.azimuthal_dims
        ((600,), (0, 1))
    """
    if not isinstance(features, FeatureMatrix):
        raise ConfigError(
            "fit_mechanism needs a FeatureMatrix (features.build(final_state)): the "
            f"transformed events are rebuilt from its momenta; got {type(features).__name__}"
        )
    data = as_train_data(features)
    spec = mechanism or MechanismSpec()
    model_cfg = spec.for_architecture((arch or Architecture()).for_features(features.n_features))
    objective = MechanismObjective(model_cfg)
    return train_loop(objective, data, train or TrainConfig(), options or FitOptions())


def system_rapidity(momenta: np.ndarray) -> np.ndarray:
    """``[N]`` rapidity ``0.5 log((E + pz) / (E - pz))`` of the sum of all particles."""
    tot = np.asarray(momenta, dtype=np.float64).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(0.5 * np.log((tot[:, 0] + tot[:, 3]) / (tot[:, 0] - tot[:, 3])))


def _check_boostable(features: FeatureMatrix) -> None:
    y = system_rapidity(features.momenta)
    if not np.all(np.isfinite(y)) or float(np.std(y)) < 1e-6:
        raise ConfigError(
            f"boost-z: the system rapidity of these events does not vary (std "
            f"{float(np.std(y)):.3g}); boosted copies would lie far outside the data (e.g. "
            "e+e- at fixed sqrt(s)). Use --mechanism azimuthal only, or events with a varying "
            "longitudinal boost (pp)."
        )


class _PairStep(nn.Module):
    """Both members of a batch of pairs through the VAE with the noise given (DDP wraps it)."""

    def __init__(self, vae: VAE) -> None:
        super().__init__()
        self.vae = vae

    def forward(
        self, x: torch.Tensor, gx: torch.Tensor, eps: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        out: list[torch.Tensor] = []
        for xx, e in ((x, eps[:, 0]), (gx, eps[:, 1])):
            mu, logvar = self.vae.encode(xx)
            z = mu + torch.exp(0.5 * logvar) * e
            out += [self.vae.decode(z), mu, logvar, z]
        return tuple(out)


def _outputs(flat: Sequence[torch.Tensor]) -> tuple[VAEOutput, VAEOutput]:
    return VAEOutput(*flat[:4]), VAEOutput(*flat[4:])


class MechanismObjective(Objective):
    """The mechanism VAE's part of the loop: pairs ``(x, g x)`` and :func:`mechanism_loss`.

    Per batch the loop draws, for the global batch, the transformation of every event (an
    angle uniform in [0, 2 pi) and a rapidity change uniform in
    ``[-boost_range, boost_range]``, both from the epoch's generator) and the
    reparameterisation noise of both members; each rank rebuilds the features of its
    slice from the momenta, exactly (float64 rotation or boost, then the representation
    and the scaler).

    Args:
        config: the architecture and the mechanism loss.
    """

    description = "mechanism VAE"
    terms = ("total", "recon", "kl", "equivariance", "invariance")

    def __init__(self, config: MechanismVAEConfig) -> None:
        self.config: MechanismVAEConfig = config

    @property
    def latent_dim(self) -> int:
        """Latent directions L."""
        return self.config.latent_dim

    def check(self, data: TrainData, train: TrainConfig) -> None:
        """Refuse data without momenta, and boost-z on a sample whose rapidity is fixed."""
        if data.features is None:
            raise ConfigError("the mechanism VAE needs a FeatureMatrix with momenta")
        if "boost-z" in self.config.mechanisms:
            _check_boostable(data.features)

    def prepare(self, data: TrainData, split: Split, scaler: Scaler, dev: torch.device,
                cfg: TrainConfig) -> None:  # fmt: skip
        """Momenta of both parts, the representation, and the fixed validation pairs."""
        assert data.features is not None  # checked in check()
        train_idx, val_idx = split
        self.dev, self.scaler = dev, scaler
        self.rep = get_representation(data.representation)
        p = torch.as_tensor(data.features.momenta, dtype=torch.float64)
        self.p_train, self.p_val = p[train_idx], p[val_idx]
        w = torch.as_tensor(data.weight, dtype=torch.float32)
        self.w_val = w[val_idx].to(dev) if cfg.weighted else None
        gen = torch.Generator().manual_seed(epoch_seed(cfg.seed, -1))
        angle, rap = self._moves(len(val_idx), gen)
        eps = torch.randn(len(val_idx), 2, self.latent_dim, generator=gen).to(dev)
        self.val_batch = (torch.arange(len(val_idx)), angle, rap, eps)

    def build_model(self) -> nn.Module:
        """A fresh :class:`MechanismVAE`."""
        return MechanismVAE.from_config(self.config)

    def step_module(self, model: nn.Module) -> nn.Module:
        """Both members of the pairs with the noise given."""
        return _PairStep(model)  # type: ignore[arg-type]

    def _moves(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        mech = self.config.mechanisms
        angle = torch.rand(n, generator=gen, dtype=torch.float64) * 2 * math.pi
        rap = (2 * torch.rand(n, generator=gen, dtype=torch.float64) - 1) * self.config.boost_range
        angle = angle if "azimuthal" in mech else torch.zeros(n, dtype=torch.float64)
        rap = rap if "boost-z" in mech else torch.zeros(n, dtype=torch.float64)
        return angle, rap

    def draw(self, idx: torch.Tensor, gen: torch.Generator) -> Batch:
        """``(idx, angle, rapidity, eps)`` of the global batch (eps ``[B, 2, L]``)."""
        angle, rap = self._moves(len(idx), gen)
        eps = torch.randn(len(idx), 2, self.latent_dim, device=self.dev)
        return idx, angle, rap, eps

    def _x(self, momenta: torch.Tensor) -> torch.Tensor:
        x = self.scaler.transform(self.rep.from_momenta(momenta))
        return x.to(dtype=torch.float32, device=self.dev)

    def _terms(
        self, module: nn.Module, p: torch.Tensor, batch: Batch, beta: float,
        weights: torch.Tensor | None,
    ) -> tuple[tuple[torch.Tensor, ...], MechanismLossTerms | None]:  # fmt: skip
        _, angle, rap, eps = batch
        x, gx = self._x(p), self._x(act(p, angle, rap))
        flat = module(x, gx, eps)
        if not len(p):
            return tuple(flat), None
        f32 = torch.float32
        moves = (angle.to(self.dev, f32), rap.to(self.dev, f32))
        return tuple(flat), _pair_terms(self.config, _outputs(flat), (x, gx), beta, moves, weights)

    def step(
        self,
        module: nn.Module,
        batch: Batch,
        beta: float,
        weights: torch.Tensor | None,
    ) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...] | None]:
        """Rebuild the pairs of this slice and compute :func:`mechanism_loss`."""
        flat, terms = self._terms(module, self.p_train[batch[0].cpu()], batch, beta, weights)
        return flat, None if terms is None else tuple(terms)

    def validate(self, model: nn.Module, beta: float, shard: tuple[int, int]) -> dict[str, Any]:
        """The loss of the fixed validation pairs (eval-mode network, fixed noise)."""
        lo, hi = shard
        n = len(self.p_val)
        sums = torch.zeros(len(self.terms) + self.latent_dim, dtype=torch.float64, device=self.dev)
        if hi > lo:
            batch = tuple(t[lo:hi] for t in self.val_batch)
            w = self.w_val[lo:hi] if self.w_val is not None else None
            share = (hi - lo) / n
            if w is not None and self.w_val is not None:
                share = float(w.sum() / self.w_val.sum())
            model.eval()
            with torch.no_grad():
                _, t = self._terms(_PairStep(model), self.p_val[lo:hi], batch, beta, w)  # type: ignore[arg-type]
            assert t is not None
            parts = torch.cat([torch.stack(list(t[:5])), t.kl_per_dim]).double()
            sums += share * parts.to(self.dev)
        all_reduce_sum(sums)
        vals = sums.cpu().tolist()
        row = {f"val_{k}": v for k, v in zip(self.terms, vals, strict=False)}
        row["kl_per_dim"] = vals[len(self.terms) :]
        return row

    def diverged_hint(self) -> str:
        """Smaller mechanism weights help too."""
        w_eq = self.config.equivariance_weight
        return f" or smaller mechanism weights (equivariance_weight={w_eq:g})"
