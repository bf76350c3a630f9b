#!/usr/bin/env python
"""hfext fastText vs gensim FastText: speed and quality, side by side, same machine, same run, same corpus.

    python benchmarks/fasttext_vs_gensim.py                       # skip-gram + CBOW, 3 runs each, alternating
    python benchmarks/fasttext_vs_gensim.py --runs 5 --wait_for_idle 60 --profile

The word2vec benchmark with ``--family fasttext`` (every flag of ``benchmarks/word2vec_vs_gensim.py``
applies; see its docstring for what is measured and how): gensim ``FastText`` against hfext's
``hfext-fasttext`` trained by the shared kernel, both with dim 100, window 5, negative 5, sample 1e-3,
min_count 5, minn 3, maxn 6, bucket 2,000,000, 5 epochs, 2 workers/threads, on ``head500.noblanks.cor``.
Results: ``benchmarks/results/fasttext_vs_gensim.{json,md}``.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from word2vec_vs_gensim import main

if __name__ == "__main__":
    main(["--family", "fasttext", *sys.argv[1:]])
