"""hfext plugin: word2vec skip-gram (``hfext-skipgram``) and CBOW (``hfext-cbow``).

Declared in pyproject.toml under the ``hfext.plugins`` entry-point group; ``hfext.plugins`` reads
``configs``, ``models`` and ``tokenizers`` from this module and registers them with the Auto classes.
"""

from transformers import PreTrainedTokenizerFast

from .configuration_word2vec import CBOWConfig, SkipGramConfig, Word2VecConfig
from .modeling_word2vec import (
    CBOWModel,
    SkipGramModel,
    Word2VecOutput,
    Word2VecPreTrainedModel,
    build_huffman_tree,
)

configs = [SkipGramConfig, CBOWConfig]
models = [SkipGramModel, CBOWModel]
# The vocabulary is a `tokenizers` WordLevel model behind the generic fast tokenizer.
tokenizers = {SkipGramConfig: PreTrainedTokenizerFast, CBOWConfig: PreTrainedTokenizerFast}

__all__ = [
    "CBOWConfig",
    "CBOWModel",
    "SkipGramConfig",
    "SkipGramModel",
    "Word2VecConfig",
    "Word2VecOutput",
    "Word2VecPreTrainedModel",
    "build_huffman_tree",
]
