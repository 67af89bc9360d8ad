"""`modellens` command line: parse -> API call -> render. Subcommands live in
`modellens.commands` (`commands.common.run_handler` runs them with one-line errors); heavy
imports happen inside their handlers so `--help` stays fast."""

from __future__ import annotations

import argparse
import sys


class OneLineErrorParser(argparse.ArgumentParser):
    """Usage errors in one line (no usage dump), exit 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


EXAMPLES = """examples:
  modellens profile gpt2                          what a model costs, forward pass
  modellens profile tv:resnet50 --backward --hardware a100,h100
  modellens compare gpt2 bert-base-uncased        side by side
  modellens llm meta-llama/Llama-2-7b-hf          prefill, decode, KV cache, training
  modellens report gpt2 -o gpt2.html              a self-contained HTML report

`modellens COMMAND --help` lists a command's options, the export formats among them
(--format json, csv; html, markdown, latex where the command has them; or -o FILE.ext)."""


def build_parser(prog: str = "modellens") -> argparse.ArgumentParser:
    from . import __version__
    from .commands import register_all

    parser = OneLineErrorParser(
        prog=prog,
        description="What does a PyTorch model cost? Params, FLOPs, memory and roofline, "
                    "from its structure alone (no weights downloaded).",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"modellens {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    register_all(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    return parser


def main(argv: list[str] | None = None) -> int:
    from .commands.common import run_handler

    return run_handler(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
