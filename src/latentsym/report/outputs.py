"""The output folder of an analysis: safe creation and atomic writes."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import uproot

from latentsym._atomic import atomic_output
from latentsym._json import json_safe
from latentsym.errors import OutputError

__all__ = [
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "prepare_output_dir",
    "write_latents_root",
]


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    A reader never sees a half-written file, and an interrupted write leaves the old file.
    """
    with atomic_output(path) as tmp:
        Path(tmp).write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Atomically write UTF-8 text (see :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Atomically write ``obj`` as indented JSON (numpy scalars/arrays converted, NaN -> null)."""
    return atomic_write_text(path, json.dumps(json_safe(obj), indent=2) + "\n")


def prepare_output_dir(
    out_dir: str | os.PathLike[str],
    inputs: Iterable[str | os.PathLike[str]] = (),
    *,
    overwrite: bool = False,
    resume: bool = False,
) -> Path:
    """Create (or accept) the output folder of an analysis.

    An existing non-empty folder is refused unless ``overwrite`` (our own files in it are
    replaced, nothing else is touched) or ``resume`` (training continues from the
    checkpoint in it). A folder that is an input file, or an input that lies inside the
    output folder, is refused too: input files are never touched.

    Raises:
        OutputError: naming the folder and the option that allows it.
    """
    out = Path(out_dir).expanduser().resolve()
    for inp in inputs:
        ip = Path(inp).expanduser().resolve()
        if ip == out:
            raise OutputError(
                f"{out_dir}: the output folder is one of the input files; choose another --out"
            )
        if out in ip.parents:
            raise OutputError(
                f"{out_dir}: the input file {inp} lies inside the output folder; choose an --out "
                "folder that holds no input files (inputs are never touched)"
            )
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out_dir}: exists and is not a folder; choose another --out")
    if out.exists() and any(out.iterdir()) and not (overwrite or resume):
        raise OutputError(
            f"{out_dir}: the output folder exists and is not empty. Pass --overwrite to replace "
            "latentsym's files in it, --resume to continue training from its checkpoint, or "
            "choose another --out"
        )
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_latents_root(
    path: str | os.PathLike[str],
    *,
    n_events: int,
    event_index: np.ndarray,
    mu: np.ndarray,
    sigma: np.ndarray,
    file_index: np.ndarray | None = None,
    entry: np.ndarray | None = None,
) -> Path:
    """Write a TTree ``latents`` with one entry per input event, in input order.

    Branches: ``event`` (index over all input events), ``file`` and ``entry`` (the input
    file's index and the event's entry in it, when given), ``used`` (1 if the event had
    the selected final state), ``mu_i`` and ``sigma_i`` for every latent direction ``i``
    (NaN for events that were not used).

    Args:
        n_events: number of input events (entries written).
        event_index: ``[N_used]`` indices of the used events among the input events.
        mu, sigma: ``[N_used, L]`` encoder means and standard deviations.
    """
    n_latent = mu.shape[1]
    used = np.zeros(n_events, dtype=np.int8)
    used[event_index] = 1
    branches: dict[str, np.ndarray] = {"event": np.arange(n_events, dtype=np.int64)}
    if file_index is not None:
        branches["file"] = np.asarray(file_index, dtype=np.int32)
    if entry is not None:
        branches["entry"] = np.asarray(entry, dtype=np.int64)
    branches["used"] = used
    for name, values in (("mu", mu), ("sigma", sigma)):
        for i in range(n_latent):
            col = np.full(n_events, np.nan, dtype=np.float32)
            col[event_index] = values[:, i]
            branches[f"{name}_{i}"] = col
    with atomic_output(path) as tmp, uproot.recreate(tmp) as f:
        f.mktree("latents", {k: v.dtype for k, v in branches.items()}, title="latentsym latents")
        f["latents"].extend(branches)
    return Path(path)
