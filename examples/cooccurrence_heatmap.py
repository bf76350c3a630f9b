#!/usr/bin/env python
"""Chapter 1 of the tour: one-hot vectors, then the lecture's window co-occurrence matrix as a heatmap.

    python examples/cooccurrence_heatmap.py                 # the lecture's three sentences, window 1
    python examples/cooccurrence_heatmap.py --window 2 --out_dir /tmp/pictures

One-hot vectors (``hfext.data.one_hot``) of two different words are orthogonal, so they say nothing about
similarity; counting which words appear next to each other (``hfext cooccurrence``, i.e.
``hfext.data.cooccurrence_matrix``) gives rows that do. The table printed is the lecture's slide cell by cell.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from hfext.cli import main as hfext
from hfext.data import one_hot
from hfext.plots import plot_attention_heatmap
from hfext.tour import pictures_dir

LECTURE_TEXT = "I like deep learning. I like NLP. I enjoy flying."
LECTURE_VOCAB = ["I", "like", "enjoy", "deep", "learning", "NLP", "flying", "."]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window", type=int, default=1, help="words on each side that count (the slide: 1)")
    parser.add_argument("--out_dir", default=None, help="where the pictures go (default: docs/images; with --smoke, a temporary folder)")
    parser.add_argument("--output_dir", default=None, help="unused (this chapter trains nothing)")
    parser.add_argument("--smoke", action="store_true", help="accepted for the tour; this chapter is instant anyway")
    args = parser.parse_args(argv)
    args.out_dir = pictures_dir(args.out_dir, args.smoke)
    os.makedirs(args.out_dir, exist_ok=True)

    vectors = one_hot(["like", "enjoy", "NLP"], LECTURE_VOCAB)
    print("one-hot:", {w: v.astype(int).tolist() for w, v in zip(["like", "enjoy", "NLP"], vectors)})
    print(f"cosine(one_hot(like), one_hot(enjoy)) = {cosine(vectors[0], vectors[1]):.3f}")

    with tempfile.TemporaryDirectory() as tmp:
        text = Path(tmp, "lecture.txt")
        text.write_text(LECTURE_TEXT + "\n")
        command = ["cooccurrence", str(text), "--window", str(args.window), "--vocab", ",".join(LECTURE_VOCAB)]
        status = hfext(command)  # prints the table
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            status = status or hfext([*command, "--json"])
    if status:
        return status
    matrix = np.array(json.loads(buffer.getvalue())["matrix"])
    rows = dict(zip(LECTURE_VOCAB, matrix))
    print(f"cosine(row(like), row(enjoy)) = {cosine(rows['like'], rows['enjoy']):.3f}  "
          f"(both follow 'I'); cosine(row(like), row(NLP)) = {cosine(rows['like'], rows['NLP']):.3f}")

    out = os.path.join(args.out_dir, "cooccurrence_matrix.png")
    plot_attention_heatmap(matrix, out, xlabel="context word", ylabel="word", xticklabels=LECTURE_VOCAB,
                           yticklabels=LECTURE_VOCAB, title=f"co-occurrence counts, window {args.window}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
