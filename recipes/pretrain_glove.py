#!/usr/bin/env python
"""Pretrain GloVe with Accelerate: count co-occurrences (cached), then fit the vectors with glove.c's AdaGrad.

    python recipes/pretrain_glove.py --train_file corpus.txt --output_dir glove

    ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 recipes/pretrain_glove.py ...

The co-occurrence matrix is built once (streaming over the corpus) and cached in
``OUTPUT_DIR/.cooccurrence_cache``; runs with the same corpus and counting settings reuse it. The output
directory is an ordinary transformers model directory: ``AutoModel.from_pretrained(output_dir)`` loads
it once ``import hfext`` has run; ``hfext export glove-format`` writes the GloVe text format.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

import torch

import hfext  # noqa: F401  (registers the hfext model types with the Auto classes)
from hfext.data import EncodedCorpus, Vocabulary, file_fingerprint
from hfext.data.cooccurrence import cached_cooccurrence
from hfext.errors import see
from hfext.training.args import (
    add_data_args,
    add_training_args,
    finish_run,
    run_config,
    setup_accelerator,
    train_with_args,
    validate_common_args,
)
from hfext.training.embeddings import corpus_lines, evaluate
from hfext.training.glove import (
    BACKENDS,
    DEFAULT_BATCH_ENTRIES,
    GloVeTask,
    make_optimizer,
    resolve_backend,
)
from hfext.vectors import KeyedVectors

logger = logging.getLogger(__name__)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_args(parser)
    add_training_args(parser)
    group = parser.add_argument_group("GloVe")
    group.add_argument("--vector_size", type=int, default=100)
    group.add_argument("--window", type=int, default=15, help="Co-occurrence window (glove.c: 15).")
    group.add_argument("--directional", action="store_true", help="Count right context only (glove.c -symmetric 0).")
    group.add_argument("--no_distance_weighting", action="store_true", help="Count 1 per pair instead of 1/distance.")
    group.add_argument("--min_count", type=int, default=5)
    group.add_argument("--max_vocab_size", type=int, default=None)
    group.add_argument("--x_max", type=float, default=100.0, help="Cutoff of the weighting function f.")
    group.add_argument("--alpha", type=float, default=0.75, help="Exponent of the weighting function f.")
    group.add_argument("--vector_combination", choices=["sum", "word"], default="sum", help="Keep W + W~ (sum) or W.")
    group.add_argument("--bias_learning_rate", type=float, default=1.0,
                       help="AdaGrad step scale of the biases (glove.c steps them by the gradient itself: 1).")
    group.add_argument("--batch_entries", type=int, default=None,
                       help="Co-occurrence entries per step (default 1048576 kernel, 16384 torch).")
    group.add_argument("--backend", choices=BACKENDS, default="auto", help="kernel: glove.c's per-entry loop; torch: autograd.")
    group.add_argument("--workers", type=int, default=None, help="Kernel threads (default: all cores).")
    group.add_argument("--analogies_file", default=None, help="Evaluate on a questions-words.txt-style file.")
    group.add_argument("--similarity_file", default=None, help="Evaluate on a WordSim353/SimLex-style file.")
    parser.set_defaults(num_train_epochs=15, lr_scheduler_type="constant")  # glove.c demo: 15 iterations, fixed eta
    args = parser.parse_args(argv)
    validate_common_args(args)
    if args.window < 1:
        raise ValueError(f"--window must be >= 1, got {args.window}" + see("pretraining-flags"))
    if args.batch_entries is not None and args.batch_entries < 1:
        raise ValueError(f"--batch_entries must be >= 1, got {args.batch_entries}" + see("pretraining-flags"))
    if not args.x_max > 0:
        raise ValueError(f"--x_max must be > 0, got {args.x_max}" + see("pretraining-flags"))
    return args


def build_model(args, vocab: Vocabulary):
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.for_model(
        "hfext-glove",
        vocab_size=len(vocab) + 1,  # + the [UNK] row the tokenizer maps unknown words to (never trained)
        vector_size=args.vector_size,
        x_max=args.x_max,
        alpha=args.alpha,
        window=args.window,
        symmetric=not args.directional,
        distance_weighting=not args.no_distance_weighting,
        min_count=args.min_count,
        vector_combination=args.vector_combination,
    )
    model = AutoModel.from_config(config)
    model.set_word_counts(torch.tensor([*vocab.counts.tolist(), 0]))
    return model


def main(argv=None) -> dict:
    args = parse_args(argv)
    accelerator = setup_accelerator(args)
    lines = corpus_lines(args)

    # Vocabulary, encoded corpus and co-occurrence matrix: built once by the main process, read by the others.
    with accelerator.main_process_first():
        vocab = Vocabulary.build(lines(), args.min_count, args.max_vocab_size, accelerator.is_local_main_process)
        tokenizer = vocab.to_tokenizer()
        fingerprint = file_fingerprint(args.train_file or [], args.dataset_name, args.dataset_config_name, vocab.words)
        cache = os.path.join(args.output_dir, ".cooccurrence_cache")
        corpus = EncodedCorpus.build(lines(), tokenizer, os.path.join(cache, "corpus"), fingerprint=fingerprint)
        start = time.perf_counter()
        matrix = cached_cooccurrence(
            corpus, vocab, args.window, not args.directional, not args.no_distance_weighting,
            os.path.join(cache, "cooccurrence.safetensors"), fingerprint, progress=accelerator.is_local_main_process,
        )
        cooccurrence_seconds = time.perf_counter() - start
    accelerator.print(f"co-occurrence matrix: {len(vocab)} words, {matrix.nnz:,} non-zero entries ({cooccurrence_seconds:.1f} s)")

    model = build_model(args, vocab)
    backend = resolve_backend(args.backend, accelerator.device, accelerator.num_processes)
    learning_rate = args.learning_rate or 0.05  # glove.c's -eta
    optimizer = make_optimizer(model, learning_rate, args.bias_learning_rate)
    model, optimizer = accelerator.prepare(model, optimizer)
    task = GloVeTask(
        matrix, args.batch_entries or DEFAULT_BATCH_ENTRIES[backend], args.seed, backend,
        getattr(optimizer, "optimizer", optimizer),  # the kernel updates the AdaGrad accumulators itself
        rank=accelerator.process_index, world_size=accelerator.num_processes, threads=args.workers,
    )
    state, train_seconds = train_with_args(  # the kernel updates the unwrapped model in place
        accelerator, args, model if backend == "torch" else accelerator.unwrap_model(model), optimizer, task,
        "pretrain_glove", run_config(args, accelerator.unwrap_model(model).config), tokenizer=tokenizer,
    )

    results = {"train_loss": state.mean_loss, "train_steps": state.global_step,
               "backend": backend, "vocab_size": len(vocab), "cooccurrence_entries": int(matrix.nnz),
               "cooccurrence_seconds": cooccurrence_seconds, "train_seconds": train_seconds}
    if accelerator.is_main_process:
        results.update(evaluate(KeyedVectors.from_model(accelerator.unwrap_model(model), tokenizer), args))
    return finish_run(accelerator, args, model, tokenizer, results)


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
