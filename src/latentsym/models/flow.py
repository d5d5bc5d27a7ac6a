r"""A learned prior on the latents: a normalising flow fitted after the VAE (two-stage VAE).

A VAE with a Gaussian prior carries a sphere of events as a shell in its latents; N(0, 1)
draws inside the shell decode off the sphere. The cure is to learn where the encoded data
actually sit: after the VAE is trained, a neural spline flow (``zuko.flows.NSF``) is fitted
to the latent points of the training events in the relevant directions, and generation
draws from it instead of N(0, 1).

Two sources of latent points are offered (:data:`FLOW_SOURCES`):

- ``"means"`` (the default): the encoded means ``mu(x)``, each batch jittered by a tenth
  of the posterior width (:attr:`FlowConfig.noise`). The decoder maps them onto the
  constraint surface as well as it reconstructs the data (decoded/null 0.022 for the muon
  masses of e+e- -> mu+ mu-), so a flow that reproduces their distribution generates
  on-shell events: measured 0.023 for the flow's samples.
- ``"posterior"``: the aggregate posterior, one fresh draw ``mu + sigma * eps`` per event
  and epoch. Those are the points the decoder was trained on, but each is displaced from
  its mean by the posterior width, and the decoder turns that width into an error on the
  constraints about as large as its noise ``sqrt(beta / 2)`` (0.22 standardised units at
  beta = 0.1): decoded/null about 0.08 for the muon masses, a bound a flow fitted there
  cannot beat (measured: 0.092 for a flow fitted there, against 0.081 for the posterior
  draws themselves).

The latent points are standardised (their mean and standard deviation on the training
events, kept as buffers) before the flow sees them. The directions outside ``dims`` are
set to their mean over the training events when sampling. The flow trains through the one
training loop (:func:`latentsym.models.trainer.train`, :class:`FlowObjective`): seeded,
split into training and validation events, early stopping on the validation negative
log-likelihood, checkpoints in ``<model folder>/prior`` and a progress bar. Event weights
(``train.weighted``) weight the log-likelihood per event, as for the VAE.

Example:
    >>> from latentsym.models import Architecture, FitOptions, TrainConfig, fit
    >>> from latentsym.toys import circle
    >>> vae = fit(circle(400, seed=0), arch=Architecture(latent_dim=2),
    ...           train=TrainConfig(epochs=2), options=FitOptions(progress=False))
    >>> with_prior = fit_prior(vae, circle(400, seed=0), dims=(0, 1),
    ...                        train=TrainConfig(epochs=2), options=FitOptions(progress=False))
    >>> with_prior.flow.config.dims, with_prior.sample(5).shape
    ((0, 1), (5, 2))
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
import zuko
from torch import nn

from latentsym.errors import ConfigError
from latentsym.features.build import FeatureMatrix
from latentsym.features.scaler import Scaler
from latentsym.models.checkpoint import TrainedModel
from latentsym.models.config import FitOptions, JsonConfig, TrainConfig, positive_int
from latentsym.models.distributed import all_reduce_sum
from latentsym.models.trainer import Batch, Objective, Split, TrainData, epoch_seed
from latentsym.models.trainer import train as train_loop

__all__ = [
    "FLOW_SOURCES",
    "FLOW_TRAIN",
    "PRIOR_DIR",
    "FlowConfig",
    "FlowObjective",
    "FlowPrior",
    "fit_prior",
    "weights_digest",
]

FLOW_SOURCES = ("means", "posterior")
"""Latent points a flow prior can be fitted to: encoded means or aggregate posterior."""

PRIOR_DIR = "prior"
"""Subfolder of a model folder that holds its learned prior (a model folder itself)."""

FLOW_TRAIN = TrainConfig(epochs=300, batch_size=1024, lr=1e-3, patience=20, beta=1.0)
"""Default training settings of the flow (``beta`` is not used by the flow's loss)."""

_EVAL_BATCH = 65536


@dataclass(frozen=True)
class FlowConfig(JsonConfig):
    """Architecture of :class:`FlowPrior`.

    Attributes:
        latent_dim: latent directions L of the VAE.
        dims: the directions the flow models (the relevant ones), distinct, in 0..L-1.
        source: ``"means"`` or ``"posterior"`` (:data:`FLOW_SOURCES`).
        transforms: spline coupling transforms of the NSF.
        bins: spline bins per transform.
        hidden: hidden widths of each transform's network.
        noise: source ``"means"`` only: every batch draws ``mu + noise * sigma * eps``, a
            fraction of the posterior width (0: the bare means; 1 would be the posterior).
            A little noise bounds the log-likelihood of a latent shell of zero thickness
            and lets the fit converge in fewer epochs: on e+e- -> mu+ mu- noise 0 stopped
            improving only after 390 epochs (cos theta* chi2/ndf 1.24), 0.1 after 78
            (1.05, muon-mass decoded/null 0.023), 0.3 after 82 (1.85, 0.030).
    """

    latent_dim: int
    dims: tuple[int, ...]
    source: str = "means"
    transforms: int = 4
    bins: int = 8
    hidden: tuple[int, ...] = (64, 64)
    noise: float = 0.1

    def __post_init__(self) -> None:
        positive_int("latent_dim", self.latent_dim)
        object.__setattr__(self, "dims", tuple(int(d) for d in self.dims))
        object.__setattr__(self, "hidden", tuple(self.hidden))
        if not self.dims or len(set(self.dims)) != len(self.dims):
            raise ConfigError(f"dims {list(self.dims)}: give distinct latent directions (>= 1)")
        if any(not 0 <= d < self.latent_dim for d in self.dims):
            raise ConfigError(f"dims {list(self.dims)} must lie in 0..{self.latent_dim - 1}")
        if self.source not in FLOW_SOURCES:
            raise ConfigError(f"source={self.source!r}: choose one of {', '.join(FLOW_SOURCES)}")
        for name in ("transforms", "bins"):
            positive_int(name, getattr(self, name))
        for h in self.hidden:
            positive_int("every hidden width", h)
        if not (isinstance(self.noise, int | float) and 0 <= self.noise <= 1):
            raise ConfigError(f"noise must be a number in [0, 1]; got {self.noise!r}")
        object.__setattr__(self, "noise", float(self.noise))

    @property
    def n_features(self) -> int:
        """Dimension of the modelled latent points (``len(dims)``)."""
        return len(self.dims)


class FlowPrior(nn.Module):
    """A neural spline flow over ``dims`` of the latent space, on standardised points.

    Args:
        config: the :class:`FlowConfig`.

    Example:
        >>> prior = FlowPrior(FlowConfig(latent_dim=4, dims=(0, 2)))
        >>> prior.sample_latent(3, seed=0).shape, prior.log_prob(torch.zeros(2, 2)).shape
        ((3, 4), torch.Size([2]))
    """

    model_type = "flow-prior"
    config_class = FlowConfig
    shift: torch.Tensor
    scale: torch.Tensor
    fill: torch.Tensor

    def __init__(self, config: FlowConfig) -> None:
        super().__init__()
        self.config = config
        k = config.n_features
        self.flow = zuko.flows.NSF(
            k, bins=config.bins, transforms=config.transforms, hidden_features=config.hidden
        )
        self.register_buffer("shift", torch.zeros(k))
        self.register_buffer("scale", torch.ones(k))
        self.register_buffer("fill", torch.zeros(config.latent_dim))

    @classmethod
    def from_config(cls, config: FlowConfig) -> FlowPrior:
        """A freshly initialised flow."""
        return cls(config)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """``[B, k]`` latent points (the ``dims``) -> ``[B]`` log density."""
        u = (z - self.shift) / self.scale
        out: torch.Tensor = self.flow().log_prob(u) - torch.log(self.scale).sum()
        return out

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """The log density of ``[B, k]`` points (what the training step calls)."""
        return self.log_prob(z)

    def sample_latent(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` full latent points: ``dims`` from the flow, the rest at their mean.

        Returns:
            float64 ``[n, L]``; the same ``seed`` gives the same points, and the caller's
            random state is left alone.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"n={n!r}: give a positive number of latent points")
        dev = self.fill.device
        self.eval()
        with torch.random.fork_rng(devices=[] if dev.type != "cuda" else [dev]), torch.no_grad():
            torch.manual_seed(seed)
            u = self.flow().sample((n,))
        z = self.fill.detach().double().cpu().numpy()[None].repeat(n, axis=0)
        z[:, list(self.config.dims)] = (u * self.scale + self.shift).double().cpu().numpy()
        return z


def weights_digest(model: nn.Module) -> str:
    """SHA-256 of a module's weights (names and bytes), to tie a prior to its VAE."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(np.ascontiguousarray(t.detach().cpu().numpy()).tobytes())
    return h.hexdigest()


class _FlowStep(nn.Module):
    """Log density of the given points: what DDP wraps."""

    def __init__(self, prior: FlowPrior) -> None:
        super().__init__()
        self.prior = prior

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.prior.log_prob(z)


class FlowObjective(Objective):
    """The flow prior's part of the one training loop: the (weighted) negative
    log-likelihood of the latent points.

    The training data are ``[N, k]`` encoded means (source ``"means"``) or ``[N, 2k]``
    means and posterior widths (source ``"posterior"``: every batch draws fresh points
    ``mu + sigma * eps``; validation uses one fixed draw).

    Args:
        config: the flow's :class:`FlowConfig`.
        fill: ``[L]`` values of the directions outside ``dims`` when sampling.
        vae_digest: :func:`weights_digest` of the VAE whose latents are modelled.
    """

    description = "flow prior"
    terms = ("total",)
    signed_weights = True

    def __init__(self, config: FlowConfig, fill: np.ndarray, vae_digest: str) -> None:
        self.config: FlowConfig = config
        self.fill = np.asarray(fill, dtype=np.float64)
        self.vae_digest = vae_digest

    @property
    def latent_dim(self) -> int:
        """0: the flow has no KL terms per latent direction."""
        return 0

    def prepare(self, data: TrainData, split: Split, scaler: Scaler, dev: torch.device,
                cfg: TrainConfig) -> None:  # fmt: skip
        """Training and validation tensors, the standardisation and the validation draw."""
        train_idx, val_idx = split
        self.dev, k = dev, self.config.n_features
        values = torch.as_tensor(data.values, dtype=torch.float32)
        self.v_train, self.v_val = values[train_idx].to(dev), values[val_idx].to(dev)
        mu = data.values[train_idx, :k].astype(np.float64)
        self.shift = mu.mean(axis=0)
        self.scale = np.maximum(mu.std(axis=0), 1e-6)
        w = torch.as_tensor(data.weight, dtype=torch.float32)
        self.w_val = w[val_idx].to(dev) if cfg.weighted else None
        gen = torch.Generator().manual_seed(epoch_seed(cfg.seed, -1))
        self.eps_val = torch.randn(len(val_idx), k, generator=gen).to(dev)

    def build_model(self) -> nn.Module:
        """A fresh :class:`FlowPrior` with the standardisation and fill values set."""
        prior = FlowPrior(self.config)
        prior.shift.copy_(torch.as_tensor(self.shift))
        prior.scale.copy_(torch.as_tensor(self.scale))
        prior.fill.copy_(torch.as_tensor(self.fill))
        return prior

    def step_module(self, model: nn.Module) -> nn.Module:
        """The log density of given points."""
        return _FlowStep(model)  # type: ignore[arg-type]

    def draw(self, idx: torch.Tensor, gen: torch.Generator) -> Batch:
        """``(idx, eps)``: one ``[k]`` posterior draw per event (unused for ``"means"``)."""
        eps = torch.randn(len(idx), self.config.n_features, generator=gen).to(self.dev)
        return idx, eps

    def _points(self, v: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        k = self.config.n_features
        if v.shape[1] == k:
            return v
        return v[:, :k] + v[:, k:] * eps * self._lambda

    @property
    def _lambda(self) -> float:
        return 1.0 if self.config.source == "posterior" else self.config.noise

    def step(
        self,
        module: nn.Module,
        batch: Batch,
        beta: float,
        weights: torch.Tensor | None,
    ) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...] | None]:
        """Negative log-likelihood of one batch (weighted: ``-sum w log q / B``)."""
        idx, eps = batch
        logp = module(self._points(self.v_train[idx], eps))
        if not len(idx):
            return (logp,), None
        nll = -logp.mean() if weights is None else -(weights * logp).sum() / len(idx)
        return (logp,), (nll, torch.zeros(0, device=self.dev))

    def validate(self, model: nn.Module, beta: float, shard: tuple[int, int]) -> dict[str, Any]:
        """Mean (or weighted mean) negative log-likelihood of the validation points."""
        prior: FlowPrior = model  # type: ignore[assignment]
        prior.eval()
        total = torch.zeros(1, dtype=torch.float64, device=self.dev)
        (lo, hi), n = shard, len(self.v_val)
        w = self.w_val / self.w_val.sum() if self.w_val is not None else None
        with torch.no_grad():
            for i in range(lo, hi, _EVAL_BATCH):
                j = min(i + _EVAL_BATCH, hi)
                logp = prior.log_prob(self._points(self.v_val[i:j], self.eps_val[i:j])).double()
                total += -logp.sum() / n if w is None else -(w[i:j].double() * logp).sum()
        all_reduce_sum(total)
        return {"val_total": float(total[0]), "kl_per_dim": []}

    def extra_data(self) -> dict[str, Any]:
        """The digest of the VAE the prior belongs to."""
        return {"vae_weights_sha256": self.vae_digest}

    def diverged_hint(self) -> str:
        """Flows diverge on too thin latent shells; fewer transforms or posterior points."""
        return ", fewer transforms, or source='posterior'"


def fit_prior(
    trained: TrainedModel,
    features: FeatureMatrix | np.ndarray,
    *,
    dims: Sequence[int],
    source: str = "means",
    config: FlowConfig | None = None,
    train: TrainConfig | None = None,
    options: FitOptions | None = None,
) -> TrainedModel:
    """Fit a flow prior to a trained VAE's latents; returns the model with it attached.

    Args:
        trained: the trained VAE (left unchanged).
        features: the events the VAE was trained on (physical units), whose latent points
            the flow learns; event weights come from a FeatureMatrix.
        dims: the latent directions to model, e.g. ``relevance(mu, sigma=sigma)
            .relevant_dims``; the others are fixed at their mean when sampling.
        source: ``"means"`` (default) or ``"posterior"`` (module docstring).
        config: the flow architecture (its ``latent_dim``, ``dims`` and ``source`` are
            set from the arguments); default 4 transforms, 8 bins, hidden (64, 64), noise 0.1.
        train: training settings (default :data:`FLOW_TRAIN` with the VAE's seed and
            ``weighted``).
        options: how the fit runs; ``out_dir`` is the prior's checkpoint folder (use
            ``<model folder>/prior`` so that :func:`~latentsym.models.load_model` finds it).

    Returns:
        A copy of ``trained`` whose :attr:`~TrainedModel.prior` is the fitted flow's
        record: :meth:`TrainedModel.sample` then draws from the flow.

    Raises:
        ConfigError: bad dims or source, or the errors of :func:`latentsym.models.fit`.
    """
    cfg = replace(
        config or FlowConfig(trained.latent_dim, tuple(dims)),
        latent_dim=trained.latent_dim,
        dims=tuple(int(d) for d in dims),
        source=source,
    )
    vae_train = trained.train_config
    tcfg = train or FLOW_TRAIN.replace(seed=vae_train.seed, weighted=vae_train.weighted)
    if isinstance(features, FeatureMatrix):
        values, weight, index = features.values, features.weight, features.event_index
    else:
        values = np.asarray(features)
        weight, index = np.ones(len(values)), np.arange(len(values))
    mu, sigma = trained.encode(values)
    sel = list(cfg.dims)
    bare = source == "means" and cfg.noise == 0
    points = mu[:, sel] if bare else np.concatenate([mu[:, sel], sigma[:, sel]], 1)
    names = tuple(f"z{d}" for d in sel) + (() if bare else tuple(f"sigma{d}" for d in sel))
    data = TrainData(
        values=points.astype(np.float32),
        names=names,
        units=("1",) * len(names),
        representation="latent",
        constant=(),
        weight=np.asarray(weight, dtype=np.float64),
        index=np.asarray(index),
    )
    fill = mu.mean(axis=0)
    fill[sel] = 0.0
    objective = FlowObjective(cfg, fill, weights_digest(trained.model))
    record = train_loop(objective, data, tcfg, options or FitOptions())
    return replace(trained, prior=record)
