"""hfext plugin: GloVe (``hfext-glove``).

Declared in pyproject.toml under the ``hfext.plugins`` entry-point group; ``hfext.plugins`` reads
``configs``, ``models`` and ``tokenizers`` from this module and registers them with the Auto classes.
"""

from transformers import PreTrainedTokenizerFast

from .configuration_glove import GloVeConfig
from .modeling_glove import GloVeModel, GloVeOutput, GloVePreTrainedModel

configs = [GloVeConfig]
models = [GloVeModel]
# The vocabulary is a `tokenizers` WordLevel model behind the generic fast tokenizer, as for word2vec.
tokenizers = {GloVeConfig: PreTrainedTokenizerFast}

__all__ = ["GloVeConfig", "GloVeModel", "GloVeOutput", "GloVePreTrainedModel"]
