#!/usr/bin/env python
"""Fine-tune a BERT (``hfext-bert``, a converted or a transformers BERT) for extractive question answering on
SQuAD v1.1 with Accelerate, as transformers' ``run_qa_no_trainer.py`` does.

    python recipes/finetune_squad.py --model_name_or_path bert-dir --train_file train-v1.1.json \\
        --validation_file dev-v1.1.json --output_dir squad --max_seq_length 384 --doc_stride 128

    python recipes/finetune_squad.py --model_name_or_path bert-dir --dataset_name squad --output_dir squad

    ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no \\
        --dynamo_backend no --main_process_port 0 recipes/finetune_squad.py ...

Data: the official SQuAD v1.1 JSON (``train-v1.1.json`` / ``dev-v1.1.json``) or JSON lines of flat ``squad``
rows via ``--train_file``/``--validation_file``/``--test_file``, or ``--dataset_name squad`` through
``datasets``; every ``answer_start`` is checked against its context. Each question + context becomes
``--max_seq_length`` windows overlapping by ``--doc_stride`` tokens; at evaluation the best span over a
question's windows (``--n_best_size`` starts x ends, at most ``--max_answer_length`` tokens) is its answer,
scored with the official SQuAD v1.1 exact match and F1 (``hfext.metrics.load("squad")``) after every epoch.
SQuAD v2.0 (``--version_2_with_negative``) is not supported.

The output folder holds the model (``AutoModelForQuestionAnswering.from_pretrained``), its tokenizer,
``predictions.json`` ({question id: answer}), ``nbest_predictions.json`` and ``all_results.json``
(``eval_exact_match``, ``eval_f1``, per-epoch ``eval_history``); with ``--test_file``, ``test_predictions.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

import hfext  # noqa: F401  (registers hfext-bert with the Auto classes)
from hfext.data.question_answering import (
    SQUAD_COLUMNS,
    check_squad_rows,
    load_squad_dataset,
    postprocess_qa_predictions,
    prepare_train_features,
    prepare_validation_features,
)
from hfext.errors import see
from hfext.metrics import load as load_metric
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

logger = logging.getLogger(__name__)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_finetune_args(parser, max_seq_length=384)
    qa = parser.add_argument_group("question answering")
    qa.add_argument("--doc_stride", type=int, default=128,
                    help="Tokens shared by consecutive windows when a context is split.")
    qa.add_argument("--n_best_size", type=int, default=20, help="Start and end candidates per window.")
    qa.add_argument("--max_answer_length", type=int, default=30, help="The longest answer, in tokens.")
    qa.add_argument("--version_2_with_negative", action="store_true",
                    help="SQuAD v2.0 (unanswerable questions): not supported, refused.")
    parser.set_defaults(learning_rate=3e-5, num_train_epochs=2)
    args = parser.parse_args(argv)
    if args.version_2_with_negative:
        raise ValueError("--version_2_with_negative (SQuAD v2.0) is not supported: this recipe does SQuAD v1.1; "
                         "drop the flag and pass v1.1 data" + see("finetune-task"))
    validate_finetune_args(args)
    if args.validation_file is None and not args.dataset_name:
        raise ValueError("pass --validation_file (e.g. dev-v1.1.json) to evaluate, or --dataset_name squad"
                         + see("finetune-task"))
    for flag in ("doc_stride", "n_best_size", "max_answer_length"):
        if getattr(args, flag) < 1:
            raise ValueError(f"--{flag} must be >= 1, got {getattr(args, flag)}" + see("finetune-task"))
    if args.doc_stride >= args.max_seq_length:
        raise ValueError(f"--doc_stride ({args.doc_stride}) must be smaller than --max_seq_length "
                         f"({args.max_seq_length})" + see("finetune-task"))
    return args


def load_squad(accelerator, args):
    """train/validation(/test) squad rows from local SQuAD files or ``--dataset_name``; answers checked."""
    if args.dataset_name:
        raw = load_raw_datasets(accelerator, args)
        for split in raw:
            check_columns(raw[split], [c for c in SQUAD_COLUMNS if c != "title"], split, args)
            check_squad_rows(raw[split], source=split_source(args, split))
    else:  # the reader checks every answer_start against its context itself
        raw = load_raw_datasets(accelerator, args, read_file=load_squad_dataset)
    return raw


def main(argv=None) -> dict:
    from transformers import AutoModelForQuestionAnswering

    args = parse_args(argv)
    accelerator = setup_accelerator(args)
    raw = load_squad(accelerator, args)
    tokenizer = load_tokenizer(args)
    if not tokenizer.is_fast:
        raise ValueError(f"the tokenizer of {args.tokenizer_name or args.model_name_or_path!r} is not a fast "
                         "tokenizer; question answering needs its offset mappings: pass a tokenizer.json tokenizer"
                         + see("tokenizer-tokens"))
    model = load_model(args.model_name_or_path, AutoModelForQuestionAnswering,
                       ignore_mismatched_sizes=args.ignore_mismatched_sizes)
    check_max_seq_length(args.max_seq_length, model, tokenizer)
    windows = {"tokenizer": tokenizer, "max_seq_length": args.max_seq_length, "doc_stride": args.doc_stride,
               "padding": "max_length" if args.pad_to_max_length else False}
    train_dataset = tokenize(raw["train"], lambda batch: prepare_train_features(batch, **windows), "training windows")
    collator = make_collator(tokenizer, args.pad_to_max_length)
    squad = load_metric("squad", keep_in_memory=True)  # no cache files, so processes never share one

    splits = {}
    for split in ("validation", "test"):
        if split in raw:
            features = tokenize(raw[split], lambda batch: prepare_validation_features(batch, **windows), f"{split} windows")
            splits[split] = (raw[split], features, features.remove_columns(["example_id", "offset_mapping"]))

    def answer(split: str, model):
        examples, features, inputs = splits[split]
        out = predict(accelerator, model, inputs, collator, args.per_device_eval_batch_size,
                      outputs=("start_logits", "end_logits"), keep=())
        return postprocess_qa_predictions(examples, features, out["start_logits"], out["end_logits"],
                                          args.n_best_size, args.max_answer_length)

    last = {}

    def evaluate(model) -> dict:
        last["predictions"], last["nbest"] = answer("validation", model)
        examples = splits["validation"][0]
        return squad.compute(predictions=[{"id": qid, "prediction_text": text} for qid, text in last["predictions"].items()],
                             references=[{"id": row["id"], "answers": row["answers"]} for row in examples])

    def save_files(model) -> dict:
        files = {"predictions.json": json.dumps(last["predictions"], indent=2),
                 "nbest_predictions.json": json.dumps(last["nbest"], indent=2)}
        if "test" in splits:
            files["test_predictions.json"] = json.dumps(answer("test", model)[0], indent=2)
        return files

    extra = {"train_windows": len(train_dataset), "eval_examples": len(splits["validation"][0]),
             "eval_windows": len(splits["validation"][1])}
    return run_finetuning(accelerator, args, model, tokenizer, train_dataset, collator, evaluate, "finetune_squad",
                          extra_results=extra, save_files=save_files)


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
