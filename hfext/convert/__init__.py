"""Converters between other tools' model files and hfext model directories.

- :func:`convert_fasttext_bin` / :func:`save_fasttext_bin`: Facebook fastText ``.bin`` <-> ``hfext-fasttext``.
- :func:`convert_glove_text`: GloVe text vectors -> ``hfext-glove``.
- :func:`convert_allennlp_elmo`: AllenNLP/bilm-tf ELMo ``options.json`` + ``weights.hdf5`` -> ``hfext-elmo``.
- :func:`convert_hf_bert`: a transformers ``BertModel`` / ``BertForMaskedLM`` / ``BertForPreTraining`` directory -> ``hfext-bert``.
- :func:`convert_hf_gpt2`: a transformers ``GPT2LMHeadModel`` directory -> ``hfext-gpt``.
"""

from .allennlp_elmo import (
    AllenNLPElmoFormatError,
    convert_allennlp_elmo,
    load_allennlp_elmo,
)
from .bert import BertCheckpointError, convert_hf_bert
from .fasttext import (
    FastTextFormatError,
    convert_fasttext_bin,
    read_fasttext_bin_info,
    save_fasttext_bin,
)
from .glove import convert_glove_text
from .gpt2 import GPT2FormatError, convert_hf_gpt2

__all__ = ["AllenNLPElmoFormatError", "BertCheckpointError", "FastTextFormatError", "GPT2FormatError", "convert_allennlp_elmo", "convert_fasttext_bin", "convert_glove_text", "convert_hf_bert", "convert_hf_gpt2", "load_allennlp_elmo", "read_fasttext_bin_info", "save_fasttext_bin"]
