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

import copy
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from tqdm import tqdm

from latentsym.errors import ConfigError, TrainingError
from latentsym.features.build import FeatureMatrix
from latentsym.features.representations import get_representation
from latentsym.features.scaler import Scaler
from latentsym.models.checkpoint import TrainedModel
from latentsym.models.config import TrainConfig, VAEConfig
from latentsym.models.loss import vae_loss
from latentsym.models.train import _cuda_devices, _device, _threads
from latentsym.models.vae import VAE

__all__ = [
    "MECHANISMS",
    "MechanismLossTerms",
    "MechanismVAE",
    "MechanismVAEConfig",
    "act",
    "fit_mechanism",
    "mechanism_loss",
    "system_rapidity",
]

MECHANISMS = ("azimuthal", "boost-z")
"""Known mechanisms, in the order their latent blocks take."""

_DEFAULTS = TrainConfig()
_MIN_REL_IMPROVEMENT = 1e-4


@dataclass(frozen=True)
class MechanismVAEConfig(VAEConfig):
    """Architecture of :class:`MechanismVAE` plus the settings of its mechanism loss.

    The loss settings live here (not in :class:`TrainConfig`, which the plain VAE shares)
    so that ``config.json`` records everything the model was trained with.

    Attributes:
        n_features, latent_dim, hidden, activation: as :class:`VAEConfig`.
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
        super().__post_init__()
        mech = (self.mechanisms,) if isinstance(self.mechanisms, str) else tuple(self.mechanisms)
        unknown = [m for m in mech if m not in MECHANISMS]
        if not mech or unknown or len(set(mech)) != len(mech):
            raise ConfigError(
                f"mechanisms must be a non-empty set of {list(MECHANISMS)} without repeats; "
                f"got {list(mech)}"
            )
        object.__setattr__(self, "mechanisms", tuple(m for m in MECHANISMS if m in mech))
        if self.latent_dim < self.block_size:
            raise ConfigError(
                f"latent_dim {self.latent_dim} is smaller than the {self.block_size} designated "
                f"latent(s) of mechanisms {list(self.mechanisms)}; raise latent_dim"
            )
        for name in ("equivariance_weight", "invariance_weight", "boost_range"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"{name} must be a number >= 0; got {value!r}")
            object.__setattr__(self, name, float(value))
        if "boost-z" in self.mechanisms and self.boost_range <= 0:
            raise ConfigError(f"boost_range must be > 0 for boost-z; got {self.boost_range}")

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
        model: the model (its config gives the blocks and the weights).
        x: ``[B, F]`` standardised features of the events.
        gx: ``[B, F]`` standardised features of the transformed events.
        beta: KL weight.
        angle: ``[B]`` rotation angles (azimuthal), rad.
        rapidity: ``[B]`` rapidity changes (boost-z).
        weights: optional ``[B]`` event weights.

    Returns:
        :class:`MechanismLossTerms`.
    """
    cfg = model.config
    out, out_g = model(x), model(gx)
    t0, t1 = vae_loss(out, x, beta, weights), vae_loss(out_g, gx, beta, weights)
    eq, inv = _mechanism_errors(cfg, out.mu, out_g.mu, angle, rapidity)
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
    mechanisms: Sequence[str] = ("azimuthal",),
    latent_dim: int = 6,
    hidden: Sequence[int] = (128, 128),
    activation: str = "silu",
    equivariance_weight: float = 100.0,
    invariance_weight: float = 10.0,
    boost_range: float = 1.0,
    beta: float = _DEFAULTS.beta,
    epochs: int = _DEFAULTS.epochs,
    batch_size: int = _DEFAULTS.batch_size,
    lr: float = _DEFAULTS.lr,
    val_fraction: float = _DEFAULTS.val_fraction,
    patience: int = _DEFAULTS.patience,
    kl_warmup_epochs: int = _DEFAULTS.kl_warmup_epochs,
    weighted: bool = False,
    seed: int = 0,
    progress: bool = True,
    device: str = "cpu",
    num_threads: int | None = None,
) -> TrainedModel:
    """Train a :class:`MechanismVAE` on pairs ``(x, g x)`` of a feature matrix's events.

    Same recipe as :func:`latentsym.models.fit` (Adam, seeded split and shuffles, the scaler
    fitted on the training events, early stopping on the validation loss with the best
    weights restored), with the loss of :func:`mechanism_loss`. The pairs are drawn afresh
    every epoch from ``features.momenta``; the validation pairs are drawn once.

    Args:
        features: a :class:`~latentsym.features.FeatureMatrix` (it carries the momenta and
            the representation the transformed events are rebuilt with).
        mechanisms: a non-empty subset of :data:`MECHANISMS`.
        latent_dim, hidden, activation: the architecture.
        equivariance_weight, invariance_weight, boost_range: the mechanism loss
            (:class:`MechanismVAEConfig`).
        beta, epochs, batch_size, lr, val_fraction, patience, kl_warmup_epochs, weighted,
            seed: as :func:`latentsym.models.fit` (:class:`TrainConfig`).
        progress: show a tqdm bar (hidden when stderr is not a terminal).
        device: torch device.
        num_threads: torch CPU threads during training (restored afterwards); default:
            leave torch's setting. On a busy machine 1 is often much faster than 2.

    Returns:
        A :class:`TrainedModel` (``model`` a :class:`MechanismVAE`, in eval mode) that
        saves with ``.save(folder)`` and loads with ``load_model``. Its history rows add
        ``train_equivariance``, ``train_invariance``, ``val_equivariance`` and
        ``val_invariance`` to those of ``fit``.

    Raises:
        ConfigError: bad settings; boost-z on events whose system rapidity does not vary
            (e.g. e+e- at fixed sqrt(s): the boosted events would lie far outside the data).
        TrainingError: the loss became NaN or infinite.

    Example:
        >>> trained = fit_mechanism(build(fs), mechanisms=("azimuthal",))  # doctest: +SKIP
        >>> mu, _ = trained.encode(build(fs))  # doctest: +SKIP
        >>> angle = np.arctan2(mu[:, 1], mu[:, 0])  # doctest: +SKIP
    """
    if not isinstance(features, FeatureMatrix):
        raise ConfigError(
            "fit_mechanism needs a FeatureMatrix (features.build(final_state)): the "
            f"transformed events are rebuilt from its momenta; got {type(features).__name__}"
        )
    model_cfg = MechanismVAEConfig(
        features.n_features,
        latent_dim,
        tuple(hidden),
        activation,
        tuple(mechanisms),
        equivariance_weight,
        invariance_weight,
        boost_range,
    )
    cfg = TrainConfig(
        beta=beta,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        val_fraction=val_fraction,
        patience=patience,
        kl_warmup_epochs=kl_warmup_epochs,
        weighted=weighted,
        seed=seed,
    )
    dev = _device(device)
    if "boost-z" in model_cfg.mechanisms:
        _check_boostable(features)
    with _threads(num_threads), torch.random.fork_rng(devices=_cuda_devices(dev)):
        return _MechanismRun(features, model_cfg, cfg, dev, progress).train()


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


class _MechanismRun:
    """One training run of :func:`fit_mechanism`."""

    def __init__(
        self,
        features: FeatureMatrix,
        model_cfg: MechanismVAEConfig,
        cfg: TrainConfig,
        dev: torch.device,
        progress: bool,
    ) -> None:
        self.features, self.model_cfg, self.cfg, self.dev = features, model_cfg, cfg, dev
        self.progress = progress
        self.rep = get_representation(features.representation)
        n = features.n_events
        n_val = 0 if cfg.val_fraction == 0 else min(max(1, round(cfg.val_fraction * n)), n - 1)
        if n - n_val < 1 or (cfg.val_fraction > 0 and n < 2):
            raise ConfigError(f"{n} event(s) cannot be split into training and validation")
        weight = np.asarray(features.weight, dtype=np.float64)
        if cfg.weighted and np.any(weight <= 0):
            raise ConfigError(
                f"weighted=True needs positive event weights; {int(np.sum(weight <= 0))} "
                "event(s) have weight <= 0. Train unweighted or drop them."
            )
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed)).numpy()
        val_idx, train_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        self.scaler = Scaler.fit(
            features.values[train_idx], names=features.names, constant=features.constant
        )
        p = torch.as_tensor(features.momenta, dtype=torch.float64)
        self.p_train, self.p_val = p[train_idx], p[val_idx]
        w = torch.as_tensor(weight, dtype=torch.float32)
        self.w_train = w[train_idx].to(dev) if cfg.weighted else None
        self.w_val = w[val_idx].to(dev) if cfg.weighted else None
        self.data_info = {"n_events": n, "n_train": len(train_idx), "n_val": n_val}
        torch.manual_seed(cfg.seed)
        self.model = MechanismVAE.from_config(model_cfg).to(dev)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        gen = torch.Generator().manual_seed(cfg.seed + 7919)
        self.val_pairs = self._pairs(self.p_val, gen)
        self.history: list[dict[str, Any]] = []

    def _x(self, momenta: torch.Tensor) -> torch.Tensor:
        x = self.scaler.transform(self.rep.from_momenta(momenta))
        return x.to(dtype=torch.float32, device=self.dev)

    def _pairs(self, momenta: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
        """``(x, g x, angle, rapidity)`` for these events, with g drawn from ``gen``."""
        n, mech = len(momenta), self.model_cfg.mechanisms
        angle = torch.rand(n, generator=gen, dtype=torch.float64) * 2 * math.pi
        rap = (
            2 * torch.rand(n, generator=gen, dtype=torch.float64) - 1
        ) * self.model_cfg.boost_range
        angle = angle if "azimuthal" in mech else torch.zeros(n, dtype=torch.float64)
        rap = rap if "boost-z" in mech else torch.zeros(n, dtype=torch.float64)
        moved = act(momenta, angle, rap)
        f32 = torch.float32
        return self._x(momenta), self._x(moved), angle.to(self.dev, f32), rap.to(self.dev, f32)

    def train(self) -> TrainedModel:
        cfg = self.cfg
        best_state = copy.deepcopy(self.model.state_dict())
        best_val, best_epoch, bad, seconds = math.inf, 0, 0, 0.0
        bar = tqdm(
            total=cfg.epochs,
            desc="training mechanism VAE",
            unit="epoch",
            disable=None if self.progress else True,
        )
        with bar:
            for epoch in range(cfg.epochs):
                start = time.perf_counter()
                row = self._epoch(epoch)
                row["seconds"] = time.perf_counter() - start
                seconds += row["seconds"]
                self.history.append(row)
                bar.update()
                val = row["val_total"]
                if val is None:
                    best_state, best_epoch = copy.deepcopy(self.model.state_dict()), epoch + 1
                    continue
                if epoch < cfg.kl_warmup_epochs:
                    continue
                if val < best_val - _MIN_REL_IMPROVEMENT * abs(best_val) or best_epoch == 0:
                    best_val, best_epoch, bad = val, epoch + 1, 0
                    best_state = copy.deepcopy(self.model.state_dict())
                else:
                    bad += 1
                    if bad >= cfg.patience:
                        break
        self.model.load_state_dict(best_state)
        self.model.eval()
        runs = len(self.history)
        return TrainedModel(
            model=self.model,
            config=self.model_cfg,
            train_config=cfg,
            scaler=self.scaler,
            feature_names=self.features.names,
            feature_units=self.features.units,
            representation=self.features.representation,
            history=self.history,
            epochs_run=runs,
            best_epoch=best_epoch,
            train_seconds=seconds,
            events_per_second=len(self.p_train) * runs / seconds if seconds else 0.0,
            data=self.data_info,
        )

    def _epoch(self, epoch: int) -> dict[str, Any]:
        cfg = self.cfg
        beta = cfg.beta_at(epoch)
        seed = (cfg.seed * 1_000_003 + epoch + 1) % (2**63)
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        n = len(self.p_train)
        order = torch.randperm(n, generator=gen)
        self.model.train()
        sums = torch.zeros(5, dtype=torch.float64)
        kl_dim = torch.zeros(self.model_cfg.latent_dim, dtype=torch.float64)
        for b in range(0, n, cfg.batch_size):
            idx = order[b : b + cfg.batch_size]
            x, gx, angle, rap = self._pairs(self.p_train[idx], gen)
            wb = self.w_train[idx.to(self.dev)] if self.w_train is not None else None
            t = mechanism_loss(self.model, x, gx, beta, angle, rap, wb)
            if not torch.isfinite(t.total):
                raise self._diverged(float(t.total), epoch, f"batch {b // cfg.batch_size + 1}")
            self.opt.zero_grad(set_to_none=True)
            t.total.backward()
            self.opt.step()
            frac = len(idx) / n
            parts = torch.stack([t.total, t.recon, t.kl, t.equivariance, t.invariance])
            sums += frac * parts.detach().double().cpu()
            kl_dim += frac * t.kl_per_dim.detach().double().cpu()
        row: dict[str, Any] = {"epoch": epoch + 1, "beta": beta}
        row.update({f"train_{k}": v for k, v in zip(_KEYS, sums.tolist(), strict=True)})
        row.update({f"val_{k}": None for k in _KEYS})
        row["kl_per_dim"] = kl_dim.tolist()
        if len(self.p_val):
            with torch.no_grad():  # train mode: a fixed reparameterisation draw, as fit()
                torch.manual_seed(seed + 1)
                x, gx, angle, rap = self.val_pairs
                t = mechanism_loss(self.model.train(), x, gx, beta, angle, rap, self.w_val)
            if not torch.isfinite(t.total):
                raise self._diverged(float(t.total), epoch, "validation")
            vals = [float(v) for v in (t.total, t.recon, t.kl, t.equivariance, t.invariance)]
            row.update({f"val_{k}": v for k, v in zip(_KEYS, vals, strict=True)})
            row["kl_per_dim"] = t.kl_per_dim.double().tolist()
        return row

    def _diverged(self, value: float, epoch: int, where: str) -> TrainingError:
        return TrainingError(
            f"mechanism VAE training diverged: the loss became {value} in epoch {epoch + 1}, "
            f"{where} (lr={self.cfg.lr:g}, beta={self.cfg.beta_at(epoch):g}, equivariance_"
            f"weight={self.model_cfg.equivariance_weight:g}). Try a lower learning rate (e.g. "
            f"lr={self.cfg.lr / 10:g}) or smaller mechanism weights."
        )


_KEYS = ("total", "recon", "kl", "equivariance", "invariance")
