"""hfext plugin: BERT (``hfext-bert``), the Transformer encoder pretrained with MLM + NSP.

Declared in pyproject.toml under the ``hfext.plugins`` entry-point group; ``hfext.plugins`` registers
``BertModel`` with ``AutoModel`` and every ``BertFor<Task>`` with ``AutoModelFor<Task>`` (by name), and
the generic fast tokenizer (a WordPiece ``tokenizers`` model) with ``AutoTokenizer``. The classes share
transformers' BERT names but live in ``hfext_bert``; their config's model_type is ``hfext-bert``.
"""

from transformers import PreTrainedTokenizerFast

from .configuration_bert import BertConfig
from .modeling_bert import (
    BertEmbeddings,
    BertEncoder,
    BertForMaskedLM,
    BertForMultipleChoice,
    BertForNextSentencePrediction,
    BertForPreTraining,
    BertForPreTrainingOutput,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertLayer,
    BertLMPredictionHead,
    BertModel,
    BertPooler,
    BertPreTrainedModel,
    BertSelfAttention,
)

configs = [BertConfig]
models = [
    BertModel,
    BertForPreTraining,
    BertForMaskedLM,
    BertForNextSentencePrediction,
    BertForSequenceClassification,
    BertForMultipleChoice,
    BertForQuestionAnswering,
    BertForTokenClassification,
]
tokenizers = {BertConfig: PreTrainedTokenizerFast}

__all__ = [
    "BertConfig",
    "BertEmbeddings",
    "BertEncoder",
    "BertForMaskedLM",
    "BertForMultipleChoice",
    "BertForNextSentencePrediction",
    "BertForPreTraining",
    "BertForPreTrainingOutput",
    "BertForQuestionAnswering",
    "BertForSequenceClassification",
    "BertForTokenClassification",
    "BertLMPredictionHead",
    "BertLayer",
    "BertModel",
    "BertPooler",
    "BertPreTrainedModel",
    "BertSelfAttention",
]
