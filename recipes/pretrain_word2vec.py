#!/usr/bin/env python
"""Pretrain word2vec (skip-gram or CBOW) with Accelerate.

    python recipes/pretrain_word2vec.py --train_file corpus.txt --output_dir w2v --model_type skipgram

    ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 recipes/pretrain_word2vec.py ...

The output directory is an ordinary transformers model directory (config.json, model.safetensors,
tokenizer.json): ``AutoModel.from_pretrained(output_dir)`` loads it once ``import hfext`` has run.
"""

from __future__ import annotations

import argparse
import sys

import torch

import hfext  # noqa: F401  (registers the hfext model types with the Auto classes)
from hfext.data import Vocabulary
from hfext.training.args import add_data_args, add_training_args
from hfext.training.embeddings import (
    add_embedding_args,
    objective_config,
    run_embedding_recipe,
    validate_embedding_args,
    word_counts_with_unk,
)
from hfext.training.word2vec import Word2VecTask, load_pretrained_word2vec


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_args(parser)
    add_training_args(parser)
    add_embedding_args(parser, "word2vec")
    args = parser.parse_args(argv)
    validate_embedding_args(parser, args)
    return args


def build_model(args, vocab: Vocabulary):
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.for_model(
        f"hfext-{args.model_type}",
        vocab_size=len(vocab) + 1,  # + the [UNK] row the tokenizer maps unknown words to
        **objective_config(args),
    )
    model = AutoModel.from_config(config)
    model.set_word_counts(torch.from_numpy(word_counts_with_unk(vocab)))
    return model


def main(argv=None) -> dict:
    args = parse_args(argv)
    return run_embedding_recipe(args, build_model, load_pretrained_word2vec, Word2VecTask, "pretrain_word2vec")


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
