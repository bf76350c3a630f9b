#!/usr/bin/env python
"""The lecture's picture: train word vectors on a real corpus, then project country and capital vectors
to 2-D with PCA, one line per pair.

    python examples/country_capitals.py                       # GloVe on gensim's head500 corpus, ~30 s on 2 cores
    python examples/country_capitals.py --family word2vec --out capitals_w2v.png

Uses only hfext's public commands (`hfext train`, `hfext plot pca`) and data gensim ships. On a 330k-word
corpus the lines are far from parallel; the lecture's figure comes from billions of words (e.g. convert
Stanford's glove.6B.100d.txt with `hfext convert glove-text` and plot that instead).
"""

import argparse
import os
import sys

from hfext.cli import _gensim_test_data
from hfext.cli import main as hfext


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", choices=["glove", "word2vec", "fasttext"], default="glove")
    parser.add_argument("--output_dir", default="./country-capitals-model")
    parser.add_argument("--section", default="capital-world", help="analogy section whose pairs are drawn")
    parser.add_argument("--out", default="country_capitals.png")
    args = parser.parse_args(argv)
    data = _gensim_test_data()
    if data is None:
        parser.error("this example trains on gensim's bundled corpus: `pip install gensim`")
    train = ["train", args.family, "--train_file", os.path.join(data, "head500.noblanks.cor"),
             "--output_dir", args.output_dir, "--logging_steps", "1000"]
    if args.family == "glove":
        train += ["--x_max", "10"]  # x_max 100 suits billions of words; this corpus has 330k
    status = hfext(train)
    if status:
        return status
    return hfext(["plot", "pca", args.output_dir, "--analogy_section", args.section, "--max_pairs", "10",
                  "--title", f"{args.family}: country -> capital (PCA)", "--out", args.out])


if __name__ == "__main__":
    sys.exit(main())
