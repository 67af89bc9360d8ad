"""`modellens cache info|clear`: the result cache that answers a repeated question at once."""

from __future__ import annotations

import argparse

from .common import Output, add_output_options


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "cache", help="the result cache: where it is and how big (info), or empty it (clear)",
        description="profile, matrices, llm and transformer --no-timing keep their answers, "
                    "keyed by the spec, every option that changes the answer, the config's "
                    "bytes and the versions of modellens, torch and the model libraries; a "
                    "repeated run answers from there without importing torch. --no-cache or "
                    "MODELLENS_NO_CACHE=1 turns it off; MODELLENS_CACHE_DIR moves it.")
    p.add_argument("action", choices=("info", "clear"), help="info: where and how big; "
                                                            "clear: remove every kept answer")
    add_output_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..io import document
    from ..report.console.cache import render
    from ..tasks import result_cache

    out = Output(args)
    cleared = args.action == "clear"
    info = (result_cache.clear() if cleared else result_cache.info()).to_dict()
    out.emit(table=lambda console: render(info, console, cleared=cleared),
             data=lambda: document({"cache": info, "cleared": cleared}), rows=lambda: [info])
    return 0
