"""hfext plugin: GPT, the decoder-only Transformer language model (``hfext-gpt``).

Declared in pyproject.toml under the ``hfext.plugins`` entry-point group; ``hfext.plugins`` registers
``GPTModel`` with ``AutoModel`` and ``GPTForCausalLM`` with ``AutoModelForCausalLM``, and the generic fast
tokenizer (a byte-level BPE ``tokenizers`` model) with ``AutoTokenizer``.
"""

from transformers import PreTrainedTokenizerFast

from .configuration_gpt import GPTConfig
from .modeling_gpt import (
    GPTMLP,
    GPTAttention,
    GPTBlock,
    GPTForCausalLM,
    GPTModel,
    GPTPreTrainedModel,
)

configs = [GPTConfig]
models = [GPTModel, GPTForCausalLM]
auto_classes = {GPTModel: ["AutoModel"], GPTForCausalLM: ["AutoModelForCausalLM"]}
tokenizers = {GPTConfig: PreTrainedTokenizerFast}

__all__ = ["GPTMLP", "GPTAttention", "GPTBlock", "GPTConfig", "GPTForCausalLM", "GPTModel", "GPTPreTrainedModel"]
