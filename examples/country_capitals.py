#!/usr/bin/env python
"""The lecture's picture: train word vectors on a real corpus, then project country and capital vectors
to 2-D with PCA, one line per pair (chapter 3 of the tour: GloVe).

    python examples/country_capitals.py                       # GloVe on gensim's head500 corpus, ~30 s on 2 cores
    python examples/country_capitals.py --family word2vec --out capitals_w2v.png
    python examples/country_capitals.py --smoke --out_dir /tmp/pictures   # 2 epochs: seconds (CI)

Uses only hfext's public commands (`hfext train`, `hfext eval`, `hfext plot pca`) and data gensim ships. On a
330k-word corpus the lines are far from parallel; the lecture's figure comes from billions of words (e.g.
convert Stanford's glove.6B.100d.txt with `hfext convert glove-text` and plot that instead).
"""

import argparse
import contextlib
import io
import json
import os
import sys
from pathlib import Path

from hfext.cli import main as hfext
from hfext.data import gensim_test_data
from hfext.tour import pictures_dir, quiet


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", choices=["glove", "word2vec", "fasttext"], default="glove")
    parser.add_argument("--output_dir", default="./country-capitals-model")
    parser.add_argument("--section", default="capital-world", help="analogy section whose pairs are drawn")
    parser.add_argument("--out", default=None, help="the picture (default: OUT_DIR/country_capitals_FAMILY.png)")
    parser.add_argument("--out_dir", default=None, help="where the pictures go (default: docs/images; with --smoke, a temporary folder)")
    parser.add_argument("--smoke", action="store_true", help="2 epochs instead of the recipe's default (CI)")
    args = parser.parse_args(argv)
    args.out_dir = pictures_dir(args.out_dir, args.smoke)
    data = gensim_test_data()
    if data is None:
        parser.error("this example trains on gensim's bundled corpus: `pip install gensim`")
    out = args.out or os.path.join(args.out_dir, f"country_capitals_{args.family}.png")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    train = ["train", args.family, "--train_file", os.path.join(data, "head500.noblanks.cor"),
             "--output_dir", args.output_dir, "--logging_steps", "1000"]
    if args.family == "glove":
        train += ["--x_max", "10"]  # x_max 100 suits billions of words; this corpus has 330k
    if args.smoke:
        train += ["--num_train_epochs", "2"]
    with quiet():  # the recipe's progress bars and JSON
        status = hfext(train)
    if status:
        return status
    results = json.loads(Path(args.output_dir, "all_results.json").read_text())
    print(f"{args.family}: {results['vocab_size']} words, {results['train_steps']} steps, "
          f"final loss {results['train_loss']:.4f}")
    scores = {}
    for command in (["eval", "analogies", args.output_dir, os.path.join(data, "questions-words.txt")],
                    ["eval", "similarity", args.output_dir, os.path.join(data, "wordsim353.tsv")]):
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            status = hfext([*command, "--json"])
        if status:
            return status
        scores[command[1]] = json.loads(buffer.getvalue())
    print(f"analogy accuracy {scores['analogies']['accuracy']:.3f} ({scores['analogies']['correct']} of "
          f"{scores['analogies']['total']}), WordSim353 Spearman {scores['similarity']['spearman']:.3f}")
    status = hfext(["neighbors", args.output_dir, "berlin", "--topn", "5"])  # head500 is stemmed: no "france"
    if status:
        return status
    with quiet():
        status = hfext(["plot", "pca", args.output_dir, "--analogy_section", args.section, "--max_pairs", "10",
                        "--title", f"{args.family}: country -> capital (PCA)", "--out", out])
    if status == 0:
        print(f"wrote {out}")
    return status


if __name__ == "__main__":
    sys.exit(main())
