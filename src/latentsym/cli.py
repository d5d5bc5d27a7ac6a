"""The ``latentsym`` command line: a thin layer that parses arguments and calls the library."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from latentsym._version import __version__
from latentsym.errors import ConfigError, LatentsymError

if TYPE_CHECKING:  # the jobs import torch and matplotlib: only a command loads them
    from latentsym.jobs import ReadOptions
    from latentsym.models import Architecture, TrainConfig

__all__ = ["main"]


def _collections(text: str | None) -> tuple[str, ...] | None:
    return tuple(c for c in text.split(",") if c) if text else None


def _read_options(args: argparse.Namespace) -> ReadOptions:
    from latentsym.jobs import ReadOptions

    return ReadOptions(
        tree=getattr(args, "tree", None) or None,
        layout=getattr(args, "layout", None) or None,
        collections=_collections(getattr(args, "collections", None)),
        branches=getattr(args, "branches", None) or None,  # text or JSON path: parsed there
    )


def _arch(args: argparse.Namespace) -> Architecture:
    """The network given on the command line; the library's defaults otherwise."""
    from latentsym.models import Architecture

    hidden = getattr(args, "hidden", None)
    given: dict[str, Any] = {
        "latent_dim": getattr(args, "latent_dim", None),
        "hidden": None if hidden is None else tuple(int(h) for h in hidden.split(",") if h),
    }
    return Architecture(**{k: v for k, v in given.items() if v is not None})


def _train(args: argparse.Namespace) -> TrainConfig:
    """The training settings given on the command line; the library's defaults otherwise."""
    from latentsym.models import TrainConfig

    given = {
        "beta": getattr(args, "beta", None),
        "epochs": getattr(args, "epochs", None),
        "batch_size": getattr(args, "batch_size", None),
        "lr": getattr(args, "lr", None),
        "kl_warmup_epochs": getattr(args, "kl_warmup", None),
        "seed": getattr(args, "seed", None),
        "weighted": getattr(args, "weighted", None) or None,
    }
    return TrainConfig(**{k: v for k, v in given.items() if v is not None})


_BRANCHES_HELP = (
    "name the branches (layout mapping): px=lep0_PX,lep1_PX,py=lep0_PY,lep1_PY,pz=...,E=...,"
    "pid=lep0_PID,lep1_PID (status=, weight= optional; one jagged branch per key, or one "
    "scalar branch per object), or a JSON file with that mapping"
)


def _add_read_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("ROOT files")
    g.add_argument("--tree", help="tree or RNTuple to read (default: the only one in the file)")
    g.add_argument(
        "--layout",
        help="branch layout: flat, jagged, edm4hep, nanoaod, latentsym (default: detected)",
    )
    g.add_argument(
        "--collections",
        help="comma-separated collections, e.g. Muon,Electron or MC or RP; for flat "
        "branches (lep0_PX, jet0_PX) the object prefixes, e.g. lep,jet",
    )
    g.add_argument("--branches", metavar="MAP", help=_BRANCHES_HELP)


def _add_threads_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="CPU threads for training (default: OMP_NUM_THREADS when set, else chosen from "
        "the cores other work leaves free and re-checked while training); a set count "
        "reproduces a run bit for bit",
    )


def _dispatch(args: argparse.Namespace) -> int:
    """Run the command, with ``--threads`` (where it has one) for every training in it."""
    if getattr(args, "threads", None) is None:
        return int(args.func(args))
    from latentsym.models.threads import training_threads

    with training_threads(args.threads):
        return int(args.func(args))


def _add_inclusive_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--inclusive",
        action="store_true",
        help="with --topology: keep events that have at least these particles among the "
        "final-state (status 1) ones, take the highest-energy one of each named id and "
        "ignore the rest (showered or radiating events)",
    )


def _add_model_arguments(p: argparse.ArgumentParser) -> None:
    """The network and training options; None leaves the library's default
    (:class:`latentsym.models.Architecture`, :class:`latentsym.models.TrainConfig`)."""
    g = p.add_argument_group("model and training (default: the library's)")
    g.add_argument("--latent-dim", type=int, default=None, help="latent dimension")
    g.add_argument("--hidden", default=None, help="hidden layer sizes, e.g. 128,128")
    g.add_argument("--beta", type=float, default=None, help="KL weight")
    g.add_argument("--epochs", type=int, default=None, help="maximum epochs")
    g.add_argument("--batch-size", type=int, default=None, help="batch size")
    g.add_argument("--lr", type=float, default=None, help="Adam learning rate")
    g.add_argument("--kl-warmup", type=int, default=None, help="epochs of linear KL warm-up")
    g.add_argument("--seed", type=int, default=None, help="random seed")


def _cmd_inspect(args: argparse.Namespace) -> int:
    from latentsym.io.describe import describe, format_description

    for i, path in enumerate(args.files):
        d = describe(path, max_events=args.max_events, **_read_options(args).kwargs())
        if args.json:
            print(json.dumps(d))
        else:
            if i:
                print()
            print(format_description(d))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    if args.model == "invariant-equivariant":
        return _run_invariant(args)
    for flag, value in (("--labelled-fraction", args.labelled_fraction),
                        ("--label-branch", args.label_branch)):  # fmt: skip
        if value is not None:
            raise ConfigError(f"{flag} applies to --model invariant-equivariant only")
    from latentsym.jobs import RunOptions, run_analysis

    summary = run_analysis(
        args.files,
        args.out,
        RunOptions(
            topology=args.topology,
            inclusive=args.inclusive,
            representation=args.features or "cartesian",
            arch=_arch(args),
            train=_train(args),
            transforms=tuple(args.transform or ()),
            mechanisms=tuple(args.mechanism or ()),
            mechanism_particle=args.mechanism_particle,
            max_events=args.max_events,
            read=_read_options(args),
            dask=args.dask,
            resume=args.resume,
            overwrite=args.overwrite,
            progress=not args.quiet,
            flow=not args.no_flow,
            symmetries=args.symmetries,
        ),
    )
    if summary is None:  # another rank of a torchrun job: rank 0 reports
        return 0
    if args.json:
        d = summary.to_dict()
        print(json.dumps({k: d[k] for k in ("n_relevant", "latent_manifold_dim", "verdict")}))
        return 0
    exp, inp, feat = summary.expected, summary.input, summary.features
    print(
        f"{inp.topology}{' (inclusive)' if args.inclusive else ''}: {inp.n_events_used} events, "
        f"{len(feat.names)} {feat.representation} features"
    )
    print(
        f"expected from the data: d = {exp.manifold_dim} "
        f"({exp.manifold_dim_approx} with approximate constraints), linear rank r = "
        f"{exp.linear_rank}"
    )
    rs = ", ".join(f"{r.R:.2f}" for r in summary.relevance.directions)
    print(f"relevance R = 1 - <sigma^2>: {rs}  (threshold {summary.relevance.threshold})")
    print(
        f"relevant directions k = {summary.n_relevant}; latent intrinsic dimension "
        f"{summary.latent_manifold_dim:.2f}"
    )
    mech = summary.mechanism
    if mech and _finite(mech.circular_correlation):
        print(
            f"azimuthal block: circular correlation with phi({mech.particle}) "
            f"{mech.circular_correlation:.4f}"
        )
    if mech and _finite(mech.shift_slope):
        print(
            f"boost-z latent: shift slope {mech.shift_slope:.3f}, correlation with the "
            f"system rapidity {mech.rapidity_correlation:.4f}"
        )
    verdict = "consistent" if summary.verdict.consistent else "NOT consistent"
    print(f"verdict: {verdict}. {summary.verdict.text}")
    print(f"report: {Path(args.out) / 'report.md'}")
    return 0


def _finite(x: float | None) -> bool:
    """False for None and NaN (what summary.json writes as null)."""
    return x is not None and math.isfinite(x)


def _run_invariant(args: argparse.Namespace) -> int:
    given = [
        flag
        for flag, on in (
            ("--transform", args.transform),
            ("--mechanism", args.mechanism),
            ("--mechanism-particle", args.mechanism_particle),
            ("--dask", args.dask),
            ("--inclusive", args.inclusive),
        )
        if on
    ]
    if given:
        raise ConfigError(
            f"{', '.join(given)} apply to the plain and mechanism VAEs, not to "
            "--model invariant-equivariant"
        )
    from latentsym.jobs import InvariantRunOptions, run_invariant
    from latentsym.models import InvariantSpec

    fraction = 1.0 if args.labelled_fraction is None else args.labelled_fraction
    s = run_invariant(
        args.files,
        args.out,
        InvariantRunOptions(
            topology=args.topology,
            representation=args.features or "collider",
            arch=_arch(args),
            train=_train(args),
            spec=InvariantSpec(labelled_fraction=fraction),
            label_branch=args.label_branch,
            max_events=args.max_events,
            read=_read_options(args),
            resume=args.resume,
            overwrite=args.overwrite,
            progress=not args.quiet,
        ),
    )
    if s is None:  # another rank of a torchrun job: rank 0 reports
        return 0
    m, plain = s.invariant, s.plain
    if args.json:
        print(
            json.dumps(
                {
                    "classifier_accuracy": m.classifier_accuracy,
                    "recon_error": m.recon_error,
                    "inv_accuracy": m.inv_probe.knn.accuracy,
                    "eq_accuracy": m.eq_probe.knn.accuracy,
                }
            )
        )
        return 0
    inp = s.input
    print(
        f"classes {', '.join(inp.classes)}: {inp.n_train} training events "
        f"({inp.n_labelled} labelled), {inp.n_test} test events"
    )
    print(
        f"class accuracy (kNN on the test events; chance {s.chance_accuracy:.3f}): "
        f"invariant block {m.inv_probe.knn.accuracy:.3f}, equivariant block "
        f"{m.eq_probe.knn.accuracy:.3f}"
    )
    print(
        f"change under rotations about z: invariant block "
        f"{m.inv_rotation.relative_change:.2e}, equivariant block "
        f"{m.eq_rotation.relative_change:.3f}"
    )
    recon = f"reconstruction error {m.recon_error:.4f}"
    if plain:
        recon += f" (plain VAE {plain.recon_error:.4f})"
    print(recon)
    print(f"report: {Path(args.out) / 'report.md'}")
    return 0


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x]


def _cmd_scan(args: argparse.Namespace) -> int:
    from latentsym.jobs import ScanOptions, run_scan

    result = run_scan(
        args.files,
        args.out,
        ScanOptions(
            topology=args.topology,
            inclusive=args.inclusive,
            representation=args.features,
            betas=tuple(_floats(args.betas)),
            seeds=tuple(int(s) for s in args.seeds.split(",") if s),
            arch=_arch(args),
            train=_train(args),
            max_events=args.max_events,
            read=_read_options(args),
            overwrite=args.overwrite,
            progress=not args.quiet,
        ),
    )
    ids, predicted_ids = result.latent_id_mean, result.predicted_mean
    rows = zip(result.betas, result.k_table.tolist(), ids, predicted_ids, strict=True)
    for beta, ks, latent_id, predicted in rows:
        line = f"beta {beta:<8g} relevant count per seed: {ks}; latent dimension {latent_id:.2f}"
        print(line + (f" (predicted {predicted:.2f})" if predicted == predicted else ""))
    note = result.resolution_note()
    if note:
        print(note)
    p = result.plateau
    if p:
        print(f"stable: k = {p.k} for beta in [{p.beta_min:g}, {p.beta_max:g}]")
    else:
        print("no beta range gives a stable count")
    print(f"scan: {Path(args.out) / 'scan.json'}, figure {Path(args.out) / 'scan.png'}")
    return 0


def _cmd_symmetries(args: argparse.Namespace) -> int:
    from latentsym.analysis.discovery import DiscoveryOptions
    from latentsym.analysis.distribution_symmetry import TwoSampleOptions
    from latentsym.jobs.symmetries import SymmetriesOptions, run_symmetries

    tests = TwoSampleOptions(
        n_events=args.test_events,
        n_permutations=args.permutations,
        rapidity_range=args.rapidity_range,
        alpha=args.alpha,
    )
    result = run_symmetries(
        args.files,
        args.out,
        SymmetriesOptions(
            topology=args.topology,
            inclusive=args.inclusive,
            representation=args.features,
            tests=tests,
            discovery=DiscoveryOptions(tests=tests),
            latent=not args.no_latent,
            model_dir=args.model,
            arch=_arch(args),
            train=_train(args),
            max_events=args.max_events,
            read=_read_options(args),
            overwrite=args.overwrite,
            progress=not args.quiet,
        ),
    )
    alg, dist, disc = result.algebra, result.distribution, result.discovery
    if args.json:
        print(
            json.dumps(
                {
                    "manifold_algebra": list(alg.names),
                    "invariant": list(dist.invariant),
                    "broken": list(dist.broken),
                    "discovered": [g.nearest for g in disc.generators if g.invariant],
                }
            )
        )
        return 0
    print(f"{result.topology}: {result.n_events} events, {result.representation} features")
    print(
        f"manifold algebra (exact constraints): dimension {alg.dimension}, "
        f"{', '.join(alg.names) or 'none'}"
        + (
            f"; largest principal angle to {', '.join(alg.expected)}: "
            f"{alg.max_principal_angle:.1e} rad"
            if alg.expected is not None and alg.max_principal_angle is not None
            else ""
        )
    )
    for c in dist.candidates:
        verdict = "invariant" if c.invariant else "broken"
        moved = f", moved most: {c.shifts[0].observable}" if c.shifts and not c.invariant else ""
        print(f"  {c.name:<10} p = {c.pvalue:.2g}  {verdict}{moved}")
        if c.asymmetry is not None:
            a = c.asymmetry
            print(
                f"    A_FB({a.particle}) from the test {a.from_test:.4f} +- {a.error_test:.4f}, "
                f"counted {a.direct:.4f} +- {a.error_direct:.4f}"
            )
    for i, g in enumerate(disc.generators):
        state = "invariant" if g.invariant else "broken"
        print(f"discovered[{i}]: {g.nearest} (|cos| {g.cosine:.4f}), p = {g.pvalue:.2g}, {state}")
    for lf in result.latent:
        print(
            f"latent view of {lf.generator}: {lf.fraction_in_plane:.3f} of the displacement in "
            f"the relevant plane {list(lf.plane)}"
        )
    print(f"symmetries: {Path(args.out) / 'symmetries.json'}, {Path(args.out) / 'symmetries.md'}")
    return 0


def _cmd_benchmark(args: argparse.Namespace) -> int:
    from latentsym.analysis.benchmark import format_table
    from latentsym.jobs import BenchmarkOptions, run_benchmark
    from latentsym.report.outputs import atomic_write_json

    rows = run_benchmark(
        [d for d in args.datasets.split(",") if d] if args.datasets else None,
        BenchmarkOptions(
            n_events=args.events,
            train=_train(args),
            quick=args.quick,
            samples_dir=args.samples,
            progress=not args.quiet,
        ),
    )
    print(format_table(rows))
    if args.out:
        atomic_write_json(args.out, [r.to_dict() for r in rows])
        print(f"written: {args.out}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from latentsym.jobs import CompareOptions, ReadOptions, compare_files

    truth_collections = _collections(args.truth_collections)
    summary = compare_files(
        args.input,
        args.out,
        CompareOptions(
            model_dir=args.model,
            truth_path=args.truth,
            input_read=ReadOptions(
                collections=_collections(args.input_collections), branches=args.branches or None
            ),
            truth_read=None
            if truth_collections is None and not args.truth_branches
            else ReadOptions(collections=truth_collections, branches=args.truth_branches or None),
            topology=args.topology,
            inclusive=args.inclusive,
            n_generated=args.n_generated,
            max_events=args.max_events,
            bins=args.bins,
            seed=args.seed,
            generate_from=args.generate_from,
            project=args.project,
            overwrite=args.overwrite,
        ),
    )
    for kind, comp in summary.comparisons().items():
        print(f"{kind} comparison (reference: {comp.reference})")
        for sample in comp.samples[1:]:
            for obs in comp.observables:
                r = comp.result(obs, sample)
                if r.fixed:
                    print(
                        f"  {sample:<10} {obs:<18} fixed by an exact constraint: relative spread "
                        f"input {r.spread_reference:.2g}, {sample} {r.spread_sample:.2g}"
                    )
                    continue
                chi2 = f"{r.chi2_ndf:.2f}" if _finite(r.chi2_ndf) else "n/a"
                w1 = f"{r.w1_rel:.3f}" if _finite(r.w1_rel) else "n/a"
                print(f"  {sample:<10} {obs:<18} chi2/ndf {chi2:>8}  W1/std {w1:>7}")
    for note in summary.notes:
        print(f"note: {note}")
    print(f"comparison: {Path(args.out) / 'comparison.json'}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="latentsym",
        description="Find the symmetries and constraints hidden in collider event samples.",
    )
    parser.add_argument("--version", action="version", version=f"latentsym {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("inspect", help="summarise event files (LHE, LHE.gz, HepMC3, ROOT)")
    p.add_argument("files", nargs="+", help="event files")
    p.add_argument("--json", action="store_true", help="one JSON object per file")
    p.add_argument("--max-events", type=int, default=None, help="read at most N events")
    _add_read_arguments(p)
    p.set_defaults(func=_cmd_inspect)

    p = sub.add_parser(
        "run",
        help="the main job: train a VAE on one final state and compare it with the physics",
    )
    p.add_argument("files", nargs="+", help="event files (all with the same final state)")
    p.add_argument(
        "--out", required=True, help="output folder (refused if non-empty, see --overwrite)"
    )
    p.add_argument("--topology", help="final state, e.g. 'mu+ mu-' (default: the most common)")
    p.add_argument(
        "--features",
        default=None,
        choices=["cartesian", "collider"],
        help="feature representation (default: cartesian = E, px, py, pz; collider = pT, "
        "eta, phi, m for --model invariant-equivariant)",
    )
    p.add_argument(
        "--model",
        default="vae",
        choices=["vae", "invariant-equivariant"],
        help="vae (default), or invariant-equivariant for several processes: the class of "
        "an event is its file",
    )
    p.add_argument(
        "--mechanism",
        action="append",
        choices=["azimuthal", "boost-z"],
        help="identify latents through a known transformation: azimuthal (a 2D block that "
        "turns with the azimuth), boost-z (a latent that shifts with the rapidity; pp); "
        "repeatable",
    )
    p.add_argument(
        "--mechanism-particle",
        metavar="NAME",
        help="the particle whose azimuth is the truth for --mechanism azimuthal, e.g. mu- "
        "(default: the first of the final state)",
    )
    p.add_argument(
        "--labelled-fraction",
        type=float,
        default=None,
        help="invariant-equivariant: fraction of each file's training events whose class is "
        "used (default 1)",
    )
    p.add_argument(
        "--label-branch",
        metavar="BRANCH",
        help="invariant-equivariant: a ROOT branch with one integer class label per event "
        "(default: the class of an event is its file)",
    )
    p.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="read the files and build the features on dask: 'auto' starts a local cluster, "
        "tcp://HOST:PORT uses a running scheduler",
    )
    _add_model_arguments(p)
    p.add_argument(
        "--transform",
        action="append",
        help="also test a suspected symmetry: rotate-z[:ANGLE], boost-z:Y or boost-z:LO,HI, "
        "swap:I,J (repeatable)",
    )
    p.add_argument(
        "--max-events",
        type=int,
        default=None,
        help="read at most N events in total (per file with --model invariant-equivariant)",
    )
    p.add_argument(
        "--resume", action="store_true", help="continue training from the checkpoint in --out"
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace latentsym's files in a non-empty --out (nothing else is touched)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--weighted",
        action="store_true",
        help="weight the loss with the signed event weights (NLO samples; refused where the "
        "weighted loss is not bounded below)",
    )
    p.add_argument(
        "--no-flow",
        action="store_true",
        help="do not fit the learned flow prior after the VAE (faster; generated events are "
        "then drawn from N(0, 1))",
    )
    p.add_argument("--symmetries", action="store_true", help="also run `latentsym symmetries`")
    p.add_argument(
        "--json", action="store_true", help="print k, the latent dimension and the verdict as JSON"
    )
    _add_read_arguments(p)
    _add_threads_argument(p)
    _add_inclusive_argument(p)
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("scan", help="relevant count against beta and seeds, with plateau detection")
    p.add_argument("files", nargs="+", help="event files")
    p.add_argument("--out", required=True, help="output folder for scan.json and scan.png")
    p.add_argument("--topology", help="final state, e.g. 'mu+ mu-' (default: the most common)")
    p.add_argument("--features", default="cartesian", choices=["cartesian", "collider"])
    p.add_argument("--betas", default="0.03,0.1,0.3,1,3", help="comma-separated KL weights")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    p.add_argument(
        "--latent-dim", type=int, default=None, help="latent dimension (default: the library's)"
    )
    p.add_argument(
        "--epochs", type=int, default=None, help="maximum epochs per model (default: the library's)"
    )
    p.add_argument("--max-events", type=int, default=None)
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_read_arguments(p)
    _add_threads_argument(p)
    _add_inclusive_argument(p)
    p.set_defaults(func=_cmd_scan)

    p = sub.add_parser(
        "symmetries",
        help="which Lorentz generators and discrete maps keep the constraints and the "
        "distribution; discovered generators and their latent view",
    )
    p.add_argument("files", nargs="+", help="event files")
    p.add_argument("--out", required=True, help="output folder for symmetries.json/.md/.png")
    p.add_argument("--topology", help="final state, e.g. 'mu+ mu-' (default: the most common)")
    p.add_argument("--features", default="cartesian", choices=["cartesian", "collider"])
    p.add_argument(
        "--model", help="a trained model folder (OUT/model of latentsym run) for the latent view"
    )
    p.add_argument(
        "--no-latent", action="store_true", help="no latent view (no model is trained or read)"
    )
    p.add_argument(
        "--test-events", type=int, default=2000, help="events per side of each two-sample test"
    )
    p.add_argument("--permutations", type=int, default=3000, help="permutations per test")
    p.add_argument(
        "--rapidity-range",
        type=float,
        default=3.0,
        help="boosts use a rapidity uniform in (-Y, Y) per event",
    )
    p.add_argument("--alpha", type=float, default=0.01, help="invariant when p > alpha")
    _add_model_arguments(p)
    p.add_argument("--max-events", type=int, default=None)
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the main answers as JSON")
    _add_read_arguments(p)
    _add_threads_argument(p)
    _add_inclusive_argument(p)
    p.set_defaults(func=_cmd_symmetries)

    p = sub.add_parser("benchmark", help="the analysis on data sets whose answer is known")
    p.add_argument("--datasets", help="comma-separated subset (default: all)")
    p.add_argument("--events", type=int, default=20000, help="events per data set")
    p.add_argument("--epochs", type=int, default=None, help="(default: the library's)")
    p.add_argument("--seed", type=int, default=None, help="(default: the library's)")
    p.add_argument("--quick", action="store_true", help="2000 events, 60 epochs per data set")
    p.add_argument(
        "--samples", default=None, help="folder with the bundled samples (default: toys)"
    )
    p.add_argument("--out", default=None, help="write the rows as JSON to this file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_threads_argument(p)
    p.set_defaults(func=_cmd_benchmark)

    p = sub.add_parser(
        "compare", help="histograms of physics observables: input vs generated vs MC truth"
    )
    p.add_argument("input", help="the input event file")
    p.add_argument("--out", required=True, help="output folder for comparison.json and figures")
    p.add_argument("--model", help="model folder (e.g. OUT/model of latentsym run) to generate")
    p.add_argument("--truth", help="a truth file (may be the input file with other collections)")
    p.add_argument("--input-collections", help="collections of the input, e.g. RP")
    p.add_argument("--truth-collections", help="collections of the truth, e.g. MC")
    p.add_argument("--branches", metavar="MAP", help=f"ROOT input: {_BRANCHES_HELP}")
    p.add_argument("--truth-branches", metavar="MAP", help="ROOT truth: as --branches")
    p.add_argument("--topology", help="final state, e.g. 'mu+ mu-'")
    _add_inclusive_argument(p)
    p.add_argument("--n-generated", type=int, default=None, help="events to generate")
    p.add_argument(
        "--generate-from",
        choices=("prior", "flow", "gaussian", "posterior"),
        default="prior",
        help="latent draws of the generated events: the model's prior (default: its learned "
        "flow prior when it has one, else N(0, 1)), the flow, N(0, 1) (gaussian), or the "
        "aggregate posterior of the input events",
    )
    p.add_argument(
        "--project",
        action="store_true",
        help="move the generated events onto the exact constraints of the input (masses, "
        "momentum sums) before comparing; comparison.json records it as 'projected'",
    )
    p.add_argument("--max-events", type=int, default=None)
    p.add_argument("--bins", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_cmd_compare)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``latentsym`` command."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except LatentsymError as exc:
        print(f"latentsym {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # name the file: an OSError may carry none ([Errno 22] ...)
        inputs = getattr(args, "files", None) or [getattr(args, "input", None)]
        where = exc.filename or ", ".join(str(f) for f in inputs if f)
        what = f"{exc.strerror} (errno {exc.errno})" if exc.strerror else str(exc)
        print(f"latentsym {args.command}: error: {where}: {what}" if where else
              f"latentsym {args.command}: error: {what}", file=sys.stderr)  # fmt: skip
        return 2
    except KeyboardInterrupt:
        print(f"latentsym {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
