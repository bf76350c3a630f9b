"""transformers' BERT checkpoints (``BertModel`` / ``BertForMaskedLM`` / ``BertForPreTraining``) ->
``hfext-bert`` model directories, with the same weights and the source's tokenizer.

>>> from hfext.convert import convert_hf_bert
>>> convert_hf_bert("bert-base-uncased-local", "bert-base-hfext")  # doctest: +SKIP

The models compute the same function: last hidden states, pooled output and MLM logits agree to
float32 round-off (tests check 1e-5). Only the parameter names differ; :data:`RENAMES` is the map.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

from ..errors import DocumentedError, see

logger = logging.getLogger(__name__)

#: transformers' BERT architecture -> the hfext-bert class written (same heads, same weights).
ARCHITECTURES = {
    "BertModel": "BertModel",
    "BertForMaskedLM": "BertForMaskedLM",
    "BertForPreTraining": "BertForPreTraining",
}

#: (pattern, replacement) on transformers' parameter names, applied in order.
RENAMES = [
    (r"^cls\.predictions\.transform\.dense\.", "predictions.dense."),
    (r"^cls\.predictions\.transform\.LayerNorm\.", "predictions.layer_norm."),
    (r"^cls\.predictions\.decoder\.", "predictions.decoder."),
    (r"^cls\.predictions\.bias$", "predictions.decoder.bias"),
    (r"^cls\.seq_relationship\.", "seq_relationship."),
    (r"embeddings\.LayerNorm\.", "embeddings.layer_norm."),
    (r"encoder\.layer\.(\d+)\.attention\.self\.query\.", r"encoder.layers.\1.self_attn.q_proj."),
    (r"encoder\.layer\.(\d+)\.attention\.self\.key\.", r"encoder.layers.\1.self_attn.k_proj."),
    (r"encoder\.layer\.(\d+)\.attention\.self\.value\.", r"encoder.layers.\1.self_attn.v_proj."),
    (r"encoder\.layer\.(\d+)\.attention\.output\.dense\.", r"encoder.layers.\1.self_attn.out_proj."),
    (r"encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.", r"encoder.layers.\1.self_attn_layer_norm."),
    (r"encoder\.layer\.(\d+)\.intermediate\.dense\.", r"encoder.layers.\1.fc1."),
    (r"encoder\.layer\.(\d+)\.output\.dense\.", r"encoder.layers.\1.fc2."),
    (r"encoder\.layer\.(\d+)\.output\.LayerNorm\.", r"encoder.layers.\1.final_layer_norm."),
]

#: transformers BertConfig fields carried over unchanged.
CONFIG_FIELDS = (
    "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "hidden_act",
    "hidden_dropout_prob", "attention_probs_dropout_prob", "max_position_embeddings", "type_vocab_size",
    "initializer_range", "layer_norm_eps", "classifier_dropout", "pad_token_id", "tie_word_embeddings",
)


class BertCheckpointError(DocumentedError, ValueError):
    """The source directory is not a transformers BERT checkpoint this converter handles."""

    docs = "convert-bert"


def rename_bert_key(name: str) -> str:
    """transformers' BERT parameter name -> hfext-bert's."""
    for pattern, replacement in RENAMES:
        name = re.sub(pattern, replacement, name)
    return name


def _read_source_config(src: Path) -> dict:
    config_file = src / "config.json"
    if not config_file.is_file():
        raise BertCheckpointError(
            f"{str(src)!r} has no config.json; pass a directory written by transformers' "
            "BertModel/BertForMaskedLM/BertForPreTraining .save_pretrained()"
        )
    with open(config_file, encoding="utf8") as handle:
        config = json.load(handle)
    model_type = config.get("model_type")
    if model_type != "bert":
        hint = " (it is already an hfext-bert directory: load it with AutoModel after `import hfext`)" \
            if model_type == "hfext-bert" else ""
        raise BertCheckpointError(
            f"{str(src)!r} is a {model_type!r} checkpoint, not a transformers BERT one (model_type 'bert'){hint}; "
            "`hfext convert hf-bert` converts BertModel, BertForMaskedLM and BertForPreTraining checkpoints only"
        )
    architectures = config.get("architectures") or ["BertModel"]
    if architectures[0] not in ARCHITECTURES:
        raise BertCheckpointError(
            f"{str(src)!r} holds a {architectures[0]}; convertible BERT architectures are {sorted(ARCHITECTURES)} "
            "(convert the pretrained encoder, then fine-tune an hfext-bert head on it)"
        )
    position_type = config.get("position_embedding_type", "absolute")
    if position_type != "absolute" or config.get("is_decoder") or config.get("add_cross_attention"):
        raise BertCheckpointError(
            f"{str(src)!r} is a BERT variant (position_embedding_type={position_type!r}, "
            f"is_decoder={config.get('is_decoder', False)}, add_cross_attention={config.get('add_cross_attention', False)}); "
            "hfext-bert is the original encoder with absolute positions"
        )
    return config


def convert_hf_bert(src: str | os.PathLike, dst: str | os.PathLike, overwrite: bool = False) -> Path:
    """Convert the transformers BERT checkpoint directory ``src`` into an hfext-bert directory ``dst``
    (config, weights and, when ``src`` has one, the tokenizer); returns ``dst``."""
    import torch
    import transformers
    from hfext_bert import modeling_bert
    from hfext_bert.configuration_bert import BertConfig

    import hfext  # noqa: F401  (registers hfext-bert)

    src, dst = Path(src).expanduser(), Path(dst).expanduser()
    if not src.is_dir():
        raise FileNotFoundError(f"no checkpoint directory at {str(src)!r}; pass a folder with config.json and weights"
                                + see("convert-bert"))
    if dst.exists() and any(dst.iterdir()) and not overwrite:
        raise FileExistsError(f"{str(dst)!r} exists and is not empty; pass overwrite=True (--overwrite) or another folder"
                              + see("output-file"))
    source_config = _read_source_config(src)
    architecture = (source_config.get("architectures") or ["BertModel"])[0]

    source = getattr(transformers, architecture).from_pretrained(src, dtype=torch.float32)
    state = {}
    for name, tensor in source.state_dict().items():
        if name.endswith("position_ids"):  # a buffer some versions save
            continue
        state[rename_bert_key(name)] = tensor
    fields = {name: source_config[name] for name in CONFIG_FIELDS if name in source_config}
    for name in ("id2label", "label2id"):
        if name in source_config:
            fields[name] = source_config[name]
    config = BertConfig(**fields)
    target_class = getattr(modeling_bert, ARCHITECTURES[architecture])
    if target_class is modeling_bert.BertModel:
        target = target_class(config, add_pooling_layer=any(k.startswith("pooler.") for k in state))
    else:
        target = target_class(config)
    missing, unexpected = target.load_state_dict(state, strict=False)
    tied = {"predictions.decoder.weight"} if config.tie_word_embeddings else set()
    missing = [name for name in missing if name not in tied]
    if missing or unexpected:
        raise BertCheckpointError(
            f"the weights of {str(src)!r} do not fit hfext-bert's {target_class.__name__}: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}; is it a modified BERT?"
        )
    dst.mkdir(parents=True, exist_ok=True)
    target.save_pretrained(dst)
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(src)
    except (OSError, ValueError, TypeError) as error:
        logger.warning("no tokenizer in %s (%s); %s has the model only: save your tokenizer there", src, error, dst)
    else:
        tokenizer.save_pretrained(dst)
    logger.info("converted %s (%s, %d layers, hidden %d) to %s", src, architecture, config.num_hidden_layers,
                config.hidden_size, dst)
    return dst


__all__ = ["ARCHITECTURES", "RENAMES", "BertCheckpointError", "convert_hf_bert", "rename_bert_key"]
