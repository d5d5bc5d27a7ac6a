"""Helpers for training on several processes with torch DistributedDataParallel (DDP).

A job launched by ``torchrun`` gets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` in its
environment. :func:`latentsym.models.fit` reads them (:func:`dist_info`), joins the
process group (:func:`init_process_group`: gloo for CPU tensors, NCCL for CUDA tensors
when CUDA is present), and gives every rank an equal contiguous slice
(:func:`shard_bounds`) of every global batch of the same seeded permutation, so that the
averaged gradient is the single-process gradient of the global batch.

Example:
    >>> shard_bounds(10, rank=1, world_size=4)  # slices of 3, 3, 2, 2 events
    (3, 6)
    >>> dist_info()  # a plain process (no torchrun) is rank 0 of 1
    DistInfo(rank=0, world_size=1, local_rank=0)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar, cast

import torch
import torch.distributed as dist

from latentsym import errors
from latentsym.errors import ConfigError, LatentsymError

__all__ = [
    "DistInfo",
    "all_reduce_sum",
    "destroy_process_group",
    "dist_info",
    "init_process_group",
    "on_main_process",
    "process_group",
    "rank_device",
    "shard_bounds",
]

_T = TypeVar("_T")
_TIMEOUT = timedelta(minutes=30)
_STORE: list[dist.Store] = []  # the rendezvous store, then one prefix store per group made


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands in a (possibly one-process) job.

    Attributes:
        rank: global rank, 0 ... world_size - 1.
        world_size: number of processes.
        local_rank: rank on this machine (picks the GPU).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """True on rank 0, the process that writes outputs and reports progress."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True when more than one process takes part."""
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(
            f"environment variable {name}={text!r} is not an integer; it is set by torchrun "
            "(launch with `torchrun --nproc-per-node N -m latentsym ...` or unset it)"
        ) from None
    if value < 0:
        raise ConfigError(f"environment variable {name}={value} must be >= 0")
    return value


def dist_info() -> DistInfo:
    """This process's rank and the world size.

    From the initialised default process group when there is one, else from the
    ``torchrun`` environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``); a plain process
    is rank 0 of 1.

    Raises:
        ConfigError: a malformed environment variable, or ``RANK >= WORLD_SIZE``.
    """
    local = _env_int("LOCAL_RANK", 0)
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), local)
    world, rank = _env_int("WORLD_SIZE", 1), _env_int("RANK", 0)
    if world < 1 or rank >= world:
        raise ConfigError(
            f"RANK={rank} and WORLD_SIZE={world} from the environment are inconsistent; "
            "they are set by torchrun, launch through it or unset them"
        )
    return DistInfo(rank, world, local)


def rank_device(device: torch.device, info: DistInfo) -> torch.device:
    """The device of this rank: ``cuda`` without an index becomes ``cuda:LOCAL_RANK``."""
    if device.type == "cuda" and device.index is None and info.distributed:
        return torch.device("cuda", info.local_rank)
    return device


def init_process_group(device: torch.device | None = None) -> bool:
    """Join the default process group of a ``torchrun`` job, if needed.

    Nothing happens in a one-process job or when the group already exists. The backend
    is gloo, plus NCCL for CUDA tensors when CUDA is available
    (``"cpu:gloo,cuda:nccl"``); with a CUDA ``device`` the process first selects its GPU.

    Args:
        device: the training device (default: CPU).

    Returns:
        True when this call created the group (then the caller destroys it with
        :func:`destroy_process_group` when done), else False.

    Raises:
        ConfigError: ``torch.distributed`` is not available in this torch build.
    """
    info = dist_info()
    if not info.distributed:
        return False
    if not dist.is_available():
        raise ConfigError(
            f"WORLD_SIZE={info.world_size} asks for {info.world_size} processes, but this torch "
            "build has no torch.distributed; run a single process (no torchrun)"
        )
    if dist.is_initialized():
        return False
    dev = rank_device(device or torch.device("cpu"), info)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    nccl = torch.cuda.is_available() and dist.is_nccl_available()
    backend = "cpu:gloo,cuda:nccl" if nccl else "gloo"
    # torch cannot re-create the default group on the same store keys after destroying it
    # (a known hang, pytorch/pytorch#55967): each creation gets a fresh key prefix of one
    # store kept for the whole process (every rank counts its creations alike)
    if not _STORE:
        _STORE.append(next(iter(dist.rendezvous("env://", timeout=_TIMEOUT)))[0])
    _STORE.append(dist.PrefixStore(f"latentsym/{len(_STORE)}/", _STORE[0]))
    dist.init_process_group(
        backend=backend,
        store=_STORE[-1],
        rank=info.rank,
        world_size=info.world_size,
        timeout=_TIMEOUT,
    )
    return True


def destroy_process_group() -> None:
    """Leave the default process group (no-op when there is none)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


@contextmanager
def process_group(device: torch.device | None = None) -> Iterator[DistInfo]:
    """Inside: the process group of a ``torchrun`` job exists (if the job has several
    processes); it is destroyed at the exit when this context created it.

    Example:
        In a plain process there is no group to make (one rank); under ``torchrun`` the
        same code trains on every rank and saves on rank 0:

        >>> from latentsym.models import FitOptions, TrainConfig, fit
        >>> from latentsym.toys import circle
        >>> with process_group() as info:
        ...     trained = fit(circle(300), train=TrainConfig(epochs=2),
        ...                   options=FitOptions(progress=False))
        ...     if info.is_main:
        ...         path = trained.save("model")
        >>> info.distributed, info.is_main, sorted(p.name for p in path.iterdir())
        (False, True, ['config.json', 'history.json', 'model.pt', 'scaler.json'])
    """
    created = init_process_group(device)
    try:
        yield dist_info()
    finally:
        if created:
            destroy_process_group()


def shard_bounds(n: int, rank: int, world_size: int) -> tuple[int, int]:
    """``[lo, hi)`` of rank's contiguous slice of ``n`` items split over ``world_size``.

    The first ``n % world_size`` ranks get one item more (as ``numpy.array_split``);
    slices are empty when ``n < world_size``.

    Example:
        >>> [shard_bounds(5, r, 2) for r in range(2)]
        [(0, 3), (3, 5)]
    """
    if world_size < 1 or not 0 <= rank < world_size or n < 0:
        raise ConfigError(f"cannot split {n} items for rank {rank} of {world_size}")
    base, extra = divmod(n, world_size)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (1 if rank < extra else 0)


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over all ranks, in place; returns it (unchanged in one process)."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def on_main_process(fn: Callable[[], _T]) -> _T | None:
    """Call ``fn`` on rank 0 only; the other ranks wait and share its failure.

    Rank 0 runs ``fn``; when it raises a :class:`~latentsym.errors.LatentsymError` or
    ``OSError``, every rank raises the same error type with the same message, so that a
    refused output folder stops all processes at once instead of leaving them waiting.
    Outside a process group, ``fn`` simply runs.

    Returns:
        ``fn()`` on rank 0, None on the other ranks.
    """
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return fn()
    result: _T | None = None
    failure: list[object] = [None]
    caught: BaseException | None = None
    if dist.get_rank() == 0:
        try:
            result = fn()
        except (LatentsymError, OSError) as exc:
            kind = "latentsym" if isinstance(exc, LatentsymError) else "os"
            caught, failure[0] = exc, (type(exc).__name__, kind, str(exc))
    dist.broadcast_object_list(failure, src=0)
    if caught is not None:
        raise caught
    if failure[0] is not None:
        name, kind, message = cast(tuple[str, str, str], failure[0])
        if kind == "os":
            raise OSError(f"(rank 0) {name}: {message}")
        cls = getattr(errors, str(name), LatentsymError)
        if not (isinstance(cls, type) and issubclass(cls, LatentsymError)):
            cls = LatentsymError
        raise cls(f"(rank 0) {message}")
    return result
