"""Training on several processes (torch DDP under torchrun) equals one-process training."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.distributed as dist
from conftest import sample

from latentsym.errors import ConfigError
from latentsym.features import FeatureMatrix, build
from latentsym.models import (
    Architecture,
    FitOptions,
    MechanismSpec,
    TrainConfig,
    fit,
    fit_mechanism,
)
from latentsym.models.distributed import dist_info, on_main_process, shard_bounds
from latentsym.toys import MUON_PAIR, ee_to_mumu

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()),
    reason="torch.distributed with the gloo backend is not available in this torch build",
)

# Measured on the 2-core development machine (torch 2.13 CPU, 3 epochs, 2 ranks): the
# largest deviation of any weight tensor from the one-process run is 1.6e-7 of that
# tensor's largest value, of the per-epoch losses 5.5e-7 relative, of the latent means
# 6.5e-9 absolute (float32 rounding: the batch is split into two matrix products and two
# means). The bounds below leave a factor of about ten for other CPUs and BLAS builds.
_WEIGHT_REL = 2e-6
_LOSS_REL = 5e-6
_MU_ABS = 1e-7

# Three fits in one torchrun job: "plain" lets fit create (and destroy) the process group,
# "weighted" runs in a group the script made; its batch size leaves a last batch of one
# event, so rank 1 gets an empty slice there; "mechanism" is the mechanism VAE through the
# same loop. Rank 1 must never write checkpoint files.
_SCRIPT = """
import dataclasses, sys
import numpy as np, torch, torch.distributed as dist
import latentsym.models.train as train
import latentsym.models.trainer as trainer
from latentsym.features import build
from latentsym.models import Architecture, FitOptions, TrainConfig, fit, fit_mechanism
from latentsym.models.distributed import dist_info, process_group
from latentsym.toys import MUON_PAIR, ee_to_mumu

seen, writes = [0], [0]
forward = train._Step.forward
def counting_forward(self, x, eps):
    seen[0] += len(x)
    return forward(self, x, eps)
train._Step.forward = counting_forward
write_files = trainer.write_model_files
def counting_write(*args):
    writes[0] += 1
    write_files(*args)
trainer.write_model_files = counting_write

fm = build(ee_to_mumu(2000, seed=5), particle_names=MUON_PAIR)
fmw = dataclasses.replace(fm, weight=np.random.default_rng(1).uniform(0.5, 2.0, 2000))
arch, base = Architecture(hidden=(32, 32)), TrainConfig(epochs=3, seed=3)
def opts(name):
    return FitOptions(progress=False, out_dir=sys.argv[1] + "/" + name)
res = {}
t = fit(fm, arch=arch, train=base.replace(batch_size=255), options=opts("plain"))
res["group_left"] = dist.is_initialized()
with process_group() as info:
    tw = fit(fmw, arch=arch, train=base.replace(batch_size=257, weighted=True),
             options=opts("weighted"))
tm = fit_mechanism(fm, arch=arch, train=base.replace(batch_size=255), options=opts("mechanism"))
for name, m, feats in (("plain", t, fm), ("weighted", tw, fmw), ("mechanism", tm, fm)):
    res[name] = {
        "state": m.model.state_dict(),
        "history": [{k: v for k, v in h.items() if k != "seconds"} for h in m.history],
        "mu_mean": torch.tensor(m.encode(feats)[0].mean(0)),
        "best_epoch": m.best_epoch,
    }
res.update(seen=seen[0], writes=writes[0], rank=info.rank, world_size=info.world_size)
torch.save(res, f"{sys.argv[1]}/rank{info.rank}.pt")
"""


def _torchrun(args: list[str], cwd: Path, timeout: float = 150) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    return subprocess.run(
        cmd + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _single(fm: FeatureMatrix, fmw: FeatureMatrix) -> dict[str, Any]:
    arch, base = Architecture(hidden=(32, 32)), TrainConfig(epochs=3, seed=3)
    one = FitOptions(progress=False, num_threads=1, distributed=False)
    out = {}
    for name, feats, train in (
        ("plain", fm, base.replace(batch_size=255)),
        ("weighted", fmw, base.replace(batch_size=257, weighted=True)),
        ("mechanism", fm, base.replace(batch_size=255)),
    ):
        if name == "mechanism":
            tm = fit_mechanism(
                feats, mechanism=MechanismSpec(), arch=arch, train=train, options=one
            )
        else:
            tm = fit(feats, arch=arch, train=train, options=one)
        out[name] = {
            "state": tm.model.state_dict(),
            "history": [{k: v for k, v in h.items() if k != "seconds"} for h in tm.history],
            "mu_mean": torch.tensor(tm.encode(feats)[0].mean(0)),
            "best_epoch": tm.best_epoch,
        }
    return out


def _history_deviation(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> float:
    worst = 0.0
    for ha, hb in zip(a, b, strict=True):
        for key, va in ha.items():
            vals = zip(va, hb[key], strict=True) if isinstance(va, list) else [(va, hb[key])]
            for x, y in vals:
                if isinstance(x, float):
                    worst = max(worst, abs(x - y) / abs(x))
                else:
                    assert x == y, key
    return worst


def test_shard_bounds_split_every_batch_exactly() -> None:
    for n in range(0, 23):
        for world in range(1, 6):
            bounds = [shard_bounds(n, r, world) for r in range(world)]
            sizes = [hi - lo for lo, hi in bounds]
            assert sizes == [len(s) for s in np.array_split(np.arange(n), world)]
            assert bounds[0][0] == 0
            assert bounds[-1][1] == n
            assert all(bounds[r][1] == bounds[r + 1][0] for r in range(world - 1))
    for bad in ((5, 2, 2), (5, -1, 2), (5, 0, 0), (-1, 0, 1)):
        with pytest.raises(ConfigError, match="cannot split"):
            shard_bounds(*bad)


def test_dist_info_reads_the_torchrun_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not dist.is_initialized()
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(key, raising=False)
    info = dist_info()
    assert (info.rank, info.world_size, info.is_main, info.distributed) == (0, 1, True, False)
    assert on_main_process(lambda: 7) == 7  # no group: simply runs
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("LOCAL_RANK", "0")
    info = dist_info()
    assert (info.rank, info.world_size, info.is_main, info.distributed) == (2, 3, False, True)
    monkeypatch.setenv("RANK", "3")
    with pytest.raises(ConfigError, match="RANK=3 and WORLD_SIZE=3"):
        dist_info()
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(ConfigError, match="RANK='x' is not an integer"):
        dist_info()


def test_torchrun_two_ranks_equal_one_process(tmp_path: Path) -> None:
    (tmp_path / "ddp_fit.py").write_text(_SCRIPT)
    proc = _torchrun([str(tmp_path / "ddp_fit.py"), str(tmp_path)], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]

    fm = build(ee_to_mumu(2000, seed=5), particle_names=MUON_PAIR)
    fmw = dataclasses.replace(fm, weight=np.random.default_rng(1).uniform(0.5, 2.0, 2000))
    single = _single(fm, fmw)
    n_train = 1800
    for r, res in enumerate(ranks):
        assert (res["rank"], res["world_size"]) == (r, 2)
        assert res["group_left"] is False  # fit destroyed the group it created
    # each rank saw its half of every batch (2 plain fits x 3 epochs), not the whole batch
    assert ranks[0]["seen"] + ranks[1]["seen"] == 2 * 3 * n_train
    assert abs(ranks[0]["seen"] - ranks[1]["seen"]) <= 2 * 3 * 8
    assert ranks[0]["writes"] == 3 * 3  # rank 0 checkpoints every epoch, rank 1 never
    assert ranks[1]["writes"] == 0
    for name in ("plain", "weighted", "mechanism"):
        a, b, ref = ranks[0][name], ranks[1][name], single[name]
        for key, value in a["state"].items():  # the ranks hold the very same model
            assert torch.equal(value, b["state"][key]), key
        assert a["history"] == b["history"]
        worst = max(
            float((value - ref["state"][key]).abs().max() / ref["state"][key].abs().max())
            for key, value in a["state"].items()
        )
        hist = _history_deviation(ref["history"], a["history"])
        mu = float((a["mu_mean"] - ref["mu_mean"]).abs().max())
        print(f"{name}: weights {worst:.2g}, losses {hist:.2g}, latent means {mu:.2g}")
        assert worst < _WEIGHT_REL, (name, worst)
        assert hist < _LOSS_REL, (name, hist)
        assert mu < _MU_ABS, (name, mu)
        assert a["best_epoch"] == ref["best_epoch"]
        on_disk = torch.load(tmp_path / name / "model.pt", weights_only=True)
        assert all(torch.equal(on_disk[k], v) for k, v in a["state"].items())


def test_torchrun_cli_run_writes_on_rank_zero(tmp_path: Path) -> None:
    """``torchrun -m latentsym run``: rank 0 writes the outputs, a refusal stops both."""
    args = ["-m", "latentsym", "run", str(sample("ee_mumu_91GeV.lhe.gz")), "--max-events",
            "1000", "--epochs", "2", "--quiet", "--json"]  # fmt: skip
    proc = _torchrun([*args, "--out", str(tmp_path / "ddp")], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count('"n_relevant"') == 1  # only rank 0 reports
    names = sorted(p.name for p in (tmp_path / "ddp").iterdir())
    assert names == sorted(
        ["correlations.png", "dimension_scale.png", "latent_pairs.png", "latents.root", "model",
         "relevance.png", "report.md", "summary.json", "training.png"]
    )  # fmt: skip
    from latentsym.cli import main

    assert main([*args[2:], "--out", str(tmp_path / "one")]) == 0
    ddp = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    one = json.loads((tmp_path / "one" / "summary.json").read_text())
    np.testing.assert_allclose(
        [r["R"] for r in ddp["relevance"]], [r["R"] for r in one["relevance"]], atol=1e-6
    )
    again = _torchrun([*args, "--out", str(tmp_path / "ddp")], cwd=tmp_path)
    assert again.returncode != 0
    # both ranks stop with rank 0's refusal (none waits for the other)
    assert again.stderr.count("the output folder exists and is not empty") == 2


def test_torchrun_cli_mechanism_and_invariant_models(tmp_path: Path) -> None:
    """The mechanism and the invariant/equivariant VAE train under torchrun too (DDP of the
    one loop); rank 0 alone writes, and the mechanism run equals one process."""
    ee = str(sample("ee_mumu_91GeV.lhe.gz"))
    small = ["--max-events", "600", "--epochs", "2", "--hidden", "32,32", "--quiet", "--json"]
    mech = ["-m", "latentsym", "run", ee, "--mechanism", "azimuthal", *small]
    proc = _torchrun([*mech, "--out", str(tmp_path / "mech")], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count('"n_relevant"') == 1  # only rank 0 reports
    from latentsym.cli import main

    assert main([*mech[2:], "--out", str(tmp_path / "mech1")]) == 0
    ddp = json.loads((tmp_path / "mech" / "summary.json").read_text())
    one = json.loads((tmp_path / "mech1" / "summary.json").read_text())
    assert ddp["model"]["type"] == "mechanism-vae"
    np.testing.assert_allclose(
        [r["R"] for r in ddp["relevance"]], [r["R"] for r in one["relevance"]], atol=1e-6
    )
    files = [str(sample(f"ee_{p}_91GeV.lhe.gz")) for p in ("mumu", "tautau", "bb")]
    inv = ["-m", "latentsym", "run", *files, "--model", "invariant-equivariant", *small]
    proc = _torchrun([*inv, "--out", str(tmp_path / "inv")], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count('"inv_accuracy"') == 1
    s = json.loads((tmp_path / "inv" / "summary.json").read_text())
    assert s["model"]["type"] == "invariant-equivariant"
    assert s["model"]["epochs_run"] == 2
