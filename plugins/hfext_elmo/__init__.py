"""hfext plugin: ELMo (``hfext-elmo``).

Declared in pyproject.toml under the ``hfext.plugins`` entry-point group; ``hfext.plugins`` registers
``ElmoModel`` with ``AutoModel``, ``ElmoForBiLM`` (the pretraining model) with ``AutoModelForPreTraining``,
and the character tokenizer with ``AutoTokenizer``.
"""

from .configuration_elmo import ELMO_FILTERS, ELMO_PRESETS, ElmoConfig
from .modeling_elmo import (
    ElmoBiLMOutput,
    ElmoBiLstm,
    ElmoCharacterEncoder,
    ElmoForBiLM,
    ElmoHighway,
    ElmoLstmCellWithProjection,
    ElmoModel,
    ElmoModelOutput,
    ElmoPreTrainedModel,
    ElmoScalarMix,
    remove_sentence_boundaries,
)
from .tokenization_elmo import ElmoCharacterTokenizer

configs = [ElmoConfig]
models = [ElmoModel, ElmoForBiLM]
# A BiLM is not a causal LM (it reads both ways): AutoModelForPreTraining is the Auto class for pretraining heads.
auto_classes = {ElmoModel: ["AutoModel"], ElmoForBiLM: ["AutoModelForPreTraining"]}
tokenizers = {ElmoConfig: ElmoCharacterTokenizer}

__all__ = [
    "ELMO_FILTERS",
    "ELMO_PRESETS",
    "ElmoBiLMOutput",
    "ElmoBiLstm",
    "ElmoCharacterEncoder",
    "ElmoCharacterTokenizer",
    "ElmoConfig",
    "ElmoForBiLM",
    "ElmoHighway",
    "ElmoLstmCellWithProjection",
    "ElmoModel",
    "ElmoModelOutput",
    "ElmoPreTrainedModel",
    "ElmoScalarMix",
    "remove_sentence_boundaries",
]
