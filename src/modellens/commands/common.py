"""What every command shares: --format, -o, --quiet and input options, output handling, and
running a handler with one-line errors."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import Any, Callable, Iterable

FORMATS = ("table", "json", "csv")  # what every command implements; html where it has a view
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3


def run_handler(args: argparse.Namespace) -> int:
    """Call the command; ModellensError -> one line on stderr, exit 1 (a UsageError, found
    before any work: exit 2, as argparse's); never a bare traceback. Libraries' warnings and
    log records (torch's fake-tensor tracebacks, transformers' advisory messages) are silenced
    unless --debug: every error is one line."""
    from ..errors import ModellensError, UsageError

    if hasattr(args, "model_flag") and not _merge_model_flag(args):
        return 2
    try:
        if hasattr(args, "offered_formats"):
            resolve_format(args)
        with library_noise_silenced(not getattr(args, "debug", False)):
            return args.handler(args)
    except UsageError as exc:
        print(f"modellens: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
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


def add_model_argument(parser: argparse.ArgumentParser, help: str) -> None:
    """The model spec, positional or as `--model SPEC` (seed 003's spelling)."""
    parser.add_argument("model", nargs="?", help=help)
    parser.add_argument("--model", dest="model_flag", metavar="SPEC",
                        help="the model spec, as an option (same as the positional MODEL)")


def _merge_model_flag(args: argparse.Namespace) -> bool:
    """`--model X` into args.model; False (after a one-line usage error) when neither or two
    different specs are given."""
    flag, positional = args.model_flag, args.model
    command = getattr(args, "command", "")
    if flag and positional and flag != positional:
        print(f"modellens {command}: error: two models given ({positional!r} and --model "
              f"{flag!r}); give one", file=sys.stderr)
        return False
    args.model = positional or flag
    if not args.model:
        print(f"modellens {command}: error: a model spec is required (MODEL or --model SPEC)",
              file=sys.stderr)
        return False
    return True


@contextlib.contextmanager
def library_noise_silenced(silence: bool = True):
    """Python warnings and every log record off while a command runs (`silence`), restored
    after; transformers is told to keep quiet too (also in processes the command starts)."""
    import logging
    import os
    import warnings

    if not silence:  # --debug: everything, torch's fake-tensor tracebacks too (capture.run)
        logging.getLogger("modellens").setLevel(logging.DEBUG)
        yield
        return

    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)


class Output:
    """Where and how a command writes its result: --format, -o, --quiet."""

    def __init__(self, args: argparse.Namespace, *, html: bool = False,
                 markdown: bool = False, inputs: Iterable = (),
                 files: Iterable[tuple[str, Any]] = (),
                 dirs: Iterable[tuple[str, Any, Iterable[str]]] = ()) -> None:
        """Refuses, before any work (a UsageError, exit 2): --format html (markdown) where the
        command (or this use of it) has no HTML (markdown) view; an -o, or other output
        `files` ((option, path) pairs) and `dirs` ((option, path, file names)), that would
        overwrite one of the `inputs` (paths or specs as given), name a directory, or lie under
        a file or a read-only directory. Without --format, the format is the one -o's
        extension names (.csv, .json, .html, .md) where the command offers it."""
        from ..io import check_output, check_output_dir

        self.format: str = resolve_format(args)
        self.path: str | None = args.output
        self.quiet: bool = args.quiet
        if self.format == "markdown" and not markdown:
            from ..errors import UsageError

            command = getattr(args, "command", None) or "this command"
            raise UsageError(f"{command} has no markdown view here; use --format table|json|csv")
        if self.format == "html" and not html:
            from ..errors import UsageError

            command = getattr(args, "command", None) or "this command"
            raise UsageError(f"{command} has no HTML view here; use --format table|json|csv")
        inputs = list(inputs)
        check_output(self.path, inputs)
        for option, path in files:
            check_output(path, inputs, option)
        for option, path, names in dirs:
            check_output_dir(path, inputs, option, names)

    def console(self):
        from rich.console import Console

        # no :emoji: codes: a name like ':warning:' is shown as written (markup is escaped by
        # the renderers, report.text)
        if self.path and self.format == "table":
            return Console(record=True, width=text_width(), file=_NullFile(), emoji=False)
        console = Console(quiet=self.quiet, emoji=False)
        return console if console.is_terminal else Console(quiet=self.quiet, width=text_width(),
                                                           emoji=False)

    def progress(self, message: str):
        """A spinner on stderr while `message` work runs (only on a terminal, never with -q)."""
        from ..report.progress import spinner

        return spinner(message, quiet=self.quiet)

    def progress_bar(self, title: str, transient: bool = True):
        """A progress bar on stderr; yields the task's `io.Progress` callback or None."""
        from ..report.progress import progress_bar

        return progress_bar(title, quiet=self.quiet, transient=transient)

    def emit(self, *, table: Callable[[Any], None], data: Callable[[], Any],
             rows: Callable[[], list[dict]], html: Callable[[], str] | None = None,
             markdown: Callable[[], str] | None = None) -> None:
        from ..io import to_json, write_text
        from ..report.csv_io import to_csv

        if self.format == "table":
            console = self.console()
            table(console)
            if self.path:
                write_text(self.path, console.export_text())
            return
        if self.format == "json":
            text = to_json(data())
        elif self.format == "csv":
            text = to_csv(rows())
        elif self.format == "markdown":
            assert markdown is not None
            text = markdown()
        else:
            assert html is not None
            text = html()
        if self.path:
            write_text(self.path, text)
            if not self.quiet:
                print(f"wrote {self.path}", file=sys.stderr)
        elif not self.quiet:
            sys.stdout.write(text)


PIPED_WIDTH = 160  # piped or written to a file, without COLUMNS


def text_width() -> int:
    """The width of output that goes to no terminal: $COLUMNS where set, else PIPED_WIDTH.
    (On a terminal rich asks the terminal, honouring COLUMNS too; NO_COLOR and non-TTY output
    turn colour off in rich itself.)"""
    import os

    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        return PIPED_WIDTH
    return columns if columns >= 20 else PIPED_WIDTH


class _NullFile:
    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        pass


EXTENSION_FORMATS = {".csv": "csv", ".json": "json", ".html": "html", ".htm": "html",
                     ".md": "markdown", ".markdown": "markdown"}


def resolve_format(args: argparse.Namespace) -> str:
    """--format as given; else the format of -o's extension where the command offers it; else
    the command's default. Stored back on `args`."""
    if getattr(args, "format", None) is None:
        offered = getattr(args, "offered_formats", FORMATS)
        suffix = os.path.splitext(args.output or "")[1].lower()
        inferred = EXTENSION_FORMATS.get(suffix) if getattr(args, "infer_format", True) else None
        args.format = inferred if inferred in offered else getattr(args, "default_format", "table")
    return args.format


def add_output_options(parser: argparse.ArgumentParser, default_format: str = "table", *,
                       html: bool = False, markdown: bool = False) -> None:
    """--format (table, json, csv; html and markdown only for a command with such a view; by
    default the format -o's extension names), -o, -q."""
    group = parser.add_argument_group("output")
    formats = FORMATS + (("html",) if html else ()) + (("markdown",) if markdown else ())
    group.add_argument("--format", choices=formats, default=None,
                       help=f"output format (default {default_format}, or the one -o's "
                            "extension names: .csv .json .html .md)")
    parser.set_defaults(default_format=default_format, offered_formats=formats)
    group.add_argument("-o", "--output", metavar="PATH",
                       help="write the result to PATH ('-': standard output; a regular file is "
                            "replaced atomically, keeping its permissions; a device or FIFO is "
                            "written through)")
    group.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")


def sizes(text: str) -> int | list[int]:
    """'128' -> 128; '128,512' -> [128, 512] (for sweeps)."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer or a comma list, got {text!r}")
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"sizes must be positive integers, got {text!r}")
    return values[0] if len(values) == 1 else values


def _integer(text: str, minimum: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be {what}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (batch sizes, lengths, counts of devices)."""
    return _integer(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0 (--top, --depth, --group-size; 0 means none)."""
    return _integer(text, 0, "an integer >= 0")


def add_input_options(parser: argparse.ArgumentParser, seq_len_default: str = "128") -> None:
    """The sample-input options; `seq_len_default` is what --help says --seq-len defaults to."""
    group = parser.add_argument_group("inputs")
    group.add_argument("--batch-size", type=positive_int, default=1,
                       help="batch size (default 1)")
    group.add_argument("--seq-len", type=sizes,
                       help=f"sequence length for text models (default {seq_len_default}); "
                            "`profile` accepts several: 128,512,2048")
    group.add_argument("--allow-longer", action="store_true",
                       help="run a --seq-len beyond a text model's positions (refused otherwise; "
                            "the result says so)")
    group.add_argument("--image-size", type=sizes,
                       help="image side for vision models (default native); `profile` accepts "
                            "several")
    group.add_argument("--dtype", help="cast weights and float inputs: float32, bf16, fp16, ...")
    group.add_argument("--inputs", metavar="FILE.py::FN",
                       help="function returning sample inputs, for FILE.py::FN models")
    group.add_argument("--task", default="auto",
                       help="HF head: auto, base, causal-lm, seq2seq-lm, masked-lm, "
                            "image-classification, architecture")
    add_trust_remote_code(group)


def add_attention_option(parser: argparse.ArgumentParser) -> None:
    """--attention-flops full|causal: the convention attention kernels are counted under."""
    parser.add_argument("--attention-flops", choices=("full", "causal"), default="full",
                        help="attention FLOPs: full S×S (default, torch's convention) or causal "
                             "(only the query-key pairs a causal mask keeps: S(S+1)/2 for "
                             "self-attention, exact with a KV cache; cross-attention stays full)")


TRUST_CHECKPOINT_HELP = "allow a .pt/.bin pickle that needs more than tensors (runs its code)"
TRUST_REMOTE_CODE_HELP = ("let a Hugging Face model whose config names its own Python code "
                          "(auto_map) run that code; without it such a model is refused (never "
                          "prompted for, never run)")


def add_trust_remote_code(parser) -> None:
    parser.add_argument("--trust-remote-code", action="store_true", help=TRUST_REMOTE_CODE_HELP)


def input_paths(args: argparse.Namespace, *names: str) -> list:
    """The values of the input options `names` that are set (for Output's overwrite check)."""
    return [getattr(args, name) for name in names if getattr(args, name, None) is not None]


def chip_names(spec: str | None, option: str = "--hardware") -> list[str | None]:
    """'h100, a100' -> ['h100', 'a100']; None -> [None] (the default chip)."""
    if spec is None:
        return [None]
    names = [name.strip() for name in spec.split(",") if name.strip()]
    if not names:
        from ..errors import HardwareError

        raise HardwareError(f"{option} {spec!r} names no chip")
    return names


def chip_list(names: list[str | None]) -> list:
    """Chips in order, duplicates (aliases of one chip) dropped."""
    from ..tasks.pipeline import resolve_chips

    return resolve_chips(names)


def add_time_model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--time-model", choices=("calibrated", "roofline"), default="calibrated",
        help="calibrated (default): the chip's measured efficiency curves and fixed cost per op "
             "where it has them (A100, H100, a `hardware --measure` YAML), else the roofline; "
             "roofline: datasheet peaks only (the lower bound, always shown beside)")


def require_plotting(option: str = "--plot") -> None:
    """A usage error with the install hint, before any work, when matplotlib is missing."""
    from ..report.weight_plots import require_matplotlib

    try:
        require_matplotlib()
    except ImportError as exc:
        from ..errors import ModellensError

        raise ModellensError(f"{option}: {exc}") from None
