import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def gensim_data() -> Path:
    """gensim's shipped test data: real corpora, analogy and similarity sets."""
    gensim = pytest.importorskip("gensim")
    return Path(gensim.__file__).parent / "test" / "test_data"


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a test module (``pytestmark = pytest.mark.usefixtures("one_torch_thread")``): tiny
    models gain nothing from threads, and on a shared 2-core machine threads only contend."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def recipes_path() -> Path:
    return REPO / "recipes"


def load_recipe(name: str):
    """Import recipes/<name>.py as a module (recipes are scripts, not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"recipe_{name}", REPO / "recipes" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def save_tiny_bert(directory, tokenizer, hidden_size: int = 64, num_attention_heads: int = 4,
                   max_position_embeddings: int = 64, dropout: float = 0.1) -> str:
    """A randomly initialised 2-layer hfext-bert (pretraining heads, seed 0) and ``tokenizer`` saved in
    ``directory``: what the fine-tuning tests start from; built in about a second."""
    import torch
    from transformers import AutoConfig, AutoModelForPreTraining

    import hfext  # noqa: F401

    config = AutoConfig.for_model(
        "hfext-bert", vocab_size=len(tokenizer), hidden_size=hidden_size, num_hidden_layers=2,
        num_attention_heads=num_attention_heads, intermediate_size=2 * hidden_size,
        max_position_embeddings=max_position_embeddings, pad_token_id=tokenizer.pad_token_id,
        hidden_dropout_prob=dropout, attention_probs_dropout_prob=0.0)
    torch.manual_seed(0)
    AutoModelForPreTraining.from_config(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)
