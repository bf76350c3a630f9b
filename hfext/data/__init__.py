"""Data pipeline: corpus streaming, vocabulary, windows, sampling (the embedding families), co-occurrence, BERT
pretraining (NSP pairs, MLM masking), and fine-tuning data: SQuAD (question answering) and CoNLL-2003 (NER)."""

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
    gensim_test_data,
    read_lines,
)
from .question_answering import (
    load_squad_dataset,
    postprocess_qa_predictions,
    prepare_train_features,
    prepare_validation_features,
    read_squad_file,
)
from .token_classification import (
    load_conll_dataset,
    read_conll,
    tokenize_and_align_labels,
    word_predictions,
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
    "gensim_test_data",
    "keep_probabilities",
    "load_conll_dataset",
    "load_cooccurrence",
    "load_squad_dataset",
    "mask_tokens",
    "one_hot",
    "postprocess_qa_predictions",
    "prepare_train_features",
    "prepare_validation_features",
    "read_conll",
    "read_lines",
    "read_squad_file",
    "save_cooccurrence",
    "skipgram_pairs",
    "split_sentences",
    "tokenize_and_align_labels",
    "word_predictions",
]
