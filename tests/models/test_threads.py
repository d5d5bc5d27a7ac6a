"""Training threads: the automatic rule, its overrides, the record, and results that do not
depend on the count beyond float rounding (and not at all for a fixed count)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import sample

import latentsym.models.threads as threads
from latentsym.cli import main
from latentsym.errors import ConfigError
from latentsym.features import FeatureMatrix, build
from latentsym.io import read_events
from latentsym.models import Architecture, FitOptions, TrainConfig, TrainedModel, fit
from latentsym.models.threads import (
    ThreadControl,
    ThreadUse,
    choose_threads,
    measure_other_load,
    threads_for_load,
    training_threads,
)
from latentsym.physics.selection import select_final_state

SMALL = Architecture(hidden=(32, 32))
TRAIN = TrainConfig(epochs=4, batch_size=256, seed=3)


@pytest.fixture(scope="module")
def ee() -> FeatureMatrix:
    events, _ = read_events(sample("ee_mumu_91GeV.lhe.gz"), max_events=1500)
    return build(select_final_state(events))


ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


@pytest.fixture(autouse=True)
def _no_thread_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "_launch_environ", dict)  # as if started without them


def _started_with(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    monkeypatch.setattr(threads, "_launch_environ", lambda: dict(env))


def _fit(ee: FeatureMatrix, n: int | None) -> TrainedModel:
    return fit(ee, arch=SMALL, train=TRAIN, options=FitOptions(progress=False, num_threads=n))


def _weights(t: TrainedModel) -> dict[str, np.ndarray]:
    return {k: v.numpy().copy() for k, v in t.model.state_dict().items()}


@pytest.mark.parametrize(
    ("cores", "other", "ranks", "expected"),
    [
        (1, 0.0, 1, 1),
        (2, 0.0, 1, 2),
        (2, 0.2, 1, 2),  # background noise: both cores count as free
        (2, 0.3, 1, 1),  # a core more than a quarter busy does not
        (2, 1.0, 1, 1),
        (2, 5.0, 1, 1),  # never fewer than one
        (16, 3.0, 1, 13),
        (16, 0.0, 4, 4),  # four torchrun ranks share the cores
        (16, 14.0, 4, 2),
    ],
)
def test_rule(cores: int, other: float, ranks: int, expected: int) -> None:
    assert threads_for_load(cores, other, ranks) == expected


def test_overrides_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "measure_other_load", lambda: 1.0)
    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    auto = choose_threads()
    assert (auto.threads, auto.source, auto.other_load) == (1, "automatic", 1.0)
    assert auto.reason == "automatic: 2 usable core(s), 1.00 busy with other work: 1 thread(s)"
    _started_with(monkeypatch, OMP_NUM_THREADS="2")
    assert (choose_threads().threads, choose_threads().source) == (2, "OMP_NUM_THREADS")
    with training_threads(3):
        assert (choose_threads().threads, choose_threads().source) == (3, "training_threads")
        assert (choose_threads(4).threads, choose_threads(4).source) == (4, "option")
        with training_threads(None):  # an inner None hands the choice back
            assert choose_threads().source == "OMP_NUM_THREADS"
    assert choose_threads().source == "OMP_NUM_THREADS"


def test_bad_counts_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="num_threads must be a positive integer"):
        choose_threads(0)
    with pytest.raises(ConfigError, match=r"threads must be a positive integer or None; got -1"):
        training_threads(-1).__enter__()
    _started_with(monkeypatch, OMP_NUM_THREADS="two")
    with pytest.raises(ConfigError, match=r"OMP_NUM_THREADS='two' is not a positive integer"):
        choose_threads()
    _started_with(monkeypatch, OMP_NUM_THREADS="2,1")  # one count per OpenMP nesting level
    assert choose_threads().threads == 2


def test_the_environment_of_the_start_counts() -> None:
    """As torch reads it: a value set in os.environ later (dask's nanny sets
    OMP_NUM_THREADS=1 in the client process) is not taken as the user's choice."""
    code = (
        "import os; from latentsym.models.threads import choose_threads as c; "
        "a = c(); os.environ['MKL_NUM_THREADS'] = '1'; b = c(); "
        "print(a.source, a.threads, b.source, b.threads)"
    )
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    run = subprocess.run(
        [sys.executable, "-c", code], env={**env, "OMP_NUM_THREADS": "3"},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert run.stdout.split() == ["OMP_NUM_THREADS", "3", "OMP_NUM_THREADS", "3"]
    if Path("/proc/self/environ").exists():
        code = code.replace("MKL_NUM_THREADS", "OMP_NUM_THREADS")
        run = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert run.stdout.split()[0::2] == ["automatic", "automatic"]


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="needs /proc/stat")
def test_a_busy_process_is_seen() -> None:
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        measure_other_load(0.2)  # let it start
        assert measure_other_load(0.3) >= 0.8  # type: ignore[operator]
    finally:
        busy.kill()
        busy.wait()


def test_automatic_count_follows_the_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """The count is re-chosen from the load of each window, both ways, and recorded."""
    loads = iter([1.1, 1.0, 0.05])
    monkeypatch.setattr(threads, "RECHECK_SECONDS", 0.0)
    monkeypatch.setattr(threads, "_other_load", lambda a, b, own: next(loads))
    use = ThreadUse(2, "automatic", "automatic: test", 2, 0.0, torch.get_num_threads())
    before = torch.get_num_threads()
    with ThreadControl(use) as control:
        control.start(0)
        assert torch.get_num_threads() == 2
        control.check(2, 1)
        assert torch.get_num_threads() == control.threads == 1
        control.check(3, 1)
        control.check(3, 5)
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == before
    rec = control.record()
    assert rec.counts == (2, 1, 2)
    assert [(c.epoch, c.batch, c.threads) for c in rec.changes] == [(2, 1, 1), (3, 5, 2)]
    assert rec.to_dict()["changes"][0] == {
        "epoch": 2, "batch": 1, "threads": 1, "other_load": 1.1
    }  # fmt: skip


def test_a_set_count_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "RECHECK_SECONDS", 0.0)
    monkeypatch.setattr(threads, "_other_load", lambda a, b, own: 5.0)
    with ThreadControl(choose_threads(2)) as control:
        control.start(0)
        control.check(2, 1)
        assert torch.get_num_threads() == 2
    assert control.record().changes == ()


def test_fixed_count_reproduces_a_run_bit_for_bit(
    ee: FeatureMatrix, caplog: pytest.LogCaptureFixture
) -> None:
    before = torch.get_num_threads()
    with caplog.at_level(logging.INFO, logger="latentsym.models.threads"):
        a, b = _fit(ee, 1), _fit(ee, 1)
    assert torch.get_num_threads() == before  # restored
    wa, wb = _weights(a), _weights(b)
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)
    strip = [[{k: v for k, v in r.items() if k != "seconds"} for r in t.history] for t in (a, b)]
    assert strip[0] == strip[1]
    assert a.threads is not None
    assert (a.threads.threads, a.threads.source, a.threads.changes) == (1, "option", ())
    assert "training with 1 CPU thread(s) (set by num_threads / --threads: 1)" in caplog.text


def test_one_and_two_threads_agree_to_float_rounding(ee: FeatureMatrix) -> None:
    """Measured on the main job in benchmarks/bench_threads.py; here a small model."""
    one, two = _fit(ee, 1), _fit(ee, 2)
    w1, w2 = _weights(one), _weights(two)
    assert max(float(np.abs(w1[k] - w2[k]).max()) for k in w1) < 1e-4
    for key in ("train_total", "val_total"):
        assert one.history[-1][key] == pytest.approx(two.history[-1][key], rel=1e-5)
    mu1, _ = one.encode(ee)
    mu2, _ = two.encode(ee)
    np.testing.assert_allclose(mu1, mu2, atol=1e-4)


def test_automatic_fit_records_its_choice(ee: FeatureMatrix) -> None:
    t = _fit(ee, None)
    assert t.threads is not None
    assert t.threads.source == "automatic"
    assert 1 <= t.threads.threads <= t.threads.cores
    assert t.threads.reason.startswith(f"automatic: {t.threads.cores} usable core(s)")
    assert t.threads.to_dict()["first_epoch"] == 1


def test_cli_threads_reaches_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    path = str(sample("ee_mumu_91GeV.lhe.gz"))
    args = ["run", path, "--out", str(tmp_path / "out"), "--quiet", "--max-events", "400"]
    small = ["--epochs", "1", "--hidden", "16,16"]
    assert main([*args, *small, "--threads", "0"]) == 2
    assert "threads must be a positive integer or None; got 0" in capsys.readouterr().err
    with caplog.at_level(logging.INFO, logger="latentsym.models.threads"):
        assert main([*args, *small, "--threads", "1"]) == 0
    assert "training with 1 CPU thread(s) (set by training_threads(1))" in caplog.text
