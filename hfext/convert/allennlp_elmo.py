"""AllenNLP / bilm-tf ELMo weights (``options.json`` + ``weights.hdf5``) -> an ``hfext-elmo`` model directory
that ``AutoModel`` (an ``ElmoModel``) and ``AutoTokenizer`` (the character tokenizer) load.

The hdf5 layout is bilm-tf's, read exactly as AllenNLP's ``_ElmoCharacterEncoder`` and ``ElmoLstm`` read it:

=====================================================  =====================================  ==========================
dataset                                                shape                                  becomes
=====================================================  =====================================  ==========================
``char_embed``                                         (n_characters - 1, e)                  rows 1.. of the embedding
``CNN/W_cnn_{i}``, ``CNN/b_cnn_{i}``                   (1, width, e, number), (number,)       ``Conv1d`` i
``CNN_high_{k}/W_transform|b_transform``               (F, F), (F,)                           highway k, first half
``CNN_high_{k}/W_carry|b_carry``                       (F, F), (F,)                           highway k gate, negated
``CNN_proj/W_proj``, ``CNN_proj/b_proj``               (F, P), (P,)                           projection
``RNN_{d}/RNN/MultiRNNCell/Cell{l}/LSTMCell/W_0``      (P + P, 4 c)                           input and state linearity
``RNN_{d}/RNN/MultiRNNCell/Cell{l}/LSTMCell/B``        (4 c,)                                 state bias (+1 forget)
``RNN_{d}/RNN/MultiRNNCell/Cell{l}/LSTMCell/W_P_0``    (c, P)                                 state projection
=====================================================  =====================================  ==========================

with d = 0 forward, 1 backward. TensorFlow orders the LSTM gates input, memory, forget, output and adds 1
to the forget gate at run time; the highway's carry gate is 1 - AllenNLP's gate. The released files hold no
softmax (it is only used for pretraining), so the result is an ``ElmoModel`` with a fresh scalar mix.
"""

from __future__ import annotations

import json
import logging
import os

import numpy as np
import torch

from ..errors import DocumentedError, MissingDependencyError, see

logger = logging.getLogger(__name__)


class AllenNLPElmoFormatError(DocumentedError, ValueError):
    """The options file and the weight file do not describe one ELMo model; the message says what differs."""

    docs = "convert-elmo"


def _require(options: dict, path: str, source: str):
    value = options
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            raise AllenNLPElmoFormatError(
                f"{source} has no '{path}' entry; pass the options.json that was published with the weights "
                "(it has 'lstm' and 'char_cnn' sections)"
            )
        value = value[part]
    return value


def elmo_config_kwargs(options: dict, source: str = "options.json") -> dict:
    """The ``ElmoConfig`` fields an AllenNLP options dictionary describes."""
    if _require(options, "lstm.use_skip_connections", source) is not True:
        # AllenNLP refuses these too: every published ELMo uses them.
        logger.warning("%s: use_skip_connections is false; the model is built without residual connections", source)
    return {
        "projection_dim": int(_require(options, "lstm.projection_dim", source)),
        "lstm_dim": int(_require(options, "lstm.dim", source)),
        "num_layers": int(_require(options, "lstm.n_layers", source)),
        "cell_clip": _require(options, "lstm.cell_clip", source) or None,
        "proj_clip": _require(options, "lstm.proj_clip", source) or None,
        "use_skip_connections": bool(options["lstm"]["use_skip_connections"]),
        "filters": [[int(w), int(n)] for w, n in _require(options, "char_cnn.filters", source)],
        "n_highway": int(_require(options, "char_cnn.n_highway", source)),
        "char_embedding_dim": int(_require(options, "char_cnn.embedding.dim", source)),
        "char_activation": str(options["char_cnn"].get("activation", "relu")),
        "max_characters_per_token": int(options["char_cnn"].get("max_characters_per_token", 50)),
        "n_characters": int(_require(options, "char_cnn.n_characters", source)),
    }


class _Weights:
    """Reads datasets with shape checks whose errors name the dataset, both shapes and the option behind it."""

    def __init__(self, handle, path: str):
        self.handle, self.path = handle, path

    def get(self, name: str, shape: tuple, because: str) -> np.ndarray:
        if name not in self.handle:
            raise AllenNLPElmoFormatError(
                f"{self.path} has no dataset '{name}' ({because}); the options file does not match these weights "
                "(or this is not a bilm-tf/AllenNLP ELMo weight file)"
            )
        value = self.handle[name][...]
        if tuple(value.shape) != tuple(shape):
            raise AllenNLPElmoFormatError(
                f"{self.path}: dataset '{name}' has shape {tuple(value.shape)} but the options file implies "
                f"{tuple(shape)} ({because}); pass the options.json published with these weights"
            )
        return np.asarray(value, dtype=np.float32)


def load_allennlp_elmo(options_file: str | os.PathLike, weight_file: str | os.PathLike):
    """An ``ElmoModel`` with the weights of an AllenNLP/bilm-tf ELMo (``options.json`` + ``weights.hdf5``)."""
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py is a dev extra
        raise MissingDependencyError("reading ELMo .hdf5 weights needs h5py: `pip install h5py`") from None
    from hfext_elmo import ElmoConfig
    from transformers import AutoModel

    import hfext  # noqa: F401  (registers hfext-elmo)

    options_file, weight_file = os.fspath(options_file), os.fspath(weight_file)
    for path, what in ((options_file, "ELMo options file (options.json)"), (weight_file, "ELMo weight file (.hdf5)")):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no {what} at {path!r}" + see("convert-elmo"))
    try:
        with open(options_file, encoding="utf-8") as handle:
            options = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise AllenNLPElmoFormatError(f"{options_file} is not a JSON options file ({error}); pass ELMo's options.json") from None
    kwargs = elmo_config_kwargs(options, options_file)
    if not h5py.is_hdf5(weight_file):
        raise AllenNLPElmoFormatError(f"{weight_file} is not an HDF5 file; pass ELMo's weights.hdf5")
    with h5py.File(weight_file, "r") as handle:
        weights = _Weights(handle, weight_file)
        if "char_embed" not in handle:
            raise AllenNLPElmoFormatError(f"{weight_file} has no dataset 'char_embed': not a bilm-tf/AllenNLP ELMo weight file")
        rows = handle["char_embed"].shape[0]
        # bilm-tf stores the ids 1.. (261 rows); AllenNLP prepends the zero row of the padding id 0.
        if kwargs["n_characters"] not in (rows, rows + 1):
            raise AllenNLPElmoFormatError(
                f"{weight_file}: char_embed has {rows} rows but the options say n_characters = {kwargs['n_characters']}; "
                "pass the options.json published with these weights"
            )
        kwargs["n_characters"] = rows + 1
        layers_in_file = sum(1 for name in handle["RNN_0/RNN/MultiRNNCell"]) if "RNN_0/RNN/MultiRNNCell" in handle else 0
        if layers_in_file != kwargs["num_layers"]:
            raise AllenNLPElmoFormatError(
                f"{weight_file} holds {layers_in_file} LSTM layers per direction but the options say lstm.n_layers = "
                f"{kwargs['num_layers']}; pass the options.json published with these weights"
            )
        highways_in_file = sum(1 for name in handle if name.startswith("CNN_high_"))
        if highways_in_file != kwargs["n_highway"]:
            raise AllenNLPElmoFormatError(
                f"{weight_file} holds {highways_in_file} highway layers but the options say char_cnn.n_highway = "
                f"{kwargs['n_highway']}; pass the options.json published with these weights"
            )
        config = ElmoConfig(vocab_size=0, **kwargs)
        model = AutoModel.from_config(config)
        e, F, P, c = config.char_embedding_dim, config.n_filters, config.projection_dim, config.lstm_dim
        state = {}
        embed = weights.get("char_embed", (rows, e), f"char_cnn.embedding.dim = {e}")
        state["char_encoder.char_embedding.weight"] = np.concatenate([np.zeros((1, e), np.float32), embed])
        for i, (width, number) in enumerate(config.filters):
            because = f"char_cnn.filters[{i}] = [{width}, {number}], embedding.dim = {e}"
            w = weights.get(f"CNN/W_cnn_{i}", (1, width, e, number), because)
            state[f"char_encoder.convolutions.{i}.weight"] = np.transpose(w[0], (2, 1, 0))  # (number, e, width)
            state[f"char_encoder.convolutions.{i}.bias"] = weights.get(f"CNN/b_cnn_{i}", (number,), because)
        for k in range(config.n_highway):
            because = f"{F} CNN filters in all"
            group = f"CNN_high_{k}"
            w_transform = weights.get(f"{group}/W_transform", (F, F), because).T
            w_carry = weights.get(f"{group}/W_carry", (F, F), because).T
            b_transform = weights.get(f"{group}/b_transform", (F,), because)
            b_carry = weights.get(f"{group}/b_carry", (F,), because)
            # TF: carry * relu(.) + (1 - carry) * x;  ours: g * x + (1 - g) * relu(.), so g's logits = -carry's
            state[f"char_encoder.highway.layers.{k}.weight"] = np.concatenate([w_transform, -w_carry])
            state[f"char_encoder.highway.layers.{k}.bias"] = np.concatenate([b_transform, -b_carry])
        because = f"{F} CNN filters, lstm.projection_dim = {P}"
        state["char_encoder.projection.weight"] = weights.get("CNN_proj/W_proj", (F, P), because).T
        state["char_encoder.projection.bias"] = weights.get("CNN_proj/b_proj", (P,), because)
        for direction, name in ((0, "forward_layers"), (1, "backward_layers")):
            for layer in range(config.num_layers):
                group = f"RNN_{direction}/RNN/MultiRNNCell/Cell{layer}/LSTMCell"
                because = f"lstm.projection_dim = {P}, lstm.dim = {c}"
                kernel = weights.get(f"{group}/W_0", (2 * P, 4 * c), because).T  # (4c, P + P): [input | state]
                bias = weights.get(f"{group}/B", (4 * c,), because).copy()
                bias[2 * c : 3 * c] += 1.0  # TF's LSTMCell adds forget_bias = 1 at run time
                # TF gate blocks i, j (memory), f, o -> ours i, f, j, o
                order = np.concatenate([np.arange(0, c), np.arange(2 * c, 3 * c), np.arange(c, 2 * c), np.arange(3 * c, 4 * c)])
                prefix = f"encoder.{name}.{layer}"
                state[f"{prefix}.input_linearity.weight"] = kernel[order, :P]
                state[f"{prefix}.state_linearity.weight"] = kernel[order, P:]
                state[f"{prefix}.state_linearity.bias"] = bias[order]
                state[f"{prefix}.state_projection.weight"] = weights.get(f"{group}/W_P_0", (c, P), because).T
    tensors = {key: torch.from_numpy(np.ascontiguousarray(value)) for key, value in state.items()}
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    missing = [key for key in missing if not key.startswith("scalar_mix.")]
    if missing or unexpected:  # a bug here, not the user's input
        raise RuntimeError(f"ELMo conversion left parameters unset: {missing} / unexpected {unexpected}")  # internal
    return model


def convert_allennlp_elmo(
    options_file: str | os.PathLike, weight_file: str | os.PathLike, dst: str | os.PathLike
) -> str:
    """Write the ELMo of ``options_file`` + ``weight_file`` as an hfext-elmo model directory ``dst``
    (model + character tokenizer, atomically); returns ``dst``."""
    from hfext_elmo import ElmoCharacterTokenizer

    from ..training.args import save_pretrained_atomic

    model = load_allennlp_elmo(options_file, weight_file)
    tokenizer = ElmoCharacterTokenizer(max_characters_per_token=model.config.max_characters_per_token)
    os.makedirs(dst, exist_ok=True)
    save_pretrained_atomic(model, tokenizer, dst)
    logger.info("converted ELMo %s + %s (%d parameters) to %s", options_file, weight_file,
                sum(p.numel() for p in model.parameters()), dst)
    return os.fspath(dst)
