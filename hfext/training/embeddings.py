"""What the word-embedding recipes share (``recipes/pretrain_word2vec.py``, ``recipes/pretrain_fasttext.py``):
their flags, the vocabulary and encoded corpus, the kernel/autograd task on the shared loop, the
evaluations and the saved model directory. A recipe adds its own flags and says how to build its model."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable

import numpy as np
import torch

from ..data import (
    EncodedCorpus,
    Vocabulary,
    WindowChunks,
    dataset_lines,
    file_fingerprint,
    read_lines,
)
from ..errors import see
from .args import (
    finish_run,
    load_text_dataset,
    run_config,
    setup_accelerator,
    train_with_args,
    validate_common_args,
)
from .word2vec import (
    BACKENDS,
    DEFAULT_BATCH_WORDS,
    DEFAULT_LEARNING_RATES,
    make_optimizer,
    resolve_backend,
)

logger = logging.getLogger(__name__)



def add_embedding_args(parser: argparse.ArgumentParser, title: str, sample: float = 1e-3) -> argparse._ArgumentGroup:
    """The word2vec-family flags (gensim's and word2vec.c's names); returns the group for more flags."""
    group = parser.add_argument_group(title)
    group.add_argument("--model_type", choices=["skipgram", "cbow"], default="skipgram")
    group.add_argument("--vector_size", type=int, default=100)
    group.add_argument("--window", type=int, default=5)
    group.add_argument("--negative", type=int, default=None, help="Noise words per pair (default 5; 0 with --hs).")
    group.add_argument("--hs", action="store_true", help="Hierarchical softmax instead of negative sampling.")
    group.add_argument("--softmax", action="store_true", help="Full softmax (the lecture's formula; small vocabularies).")
    group.add_argument("--ns_exponent", type=float, default=0.75)
    group.add_argument("--min_count", type=int, default=5)
    group.add_argument("--max_vocab_size", type=int, default=None)
    group.add_argument("--sample", type=float, default=sample, help="Subsampling threshold (0 disables).")
    group.add_argument("--cbow_mean", type=int, choices=[0, 1], default=1)
    group.add_argument("--batch_words", type=int, default=None, help="Tokens per step (default 50000 kernel, 1000 torch).")
    group.add_argument("--backend", choices=BACKENDS, default="auto", help="kernel: fused CPU SGD; torch: autograd.")
    group.add_argument("--workers", type=int, default=None, help="Kernel threads (default: all cores).")
    group.add_argument("--analogies_file", default=None, help="Evaluate on a questions-words.txt-style file.")
    group.add_argument("--similarity_file", default=None, help="Evaluate on a WordSim353/SimLex-style file.")
    return group


def validate_embedding_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    validate_common_args(args)
    if args.hs and args.softmax:
        parser.error("choose one objective: --hs or --softmax" + see("pretraining-flags"))
    if (args.hs or args.softmax) and args.negative:
        parser.error("--negative > 0 selects negative sampling; drop it when using --hs or --softmax"
                     + see("pretraining-flags"))
    if args.negative is not None and args.negative < 0:
        parser.error(f"--negative must be >= 0, got {args.negative}" + see("pretraining-flags"))
    if not (args.hs or args.softmax) and args.negative == 0:
        parser.error("--negative 0 leaves no objective: pass --negative 5, --hs or --softmax"
                     + see("pretraining-flags"))


def objective_config(args: argparse.Namespace) -> dict:
    """The config fields every embedding family takes from the shared flags."""
    objective = "softmax" if args.softmax else "hierarchical_softmax" if args.hs else "negative_sampling"
    return {
        "vector_size": args.vector_size,
        "window": args.window,
        "objective": objective,
        "negative": 5 if args.negative is None and objective == "negative_sampling" else (args.negative or 0),
        "ns_exponent": args.ns_exponent,
        "sample": args.sample,
        "min_count": args.min_count,
        "cbow_mean": bool(args.cbow_mean),
    }


def corpus_lines(args: argparse.Namespace) -> Callable:
    if args.train_file:
        return lambda: read_lines(args.train_file)
    dataset = load_text_dataset(args)
    return lambda: dataset_lines(dataset, args.text_column)


def keyed_vectors(model, tokenizer):
    """The in-vocabulary word vectors as :class:`~hfext.vectors.KeyedVectors` (fastText: the mean of each
    word's rows, through the model's ``word_vectors`` when ``KeyedVectors.from_model`` does not compose them)."""
    from ..vectors import KeyedVectors

    if hasattr(model, "get_word_vectors") or not hasattr(model, "word_vectors"):
        return KeyedVectors.from_model(model, tokenizer)
    with torch.no_grad():
        num_words = model.config.vocab_size - 1  # [UNK], the last id, has no vector
        vectors = model.word_vectors(torch.arange(num_words, device=model.input_embeddings.weight.device))
    id_to_word = {index: word for word, index in tokenizer.get_vocab().items()}
    counts = model.word_counts.detach().cpu().numpy()[:num_words]
    return KeyedVectors(vectors.float().cpu().numpy(), [id_to_word[i] for i in range(num_words)], counts=counts)


def evaluate(vectors, args: argparse.Namespace) -> dict:
    """Analogy accuracy and word-pair correlations on the evaluation files given. A file that gives nothing to
    evaluate (wrong format, no known words) only warns: the trained model is still saved."""
    results = {}
    try:
        if args.analogies_file:
            results["analogy_accuracy"] = vectors.evaluate_word_analogies(args.analogies_file)[0]
        if args.similarity_file:
            pearson, spearman, oov = vectors.evaluate_word_pairs(args.similarity_file)
            results.update(similarity_pearson=float(pearson[0]), similarity_spearman=float(spearman[0]),
                           similarity_oov_percent=oov)
    except (ValueError, KeyError, OSError) as error:
        logger.warning("evaluation skipped, the model is saved anyway: %s (evaluate it later with `hfext eval "
                       "analogies|similarity %s FILE`)", error, args.output_dir)
    return results


def run_embedding_recipe(
    args: argparse.Namespace,
    build_model: Callable,  # (args, vocab) -> a new model with its counts (and subwords) set
    load_pretrained: Callable,  # (path) -> (model, tokenizer), with clear errors for a wrong directory
    task_class: type,  # Word2VecTask or a subclass
    tracker_name: str,
) -> dict:
    """Train a word-embedding model as the recipes do (vocabulary, encoded corpus, chunks, task, the shared
    loop, evaluations, an atomic save) and return the results written to ``all_results.json``."""
    accelerator = setup_accelerator(args)
    lines = corpus_lines(args)

    # Vocabulary and the encoded corpus: built once by the main process, read by the others.
    with accelerator.main_process_first():
        if args.model_name_or_path:
            model, tokenizer = load_pretrained(args.model_name_or_path)
            counts = model.word_counts.numpy()[:-1]
            vocab = Vocabulary.from_tokenizer(tokenizer, counts)
        else:
            vocab = Vocabulary.build(lines(), args.min_count, args.max_vocab_size, accelerator.is_local_main_process)
            tokenizer = vocab.to_tokenizer()
            model = build_model(args, vocab)
        fingerprint = file_fingerprint(args.train_file or [], args.dataset_name, args.dataset_config_name, vocab.words)
        corpus = EncodedCorpus.build(lines(), tokenizer, os.path.join(args.output_dir, ".corpus_cache"), fingerprint=fingerprint)

    backend = resolve_backend(args.backend, accelerator.device, accelerator.num_processes, model.config.objective)
    batch_words = args.batch_words or DEFAULT_BATCH_WORDS[backend]
    chunks = WindowChunks(
        corpus, vocab.counts, model.config.window, model.config.sample, batch_words, args.seed,
        rank=accelerator.process_index, world_size=accelerator.num_processes,
    )
    learning_rate = args.learning_rate or DEFAULT_LEARNING_RATES[backend, args.model_type]
    optimizer = make_optimizer(model.parameters(), backend, learning_rate)
    model, optimizer = accelerator.prepare(model, optimizer)
    task = task_class(accelerator.unwrap_model(model), chunks, backend, args.seed, threads=args.workers)
    state, _ = train_with_args(  # the kernel updates the unwrapped model in place
        accelerator, args, model if backend == "torch" else accelerator.unwrap_model(model), optimizer, task,
        tracker_name, run_config(args, accelerator.unwrap_model(model).config), "chunk", "word2vec_linear",
        tokenizer=tokenizer,
    )

    results = {"train_loss": state.mean_loss, "train_steps": state.global_step,
               "backend": backend, "vocab_size": len(vocab)}
    if accelerator.is_main_process:
        results.update(evaluate(keyed_vectors(accelerator.unwrap_model(model), tokenizer), args))
    return finish_run(accelerator, args, model, tokenizer, results)


def word_counts_with_unk(vocab: Vocabulary) -> np.ndarray:
    """The vocabulary's counts plus 0 for ``[UNK]`` (never a training word)."""
    return np.append(vocab.counts, 0).astype(np.int64)


__all__ = [
    "add_embedding_args",
    "corpus_lines",
    "evaluate",
    "keyed_vectors",
    "objective_config",
    "run_embedding_recipe",
    "validate_embedding_args",
    "word_counts_with_unk",
]
