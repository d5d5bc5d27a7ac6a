"""The invariant/equivariant job: several processes, the class of an event is its file.

:func:`class_features` reads the files (or one ROOT file with a label branch) into one
feature matrix with the class of every event; :func:`run_invariant` trains the
:class:`~latentsym.models.InvariantEquivariantVAE` on them and measures it on held-out
events with :mod:`latentsym.analysis.invariance`.

Example:
    Two classes of 300 events each; in the collider features the particle masses alone
    tell them apart:

    >>> from latentsym.analysis.invariance import probe_accuracy
    >>> paths = [SAMPLES / "ee_mumu_91GeV.lhe.gz", SAMPLES / "ee_bb_91GeV.lhe.gz"]
    >>> data = class_features(paths, "collider", max_events=300)
    >>> data.class_names, data.topologies, np.bincount(data.labels).tolist()
    (('ee_mumu_91GeV', 'ee_bb_91GeV'), ('mu+ mu-', 'b~ b'), [300, 300])
    >>> data.features.names[:4]
    ('pt_p1', 'eta_p1', 'phi_p1', 'm_p1')
    >>> probe_accuracy(data.features.values, data.labels).accuracy
    1.0
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import uproot

from latentsym.analysis.invariance import (
    evaluate_invariant,
    evaluate_plain,
    split_classes,
    take_events,
)
from latentsym.errors import ConfigError, TopologyError
from latentsym.features.build import FeatureMatrix, build
from latentsym.features.scaler import constant_mask
from latentsym.io.read import read_events
from latentsym.jobs.options import InvariantRunOptions, ReadOptions
from latentsym.models import FitOptions, InvariantFit, TrainedModel, fit, fit_invariant
from latentsym.models.distributed import on_main_process, process_group
from latentsym.physics.selection import select_final_state, topology_name
from latentsym.plotting import plot_class_latents, save_figure
from latentsym.report.markdown import render_invariant_report
from latentsym.report.outputs import atomic_write_json, atomic_write_text, prepare_output_dir
from latentsym.report.summary import (
    FeatureSummary,
    InvariantInputSummary,
    InvariantModelSummary,
    InvariantSummary,
    OutputsSummary,
    TimingSummary,
)

__all__ = ["ClassData", "class_features", "run_invariant"]


@dataclass(frozen=True, eq=False)
class ClassData:
    """Features of several classes of events.

    Attributes:
        features: the concatenated :class:`FeatureMatrix` (particles ``p1 .. pn``).
        labels: ``[N]`` int64 class index of every event (its file's position).
        class_names: the K class names (file stems).
        topologies: the final state selected in each class, e.g. ``"mu+ mu-"`` (each
            file or label value selects its own most common one unless ``topology`` is
            given; a class spread over files with different ones lists them all).
    """

    features: FeatureMatrix
    labels: np.ndarray
    class_names: tuple[str, ...]
    topologies: tuple[str, ...]


def _stem(path: str | os.PathLike[str]) -> str:
    name = Path(path).name
    for suffix in (".lhe.gz", ".lhe", ".root"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def class_features(
    paths: Sequence[str | os.PathLike[str]],
    representation: str = "cartesian",
    *,
    max_events: int | None = None,
    topology: str | None = None,
    label_branch: str | None = None,
    read: ReadOptions | None = None,
) -> ClassData:
    """Read several files and build one feature matrix with the class of every event.

    Each file (or label value) selects its own final state; the particles are named
    generically ``p1 .. pn`` in the selection's PDG-id order, which for a fermion pair is
    antiparticle first.

    The class of an event is its file, or with ``label_branch`` the value of that branch
    of a ROOT file's tree (one integer per event, e.g. a process id or a truth label; the
    distinct values, sorted, become classes 0 .. K-1, named ``"<branch>=<value>"``).

    Args:
        paths: event files: K >= 2 of them (one class each), or with ``label_branch`` any
            number of ROOT files that together hold at least two label values.
        representation: ``"cartesian"`` or ``"collider"`` (:func:`latentsym.features.build`).
        max_events: events read per file (default: all).
        topology: the final state to select in every file (default: each file's most
            common one; all must have the same number of particles).
        label_branch: name of a per-event integer branch holding the class.
        read: how ROOT files are read (``tree``, ``layout``, ``collections``, ...).

    Returns:
        :class:`ClassData`.

    Raises:
        ConfigError: fewer than two classes; a label branch that is missing, not one
            integer per event, or asked of an LHE file. TopologyError: final states of
            different sizes.
    """
    if len(paths) < 2 and label_branch is None:
        raise ConfigError(
            f"class_features needs at least two files (one per class); got {len(paths)}. "
            "With one file, give the branch that holds each event's class (label_branch)."
        )
    options = (read or ReadOptions()).kwargs()
    momenta: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    tops: dict[int, list[str]] = {}  # final states of each class

    def add(events: Any, label: int, where: str) -> None:
        fs = select_final_state(events, topology)
        if momenta and fs.n_particles != momenta[0].shape[1]:
            first = next(iter(tops.values()))[0]
            raise TopologyError(
                f"{where}: final state {topology_name(fs.pids)!r} has {fs.n_particles} "
                f"particles but the first class has {momenta[0].shape[1]} ({first!r}); the "
                "classes must share the number of final-state particles"
            )
        momenta.append(fs.momenta())
        weights.append(fs.weight)
        labels.append(np.full(fs.n_events, label, dtype=np.int64))
        tops.setdefault(label, []).append(topology_name(fs.pids))

    for k, path in enumerate(paths):
        events, info = read_events(path, max_events=max_events, **options)
        if label_branch is None:
            add(events, k, str(path))
            continue
        raw = _label_values(path, info, label_branch, len(events))
        for v in np.unique(raw).tolist():  # each class selects its own final state
            add(events[raw == v], v, f"{path}, {label_branch} = {v}")
    p = np.concatenate(momenta)
    names = tuple(f"p{i + 1}" for i in range(p.shape[1]))
    fm = build(p, representation, particle_names=names, weight=np.concatenate(weights))
    const = constant_mask(fm.values.astype(np.float64))
    fm = replace(fm, constant=tuple(str(n) for n in np.asarray(fm.names)[const]))
    values, y = np.unique(np.concatenate(labels), return_inverse=True)
    topologies = tuple(", ".join(dict.fromkeys(tops[v])) for v in values.tolist())
    if label_branch is None:
        return ClassData(fm, y.astype(np.int64), tuple(_stem(p_) for p_ in paths), topologies)
    if len(values) < 2:
        raise ConfigError(
            f"{label_branch!r} takes the single value {values[0]} in "
            f"{', '.join(str(p_) for p_ in paths)}; at least two classes are needed"
        )
    class_names = tuple(f"{label_branch}={v}" for v in values.tolist())
    return ClassData(fm, y.astype(np.int64), class_names, topologies)


def _label_values(path: Any, info: Any, branch: str, n_events: int) -> np.ndarray:
    """The per-event integer labels in ``branch`` of the tree ``info`` was read from."""
    if info.format != "root":
        raise ConfigError(
            f"{path}: a label branch ({branch!r}) is read from ROOT files only; give LHE files "
            "one class per file (no label branch)"
        )
    with uproot.open(path) as f:
        tree = f[info.tree]
        keys = tree.keys()
        if branch not in keys:
            listing = ", ".join(sorted(keys)[:20])
            raise ConfigError(
                f"{path}: tree {info.tree!r} has no branch {branch!r}; branches: {listing}"
            )
        raw = tree[branch].array(entry_stop=n_events, library="np")
    if raw.dtype == object or raw.ndim != 1 or raw.dtype.kind not in "iub":
        raise ConfigError(
            f"{path}: branch {branch!r} must hold one integer per event (a class label); it "
            f"holds {raw.dtype} values of shape {raw.shape}"
        )
    return raw.astype(np.int64)


def run_invariant(
    paths: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    options: InvariantRunOptions | None = None,
) -> InvariantSummary | None:
    """Invariant/equivariant VAE on several processes: the class of an event is its file.

    Reads every file (``options.max_events`` per file), selects each file's final state
    (all with the same number of particles, named ``p1 .. pn``), splits the events per
    class into a training and a held-out test part (``options.test_fraction``), trains an
    :class:`~latentsym.models.InvariantEquivariantVAE` (``options.spec.inv_dim`` invariant
    latents, ``arch.latent_dim - inv_dim`` equivariant ones) with
    ``options.spec.labelled_fraction`` of the training labels, and measures on the test
    events: the class accuracy of the invariant block alone and of the equivariant block
    alone (a kNN and a logistic probe; chance is 1/K), the change of each block under
    rotations about the beam axis, and the reconstruction error, next to a plain VAE of the
    same latent size trained on the same events (``options.compare_plain``). With
    ``options.label_branch`` the class of an event is the value of that branch of its ROOT
    file instead (see :func:`class_features`); one file is then enough.

    Writes ``summary.json``, ``report.md``, ``latents.png`` and ``model/`` (a checkpoint
    that ``options.resume`` continues).

    Launched by ``torchrun`` (``WORLD_SIZE > 1``), every process reads the events and
    trains both models together (DDP, see :func:`latentsym.models.fit_invariant`); rank 0
    alone prepares ``out_dir``, evaluates and writes; the other ranks return None.

    Returns:
        The :class:`~latentsym.report.summary.InvariantSummary` (``summary.json`` is its
        ``to_dict()``); None on the other ranks of a torchrun job.

    Raises:
        ConfigError: fewer than two files without a label branch.
        TopologyError: final states with different numbers of particles.

    Example:
        Three processes, 200 events each, a short fit (a second or two) with a tenth of the
        labels: the invariant block carries the class, the equivariant block hardly does
        (chance is 1/3).

        >>> import tempfile
        >>> from latentsym.models import Architecture, InvariantSpec, TrainConfig
        >>> names = ["ee_mumu_91GeV", "ee_tautau_91GeV", "ee_bb_91GeV"]
        >>> options = InvariantRunOptions(
        ...     arch=Architecture(latent_dim=4, hidden=(32, 32)),
        ...     train=TrainConfig(epochs=20, batch_size=64),
        ...     spec=InvariantSpec(labelled_fraction=0.1),
        ...     compare_plain=False,
        ...     max_events=200,
        ...     progress=False,
        ... )
        >>> with tempfile.TemporaryDirectory() as out:
        ...     s = run_invariant([SAMPLES / f"{n}.lhe.gz" for n in names], out, options)
        ...     print(sorted(os.listdir(out)))
        ['latents.png', 'model', 'report.md', 'summary.json']
        >>> s.input.n_events_per_class, s.input.n_train, s.input.n_test, s.input.n_labelled
        ((200, 200, 200), 480, 120, 48)
        >>> round(s.chance_accuracy, 2), s.invariant.inv_probe.logistic.accuracy > 0.8
        (0.33, True)
        >>> s.invariant.eq_probe.logistic.accuracy < 0.6
        True
    """
    opts = options if options is not None else InvariantRunOptions()
    if len(paths) < 2 and opts.label_branch is None:
        raise ConfigError(
            f"the invariant-equivariant model needs at least two files, one per class; got "
            f"{len(paths)}. Or give the ROOT branch that holds each event's class "
            "(--label-branch)."
        )
    with process_group() as info:
        # rank 0 alone prepares the folder (a race otherwise); the others share its failure
        prepared = on_main_process(
            lambda: prepare_output_dir(out_dir, paths, overwrite=opts.overwrite, resume=opts.resume)
        )
        out = prepared if prepared is not None else Path(out_dir).expanduser().resolve()
        trained = _train(paths, out, opts)
        if not info.is_main:  # the other ranks of a torchrun job only train
            return None
    return _evaluate(paths, out, opts, trained)


@dataclass(frozen=True, eq=False)
class _Trained:
    data: ClassData
    split: tuple[np.ndarray, np.ndarray]
    res: InvariantFit
    plain: TrainedModel | None
    read_s: float


def _train(
    paths: Sequence[str | os.PathLike[str]], out: Path, opts: InvariantRunOptions
) -> _Trained:
    """Read the classes, split them, train the invariant model (and the plain one)."""
    t0 = time.perf_counter()
    data = class_features(
        paths,
        opts.representation,
        max_events=opts.max_events,
        topology=opts.topology,
        label_branch=opts.label_branch,
        read=opts.read,
    )
    read_s = time.perf_counter() - t0
    tr, te = split_classes(data.labels, opts.test_fraction, opts.train.seed)
    f_tr = take_events(data.features, tr)
    res = fit_invariant(
        f_tr,
        data.labels[tr],
        spec=opts.spec,
        arch=opts.arch,
        train=opts.train,
        options=FitOptions(
            out_dir=out / "model",
            resume=opts.resume,
            overwrite=opts.overwrite,
            progress=opts.progress,
        ),
        class_names=data.class_names,
    )
    plain = None
    if opts.compare_plain:
        plain = fit(
            f_tr, arch=opts.arch, train=opts.train, options=FitOptions(progress=opts.progress)
        )
    return _Trained(data, (tr, te), res, plain, read_s)


def _evaluate(
    paths: Sequence[str | os.PathLike[str]], out: Path, opts: InvariantRunOptions, t: _Trained
) -> InvariantSummary:
    """Measure both models on the held-out events and write the outputs."""
    data, (tr, te), res, read_s, seed = t.data, t.split, t.res, t.read_s, opts.train.seed
    f_te, y_te = take_events(data.features, te), data.labels[te]
    metrics = evaluate_invariant(res, f_te, y_te, seed=seed)
    plain = evaluate_plain(t.plain, f_te, y_te, seed=seed) if t.plain is not None else None
    mu, _ = res.trained.encode(f_te)
    dims = list(range(opts.arch.latent_dim))
    fig = plot_class_latents(
        mu, y_te, data.class_names, dims[res.model.inv_slice], dims[res.model.eq_slice]
    )
    save_figure(fig, out / "latents.png", overwrite=True)
    counts = np.bincount(data.labels, minlength=len(data.class_names))
    fm = data.features
    summary = InvariantSummary(
        input=InvariantInputSummary(
            paths=tuple(str(p) for p in paths),
            classes=tuple(data.class_names),
            label_branch=opts.label_branch,
            topologies=tuple(data.topologies),
            n_events_per_class=tuple(int(c) for c in counts),
            n_train=len(tr),
            n_test=len(te),
            labelled_fraction=opts.spec.labelled_fraction,
            n_labelled=int(res.labelled.sum()),
        ),
        features=FeatureSummary(
            representation=fm.representation,
            names=tuple(fm.names),
            units=tuple(fm.units),
            constant=tuple(fm.constant),
        ),
        model=InvariantModelSummary(
            type=res.model.model_type,
            inv_dim=opts.spec.inv_dim,
            eq_dim=opts.arch.latent_dim - opts.spec.inv_dim,
            hidden=tuple(opts.arch.hidden),
            beta=res.trained.train_config.beta,
            epochs_run=res.trained.epochs_run,
            best_epoch=res.trained.best_epoch,
            seed=seed,
        ),
        chance_accuracy=1.0 / len(data.class_names),
        invariant=metrics,
        plain=plain,
        timing=TimingSummary(
            read_s=read_s,
            train_s=res.trained.train_seconds,
            train_events_per_s=res.trained.events_per_second,
        ),
        outputs=OutputsSummary(figures=("latents.png",)),
    )
    atomic_write_json(out / "summary.json", summary.to_dict())
    atomic_write_text(out / "report.md", render_invariant_report(summary))
    return summary
