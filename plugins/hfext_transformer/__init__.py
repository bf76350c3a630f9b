"""hfext plugin: the encoder-decoder Transformer of "Attention Is All You Need" (``hfext-transformer``).

Declared in pyproject.toml under the ``hfext.plugins`` entry-point group; ``hfext.plugins`` registers
``TransformerModel`` with ``AutoModel`` and ``TransformerForConditionalGeneration`` with
``AutoModelForSeq2SeqLM``, and the generic fast tokenizer (a ``tokenizers`` model trained by the recipe)
with ``AutoTokenizer``.
"""

from transformers import PreTrainedTokenizerFast

from .configuration_transformer import TransformerConfig
from .modeling_transformer import (
    TransformerAttention,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
    TransformerFeedForward,
    TransformerForConditionalGeneration,
    TransformerModel,
    TransformerPreTrainedModel,
    TransformerScaledWordEmbedding,
    TransformerSinusoidalPositionalEmbedding,
    shift_tokens_right,
)

configs = [TransformerConfig]
models = [TransformerModel, TransformerForConditionalGeneration]
auto_classes = {TransformerModel: ["AutoModel"], TransformerForConditionalGeneration: ["AutoModelForSeq2SeqLM"]}
tokenizers = {TransformerConfig: PreTrainedTokenizerFast}

__all__ = [
    "TransformerAttention",
    "TransformerConfig",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "TransformerFeedForward",
    "TransformerForConditionalGeneration",
    "TransformerModel",
    "TransformerPreTrainedModel",
    "TransformerScaledWordEmbedding",
    "TransformerSinusoidalPositionalEmbedding",
    "shift_tokens_right",
]
