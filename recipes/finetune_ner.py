#!/usr/bin/env python
"""Fine-tune a BERT (``hfext-bert``, a converted or a transformers BERT) for named-entity recognition on
CoNLL-2003 with Accelerate, as transformers' ``run_ner_no_trainer.py`` does.

    python recipes/finetune_ner.py --model_name_or_path bert-dir --train_file eng.train --validation_file eng.testa \\
        --output_dir ner

    python recipes/finetune_ner.py --model_name_or_path bert-dir --dataset_name conll2003 --output_dir ner

    ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no \\
        --dynamo_backend no --main_process_port 0 recipes/finetune_ner.py ...

Data: CoNLL column files (``word POS chunk NER``, a blank line between sentences, ``-DOCSTART-`` lines; any
column count with the tag last) via ``--train_file``/``--validation_file``/``--test_file``, json/jsonl files
with ``tokens`` and ``ner_tags`` columns, or ``--dataset_name conll2003`` through ``datasets`` (``ClassLabel``
tags). The label set is the training data's (a validation tag it lacks is refused). Words are split into
WordPieces; a word's label goes on its first piece (the others are ignored by the loss), or on every piece
with ``--label_all_tokens`` (``B-X`` continuing as ``I-X``). Evaluation is per word (each word's first piece
predicts it; words truncated away by ``--max_seq_length`` count as ``O``): entity-level precision, recall
and F1 and token accuracy, as seqeval's default mode (``hfext.metrics.load("seqeval")``), after every epoch;
``--return_entity_level_metrics`` adds them per entity type.

The output folder holds the model (``AutoModelForTokenClassification.from_pretrained``, with ``id2label``),
its tokenizer, ``all_results.json`` (``eval_precision``, ``eval_recall``, ``eval_f1``, ``eval_accuracy``,
per-epoch ``eval_history``) and ``predictions.txt`` (``word gold predicted`` per line, a blank line between
sentences, as conlleval reads); with ``--test_file``, ``test_predictions.txt`` (``word predicted``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

import hfext  # noqa: F401  (registers hfext-bert with the Auto classes)
from hfext.data.token_classification import (
    check_labels,
    label_names,
    load_conll_dataset,
    tags_as_strings,
    tokenize_and_align_labels,
    word_predictions,
)
from hfext.errors import see
from hfext.metrics import load as load_metric
from hfext.training.args import setup_accelerator
from hfext.training.finetune import (
    FILE_BUILDERS,
    UnseenLabelError,
    add_finetune_args,
    check_columns,
    check_max_seq_length,
    load_model,
    load_raw_datasets,
    load_tokenizer,
    predict,
    run_finetuning,
    split_source,
    tokenize,
    validate_finetune_args,
)

logger = logging.getLogger(__name__)


def is_conll_file(path: str) -> bool:
    """Files whose extension `datasets` has no builder for (.txt, .conll, eng.train, ...) are CoNLL column files."""
    return os.path.splitext(path)[1].lower() not in FILE_BUILDERS


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_finetune_args(parser, max_seq_length=128)
    ner = parser.add_argument_group("token classification")
    ner.add_argument("--text_column_name", default="tokens", help="The column of words (datasets and json files).")
    ner.add_argument("--label_column_name", default="ner_tags", help="The column of tags (datasets and json files).")
    ner.add_argument("--label_all_tokens", action="store_true",
                     help="Label every WordPiece of a word (default: only the first; the others are ignored).")
    ner.add_argument("--return_entity_level_metrics", action="store_true",
                     help="Also report precision/recall/F1 per entity type.")
    parser.set_defaults(learning_rate=5e-5)
    args = parser.parse_args(argv)
    validate_finetune_args(args, reads_itself=is_conll_file)
    if args.validation_file is None and not args.dataset_name:
        raise ValueError("pass --validation_file (e.g. eng.testa) to evaluate, or --dataset_name conll2003"
                         + see("finetune-task"))
    return args


def load_ner_splits(accelerator, args):
    """train/validation(/test) with tag strings in ``--label_column_name``, and the label list (training's)."""
    raw = load_raw_datasets(accelerator, args,
                            read_file=lambda path: load_conll_dataset(path) if is_conll_file(path) else None)
    required = [args.text_column_name, args.label_column_name]
    for split in raw:
        check_columns(raw[split], required if split != "test" else required[:1], split, args,
                      hint=f"give CoNLL column files or data with the columns {required}")
    labels = label_names(raw["train"], args.label_column_name)
    for split in list(raw):
        if args.label_column_name in raw[split].column_names:
            raw[split] = tags_as_strings(raw[split], args.label_column_name)
    if "validation" in raw:
        check_labels(labels, raw["validation"], args.label_column_name, split_source(args, "validation"),
                     UnseenLabelError)
    return raw, labels


def label_order(model_name_or_path: str, labels: list[str]) -> list[str]:
    """The label ids of a checkpoint already fine-tuned on these labels (its head is kept), else ``labels``."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model_name_or_path)
    label2id = getattr(config, "label2id", None) or {}
    if set(label2id) == set(labels):
        return sorted(labels, key=label2id.get)
    return labels


def main(argv=None) -> dict:
    from transformers import (
        AutoModelForTokenClassification,
        DataCollatorForTokenClassification,
        default_data_collator,
    )

    args = parse_args(argv)
    accelerator = setup_accelerator(args)
    raw, labels = load_ner_splits(accelerator, args)
    labels = label_order(args.model_name_or_path, labels)
    label_to_id = {label: i for i, label in enumerate(labels)}
    tokenizer = load_tokenizer(args)
    if not tokenizer.is_fast:
        raise ValueError(f"the tokenizer of {args.tokenizer_name or args.model_name_or_path!r} is not a fast "
                         "tokenizer; label alignment needs its word ids: pass a tokenizer.json tokenizer"
                         + see("tokenizer-tokens"))
    model = load_model(args.model_name_or_path, AutoModelForTokenClassification, num_labels=len(labels),
                       id2label=dict(enumerate(labels)), label2id=label_to_id,
                       ignore_mismatched_sizes=args.ignore_mismatched_sizes)
    check_max_seq_length(args.max_seq_length, model, tokenizer)
    columns = {"tokenizer": tokenizer, "label_to_id": label_to_id, "max_seq_length": args.max_seq_length,
               "tokens_column": args.text_column_name, "label_column": args.label_column_name,
               "padding": "max_length" if args.pad_to_max_length else False}
    train_dataset = tokenize(raw["train"], lambda batch: tokenize_and_align_labels(
        batch, label_all_tokens=args.label_all_tokens, **columns), "aligning labels").remove_columns(["word_ids"])
    collator = default_data_collator if args.pad_to_max_length else DataCollatorForTokenClassification(tokenizer)
    seqeval = load_metric("seqeval", keep_in_memory=True)  # no cache files, so processes never share one

    splits = {}
    for split in ("validation", "test"):
        if split in raw:
            rows = raw[split]
            if args.label_column_name not in rows.column_names:  # an unlabelled test file
                rows = rows.add_column(args.label_column_name, [["O"] * len(t) for t in rows[args.text_column_name]])
            # Evaluation is per word: only first pieces carry labels, whatever --label_all_tokens says.
            features = tokenize(rows, lambda batch: tokenize_and_align_labels(batch, **columns), f"{split} words")
            splits[split] = (rows, features["word_ids"], features.remove_columns(["word_ids", "labels"]))

    def tag(split: str, model) -> list[list[str]]:
        rows, word_ids, inputs = splits[split]
        logits = predict(accelerator, model, inputs, collator, args.per_device_eval_batch_size, keep=())["logits"]
        predicted = logits.argmax(-1)
        return [word_predictions(ids, predicted[i, : len(ids)], len(words), labels)
                for i, (ids, words) in enumerate(zip(word_ids, rows[args.text_column_name]))]

    last = {}

    def evaluate(model) -> dict:
        rows = splits["validation"][0]
        last["predictions"] = tag("validation", model)
        scores = seqeval.compute(predictions=last["predictions"], references=rows[args.label_column_name])
        results = {key[len("overall_"):]: value for key, value in scores.items() if key.startswith("overall_")}
        if args.return_entity_level_metrics:
            for entity, values in scores.items():
                if isinstance(values, dict):
                    results.update({f"{entity}_{name}": value for name, value in values.items()})
        return results

    def save_files(model) -> dict:
        rows = splits["validation"][0]
        files = {"predictions.txt": conll_lines(zip(rows[args.text_column_name], rows[args.label_column_name],
                                                    last["predictions"]))}
        if "test" in splits:
            test_rows = splits["test"][0]
            files["test_predictions.txt"] = conll_lines(zip(test_rows[args.text_column_name], tag("test", model)))
        return files

    extra = {"labels": labels, "eval_sentences": len(splits["validation"][0])}
    return run_finetuning(accelerator, args, model, tokenizer, train_dataset, collator, evaluate, "finetune_ner",
                          extra_results=extra, save_files=save_files)


def conll_lines(sentences) -> str:
    """Columns per word (``word gold predicted`` or ``word predicted``), a blank line after each sentence."""
    return "".join("".join(" ".join(word) + "\n" for word in zip(*columns)) + "\n" for columns in sentences)


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)

