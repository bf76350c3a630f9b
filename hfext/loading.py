"""One safe way to load a saved model folder or Hub id: what recipes and the CLI use for ``--model_name_or_path``.

``from_pretrained`` on its own will unpickle a ``pytorch_model.bin`` it finds (pickle runs code), load a
config of another family into whatever class the Auto mapping picks, and report a truncated weights file
with a low-level parser error. :func:`load_pretrained` refuses each of these with an error that says what to
do instead:

>>> from transformers import AutoModelForCausalLM
>>> from hfext.loading import load_pretrained, load_tokenizer_for
>>> model = load_pretrained("gpt_dir", AutoModelForCausalLM, model_types=["hfext-gpt"])   # doctest: +SKIP
>>> tokenizer = load_tokenizer_for(model, "gpt_dir")                                      # doctest: +SKIP

- weights only as pickle (``pytorch_model.bin``, ``*.pt``, ``*.pkl``, ``*.ckpt``): :class:`UnsafeWeightsError`
  unless ``allow_pickle=True`` (for files you trust); otherwise transformers is told ``use_safetensors=True``;
- no weights, or a safetensors file (or shard) that is truncated or damaged: ``FileNotFoundError`` /
  :class:`CorruptWeightsError` naming the file;
- a config whose ``model_type`` is not one the caller expects, or that ``auto_class`` has no model for:
  :class:`ModelTypeMismatchError` naming both types;
- a tokenizer with more tokens than the model has embedding rows (its ids would index past them):
  :class:`TokenizerMismatchError`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from .errors import DocumentedError, see

logger = logging.getLogger(__name__)

SAFETENSORS_WEIGHTS = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
# Weight files that torch.load would unpickle (transformers' names, plus the usual raw PyTorch ones).
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
# Files a transformers Trainer checkpoint keeps beside the weights: training state, not model weights.
TRAINING_STATE_FILES = {"optimizer.pt", "scheduler.pt", "rng_state.pth", "training_args.bin", "scaler.pt"}


class LoadingError(DocumentedError, ValueError):
    """A model folder or Hub repo that hfext refuses to load (unsafe or broken)."""


class UnsafeWeightsError(LoadingError):
    """The weights are only available as pickle files and the caller did not opt in."""

    docs = "pickle-weights"


class CorruptWeightsError(LoadingError):
    """A safetensors weights file is truncated or damaged."""

    docs = "corrupt-weights"


class ModelTypeMismatchError(LoadingError):
    """The config holds another model type than the caller expects."""

    docs = "model-type-mismatch"


class TokenizerMismatchError(LoadingError):
    """The tokenizer produces ids the model has no embedding for."""

    docs = "tokenizer-too-big"


def pickle_weight_files(directory: str | os.PathLike) -> list[str]:
    """Names of the files in ``directory`` that hold weights in pickle form (not a Trainer's training state)."""
    return sorted(
        p.name for p in Path(directory).iterdir()
        if p.is_file() and p.suffix in PICKLE_SUFFIXES and p.name not in TRAINING_STATE_FILES
    )


def _opt_in_hint(name: str) -> str:
    return (
        f"pickle files can run arbitrary code when loaded: if you trust {name!r}, pass "
        "hfext.loading.load_pretrained(..., allow_pickle=True), or convert it once with "
        f"`AutoModel.from_pretrained({name!r}).save_pretrained(dir)` "
        "in a trusted environment, which writes model.safetensors"
    )


def check_safetensors(path: str | os.PathLike) -> None:
    """Open a safetensors file's header and check its data length (what a truncated download or a kill during
    the write breaks); raises :class:`CorruptWeightsError` naming the file."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            handle.keys()
    except Exception as error:  # noqa: BLE001  (safetensors raises its own error types for damaged files)
        raise CorruptWeightsError(
            f"{str(path)!r} is not a readable safetensors file ({type(error).__name__}: {error}); the file is "
            "corrupt or truncated: re-save the model or download it again"
        ) from None


def check_local_weights(directory: str | os.PathLike, allow_pickle: bool = False) -> list[Path]:
    """The safetensors files of a local model folder, each checked with :func:`check_safetensors` (a sharded
    checkpoint's index and every shard it names); refuses a folder with only pickle weights unless
    ``allow_pickle``. Returns the checked files (empty when pickle weights are allowed and used)."""
    directory = Path(directory)
    index = directory / SAFETENSORS_INDEX
    if index.exists():
        try:
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (ValueError, KeyError, AttributeError) as error:
            raise CorruptWeightsError(
                f"{str(index)!r} is not a valid safetensors index ({type(error).__name__}: {error}); re-save the model"
            ) from None
        files = [directory / shard for shard in shards]
        missing = [f.name for f in files if not f.exists()]
        if missing:
            raise FileNotFoundError(
                f"{str(directory)!r} is missing the weight shard(s) {missing} listed in {SAFETENSORS_INDEX}; "
                "the checkpoint is incomplete: copy or download the missing files" + see("corrupt-weights")
            )
    elif (directory / SAFETENSORS_WEIGHTS).exists():
        files = [directory / SAFETENSORS_WEIGHTS]
    else:
        pickles = pickle_weight_files(directory)
        if pickles and allow_pickle:
            logger.warning("loading pickle weights %s from %s (allow_pickle=True)", pickles, directory)
            return []
        if pickles:
            raise UnsafeWeightsError(f"{str(directory)!r} holds weights only as pickle ({', '.join(pickles)}); "
                                     + _opt_in_hint(str(directory)))
        raise FileNotFoundError(
            f"{str(directory)!r} has no {SAFETENSORS_WEIGHTS}; the checkpoint is incomplete: save the model again "
            "with save_pretrained, or pass the folder that holds its weights" + see("corrupt-weights")
        )
    for path in files:
        check_safetensors(path)
    return files


def _check_remote_weights(repo_id: str, revision: str | None, token) -> None:
    """A Hub repo with only pickle weights is refused before anything is downloaded (best effort: when the
    file list can't be fetched, transformers' own ``use_safetensors=True`` error follows)."""
    try:
        from huggingface_hub import list_repo_files

        files = list_repo_files(repo_id, revision=revision, token=token)
    except Exception:  # noqa: BLE001  (offline, gated, or a server without the listing endpoint)
        return
    names = [f for f in files if "/" not in f]
    if not any(f.endswith(".safetensors") for f in names):
        pickles = [f for f in names if f.endswith(PICKLE_SUFFIXES) and f not in TRAINING_STATE_FILES]
        if pickles:
            raise UnsafeWeightsError(f"Hub repo {repo_id!r} holds weights only as pickle ({', '.join(pickles)}); "
                                     + _opt_in_hint(repo_id))


def check_model_type(config, name_or_path: str, auto_class=None, model_types: Iterable[str] | None = None) -> None:
    """Refuse a config of a type the caller does not expect (``model_types``) or that ``auto_class`` has no
    model for, naming both types and what to pass instead."""
    import transformers

    if model_types is not None:
        model_types = list(model_types)
        if config.model_type not in model_types:
            raise ModelTypeMismatchError(
                f"{name_or_path!r} holds a {config.model_type!r} model ({type(config).__name__}), not "
                f"{' or '.join(repr(t) for t in model_types)}; pass a checkpoint of that type (e.g. a folder written "
                "by the matching recipes/pretrain_*.py, or converted with `hfext convert`)"
            )
    mapping = getattr(auto_class, "_model_mapping", None)
    if mapping is not None and type(config) not in mapping:
        loads_with = [
            name for name in ("AutoModel", "AutoModelForCausalLM", "AutoModelForMaskedLM", "AutoModelForPreTraining",
                              "AutoModelForSeq2SeqLM", "AutoModelForSequenceClassification",
                              "AutoModelForTokenClassification", "AutoModelForQuestionAnswering",
                              "AutoModelForMultipleChoice")
            if type(config) in getattr(transformers, name)._model_mapping
        ]
        expected = sorted({getattr(c, "model_type", "?") for c in mapping} - {""})
        raise ModelTypeMismatchError(
            f"{name_or_path!r} holds a {config.model_type!r} model, which {auto_class.__name__} cannot load (it "
            f"loads {', '.join(repr(t) for t in expected[:8])}{', ...' if len(expected) > 8 else ''}); load it with "
            f"{' / '.join(loads_with) or 'its own class'}, or pass a checkpoint of a type {auto_class.__name__} knows"
        )


def not_a_model_hint(name: str, error: Exception) -> str:
    """Why ``name`` holds no model, when the reason is a common mistake: a training checkpoint folder (it holds the
    optimizer state to resume from, not a saved model) or a local path that does not exist (which transformers
    would then try, and fail, as a Hub id). Otherwise ``error``'s own text."""
    from .training.loop import STATE_FILE

    path = Path(name).expanduser()
    if (path / STATE_FILE).is_file() and not (path / "config.json").is_file():
        return (f"'{name}' is a training checkpoint (pass it to --resume_from_checkpoint), not a saved model; pass "
                f"the run's --output_dir '{path.parent}', where the final model is saved")
    if not path.exists() and (os.sep in name or name.startswith(".") or path.parent != Path(".")):
        return f"there is no folder '{name}' (check the path)"
    if not path.exists():
        return f"'{name}' is no local folder (check the path), and loading it as a Hub model id failed: {error}"
    return str(error)


def load_pretrained(name_or_path: str | os.PathLike, auto_class=None, model_types: Iterable[str] | None = None,
                    allow_pickle: bool = False, **kwargs):
    """``auto_class.from_pretrained(name_or_path, **kwargs)`` (default ``AutoModel``) after the checks in the
    module docstring. ``model_types``: the ``config.model_type`` values accepted (default: any that
    ``auto_class`` maps). ``kwargs`` go to ``from_pretrained`` (``revision``, ``token``, ``num_labels``,
    ``trust_remote_code``, ...)."""
    from transformers import AutoConfig

    import hfext  # noqa: F401  (registers the hfext families with the Auto classes)

    if auto_class is None:
        from transformers import AutoModel as auto_class
    name = str(name_or_path)
    config_kwargs = {k: kwargs[k] for k in ("revision", "token", "trust_remote_code", "cache_dir") if k in kwargs}
    try:
        config = AutoConfig.from_pretrained(name, **config_kwargs)
    except (OSError, ValueError, KeyError) as error:
        # OSError: no config.json there; ValueError/KeyError: an unknown model_type (its plugin not installed?)
        reason = not_a_model_hint(name, error)
        fix = ("" if reason != str(error) else "; pass a folder written by save_pretrained (with config.json) or a "
               "Hub model id, and install the plugin of its model type")
        raise (OSError if isinstance(error, OSError) else LoadingError)(
            f"cannot read a model config from {name!r}: {reason}{fix}" + see("model-dir")
        ) from None
    check_model_type(config, name, auto_class, model_types)
    if os.path.isdir(name):
        safe_files = check_local_weights(name, allow_pickle)
    else:
        safe_files = None
        if not allow_pickle:
            _check_remote_weights(name, kwargs.get("revision"), kwargs.get("token"))
    if not allow_pickle:
        kwargs["use_safetensors"] = True  # transformers then never falls back to torch.load
    elif safe_files == []:
        kwargs.setdefault("use_safetensors", False)
    try:
        return auto_class.from_pretrained(name, **kwargs)
    except OSError as error:
        if not allow_pickle and "safetensors" in str(error):
            raise UnsafeWeightsError(f"no safetensors weights could be loaded from {name!r} ({error}); "
                                     + _opt_in_hint(name)) from None
        raise
    except (RuntimeError, ValueError) as error:
        if isinstance(error, LoadingError):
            raise
        raise CorruptWeightsError(
            f"the weights in {name!r} could not be loaded ({type(error).__name__}: {error}); the file is corrupt, "
            "truncated, or saved from another configuration: re-save or re-download it"
        ) from None


def embedding_rows(model) -> int | None:
    """How many token ids ``model`` can embed: ``config.vocab_size`` when positive, else its input embedding
    rows; ``None`` for models without a token vocabulary (e.g. a character-only ELMo)."""
    vocab_size = getattr(model.config, "vocab_size", None)
    if isinstance(vocab_size, int) and vocab_size > 0:
        return vocab_size
    try:
        embeddings = model.get_input_embeddings()
    except (NotImplementedError, AttributeError):
        return None
    return getattr(embeddings, "num_embeddings", None)


def check_tokenizer_fits(tokenizer, model, name: str = "the tokenizer") -> None:
    """Refuse a tokenizer whose ids reach past the model's embedding (``len(tokenizer) > vocab_size``): such
    ids index out of range at the first unlucky input, or silently read the wrong rows."""
    rows = embedding_rows(model)
    if rows is not None and len(tokenizer) > rows:
        raise TokenizerMismatchError(
            f"{name} has {len(tokenizer)} tokens but the {model.config.model_type!r} model embeds only {rows} "
            f"(vocab_size); use the model's own tokenizer, or grow the model with "
            f"model.resize_token_embeddings({len(tokenizer)}) before training"
        )


def load_tokenizer_for(model, name_or_path: str | os.PathLike | None = None, **kwargs):
    """``AutoTokenizer.from_pretrained(name_or_path)`` (default: the folder ``model`` was loaded from), checked
    with :func:`check_tokenizer_fits`."""
    from transformers import AutoTokenizer

    name = str(name_or_path if name_or_path is not None else model.config._name_or_path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(name, **kwargs)
    except (OSError, ValueError) as error:
        raise OSError(f"no tokenizer found at {name!r} ({error}); pass the folder or Hub id of the model's tokenizer"
                      + see("no-tokenizer")) from None
    check_tokenizer_fits(tokenizer, model, f"the tokenizer of {name!r}")
    return tokenizer


__all__ = [
    "CorruptWeightsError",
    "LoadingError",
    "ModelTypeMismatchError",
    "TokenizerMismatchError",
    "UnsafeWeightsError",
    "check_local_weights",
    "check_model_type",
    "check_safetensors",
    "check_tokenizer_fits",
    "embedding_rows",
    "load_pretrained",
    "load_tokenizer_for",
    "pickle_weight_files",
]
