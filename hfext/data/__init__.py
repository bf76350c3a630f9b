"""Data pipeline shared by the embedding families: corpus streaming, vocabulary, windows, sampling, BERT pretraining
(NSP pairs, MLM masking)."""

from .bert_pretraining import (
    DataCollatorForBertPretraining,
    build_nsp_examples,
    mask_tokens,
)
from .cooccurrence import (
    cooccurrence_matrix,
    load_cooccurrence,
    one_hot,
    save_cooccurrence,
    split_sentences,
)
from .corpus import (
    CorpusError,
    EncodedCorpus,
    Vocabulary,
    dataset_lines,
    file_fingerprint,
    read_lines,
)
from .windows import (
    WindowChunk,
    WindowChunks,
    build_noise_table,
    cbow_windows,
    keep_probabilities,
    skipgram_pairs,
)

__all__ = [
    "CorpusError",
    "DataCollatorForBertPretraining",
    "EncodedCorpus",
    "Vocabulary",
    "WindowChunk",
    "WindowChunks",
    "build_noise_table",
    "build_nsp_examples",
    "cbow_windows",
    "cooccurrence_matrix",
    "dataset_lines",
    "file_fingerprint",
    "keep_probabilities",
    "load_cooccurrence",
    "mask_tokens",
    "one_hot",
    "read_lines",
    "save_cooccurrence",
    "skipgram_pairs",
    "split_sentences",
]
