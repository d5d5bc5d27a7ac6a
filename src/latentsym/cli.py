"""The ``latentsym`` command line: a thin layer that parses arguments and calls the library."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

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
