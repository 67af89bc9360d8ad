"""`modellens diff A B`: per-tensor weight drift between two checkpoints."""

from __future__ import annotations

import argparse

from .common import TRUST_CHECKPOINT_HELP, Output, add_output_options, input_paths, non_negative_int


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "diff", help="per-tensor weight drift between two checkpoints",
        description="Compare checkpoint B against A tensor by tensor: relative L2 change "
                    "‖B−A‖/‖A‖, cosine similarity, max |B−A|; keys only in one side; shape "
                    "and dtype mismatches. Largest drift first; tensors are streamed in chunks.")
    p.add_argument("a", metavar="A", help="reference checkpoint (file or HF directory)")
    p.add_argument("b", metavar="B", help="checkpoint to compare with A")
    p.add_argument("--top", type=non_negative_int, default=20, metavar="N",
                   help="rows in the drift table (default 20; 0: all)")
    p.add_argument("--trust-checkpoint", action="store_true", help=TRUST_CHECKPOINT_HELP)
    add_output_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    out = Output(args, inputs=input_paths(args, "a", "b"))
    from ..report.console.weights import diff_renderables
    from ..tasks.model_info import compare_checkpoints

    with out.progress_bar("comparing tensors") as progress:
        diff = compare_checkpoints(args.a, args.b, trust_checkpoint=args.trust_checkpoint,
                                   progress=progress)

    def table(console) -> None:
        for part in diff_renderables(diff, args.top):
            console.print(part)

    out.emit(table=table, data=diff.to_dict, rows=lambda: [t.to_dict() for t in diff.tensors])
    return 0
