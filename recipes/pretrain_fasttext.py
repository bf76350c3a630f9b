#!/usr/bin/env python
"""Pretrain fastText (skip-gram or CBOW over words and their character n-grams) with Accelerate.

    python recipes/pretrain_fasttext.py --train_file corpus.txt --output_dir ft --model_type skipgram
    hfext train fasttext --train_file corpus.txt --output_dir ft --minn 3 --maxn 6 --bucket 2000000

    ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 recipes/pretrain_fasttext.py ...

On one CPU process it trains with the fused kernel (fastText's per-pair SGD, deterministic threads);
on GPUs or several processes with autograd (``--backend torch``). The output directory loads with
``AutoModel.from_pretrained(output_dir)`` once ``import hfext`` has run, and gives vectors to
out-of-vocabulary words from their n-grams.
"""

from __future__ import annotations

import argparse
import sys

import hfext  # noqa: F401  (registers the hfext model types with the Auto classes)
from hfext.data import Vocabulary
from hfext.errors import see
from hfext.training.args import add_data_args, add_training_args
from hfext.training.embeddings import (
    add_embedding_args,
    objective_config,
    run_embedding_recipe,
    validate_embedding_args,
    word_counts_with_unk,
)
from hfext.training.fasttext import FastTextTask, load_pretrained_fasttext


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_args(parser)
    add_training_args(parser)
    group = add_embedding_args(parser, "fastText", sample=1e-4)  # fastText's -t
    group.add_argument("--minn", type=int, default=3, help="Shortest character n-gram (fastText's -minn).")
    group.add_argument("--maxn", type=int, default=6, help="Longest character n-gram; 0 disables n-grams (-maxn).")
    group.add_argument("--bucket", type=int, default=2_000_000, help="Hash buckets shared by the n-grams (-bucket).")
    args = parser.parse_args(argv)
    validate_embedding_args(parser, args)
    if args.maxn > 0 and args.minn < 1:
        parser.error(f"--minn must be >= 1 when --maxn > 0, got --minn {args.minn}" + see("pretraining-flags"))
    if args.maxn > 0 and args.minn > args.maxn:
        parser.error(f"--minn ({args.minn}) must be <= --maxn ({args.maxn}); pass --maxn 0 to disable n-grams"
                     + see("pretraining-flags"))
    if args.bucket < 0 or (args.maxn > 0 and args.bucket == 0):
        parser.error(f"--bucket must be >= 1 when n-grams are on (got {args.bucket}); pass --maxn 0 to disable them"
                     + see("pretraining-flags"))
    return args


def build_model(args, vocab: Vocabulary):
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.for_model(
        "hfext-fasttext",
        vocab_size=len(vocab) + 1,  # + the [UNK] row the tokenizer maps unknown words to
        architecture=args.model_type,
        minn=args.minn,
        maxn=args.maxn,
        bucket=args.bucket if args.maxn > 0 else 0,
        **objective_config(args),
    )
    model = AutoModel.from_config(config)
    model.set_vocabulary(vocab.words, word_counts_with_unk(vocab))
    return model


def main(argv=None) -> dict:
    args = parse_args(argv)
    return run_embedding_recipe(args, build_model, load_pretrained_fasttext, FastTextTask, "pretrain_fasttext")


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
