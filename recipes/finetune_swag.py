#!/usr/bin/env python
"""Fine-tune a BERT-like checkpoint on SWAG multiple choice with Accelerate on the shared hfext loop, as
transformers' ``run_swag_no_trainer.py``.

    python recipes/finetune_swag.py --model_name_or_path bert --train_file swagaf/data/train.csv \\
        --validation_file swagaf/data/val.csv --output_dir swag

    hfext finetune swag --model_name_or_path bert ...                  # the same, through the CLI

    python recipes/finetune_swag.py --model_name_or_path bert --dataset_name swag --dataset_config_name regular \\
        --output_dir swag                                              # with Hub access

Data: the CSV of the original SWAG release (``sent1``, ``sent2``, ``ending0`` ... ``ending3``, ``label``; its
other columns are ignored), the Hub's ``swag`` dataset (``regular`` config, the same columns), or json with
those columns. Each example becomes four ``[CLS] sent1 [SEP] sent2 ending_i [SEP]`` sequences; the model
(``AutoModelForMultipleChoice``: one score per choice, softmax over the four) learns to pick ``label``.
The metric is accuracy (``eval_accuracy`` in ``all_results.json``, after every epoch and at the end).
"""

from __future__ import annotations

import argparse
import sys

from hfext.errors import see
from hfext.metrics import functional
from hfext.training.args import setup_accelerator
from hfext.training.finetune import (
    add_finetune_args,
    check_columns,
    check_max_seq_length,
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

CONTEXT_COLUMN, QUESTION_HEADER_COLUMN = "sent1", "sent2"
ENDING_COLUMNS = [f"ending{i}" for i in range(4)]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_finetune_args(parser)
    args = parser.parse_args(argv)
    validate_finetune_args(args)
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    accelerator = setup_accelerator(args)
    raw = load_raw_datasets(accelerator, args)
    if "train" not in raw:
        raise ValueError(f"no training split in {args.dataset_name!r}; pass --train_file" + see("finetune-data"))
    for split in raw:
        needed = [CONTEXT_COLUMN, QUESTION_HEADER_COLUMN, *ENDING_COLUMNS] + (["label"] if split != "test" else [])
        check_columns(raw[split], needed, split, args, "give SWAG's CSV (sent1, sent2, ending0-3, label)")

    from transformers import AutoModelForMultipleChoice

    tokenizer = load_tokenizer(args)
    model = load_model(args.model_name_or_path, AutoModelForMultipleChoice,
                       ignore_mismatched_sizes=args.ignore_mismatched_sizes)
    check_max_seq_length(args.max_seq_length, model, tokenizer)
    choices = len(ENDING_COLUMNS)

    def preprocess(split):
        def function(examples):
            count = len(examples[CONTEXT_COLUMN])
            first = [context for context in examples[CONTEXT_COLUMN] for _ in range(choices)]
            second = [f"{header} {examples[ending][i]}" for i, header in enumerate(examples[QUESTION_HEADER_COLUMN])
                      for ending in ENDING_COLUMNS]
            encoded = tokenizer(first, second, truncation=True, max_length=args.max_seq_length,
                                padding="max_length" if args.pad_to_max_length else False)
            # One row per example holding a list per choice.
            result = {key: [values[i * choices : (i + 1) * choices] for i in range(count)] for key, values in encoded.items()}
            if split != "test":
                labels = [int(label) for label in examples["label"]]
                bad = [label for label in labels if not 0 <= label < choices]
                if bad:
                    raise ValueError(f"{split_source(args, split)} has label(s) {bad[:5]}; SWAG labels are the index "
                                     f"of the right ending, 0 to {choices - 1}" + see("finetune-data"))
                result["labels"] = labels
            return result
        return function

    with accelerator.main_process_first():
        data = {split: tokenize(raw[split], preprocess(split), f"tokenizing {split}") for split in raw}
    collator = make_collator(tokenizer, args.pad_to_max_length, multiple_choice=True)

    def evaluate(model) -> dict:
        out = predict(accelerator, model, data["validation"], collator, args.per_device_eval_batch_size)
        return {"accuracy": functional.accuracy(out["logits"].argmax(-1), out["labels"]),
                "examples": len(out["labels"])}

    return run_finetuning(accelerator, args, model, tokenizer, data["train"], collator,
                          evaluate if "validation" in data else None, "finetune_swag")


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
