"""Converters between other tools' model files and hfext model directories.

- :func:`convert_fasttext_bin` / :func:`save_fasttext_bin`: Facebook fastText ``.bin`` <-> ``hfext-fasttext``.
- :func:`convert_glove_text`: GloVe text vectors -> ``hfext-glove``.
"""

from .fasttext import (
    FastTextFormatError,
    convert_fasttext_bin,
    read_fasttext_bin_info,
    save_fasttext_bin,
)
from .glove import convert_glove_text

__all__ = ["FastTextFormatError", "convert_fasttext_bin", "convert_glove_text", "read_fasttext_bin_info", "save_fasttext_bin"]
