"""fastText training: :class:`~hfext.training.word2vec.Word2VecTask` with subword inputs.

A word's input vector is the mean of its own row and its hashed character n-gram rows (the model's
``subword_offsets``/``subword_ids`` CSR). Both backends of the word2vec task run it:

- ``kernel``: the same fused numba SGD as word2vec (:mod:`hfext.training.word2vec_kernel`, whose
  docstring lists the reference semantics matched), with the CSR as its input rows and fastText's
  sigmoid table; skip-gram predicts each context word from the *center* word's subwords, as fastText.
- ``torch``: autograd on ``FastTextModel.forward`` (mean loss, Adam), any device, DDP.

>>> from hfext_fasttext import FastTextConfig, FastTextModel
>>> model = FastTextModel(FastTextConfig(vocab_size=3, vector_size=4, bucket=10, min_count=1))
>>> model.set_vocabulary(["cat", "dog"], [3, 2])
>>> table = FastTextTask.subword_table(None, model)
>>> table.offsets.tolist()[:2], int(table.rows[0])  # "cat": its own row 0 first, then its n-gram rows
([0, 7], 0)
"""

from __future__ import annotations

import numpy as np

from .word2vec import Word2VecTask
from .word2vec_kernel import FASTTEXT_SIGMOID, make_subword_table

FASTTEXT_MODEL_TYPES = ("hfext-fasttext",)


class FastTextTask(Word2VecTask):
    """fastText skip-gram or CBOW (``config.architecture``) over :class:`~hfext.data.WindowChunks`."""

    input_matrix = "input_embeddings"  # words, then the n-gram buckets
    sigmoid = FASTTEXT_SIGMOID  # loss.cc: 512 steps over [-8, 8]
    center_is_input = True  # fasttext.cc skipgram: update(getSubwords(line[w]), line, w + c)

    @staticmethod
    def is_cbow(config) -> bool:
        return config.architecture == "cbow"

    def default_centers_per_lane(self) -> int:
        # CBOW's frequent n-gram rows ("<th", "ing>") get many updates a round from every lane, whose summed
        # changes overshoot: on head500, 16384 centers a round gave analogies 0.094-0.098 / WS353 0.31-0.33,
        # 8192 gave 0.119-0.124 / 0.34-0.35 (gensim: 0.12 / 0.34) for ~10% more time. Skip-gram keeps 16384
        # (4096 cost it 35% speed for no quality).
        return 8192 if self.cbow else 16384

    def subword_table(self, model):
        offsets = model.subword_offsets.detach().cpu().numpy().astype(np.int64)
        rows = model.subword_ids.detach().cpu().numpy().astype(np.int64)
        return make_subword_table(offsets, rows, model.input_embeddings.weight.shape[0])


def load_pretrained_fasttext(model_name_or_path: str):
    """Model and tokenizer of a saved fastText checkpoint, with the word2vec loader's clear errors."""
    from .word2vec import load_pretrained_word2vec

    return load_pretrained_word2vec(model_name_or_path, FASTTEXT_MODEL_TYPES, recipe="recipes/pretrain_fasttext.py")


__all__ = ["FASTTEXT_MODEL_TYPES", "FastTextTask", "load_pretrained_fasttext"]
