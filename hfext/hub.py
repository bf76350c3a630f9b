"""Sharing hfext models on the Hugging Face Hub so that they load where hfext is NOT installed.

Every folder hfext saves (``hfext.training.args.save_pretrained_atomic``, hence every recipe's
``--output_dir``) is already a complete Hub repo:

- **remote code**: the family's ``configuration_*.py`` / ``modeling_*.py`` (and ``tokenization_*.py`` where the
  family has its own tokenizer class, e.g. ELMo) are copied next to the weights, and ``config.json`` (and
  ``tokenizer_config.json``) get an ``auto_map`` naming every Auto class the family registers, so with only
  torch and transformers installed::

      AutoModelForCausalLM.from_pretrained("me/tiny-gpt", revision=commit, trust_remote_code=True)
      AutoModel.from_pretrained("me/tiny-gpt", revision=commit, trust_remote_code=True)

  (transformers copies the modeling file and the same-folder files it imports with ``from .x import ...``;
  plugin files import nothing else, see shared/DESIGN.md). With hfext installed the local classes win,
  as for any transformers model type.
- **a model card** (``README.md``): YAML metadata (``library_name: transformers``, tags ``hfext`` and the
  family, ``datasets``, ``metrics``, a ``model-index`` with the run's results from ``all_results.json``),
  the training hyperparameters, and a "how to load" snippet.

:func:`push_to_hub` uploads such a folder (or a model, saved first) in two commits: the first holds the
weights, code, config and tokenizer; the second the card, whose snippet pins the first commit with
``revision=`` so the remote code a user runs can't change under them::

    >>> from hfext.hub import push_to_hub
    >>> pushed = push_to_hub(model, "me/tiny-gpt", tokenizer=tokenizer)       # doctest: +SKIP
    >>> pushed = push_to_hub("runs/gpt", "me/tiny-gpt")    # a recipe's --output_dir  # doctest: +SKIP
    >>> pushed.commit, pushed.card_commit                                      # doctest: +SKIP

Recipes push with ``--push_to_hub --hub_model_id me/name [--hub_token ...]`` (each epoch, and at the end).
transformers' own ``model.push_to_hub(repo)`` also carries the remote code once
:func:`enable_remote_code` has been called on the model (and tokenizer).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from pathlib import Path

import transformers

from .errors import DocumentedError, see

logger = logging.getLogger(__name__)

# The pipeline tag (and model-index task) each Auto class stands for, most specific first.
_PIPELINE_TAGS = {
    "AutoModelForCausalLM": "text-generation",
    "AutoModelForSeq2SeqLM": "text2text-generation",
    "AutoModelForMaskedLM": "fill-mask",
    "AutoModelForSequenceClassification": "text-classification",
    "AutoModelForTokenClassification": "token-classification",
    "AutoModelForQuestionAnswering": "question-answering",
    "AutoModelForMultipleChoice": "multiple-choice",
    "AutoModel": "feature-extraction",
}
# Result keys that are evaluation metrics (the rest of all_results.json, e.g. timings, goes in the table only).
_METRIC_WORDS = ("accuracy", "perplexity", "f1", "exact_match", "spearman", "pearson", "matthews", "precision",
                 "recall", "loss", "bleu")
# Flags never written into a card (secrets, local paths, bookkeeping).
_PRIVATE_FLAGS = frozenset({"hub_token", "output_dir", "push_to_hub", "hub_model_id", "hub_private_repo",
                            "resume_from_checkpoint", "checkpointing_steps", "logging_steps", "with_tracking",
                            "report_to", "cpu", "train_file", "validation_file", "test_file"})
CARD_FILE = "README.md"


class HubPushError(DocumentedError, RuntimeError):
    """Pushing to the Hub failed (unreachable endpoint, refused token, ...); the local files are intact."""

    docs = "hub-push"


@dataclass(frozen=True)
class RemoteCode:
    """What a folder of one hfext model type needs to load without hfext."""

    family: str  # the plugin's entry-point name ("gpt", "word2vec", ...)
    model_type: str
    auto_map: dict  # Auto class name -> "module.Class" (config.json)
    source_files: tuple  # the plugin files to copy (the modules named in auto_map and their relative imports)
    tokenizer_auto_map: dict | None  # tokenizer_config.json's auto_map, where the family has its own class


@dataclass(frozen=True)
class PushedRevision:
    repo_id: str
    commit: str  # the commit holding the weights, code, config and tokenizer: pin this one
    card_commit: str  # the commit that adds the model card on top (the branch head)
    card: str  # the card's text


def _dotted(cls: type) -> str:
    return f"{cls.__module__.rsplit('.', 1)[-1]}.{cls.__name__}"


def remote_code_for(model_type: str) -> RemoteCode:
    """The ``auto_map`` and the source files of the hfext family that owns ``model_type``."""
    from transformers.dynamic_module_utils import get_relative_import_files

    from .plugins import ENTRY_POINT_GROUP, load_plugins, plugin_auto_classes

    plugins = load_plugins()
    info = next((p for p in plugins.values() if p.status == "loaded" and model_type in p.model_types), None)
    if info is None:
        known = sorted(t for p in plugins.values() for t in p.model_types)
        raise ValueError(
            f"model_type {model_type!r} belongs to no loaded hfext plugin (known: {', '.join(known)}); only hfext "
            "models carry hfext remote code — share other models with their own library's push_to_hub"
            + see("remote-code-other-model")
        )
    plugin = EntryPoint(name=info.name, value=info.value, group=ENTRY_POINT_GROUP).load()
    config_class = transformers.CONFIG_MAPPING[model_type]
    auto_map = {"AutoConfig": _dotted(config_class)}
    modules = {config_class.__module__}
    for model_class, auto_names in plugin_auto_classes(plugin).items():
        if model_class.config_class is not config_class:
            continue
        for auto_name in auto_names:
            auto_map.setdefault(auto_name, _dotted(model_class))
            modules.add(model_class.__module__)
    tokenizer_map = None
    tokenizer_class = dict(getattr(plugin, "tokenizers", {}) or {}).get(config_class)
    if tokenizer_class is not None and not tokenizer_class.__module__.startswith("transformers"):
        # (slow, fast) as transformers writes it; a class named *Fast is the fast one.
        name = _dotted(tokenizer_class)
        tokenizer_map = {"AutoTokenizer": [None, name] if tokenizer_class.__name__.endswith("Fast") else [name, None]}
        modules.add(tokenizer_class.__module__)
    files = []
    for module in sorted(modules):
        path = __import__(module, fromlist=["_"]).__file__
        for source in [path, *get_relative_import_files(path)]:
            if source not in files:
                files.append(source)
    return RemoteCode(info.name, model_type, auto_map, tuple(files), tokenizer_map)


def _write_atomic(path: Path, data: bytes | str) -> None:
    """Write via a temporary name and rename: never a half-written file, and a hard link is replaced, not
    written through (staging folders link the user's files)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)


def add_remote_code(folder: str | os.PathLike) -> RemoteCode | None:
    """Make a saved hfext model folder load with ``trust_remote_code=True`` where hfext is not installed:
    copy the family's source files in and write ``auto_map`` into ``config.json`` (and into
    ``tokenizer_config.json`` where the family has its own tokenizer class). Idempotent. Returns what was
    added, or None for a folder of a model type no hfext plugin owns (left untouched)."""
    folder = Path(folder)
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{str(folder)!r} has no config.json; save the model there with save_pretrained first"
                                + see("hub-no-model"))
    config = json.loads(config_path.read_text())
    try:
        code = remote_code_for(config.get("model_type", ""))
    except ValueError as error:
        logger.debug("no remote code for %s: %s", folder, error)
        return None
    for source in code.source_files:
        _write_atomic(folder / Path(source).name, Path(source).read_bytes())
    config["auto_map"] = dict(code.auto_map)
    _write_atomic(config_path, json.dumps(config, indent=2, sort_keys=True) + "\n")
    tokenizer_config = folder / "tokenizer_config.json"
    if code.tokenizer_auto_map and tokenizer_config.is_file():
        data = json.loads(tokenizer_config.read_text())
        data["auto_map"] = dict(code.tokenizer_auto_map)
        _write_atomic(tokenizer_config, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return code


def enable_remote_code(model, tokenizer=None):
    """Make transformers' own ``model.save_pretrained`` / ``model.push_to_hub`` (and the tokenizer's) write the
    remote code and the family's full ``auto_map``, and tag the pushed card ``hfext`` + the family.

    This is transformers' documented ``register_for_auto_class`` route, so it applies to the model's,
    config's and tokenizer's classes for the rest of the process (every later save of them carries the code,
    as every hfext-saved folder does anyway); the full ``auto_map`` is set on this model's config. Returns
    ``model``."""
    code = remote_code_for(model.config.model_type)
    own = _dotted(type(model))
    auto_class = next((name for name, target in code.auto_map.items() if target == own and name != "AutoConfig"), None)
    if auto_class is None:
        raise ValueError(f"{type(model).__name__} is registered with no Auto class; its plugin must list it in `models`"
                         + see("no-auto-class"))
    type(model).register_for_auto_class(auto_class)
    type(model.config).register_for_auto_class("AutoConfig")
    model.config.auto_map = dict(code.auto_map)  # save_pretrained adds its own entry to this full map
    model.add_model_tags(["hfext", f"hfext-{code.family}"])
    if tokenizer is not None and code.tokenizer_auto_map:
        type(tokenizer).register_for_auto_class("AutoTokenizer")
    return model


def _architecture_auto_class(config: dict, auto_map: dict) -> str:
    """The Auto class that loads this checkpoint's own architecture (config.json's ``architectures``)."""
    architectures = config.get("architectures") or []
    by_class = {}
    for auto_name, target in auto_map.items():
        if auto_name != "AutoConfig":
            by_class.setdefault(target.rsplit(".", 1)[-1], []).append(auto_name)
    for name in architectures:
        names = by_class.get(name, [])
        for auto_name in _PIPELINE_TAGS:  # most specific first
            if auto_name in names:
                return auto_name
        if names:
            return names[0]
    return "AutoModel"


def _numeric_results(results: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in (results or {}).items():
        if isinstance(value, dict):
            flat.update(_numeric_results(value, f"{prefix}{key}/"))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[f"{prefix}{key}"] = value
    return flat


def card_hyperparameters(args) -> dict:
    """The flags of a recipe run worth publishing (no token, no local paths)."""
    skip = set(_PRIVATE_FLAGS)
    if getattr(args, "dataset_name", None) is None:  # the dataset flags' defaults mean nothing then
        skip |= {"dataset_split", "dataset_config_name", "text_column", "streaming"}
    return {
        key: value for key, value in sorted(vars(args).items())
        if key not in skip and value is not None and isinstance(value, (int, float, str, bool))
    }


def model_card(folder: str | os.PathLike, repo_id: str | None = None, revision: str | None = None,
               results: dict | None = None, hyperparameters: dict | None = None,
               datasets: list[str] | None = None, base_model: str | None = None):
    """A ``huggingface_hub.ModelCard`` for the model saved in ``folder``. ``results`` default to the folder's
    ``all_results.json``; ``revision`` (a commit id) is pinned in the "how to load" snippet."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text())
    model_type = config.get("model_type", "")
    try:
        code = remote_code_for(model_type)
        family, auto_map = code.family, code.auto_map
    except ValueError:
        family, auto_map = None, config.get("auto_map", {})
    if results is None and (folder / "all_results.json").is_file():
        results = json.loads((folder / "all_results.json").read_text())
    numbers = _numeric_results(results or {})
    metrics = {key: value for key, value in numbers.items()
               if any(word in key.lower() for word in _METRIC_WORDS) and not key.startswith("train_")}
    auto_class = _architecture_auto_class(config, auto_map)
    task = _PIPELINE_TAGS.get(auto_class, "feature-extraction")
    name = repo_id or folder.resolve().name
    datasets = [d for d in (datasets or []) if d]
    dataset_name = datasets[0] if datasets else "custom"
    eval_results = [
        EvalResult(task_type=task, dataset_type=dataset_name, dataset_name=dataset_name, metric_type=_metric_id(key),
                   metric_name=key, metric_value=value)
        for key, value in metrics.items()
    ]
    tags = ["hfext", *([f"hfext-{family}"] if family else []), *([model_type] if model_type else [])]
    data = ModelCardData(
        library_name="transformers",
        tags=list(dict.fromkeys(tags)),
        datasets=datasets or None,
        metrics=sorted({_metric_id(key) for key in metrics}) or None,
        pipeline_tag=task,
        base_model=base_model,
        model_name=name if eval_results else None,  # (the model-index's name; alone it is no metadata field)
        eval_results=eval_results or None,
    )
    classes = [auto_class] + (["AutoTokenizer"] if _has_tokenizer(folder) else [])
    pin = f', revision="{revision}"' if revision else ""
    lines = [f"from transformers import {', '.join(classes)}", ""]
    lines.append(f'model = {auto_class}.from_pretrained("{name}"{pin}, trust_remote_code=True)')
    if "AutoTokenizer" in classes:
        lines.append(f'tokenizer = AutoTokenizer.from_pretrained("{name}"{pin}, trust_remote_code=True)')
    body = [
        f"# {name}",
        "",
        f"An `{model_type}` model (`{auto_map.get(auto_class, auto_class).rsplit('.', 1)[-1]}`) made with hfext.",
        "",
        "## How to load",
        "",
        "The repository carries its own modeling code, so only `torch` and `transformers` are needed:",
        "",
        "```python",
        *lines,
        "```",
        "",
        (f"`revision` pins commit `{revision}`, the one holding these weights and this code, so the code you "
         "trust can't change under you." if revision else
         "Pin the commit you reviewed with `revision=` when you load it with `trust_remote_code=True`."),
        "With `hfext` installed, `import hfext` and drop `trust_remote_code`.",
    ]
    if numbers:
        body += ["", "## Results", "", "| metric | value |", "|---|---|"]
        body += [f"| {key} | {value:.6g} |" if isinstance(value, float) else f"| {key} | {value} |"
                 for key, value in numbers.items()]
    if hyperparameters:
        body += ["", "## Training hyperparameters", ""]
        body += [f"- {key}: {value}" for key, value in hyperparameters.items()]
    body += ["", "## Framework versions", "", f"- transformers {transformers.__version__}"]
    try:
        import torch

        body.append(f"- torch {torch.__version__}")
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    content = f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(body) + "\n"
    return ModelCard(content)


def _metric_id(key: str) -> str:
    """``eval_perplexity`` -> ``perplexity``, ``analogies/accuracy`` -> ``accuracy``."""
    return re.sub(r"^(eval|test|validation)_", "", key.split("/")[-1])


def _has_tokenizer(folder: Path) -> bool:
    return (folder / "tokenizer_config.json").is_file() or (folder / "tokenizer.json").is_file()


def write_model_card(folder: str | os.PathLike, **kwargs) -> Path:
    """:func:`model_card` written atomically to ``folder/README.md``."""
    path = Path(folder) / CARD_FILE
    _write_atomic(path, str(model_card(folder, **kwargs)))
    return path


def _card_kwargs_from(folder: Path) -> dict:
    """What an hfext card already in ``folder`` says (datasets, base model, hyperparameters), to rewrite it
    with a pinned revision."""
    from huggingface_hub import ModelCard

    path = folder / CARD_FILE
    if not path.is_file():
        return {}
    card = ModelCard.load(path)
    hyperparameters = {}
    section = re.search(r"^## Training hyperparameters\n\n(.*?)(?:\n## |\Z)", card.text, flags=re.DOTALL | re.MULTILINE)
    if section:
        for line in section.group(1).splitlines():
            if line.startswith("- ") and ": " in line:
                key, value = line[2:].split(": ", 1)
                hyperparameters[key] = value
    return {"datasets": card.data.datasets, "base_model": card.data.base_model, "hyperparameters": hyperparameters}


def _stage(folder: Path, staging: Path) -> None:
    """The top-level files of ``folder`` in ``staging`` (hard links where possible: weights are big)."""
    for item in folder.iterdir():
        if item.is_file() and not item.name.startswith("."):
            try:
                os.link(item, staging / item.name)
            except OSError:
                shutil.copy2(item, staging / item.name)


def _checkpoint_operations(checkpoint: Path, operations_cls):
    return [
        operations_cls(path_in_repo=f"{checkpoint.name}/{path.relative_to(checkpoint).as_posix()}", path_or_fileobj=str(path))
        for path in sorted(checkpoint.rglob("*")) if path.is_file()
    ]


def push_to_hub(folder_or_model, repo_id: str, *, tokenizer=None, token: str | None = None,
                revision: str | None = None, private: bool | None = None, commit_message: str | None = None,
                checkpoint: str | os.PathLike | None = None, results: dict | None = None,
                hyperparameters: dict | None = None, datasets: list[str] | None = None) -> PushedRevision:
    """Push a saved hfext model folder (its top-level files) or a model (+ ``tokenizer``) to ``repo_id``.

    The repo is created if needed (``private`` applies then); ``revision`` is the branch to push to (created
    from the default branch if missing). Commit 1 uploads the weights, config, remote code and tokenizer and
    deletes top-level files the folder no longer has; commit 2 writes the model card pinning commit 1.
    ``checkpoint`` (an ``epoch_N`` / ``step_N`` folder) is uploaded under its name in commit 1. The folder
    itself is not modified. Raises :class:`HubPushError` when the Hub can't be reached or refuses the push.
    """
    from huggingface_hub import (
        CommitOperationAdd,
        CommitOperationDelete,
        HfApi,
        constants,
    )
    from huggingface_hub.errors import HfHubHTTPError

    with tempfile.TemporaryDirectory(prefix="hfext-push-") as tmp:
        staging = Path(tmp)
        if isinstance(folder_or_model, (str, os.PathLike)):
            folder = Path(folder_or_model)
            if not (folder / "config.json").is_file():
                raise FileNotFoundError(
                    f"{str(folder)!r} holds no saved model (config.json missing); pass a model or the folder a "
                    "recipe's --output_dir / save_pretrained wrote" + see("hub-no-model")
                )
            _stage(folder, staging)
            card_kwargs = _card_kwargs_from(staging)
        else:
            from .training.args import save_pretrained_atomic

            folder = None
            save_pretrained_atomic(folder_or_model, tokenizer, staging)
            card_kwargs = {}
        add_remote_code(staging)
        for key, value in (("results", results), ("hyperparameters", hyperparameters), ("datasets", datasets)):
            if value is not None:
                card_kwargs[key] = value
        api = HfApi(token=token)
        try:
            repo_id = api.create_repo(repo_id, private=private, exist_ok=True).repo_id
            branch = revision or constants.DEFAULT_REVISION
            if branch != constants.DEFAULT_REVISION:
                api.create_branch(repo_id, branch=branch, exist_ok=True)
            remote = set(api.list_repo_files(repo_id, revision=branch))
            operations = [
                CommitOperationAdd(path_in_repo=path.name, path_or_fileobj=str(path))
                for path in sorted(staging.iterdir()) if path.name != CARD_FILE
            ]
            local = {path.name for path in staging.iterdir()}
            operations += [CommitOperationDelete(path_in_repo=path) for path in sorted(remote)
                           if "/" not in path and path not in local and path not in (".gitattributes", CARD_FILE)]
            if checkpoint is not None:
                operations += _checkpoint_operations(Path(checkpoint), CommitOperationAdd)
            message = commit_message or "Upload model with hfext"
            weights = api.create_commit(repo_id, operations, commit_message=message, revision=branch)
            card = model_card(staging, repo_id=repo_id, revision=weights.oid, **card_kwargs)
            card_commit = api.create_commit(
                repo_id, [CommitOperationAdd(path_in_repo=CARD_FILE, path_or_fileobj=str(card).encode())],
                commit_message=f"Model card for {weights.oid[:10]}", revision=branch,
            )
        except HfHubHTTPError as error:
            raise HubPushError(
                f"the Hub at {api.endpoint} refused the push to {repo_id!r}: {error}. Check --hub_token / "
                f"`hf auth login` and the repo name{_kept(folder)}"
            ) from error
        except (*_transport_errors(), OSError) as error:  # refused connection, DNS, timeout, offline mode
            raise HubPushError(
                f"could not reach the Hub at {api.endpoint} to push {repo_id!r} ({type(error).__name__}: {error}); "
                f"set HF_ENDPOINT if you use a mirror{_kept(folder)}"
            ) from error
    return PushedRevision(repo_id, weights.oid, card_commit.oid, str(card))


def _transport_errors() -> tuple:
    """Connection errors of huggingface_hub's HTTP client (httpx2 in huggingface_hub 2.x, httpx before)."""
    import importlib

    errors = []
    for name in ("httpx2", "httpx"):
        try:
            errors.append(importlib.import_module(name).TransportError)
        except ImportError:
            pass
    return tuple(errors)


def _kept(folder: Path | None) -> str:
    if folder is None:
        return ""
    return (f"; the files are saved in {str(folder)!r} — push them later with "
            f"`hfext push {folder} <repo_id>`")
