#!/usr/bin/env python
"""Fine-tune a BERT-like checkpoint on a GLUE task (or any sentence / sentence-pair classification or
regression data) with Accelerate on the shared hfext loop, as transformers' ``run_glue_no_trainer.py``.

    python recipes/finetune_glue.py --model_name_or_path bert --task_name sst2 \\
        --train_file SST-2/train.tsv --validation_file SST-2/dev.tsv --output_dir sst2

    python recipes/finetune_glue.py --model_name_or_path bert --task_name mnli --dataset_name glue \\
        --dataset_config_name mnli --output_dir mnli                  # with Hub access

    hfext finetune glue --model_name_or_path bert ...                  # the same, through the CLI

    ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no \\
        --dynamo_backend no --main_process_port 0 recipes/finetune_glue.py ...

``--task_name`` (cola, sst2, mrpc, qqp, stsb, mnli, qnli, rte) fixes the label set, the text columns and the
metrics of the GLUE benchmark: accuracy; accuracy and F1 for MRPC and QQP; Matthews correlation for CoLA;
Pearson and Spearman correlation for STS-B, a regression (``num_labels=1``, MSE loss); MNLI is evaluated on
``validation_matched`` and ``validation_mismatched`` (``--validation_mismatched_file`` for local files;
``*_mm`` results). Data: ``--dataset_name glue --dataset_config_name <task>``, or local files in the GLUE
distribution's own TSV layout (SST-2 ``sentence label``; CoLA's header-less ``source label * sentence``;
MRPC ``Quality #1 ID #2 ID #1 String #2 String``; QQP ``id qid1 qid2 question1 question2 is_duplicate``;
STS-B ``... sentence1 sentence2 score``; MNLI ``... sentence1 sentence2 ... gold_label``; QNLI ``index question
sentence label``; RTE ``index sentence1 sentence2 label``), or csv/json with the Hub dataset's column names.
Without ``--task_name`` the columns are inferred as run_glue_no_trainer does: ``label`` (a float column
means regression) and ``sentence1``/``sentence2``, else the first two other columns, else the first one.

The model is loaded with ``AutoModelForSequenceClassification`` (an hfext-bert folder, a converted or a
transformers BERT); results (``eval_accuracy``, ``eval_f1``, ...) are printed after every epoch and written
to ``all_results.json`` with the fine-tuned model and tokenizer. With ``--test_file``, predictions go to
``predict_results.txt`` (``index<TAB>prediction``, label names).
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass, field

import numpy as np

from hfext.errors import see
from hfext.metrics import functional
from hfext.training.args import setup_accelerator
from hfext.training.finetune import (
    add_finetune_args,
    check_columns,
    check_max_seq_length,
    label_list,
    load_data_file,
    load_model,
    load_raw_datasets,
    load_tokenizer,
    make_collator,
    predict,
    run_finetuning,
    split_source,
    tokenize,
    validate_finetune_args,
)


@dataclass(frozen=True)
class GlueTask:
    text_columns: tuple[str, ...]  # the Hub `glue` dataset's column names
    labels: tuple[str, ...] | None  # None: regression
    tsv_columns: dict = field(default_factory=dict)  # the GLUE distribution's TSV column -> the Hub's name
    tsv_header: tuple[str, ...] | None = None  # for header-less TSVs (CoLA)


GLUE_TASKS = {
    "cola": GlueTask(("sentence",), ("unacceptable", "acceptable"),
                     tsv_header=("source", "label", "original_label", "sentence")),
    "sst2": GlueTask(("sentence",), ("negative", "positive")),
    "mrpc": GlueTask(("sentence1", "sentence2"), ("not_equivalent", "equivalent"),
                     {"#1 String": "sentence1", "#2 String": "sentence2", "Quality": "label"}),
    "qqp": GlueTask(("question1", "question2"), ("not_duplicate", "duplicate"), {"is_duplicate": "label"}),
    "stsb": GlueTask(("sentence1", "sentence2"), None, {"score": "label"}),
    "mnli": GlueTask(("premise", "hypothesis"), ("entailment", "neutral", "contradiction"),
                     {"sentence1": "premise", "sentence2": "hypothesis", "gold_label": "label"}),
    "qnli": GlueTask(("question", "sentence"), ("entailment", "not_entailment")),
    "rte": GlueTask(("sentence1", "sentence2"), ("entailment", "not_entailment")),
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task_name", default=None, type=str.lower,
                        help=f"The GLUE task: one of {', '.join(GLUE_TASKS)} (labels, columns and metrics).")
    parser.add_argument("--validation_mismatched_file", default=None,
                        help="MNLI: dev_mismatched.tsv, evaluated besides --validation_file (dev_matched.tsv).")
    add_finetune_args(parser)
    args = parser.parse_args(argv)
    if args.task_name is not None and args.task_name not in GLUE_TASKS:
        raise ValueError(f"--task_name {args.task_name!r} is not a GLUE task; pick one of {sorted(GLUE_TASKS)}, "
                         "or leave it out to infer the columns from the data" + see("finetune-task"))
    if args.validation_mismatched_file and args.task_name != "mnli":
        raise ValueError("--validation_mismatched_file is for --task_name mnli only" + see("finetune-task"))
    validate_finetune_args(args)
    return args


def tsv_options(task: GlueTask | None):
    """Per-file `datasets` csv options: GLUE's TSVs are not quoted (a lone `"` is text), CoLA has no header."""
    def options(path: str) -> dict:
        if not path.lower().endswith(".tsv"):
            return {}
        result = {"quoting": csv.QUOTE_NONE}
        if task is not None and task.tsv_header:
            with open(path, encoding="utf8") as fin:
                first = fin.readline().rstrip("\n").split("\t")
            if not any(name in first for name in ("sentence", "label")):  # a data row: header-less
                result["column_names"] = list(task.tsv_header)
        return result
    return options


def load_data(accelerator, args, task: GlueTask | None):
    """The splits with the Hub's column names: train, validation (+ validation_mismatched for MNLI), test."""
    raw = load_raw_datasets(accelerator, args, tsv_options(task))
    if "validation_matched" in raw:  # the Hub's MNLI
        raw["validation"] = raw.pop("validation_matched")
    if "test_matched" in raw:
        raw["test"] = raw.pop("test_matched")
    if args.validation_mismatched_file:
        with accelerator.main_process_first():
            raw["validation_mismatched"] = load_data_file(args.validation_mismatched_file, "validation_mismatched_file",
                                                          **tsv_options(task)(args.validation_mismatched_file))
    if task is not None:
        for split in list(raw):
            renames = {old: new for old, new in task.tsv_columns.items()
                       if old in raw[split].column_names and new not in raw[split].column_names}
            raw[split] = raw[split].rename_columns(renames)
    return raw


def resolve_columns(raw, args, task: GlueTask | None) -> tuple[tuple[str, ...], list, bool]:
    """(text columns, label names, is_regression), checking every split has the columns."""
    if task is not None:
        columns = task.text_columns
        hint = (f"give GLUE's {args.task_name} TSV layout or csv/json with the columns {[*columns, 'label']}")
    else:
        check_columns(raw["train"], ["label"], "train", args, "name the label column 'label'")
        others = [name for name in raw["train"].column_names if name != "label"]
        if "sentence1" in others and "sentence2" in others:
            columns = ("sentence1", "sentence2")
        else:
            columns = tuple(others[:2]) if len(others) >= 2 else tuple(others[:1])
        if not columns:
            raise ValueError(f"{split_source(args, 'train')} has only a label column; add one or two text columns"
                             + see("finetune-data"))
        hint = f"give every file the columns {[*columns, 'label']}"
    for split in raw:
        needed = [*columns, "label"] if split != "test" else list(columns)
        check_columns(raw[split], needed, split, args, hint)
    if task is not None:
        return columns, list(task.labels or []), task.labels is None
    regression = raw["train"].features["label"].dtype.startswith("float")
    labels = [] if regression else label_list(raw, "label", args, [s for s in raw if s.startswith("validation")])
    return columns, labels, regression


def label_ids(raw, args, labels: list, regression: bool, task: GlueTask | None):
    """Labels as model targets: floats for regression, else indices into ``labels`` (a GLUE file's label names
    such as ``entailment`` or its 0/1 digits). An unknown label is an error naming it."""
    if regression:
        return lambda values, split="train": [float(v) for v in values]
    index = {label: i for i, label in enumerate(labels)}
    index.update({str(label): i for i, label in enumerate(labels)})
    if task is not None or hasattr(raw["train"].features["label"], "names"):  # ids: GLUE's 0/1 files, ClassLabel
        index.update({str(i): i for i in range(len(labels))})

    def convert(values, split="train"):
        out = []
        for value in values:
            key = value if value in index else str(value)
            if key not in index:
                raise ValueError(f"label {value!r} in {split_source(args, split)} is not one of the "
                                 f"{args.task_name or 'training'} labels {labels}; fix the file or the --task_name"
                                 + see("finetune-data"))
            out.append(index[key])
        return out
    return convert


def main(argv=None) -> dict:
    args = parse_args(argv)
    accelerator = setup_accelerator(args)
    task = GLUE_TASKS.get(args.task_name) if args.task_name else None
    raw = load_data(accelerator, args, task)
    if "train" not in raw:
        raise ValueError(f"no training split in {args.dataset_name!r}; pass --train_file" + see("finetune-data"))
    columns, labels, regression = resolve_columns(raw, args, task)

    from transformers import AutoModelForSequenceClassification

    tokenizer = load_tokenizer(args)
    overrides = {"num_labels": 1} if regression else {
        "num_labels": len(labels), "id2label": dict(enumerate(map(str, labels))),
        "label2id": {str(label): i for i, label in enumerate(labels)}}
    if regression:
        overrides["problem_type"] = "regression"
    model = load_model(args.model_name_or_path, AutoModelForSequenceClassification,
                       ignore_mismatched_sizes=args.ignore_mismatched_sizes, **overrides)
    check_max_seq_length(args.max_seq_length, model, tokenizer)
    to_ids = label_ids(raw, args, labels, regression, task)

    def preprocess(split):
        def function(examples):
            texts = [examples[name] for name in columns]
            encoded = tokenizer(*texts, padding="max_length" if args.pad_to_max_length else False,
                                max_length=args.max_seq_length, truncation=True)
            if split != "test":
                encoded["labels"] = to_ids(examples["label"], split)
            return encoded
        return function

    with accelerator.main_process_first():
        data = {split: tokenize(raw[split], preprocess(split), f"tokenizing {split}") for split in raw}
    collator = make_collator(tokenizer, args.pad_to_max_length)

    def metrics_for(out) -> dict:
        if regression:
            predictions = out["logits"][:, 0]
        else:
            predictions = out["logits"].argmax(-1)
        references = out["labels"]
        if args.task_name:
            return functional.glue(args.task_name, predictions, references)
        if regression:
            return {"pearson": functional.pearsonr(predictions, references)[0],
                    "spearmanr": functional.spearmanr(predictions, references)[0],
                    "mse": float(np.mean((predictions - references) ** 2))}
        return {"accuracy": functional.accuracy(predictions, references)}

    def evaluate(model) -> dict:
        results = {}
        for split, suffix in (("validation", ""), ("validation_mismatched", "_mm")):
            if split in data:
                out = predict(accelerator, model, data[split], collator, args.per_device_eval_batch_size)
                results.update({f"{k}{suffix}": v for k, v in metrics_for(out).items()})
                results[f"examples{suffix}"] = len(out["labels"])
        return results

    def save_predictions(model) -> dict:
        if "test" not in data or not args.test_file:
            return {}
        logits = predict(accelerator, model, data["test"], collator, args.per_device_eval_batch_size)["logits"]
        values = logits[:, 0].tolist() if regression else [labels[i] for i in logits.argmax(-1)]
        lines = ["index\tprediction", *(f"{i}\t{v:.3f}" if regression else f"{i}\t{v}" for i, v in enumerate(values))]
        return {"predict_results.txt": "\n".join(lines) + "\n"}

    extra = {"task_name": args.task_name, "num_labels": 1 if regression else len(labels)}
    return run_finetuning(accelerator, args, model, tokenizer, data["train"], collator,
                          evaluate if "validation" in data else None, "finetune_glue", extra, save_predictions)


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
