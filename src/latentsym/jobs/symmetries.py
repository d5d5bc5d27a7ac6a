"""The symmetries job: candidates, manifold algebra, distribution tests, discovery and the
latent view, written to ``symmetries.json``, ``symmetries.md`` and ``symmetries.png``.

:func:`run_symmetries` reads the events, selects one final state, builds the features
and the ledger, then calls :func:`~latentsym.analysis.generators.manifold_algebra`,
:func:`~latentsym.analysis.distribution_symmetry.distribution_symmetries`,
:func:`~latentsym.analysis.discovery.discover_lorentz` and, with a model (trained here
through :func:`latentsym.models.fit`, or loaded from ``options.model_dir``),
:func:`~latentsym.analysis.latent_flow.latent_flow` for every generator found invariant.
:func:`analyse_symmetries` is the same search on a final state already selected, and
:func:`symmetry_section` runs it for ``latentsym run --symmetries`` with the run's model.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from latentsym._json import json_safe
from latentsym.analysis.discovery import Discovery, discover_lorentz
from latentsym.analysis.distribution_symmetry import (
    DistributionSymmetries,
    distribution_symmetries,
)
from latentsym.analysis.generators import (
    ManifoldAlgebra,
    expected_span,
    manifold_algebra,
)
from latentsym.analysis.latent_flow import LatentFlow, latent_flow
from latentsym.analysis.relevance import relevance
from latentsym.errors import ConfigError, TopologyError
from latentsym.features import Scaler, build
from latentsym.io.schema import RunInfo
from latentsym.jobs.options import SymmetriesOptions
from latentsym.jobs.reading import read_many
from latentsym.models import FitOptions, TrainedModel, fit, load_model
from latentsym.physics.constraints import dimension_ledger
from latentsym.physics.selection import FinalState, select_final_state, topology_name
from latentsym.plotting.save import save_figure
from latentsym.plotting.symmetries import plot_symmetries
from latentsym.report.outputs import atomic_write_json, atomic_write_text, prepare_output_dir

__all__ = [
    "SymmetriesOptions",
    "SymmetriesResult",
    "analyse_symmetries",
    "render_symmetries",
    "run_symmetries",
    "symmetry_section",
    "write_symmetries",
]

_E_MINUS, _LEPTONS = 11, (11, 13, 15)


@dataclass(frozen=True)
class SymmetriesResult:
    """Everything ``latentsym symmetries`` measured (``symmetries.json`` is ``to_dict()``).

    Attributes:
        paths: the input files.
        topology: the final state; n_events: its events; representation: the features.
        ledger: the exact constraints and the manifold dimension (``exact``, ``d``).
        algebra: the manifold algebra.
        distribution: the distribution tests.
        discovery: the learned generators.
        latent: the latent view of each invariant generator (empty without a model).
        relevant_dims: the model's relevant latent directions (empty without a model).
        asymmetry: ``(particle, axis)`` whose forward-backward asymmetry is read, or None.
        timing: seconds per stage and the peak traced memory (MiB).
    """

    paths: tuple[str, ...]
    topology: str
    n_events: int
    representation: str
    ledger: dict[str, Any]
    algebra: ManifoldAlgebra
    distribution: DistributionSymmetries
    discovery: Discovery
    latent: tuple[LatentFlow, ...]
    relevant_dims: tuple[int, ...]
    asymmetry: tuple[str, float] | None
    timing: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return json_safe(asdict(self))


def _asymmetry_spec(fs: FinalState, infos: Sequence[RunInfo]) -> tuple[int, float] | None:
    """The negative lepton's forward-backward asymmetry about the e- beam, for e+e-."""
    beams = infos[0].beams if infos else None
    if not beams or sorted(beams) != [-_E_MINUS, _E_MINUS]:
        return None
    index = next((i for i, pid in enumerate(fs.pids) if pid in _LEPTONS), None)
    if index is None:
        return None
    axis = 1.0 if beams[0] == _E_MINUS else -1.0  # beam A moves along +z
    return index, axis


def _model(opts: SymmetriesOptions, fs: FinalState, out: os.PathLike[str]) -> TrainedModel:
    features = build(fs, opts.representation)
    if opts.model_dir is not None:
        trained = load_model(opts.model_dir)
        if trained.feature_names != features.names:
            raise ConfigError(
                f"{opts.model_dir}: the model's features {list(trained.feature_names)} differ "
                f"from this sample's {list(features.names)}; give a model trained on the same "
                "final state and representation, or leave out --model to train one"
            )
        return trained
    return fit(
        features,
        arch=opts.arch,
        train=opts.train,
        options=FitOptions(out_dir=os.path.join(out, "model"), overwrite=True,
                           progress=opts.progress),
    )  # fmt: skip


def run_symmetries(
    paths: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    options: SymmetriesOptions | None = None,
) -> SymmetriesResult:
    """Find the symmetries of a sample: writes ``symmetries.json``, ``symmetries.md`` and
    ``symmetries.png`` (and ``model/`` when a model is trained here).

    Returns:
        The :class:`SymmetriesResult`.

    Example:
        On 600 events with small tests and no model (a few seconds):

        >>> import tempfile
        >>> from latentsym.analysis import DiscoveryOptions, TwoSampleOptions
        >>> small = TwoSampleOptions(n_events=300, n_permutations=300)
        >>> options = SymmetriesOptions(
        ...     max_events=600, latent=False, tests=small, discovery=DiscoveryOptions(tests=small)
        ... )
        >>> with tempfile.TemporaryDirectory() as out:
        ...     res = run_symmetries([SAMPLES / "ee_mumu_91GeV.lhe.gz"], out, options)
        ...     print(sorted(os.listdir(out)))
        ['symmetries.json', 'symmetries.md', 'symmetries.png']
        >>> res.algebra.names, res.discovery.generators[0].nearest
        (('J_x', 'J_y', 'J_z'), 'J_z')
    """
    opts = options if options is not None else SymmetriesOptions()
    out = prepare_output_dir(out_dir, paths, overwrite=opts.overwrite)
    tracemalloc.start()
    t0 = time.perf_counter()
    events, infos, *_ = read_many(paths, max_events=opts.max_events, read=opts.read)
    fs = select_final_state(events, opts.topology, inclusive=opts.inclusive)
    if fs.n_events < 20:
        raise TopologyError(
            f"only {fs.n_events} events have the final state {topology_name(fs.pids)!r}; "
            "at least 20 are needed. Choose another --topology or more events."
        )
    timing = {"read_s": time.perf_counter() - t0}
    trained = None
    if opts.latent:
        t = time.perf_counter()
        trained = _model(opts, fs, out)
        timing["model_s"] = time.perf_counter() - t
    result = analyse_symmetries(fs, infos, paths, opts, trained, timing=timing, started=t0)
    write_symmetries(result, out)
    return result


def symmetry_section(
    fs: FinalState,
    infos: Sequence[RunInfo],
    paths: Sequence[str | os.PathLike[str]],
    trained: TrainedModel,
    out: os.PathLike[str],
    representation: str = "cartesian",
) -> str:
    """The symmetry search of ``latentsym run --symmetries``: default settings, the run's
    model for the latent view; writes ``symmetries.json``, ``symmetries.md`` and
    ``symmetries.png`` into ``out`` and returns the report section."""
    opts = SymmetriesOptions(representation=representation, progress=False)
    result = analyse_symmetries(fs, infos, paths, opts, trained)
    write_symmetries(result, out)
    return render_symmetries(result)


def write_symmetries(result: SymmetriesResult, out: os.PathLike[str]) -> None:
    """Write ``symmetries.json``, ``symmetries.md`` and ``symmetries.png`` into ``out``."""
    folder = Path(out)
    atomic_write_json(folder / "symmetries.json", result.to_dict())
    atomic_write_text(folder / "symmetries.md", render_symmetries(result))
    fig = plot_symmetries(result.algebra, result.distribution, result.discovery, result.latent)
    save_figure(fig, folder / "symmetries.png", overwrite=True)
    plt.close(fig)


def analyse_symmetries(
    fs: FinalState,
    infos: Sequence[RunInfo],
    paths: Sequence[str | os.PathLike[str]],
    options: SymmetriesOptions | None = None,
    trained: TrainedModel | None = None,
    timing: dict[str, float] | None = None,
    started: float | None = None,
) -> SymmetriesResult:
    """The measurements of :func:`run_symmetries` on a selected final state (writes nothing).

    Args:
        fs: the events; infos: their run information (the beams name the asymmetry).
        paths: the input files (recorded).
        options: the settings (``model_dir``, ``arch``, ``train`` and ``latent`` are not
            used: the latent view is taken with ``trained`` when one is given).
        trained: the model of the latent view (None: no latent view).
        timing: seconds already spent (extended in place); started: their start.
    """
    opts = options if options is not None else SymmetriesOptions()
    timing = timing if timing is not None else {}
    t0 = started if started is not None else time.perf_counter()
    tracing = not tracemalloc.is_tracing()
    if tracing:
        tracemalloc.start()
    features = build(fs, opts.representation)
    momenta = fs.momenta()
    ledger = dimension_ledger(momenta, fs.names, features.representation)
    timing["features_s"] = time.perf_counter() - t0 - sum(timing.values())
    scaler = trained.scaler if trained is not None else Scaler.fit(
        features.values, names=features.names, constant=features.constant
    )  # fmt: skip
    t = time.perf_counter()
    algebra_opts = opts.algebra
    if algebra_opts.expected is None:
        algebra_opts = algebra_opts.replace(expected=expected_span(ledger))
    algebra = manifold_algebra(momenta, fs.names, ledger, scaler.scale, algebra_opts)
    timing["algebra_s"] = time.perf_counter() - t
    t = time.perf_counter()
    spec = _asymmetry_spec(fs, infos)
    dist = distribution_symmetries(
        momenta, fs.names, scaler, features.representation, algebra, opts.tests, spec
    )
    timing["distribution_s"] = time.perf_counter() - t
    t = time.perf_counter()
    disc = discover_lorentz(
        momenta, fs.names, scaler, features.representation, algebra.gram_array, opts.discovery
    )
    timing["discovery_s"] = time.perf_counter() - t
    flows: list[LatentFlow] = []
    dims: list[int] = []
    if trained is not None:
        t = time.perf_counter()
        mu, sigma = trained.encode(features)
        dims = relevance(mu, sigma=sigma).relevant_dims
        invariant = [c for c in dist.candidates if c.invariant and c.coefficients is not None]
        gens = [(c.name, c.coefficients) for c in invariant]
        gens += [(f"found[{i}]", g.coefficients) for i, g in enumerate(disc.generators)
                 if g.invariant]  # fmt: skip
        for name, coeffs in gens:
            assert coeffs is not None
            flows.append(latent_flow(trained, momenta, fs.names, coeffs, dims, name=name))
        timing["latent_s"] = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    if tracing or started is not None:
        tracemalloc.stop()
    timing["total_s"] = time.perf_counter() - t0
    timing["peak_traced_mib"] = peak / 2**20
    return SymmetriesResult(
        paths=tuple(str(p) for p in paths),
        topology=topology_name(fs.pids),
        n_events=fs.n_events,
        representation=features.representation,
        ledger={
            "exact": ledger.names("exact") + [f"const({n})" for n in ledger.constant_features],
            "approximate": ledger.names("approximate"),
            "manifold_dim": ledger.manifold_dim,
        },
        algebra=algebra,
        distribution=dist,
        discovery=disc,
        latent=tuple(flows),
        relevant_dims=tuple(dims),
        asymmetry=(fs.names[spec[0]], spec[1]) if spec is not None else None,
        timing=timing,
    )


def _p(p: float) -> str:
    return f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}"


def render_symmetries(result: SymmetriesResult) -> str:
    """The report section (markdown) of a :class:`SymmetriesResult`."""
    alg, dist, disc = result.algebra, result.distribution, result.discovery
    kept = ", ".join(f"{n} (|cos| {c:.4f})" for n, c in zip(alg.names, alg.cosines, strict=True))
    lines = [
        "## Symmetries",
        "",
        f"{result.topology}: {result.n_events} events, {result.representation} features.",
        "",
        "### Manifold symmetries (exact constraints)",
        "",
        f"Exact constraints: {', '.join(result.ledger['exact']) or 'none'}.",
        f"The generators that keep them span a {alg.dimension}-dimensional algebra: "
        f"{kept or 'none'}.",
        "Singular values of the normalised constraint rows (ascending): "
        + ", ".join(f"{s:.2e}" for s in alg.singular_values)
        + f"; threshold {alg.threshold:.1e}.",
    ]
    if alg.expected is not None:
        angle = alg.max_principal_angle
        lines.append(
            f"Expected span ({', '.join(alg.expected)}): largest principal angle "
            + (f"{angle:.2e} rad." if angle is not None else "undefined (dimensions differ).")
        )
    lines += [
        "",
        "### Distribution symmetries (two-sample tests)",
        "",
        f"Energy distance on {dist.n_events} events per side; KS tests on "
        f"{dist.n_per_side} per side (all events); odd-part test of the discrete candidates "
        f"on all events; invariant when p > {dist.alpha}.",
        "",
        "| candidate | kind | keeps constraints | energy distance | effect size | p (energy) "
        "| max KS (observable) | p (KS) | odd part (observable) | p (odd) | p | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in dist.candidates:
        ks = c.observable_test
        kept = "" if c.in_manifold_algebra is None else ("yes" if c.in_manifold_algebra else "no")
        lines.append(
            f"| {c.name} | {c.kind} | {kept} | {c.test.statistic:.3g} | {c.test.effect_size:.2g} | "
            f"{_p(c.test.pvalue)} | "
            + (f"{ks.statistic:.3f} ({ks.observable}) | {_p(ks.pvalue)}" if ks else "- | -")
            + (
                f" | {c.odd_test.odd_part:.3g} +- {c.odd_test.error_odd_part:.2g} "
                f"({c.odd_test.observable}) | {_p(c.odd_test.pvalue)}"
                if c.odd_test is not None and c.odd_test.n_observables
                else " | - | -"
            )
            + f" | {_p(c.pvalue)} | {'invariant' if c.invariant else 'broken'} |"
        )
    for c in dist.candidates:
        if c.asymmetry is not None:
            a = c.asymmetry
            lines.append(
                f"\nA_FB({a.particle}) from the {c.name} test: {a.from_test:.4f} +- "
                f"{a.error_test:.4f}; counted directly: {a.direct:.4f} +- {a.error_direct:.4f} "
                f"(pull {a.pull:.2f})."
            )
    lines += ["", "### Discovered generators", ""]
    for i, g in enumerate(disc.generators):
        lines.append(
            f"- found[{i}]: nearest {g.nearest} (|cos| {g.cosine:.4f}), loss {g.loss:.2e}, "
            f"p = {_p(g.pvalue)}: {'invariant' if g.invariant else 'broken (search stops)'}"
        )
    if result.latent:
        lines += ["", "### Latent view", "",
                  f"Relevant latent directions: {list(result.relevant_dims)}.", ""]  # fmt: skip
        for lf in result.latent:
            eig = ", ".join(f"{r:.2f}{i:+.2f}i" for r, i in lf.plane_eigenvalues)
            lines.append(
                f"- {lf.generator}: {lf.fraction_relevant:.3f} of the latent displacement in the "
                f"relevant directions, {lf.fraction_in_plane:.3f} in the plane {list(lf.plane)}; "
                f"induced map on that plane has eigenvalues {eig} (fit residual "
                f"{lf.residual:.2f})"
            )
    t = result.timing
    lines += ["", f"Time {t['total_s']:.1f} s, peak traced memory {t['peak_traced_mib']:.0f} MiB.",
              ""]  # fmt: skip
    return "\n".join(lines)
