"""The one training loop of every model: split, seeds, early stopping, checkpoints, DDP.

A model variant brings an :class:`Objective` (how to build its network, draw a batch and
compute its loss and its validation loss); :func:`train` owns everything else, the same
for the plain VAE, the mechanism VAE and the invariant/equivariant VAE:

- **split and scaler**: a seeded permutation holds out ``val_fraction`` of the events;
  the :class:`~latentsym.features.Scaler` is fitted on the training events only;
- **seeds**: the initial weights come from ``torch.manual_seed(seed)``, every epoch's
  shuffle, batch draws (noise, transformations) from a generator and the global RNG both
  seeded with ``epoch_seed(seed, epoch)``; all inside :func:`torch.random.fork_rng`, so
  the caller's random state is left alone. On CPU two fits with the same inputs and
  thread count give bit-identical weights, and a run interrupted after any epoch and
  resumed ends bit-identical to an uninterrupted one;
- **event weights** (``weighted=True``): objectives with ``signed_weights`` (the VAE, the
  flow prior) take signed (NLO) weights, normalised to mean 1 over the training events,
  each batch's weighted sum divided by its number of events; refused where the weighted
  loss is not bounded below (:func:`check_signed_weights`);
- **early stopping**: the validation loss must improve by more than a relative 1e-4
  within ``patience`` epochs; the best weights are restored at the end; KL warm-up epochs
  do not count towards it;
- **NaN guard**: a non-finite loss raises :class:`~latentsym.errors.TrainingError` at the
  end of its epoch, naming the batch (the per-batch losses stay on the device and are
  read back once per epoch, so a batch costs what a bare ``forward / backward / step``
  costs, see ``benchmarks/bench_training.py``);
- **checkpoints and resume**: with ``FitOptions(out_dir=...)`` the model folder and
  ``state.pt`` are written after every epoch; ``resume=True`` continues from them;
- **threads**: the intra-op CPU thread count comes from ``FitOptions(num_threads=...)``,
  an override, or an automatic rule that leaves out the cores other work keeps busy and
  re-checks the load during training (see :mod:`latentsym.models.threads`); the record
  is ``TrainedModel.threads``, and torch's own count is restored at the end;
- **progress**: one epoch bar, in a terminal and in Jupyter (the ``tqdm.auto`` widget
  where ``ipywidgets`` is installed, the text bar otherwise), not in pipes or log files,
  off with ``progress=False`` and whenever the environment variable ``CI`` is set;
- **device and DDP**: under ``torchrun`` (``WORLD_SIZE > 1``) the loop joins the process
  group, wraps the objective's step module in
  :class:`~torch.nn.parallel.DistributedDataParallel` and gives each rank an equal slice
  of every global batch of the same seeded permutation, with the global batch's draws.
  Each rank's loss is weighted by its share of the batch's events (or event weights,
  for objectives without ``signed_weights``), so
  the averaged gradient is the one-process gradient of the global batch (for losses that
  are means over events). Validation is split over the ranks and summed. Only rank 0
  writes ``out_dir`` and shows progress. See :mod:`latentsym.models.distributed`.

Example:
    >>> from latentsym.models import fit
    >>> from latentsym.toys import circle
    >>> trained = fit(circle(500, seed=0), train=TrainConfig(epochs=2),
    ...               options=FitOptions(progress=False))
    >>> trained.epochs_run, trained.latent_dim
    (2, 6)
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import math
import os
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from latentsym.errors import ConfigError, OutputError, SchemaError, TrainingError
from latentsym.features.build import FeatureMatrix
from latentsym.features.scaler import Scaler
from latentsym.models.checkpoint import (
    MODEL_FILES,
    TrainedModel,
    atomic_write,
    read_json,
    write_model_files,
)
from latentsym.models.config import FitOptions, JsonConfig, TrainConfig
from latentsym.models.distributed import (
    DistInfo,
    all_reduce_sum,
    dist_info,
    process_group,
    rank_device,
    shard_bounds,
)
from latentsym.models.threads import ThreadControl, choose_threads

__all__ = [
    "STATE_FILE",
    "Batch",
    "Objective",
    "Split",
    "TrainData",
    "as_train_data",
    "check_signed_weights",
    "epoch_seed",
    "in_jupyter",
    "progress_bar",
    "resolve_device",
    "train",
]

STATE_FILE = "state.pt"
"""Resume state written beside the model files of a training folder."""

_MIN_REL_IMPROVEMENT = 1e-4

Batch = tuple[torch.Tensor, ...]
"""A batch as drawn by :meth:`Objective.draw`: tensors whose first axis runs over events."""
Split = tuple[np.ndarray, np.ndarray]
"""``(train_index, val_index)``: sorted event indices of the two parts."""


@dataclass(frozen=True, eq=False)
class TrainData:
    """The events a model is trained on, in physical units.

    Attributes:
        values: ``[N, F]`` float32 features.
        names, units: the F feature names and units.
        representation: the feature representation's name.
        constant: names of the features constant over the sample.
        weight: ``[N]`` float64 event weights.
        index: ``[N]`` event numbers (for messages).
        features: the :class:`~latentsym.features.FeatureMatrix` these came from, when
            there is one (objectives that rebuild features from momenta need it).
    """

    values: np.ndarray
    names: tuple[str, ...]
    units: tuple[str, ...]
    representation: str
    constant: tuple[str, ...]
    weight: np.ndarray
    index: np.ndarray
    features: FeatureMatrix | None = None

    @property
    def n_events(self) -> int:
        """Number of events N."""
        return len(self.values)


def as_train_data(
    features: FeatureMatrix | np.ndarray, names: Sequence[str] | None = None
) -> TrainData:
    """Check a feature matrix or an ``[N, F]`` array and wrap it for :func:`train`.

    Raises:
        ConfigError: not a FeatureMatrix or a non-empty ``[N, F]`` array, wrong names.
        SchemaError: non-finite features (names the feature and the event).
    """
    if isinstance(features, FeatureMatrix):
        data = TrainData(
            values=features.values,
            names=features.names,
            units=features.units,
            representation=features.representation,
            constant=features.constant,
            weight=np.asarray(features.weight, dtype=np.float64),
            index=features.event_index,
            features=features,
        )
    elif isinstance(features, np.ndarray):
        if features.ndim != 2 or features.shape[0] == 0 or features.shape[1] == 0:
            raise ConfigError(f"features must be a non-empty [N, F] array; got {features.shape}")
        n, f = features.shape
        names_t = tuple(names) if names is not None else tuple(f"f{i}" for i in range(f))
        if len(names_t) != f:
            raise ConfigError(f"{len(names_t)} feature names for {f} features")
        data = TrainData(
            values=features.astype(np.float32),
            names=names_t,
            units=("1",) * f,
            representation="custom",
            constant=(),
            weight=np.ones(n),
            index=np.arange(n),
        )
    else:
        raise ConfigError(
            f"training takes a FeatureMatrix or an [N, F] array; got {type(features).__name__}"
        )
    bad = ~np.isfinite(data.values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise SchemaError(
            f"feature {data.names[col]} of event {data.index[row]} is {data.values[row, col]} "
            f"({int(bad.any(axis=1).sum())} event(s) with non-finite features); remove them "
            "before training"
        )
    return data


class Objective(ABC):
    """What a model variant adds to the loop: its network, its batches and its losses.

    Subclasses set :attr:`description` (the progress bar's "training ..."), :attr:`terms`
    (the names of the scalar loss terms, ``"total"`` first: history rows get
    ``train_<term>`` and ``val_<term>``) and :attr:`val_extra` (further validation
    entries), and implement the abstract methods. The loop calls :meth:`prepare` once
    (after the split and the scaler), then :meth:`build_model` right after
    ``torch.manual_seed(seed)``, then per batch :meth:`draw` and :meth:`step`, and per
    epoch :meth:`validate`.

    Attributes:
        config: the model configuration saved in ``config.json``.
    """

    description: str = "model"
    terms: tuple[str, ...] = ("total", "recon", "kl")
    val_extra: tuple[str, ...] = ()
    signed_weights: bool = False
    """True: :meth:`step` takes signed event weights normalised to mean 1 over the
    training events and divides its weighted sum by the events of the slice (not by the
    slice's weight sum, which may be ~0 or negative); see :func:`check_signed_weights`.
    False: ``weighted=True`` needs positive weights and the step normalises per batch."""
    config: JsonConfig
    dev: torch.device

    @property
    @abstractmethod
    def latent_dim(self) -> int:
        """Latent directions L (the length of ``kl_per_dim``)."""

    def check(self, data: TrainData, train: TrainConfig) -> None:  # noqa: B027
        """Refuse data or settings the objective cannot train on (default: accept)."""

    @abstractmethod
    def prepare(self, data: TrainData, split: Split, scaler: Scaler, dev: torch.device,
                cfg: TrainConfig) -> None:  # fmt: skip
        """Build the tensors: ``split`` is ``(train_index, val_index)``, sorted."""

    @abstractmethod
    def build_model(self) -> nn.Module:
        """A freshly initialised network (the loop has just seeded torch)."""

    def step_module(self, model: nn.Module) -> nn.Module:
        """The module whose forward :meth:`step` calls (what DDP wraps); default: ``model``."""
        return model

    def draw(self, idx: torch.Tensor, gen: torch.Generator) -> Batch:
        """The global batch of the training events ``idx`` (on the device).

        Random draws come from ``gen`` (CPU) or the global torch RNG (seeded per epoch);
        every tensor's first axis runs over ``idx`` so that the loop can slice it per rank.
        Default: ``(idx, eps)`` with one ``[L]`` reparameterisation draw per event, on the
        device :meth:`prepare` stored as ``self.dev``.
        """
        return idx, torch.randn(len(idx), self.latent_dim, device=self.dev)

    @abstractmethod
    def step(
        self,
        module: nn.Module,
        batch: Batch,
        beta: float,
        weights: torch.Tensor | None,
    ) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...] | None]:
        """Forward one (rank's slice of a) batch: ``(outputs, terms)``.

        ``terms`` are the scalar loss terms in the order of :attr:`terms` (the first is
        minimised) followed by the ``[L]`` KL per latent direction; None when the slice is
        empty (the loop then takes a zero loss from ``outputs`` so that DDP sees every
        parameter).
        """

    @abstractmethod
    def validate(self, model: nn.Module, beta: float, shard: tuple[int, int]) -> dict[str, Any]:
        """Validation numbers: ``val_<term>`` for :attr:`terms`, :attr:`val_extra` and
        ``kl_per_dim``, summed over the ranks (this rank computes ``shard`` of the
        validation events and all-reduces)."""

    def extra_data(self) -> dict[str, Any]:
        """What the objective adds to ``TrainedModel.data`` (default: nothing)."""
        return {}

    def diverged_hint(self) -> str:
        """A hint added to the divergence message (default: none)."""
        return ""


SIGNED_BATCH_Z = 3.0
"""Signed weights: the batch weight sum must lie this many standard deviations above 0."""


def check_signed_weights(
    data: TrainData, train_idx: np.ndarray, val_idx: np.ndarray, batch_size: int
) -> None:
    """Refuse signed event weights whose weighted loss is not bounded below.

    Every per-event loss ``l >= 0`` (a squared error, a KL, a negative log-likelihood up to
    a constant), so ``sum_i w_i l_i`` is bounded below only where the net weight is
    positive: events of negative weight push their loss up, without limit where they are
    not outweighed by positive events nearby. The checks:

    - the total weight of the training events and of the validation events must be
      positive (else minimising the loss maximises the reconstruction error);
    - a batch of ``B`` events drawn at random has the weight sum ``B m +- sqrt(B) s``
      (``m``, ``s``: mean and standard deviation of the weights); it must stay positive,
      ``sqrt(B) m / s >= 3``, i.e. ``B >= (3 s / m)^2``. For weights +-1 with a negative
      fraction f: ``m = 1 - 2 f``, ``s = 2 sqrt(f (1 - f))``; f = 0.15 needs B >= 10,
      f = 0.3 B >= 53, f = 0.4 B >= 216, f = 0.45 B >= 891.

    Raises:
        ConfigError: naming the total weight, the negative fraction and the batch size
            needed.
    """
    w = np.asarray(data.weight, dtype=np.float64)
    wt, wv = w[train_idx], w[val_idx]
    n_neg = int((w < 0).sum())
    frac = n_neg / max(len(w), 1)
    share = float(-w[w < 0].sum() / max(np.abs(w).sum(), 1e-300))
    facts = (
        f"{n_neg} of {len(w)} events ({100 * frac:.1f}%) have negative weights, carrying "
        f"{100 * share:.1f}% of the summed |weight|"
    )
    if wt.sum() <= 0:
        raise ConfigError(
            f"weighted=True: the training events' total weight is {wt.sum():.6g} <= 0 ({facts}); "
            "the weighted loss is then not bounded below. Train unweighted, or check the weights"
        )
    if len(wv) and wv.sum() <= 0:
        raise ConfigError(
            f"weighted=True: the {len(wv)} validation events' total weight is {wv.sum():.6g} "
            f"<= 0 ({facts}); raise val_fraction so that it is positive"
        )
    m, s = float(wt.mean()), float(wt.std())
    if s > 0 and n_neg:
        need = math.ceil((SIGNED_BATCH_Z * s / m) ** 2)
        if batch_size < need:
            raise ConfigError(
                f"weighted=True: batch_size={batch_size} is too small for these weights ({facts}; "
                f"mean weight {m:.4g}, std {s:.4g}): a batch's weight sum would too often be "
                f"<= 0, where the loss of that step is not bounded below. Use batch_size >= "
                f"{need} (sqrt(B) mean / std >= {SIGNED_BATCH_Z:g})"
            )


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of epoch ``epoch`` (counted from 0; -1 for the fixed validation draws)."""
    return (seed * 1_000_003 + epoch + 1) % (2**63)


def progress_bar(total: int, desc: str, *, enabled: bool, initial: int = 0) -> Any:
    """An epoch bar: in a terminal and in Jupyter, not in a pipe or a log file, never when
    not ``enabled`` or when the environment variable ``CI`` is set.

    tqdm on its own hides itself whenever stderr is not a terminal, which a Jupyter
    kernel's is not; here a kernel counts as a terminal. In Jupyter the bar is the
    ``tqdm.auto`` widget where ``ipywidgets`` is installed, else the text bar (``tqdm.auto``
    would warn there instead).
    """
    ci = os.environ.get("CI", "").lower() not in ("", "0", "false")
    disable: bool | None = True if not enabled or ci else (False if in_jupyter() else None)
    if importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc=desc, unit="epoch", disable=disable)


def in_jupyter() -> bool:
    """True inside a Jupyter (IPython kernel) session."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def resolve_device(name: str) -> torch.device:
    """``name`` as a torch device, refusing unknown names and CUDA without a GPU."""
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; use 'cpu', 'cuda' or 'cuda:N'") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available; use 'cpu'")
    return dev


def train(
    objective: Objective,
    data: TrainData,
    cfg: TrainConfig,
    options: FitOptions,
) -> TrainedModel:
    """Train ``objective`` on ``data`` with ``cfg``, run as ``options`` say.

    Returns the :class:`TrainedModel` with the best validation weights, in eval mode, and
    raises what :func:`latentsym.models.fit` raises.
    """
    objective.check(data, cfg)
    info = dist_info() if options.distributed else DistInfo()
    dev = rank_device(resolve_device(options.device), info)
    group: AbstractContextManager[DistInfo]
    group = process_group(dev) if info.distributed else nullcontext(info)
    ranks = _ranks_here(info)
    with (
        group,
        ThreadControl(choose_threads(options.num_threads, ranks=ranks), ranks) as threads,
        torch.random.fork_rng(devices=_cuda_devices(dev)),
    ):
        return _Run(objective, data, cfg, dev, options, info, threads).train()


class _Run:
    """One training run; holds the model, the optimiser and the early-stopping state."""

    def __init__(
        self,
        objective: Objective,
        data: TrainData,
        cfg: TrainConfig,
        dev: torch.device,
        options: FitOptions,
        info: DistInfo,
        threads: ThreadControl,
    ) -> None:
        self.obj, self.cfg, self.data, self.dev, self.info = objective, cfg, data, dev, info
        self.threads = threads
        self.folder = Path(options.out_dir) if options.out_dir is not None else None
        self.progress = options.progress and info.is_main
        n = data.n_events
        n_val = 0 if cfg.val_fraction == 0 else min(max(1, round(cfg.val_fraction * n)), n - 1)
        if n - n_val < 1 or (cfg.val_fraction > 0 and n < 2):
            raise ConfigError(f"{n} event(s) cannot be split into training and validation")
        signed = bool(getattr(objective, "signed_weights", False))
        if cfg.weighted and not signed and np.any(data.weight <= 0):
            bad = np.flatnonzero(data.weight <= 0)
            raise ConfigError(
                f"weighted=True needs positive event weights for the {objective.description}; "
                f"{len(bad)} event(s) have weight <= 0 (first: event {data.index[bad[0]]}). "
                "Train unweighted or drop them."
            )
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed)).numpy()
        val_idx, train_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        self.n_train, self.n_val = len(train_idx), n_val
        self.scaler = Scaler.fit(data.values[train_idx], names=data.names, constant=data.constant)
        objective.prepare(data, (train_idx, val_idx), self.scaler, dev, cfg)
        self.signed = cfg.weighted and signed
        if self.signed:
            check_signed_weights(data, train_idx, val_idx, cfg.batch_size)
        w_np = np.asarray(data.weight, dtype=np.float64)
        if self.signed:  # mean 1 over the training events: per-batch sums w l / B
            w_np = w_np / w_np[train_idx].mean()
        w = torch.as_tensor(w_np, dtype=torch.float32)
        self.w_train = w[train_idx].to(dev) if cfg.weighted else None
        digest = hashlib.sha256(np.ascontiguousarray(data.values).tobytes())
        digest.update(np.ascontiguousarray(data.weight).tobytes())
        self.data_info = {
            "n_events": n,
            "n_train": len(train_idx),
            "n_val": n_val,
            "sha256": digest.hexdigest(),
            **objective.extra_data(),
        }
        torch.manual_seed(cfg.seed)
        self.model = objective.build_model().to(dev)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.epoch = 0
        self.best_state = copy.deepcopy(self.model.state_dict())
        self.best_epoch, self.best_val, self.bad_epochs = 0, float("inf"), 0
        self.stopped, self.train_seconds = False, 0.0
        self.history: list[dict[str, Any]] = []
        if self.folder is not None:
            self._prepare_folder(self.folder, options.resume, options.overwrite)
        self.val_shard = shard_bounds(n_val, info.rank, info.world_size)
        self.step: nn.Module = objective.step_module(self.model)
        if info.distributed:  # after a resume has loaded the weights; broadcasts rank 0's
            ids = [dev.index] if dev.type == "cuda" else None
            self.step = DistributedDataParallel(self.step, device_ids=ids)

    # -- checkpoints -------------------------------------------------------------------
    def _trained(self) -> TrainedModel:
        epochs_run = len(self.history)
        return TrainedModel(
            model=self.model,  # type: ignore[arg-type]
            config=self.obj.config,  # type: ignore[arg-type]
            train_config=self.cfg,
            scaler=self.scaler,
            feature_names=self.data.names,
            feature_units=self.data.units,
            representation=self.data.representation,
            history=self.history,
            epochs_run=epochs_run,
            best_epoch=self.best_epoch,
            train_seconds=self.train_seconds,
            events_per_second=(
                self.n_train * epochs_run / self.train_seconds if self.train_seconds else 0.0
            ),
            data=self.data_info,
            threads=self.threads.record(),
        )

    def _prepare_folder(self, folder: Path, resume: bool, overwrite: bool) -> None:
        state_path = folder / STATE_FILE
        if resume:
            if not state_path.is_file():
                raise OutputError(
                    f"{folder} holds no checkpoint ({STATE_FILE}) to resume; run without "
                    "resume=True to start training there"
                )
            self._check_resumable(folder)
            self._load_state(torch.load(state_path, map_location=self.dev, weights_only=True))
            return
        existing = [f for f in (*MODEL_FILES, STATE_FILE) if (folder / f).exists()]
        if existing and not overwrite:
            raise OutputError(
                f"{folder} already holds a checkpoint ({', '.join(existing)}); pass "
                "resume=True to continue it or overwrite=True to replace it"
            )
        if not self.info.is_main:  # only rank 0 writes
            return
        folder.mkdir(parents=True, exist_ok=True)
        for f in existing:
            (folder / f).unlink()

    def _check_resumable(self, folder: Path) -> None:
        saved = read_json(folder / "config.json")
        now = self._trained().config_dict()
        diffs = []
        if saved.get("model_type") != now["model_type"]:
            diffs.append(
                f"the model is a {saved.get('model_type')!r} there, {now['model_type']!r} now"
            )
        for section in ("model", "train", "features", "data"):
            old, new = saved.get(section, {}), now[section]
            for key in sorted(set(old) | set(new)):
                if (section, key) == ("train", "epochs") or old.get(key) == new.get(key):
                    continue
                if section == "data":
                    diffs.append("the features (events or values) differ")
                    break
                diffs.append(f"{section}.{key} is {old.get(key)!r} there but {new.get(key)!r} now")
        if diffs:
            raise ConfigError(
                f"cannot resume from {folder}: {'; '.join(diffs)}. Resume with the same "
                "features and settings (only epochs may change), or start afresh with "
                "overwrite=True."
            )

    def _state(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "model": self.model.state_dict(),
            "best_model": self.best_state,
            "optimizer": self.opt.state_dict(),
            "best_epoch": self.best_epoch,
            "best_val": self.best_val,
            "bad_epochs": self.bad_epochs,
            "stopped": self.stopped,
            "train_seconds": self.train_seconds,
            "history": self.history,
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.best_state = state["best_model"]
        self.epoch, self.best_epoch = int(state["epoch"]), int(state["best_epoch"])
        self.best_val, self.bad_epochs = float(state["best_val"]), int(state["bad_epochs"])
        self.stopped, self.train_seconds = bool(state["stopped"]), float(state["train_seconds"])
        self.history = list(state["history"])

    def _checkpoint(self) -> None:
        if self.folder is None or not self.info.is_main:
            return
        write_model_files(self.folder, self._trained(), self.best_state)
        state = self._state()
        atomic_write(self.folder / STATE_FILE, lambda fh: torch.save(state, fh))

    # -- training ----------------------------------------------------------------------
    def train(self) -> TrainedModel:
        cfg = self.cfg
        bar = progress_bar(
            cfg.epochs,
            f"training {self.obj.description}",
            enabled=self.progress,
            initial=min(self.epoch, cfg.epochs),
        )
        self.threads.start(self.epoch)
        with bar:
            while self.epoch < cfg.epochs and not self.stopped:
                start = time.perf_counter()
                row = self._epoch()
                row["seconds"] = time.perf_counter() - start
                self.train_seconds += row["seconds"]
                self.history.append(row)
                self.epoch += 1
                self._track(row)
                self._checkpoint()
                bar.set_postfix(
                    train=f"{row['train_total']:.4g}",
                    val=_fmt(row["val_total"]),
                    threads=self.threads.threads,
                )
                bar.update()
        self.model.load_state_dict(self.best_state)
        self.model.eval()
        return self._trained()

    def _track(self, row: dict[str, Any]) -> None:
        if row["val_total"] is None:
            self.best_state = copy.deepcopy(self.model.state_dict())
            self.best_epoch = row["epoch"]
            return
        if self.epoch <= self.cfg.kl_warmup_epochs:
            return
        val = row["val_total"]
        if val < self.best_val - _MIN_REL_IMPROVEMENT * abs(self.best_val) or self.best_epoch == 0:
            self.best_val, self.best_epoch, self.bad_epochs = val, row["epoch"], 0
            self.best_state = copy.deepcopy(self.model.state_dict())
        else:
            self.bad_epochs += 1
            self.stopped = self.bad_epochs >= self.cfg.patience

    def _epoch(self) -> dict[str, Any]:
        cfg, epoch, dev, info, obj = self.cfg, self.epoch, self.dev, self.info, self.obj
        beta = cfg.beta_at(epoch)
        torch.manual_seed(epoch_seed(cfg.seed, epoch))
        gen = torch.Generator().manual_seed(epoch_seed(cfg.seed, epoch))
        n, size, n_terms = self.n_train, cfg.batch_size, len(obj.terms)
        order = torch.randperm(n, generator=gen).to(dev)
        n_batches = -(-n // size)
        self.step.train()
        # per batch: this rank's share of the global batch and its loss terms and
        # kl_per_dim, kept on the device and read back once per epoch
        shares: list[torch.Tensor | float] = []
        logged: list[tuple[torch.Tensor, ...]] = []
        for b in range(n_batches):
            idx = order[b * size : (b + 1) * size]
            batch = obj.draw(idx, gen)  # the global batch's draws
            if info.distributed:
                lo, hi = shard_bounds(len(idx), info.rank, info.world_size)
                shares.append(self._share(idx, lo, hi))
                idx, batch = idx[lo:hi], tuple(t[lo:hi] for t in batch)
            wb = self.w_train[idx] if self.w_train is not None else None
            out, terms = obj.step(self.step, batch, beta, wb)
            loss: torch.Tensor
            if terms is not None:
                loss = terms[0] * (shares[-1] * info.world_size) if shares else terms[0]
                logged.append(tuple(t.detach() for t in terms))
            else:  # an empty slice of a tiny last batch: zero gradients, but take part
                loss = 0.0 * torch.stack([t.sum() for t in out]).sum()
                zero = torch.zeros((), device=dev)
                logged.append((*(zero,) * n_terms, torch.zeros(obj.latent_dim, device=dev)))
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            # the next batch: re-checks the CPU load once a second in automatic runs
            self.threads.check(*((epoch + 1, b + 2) if b + 1 < n_batches else (epoch + 2, 1)))
        # this rank's terms and kl_per_dim of every batch, weighted by its share
        scalars = torch.stack([torch.stack([t[i] for t in logged]) for i in range(n_terms)], 1)
        rows = torch.cat([scalars, torch.stack([t[-1] for t in logged])], dim=1).double()
        if shares:
            share_t = torch.stack([torch.as_tensor(f, dtype=torch.float64) for f in shares])
            rows *= share_t.to(dev)[:, None]
        batch_sizes = torch.diff(torch.arange(0, n + size, size).clamp(max=n)).double()
        sums = all_reduce_sum(rows).cpu()
        bad = ~torch.isfinite(sums[:, 0])
        if bad.any():
            b = int(torch.nonzero(bad)[0])
            raise self._diverged(float(sums[b, 0]), epoch, f"batch {b + 1} of {n_batches}")
        epoch_sums = np.zeros(sums.shape[1])
        for term in ((batch_sizes / n)[:, None] * sums).numpy():  # batch order, as summed
            epoch_sums += term
        row: dict[str, Any] = {"epoch": epoch + 1, "beta": beta}
        row.update(
            zip([f"train_{t}" for t in obj.terms], epoch_sums[:n_terms].tolist(), strict=True)
        )
        row.update({f"val_{k}": None for k in (*obj.terms, *obj.val_extra)})
        row["kl_per_dim"] = epoch_sums[n_terms:].tolist()
        if self.n_val:
            val = obj.validate(self.model, beta, self.val_shard)
            if not np.isfinite(val["val_total"]):
                raise self._diverged(val["val_total"], epoch, "validation")
            row.update(val)
        return row

    def _share(self, idx: torch.Tensor, lo: int, hi: int) -> torch.Tensor | float:
        """This rank's share of the global batch ``idx``: events, or event weights."""
        if self.w_train is None or self.signed:
            return (hi - lo) / len(idx)
        w = self.w_train[idx]
        return w[lo:hi].sum() / w.sum()

    def _diverged(self, value: float, epoch: int, where: str) -> TrainingError:
        x = self.scaler.transform(self.data.values.astype(np.float64))
        biggest = float(np.abs(x).max()) if len(x) else 0.0
        hint = self.obj.diverged_hint()
        return TrainingError(
            f"{self.obj.description} training diverged: the loss became {value} in epoch "
            f"{epoch + 1}, {where} (lr={self.cfg.lr:g}, beta={self.cfg.beta_at(epoch):g}). "
            f"Try a lower learning rate (e.g. lr={self.cfg.lr / 10:g}){hint}; check the "
            f"features for huge values (largest |standardised feature| here: {biggest:.3g}); or "
            "lower beta."
        )


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _cuda_devices(dev: torch.device) -> list[int]:
    if dev.type != "cuda":
        return []
    return [dev.index if dev.index is not None else torch.cuda.current_device()]


def _ranks_here(info: DistInfo) -> int:
    """Ranks of this job on this machine, which share its cores: ``LOCAL_WORLD_SIZE``
    (set by torchrun), else all of them."""
    if not info.distributed:
        return 1
    text = os.environ.get("LOCAL_WORLD_SIZE", "")
    return int(text) if text.isascii() and text.isdigit() and int(text) > 0 else info.world_size
