"""GloVe text vectors (Stanford's ``glove.*.txt``, or gensim's ``test_glove.txt``) -> an ``hfext-glove``
model directory that ``AutoModel`` and ``AutoTokenizer`` load.

A text file holds only the final vectors, not W, W~ and the biases separately: they become W, with
``vector_combination="word"`` so the model's word vectors are exactly the file's.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import torch

from ..errors import see

logger = logging.getLogger(__name__)


def convert_glove_text(src: str | os.PathLike, dst: str | os.PathLike, has_header: bool | None = None) -> str:
    """Write the vectors of the GloVe text file ``src`` as an hfext-glove model directory ``dst``
    (atomically); returns ``dst``. ``has_header=None`` detects a word2vec-style ``"<count> <dim>"`` line."""
    from transformers import AutoConfig, AutoModel

    import hfext  # noqa: F401  (registers hfext-glove)

    from ..data import Vocabulary
    from ..training.args import save_pretrained_atomic
    from ..vectors import KeyedVectors

    src = os.fspath(src)
    if not os.path.isfile(src):
        raise FileNotFoundError(f"no GloVe text file at {src!r}" + see("input-file"))
    if has_header is None:
        with open(src, "rb") as handle:
            first = handle.readline().split()
        has_header = len(first) == 2 and all(part.isdigit() for part in first)
    kv = KeyedVectors.load_word2vec_format(src, no_header=not has_header)
    config = AutoConfig.for_model(
        "hfext-glove", vocab_size=len(kv) + 1, vector_size=kv.vector_size, vector_combination="word", min_count=1
    )
    model = AutoModel.from_config(config)
    with torch.no_grad():
        model.word_embeddings.weight.zero_()
        model.word_embeddings.weight[: len(kv)] = torch.from_numpy(np.ascontiguousarray(kv.vectors, dtype=np.float32))
        for name in ("context_embeddings", "word_bias", "context_bias"):
            getattr(model, name).weight.zero_()
    # The file is sorted by frequency but has no counts: the rank stands in, so exports keep its order.
    counts = np.arange(len(kv), 0, -1, dtype=np.int64)
    model.set_word_counts(torch.from_numpy(np.append(counts, 0)))
    tokenizer = Vocabulary(kv.index_to_key, counts).to_tokenizer()
    os.makedirs(dst, exist_ok=True)
    save_pretrained_atomic(model, tokenizer, dst)
    logger.info("converted %d GloVe vectors of dimension %d from %s to %s", len(kv), kv.vector_size, src, dst)
    return os.fspath(dst)
