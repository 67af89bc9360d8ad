"""What every command shares: --format, -o, --quiet and input options, output handling, and
running a handler with one-line errors."""

from __future__ import annotations

import argparse
import contextlib
import contextvars
import functools
import os
import re
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
        check_hub_specs(args)
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


def check_hub_specs(args: argparse.Namespace) -> None:
    """A model spec only the hub has (`model`, `models`) is checked first, with one quick
    request (`sources.hub.require`): an unreachable hub or an unknown id fails in one line
    before torch and transformers are imported."""
    specs = [getattr(args, "model", None)] + list(getattr(args, "models", None) or [])
    specs = [s.strip().removeprefix("hf:") for s in specs if isinstance(s, str)]
    if not any("/" in s for s in specs):
        return
    from ..sources import hub

    for spec in specs:
        if hub.is_hub_id(spec):
            hub.require(spec)


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
                 markdown: bool = False, latex: bool = False, inputs: Iterable = (),
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
        if self.format == "latex" and not latex:
            from ..errors import UsageError

            command = getattr(args, "command", None) or "this command"
            raise UsageError(f"{command} has no LaTeX view here; use --format table|json|csv")
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
        record = _RECORDING.get() is not None  # the result cache keeps what is printed
        console = Console(quiet=self.quiet, emoji=False, record=record)
        return console if console.is_terminal else Console(quiet=self.quiet, width=text_width(),
                                                           emoji=False, record=record)

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
             markdown: Callable[[], str] | None = None,
             latex: Callable[[], str] | None = None) -> None:
        from ..io import to_json, write_text
        from ..report.csv_io import to_csv

        recording = _RECORDING.get()
        if self.format == "table":
            console = self.console()
            table(console)
            if self.path:
                text = console.export_text()
                write_text(self.path, text)
            elif recording is not None:
                text = console.export_text(styles=console.is_terminal)
            if recording is not None:
                recording.emitted(self.format, text, bool(self.path))
            return
        if self.format == "json":
            text = to_json(data())
        elif self.format == "csv":
            text = to_csv(rows())
        elif self.format == "markdown":
            assert markdown is not None
            text = markdown()
        elif self.format == "latex":
            assert latex is not None
            text = latex()
        else:
            assert html is not None
            text = html()
        if recording is not None:
            recording.emitted(self.format, text, bool(self.path))
        if self.path:
            write_text(self.path, text)
            if not self.quiet:
                print(f"wrote {self.path}", file=sys.stderr)
        elif not self.quiet:
            sys.stdout.write(text)


# The result cache (tasks.result_cache): a command whose output is a pure function of its
# inputs is wrapped in `cached`; a repeated run replays the output without importing torch.

_RECORDING: contextvars.ContextVar[_Recording | None] = contextvars.ContextVar(
    "modellens_recording", default=None)
# options that never change an answer: where it goes, how chatty, the cache itself, argparse's
_NOT_KEYED = frozenset({"output", "quiet", "debug", "no_cache", "handler", "model_flag",
                        "offered_formats", "default_format", "infer_format"})
CACHE_NOTE = "modellens: answered from the result cache (--no-cache recomputes)"


def add_cache_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-cache", action="store_true",
                        help="recompute, neither reading nor writing the result cache "
                             "(MODELLENS_NO_CACHE=1 does the same; `modellens cache` shows it)")


class _Recording:
    """What one run of a cached command put out: its output once, in one format."""

    def __init__(self) -> None:
        self.outputs: list[tuple[str, str, bool]] = []

    def emitted(self, fmt: str, text: str, to_path: bool) -> None:
        self.outputs.append((fmt, text, to_path))

    def entry(self, writes: list[tuple[str, bytes]], path: str | None):
        """The cache entry, or None when the run did not put out exactly one answer."""
        from ..tasks.result_cache import Entry

        if len(self.outputs) != 1:
            return None
        fmt, text, to_path = self.outputs[0]
        files = [(p, data) for p, data in writes if not (to_path and p == path)]
        return Entry(fmt, text, to_path, files)


def cached(*inputs: str, paths: tuple[str, ...] = (),
           when: Callable[[argparse.Namespace], bool] | None = None):
    """Wrap a command's `run(args)` whose output is a pure function of its inputs: `inputs`
    are the options naming specs or files (fingerprinted into the key), `paths` the output
    options the run writes other files to (keyed: a replay writes them again), `when` what
    makes this use of the command cacheable (not measured timing, say). A hit writes the
    kept output (JSON marked `"cached": true`, a note on stderr) without running `run`."""
    def wrap(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        @functools.wraps(run)
        def handler(args: argparse.Namespace) -> int:
            key = _cache_key(args, inputs, paths) if _cacheable(args, when) else None
            if key is None:
                return run(args)
            from ..io import recording_writes
            from ..tasks import result_cache

            entry = result_cache.load(key)
            if entry is not None:
                _replay(args, entry, inputs)
                return 0
            recording = _Recording()
            token = _RECORDING.set(recording)
            try:
                with recording_writes() as writes:
                    code = run(args)
            finally:
                _RECORDING.reset(token)
            entry = recording.entry(writes, args.output)
            if code == 0 and entry is not None:
                result_cache.store(key, entry)
            return code

        return handler

    return wrap


def _cacheable(args: argparse.Namespace, when) -> bool:
    from ..tasks.result_cache import enabled

    if getattr(args, "no_cache", False) or not enabled():
        return False
    if args.quiet and not args.output:  # nothing shown, nothing to keep
        return False
    return when is None or when(args)


def _cache_key(args: argparse.Namespace, inputs: tuple[str, ...],
               paths: tuple[str, ...]) -> str | None:
    """The result cache's key for this run, or None when an input has no fingerprint (code,
    a hub id): such a run is never cached."""
    from ..sources.fingerprint import hardware_fingerprint, spec_fingerprint
    from ..tasks.result_cache import make_key

    fingerprints: dict[str, Any] = {}
    for name in inputs:
        value = getattr(args, name, None)
        if value is None:
            continue
        values = value if isinstance(value, list) else [value]
        marks = [hardware_fingerprint(v) if name in ("hardware", "plot_hardware")
                 else spec_fingerprint(v) for v in values]
        if any(mark is None for mark in marks):
            return None
        fingerprints[name] = marks
    options = {k: v for k, v in vars(args).items() if k not in _NOT_KEYED or k in paths}
    return make_key(args.command, options, fingerprints, _view(args.format))


def _view(fmt: str) -> dict[str, Any]:
    """What changes how a table is printed: a terminal (its width, colour settings) or not
    (the piped width). Other formats print the same text anywhere."""
    import shutil

    if fmt != "table":
        return {}
    terminal = sys.stdout.isatty()
    width = shutil.get_terminal_size().columns if terminal else text_width()
    colour = {name: os.environ.get(name) for name in ("NO_COLOR", "FORCE_COLOR", "TERM",
                                                     "COLORTERM")} if terminal else {}
    return {"terminal": terminal, "width": width, "colour": colour}


def _replay(args: argparse.Namespace, entry, inputs: tuple[str, ...]) -> None:
    """Write a kept answer as the run that made it did, refusing the same outputs first."""
    from ..io import check_output, write_bytes, write_text

    Output(args, html=True, markdown=True, inputs=input_paths(args, *inputs))
    for path, _ in entry.files:
        check_output(path, input_paths(args, *inputs))
    for path, data in entry.files:
        write_bytes(path, data)
    text = mark_cached(entry.text) if entry.format == "json" else entry.text
    if entry.to_path:
        write_text(args.output, text)
        if entry.format != "table" and not args.quiet:
            print(f"wrote {args.output}", file=sys.stderr)
    elif not args.quiet:
        sys.stdout.write(text)
    if not args.quiet:
        if entry.files:
            print("wrote " + ", ".join(path for path, _ in entry.files), file=sys.stderr)
        print(CACHE_NOTE, file=sys.stderr)


_SCHEMA_LINE = re.compile(r'\{\n  "schema_version": [^\n]*,\n')


def mark_cached(text: str) -> str:
    """A JSON document with `"cached": true` after its schema_version (anything else as is)."""
    match = _SCHEMA_LINE.match(text)
    if match is None:
        return text
    return text[:match.end()] + '  "cached": true,\n' + text[match.end():]


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
                     ".md": "markdown", ".markdown": "markdown", ".tex": "latex"}


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
                       html: bool = False, markdown: bool = False, latex: bool = False) -> None:
    """--format (table, json, csv; html, markdown and latex only for a command with such a
    view; by default the format -o's extension names), -o, -q."""
    group = parser.add_argument_group("output")
    formats = (FORMATS + (("html",) if html else ()) + (("markdown",) if markdown else ())
               + (("latex",) if latex else ()))
    suffixes = " ".join(s for s, f in EXTENSION_FORMATS.items() if f in formats and s != ".htm"
                        and s != ".markdown")
    group.add_argument("--format", choices=formats, default=None,
                       help=f"output format (default {default_format}, or the one -o's "
                            f"extension names: {suffixes})")
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
