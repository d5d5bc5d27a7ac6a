"""The ``latentsym`` command line: a thin layer that parses arguments and calls the library."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from latentsym._version import __version__
from latentsym.errors import LatentsymError

__all__ = ["main"]


def _read_options(args: argparse.Namespace) -> dict[str, object]:
    opts: dict[str, object] = {}
    for key in ("tree", "layout"):
        if getattr(args, key, None):
            opts[key] = getattr(args, key)
    if getattr(args, "collections", None):
        opts["collections"] = [c for c in args.collections.split(",") if c]
    return opts


def _add_read_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("ROOT files")
    g.add_argument("--tree", help="tree or RNTuple to read (default: the only one in the file)")
    g.add_argument(
        "--layout",
        help="branch layout: flat, jagged, edm4hep, nanoaod, latentsym (default: detected)",
    )
    g.add_argument(
        "--collections", help="comma-separated collections, e.g. Muon,Electron or MC or RP"
    )


def _cmd_inspect(args: argparse.Namespace) -> int:
    from latentsym.io.describe import describe, format_description

    for i, path in enumerate(args.files):
        d = describe(path, max_events=args.max_events, **_read_options(args))
        if args.json:
            print(json.dumps(d))
        else:
            if i:
                print()
            print(format_description(d))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from latentsym.errors import ConfigError
    from latentsym.pipeline import run_analysis

    hidden = tuple(int(h) for h in args.hidden.split(",") if h)
    if args.model == "invariant-equivariant":
        given = [
            flag
            for flag, on in (
                ("--transform", args.transform),
                ("--mechanism", args.mechanism),
                ("--mechanism-particle", args.mechanism_particle),
                ("--resume", args.resume),
                ("--dask", args.dask),
                ("--kl-warmup", args.kl_warmup),
            )
            if on
        ]
        if given:
            raise ConfigError(
                f"{', '.join(given)} apply to the plain and mechanism VAEs, not to "
                "--model invariant-equivariant"
            )
        return _run_invariant(args, hidden)
    for flag, value in (("--labelled-fraction", args.labelled_fraction),
                        ("--label-branch", args.label_branch)):  # fmt: skip
        if value is not None:
            raise ConfigError(f"{flag} applies to --model invariant-equivariant only")
    summary = run_analysis(
        args.files,
        args.out,
        topology=args.topology,
        representation=args.features or "cartesian",
        latent_dim=args.latent_dim,
        hidden=hidden,
        beta=args.beta,
        epochs=args.epochs,
        batch_size=args.batch_size,
        kl_warmup_epochs=args.kl_warmup,
        transforms=args.transform or (),
        mechanisms=args.mechanism or (),
        mechanism_particle=args.mechanism_particle,
        seed=args.seed,
        max_events=args.max_events,
        resume=args.resume,
        overwrite=args.overwrite,
        progress=not args.quiet,
        read_options=_read_options(args),
        dask=args.dask,
    )
    if summary.get("rank", 0) != 0:  # another rank of a torchrun job: rank 0 reports
        return 0
    if args.json:
        print(json.dumps({k: summary[k] for k in ("n_relevant", "latent_manifold_dim", "verdict")}))
        return 0
    exp = summary["expected"]
    print(
        f"{summary['input']['topology']}: {summary['input']['n_events_used']} events, "
        f"{len(summary['features']['names'])} {summary['features']['representation']} features"
    )
    print(
        f"expected from the data: d = {exp['manifold_dim']} "
        f"({exp['manifold_dim_approx']} with approximate constraints), linear rank r = "
        f"{exp['linear_rank']}"
    )
    rs = ", ".join(f"{r['R']:.2f}" for r in summary["relevance"])
    print(f"relevance R = 1 - <sigma^2>: {rs}  (threshold {summary['threshold']})")
    print(
        f"relevant directions k = {summary['n_relevant']}; latent intrinsic dimension "
        f"{summary['latent_manifold_dim']:.2f}"
    )
    mech = summary.get("mechanism")
    if mech and mech.get("circular_correlation") is not None:
        print(
            f"azimuthal block: circular correlation with phi({mech['particle']}) "
            f"{mech['circular_correlation']:.4f}"
        )
    if mech and mech.get("shift_slope") is not None:
        print(
            f"boost-z latent: shift slope {mech['shift_slope']:.3f}, correlation with the "
            f"system rapidity {mech['rapidity_correlation']:.4f}"
        )
    verdict = "consistent" if summary["verdict"]["consistent"] else "NOT consistent"
    print(f"verdict: {verdict}. {summary['verdict']['text']}")
    print(f"report: {Path(args.out) / 'report.md'}")
    return 0


def _run_invariant(args: argparse.Namespace, hidden: tuple[int, ...]) -> int:
    from latentsym.pipeline import run_invariant

    s = run_invariant(
        args.files,
        args.out,
        topology=args.topology,
        representation=args.features or "collider",
        latent_dim=args.latent_dim,
        hidden=hidden,
        beta=args.beta,
        epochs=args.epochs,
        batch_size=args.batch_size,
        labelled_fraction=1.0 if args.labelled_fraction is None else args.labelled_fraction,
        label_branch=args.label_branch,
        seed=args.seed,
        max_events=args.max_events,
        overwrite=args.overwrite,
        progress=not args.quiet,
        read_options=_read_options(args),
    )
    m, plain = s["invariant"], s["plain"]
    if args.json:
        keys = ("classifier_accuracy", "recon_error")
        out = {k: m[k] for k in keys}
        out["inv_accuracy"] = m["inv_probe"]["knn"]["accuracy"]
        out["eq_accuracy"] = m["eq_probe"]["knn"]["accuracy"]
        print(json.dumps(out))
        return 0
    inp = s["input"]
    print(
        f"classes {', '.join(inp['classes'])}: {inp['n_train']} training events "
        f"({inp['n_labelled']} labelled), {inp['n_test']} test events"
    )
    print(
        f"class accuracy (kNN on the test events; chance {s['chance_accuracy']:.3f}): "
        f"invariant block {m['inv_probe']['knn']['accuracy']:.3f}, equivariant block "
        f"{m['eq_probe']['knn']['accuracy']:.3f}"
    )
    print(
        f"change under rotations about z: invariant block "
        f"{m['inv_rotation']['relative_change']:.2e}, equivariant block "
        f"{m['eq_rotation']['relative_change']:.3f}"
    )
    recon = f"reconstruction error {m['recon_error']:.4f}"
    if plain:
        recon += f" (plain VAE {plain['recon_error']:.4f})"
    print(recon)
    print(f"report: {Path(args.out) / 'report.md'}")
    return 0


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x]


def _cmd_scan(args: argparse.Namespace) -> int:
    from latentsym.pipeline import run_scan

    d = run_scan(
        args.files,
        args.out,
        topology=args.topology,
        representation=args.features,
        betas=_floats(args.betas),
        seeds=[int(s) for s in args.seeds.split(",") if s],
        latent_dim=args.latent_dim,
        epochs=args.epochs,
        max_events=args.max_events,
        overwrite=args.overwrite,
        progress=not args.quiet,
        read_options=_read_options(args),
    )
    for beta, ks in zip(d["betas"], d["k_table"], strict=True):
        print(f"beta {beta:<8g} relevant count per seed: {ks}")
    p = d["plateau"]
    if p:
        print(f"stable: k = {p['k']} for beta in [{p['beta_min']:g}, {p['beta_max']:g}]")
    else:
        print("no beta range gives a stable count")
    print(f"scan: {Path(args.out) / 'scan.json'}, figure {Path(args.out) / 'scan.png'}")
    return 0


def _cmd_benchmark(args: argparse.Namespace) -> int:
    from latentsym.analysis.benchmark import format_table, run_benchmark
    from latentsym.report.outputs import atomic_write_json

    rows = run_benchmark(
        [d for d in args.datasets.split(",") if d] if args.datasets else None,
        n_events=args.events,
        epochs=args.epochs,
        seed=args.seed,
        quick=args.quick,
        samples_dir=args.samples,
        progress=not args.quiet,
    )
    print(format_table(rows))
    if args.out:
        atomic_write_json(args.out, [r.to_dict() for r in rows])
        print(f"written: {args.out}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from latentsym.analysis.compare import compare_files

    def options(collections: str | None) -> dict[str, object] | None:
        return {"collections": [c for c in collections.split(",") if c]} if collections else None

    d = compare_files(
        args.input,
        model_dir=args.model,
        truth_path=args.truth,
        input_options=options(args.input_collections),
        truth_options=options(args.truth_collections),
        topology=args.topology,
        n_generated=args.n_generated,
        max_events=args.max_events,
        bins=args.bins,
        out_dir=args.out,
        overwrite=args.overwrite,
        generate_from=args.generate_from,
        seed=args.seed,
    )
    for kind in ("exclusive", "inclusive"):
        comp = d.get(kind)
        if not comp:
            continue
        print(f"{kind} comparison (reference: {comp['reference']})")
        for sample, per_obs in comp["comparisons"].items():
            for obs, r in per_obs.items():
                chi2 = "n/a" if r["chi2_ndf"] is None else f"{r['chi2_ndf']:.2f}"
                w1 = "n/a" if r["w1_rel"] is None else f"{r['w1_rel']:.3f}"
                print(f"  {sample:<10} {obs:<18} chi2/ndf {chi2:>8}  W1/std {w1:>7}")
    print(f"comparison: {Path(args.out) / 'comparison.json'}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="latentsym",
        description="Find the symmetries and constraints hidden in collider event samples.",
    )
    parser.add_argument("--version", action="version", version=f"latentsym {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("inspect", help="summarise event files (LHE, LHE.gz, ROOT)")
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
    p.add_argument("--latent-dim", type=int, default=6, help="latent dimension (default 6)")
    p.add_argument("--hidden", default="128,128", help="hidden layer sizes (default 128,128)")
    p.add_argument("--beta", type=float, default=None, help="KL weight (default: the library's)")
    p.add_argument(
        "--epochs", type=int, default=None, help="maximum epochs (default: the library's)"
    )
    p.add_argument("--batch-size", type=int, default=1024, help="batch size (default 1024)")
    p.add_argument(
        "--kl-warmup", type=int, default=0, help="epochs of linear KL warm-up (default 0: none)"
    )
    p.add_argument(
        "--transform",
        action="append",
        help="also test a suspected symmetry: rotate-z[:ANGLE], boost-z:Y or boost-z:LO,HI, "
        "swap:I,J (repeatable)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
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
        "--json", action="store_true", help="print k, the latent dimension and the verdict as JSON"
    )
    _add_read_arguments(p)
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("scan", help="relevant count against beta and seeds, with plateau detection")
    p.add_argument("files", nargs="+", help="event files")
    p.add_argument("--out", required=True, help="output folder for scan.json and scan.png")
    p.add_argument("--topology", help="final state, e.g. 'mu+ mu-' (default: the most common)")
    p.add_argument("--features", default="cartesian", choices=["cartesian", "collider"])
    p.add_argument("--betas", default="0.03,0.1,0.3,1,3", help="comma-separated KL weights")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    p.add_argument("--latent-dim", type=int, default=6)
    p.add_argument("--epochs", type=int, default=None, help="maximum epochs per model")
    p.add_argument("--max-events", type=int, default=None)
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_read_arguments(p)
    p.set_defaults(func=_cmd_scan)

    p = sub.add_parser("benchmark", help="the analysis on data sets whose answer is known")
    p.add_argument("--datasets", help="comma-separated subset (default: all)")
    p.add_argument("--events", type=int, default=20000, help="events per data set")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="2000 events, 60 epochs per data set")
    p.add_argument(
        "--samples", default=None, help="folder with the bundled samples (default: toys)"
    )
    p.add_argument("--out", default=None, help="write the rows as JSON to this file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
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
    p.add_argument("--topology", help="final state, e.g. 'mu+ mu-'")
    p.add_argument("--n-generated", type=int, default=None, help="events to generate")
    p.add_argument(
        "--generate-from",
        choices=("prior", "posterior"),
        default="prior",
        help="latent draws of the generated events: the prior N(0, 1), or the aggregate "
        "posterior of the input events (stays on the data's manifold)",
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
        return int(args.func(args))
    except LatentsymError as exc:
        print(f"latentsym {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"latentsym {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"latentsym {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
