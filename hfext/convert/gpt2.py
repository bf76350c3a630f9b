"""transformers GPT-2 (``GPT2LMHeadModel`` directory) -> an ``hfext-gpt`` model directory.

hfext-gpt keeps GPT-2's parameter layout (``Conv1D`` projections ``y = x W + b`` with W of shape (in, out), the
fused q/k/v ``c_attn``, the same names), so the weights map one to one under the ``transformer.`` prefix; the
tokenizer files are copied unchanged.

>>> convert_hf_gpt2("gpt2-local-dir", "gpt2-hfext")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import torch

from ..errors import DocumentedError, see

logger = logging.getLogger(__name__)

TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json",
                   "added_tokens.json")

# GPT-2 options hfext-gpt does not implement: converting with them set would silently change the model.
_UNSUPPORTED = {"scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False, "reorder_and_upcast_attn": False,
                "add_cross_attention": False}


class GPT2FormatError(DocumentedError, ValueError):
    """SRC is not a GPT-2 checkpoint hfext-gpt can represent exactly."""

    docs = "convert-gpt2"


def gpt2_config_to_gpt(gpt2_config: dict):
    """The :class:`GPTConfig` of a GPT-2 ``config.json`` (a dict)."""
    from transformers import AutoConfig

    import hfext  # noqa: F401  (registers hfext-gpt)

    for key, expected in _UNSUPPORTED.items():
        if gpt2_config.get(key, expected) != expected:
            raise GPT2FormatError(f"this GPT-2 checkpoint sets {key}={gpt2_config[key]!r}; hfext-gpt supports only "
                                  f"{key}={expected!r}")
    return AutoConfig.for_model(
        "hfext-gpt",
        vocab_size=gpt2_config.get("vocab_size", 50257),
        n_positions=gpt2_config.get("n_positions", 1024),
        n_embd=gpt2_config.get("n_embd", 768),
        n_layer=gpt2_config.get("n_layer", 12),
        n_head=gpt2_config.get("n_head", 12),
        n_inner=gpt2_config.get("n_inner"),
        activation_function=gpt2_config.get("activation_function", "gelu_new"),
        # GPT-2 has separate embedding and residual dropouts; hfext-gpt one (they are equal in every release).
        dropout=float(gpt2_config.get("resid_pdrop", 0.1)),
        attention_dropout=float(gpt2_config.get("attn_pdrop", 0.1)),
        layer_norm_epsilon=gpt2_config.get("layer_norm_epsilon", 1e-5),
        initializer_range=gpt2_config.get("initializer_range", 0.02),
        pre_norm=True,
        tie_word_embeddings=gpt2_config.get("tie_word_embeddings", True),
        bos_token_id=gpt2_config.get("bos_token_id"),
        eos_token_id=gpt2_config.get("eos_token_id"),
        pad_token_id=gpt2_config.get("pad_token_id"),
    )


def gpt2_state_dict_to_gpt(state: dict[str, torch.Tensor], n_layer: int) -> dict[str, torch.Tensor]:
    """Rename a ``GPT2LMHeadModel`` state dict (both store the projections as (in, out) ``Conv1D`` weights)."""
    state = {key.removeprefix("transformer."): value for key, value in state.items()}
    if "wte.weight" not in state or "h.0.attn.c_attn.weight" not in state:
        raise GPT2FormatError("the weights have no wte.weight / h.0.attn.c_attn.weight: not a GPT-2 state dict")
    out = {f"transformer.{name}": state[name] for name in ("wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias")}
    for i in range(n_layer):
        src, dst = f"h.{i}.", f"transformer.h.{i}."
        for norm in ("ln_1", "ln_2"):
            out[f"{dst}{norm}.weight"] = state[f"{src}{norm}.weight"]
            out[f"{dst}{norm}.bias"] = state[f"{src}{norm}.bias"]
        for name in ("c_attn", "c_proj"):
            out[f"{dst}attn.{name}.weight"] = state[f"{src}attn.{name}.weight"]
            out[f"{dst}attn.{name}.bias"] = state[f"{src}attn.{name}.bias"]
        for name in ("c_fc", "c_proj"):
            out[f"{dst}mlp.{name}.weight"] = state[f"{src}mlp.{name}.weight"]
            out[f"{dst}mlp.{name}.bias"] = state[f"{src}mlp.{name}.bias"]
    if "lm_head.weight" in state:
        out["lm_head.weight"] = state["lm_head.weight"]
    return out


def convert_hf_gpt2(src: str | os.PathLike, dst: str | os.PathLike) -> str:
    """Write the transformers GPT-2 checkpoint directory ``src`` as an hfext-gpt directory ``dst`` (model
    files atomically, tokenizer files copied); returns ``dst``."""
    from transformers import GPT2LMHeadModel

    from ..training.args import save_pretrained_atomic

    src = Path(src)
    config_path = src / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"no config.json in {os.fspath(src)!r}; SRC must be a transformers GPT-2 model "
                                "directory (save_pretrained output or a Hub snapshot)" + see("convert-gpt2"))
    with open(config_path, encoding="utf8") as fin:
        gpt2_config = json.load(fin)
    model_type = gpt2_config.get("model_type")
    if model_type != "gpt2":
        raise GPT2FormatError(f"{os.fspath(src)!r} holds a {model_type!r} checkpoint, not GPT-2 (model_type 'gpt2'); "
                              "`hfext convert hf-gpt2` converts only transformers GPT2LMHeadModel directories")
    config = gpt2_config_to_gpt(gpt2_config)
    source = GPT2LMHeadModel.from_pretrained(src, dtype=torch.float32)
    state = gpt2_state_dict_to_gpt(source.state_dict(), config.n_layer)

    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_config(config)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [key for key in missing if not (key == "lm_head.weight" and config.tie_word_embeddings)]
    if missing or unexpected:
        raise GPT2FormatError(f"weights do not map onto hfext-gpt: missing {missing[:5]}, unexpected {unexpected[:5]}")
    if config.tie_word_embeddings:
        model.tie_weights()
    if source.generation_config is not None:
        model.generation_config = source.generation_config
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    save_pretrained_atomic(model, None, dst)
    copied = [name for name in TOKENIZER_FILES if (src / name).is_file()]
    for name in copied:
        shutil.copyfile(src / name, dst / name)
    if not copied:
        logger.warning("%s has no tokenizer files; the converted model in %s has none either", src, dst)
    logger.info("converted GPT-2 (%d layers, width %d) from %s to %s", config.n_layer, config.n_embd, src, dst)
    return os.fspath(dst)
