"""`modellens llm SPEC`: prefill vs decode with a KV cache, memory fit, training cost."""

from __future__ import annotations

import argparse

from .common import (
    Output,
    add_attention_option,
    add_cache_option,
    add_model_argument,
    add_output_options,
    add_trust_remote_code,
    cached,
    chip_list,
    chip_names,
    input_paths,
    non_negative_int,
    positive_int,
    require_plotting,
)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "llm", help="LLM inference (prefill, decode with KV cache) and training cost",
        description="Time-to-first-token, decode tokens/s as the context grows, KV cache, what "
                    "fits in memory, and training memory/FLOPs, for a HF causal LM on a chip.")
    add_model_argument(p, "HF causal LM: catalog id, hub id, directory or config.json")
    p.add_argument("--prompt-len", type=positive_int,
                   help="prompt tokens (default 2048, fewer where the model's positions hold "
                        "less)")
    p.add_argument("--gen-len", type=positive_int, default=256, help="generated tokens (default 256)")
    p.add_argument("--batch-size", type=positive_int, default=1, help="sequences in flight (default 1)")
    p.add_argument("--dtype", default="bf16", help="weights/activations dtype (default bf16)")
    p.add_argument("--kv-dtype", help="KV cache storage: fp8, int8, bf16 (default --dtype)")
    p.add_argument("--weight-dtype", help="weight-only quantization of matmul weights: int8, "
                                          "int4, nf4, fp8")
    p.add_argument("--group-size", type=non_negative_int, default=128,
                   help="quantization group size (one fp16 scale per group; default 128)")
    p.add_argument("--hardware", metavar="CHIPS",
                   help="chip (default a100) or YAML file; a comma list (a100,h100) adds a "
                        "row per chip (JSON: `chips`)")
    p.add_argument("--gpus", type=positive_int, default=1, help="GPUs (memory capacity and training)")
    p.add_argument("--tp", type=positive_int, default=1, help="tensor-parallel degree")
    p.add_argument("--pp", type=positive_int, default=1, help="pipeline-parallel degree")
    p.add_argument("--optimizer", default="adamw",
                   help="adamw, adam, adam8bit, sgd, sgd-nomomentum, adafactor")
    p.add_argument("--mfu", type=float, default=0.4, help="model FLOPs utilization for training "
                                                          "throughput (default 0.4)")
    p.add_argument("--train-seq-len", type=positive_int, help="training sequence length (default prompt)")
    p.add_argument("--allow-longer", action="store_true",
                   help="estimate a prompt + generation beyond the model's positions (refused "
                        "otherwise; the result says so)")
    p.add_argument("--no-training", action="store_true", help="skip the training estimate")
    p.add_argument("--execution", choices=("fused", "eager"), default="fused",
                   help="fused (default): kernels as serving engines run them (norms, rotary, "
                        "activations fused between matmuls); eager: every aten op its own kernel, "
                        "as eager PyTorch runs the model")
    add_attention_option(p)
    p.add_argument("--plot", metavar="PNG", help="plot decode tokens/s vs batch size per chip")
    p.add_argument("--plot-hardware", default="a100,h100,h200,mi300x,l4",
                   help="chips for --plot (comma list)")
    add_trust_remote_code(p)
    add_output_options(p, markdown=True, latex=True)
    add_cache_option(p)
    p.set_defaults(handler=run)


@cached("model", "hardware", when=lambda args: not args.plot)  # a --plot PNG: computed
def run(args: argparse.Namespace) -> int:
    out = Output(args, markdown=True, latex=True, inputs=input_paths(args, "model", "hardware"),
                 files=[("--plot", args.plot)] if args.plot else [])
    from ..report.console.llm import render_llm
    from ..report.csv_rows import decode_rows
    from ..report.latex import document_latex
    from ..report.markdown import document_markdown
    from ..report.sections import llm_document
    from ..tasks.llm import llm_cost

    if args.plot:
        require_plotting()
    plot_chips = chip_list(chip_names(args.plot_hardware, "--plot-hardware")) if args.plot else []
    with out.progress(f"capturing prefill, decode and training of {args.model}"):
        report = llm_cost(
            args.model, prompt_len=args.prompt_len, gen_len=args.gen_len,
            batch_size=args.batch_size, dtype=args.dtype, kv_dtype=args.kv_dtype,
            weight_dtype=args.weight_dtype, group_size=args.group_size,
            hardware=chip_names(args.hardware),
            gpus=args.gpus, tp=args.tp, pp=args.pp, optimizer=args.optimizer, mfu=args.mfu,
            train_seq_len=args.train_seq_len, training=not args.no_training,
            allow_longer=args.allow_longer, trust_remote_code=args.trust_remote_code,
            execution=args.execution, attention_flops=args.attention_flops,
        )
    if args.plot:
        from ..report.plots import decode_throughput_figure, save

        save(decode_throughput_figure(report, plot_chips), args.plot)
    out.emit(table=lambda console: render_llm(report, console), data=report.to_dict,
             rows=lambda: decode_rows(report),
             markdown=lambda: document_markdown(llm_document(report)),
             latex=lambda: document_latex(llm_document(report)))
    return 0
