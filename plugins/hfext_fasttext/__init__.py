"""hfext plugin: fastText (``hfext-fasttext``), skip-gram and CBOW over words and hashed character n-grams.

Declared in pyproject.toml under the ``hfext.plugins`` entry-point group; ``hfext.plugins`` reads
``configs``, ``models`` and ``tokenizers`` from this module and registers them with the Auto classes.
"""

from transformers import PreTrainedTokenizerFast

from .configuration_fasttext import FastTextConfig
from .modeling_fasttext import (
    FastTextModel,
    FastTextOutput,
    FastTextPreTrainedModel,
    char_ngrams,
    fasttext_hash,
    subword_buckets,
    subword_csr,
)

configs = [FastTextConfig]
models = [FastTextModel]
# The vocabulary is a `tokenizers` WordLevel model behind the generic fast tokenizer, as for word2vec.
tokenizers = {FastTextConfig: PreTrainedTokenizerFast}

__all__ = [
    "FastTextConfig",
    "FastTextModel",
    "FastTextOutput",
    "FastTextPreTrainedModel",
    "char_ngrams",
    "fasttext_hash",
    "subword_buckets",
    "subword_csr",
]
