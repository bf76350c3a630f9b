#!/usr/bin/env python
"""Pretrain word2vec (skip-gram or CBOW) with Accelerate.

    python recipes/pretrain_word2vec.py --train_file corpus.txt --output_dir w2v --model_type skipgram

    ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 recipes/pretrain_word2vec.py ...

The output directory is an ordinary transformers model directory (config.json, model.safetensors,
tokenizer.json): ``AutoModel.from_pretrained(output_dir)`` loads it once ``import hfext`` has run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

import torch

import hfext  # noqa: F401  (registers the hfext model types with the Auto classes)
from hfext.data import EncodedCorpus, Vocabulary, WindowChunks, dataset_lines, file_fingerprint, read_lines
from hfext.training import make_scheduler, train
from hfext.training.args import (
    add_data_args,
    add_training_args,
    load_text_dataset,
    save_pretrained_atomic,
    setup_accelerator,
    validate_common_args,
)
from hfext.training.word2vec import (
    BACKENDS,
    DEFAULT_BATCH_WORDS,
    DEFAULT_LEARNING_RATES,
    Word2VecTask,
    load_pretrained_word2vec,
    make_optimizer,
    resolve_backend,
)
from hfext.vectors import KeyedVectors

logger = logging.getLogger(__name__)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_args(parser)
    add_training_args(parser)
    group = parser.add_argument_group("word2vec")
    group.add_argument("--model_type", choices=["skipgram", "cbow"], default="skipgram")
    group.add_argument("--vector_size", type=int, default=100)
    group.add_argument("--window", type=int, default=5)
    group.add_argument("--negative", type=int, default=None, help="Noise words per pair (default 5; 0 with --hs).")
    group.add_argument("--hs", action="store_true", help="Hierarchical softmax instead of negative sampling.")
    group.add_argument("--softmax", action="store_true", help="Full softmax (the lecture's formula; small vocabularies).")
    group.add_argument("--ns_exponent", type=float, default=0.75)
    group.add_argument("--min_count", type=int, default=5)
    group.add_argument("--max_vocab_size", type=int, default=None)
    group.add_argument("--sample", type=float, default=1e-3, help="Subsampling threshold (0 disables).")
    group.add_argument("--cbow_mean", type=int, choices=[0, 1], default=1)
    group.add_argument("--batch_words", type=int, default=None, help="Tokens per step (default 50000 kernel, 1000 torch).")
    group.add_argument("--backend", choices=BACKENDS, default="auto", help="kernel: fused CPU SGD; torch: autograd.")
    group.add_argument("--workers", type=int, default=None, help="Kernel threads (default: all cores).")
    group.add_argument("--analogies_file", default=None, help="Evaluate on a questions-words.txt-style file.")
    group.add_argument("--similarity_file", default=None, help="Evaluate on a WordSim353/SimLex-style file.")
    args = parser.parse_args(argv)
    validate_common_args(args)
    if args.hs and args.softmax:
        parser.error("choose one objective: --hs or --softmax")
    if (args.hs or args.softmax) and args.negative:
        parser.error("--negative > 0 selects negative sampling; drop it when using --hs or --softmax")
    if args.negative is not None and args.negative < 0:
        parser.error(f"--negative must be >= 0, got {args.negative}")
    if not (args.hs or args.softmax) and args.negative == 0:
        parser.error("--negative 0 leaves no objective: pass --negative 5, --hs or --softmax")
    return args


def build_model(args, vocab: Vocabulary):
    from transformers import AutoConfig, AutoModel

    objective = "softmax" if args.softmax else "hierarchical_softmax" if args.hs else "negative_sampling"
    config = AutoConfig.for_model(
        f"hfext-{args.model_type}",
        vocab_size=len(vocab) + 1,  # + the [UNK] row the tokenizer maps unknown words to
        vector_size=args.vector_size,
        window=args.window,
        objective=objective,
        negative=5 if args.negative is None and objective == "negative_sampling" else (args.negative or 0),
        ns_exponent=args.ns_exponent,
        sample=args.sample,
        min_count=args.min_count,
        cbow_mean=bool(args.cbow_mean),
    )
    model = AutoModel.from_config(config)
    model.set_word_counts(torch.tensor(list(vocab.counts) + [0]))  # [UNK] is never a training word
    return model


def corpus_lines(args):
    if args.train_file:
        return lambda: read_lines(args.train_file)
    dataset = load_text_dataset(args)
    return lambda: dataset_lines(dataset, args.text_column)


def main(argv=None) -> dict:
    args = parse_args(argv)
    accelerator = setup_accelerator(args)
    lines = corpus_lines(args)

    # Vocabulary and the encoded corpus: built once by the main process, read by the others.
    with accelerator.main_process_first():
        if args.model_name_or_path:
            model, tokenizer = load_pretrained_word2vec(args.model_name_or_path)
            counts = model.word_counts.numpy()[:-1]
            vocab = Vocabulary.from_tokenizer(tokenizer, counts)
        else:
            vocab = Vocabulary.build(lines(), args.min_count, args.max_vocab_size, accelerator.is_local_main_process)
            tokenizer = vocab.to_tokenizer()
            model = build_model(args, vocab)
        fingerprint = file_fingerprint(args.train_file or [], args.dataset_name, args.dataset_config_name, vocab.words)
        corpus = EncodedCorpus.build(lines(), tokenizer, os.path.join(args.output_dir, ".corpus_cache"), fingerprint=fingerprint)

    backend = resolve_backend(args.backend, accelerator.device, accelerator.num_processes)
    batch_words = args.batch_words or DEFAULT_BATCH_WORDS[backend]
    chunks = WindowChunks(
        corpus, vocab.counts, model.config.window, model.config.sample, batch_words, args.seed,
        rank=accelerator.process_index, world_size=accelerator.num_processes,
    )
    learning_rate = args.learning_rate or DEFAULT_LEARNING_RATES[backend, args.model_type]
    optimizer = make_optimizer(model.parameters(), backend, learning_rate)
    model, optimizer = accelerator.prepare(model, optimizer)
    task = Word2VecTask(
        accelerator.unwrap_model(model), chunks, backend, args.seed, threads=args.workers,
    )
    total_steps = chunks.steps_per_epoch * args.num_train_epochs // args.gradient_accumulation_steps
    if args.max_train_steps:
        total_steps = min(total_steps, args.max_train_steps)
    scheduler = make_scheduler(args.lr_scheduler_type or "word2vec_linear", optimizer, total_steps, args.num_warmup_steps)
    if args.with_tracking:
        accelerator.init_trackers("pretrain_word2vec", {k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool))})
    run_config = {
        key: value for key, value in vars(args).items()
        if key not in {"resume_from_checkpoint", "checkpointing_steps", "logging_steps", "with_tracking", "report_to",
                       "workers", "analogies_file", "similarity_file", "output_dir"}
    }
    run_config["model_config"] = accelerator.unwrap_model(model).config.to_dict()
    run_config["model_config"].pop("transformers_version", None)
    run_config = json.loads(json.dumps(run_config, default=str))
    state = train(
        accelerator, model if backend == "torch" else accelerator.unwrap_model(model), optimizer, scheduler, task,
        args.num_train_epochs, args.output_dir, run_config=run_config,
        checkpointing_steps=args.checkpointing_steps, resume_from_checkpoint=args.resume_from_checkpoint,
        logging_steps=args.logging_steps, max_grad_norm=args.max_grad_norm, max_train_steps=args.max_train_steps,
        with_tracking=args.with_tracking, progress_unit="chunk",
    )

    results = {"train_loss": state.loss_sum / max(state.loss_count, 1), "train_steps": state.global_step,
               "backend": backend, "vocab_size": len(vocab)}
    if accelerator.is_main_process:
        unwrapped = accelerator.unwrap_model(model)
        vectors = KeyedVectors.from_model(unwrapped, tokenizer)
        if args.analogies_file:
            results["analogy_accuracy"] = vectors.evaluate_word_analogies(args.analogies_file)[0]
        if args.similarity_file:
            pearson, spearman, oov = vectors.evaluate_word_pairs(args.similarity_file)
            results.update(similarity_pearson=float(pearson[0]), similarity_spearman=float(spearman[0]), similarity_oov_percent=oov)
        save_pretrained_atomic(unwrapped, tokenizer, args.output_dir, {"all_results.json": json.dumps(results, indent=2)})
        accelerator.print(json.dumps(results, indent=2))
    accelerator.wait_for_everyone()
    if args.with_tracking:
        accelerator.end_training()
    return results


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
