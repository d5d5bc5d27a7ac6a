"""The summaries of the jobs as frozen dataclasses: ``summary.json`` and ``comparison.json``.

Each job returns one of these objects; ``to_dict()`` gives the JSON-safe dictionary
written to disk (keys and values as documented in the README), and
:mod:`latentsym.report.markdown` renders ``report.md`` from the attributes.

- :class:`RunSummary`: ``latentsym run`` (plain and mechanism VAE), from
  :class:`InputSummary`, :class:`FeatureSummary`, :class:`ModelSummary`,
  :class:`PhysicsChecks`, :class:`TimingSummary`, :class:`OutputsSummary` and the analysis
  results themselves (relevance, ledger, latent dimension, naming, verdict, mechanism check).
- :class:`InvariantSummary`: ``latentsym run --model invariant-equivariant``.
- :class:`CompareSummary`: ``latentsym compare``.

The scan's ``scan.json`` is :meth:`latentsym.analysis.scan.ScanResult.to_dict`.

Example:
    The summary of ``latentsym compare`` on 300 events of a bundled sample against its ROOT
    twin (the same events, so chi2 = 0), and its ``comparison.json`` dictionary
    (:func:`latentsym.jobs.run.run_analysis` returns a :class:`RunSummary` alike):

    >>> from latentsym.jobs.compare import compare_files
    >>> from latentsym.jobs.options import CompareOptions
    >>> options = CompareOptions(
    ...     truth_path=SAMPLES / "ee_mumu_91GeV.root", topology="mu+ mu-", max_events=300
    ... )
    >>> s = compare_files(SAMPLES / "ee_mumu_91GeV.lhe.gz", options=options)
    >>> type(s).__name__, s.topology, s.frame, s.model
    ('CompareSummary', 'mu+ mu-', 'rest', None)
    >>> d = s.to_dict()
    >>> list(d)
    ['input', 'model', 'generate_from', 'truth', 'exclusive', 'inclusive', 'notes', 'frame',
     'topology', 'selection', 'weights']
    >>> d["selection"]
    {'inclusive': False, 'ignored': {}}
    >>> d["truth"]
    {'path': '.../samples/ee_mumu_91GeV.root', 'options': {}}
    >>> d["exclusive"]["comparisons"]["truth"]["cos_theta_star"]
    {'chi2': 0.0, 'ndf': 41, 'chi2_ndf': 0.0, 'w1': 0.0, 'w1_rel': 0.0, 'n_reference': 300,
     'n_sample': 300}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from latentsym._json import json_safe
from latentsym.analysis.checks import ConstraintCheck, TangencyCheck
from latentsym.analysis.compare import Comparison
from latentsym.analysis.intrinsic import Baselines, LatentDimension
from latentsym.analysis.invariance import InvariantMetrics, PlainMetrics
from latentsym.analysis.mechanism_check import MechanismCheck
from latentsym.analysis.naming import Naming
from latentsym.analysis.relevance import Relevance
from latentsym.analysis.resolution import DimensionScale, Resolution
from latentsym.analysis.symmetry import SymmetryCheck
from latentsym.analysis.verdict import Verdict
from latentsym.physics.constraints import Ledger

__all__ = [
    "CompareSummary",
    "FeatureSummary",
    "InputSummary",
    "InvariantInputSummary",
    "InvariantModelSummary",
    "InvariantSummary",
    "ModelSummary",
    "OutputsSummary",
    "PhysicsChecks",
    "RunSummary",
    "SampleSource",
    "TimingSummary",
]


@dataclass(frozen=True)
class InputSummary:
    """The events of a run.

    Attributes:
        paths: the input files, as given.
        n_events_read: events read (all final states).
        n_events_used: events with the selected final state.
        topology: its name, e.g. ``"mu+ mu-"``.
        pids: its PDG ids, in the particle order of the features.
        dropped: events left out, by reason.
        sqrt_s: centre-of-mass energy of the first file (GeV; None when unknown).
        inclusive: whether the selection took the named particles and ignored the rest.
        ignored: final-state particles ignored by an inclusive selection, by name.
    """

    paths: tuple[str, ...]
    n_events_read: int
    n_events_used: int
    topology: str
    pids: tuple[int, ...]
    dropped: Mapping[str, int]
    sqrt_s: float | None
    inclusive: bool = False
    ignored: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {
            "paths": list(self.paths),
            "n_events_read": self.n_events_read,
            "n_events_used": self.n_events_used,
            "topology": self.topology,
            "pids": list(self.pids),
            "dropped": dict(self.dropped),
            "sqrt_s": self.sqrt_s,
            "inclusive": self.inclusive,
            "ignored": dict(self.ignored),
        }


@dataclass(frozen=True)
class FeatureSummary:
    """The feature matrix: representation, names, units and the features constant over
    the sample."""

    representation: str
    names: tuple[str, ...]
    units: tuple[str, ...]
    constant: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {
            "representation": self.representation,
            "names": list(self.names),
            "units": list(self.units),
            "constant": list(self.constant),
        }


@dataclass(frozen=True)
class ModelSummary:
    """The trained model of a run.

    Attributes:
        type: the model type (``"vae"``, ``"mechanism-vae"``).
        beta: its KL weight.
        epochs_run: epochs trained (early stopping may end sooner).
        best_epoch: the epoch whose weights were kept.
        seed: the training seed.
        latent_dim: latent directions.
        hidden: hidden-layer widths.
        batch_size: events per optimiser step.
    """

    type: str
    beta: float
    epochs_run: int
    best_epoch: int
    seed: int
    latent_dim: int
    hidden: tuple[int, ...]
    batch_size: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {
            "type": self.type,
            "beta": self.beta,
            "epochs_run": self.epochs_run,
            "best_epoch": self.best_epoch,
            "seed": self.seed,
            "latent_dim": self.latent_dim,
            "hidden": list(self.hidden),
            "batch_size": self.batch_size,
        }


@dataclass(frozen=True)
class PhysicsChecks:
    """Whether a trained model respects the physics (see ``jobs.run.physics_checks``).

    Attributes:
        constraints: the hidden relations on decoded samples (None without a relevant
            direction).
        tangency: the decoder Jacobian along the exact-constraint gradients (idem).
        azimuthal: relevance and latents under random rotations about the beam axis.
        transformations: the same under each suspected symmetry (``--transform``).
    """

    constraints: ConstraintCheck | None
    tangency: TangencyCheck | None
    azimuthal: SymmetryCheck
    transformations: tuple[SymmetryCheck, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (``transformations`` only when some were asked for)."""
        out: dict[str, Any] = {
            "constraints": None if self.constraints is None else self.constraints.to_dict(),
            "tangency": None if self.tangency is None else self.tangency.to_dict(),
            "azimuthal": self.azimuthal.to_dict(),
        }
        if self.transformations:
            out["transformations"] = [t.to_dict() for t in self.transformations]
        return out


@dataclass(frozen=True)
class TimingSummary:
    """Seconds spent reading and training, the training speed in events per second, and
    the CPU threads the training used (``ThreadUse.to_dict()``: count, source, reason and
    changes; None when not recorded)."""

    read_s: float
    train_s: float
    train_events_per_s: float | None
    threads: Mapping[str, Any] | None = None
    prior_train_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (``prior_train_s``: the flow prior's training, None
        without one)."""
        return {
            "read_s": self.read_s,
            "train_s": self.train_s,
            "train_events_per_s": self.train_events_per_s,
            "threads": dict(self.threads) if self.threads is not None else None,
            "prior_train_s": self.prior_train_s,
        }


@dataclass(frozen=True)
class OutputsSummary:
    """The files a job wrote, relative to its output folder (None: not written)."""

    figures: tuple[str, ...]
    model: str = "model/"
    latents: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (``latents`` only when written)."""
        out: dict[str, Any] = {"figures": list(self.figures)}
        if self.latents is not None:
            out["latents"] = self.latents
        out["model"] = self.model
        return out


@dataclass(frozen=True)
class RunSummary:
    """Everything ``latentsym run`` found: ``summary.json`` is :meth:`to_dict`.

    Attributes:
        input: the events.
        features: the feature matrix.
        model: the trained model.
        relevance: the relevance of every latent direction.
        expected: the dimension ledger of the data.
        latent_dimension: the intrinsic dimension of the encoded means on the relevant
            directions (None without a relevant direction).
        naming: the correlation of the shown latents with the physics observables.
        verdict: whether the count agrees with the data.
        checks: the physics checks.
        timing: reading and training times.
        outputs: the files written.
        mechanism: the mechanism check of a mechanism VAE (None otherwise).
        resolution: the dimension predicted at the scale where the latent dimension is
            read, from the approximate constraints' thickness (None when every constraint
            is exact or no direction is relevant); the verdict uses it.
        baselines: PCA, TwoNN and the MLE on the same standardised features.
        dimension_scale: the dimension against scale, measured and predicted, for the
            data and the latents (``dimension_scale.png``).
        weights: the event weights of the used events
            (:func:`~latentsym.analysis.compare.weight_summary`) and ``trained_weighted``;
            None when not recorded.
    """

    input: InputSummary
    features: FeatureSummary
    model: ModelSummary
    relevance: Relevance
    expected: Ledger
    latent_dimension: LatentDimension | None
    naming: Naming
    verdict: Verdict
    checks: PhysicsChecks
    timing: TimingSummary
    outputs: OutputsSummary
    mechanism: MechanismCheck | None = None
    resolution: Resolution | None = None
    baselines: Baselines | None = None
    dimension_scale: DimensionScale | None = None
    weights: Mapping[str, Any] | None = None

    @property
    def n_relevant(self) -> int:
        """Relevant latent directions k."""
        return self.relevance.n_relevant

    @property
    def relevant_dims(self) -> list[int]:
        """Their indices, most relevant first."""
        return self.relevance.relevant_dims

    @property
    def latent_manifold_dim(self) -> float:
        """The latent intrinsic dimension (0 without a relevant direction)."""
        return self.latent_dimension.value if self.latent_dimension else 0.0

    @property
    def latent_names(self) -> dict[str, tuple[str, float]]:
        """Each shown latent and the observable it follows best, with the distance
        correlation."""
        return {b["latent"]: (b["observable"], b["dcor"]) for b in self.naming.to_dict()["best"]}

    def to_dict(self) -> dict[str, Any]:
        """The ``summary.json`` dictionary (JSON-safe)."""
        rel = self.relevance.to_dict()
        out: dict[str, Any] = {
            "input": self.input.to_dict(),
            "features": self.features.to_dict(),
            "model": self.model.to_dict(),
            "relevance": rel["relevance"],
            "n_relevant": self.n_relevant,
            "threshold": self.relevance.threshold,
            "gap": rel["gap"],
            "weak": rel["weak"],
            "relevant_dims": self.relevant_dims,
            "expected": self.expected.to_dict(),
            "latent_manifold_dim": self.latent_manifold_dim,
            "latent_dimension": self.latent_dimension.to_dict() if self.latent_dimension else None,
            "latent_names": {k: list(v) for k, v in self.latent_names.items()},
            "naming": self.naming.to_dict(),
            "verdict": {"consistent": bool(self.verdict.consistent), "text": self.verdict.text},
            "checks": self.checks.to_dict(),
            "timing": self.timing.to_dict(),
            "outputs": self.outputs.to_dict(),
        }
        if self.mechanism is not None:
            out["mechanism"] = self.mechanism.to_dict()
        out["resolution"] = self.resolution.to_dict() if self.resolution else None
        out["baselines"] = self.baselines.to_dict() if self.baselines else None
        if self.dimension_scale is not None:
            out["dimension_scale"] = self.dimension_scale.to_dict()
        if self.weights is not None:
            out["weights"] = dict(self.weights)
        return json_safe(out)


@dataclass(frozen=True)
class InvariantInputSummary:
    """The classes of an invariant/equivariant run.

    Attributes:
        paths: the input files.
        classes: the class names (file stems, or ``"<branch>=<value>"``).
        label_branch: the ROOT branch holding each event's class (None: its file).
        topologies: the final state of each class.
        n_events_per_class: events of each class.
        n_train, n_test: training and held-out events.
        labelled_fraction: the fraction of training labels used, per class.
        n_labelled: training events whose label was used.
    """

    paths: tuple[str, ...]
    classes: tuple[str, ...]
    label_branch: str | None
    topologies: tuple[str, ...]
    n_events_per_class: tuple[int, ...]
    n_train: int
    n_test: int
    labelled_fraction: float
    n_labelled: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {
            "paths": list(self.paths),
            "classes": list(self.classes),
            "label_branch": self.label_branch,
            "topologies": list(self.topologies),
            "n_events_per_class": list(self.n_events_per_class),
            "n_train": self.n_train,
            "n_test": self.n_test,
            "labelled_fraction": self.labelled_fraction,
            "n_labelled": self.n_labelled,
        }


@dataclass(frozen=True)
class InvariantModelSummary:
    """The invariant/equivariant VAE of a run: block sizes, network and training."""

    type: str
    inv_dim: int
    eq_dim: int
    hidden: tuple[int, ...]
    beta: float
    epochs_run: int
    best_epoch: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {
            "type": self.type,
            "inv_dim": self.inv_dim,
            "eq_dim": self.eq_dim,
            "hidden": list(self.hidden),
            "beta": self.beta,
            "epochs_run": self.epochs_run,
            "best_epoch": self.best_epoch,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class InvariantSummary:
    """Everything an invariant/equivariant run found: ``summary.json`` is :meth:`to_dict`.

    Attributes:
        input: the classes and the split.
        features: the feature matrix.
        model: the trained model.
        chance_accuracy: ``1 / K``.
        invariant: the numbers of the model on the held-out events.
        plain: the same for a plain VAE of the same latent size (None: not trained).
        timing: reading and training times.
        outputs: the files written.
    """

    input: InvariantInputSummary
    features: FeatureSummary
    model: InvariantModelSummary
    chance_accuracy: float
    invariant: InvariantMetrics
    plain: PlainMetrics | None
    timing: TimingSummary
    outputs: OutputsSummary

    def to_dict(self) -> dict[str, Any]:
        """The ``summary.json`` dictionary (JSON-safe)."""
        return json_safe(
            {
                "input": self.input.to_dict(),
                "features": self.features.to_dict(),
                "model": self.model.to_dict(),
                "chance_accuracy": self.chance_accuracy,
                "invariant": self.invariant.to_dict(),
                "plain": None if self.plain is None else self.plain.to_dict(),
                "timing": self.timing.to_dict(),
                "outputs": self.outputs.to_dict(),
            }
        )


@dataclass(frozen=True)
class SampleSource:
    """A sample of a comparison: its file and the reading options used."""

    path: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {"path": self.path, "options": dict(self.options)}


@dataclass(frozen=True)
class CompareSummary:
    """What ``latentsym compare`` found: ``comparison.json`` is :meth:`to_dict`.

    Attributes:
        input: the input sample (the reference).
        model: the model folder generated from (None: no model).
        generate_from: where the generated events were drawn from: ``"flow"`` (the learned
            prior), ``"gaussian"`` (N(0, 1)) or ``"posterior"`` (None without a model).
        truth: the truth sample (None: no truth).
        exclusive: the comparison of one final state's observables (None: not made).
        inclusive: the comparison of visible sums, input against truth (None: not made).
        notes: remarks on how the comparison was made.
        frame: the rest frame of the angles of the exclusive comparison (None: not made).
        topology: its final state (None: not made).
        files: the files written into the output folder (None: nothing written).
        weights: the input file's event weights
            (:func:`~latentsym.analysis.compare.weight_summary`: events, negative events,
            their share of the summed |weight|); None when not recorded.
        projected: whether the generated events were moved onto the exact constraints of
            the input's ledger (``compare --project``); None without a model.
        inclusive_selection: whether the exclusive comparison's final state was selected
            inclusively (``compare --inclusive``); None without an exclusive comparison.
        ignored: the final-state particles an inclusive selection left out of the input,
            by name.
    """

    input: SampleSource
    model: str | None
    generate_from: str | None
    truth: SampleSource | None
    exclusive: Comparison | None
    inclusive: Comparison | None
    notes: tuple[str, ...] = ()
    frame: str | None = None
    topology: str | None = None
    files: tuple[str, ...] | None = None
    weights: dict[str, Any] | None = None
    projected: bool | None = None
    inclusive_selection: bool | None = None
    ignored: Mapping[str, int] = field(default_factory=dict)

    def comparisons(self) -> dict[str, Comparison]:
        """The comparisons made, by kind (``"exclusive"``, ``"inclusive"``)."""
        made = {"exclusive": self.exclusive, "inclusive": self.inclusive}
        return {kind: comp for kind, comp in made.items() if comp is not None}

    def to_dict(self) -> dict[str, Any]:
        """The ``comparison.json`` dictionary (JSON-safe; ``frame``, ``topology`` and
        ``selection`` only with an exclusive comparison, ``projected`` only with a model,
        ``files`` only when written)."""
        out: dict[str, Any] = {
            "input": self.input.to_dict(),
            "model": self.model,
            "generate_from": self.generate_from,
            "truth": None if self.truth is None else self.truth.to_dict(),
            "exclusive": None if self.exclusive is None else self.exclusive.to_dict(),
            "inclusive": None if self.inclusive is None else self.inclusive.to_dict(),
            "notes": list(self.notes),
        }
        if self.frame is not None:
            out["frame"] = self.frame
        if self.topology is not None:
            out["topology"] = self.topology
        if self.inclusive_selection is not None:
            out["selection"] = {
                "inclusive": self.inclusive_selection,
                "ignored": dict(self.ignored),
            }
        if self.projected is not None:
            out["projected"] = self.projected
        if self.files is not None:
            out["files"] = list(self.files)
        if self.weights is not None:
            out["weights"] = dict(self.weights)
        return json_safe(out)
