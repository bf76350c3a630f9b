"""Converters between other tools' model files and hfext model directories.

- :func:`convert_fasttext_bin` / :func:`save_fasttext_bin`: Facebook fastText ``.bin`` <-> ``hfext-fasttext``.
"""

from .fasttext import (
    FastTextFormatError,
    convert_fasttext_bin,
    read_fasttext_bin_info,
    save_fasttext_bin,
)

__all__ = ["FastTextFormatError", "convert_fasttext_bin", "read_fasttext_bin_info", "save_fasttext_bin"]
