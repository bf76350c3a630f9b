"""hfext: the classic pretrained models of NLP as Hugging Face models.

``import hfext`` discovers every ``hfext.plugins`` entry point and registers its configs, models and
tokenizers with transformers' Auto classes, so ``AutoModel.from_pretrained`` loads any hfext checkpoint.
"""

__version__ = "0.1.0"

from .plugins import discovered_plugins, load_plugins

load_plugins()

__all__ = ["__version__", "discovered_plugins", "load_plugins"]
