#!/usr/bin/env python
"""hfext GloVe: co-occurrence build time, training time per epoch and quality, on the same corpus and
with the same evaluations as the word2vec/fastText benchmark (there is no gensim GloVe to race).

    python benchmarks/glove_benchmark.py                   # x_max 10 and 100, 15 epochs, 2 workers
    python benchmarks/glove_benchmark.py --x_max 10 --epochs 25

* Corpus: gensim's ``head500.noblanks.cor`` (330k words); vocabulary min_count 5; window 15 with
  1/distance weighting, symmetric (glove.c's defaults); dim 100; AdaGrad lr 0.05 (glove.c).
* Co-occurrence seconds: counting the encoded corpus into the sparse matrix (fresh, no cache).
  Training seconds: the shared loop over all epochs (numba kernel already compiled by a warm-up run);
  entries/s = epochs x non-zero entries / training seconds.
* Quality: ``benchmarks/word2vec_vs_gensim.py``'s ``evaluate`` (analogies semantic / syntactic / total,
  WordSim353 and SimLex-999 Spearman), on W + W~.

Results: ``benchmarks/results/glove.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "recipes"))

from word2vec_vs_gensim import evaluate, gensim_test_data, machine_info


def run(x_max: float, epochs: int, workers: int, directory: str) -> dict:
    import pretrain_glove

    from hfext.data import EncodedCorpus, Vocabulary, cooccurrence_matrix, read_lines
    from hfext.vectors import KeyedVectors

    corpus_path = gensim_test_data("head500.noblanks.cor")
    vocab = Vocabulary.build(read_lines(corpus_path), min_count=5)
    corpus = EncodedCorpus.build(read_lines(corpus_path), vocab.to_tokenizer(), os.path.join(directory, "corpus"))
    start = time.perf_counter()
    matrix = cooccurrence_matrix(corpus, len(vocab), window=15, symmetric=True, distance_weighting=True)
    cooccurrence_seconds = time.perf_counter() - start

    output = os.path.join(directory, f"glove_xmax{x_max:g}")
    results = pretrain_glove.main([
        "--train_file", corpus_path, "--output_dir", output, "--x_max", str(x_max), "--num_train_epochs", str(epochs),
        "--workers", str(workers), "--logging_steps", "100000",
    ])
    quality = evaluate(KeyedVectors.from_pretrained(output))
    return {
        "x_max": x_max, "epochs": epochs, "workers": workers, "vocab_size": len(vocab), "entries": int(matrix.nnz),
        "corpus_words": corpus.raw_words, "cooccurrence_seconds": cooccurrence_seconds,
        "train_seconds": results["train_seconds"], "seconds_per_epoch": results["train_seconds"] / epochs,
        "entries_per_second": epochs * matrix.nnz / results["train_seconds"], "train_loss": results["train_loss"],
        **quality,
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--x_max", type=float, nargs="+", default=[10.0, 100.0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--results_dir", default=os.path.join(HERE, "results"))
    args = parser.parse_args(argv)
    import logging

    logging.disable(logging.WARNING)
    from hfext.training.glove import train_strata  # noqa: F401  (compiled once, before timing, by the warm-up)

    rows = []
    with tempfile.TemporaryDirectory() as directory:
        run(args.x_max[0], 1, args.workers, os.path.join(directory, "warmup"))  # numba compilation
        for x_max in args.x_max:
            rows.append(run(x_max, args.epochs, args.workers, directory))
    info = machine_info()
    lines = [
        "# hfext GloVe benchmark", "",
        (f"Date: {info['date']}; CPU: {info['cpu']} ({info['usable_cores']} usable cores); torch {info['torch']}, "
         f"numba {info['numba']}. Corpus: head500.noblanks.cor ({rows[0]['corpus_words']:,} words), min_count 5, "
         f"window 15 (1/distance, symmetric), dim 100, AdaGrad lr 0.05, {args.epochs} epochs, {args.workers} kernel lanes."), "",
        f"Command: `python benchmarks/glove_benchmark.py {' '.join(argv or sys.argv[1:])}`".rstrip(), "",
        ("| x_max | vocab | non-zero entries | co-occurrence s | train s/epoch | entries/s | analogy semantic | "
         "analogy syntactic | analogy total | WS353 ρ | SimLex-999 ρ |"),
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['x_max']:g} | {r['vocab_size']:,} | {r['entries']:,} | {r['cooccurrence_seconds']:.2f} | "
            f"{r['seconds_per_epoch']:.2f} | {r['entries_per_second']:,.0f} | {r['analogy_semantic_acc']:.4f} | "
            f"{r['analogy_syntactic_acc']:.4f} | {r['analogy_acc']:.4f} | {r['ws353_spearman']:.4f} | {r['simlex_spearman']:.4f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    os.makedirs(args.results_dir, exist_ok=True)
    with open(os.path.join(args.results_dir, "glove.md"), "w") as handle:
        handle.write(text)
    with open(os.path.join(args.results_dir, "glove.json"), "w") as handle:
        json.dump({"machine": info, "runs": rows}, handle, indent=2)
    return {"runs": rows}


if __name__ == "__main__":
    main()
