#!/usr/bin/env python
"""Chapter 4 of the tour: fastText's subwords, and vectors for words it never saw.

    python examples/fasttext_subwords.py               # fastText and word2vec skip-gram on head500, ~10 s on 2 cores
    python examples/fasttext_subwords.py --smoke       # 1 epoch, small bucket table: seconds (CI)

A word is "<word>" cut into character n-grams of 3..6 characters; its vector is the mean of its own row and its
n-grams' rows (hashed into ``--bucket`` rows). Trained side by side with word2vec skip-gram on the same corpus
(gensim's head500, which is stemmed: "comput", "languag"), fastText gives a vector to a misspelt or inflected
word it never saw; word2vec has none. The picture is the cosine similarity of in-vocabulary words and unseen
variants under fastText.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
from hfext_fasttext import (
    char_ngrams,  # the plugin's own n-gram function (fastText's order)
)

from hfext.cli import main as hfext
from hfext.data import gensim_test_data
from hfext.plots import plot_attention_heatmap
from hfext.tour import pictures_dir, quiet
from hfext.vectors import KeyedVectors

# (a word of head500, an unseen variant of it)
PAIRS = [("comput", "computerz"), ("languag", "languagez"), ("war", "warz"), ("film", "filmz")]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", default="./fasttext-subwords", help="where the two models are saved")
    parser.add_argument("--out_dir", default=None, help="where the pictures go (default: docs/images; with --smoke, a temporary folder)")
    parser.add_argument("--bucket", type=int, default=None, help="n-gram hash rows (default 200000; --smoke 20000)")
    parser.add_argument("--smoke", action="store_true", help="1 epoch and a small bucket table (CI)")
    args = parser.parse_args(argv)
    args.out_dir = pictures_dir(args.out_dir, args.smoke)
    data = gensim_test_data()
    if data is None:
        parser.error("this example trains on gensim's bundled corpus: `pip install gensim`")
    os.makedirs(args.out_dir, exist_ok=True)
    print("char n-grams of 'where' (n = 3):", char_ngrams("where", 3, 3))
    print(f"'where' has {len(char_ngrams('where', 3, 6))} n-grams of 3..6 characters")

    corpus = os.path.join(data, "head500.noblanks.cor")
    common = ["--train_file", corpus, "--num_train_epochs", "1" if args.smoke else "5", "--seed", "0"]
    bucket = args.bucket or (20_000 if args.smoke else 200_000)
    ft_dir, w2v_dir = os.path.join(args.output_dir, "fasttext"), os.path.join(args.output_dir, "word2vec")
    with quiet():  # the recipes' progress bars and JSON
        status = hfext(["train", "fasttext", *common, "--output_dir", ft_dir, "--bucket", str(bucket)])
        status = status or hfext(["train", "word2vec", *common, "--output_dir", w2v_dir])
    if status:
        return status
    with quiet():
        fasttext = KeyedVectors.from_pretrained(ft_dir)
        word2vec = KeyedVectors.from_pretrained(w2v_dir)
    for word, unseen in PAIRS:
        known = "in" if unseen in word2vec else "NOT in"
        top = ", ".join(f"{w} ({s:.2f})" for w, s in fasttext.most_similar(unseen, topn=3))
        print(f"{unseen!r} is {known} word2vec's vocabulary; fastText: cosine to {word!r} "
              f"{fasttext.similarity(word, unseen):.2f}, nearest: {top}")

    words = [w for pair in PAIRS for w in pair]
    vectors = np.stack([fasttext[w] for w in words])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    out = os.path.join(args.out_dir, "fasttext_oov.png")
    plot_attention_heatmap(vectors @ vectors.T, out, xlabel="", ylabel="", xticklabels=words, yticklabels=words,
                           title="fastText cosine similarity (the '...z' words were never seen)")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
