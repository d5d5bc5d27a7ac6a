"""How many CPU threads a training run uses: the automatic rule, its overrides, the record.

torch runs every operation on one intra-op thread per core by default, synchronised at
the end of each operation. That is the fastest choice on an idle machine and the slowest
on a shared one: when another process keeps one core busy, every operation waits for the
thread that shares the busy core. Measured on two cores (the main job's training, 40
epochs, ``benchmarks/bench_threads.py``, two runs): with torch's two threads 210-225k
events/s alone and 13-18k beside one busy process; with the count chosen here 210-220k
alone (two threads), 150-180k beside one busy process and about 100k beside two (one
thread). So the training loop chooses the count itself.

**The automatic rule** (``FitOptions(num_threads=None)``, the default):

1. *usable cores* ``C``: the CPUs this process may run on (``os.sched_getaffinity``;
   ``os.cpu_count()`` where that is missing), at most the cgroup CPU quota
   (``/sys/fs/cgroup/cpu.max``, rounded up);
2. *other load* ``B``: the cores kept busy by other work, measured on those CPUs from
   the per-CPU counters of ``/proc/stat`` over 0.1 s before training (``os.getloadavg()``
   where there is no ``/proc/stat``, 0 where neither exists);
3. ``threads = max(1, min(C // R, floor(C - B + 0.25)))``: other work takes a core away
   as soon as it keeps a quarter of one busy; ``R`` is the number of ranks of a
   ``torchrun`` job on this machine (``LOCAL_WORLD_SIZE``), which share the cores;
4. *re-checked while training*: after every batch, once at least 1 s has passed since the
   last check, ``B`` is measured again over that window (the busy time of the CPUs minus
   this process's own CPU time) and the count re-chosen by the same rule, up or down, so
   that work that starts or ends during a run is followed within about a second.

Erring towards fewer threads is cheap and erring towards more is not: on two cores one
thread instead of two costs about 1.2x when the machine is idle, two threads instead of
one cost 9-13x beside one busy process.

**Overrides**, the first that is set wins, and a set count is kept for the whole run:

1. ``FitOptions(num_threads=N)``, or ``--threads N`` on the command line;
2. ``with training_threads(N):`` around code that trains (the jobs, a notebook cell);
3. the environment variables ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS`` as the process
   was started with them (an explicit choice that torch itself reads at start, often set
   by batch systems such as SLURM, and by ``torchrun`` to 1 for several ranks). A value
   put into ``os.environ`` later is not taken, as it is not by torch: dask's nanny, for
   one, sets ``OMP_NUM_THREADS=1`` in the process that starts a local cluster.

An earlier ``torch.set_num_threads`` call is *not* taken as a choice, since torch cannot
tell a count that was set from its default: pass ``num_threads=torch.get_num_threads()``
to keep it. Training restores the caller's torch thread count at the end.

**Results.** The thread count changes the order of floating-point sums, nothing else:
with the same count two runs give bit-identical weights; between one and two threads
(the main job, 40 epochs, same seed) the weights differ by at most 1.5e-6 (2.1e-6 of the
largest weight), the final losses by 1.6e-8 relative, the relevance R by 8e-9 and the
encoded means by 1.1e-6, with the same relevant count. An automatic run may change its
count during the run (the record says when), and two automatic runs may choose
differently: for bit-identical reruns fix the count.

**The record.** :func:`latentsym.models.fit` returns a
:class:`~latentsym.models.TrainedModel` whose ``threads`` is a :class:`ThreadUse`: the
count at the start, where it came from and why, and every change during the run. The
choice and each change are logged at INFO on ``latentsym.models.threads``.

Example:
    >>> threads_for_load(2, 0.05)  # two idle cores
    2
    >>> threads_for_load(2, 1.0)  # one of them busy with other work
    1
    >>> threads_for_load(16, 3.0), threads_for_load(16, 0.0, ranks=4)
    (13, 4)
    >>> with training_threads(1):
    ...     choose_threads().threads, choose_threads().source
    (1, 'training_threads')
    >>> choose_threads(3).to_dict()["source"]
    'option'
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any

import torch

from latentsym.errors import ConfigError

__all__ = [
    "RECHECK_SECONDS",
    "SAMPLE_SECONDS",
    "ThreadChange",
    "ThreadControl",
    "ThreadUse",
    "choose_threads",
    "measure_other_load",
    "threads_for_load",
    "training_threads",
    "usable_cores",
]

SAMPLE_SECONDS = 0.1
"""How long the load is measured before training."""
RECHECK_SECONDS = 1.0
"""Shortest window over which the load is measured again during training."""

_FREE_MARGIN = 0.25
_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
_PROC_STAT = Path("/proc/stat")
_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
_PROC_ENVIRON = Path("/proc/self/environ")
_ENV_AT_IMPORT = {k: os.environ[k] for k in _ENV_VARS if k in os.environ}
_OVERRIDE: ContextVar[int | None] = ContextVar("latentsym_training_threads", default=None)
_log = logging.getLogger(__name__)


def _check_count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a positive integer or None; got {value!r}")
    return value


@dataclass(frozen=True)
class ThreadChange:
    """A change of the thread count during an automatic run.

    Attributes:
        epoch: the epoch (counted from 1) of the first batch trained with the new count.
        batch: that batch, counted from 1 within the epoch.
        threads: the new count.
        other_load: cores busy with other work over the window before the change.
    """

    epoch: int
    batch: int
    threads: int
    other_load: float


@dataclass(frozen=True)
class ThreadUse:
    """How many intra-op CPU threads a training run used, and why.

    Attributes:
        threads: the count at the start of training.
        source: ``"option"`` (``num_threads`` / ``--threads``), ``"training_threads"``,
            ``"OMP_NUM_THREADS"`` or ``"MKL_NUM_THREADS"`` (the environment) or
            ``"automatic"`` (the rule of :mod:`latentsym.models.threads`).
        reason: one sentence saying why, for logs and reports.
        cores: usable cores ``C`` (affinity and CPU quota).
        other_load: cores busy with other work when the count was chosen (None when not
            measured: a set count, or no load information on this system).
        torch_default: torch's thread count before training (restored afterwards).
        first_epoch: the first epoch (from 1) this record covers (later than 1 when the
            run resumed a checkpoint).
        changes: every change during the run (automatic runs only).
    """

    threads: int
    source: str
    reason: str
    cores: int
    other_load: float | None
    torch_default: int
    first_epoch: int = 1
    changes: tuple[ThreadChange, ...] = ()

    @property
    def counts(self) -> tuple[int, ...]:
        """Every count used, in order (the first, then each change)."""
        return (self.threads, *(c.threads for c in self.changes))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (the changes as a list of dicts)."""
        return {
            "threads": self.threads,
            "source": self.source,
            "reason": self.reason,
            "cores": self.cores,
            "other_load": self.other_load,
            "torch_default": self.torch_default,
            "first_epoch": self.first_epoch,
            "changes": [asdict(c) for c in self.changes],
        }


def threads_for_load(cores: int, other_load: float, ranks: int = 1) -> int:
    """The automatic rule: ``max(1, min(cores // ranks, floor(cores - other_load + 0.25)))``.

    Args:
        cores: usable cores C.
        other_load: cores busy with other work B (may exceed C).
        ranks: processes of this job sharing the cores (torchrun ranks on this machine).
    """
    cap = max(1, cores // max(1, ranks))
    return max(1, min(cap, math.floor(cores - other_load + _FREE_MARGIN)))


def _cpu_ids() -> tuple[int, ...] | None:
    try:
        return tuple(sorted(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return None


def _quota() -> float | None:
    """The cgroup v2 CPU quota in cores, None when unlimited or unknown."""
    try:
        text = _CPU_MAX.read_text().split()
        return int(text[0]) / int(text[1]) if text[0] != "max" else None
    except (OSError, ValueError, IndexError, ZeroDivisionError):
        return None


def usable_cores() -> int:
    """CPUs this process may run on: its affinity, at most the CPU quota (rounded up)."""
    ids = _cpu_ids()
    n = len(ids) if ids else (os.cpu_count() or 1)
    quota = _quota()
    return max(1, min(n, math.ceil(quota))) if quota else max(1, n)


@dataclass(frozen=True)
class _Snapshot:
    busy: float | None  # non-idle CPU seconds summed over the usable CPUs (None: unknown)
    own: float  # this process's CPU seconds (all threads)
    wall: float


def _busy_seconds(cpus: tuple[int, ...] | None) -> float | None:
    """Non-idle seconds of the CPUs ``cpus`` (all when None) since boot, from /proc/stat."""
    try:
        lines = _PROC_STAT.read_text().splitlines()
    except OSError:
        return None
    wanted = None if cpus is None else {f"cpu{i}" for i in cpus}
    ticks, found = 0, False
    for line in lines:
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or name == "cpu" or (wanted and name not in wanted):
            continue
        try:  # user nice system idle iowait irq softirq steal (guest is inside user)
            user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, rest.split()[:8])
        except ValueError:
            return None
        ticks += user + nice + system + irq + softirq + steal
        found = True
    return ticks / os.sysconf("SC_CLK_TCK") if found else None


def _snapshot(cpus: tuple[int, ...] | None) -> _Snapshot:
    return _Snapshot(_busy_seconds(cpus), time.process_time(), time.perf_counter())


def _other_load(a: _Snapshot, b: _Snapshot, *, own: bool) -> float | None:
    """Cores busy between ``a`` and ``b``, less this process's own time when ``own``."""
    if a.busy is None or b.busy is None or b.wall <= a.wall:
        return None
    busy = (b.busy - a.busy) - ((b.own - a.own) if own else 0.0)
    return max(0.0, busy / (b.wall - a.wall))


def measure_other_load(seconds: float = SAMPLE_SECONDS) -> float | None:
    """Cores of this process's CPUs kept busy by other work, measured over ``seconds``.

    From ``/proc/stat`` (all of the CPUs' busy time, this process being idle meanwhile);
    else the one-minute load average; None where neither exists.
    """
    cpus = _cpu_ids()
    start = _snapshot(cpus)
    if start.busy is None:
        try:
            return float(os.getloadavg()[0])
        except (AttributeError, OSError):
            return None
    time.sleep(seconds)
    return _other_load(start, _snapshot(cpus), own=False)


def _launch_environ() -> dict[str, str]:
    """The thread variables of the environment this process was started with.

    ``/proc/self/environ`` keeps the environment of the start even when the process
    changes ``os.environ`` later (as dask's nanny does: it sets ``OMP_NUM_THREADS=1`` in
    the client process before it spawns its workers); elsewhere the values at import.
    """
    try:
        raw = _PROC_ENVIRON.read_bytes()
    except OSError:
        return dict(_ENV_AT_IMPORT)
    out = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.partition(b"=")
        name = key.decode("utf-8", "replace")
        if sep and name in _ENV_VARS:
            out[name] = value.decode("utf-8", "replace")
    return out


def _env_count() -> tuple[str, int] | None:
    environ = _launch_environ()
    for name in _ENV_VARS:
        text = environ.get(name, "").strip()
        if not text:
            continue
        first = text.split(",")[0].strip()  # OpenMP allows a list per nesting level
        if not first.isascii() or not first.isdigit() or int(first) < 1:
            raise ConfigError(
                f"the environment variable {name}={text!r} is not a positive integer; set "
                "it to a thread count (e.g. 1) or unset it to let latentsym choose"
            )
        return name, int(first)
    return None


def choose_threads(requested: int | None = None, *, ranks: int = 1) -> ThreadUse:
    """The thread count of a training run: ``requested``, an override, or the rule.

    Args:
        requested: a set count (``FitOptions.num_threads``); None looks for
            :func:`training_threads`, then ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS``, then
            applies the automatic rule (measuring the load for 0.1 s).
        ranks: processes of this job sharing this machine's cores.

    Raises:
        ConfigError: a count that is not a positive integer (also from the environment).
    """
    before = torch.get_num_threads()
    cores = usable_cores()
    if requested is not None:
        n = _check_count("num_threads", requested)
        return ThreadUse(n, "option", f"set by num_threads / --threads: {n}", cores, None, before)
    override = _OVERRIDE.get()
    if override is not None:
        return ThreadUse(
            override, "training_threads", f"set by training_threads({override})", cores, None,
            before,
        )  # fmt: skip
    env = _env_count()
    if env is not None:
        name, n = env
        return ThreadUse(n, name, f"set by the environment: {name}={n}", cores, None, before)
    share = f", shared by {ranks} ranks" if ranks > 1 else ""
    if cores // max(1, ranks) <= 1:
        reason = f"automatic: {cores} usable core(s){share}: 1 thread"
        return ThreadUse(1, "automatic", reason, cores, None, before)
    other = measure_other_load()
    n = threads_for_load(cores, other or 0.0, ranks)
    load = "no load information" if other is None else f"{other:.2f} busy with other work"
    reason = f"automatic: {cores} usable core(s){share}, {load}: {n} thread(s)"
    return ThreadUse(n, "automatic", reason, cores, other, before)


@contextmanager
def training_threads(n: int | None) -> Iterator[None]:
    """Use ``n`` threads in every training inside the block that sets none itself.

    For code that trains through the jobs (``run_analysis``, ``run_scan``, ...), whose
    options do not carry a thread count; None leaves the choice to the next override or
    the automatic rule. The CLI's ``--threads`` goes through here.
    """
    if n is not None:
        _check_count("threads", n)
    token = _OVERRIDE.set(n)
    try:
        yield
    finally:
        _OVERRIDE.reset(token)


class ThreadControl:
    """Applies a :class:`ThreadUse` around a training run and follows the load.

    ``with ThreadControl(use) as control:`` sets torch's count, and restores the earlier
    one on exit; call :meth:`start` when training starts, :meth:`check` after every batch
    (automatic runs re-check the load there once :data:`RECHECK_SECONDS` have passed; the
    call costs a clock read otherwise) and :meth:`record` for the :class:`ThreadUse` with
    the changes.
    """

    def __init__(self, use: ThreadUse, ranks: int = 1) -> None:
        self.use, self.ranks = use, ranks
        self.threads = use.threads
        self._changes: list[ThreadChange] = []
        self._cpus = _cpu_ids()
        self._mark: _Snapshot | None = None
        self._first_epoch: int | None = None

    def __enter__(self) -> ThreadControl:
        torch.set_num_threads(self.threads)
        _log.info(
            "training with %d CPU thread(s) (%s); torch's count was %d; set num_threads "
            "or --threads to override",
            self.threads, self.use.reason, self.use.torch_default,
        )  # fmt: skip
        if self.use.source == "automatic":
            self._mark = _snapshot(self._cpus)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        torch.set_num_threads(self.use.torch_default)

    def start(self, epoch: int) -> None:
        """Training starts at ``epoch`` (counted from 0); resets the load window."""
        self._first_epoch = epoch + 1
        if self._mark is not None:
            self._mark = _snapshot(self._cpus)

    def check(self, epoch: int, batch: int) -> None:
        """Before batch ``batch`` of epoch ``epoch`` (both from 1): re-choose the count
        from the load since the last check, if that was at least 1 s ago."""
        if self._mark is None or time.perf_counter() - self._mark.wall < RECHECK_SECONDS:
            return
        now = _snapshot(self._cpus)
        other = _other_load(self._mark, now, own=True)
        window, self._mark = now.wall - self._mark.wall, now
        if other is None:
            return
        n = threads_for_load(self.use.cores, other, self.ranks)
        if n == self.threads:
            return
        torch.set_num_threads(n)
        _log.info(
            "training from epoch %d, batch %d with %d CPU thread(s) instead of %d: %.2f "
            "core(s) busy with other work over the last %.1f s",
            epoch, batch, n, self.threads, other, window,
        )  # fmt: skip
        self._changes.append(ThreadChange(epoch, batch, n, round(other, 3)))
        self.threads = n
        # a fresh window: the next check sees the load with the new count
        self._mark = _snapshot(self._cpus)

    def record(self) -> ThreadUse:
        """The :class:`ThreadUse` of the run so far, with its changes."""
        first = self._first_epoch if self._first_epoch is not None else self.use.first_epoch
        other = self.use.other_load
        return replace(
            self.use,
            first_epoch=first,
            other_load=None if other is None else round(other, 3),
            changes=tuple(self._changes),
        )
