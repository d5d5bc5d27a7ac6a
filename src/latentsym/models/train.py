"""Training loop: Adam, in-memory batches, validation and early stopping, checkpoints.

Reproducibility: the split, the initial weights, every epoch's shuffle and
reparameterisation noise and the validation noise are seeded from ``seed`` (the epoch's
seed from ``seed`` and the epoch number), inside :func:`torch.random.fork_rng`, so the
caller's random state is left alone. On CPU two fits with the same inputs and thread
count give bit-identical weights, and a run interrupted after any epoch and resumed with
``resume=True`` ends bit-identical to an uninterrupted one.

Speed: the epoch loop slices batches from tensors held on the device (no DataLoader) and
keeps every per-batch loss on the device; they are read back once per epoch, so a batch
costs what a bare ``forward / backward / step`` costs (see ``benchmarks/bench_training.py``).
A non-finite loss is therefore reported at the end of its epoch (naming the batch).

Several processes: launched by ``torchrun`` (``WORLD_SIZE > 1``), ``fit`` joins the
process group (unless the caller did), wraps the model in
:class:`~torch.nn.parallel.DistributedDataParallel` and gives each rank an equal slice of
every global batch of the same seeded permutation, with the global batch's noise draw.
Each rank's loss is weighted by its share of the batch's events (or event weights), so
the averaged gradient is the one-process gradient of the global batch and the result
equals one-process training up to float rounding. Validation is split over the ranks and
summed; early stopping sees the same numbers on every rank. Only rank 0 writes
``out_dir`` and shows progress. See :mod:`latentsym.models.distributed`.

Early stopping: the validation loss (``recon + beta * kl`` with a fixed noise draw) must
improve by more than a relative 1e-4 within ``patience`` epochs; the best weights are
restored at the end. KL warm-up epochs do not count towards it.

Example:
    >>> from latentsym.features import build
    >>> trained = fit(build(momenta), epochs=20, progress=False)  # doctest: +SKIP
    >>> mu, sigma = trained.encode(build(momenta).values)  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import hashlib
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from latentsym.errors import ConfigError, OutputError, SchemaError, TrainingError
from latentsym.features.build import FeatureMatrix
from latentsym.features.scaler import Scaler
from latentsym.models.checkpoint import (
    MODEL_FILES,
    TrainedModel,
    _read_json,
    _write_model_files,
    atomic_write,
)
from latentsym.models.config import TrainConfig, VAEConfig
from latentsym.models.distributed import (
    DistInfo,
    all_reduce_sum,
    dist_info,
    process_group,
    rank_device,
    shard_bounds,
)
from latentsym.models.loss import kl_per_event, vae_loss
from latentsym.models.vae import VAE, VAEOutput

__all__ = ["STATE_FILE", "fit"]

STATE_FILE = "state.pt"
"""Resume state written beside the model files of a training folder."""

_DEFAULTS = TrainConfig()
_MIN_REL_IMPROVEMENT = 1e-4
_EVAL_BATCH = 65536


@dataclass
class _Data:
    values: np.ndarray
    names: tuple[str, ...]
    units: tuple[str, ...]
    representation: str
    constant: tuple[str, ...]
    weight: np.ndarray
    index: np.ndarray


def fit(
    features: FeatureMatrix | np.ndarray,
    *,
    latent_dim: int = 6,
    hidden: Sequence[int] = (128, 128),
    activation: str = "silu",
    beta: float = _DEFAULTS.beta,
    epochs: int = _DEFAULTS.epochs,
    batch_size: int = _DEFAULTS.batch_size,
    lr: float = _DEFAULTS.lr,
    val_fraction: float = _DEFAULTS.val_fraction,
    patience: int = _DEFAULTS.patience,
    kl_warmup_epochs: int = _DEFAULTS.kl_warmup_epochs,
    weighted: bool = False,
    seed: int = 0,
    feature_names: Sequence[str] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    device: str = "cpu",
    num_threads: int | None = None,
    distributed: bool = True,
) -> TrainedModel:
    """Train a VAE on a feature matrix.

    Args:
        features: a :class:`~latentsym.features.FeatureMatrix`, or ``[N, F]`` physical
            features (then ``feature_names`` may name them).
        latent_dim, hidden, activation: the architecture (:class:`VAEConfig`).
        beta, epochs, batch_size, lr, val_fraction, patience, kl_warmup_epochs, weighted,
            seed: the training settings (:class:`TrainConfig`).
        feature_names: names for a raw array (default ``f0 ...``).
        out_dir: when given, a model folder plus ``state.pt`` is written there after
            every epoch (see :mod:`latentsym.models.checkpoint`).
        resume: continue from the checkpoint in ``out_dir``; every setting but ``epochs``
            must match the checkpoint's.
        overwrite: replace an existing checkpoint in ``out_dir``.
        progress: show a tqdm bar (also hidden when stderr is not a terminal).
        device: torch device, e.g. ``"cpu"`` or ``"cuda"``.
        num_threads: torch CPU threads during training (restored afterwards); default:
            leave torch's setting.
        distributed: in a job launched by ``torchrun`` (``WORLD_SIZE > 1``), train one
            model together with the other ranks (DDP; ``cuda`` means ``cuda:LOCAL_RANK``;
            only rank 0 writes ``out_dir``); False trains this process alone.

    Returns:
        The :class:`TrainedModel` with the best validation weights, in eval mode.

    Raises:
        TrainingError: the loss became NaN or infinite (names epoch and batch).
        ConfigError: bad settings, or a resume that does not match the checkpoint.
        OutputError: ``out_dir`` holds a checkpoint and neither resume nor overwrite.
        SchemaError: non-finite features.
    """
    data = _as_data(features, feature_names)
    model_cfg = VAEConfig(data.values.shape[1], latent_dim, tuple(hidden), activation)
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
    info = dist_info() if distributed else DistInfo()
    dev = rank_device(_device(device), info)
    folder = Path(out_dir) if out_dir is not None else None
    if resume and folder is None:
        raise ConfigError("resume=True needs out_dir, the folder holding the checkpoint")
    group: AbstractContextManager[DistInfo]
    group = process_group(dev) if info.distributed else nullcontext(info)
    with group, _threads(num_threads), torch.random.fork_rng(devices=_cuda_devices(dev)):
        return _Run(data, model_cfg, cfg, dev, folder, resume, overwrite, progress, info).train()


class _Step(nn.Module):
    """The training forward pass with the noise given: what DDP wraps."""

    def __init__(self, vae: VAE) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, x: torch.Tensor, eps: torch.Tensor) -> VAEOutput:
        mu, logvar = self.vae.encode(x)
        z = mu + torch.exp(0.5 * logvar) * eps
        return VAEOutput(self.vae.decode(z), mu, logvar, z)


class _Run:
    """One training run; holds the tensors, the model and the early-stopping state."""

    def __init__(
        self,
        data: _Data,
        model_cfg: VAEConfig,
        cfg: TrainConfig,
        dev: torch.device,
        folder: Path | None,
        resume: bool,
        overwrite: bool,
        progress: bool,
        info: DistInfo,
    ) -> None:
        self.cfg, self.model_cfg, self.data, self.dev = cfg, model_cfg, data, dev
        self.folder, self.progress, self.info = folder, progress and info.is_main, info
        n = len(data.values)
        n_val = 0 if cfg.val_fraction == 0 else min(max(1, round(cfg.val_fraction * n)), n - 1)
        if n - n_val < 1 or (cfg.val_fraction > 0 and n < 2):
            raise ConfigError(f"{n} event(s) cannot be split into training and validation")
        if cfg.weighted and np.any(data.weight <= 0):
            bad = np.flatnonzero(data.weight <= 0)
            raise ConfigError(
                f"weighted=True needs positive event weights; {len(bad)} event(s) have weight "
                f"<= 0 (first: event {data.index[bad[0]]}). Train unweighted or drop them."
            )
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed)).numpy()
        val_idx, train_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        self.scaler = Scaler.fit(data.values[train_idx], names=data.names, constant=data.constant)
        self.x_train = self._tensor(data.values[train_idx])
        self.x_val = self._tensor(data.values[val_idx])
        w = torch.as_tensor(data.weight, dtype=torch.float32)
        self.w_train = w[train_idx].to(dev) if cfg.weighted else None
        self.w_val = w[val_idx].to(dev) if cfg.weighted else None
        digest = hashlib.sha256(np.ascontiguousarray(data.values).tobytes())
        digest.update(np.ascontiguousarray(data.weight).tobytes())
        self.data_info = {
            "n_events": n,
            "n_train": len(train_idx),
            "n_val": n_val,
            "sha256": digest.hexdigest(),
        }
        torch.manual_seed(cfg.seed)
        self.model = VAE.from_config(model_cfg).to(dev)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        gen = torch.Generator().manual_seed(_epoch_seed(cfg.seed, -1))
        self.eps_val = torch.randn(n_val, model_cfg.latent_dim, generator=gen).to(dev)
        self.epoch = 0
        self.best_state = copy.deepcopy(self.model.state_dict())
        self.best_epoch, self.best_val, self.bad_epochs = 0, float("inf"), 0
        self.stopped, self.train_seconds = False, 0.0
        self.history: list[dict[str, Any]] = []
        if folder is not None:
            self._prepare_folder(folder, resume, overwrite)
        self.val_lo, self.val_hi = shard_bounds(n_val, info.rank, info.world_size)
        self.step: nn.Module = _Step(self.model)
        if info.distributed:  # after a resume has loaded the weights; broadcasts rank 0's
            ids = [dev.index] if dev.type == "cuda" else None
            self.step = DistributedDataParallel(self.step, device_ids=ids)

    def _tensor(self, values: np.ndarray) -> torch.Tensor:
        x = self.scaler.transform(values.astype(np.float64))
        return torch.as_tensor(x, dtype=torch.float32).to(self.dev)

    # -- checkpoints -------------------------------------------------------------------
    def _trained(self) -> TrainedModel:
        epochs_run = len(self.history)
        return TrainedModel(
            model=self.model,
            config=self.model_cfg,
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
                len(self.x_train) * epochs_run / self.train_seconds if self.train_seconds else 0.0
            ),
            data=self.data_info,
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
        saved = _read_json(folder / "config.json")
        now = self._trained().config_dict()
        diffs = []
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
        _write_model_files(self.folder, self._trained(), self.best_state)
        state = self._state()
        atomic_write(self.folder / STATE_FILE, lambda fh: torch.save(state, fh))

    # -- training ----------------------------------------------------------------------
    def train(self) -> TrainedModel:
        cfg = self.cfg
        bar = tqdm(
            total=cfg.epochs,
            initial=min(self.epoch, cfg.epochs),
            desc="training VAE",
            unit="epoch",
            disable=None if self.progress else True,
        )
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
                bar.set_postfix(train=f"{row['train_total']:.4g}", val=_fmt(row["val_total"]))
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
        cfg, epoch, dev, info = self.cfg, self.epoch, self.dev, self.info
        beta = cfg.beta_at(epoch)
        torch.manual_seed(_epoch_seed(cfg.seed, epoch))
        gen = torch.Generator().manual_seed(_epoch_seed(cfg.seed, epoch))
        n, size, n_lat = len(self.x_train), cfg.batch_size, self.model_cfg.latent_dim
        order = torch.randperm(n, generator=gen).to(dev)
        n_batches = -(-n // size)
        self.step.train()
        # per batch: this rank's share of the global batch and its (total, recon, kl,
        # kl_per_dim), kept on the device and read back once per epoch
        shares: list[torch.Tensor | float] = []
        logged: list[tuple[torch.Tensor, ...]] = []
        for b in range(n_batches):
            idx = order[b * size : (b + 1) * size]
            eps = torch.randn(len(idx), n_lat, device=dev)  # the global batch's noise
            if info.distributed:
                lo, hi = shard_bounds(len(idx), info.rank, info.world_size)
                shares.append(self._share(idx, lo, hi))
                idx, eps = idx[lo:hi], eps[lo:hi]
            xb = self.x_train[idx]
            wb = self.w_train[idx] if self.w_train is not None else None
            out = self.step(xb, eps)
            if len(idx):
                terms = vae_loss(out, xb, beta, wb)
                loss = terms.total * (shares[-1] * info.world_size) if shares else terms.total
                logged.append(tuple(t.detach() for t in terms))
            else:  # an empty slice of a tiny last batch: zero gradients, but take part
                loss = 0.0 * sum(t.sum() for t in out)
                zero = torch.zeros((), device=dev)
                logged.append((zero, zero, zero, torch.zeros(n_lat, device=dev)))
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
        # this rank's (total, recon, kl, kl_per_dim) of every batch, weighted by its share
        scalars = torch.stack([torch.stack([t[i] for t in logged]) for i in range(3)], dim=1)
        rows = torch.cat([scalars, torch.stack([t[3] for t in logged])], dim=1).double()
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
        tot, rec, kl = epoch_sums[:3].tolist()
        row: dict[str, Any] = {
            "epoch": epoch + 1,
            "beta": beta,
            "train_total": tot,
            "train_recon": rec,
            "train_kl": kl,
            "val_total": None,
            "val_recon": None,
            "val_kl": None,
            "kl_per_dim": epoch_sums[3:].tolist(),
        }
        if len(self.x_val):
            rec, kl_v = self._validate()
            total = rec + beta * float(kl_v.sum())
            if not np.isfinite(total):
                raise self._diverged(total, epoch, "validation")
            row.update(val_total=total, val_recon=rec, val_kl=float(kl_v.sum()))
            row["kl_per_dim"] = kl_v.tolist()
        return row

    def _share(self, idx: torch.Tensor, lo: int, hi: int) -> torch.Tensor | float:
        """This rank's share of the global batch ``idx``: events, or event weights."""
        if self.w_train is None:
            return (hi - lo) / len(idx)
        w = self.w_train[idx]
        return w[lo:hi].sum() / w.sum()

    def _validate(self) -> tuple[float, np.ndarray]:
        self.model.eval()
        sums = torch.zeros(1 + self.model_cfg.latent_dim, dtype=torch.float64, device=self.dev)
        n, lo, hi = len(self.x_val), self.val_lo, self.val_hi  # this rank's slice
        w = self.w_val / self.w_val.sum() if self.w_val is not None else None
        with torch.no_grad():
            for i in range(lo, hi, _EVAL_BATCH):
                j = min(i + _EVAL_BATCH, hi)
                xb = self.x_val[i:j]
                mu, logvar = self.model.encode(xb)
                z = mu + torch.exp(0.5 * logvar) * self.eps_val[i:j]
                sq = ((self.model.decode(z) - xb) ** 2).sum(-1).double()
                kl_ev = kl_per_event(mu, logvar).double()
                if w is None:
                    sums[0] += sq.sum() / n
                    sums[1:] += kl_ev.sum(0) / n
                else:
                    wb = w[i:j].double()
                    sums[0] += (wb * sq).sum()
                    sums[1:] += (wb[:, None] * kl_ev).sum(0)
        all_reduce_sum(sums)
        return float(sums[0]), sums[1:].cpu().numpy()

    def _diverged(self, value: float, epoch: int, where: str) -> TrainingError:
        biggest = float(self.x_train.abs().max()) if len(self.x_train) else 0.0
        return TrainingError(
            f"training diverged: the loss became {value} in epoch {epoch + 1}, {where} "
            f"(lr={self.cfg.lr:g}, beta={self.cfg.beta_at(epoch):g}). Try a lower learning "
            f"rate (e.g. lr={self.cfg.lr / 10:g}); check the features for huge values (largest "
            f"|standardised feature| here: {biggest:.3g}); or lower beta."
        )


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch + 1) % (2**63)


def _as_data(features: FeatureMatrix | np.ndarray, names: Sequence[str] | None) -> _Data:
    if isinstance(features, FeatureMatrix):
        data = _Data(
            values=features.values,
            names=features.names,
            units=features.units,
            representation=features.representation,
            constant=features.constant,
            weight=np.asarray(features.weight, dtype=np.float64),
            index=features.event_index,
        )
    elif isinstance(features, np.ndarray):
        if features.ndim != 2 or features.shape[0] == 0 or features.shape[1] == 0:
            raise ConfigError(f"features must be a non-empty [N, F] array; got {features.shape}")
        n, f = features.shape
        names_t = tuple(names) if names is not None else tuple(f"f{i}" for i in range(f))
        if len(names_t) != f:
            raise ConfigError(f"{len(names_t)} feature names for {f} features")
        data = _Data(
            values=features.astype(np.float32),
            names=names_t,
            units=("1",) * f,
            representation="custom",
            constant=(),
            weight=np.ones(n),
            index=np.arange(n),
        )
    else:
        raise ConfigError(f"fit() takes a FeatureMatrix or an [N, F] array; got {type(features)}")
    bad = ~np.isfinite(data.values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise SchemaError(
            f"feature {data.names[col]} of event {data.index[row]} is {data.values[row, col]} "
            f"({int(bad.any(axis=1).sum())} event(s) with non-finite features); remove them "
            "before training"
        )
    return data


def _device(name: str) -> torch.device:
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; use 'cpu', 'cuda' or 'cuda:N'") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available; use 'cpu'")
    return dev


def _cuda_devices(dev: torch.device) -> list[int]:
    if dev.type != "cuda":
        return []
    return [dev.index if dev.index is not None else torch.cuda.current_device()]


@contextmanager
def _threads(n: int | None) -> Iterator[None]:
    if n is None:
        yield
        return
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"num_threads must be a positive integer or None; got {n!r}")
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
