#!/usr/bin/env python
"""Chapter 8 of the tour: pretrain a small GPT (``hfext-gpt``) on real text, plot its loss, and sample from it.

    python examples/gpt_pretraining.py                 # 2 layers x 128 wide on head500, 400 steps: ~75 s on 2 cores
    python examples/gpt_pretraining.py --smoke         # a 1-layer toy on 200 lines, 30 steps: seconds (CI)

The recipe (``hfext train gpt`` = ``recipes/pretrain_gpt.py``) trains a byte-level BPE, cuts the text into
``--block_size`` blocks and minimises the causal language-modelling loss -sum_t log p(x_t | x_<t) with AdamW,
warmup and cosine decay; it measures validation perplexity every ``--eval_steps`` against the unigram
perplexity of the same positions. This script reads the training loss the shared loop logs every
``--logging_steps``, draws both curves, and prints the samples the recipe wrote to ``samples.txt``.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from pathlib import Path

import torch

from hfext.cli import main as hfext
from hfext.data import gensim_test_data
from hfext.plots import pyplot, save_figure
from hfext.tour import pictures_dir, quiet


class LossLog(logging.Handler):
    """Collects the shared loop's "step N: {train_loss: ...}" records (logger ``hfext.training.loop``)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.points = []

    def emit(self, record):
        if isinstance(record.args, tuple) and len(record.args) == 2 and isinstance(record.args[1], dict):
            step, logs = record.args
            if "train_loss" in logs:
                self.points.append((step, logs["train_loss"]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", default="./gpt-head500", help="where the model is saved")
    parser.add_argument("--out_dir", default=None, help="where the pictures go (default: docs/images; with --smoke, a temporary folder)")
    parser.add_argument("--max_train_steps", type=int, default=None, help="default 400 (--smoke 30)")
    parser.add_argument("--prompt", default="the war", help="what the samples start with")
    parser.add_argument("--smoke", action="store_true", help="a 1-layer toy on 200 lines, 30 steps (CI)")
    args = parser.parse_args(argv)
    args.out_dir = pictures_dir(args.out_dir, args.smoke)
    # One thread: a model this small gains little from a second one, and on a shared CPU OpenMP's waiting
    # threads made steps 10-50x slower when another torch process was running.
    torch.set_num_threads(1)
    data = gensim_test_data()
    if data is None:
        parser.error("this example trains on gensim's bundled corpus: `pip install gensim`")
    os.makedirs(args.out_dir, exist_ok=True)
    steps = args.max_train_steps or (30 if args.smoke else 400)
    if args.smoke:
        size = ["--n_layer", "1", "--n_head", "2", "--n_embd", "32", "--block_size", "32", "--vocab_size", "500",
                "--max_train_samples", "200", "--validation_split_percentage", "1", "--eval_steps", "15",
                "--logging_steps", "5"]
    else:
        size = ["--n_layer", "2", "--n_head", "4", "--n_embd", "128", "--block_size", "128", "--vocab_size", "4000",
                "--eval_steps", "50", "--logging_steps", "25", "--dropout", "0", "--learning_rate", "2e-3"]
    command = ["train", "gpt", "--train_file", os.path.join(data, "head500.noblanks.cor"), "--output_dir",
               args.output_dir, *size, "--max_train_steps", str(steps), "--num_train_epochs", "100",
               *([] if "--learning_rate" in size else ["--learning_rate", "1e-3"]),
               "--num_warmup_steps", str(steps // 10), "--seed", "0",
               "--per_device_train_batch_size", "16", "--sample_prompt", args.prompt, "--num_samples", "3",
               "--max_new_tokens", "24"]

    loop_logger = logging.getLogger("hfext.training.loop")
    losses, level = LossLog(), loop_logger.level
    loop_logger.addHandler(losses)
    loop_logger.setLevel(logging.INFO)  # the records are INFO whatever the root logger's level
    try:
        with quiet():  # the recipe's progress bars and JSON
            status = hfext(command)
    finally:
        loop_logger.removeHandler(losses)
        loop_logger.setLevel(level)
    if status:
        return status
    import json

    results = json.loads(Path(args.output_dir, "all_results.json").read_text())
    print(f"{results['num_parameters'] / 1e6:.2f}M parameters, {results['train_steps']} steps in "
          f"{results['train_seconds']:.0f} s ({results['train_tokens_per_second']:.0f} tokens/s)")
    for row in results["eval_history"]:
        print(f"  step {row['step']:4d}: validation loss {row['eval_loss']:.3f}, perplexity {row['perplexity']:.1f}")
    print(f"unigram perplexity of the same positions: {results['unigram_perplexity']:.1f}")
    samples = Path(args.output_dir, "samples.txt").read_text().splitlines()
    for text in samples:
        print(f"sample: {text}")

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    ax.plot(*zip(*losses.points), label="training loss (mean per logging interval)")
    ax.plot([r["step"] for r in results["eval_history"]], [r["eval_loss"] for r in results["eval_history"]],
            marker="o", label="validation loss")
    ax.axhline(math.log(results["unigram_perplexity"]), color="gray", linestyle="--", label="unigram model")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy (nats per token)")
    ax.set_title(f"GPT ({results['num_parameters'] / 1e6:.2f}M parameters) on head500\nsample: "
                 f"{samples[0][:70] if samples else ''}", fontsize=9)
    ax.legend()
    ax.grid(alpha=0.3)
    out = os.path.join(args.out_dir, "gpt_loss_curve.png")
    save_figure(fig, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
