#!/usr/bin/env python
"""Chapter 2 of the tour: skip-gram vs CBOW on a real corpus, with negative sampling and subsampling, and how
their word vectors improve epoch by epoch.

    python examples/word2vec_curves.py                     # gensim's head500 corpus (330k words), ~15 s on 2 cores
    python examples/word2vec_curves.py --smoke             # Lee corpus (60k words), 2 epochs: seconds

Each model is trained with ``hfext train word2vec`` (word2vec.c's defaults: dim 100, window 5, negative 5,
sample 1e-3, min_count 5), saving an ``epoch_N`` checkpoint after every epoch. The checkpoints' weights are
loaded back into the saved model and scored on WordSim353 (Spearman rho against human similarity judgements)
and the Google analogies; the picture plots both scores against the epoch, one line per architecture.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from safetensors.torch import load_file

import hfext  # noqa: F401  (registers hfext-skipgram / hfext-cbow with the Auto classes)
from hfext.cli import main as hfext_cli
from hfext.data import gensim_test_data
from hfext.plots import pyplot, save_figure
from hfext.tour import pictures_dir, quiet
from hfext.vectors import KeyedVectors


def epoch_scores(model_dir: Path, analogies: str, similarity: str) -> list[dict]:
    """WordSim353 rho and analogy accuracy of each ``epoch_N`` checkpoint in ``model_dir``."""
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    scores = []
    for checkpoint in sorted(model_dir.glob("epoch_*"), key=lambda p: int(p.name.split("_")[1])):
        model.load_state_dict(load_file(checkpoint / "model.safetensors"), strict=False)
        kv = KeyedVectors.from_model(model, tokenizer)
        _, spearman, _ = kv.evaluate_word_pairs(similarity)
        accuracy, _ = kv.evaluate_word_analogies(analogies)
        scores.append({"epoch": int(checkpoint.name.split("_")[1]) + 1, "wordsim353_spearman": float(spearman[0]),
                       "analogy_accuracy": float(accuracy)})
    return scores


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", default="./word2vec-curves", help="where the two models are saved")
    parser.add_argument("--out_dir", default=None, help="where the pictures go (default: docs/images; with --smoke, a temporary folder)")
    parser.add_argument("--num_train_epochs", type=int, default=None, help="default 10 (--smoke: 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="the 60k-word Lee corpus and 2 epochs (CI)")
    args = parser.parse_args(argv)
    args.out_dir = pictures_dir(args.out_dir, args.smoke)
    data = gensim_test_data()
    if data is None:
        parser.error("this example trains on gensim's bundled corpus: `pip install gensim`")
    corpus = os.path.join(data, "lee_background.cor" if args.smoke else "head500.noblanks.cor")
    epochs = args.num_train_epochs or (2 if args.smoke else 10)
    analogies, similarity = os.path.join(data, "questions-words.txt"), os.path.join(data, "wordsim353.tsv")
    os.makedirs(args.out_dir, exist_ok=True)

    curves = {}
    for model_type in ("skipgram", "cbow"):
        model_dir = Path(args.output_dir) / model_type
        with quiet():  # the recipe's progress bars and JSON; the scores below are this chapter's output
            status = hfext_cli(["train", "word2vec", "--train_file", corpus, "--output_dir", str(model_dir),
                                "--model_type", model_type, "--num_train_epochs", str(epochs), "--seed", str(args.seed),
                                "--checkpointing_steps", "epoch"] + (["--min_count", "2"] if args.smoke else []))
        if status:
            return status
        results = json.loads((model_dir / "all_results.json").read_text())
        with quiet():
            curves[model_type] = epoch_scores(model_dir, analogies, similarity)
        print(f"{model_type}: {results['vocab_size']} words, final training loss {results['train_loss']:.3f}")
        for row in curves[model_type]:
            print(f"  epoch {row['epoch']:2d}: WordSim353 rho {row['wordsim353_spearman']:.3f}, "
                  f"analogy accuracy {row['analogy_accuracy']:.3f}")

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), dpi=110)
    for model_type, rows in curves.items():
        epochs_axis = [row["epoch"] for row in rows]
        axes[0].plot(epochs_axis, [row["wordsim353_spearman"] for row in rows], marker="o", label=model_type)
        axes[1].plot(epochs_axis, [row["analogy_accuracy"] for row in rows], marker="o", label=model_type)
    axes[0].set_ylabel("WordSim353 Spearman rho")
    axes[1].set_ylabel("analogy accuracy (3CosAdd)")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"word2vec on {os.path.basename(corpus)}: skip-gram vs CBOW (negative sampling)")
    out = os.path.join(args.out_dir, "word2vec_skipgram_vs_cbow.png")
    save_figure(fig, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
