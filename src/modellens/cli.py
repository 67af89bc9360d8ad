"""`modellens` command line: parse -> API call -> render. Subcommands live in
`modellens.commands`; heavy imports happen inside their handlers so `--help` stays fast."""

from __future__ import annotations

import argparse
import sys

EXIT_ERROR = 1
EXIT_INTERNAL = 3


class OneLineErrorParser(argparse.ArgumentParser):
    """Usage errors in one line (no usage dump), exit 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(prog: str = "modellens") -> argparse.ArgumentParser:
    from . import __version__
    from .commands import register_all

    parser = OneLineErrorParser(
        prog=prog,
        description="What does a PyTorch model cost? Params, FLOPs, memory and roofline, "
                    "from its structure alone (no weights downloaded).",
    )
    parser.add_argument("--version", action="version", version=f"modellens {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    register_all(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    return parser


def run_handler(args: argparse.Namespace) -> int:
    """Call the command; ModellensError -> one line on stderr, exit 1; never a bare traceback."""
    from .errors import ModellensError

    try:
        return args.handler(args)
    except ModellensError as exc:
        print(f"modellens: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("modellens: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if getattr(args, "debug", False):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"modellens: internal error: {type(exc).__name__}: {first} "
              "(rerun with --debug for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


def main(argv: list[str] | None = None) -> int:
    return run_handler(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
