"""Converters between other tools' model files and hfext model directories.

- :func:`convert_fasttext_bin` / :func:`save_fasttext_bin`: Facebook fastText ``.bin`` <-> ``hfext-fasttext``.
- :func:`convert_glove_text`: GloVe text vectors -> ``hfext-glove``.
- :func:`convert_allennlp_elmo`: AllenNLP/bilm-tf ELMo ``options.json`` + ``weights.hdf5`` -> ``hfext-elmo``.
"""

from .allennlp_elmo import (
    AllenNLPElmoFormatError,
    convert_allennlp_elmo,
    load_allennlp_elmo,
)
from .fasttext import (
    FastTextFormatError,
    convert_fasttext_bin,
    read_fasttext_bin_info,
    save_fasttext_bin,
)
from .glove import convert_glove_text

__all__ = ["AllenNLPElmoFormatError", "FastTextFormatError", "convert_allennlp_elmo", "convert_fasttext_bin", "convert_glove_text", "load_allennlp_elmo", "read_fasttext_bin_info", "save_fasttext_bin"]
