"""What every fine-tuning recipe shares (GLUE, SWAG, SQuAD, NER), so that each recipe is a page or two.

A recipe built on this module reads like transformers' ``run_*_no_trainer.py``::

    parser = argparse.ArgumentParser()
    add_finetune_args(parser)                      # data, model and optimisation flags + the shared loop's
    args = parser.parse_args(argv)
    validate_finetune_args(args)
    accelerator = setup_accelerator(args)          # hfext.training.args
    raw = load_raw_datasets(accelerator, args)     # DatasetDict: --dataset_name or --train_file/--validation_file
    check_columns(raw["train"], ["sentence", "label"], "train", args)
    labels = label_list(raw, "label")              # refuses validation labels never seen in training
    tokenizer = load_tokenizer(args)
    model = load_model(args.model_name_or_path, AutoModelForSequenceClassification, num_labels=len(labels))
    check_max_seq_length(args.max_seq_length, model, tokenizer)
    train_dataset = tokenize(raw["train"], preprocess)   # columns: input_ids, ..., labels
    collator = make_collator(tokenizer, args.pad_to_max_length)

    def evaluate(model):                           # runs on every process; counts each example once
        out = predict(accelerator, model, eval_dataset, collator, args.per_device_eval_batch_size)
        return {"accuracy": float((out["logits"].argmax(-1) == out["labels"]).mean())}

    results = run_finetuning(accelerator, args, model, tokenizer, train_dataset, collator, evaluate, "finetune_x")

The pieces, each usable alone:

- :func:`add_finetune_args` / :func:`validate_finetune_args`: the flags of transformers' examples
  (``--model_name_or_path`` required, ``--tokenizer_name``, ``--max_seq_length``, ``--pad_to_max_length``,
  ``--per_device_train_batch_size``, ``--per_device_eval_batch_size``, ``--weight_decay``, ``--train_file``,
  ``--validation_file``, ``--test_file``, ``--dataset_name``, ``--dataset_config_name``,
  ``--ignore_mismatched_sizes``, ``--max_train_samples``, ``--max_eval_samples``) plus the shared loop's.
- :func:`load_raw_datasets` / :func:`load_data_file`: splits from the Hub (``datasets.load_dataset``) or
  local csv/tsv/json/jsonl files through ``datasets``' own builders; :func:`check_columns` names what a file
  lacks; :func:`label_list` builds the label set and refuses unseen validation labels.
- :func:`load_model`: the ONE place a fine-tuning checkpoint is loaded, with the head's Auto class; a
  checkpoint whose model type has no such head raises :class:`MissingHeadError` naming the Auto classes it
  does load with. :func:`check_max_seq_length` refuses lengths above the model's position table.
- :class:`FinetuneTask`: the shared loop's task over a tokenized ``datasets.Dataset``: batches in an order
  seeded by (seed, epoch), dealt round-robin to processes, so resuming from a checkpoint replays exactly.
- :func:`predict`: the model's outputs over a dataset, split across processes and gathered with
  ``gather_for_metrics`` -- every example exactly once, in dataset order.
- :func:`run_finetuning`: AdamW (no decay on biases/LayerNorms), the loop with ``evaluate(model)`` after every
  epoch, a final evaluation, and ``all_results.json`` + model + tokenizer written by ``finish_run``.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
from collections.abc import Callable, Sequence

import numpy as np
import torch

from ..errors import DocumentedError, see
from .args import (
    NOT_RUN_CONFIG,
    add_training_args,
    finish_run,
    run_config,
    train_with_args,
    validate_common_args,
)
from .causal_lm import parameter_groups
from .loop import StepResult, TrainingTask

logger = logging.getLogger(__name__)

# File extensions -> the `datasets` builder that reads them (and its options).
FILE_BUILDERS = {
    ".csv": ("csv", {}),
    ".tsv": ("csv", {"delimiter": "\t"}),
    ".json": ("json", {}),
    ".jsonl": ("json", {}),
}

# Flags that change nothing about training, so a resumed run may change them.
EVALUATION_FLAGS = frozenset({"per_device_eval_batch_size", "max_eval_samples", "validation_file", "test_file",
                              # the QA and NER recipes' evaluation-only flags
                              "n_best_size", "max_answer_length", "return_entity_level_metrics"})


class MissingHeadError(DocumentedError, ValueError):
    """The checkpoint's model type has no model for the head a recipe needs."""

    docs = "missing-head"


class MissingColumnsError(DocumentedError, KeyError, ValueError):
    """A data file lacks columns the task needs (a KeyError, and a ValueError for code catching bad input)."""

    docs = "missing-columns"


class UnseenLabelError(DocumentedError, ValueError):
    """An evaluation split holds a label the training split never has."""

    docs = "missing-columns"


# ---------------------------------------------------------------------------------------------------- flags


def add_finetune_args(parser: argparse.ArgumentParser, max_seq_length: int = 128) -> None:
    """The flags of transformers' ``run_*_no_trainer.py`` fine-tuning examples, and the shared loop's
    (:func:`hfext.training.args.add_training_args`). Defaults: 3 epochs, lr 2e-5, linear schedule."""
    data = parser.add_argument_group("data")
    data.add_argument("--dataset_name", default=None, help="A dataset on the Hub (e.g. glue) or a local dataset folder.")
    data.add_argument("--dataset_config_name", default=None, help="The dataset's configuration (e.g. sst2).")
    data.add_argument("--train_file", default=None, help="A csv/tsv/json/jsonl file of training data.")
    data.add_argument("--validation_file", default=None, help="A csv/tsv/json/jsonl file of evaluation data.")
    data.add_argument("--test_file", default=None, help="A file to predict (labels, if present, are ignored).")
    data.add_argument("--max_train_samples", type=int, default=None, help="Keep only the first N training examples.")
    data.add_argument("--max_eval_samples", type=int, default=None, help="Keep only the first N evaluation examples.")
    data.add_argument("--max_seq_length", type=int, default=max_seq_length,
                      help="Tokens per example after tokenization; longer inputs are truncated.")
    data.add_argument("--pad_to_max_length", action="store_true",
                      help="Pad every batch to --max_seq_length (default: pad to the longest in the batch).")
    model = parser.add_argument_group("model")
    model.add_argument("--tokenizer_name", default=None, help="A tokenizer other than the model's (path or Hub id).")
    model.add_argument("--ignore_mismatched_sizes", action="store_true",
                       help="Replace a checkpoint's head whose shape differs (e.g. another number of labels).")
    opt = parser.add_argument_group("optimisation")
    opt.add_argument("--per_device_train_batch_size", type=int, default=8)
    opt.add_argument("--per_device_eval_batch_size", type=int, default=8)
    opt.add_argument("--weight_decay", type=float, default=0.0, help="AdamW decay on matrices (not biases or norms).")
    add_training_args(parser)
    for action in parser._actions:  # shared with pretraining, where it is optional; here it is the point
        if action.dest == "model_name_or_path":
            action.required = True
            action.help = "The checkpoint to fine-tune (a folder or Hub id): hfext-bert, a converted or a transformers BERT."
    parser.set_defaults(num_train_epochs=3, learning_rate=2e-5, lr_scheduler_type="linear")


def validate_finetune_args(args: argparse.Namespace, reads_itself: Callable[[str], bool] | None = None) -> None:
    """Refuse flag values that cannot work, naming the flag. ``reads_itself(path)``: True for data files the
    recipe reads with its own reader (CoNLL column files, SQuAD JSON), which skip the extension check."""
    if not args.dataset_name and not args.train_file:
        raise ValueError("pass --dataset_name (e.g. glue with --dataset_config_name sst2) or --train_file"
                         + see("flags-data"))
    # The common checks expect a list of training text files.
    validate_common_args(argparse.Namespace(**{**vars(args), "train_file": [args.train_file] if args.train_file else None}))
    for flag in ("validation_file", "test_file"):
        path = getattr(args, flag)
        if path is not None and not os.path.exists(path):
            raise FileNotFoundError(f"--{flag} {path!r} does not exist" + see("data-files"))
    for flag in ("train_file", "validation_file", "test_file"):
        path = getattr(args, flag)
        if path is not None and not (reads_itself and reads_itself(path)):
            file_builder(path, flag)  # an unsupported extension fails before anything is loaded
    for flag in ("max_seq_length", "per_device_train_batch_size", "per_device_eval_batch_size"):
        if getattr(args, flag) < 1:
            raise ValueError(f"--{flag} must be >= 1, got {getattr(args, flag)}" + see("training-flags"))
    for flag in ("max_train_samples", "max_eval_samples"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            raise ValueError(f"--{flag} must be >= 1, got {getattr(args, flag)}" + see("training-flags"))
    if args.weight_decay < 0:
        raise ValueError(f"--weight_decay must be >= 0, got {args.weight_decay}" + see("training-flags"))


# ----------------------------------------------------------------------------------------------------- data


def file_builder(path: str, flag: str = "file") -> tuple[str, dict]:
    """The `datasets` builder name and options for a data file, from its extension."""
    extension = os.path.splitext(path)[1].lower()
    if extension not in FILE_BUILDERS:
        raise ValueError(f"--{flag} {path!r}: unsupported extension {extension!r}; use one of {sorted(FILE_BUILDERS)}"
                         + see("data-files"))
    return FILE_BUILDERS[extension]


def load_data_file(path: str, flag: str = "file", **options):
    """One local file as a ``datasets.Dataset`` through ``datasets``' csv/json builders (a .tsv is csv with
    tab delimiter). ``options`` go to the builder (e.g. ``quoting=3`` or ``column_names`` for csv)."""
    from datasets import load_dataset

    builder, defaults = file_builder(path, flag)
    return load_dataset(builder, data_files={"train": path}, split="train", **{**defaults, **options})


def load_raw_datasets(accelerator, args: argparse.Namespace, file_options: Callable[[str], dict] | None = None,
                      read_file: Callable[[str], object] | None = None):
    """A ``DatasetDict`` with the splits the run has: ``--dataset_name``/``--dataset_config_name`` through
    ``datasets.load_dataset``, or ``train``/``validation``/``test`` from ``--train_file``/``--validation_file``/
    ``--test_file`` (each file read alone, so splits may have different columns, as in GLUE's MNLI).
    ``file_options(path)`` gives per-file builder options (e.g. a header-less TSV's column names);
    ``read_file(path)`` is a recipe's own reader (SQuAD JSON, CoNLL columns) returning a ``Dataset``, or None
    to use the csv/json builders. ``--max_train_samples`` / ``--max_eval_samples`` keep the first N examples of the training / evaluation
    splits (all but ``test``). The main process reads first so the ``datasets`` cache is written once."""
    from datasets import DatasetDict, load_dataset

    with accelerator.main_process_first():
        if args.dataset_name:
            raw = load_dataset(args.dataset_name, args.dataset_config_name)
        else:
            raw = DatasetDict()
            for split, flag in (("train", "train_file"), ("validation", "validation_file"), ("test", "test_file")):
                path = getattr(args, flag)
                if path:
                    dataset = read_file(path) if read_file is not None else None
                    if dataset is None:
                        dataset = load_data_file(path, flag, **(file_options(path) if file_options else {}))
                    raw[split] = dataset
    limit_samples(raw, args)
    return raw


def limit_samples(raw, args: argparse.Namespace) -> None:
    """``--max_train_samples`` / ``--max_eval_samples``: keep the first N examples of the training / evaluation
    splits, in place, before tokenization (``test`` is kept whole)."""
    for split in raw:
        limit = getattr(args, "max_train_samples" if split == "train" else "max_eval_samples", None)
        if limit and split != "test":
            raw[split] = raw[split].select(range(min(limit, len(raw[split]))))


def split_source(args: argparse.Namespace, split: str) -> str:
    """How to name a split in a message: the file it came from, or the dataset split."""
    flag = {"train": "train_file", "validation": "validation_file", "test": "test_file"}.get(split)
    if flag and getattr(args, flag, None):
        return f"--{flag} {getattr(args, flag)!r}"
    return f"split {split!r} of {getattr(args, 'dataset_name', None) or 'the dataset'!r}"


def check_columns(dataset, required: Sequence[str], split: str, args: argparse.Namespace, hint: str = "") -> None:
    """Raise :class:`MissingColumnsError` naming the ``required`` columns ``dataset`` lacks."""
    missing = [name for name in required if name not in dataset.column_names]
    if missing:
        raise MissingColumnsError(
            f"{split_source(args, split)} lacks the column(s) {missing} (it has {dataset.column_names}); "
            + (hint or f"give a file with the columns {list(required)}")
        )


def label_list(raw, column: str, args: argparse.Namespace | None = None, eval_splits: Sequence[str] = ("validation",)) -> list:
    """The labels of ``raw["train"][column]``: a ClassLabel's names, or the sorted distinct values. A label in
    an ``eval_splits`` split that training never has raises :class:`UnseenLabelError` (the model could
    never predict it). Missing labels (None, or -1 as in the Hub's unlabelled test splits) are ignored."""
    feature = raw["train"].features[column]
    if hasattr(feature, "names"):
        return list(feature.names)
    labels = sorted({value for value in raw["train"][column] if value is not None and value != -1})
    known = set(labels)
    for split in eval_splits:
        if split in raw and column in raw[split].column_names:
            unseen = sorted({v for v in raw[split][column] if v is not None and v != -1 and v not in known}, key=str)
            if unseen:
                where = split_source(args, split) if args is not None else f"split {split!r}"
                raise UnseenLabelError(
                    f"{where} has label(s) {unseen[:10]} in column {column!r} that the training data never has "
                    f"(training labels: {labels[:20]}); fix the labels or add training examples with them"
                )
    return labels


def tokenize(dataset, function: Callable[[dict], dict], description: str = "tokenizing"):
    """``dataset.map(function, batched=True)`` keeping only the function's output columns, in memory (no cache
    files, so processes never race on them)."""
    return dataset.map(function, batched=True, remove_columns=dataset.column_names, keep_in_memory=True,
                       desc=description)


# ---------------------------------------------------------------------------------------------------- model


def load_tokenizer(args: argparse.Namespace):
    """``--tokenizer_name`` or the model's own tokenizer; it must be a fast tokenizer (offsets, word ids)."""
    from transformers import AutoTokenizer

    name = args.tokenizer_name or args.model_name_or_path
    try:
        return AutoTokenizer.from_pretrained(name)
    except (OSError, ValueError) as error:
        from hfext.loading import not_a_model_hint

        reason = not_a_model_hint(name, error)
        if reason != str(error):  # a checkpoint folder or a mistyped path: the model path itself is wrong
            raise OSError(f"no tokenizer found at {name!r}: {reason}" + see("model-dir")) from None
        raise OSError(f"no tokenizer found at {name!r} ({error}); pass --tokenizer_name with a saved tokenizer"
                      + see("no-tokenizer")) from None


def load_model(model_name_or_path: str, auto_class, **config_overrides):
    """Load ``model_name_or_path`` with ``auto_class`` (e.g. ``AutoModelForSequenceClassification``) through
    :func:`hfext.loading.load_pretrained` (safetensors only unless ``allow_pickle=True``, damaged files named);
    ``config_overrides`` (``num_labels``, ``id2label``, ``label2id``, ``problem_type``,
    ``ignore_mismatched_sizes``, ...) go to ``from_pretrained``. The one place recipes load a checkpoint to
    fine-tune. Raises :class:`MissingHeadError` when the checkpoint's model type has no ``auto_class`` model,
    naming the Auto classes that do load it."""
    import transformers
    from transformers import AutoConfig

    import hfext  # noqa: F401  (registers the hfext families with the Auto classes)
    from hfext.loading import load_pretrained

    try:
        config = AutoConfig.from_pretrained(model_name_or_path)
    except (OSError, ValueError, KeyError):
        config = None  # load_pretrained says what is wrong with the folder
    if config is not None and type(config) not in auto_class._model_mapping:
        loads_with = [
            name for name in ("AutoModelForSequenceClassification", "AutoModelForMultipleChoice",
                              "AutoModelForQuestionAnswering", "AutoModelForTokenClassification",
                              "AutoModelForCausalLM", "AutoModelForMaskedLM", "AutoModel")
            if type(config) in getattr(transformers, name)._model_mapping
        ]
        raise MissingHeadError(
            f"{model_name_or_path!r} is a {config.model_type!r} checkpoint, which has no {auto_class.__name__} model "
            f"(it loads with {loads_with or 'no task Auto class'}); this recipe needs a checkpoint whose model type "
            f"{auto_class.__name__} knows, e.g. hfext-bert (recipes/pretrain_bert.py, or `hfext convert hf-bert` "
            "for a transformers BERT) or a transformers BERT"
        )
    return load_pretrained(model_name_or_path, auto_class, **config_overrides)


def check_max_seq_length(max_seq_length: int, model, tokenizer=None) -> None:
    """Refuse a ``--max_seq_length`` longer than the model's position embeddings, or a tokenizer with more
    tokens than the model embeds (either would index past an embedding table)."""
    from hfext.loading import check_tokenizer_fits

    if tokenizer is not None:
        check_tokenizer_fits(tokenizer, model, "--tokenizer_name" if tokenizer.name_or_path != model.name_or_path
                             else "the checkpoint's tokenizer")
    limit = getattr(model.config, "max_position_embeddings", None)
    if limit is not None and max_seq_length > limit:
        raise ValueError(f"--max_seq_length {max_seq_length} exceeds the model's max_position_embeddings ({limit}); "
                         f"pass --max_seq_length {limit} or less" + see("max-seq-length"))
    if tokenizer is not None and max_seq_length > tokenizer.model_max_length:
        logger.warning("--max_seq_length %d is above the tokenizer's model_max_length %d", max_seq_length,
                       tokenizer.model_max_length)


def make_collator(tokenizer, pad_to_max_length: bool = False, multiple_choice: bool = False):
    """Batches from lists of tokenized rows: padded to the longest row (to a multiple of 8 on GPUs is left
    to the user), or stacked as they are with ``--pad_to_max_length``; ``multiple_choice`` rows hold one
    list per choice and become (batch, choices, length) tensors."""
    from transformers import (
        DataCollatorForMultipleChoice,
        DataCollatorWithPadding,
        default_data_collator,
    )

    if pad_to_max_length:
        return default_data_collator
    if multiple_choice:
        return DataCollatorForMultipleChoice(tokenizer)
    return DataCollatorWithPadding(tokenizer)


# ----------------------------------------------------------------------------------------------- training


def _rows(dataset, indices) -> list[dict]:
    columns = dataset[list(indices)]
    return [dict(zip(columns, values)) for values in zip(*columns.values())]


class FinetuneTask(TrainingTask):
    """One step = ``batch_size`` rows (per process) of a tokenized ``datasets.Dataset`` in an order seeded by
    (seed, epoch), batches dealt round-robin to processes (the last round topped up with early batches), made
    into tensors by ``collator``. The loss is the model's own (its ``labels`` column)."""

    def __init__(self, dataset, collator, batch_size: int, seed: int, rank: int = 0, world_size: int = 1):
        if len(dataset) == 0:
            raise ValueError("the training data is empty after preprocessing; check --train_file" + see("finetune-data"))
        self.dataset, self.collator = dataset, collator
        self.batch_size, self.seed = int(batch_size), int(seed)
        self.rank, self.world_size = rank, world_size
        self.num_batches = math.ceil(len(dataset) / self.batch_size)
        self._order: tuple[int, np.ndarray] | None = None

    def steps_per_epoch(self) -> int:
        return math.ceil(self.num_batches / self.world_size)

    def batch(self, epoch: int, step: int) -> dict:
        if self._order is None or self._order[0] != epoch:
            self._order = (epoch, np.random.default_rng([self.seed, epoch]).permutation(len(self.dataset)))
        index = (step * self.world_size + self.rank) % self.num_batches
        return self.collator(_rows(self.dataset, self._order[1][index * self.batch_size : (index + 1) * self.batch_size]))

    def step(self, model, epoch: int, step: int, lr: float, next_lr: float) -> StepResult:
        device = next(model.parameters()).device
        batch = {key: value.to(device) for key, value in self.batch(epoch, step).items()}
        loss = model(**batch).loss
        size = int(batch["input_ids"].shape[0])
        return StepResult(loss_sum=float(loss.detach()) * size, count=size, loss=loss)


@torch.no_grad()
def predict(accelerator, model, dataset, collator, batch_size: int, outputs: Sequence[str] = ("logits",),
            keep: Sequence[str] = ("labels",)) -> dict[str, np.ndarray]:
    """The model's ``outputs`` (e.g. ``logits``, or ``start_logits``/``end_logits``) over ``dataset`` as numpy
    arrays in dataset order, plus the ``keep`` columns present in the data (e.g. ``labels``). Batches are split
    across processes and gathered with ``gather_for_metrics``: every example counted exactly once. Outputs are
    padded to the longest sequence of the whole dataset (-100) so batches of different lengths concatenate.
    Every process must call it; every process gets the full result."""
    from accelerate.data_loader import prepare_data_loader
    from torch.utils.data import DataLoader

    was_training = model.training
    model.eval()
    loader = prepare_data_loader(DataLoader(range(len(dataset)), batch_size=batch_size, shuffle=False),
                                 num_processes=accelerator.num_processes, process_index=accelerator.process_index)
    device = accelerator.device
    collected: dict[str, list[np.ndarray]] = {}
    for indices in loader:
        batch = {key: value.to(device) for key, value in collator(_rows(dataset, indices.tolist())).items()}
        model_inputs = {k: v for k, v in batch.items() if k != "labels"}
        result = model(**model_inputs)
        for name in (*outputs, *keep):
            value = result[name] if name in outputs else batch.get(name)
            if value is None:
                continue
            if value.ndim > 1:  # per-token outputs: processes' batches may differ in length
                value = accelerator.pad_across_processes(value.contiguous(), dim=1, pad_index=-100)
            value = accelerator.gather_for_metrics(value)
            collected.setdefault(name, []).append((value.float() if value.is_floating_point() else value).cpu().numpy())
    model.train(was_training)
    return {name: _concatenate(parts) for name, parts in collected.items()}


def _concatenate(parts: list[np.ndarray]) -> np.ndarray:
    """Concatenate along the first axis, padding later axes with -100 where batches differ in length."""
    if not parts:
        return np.zeros((0,))
    if parts[0].ndim == 1 or all(p.shape[1:] == parts[0].shape[1:] for p in parts):
        return np.concatenate(parts)
    shape = [max(p.shape[axis] for p in parts) for axis in range(1, parts[0].ndim)]
    padded = []
    for part in parts:
        out = np.full((part.shape[0], *shape), -100, dtype=part.dtype)
        out[tuple(slice(0, s) for s in part.shape)] = part
        padded.append(out)
    return np.concatenate(padded)


def make_optimizer(model, args: argparse.Namespace):
    """AdamW over the model with ``--weight_decay`` on matrices only, ``--learning_rate``."""
    fused = {"fused": True} if next(model.parameters()).device.type == "cuda" else {}
    return torch.optim.AdamW(parameter_groups(model, args.weight_decay), lr=args.learning_rate, **fused)


def run_finetuning(accelerator, args: argparse.Namespace, model, tokenizer, train_dataset, collator,
                   evaluate: Callable | None, tracker_name: str, extra_results: dict | None = None,
                   save_files: Callable | None = None) -> dict:
    """Fine-tune ``model`` on the tokenized ``train_dataset`` with the shared loop and finish the run.

    ``evaluate(model) -> dict`` runs on every process after each epoch and at the end (use :func:`predict`
    inside it); its metrics go to the results prefixed ``eval_`` (as in transformers' examples), the per-epoch
    ones into ``eval_history``. ``save_files(model) -> dict[name, text]`` (optional) gives extra files to write
    next to the model (e.g. predictions). Returns the results written to ``all_results.json``."""
    model.to(accelerator.device)
    model.train()  # from_pretrained returns a model in eval mode (dropout off)
    optimizer = make_optimizer(model, args)
    model, optimizer = accelerator.prepare(model, optimizer)
    task = FinetuneTask(train_dataset, collator, args.per_device_train_batch_size, args.seed,
                        rank=accelerator.process_index, world_size=accelerator.num_processes)
    history: list[dict] = []

    def run_evaluation(epoch: int | None, state) -> None:
        metrics = {f"eval_{key}": value for key, value in evaluate(model).items()}
        history.append({"epoch": epoch, "step": state.global_step, **metrics})
        accelerator.print(f"epoch {epoch}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()
                                                         if isinstance(v, (int, float))))
        if args.with_tracking:
            accelerator.log({k: v for k, v in metrics.items() if isinstance(v, (int, float))}, step=state.global_step)

    settings = run_config(args, accelerator.unwrap_model(model).config, exclude=NOT_RUN_CONFIG | EVALUATION_FLAGS)
    state, seconds = train_with_args(accelerator, args, model, optimizer, task, tracker_name, settings,
                                     on_epoch_end=run_evaluation if evaluate else None, tokenizer=tokenizer)
    results = {
        "train_loss": state.mean_loss,  # over every process's batches
        "train_steps": state.global_step,
        "train_examples": len(train_dataset),
        "train_seconds": seconds,
        **(extra_results or {}),
    }
    if evaluate is not None:
        if not history or history[-1]["step"] != state.global_step:  # stopped mid-epoch (--max_train_steps)
            run_evaluation(state.epoch if state.step_in_epoch == 0 else None, state)
        results.update({k: v for k, v in history[-1].items() if k not in ("epoch", "step")})
        results["eval_history"] = history
    unwrapped = accelerator.unwrap_model(model)
    files = save_files(unwrapped) if save_files is not None else None
    return finish_run(accelerator, args, unwrapped, tokenizer, results, files)
