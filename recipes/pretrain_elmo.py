#!/usr/bin/env python
"""Pretrain ELMo's bidirectional language model with Accelerate.

    python recipes/pretrain_elmo.py --train_file corpus.txt --output_dir elmo --preset small

    ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no \
        --dynamo_backend no --main_process_port 0 recipes/pretrain_elmo.py --train_file corpus.txt --output_dir elmo

One sentence a line, words split on whitespace. The output vocabulary (the softmax Theta_s) is the corpus's
words seen ``--min_count`` times plus ``</S>``, ``<S>``, ``<UNK>``; the inputs are characters, so every word
gets a vector, seen or not. The loss is the lecture's joint NLL: forward + backward, each a mean per token;
the forward and backward perplexities on held-out sentences (``--validation_file``, or
``--validation_split_percentage`` of the lines) are reported and saved in ``all_results.json``.

The output directory holds an ``ElmoForBiLM`` and its tokenizer: ``AutoModel.from_pretrained(output_dir)``
gives the ``ElmoModel`` (every layer + a fresh scalar mix) for downstream use once ``import hfext`` has run.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys

import numpy as np
import torch

import hfext  # noqa: F401  (registers the hfext model types with the Auto classes)
from hfext.data import Vocabulary, read_lines
from hfext.errors import see
from hfext.loading import load_pretrained, load_tokenizer_for
from hfext.training.args import (
    add_data_args,
    add_training_args,
    finish_run,
    setup_accelerator,
    train_with_args,
    validate_common_args,
)
from hfext.training.elmo import ElmoSentences, ElmoTask, evaluate_perplexity
from hfext.training.embeddings import corpus_lines

logger = logging.getLogger(__name__)

PRESETS = ("small", "medium", "original")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_args(parser)
    add_training_args(parser)
    group = parser.add_argument_group("ELMo")
    group.add_argument("--preset", choices=PRESETS, default="small", help="AllenNLP's sizes: 13.6M / 28.0M / 93.6M.")
    group.add_argument("--projection_dim", type=int, default=None, help="Override the preset's projection size.")
    group.add_argument("--lstm_dim", type=int, default=None, help="Override the preset's LSTM cell size.")
    group.add_argument("--num_layers", type=int, default=None, help="Override the preset's LSTM layers (2).")
    group.add_argument("--n_highway", type=int, default=None, help="Override the preset's highway layers.")
    group.add_argument("--filters", default=None, help='Override the char CNN, JSON: "[[1, 32], [2, 64]]".')
    group.add_argument("--char_embedding_dim", type=int, default=None)
    group.add_argument("--cell_clip", type=float, default=3.0, help="Memory-cell clip (0 disables).")
    group.add_argument("--proj_clip", type=float, default=3.0, help="Projection clip (0 disables).")
    group.add_argument("--dropout", type=float, default=0.1, help="Dropout on LSTM inputs and the softmax input.")
    group.add_argument("--num_sampled", type=int, default=0,
                       help="Sampled-softmax negatives while training (bilm-tf: 8192); 0 = full softmax.")
    group.add_argument("--min_count", type=int, default=1, help="Words rarer than this become <UNK> as targets.")
    group.add_argument("--max_vocab_size", type=int, default=None)
    group.add_argument("--max_seq_length", type=int, default=100, help="Tokens per piece incl. <S> and </S>.")
    group.add_argument("--per_device_train_batch_size", type=int, default=32, help="Sentences per step and process.")
    group.add_argument("--per_device_eval_batch_size", type=int, default=64)
    group.add_argument("--optimizer", choices=["adamw", "adagrad"], default="adamw",
                       help="adamw (default lr 1e-3; learns faster in short CPU runs) or bilm-tf's adagrad (lr 0.2).")
    group.add_argument("--weight_decay", type=float, default=0.0, help="AdamW's weight decay.")
    group.add_argument("--validation_file", default=None, help="Held-out sentences for the perplexities.")
    group.add_argument("--validation_split_percentage", type=float, default=5.0,
                       help="Without --validation_file: hold out this share of the lines (0 = none).")
    parser.set_defaults(num_train_epochs=10, lr_scheduler_type="linear", max_grad_norm=10.0)  # bilm-tf clips at 10
    args = parser.parse_args(argv)
    validate_common_args(args)
    if not 0 <= args.validation_split_percentage < 100:
        raise ValueError(f"--validation_split_percentage must be in [0, 100), got {args.validation_split_percentage}"
                         + see("training-flags"))
    if args.min_count < 1:
        raise ValueError(f"--min_count must be >= 1, got {args.min_count}" + see("pretraining-flags"))
    if args.filters is not None:
        try:
            args.filters = json.loads(args.filters)
        except json.JSONDecodeError as error:
            raise ValueError(f"--filters must be JSON such as '[[1, 32], [2, 64]]', got {args.filters!r} ({error})"
                             + see("pretraining-flags")) from None
    return args


def build_model(args, tokenizer):
    from hfext_elmo import ElmoConfig
    from transformers import AutoModelForPreTraining

    overrides = {name: getattr(args, name) for name in ("projection_dim", "lstm_dim", "num_layers", "n_highway",
                                                        "filters", "char_embedding_dim") if getattr(args, name) is not None}
    config = ElmoConfig.from_preset(
        args.preset, vocab_size=len(tokenizer), cell_clip=args.cell_clip or None, proj_clip=args.proj_clip or None,
        dropout=args.dropout, num_sampled=args.num_sampled, **overrides,
    )
    return AutoModelForPreTraining.from_config(config)


def split_lines(args) -> tuple[list[list[str]], list[list[str]]]:
    """Training and held-out sentences (word lists; empty lines dropped)."""
    train_sentences = [line.split() for line in corpus_lines(args)() if line.split()]
    if args.validation_file:
        return train_sentences, [line.split() for line in read_lines(args.validation_file) if line.split()]
    if not args.validation_split_percentage or len(train_sentences) < 2:
        return train_sentences, []
    held = max(1, int(len(train_sentences) * args.validation_split_percentage / 100))
    order = np.random.default_rng(args.seed).permutation(len(train_sentences))
    held_out = set(order[:held].tolist())
    return ([s for i, s in enumerate(train_sentences) if i not in held_out],
            [s for i, s in enumerate(train_sentences) if i in held_out])


def main(argv=None) -> dict:
    from hfext_elmo import ElmoCharacterTokenizer
    from transformers import AutoModelForPreTraining

    args = parse_args(argv)
    accelerator = setup_accelerator(args)
    train_sentences, eval_sentences = split_lines(args)
    if args.model_name_or_path:
        model = load_pretrained(args.model_name_or_path, AutoModelForPreTraining, model_types=["hfext-elmo"])
        tokenizer = load_tokenizer_for(model, args.model_name_or_path)
    else:
        vocab = Vocabulary.build((" ".join(s) for s in train_sentences), args.min_count, args.max_vocab_size,
                                 accelerator.is_local_main_process)
        tokenizer = ElmoCharacterTokenizer.from_words(vocab.words)  # most frequent first, for the sampled softmax
        model = build_model(args, tokenizer)
    train_data = ElmoSentences(train_sentences, tokenizer, args.max_seq_length)
    eval_data = ElmoSentences(eval_sentences, tokenizer, args.max_seq_length) if eval_sentences else None
    accelerator.print(f"ELMo: {sum(p.numel() for p in model.elmo.parameters()):,} biLM parameters, output vocabulary "
                      f"{len(tokenizer):,} words, {len(train_data):,} training sentences ({train_data.num_tokens:,} tokens)")

    if args.optimizer == "adagrad":  # bilm-tf's: Adagrad, lr 0.2, accumulators starting at 1
        optimizer = torch.optim.Adagrad(model.parameters(), lr=args.learning_rate or 0.2, initial_accumulator_value=1.0)
    else:
        optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate or 1e-3, weight_decay=args.weight_decay)
    model, optimizer = accelerator.prepare(model, optimizer)
    task = ElmoTask(train_data, args.per_device_train_batch_size, args.seed, accelerator.device,
                    rank=accelerator.process_index, world_size=accelerator.num_processes)
    state, train_seconds = train_with_args(accelerator, args, model, optimizer, task, "pretrain_elmo", progress_unit="batch",
                                           tokenizer=tokenizer)

    # Train perplexities: over this run's steps, all processes (a resumed run counts its own steps only).
    sums = accelerator.reduce(torch.tensor([task.forward_nll, task.backward_nll, task.num_targets],
                                           dtype=torch.float64, device=accelerator.device), "sum").tolist()
    results = {
        "train_loss": state.mean_loss,
        "train_forward_perplexity": math.exp(sums[0] / max(sums[2], 1)),
        "train_backward_perplexity": math.exp(sums[1] / max(sums[2], 1)),
        "train_steps": state.global_step,
        "train_tokens_per_second": sums[2] / max(train_seconds, 1e-9),
        "train_seconds": train_seconds,
        "vocab_size": len(tokenizer),
        "num_parameters": sum(p.numel() for p in accelerator.unwrap_model(model).elmo.parameters()),
    }
    if eval_data is not None:
        evaluation = evaluate_perplexity(  # unwrapped: processes may run different numbers of eval batches
            accelerator.unwrap_model(model), eval_data, args.per_device_eval_batch_size, accelerator.device, accelerator.process_index,
            accelerator.num_processes, reduce=lambda t: accelerator.reduce(t, "sum"),
        )
        results.update({f"eval_{key}": value for key, value in evaluation.items()})
    return finish_run(accelerator, args, model, tokenizer, results)


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
