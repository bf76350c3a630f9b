#!/usr/bin/env python
"""Pretrain BERT (``hfext-bert``) from scratch with masked language modelling and next-sentence prediction,
with Accelerate on the shared hfext loop.

    python recipes/pretrain_bert.py --train_file corpus.txt --output_dir bert --max_seq_length 128

    ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no \\
        --dynamo_backend no --main_process_port 0 recipes/pretrain_bert.py ...

Data: text files (``--train_file``) or ``--dataset_name`` with ``--text_column``. Text with blank lines is
BERT's format (one sentence per line, blank lines between documents); otherwise each line is a document,
split into sentences. Documents become ``[CLS] A [SEP] B [SEP]`` pairs packed to ``--max_seq_length``, half
with a random B from another document (``--no_nsp``: MLM only); the last ``--validation_split_percentage`` %
of the documents are held out. Masking: ``--mlm_probability`` of the tokens, 80 % ``[MASK]`` / 10 % random /
10 % unchanged, whole words with ``--whole_word_mask``. Without ``--tokenizer_name`` a WordPiece vocabulary
is trained on the training text. Optimisation as in the paper: AdamW (weight decay 0.01 on matrices only),
linear warmup then linear decay. The output folder loads with ``AutoModelForPreTraining`` /
``AutoModelForMaskedLM`` / ``AutoModel`` (after ``import hfext``) and with ``pipeline("fill-mask", model=out)``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

import torch

import hfext  # noqa: F401  (registers hfext-bert with the Auto classes)
from hfext.data import DataCollatorForBertPretraining, build_nsp_examples
from hfext.errors import see
from hfext.loading import check_tokenizer_fits, load_pretrained
from hfext.training.args import (
    NOT_RUN_CONFIG,
    add_data_args,
    add_training_args,
    finish_run,
    load_text_dataset,
    run_config,
    setup_accelerator,
    train_with_args,
    validate_common_args,
)
from hfext.training.bert import (
    BertPretrainingTask,
    evaluate_pretraining,
    read_documents,
    train_wordpiece,
)
from hfext.training.causal_lm import parameter_groups

logger = logging.getLogger(__name__)

EVALUATION_FLAGS = {"per_device_eval_batch_size", "eval_steps"}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_args(parser)
    data = parser.add_argument_group("data (BERT)")
    data.add_argument("--max_seq_length", type=int, default=128, help="Tokens per pair, [CLS] and [SEP]s included.")
    data.add_argument("--short_seq_prob", type=float, default=0.1, help="Share of pairs made shorter on purpose.")
    data.add_argument("--validation_split_percentage", type=float, default=5.0, help="Held-out %% of the documents.")
    data.add_argument("--mlm_probability", type=float, default=0.15, help="Share of tokens predicted.")
    data.add_argument("--whole_word_mask", action="store_true", help="Mask every WordPiece of a chosen word.")
    data.add_argument("--no_nsp", action="store_true", help="MLM only (no next-sentence prediction).")
    tok = parser.add_argument_group("tokenizer")
    tok.add_argument("--tokenizer_name", default=None, help="A saved tokenizer (path or Hub id) instead of training one.")
    tok.add_argument("--vocab_size", type=int, default=8000, help="Size of the trained WordPiece vocabulary.")
    model = parser.add_argument_group("model (ignored with --model_name_or_path)")
    model.add_argument("--hidden_size", type=int, default=256)
    model.add_argument("--num_hidden_layers", type=int, default=4)
    model.add_argument("--num_attention_heads", type=int, default=4)
    model.add_argument("--intermediate_size", type=int, default=None, help="Default: 4 x hidden_size.")
    model.add_argument("--dropout", type=float, default=0.1)
    model.add_argument("--gradient_checkpointing", action="store_true", help="Recompute activations in backward.")
    add_training_args(parser)
    opt = parser.add_argument_group("optimisation and evaluation")
    opt.add_argument("--per_device_train_batch_size", type=int, default=32)
    opt.add_argument("--per_device_eval_batch_size", type=int, default=64)
    opt.add_argument("--weight_decay", type=float, default=0.01, help="On matrices only (not biases or LayerNorms).")
    opt.add_argument("--eval_steps", type=int, default=None, help="Validation every N steps (and at the end).")
    parser.set_defaults(num_train_epochs=1, learning_rate=1e-4, lr_scheduler_type="linear", num_warmup_steps=100,
                        max_grad_norm=1.0)
    args = parser.parse_args(argv)
    validate_common_args(args)
    for name in ("max_seq_length", "per_device_train_batch_size", "per_device_eval_batch_size", "hidden_size",
                 "num_hidden_layers", "num_attention_heads"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be >= 1, got {getattr(args, name)}" + see("training-flags"))
    if not 0.0 <= args.validation_split_percentage < 100.0:
        raise ValueError(f"--validation_split_percentage must be in [0, 100), got {args.validation_split_percentage}"
                         + see("training-flags"))
    if not 0.0 < args.mlm_probability < 1.0:
        raise ValueError(f"--mlm_probability must be in (0, 1), got {args.mlm_probability}" + see("pretraining-flags"))
    return args


def load_documents(args) -> list[list[str]]:
    if not args.train_file:
        return read_documents(text for text in load_text_dataset(args)[args.text_column] if text is not None)
    documents = []
    for path in args.train_file:  # files never share a document
        with open(path, encoding="utf8") as fin:
            documents.extend(read_documents(fin))
    return documents


def load_tokenizer(args, accelerator, documents):
    from transformers import AutoTokenizer

    name = args.tokenizer_name or args.model_name_or_path
    if name:
        tokenizer = AutoTokenizer.from_pretrained(name)
    else:
        directory = os.path.join(args.output_dir, ".trained_tokenizer")
        with accelerator.main_process_first():
            if accelerator.is_main_process and not (args.resume_from_checkpoint and os.path.isdir(directory)):
                train_wordpiece((s for d in documents for s in d), args.vocab_size).save_pretrained(directory)
            tokenizer = AutoTokenizer.from_pretrained(directory)
    if tokenizer.mask_token_id is None:
        raise ValueError(f"tokenizer {name!r} has no mask token; MLM needs one (e.g. [MASK]): add it with "
                         "tokenizer.add_special_tokens({'mask_token': '[MASK]'}) and save it again" + see("tokenizer-tokens"))
    return tokenizer


def build_model(args, tokenizer):
    from transformers import AutoConfig, AutoModelForPreTraining

    if args.model_name_or_path:  # safetensors only, a model type with a pretraining head, a tokenizer that fits
        model = load_pretrained(args.model_name_or_path, AutoModelForPreTraining)
        check_tokenizer_fits(tokenizer, model, f"the tokenizer of {args.tokenizer_name or args.model_name_or_path!r}")
        return model
    config = AutoConfig.for_model(
        "hfext-bert", vocab_size=len(tokenizer), hidden_size=args.hidden_size, num_hidden_layers=args.num_hidden_layers,
        num_attention_heads=args.num_attention_heads, intermediate_size=args.intermediate_size or 4 * args.hidden_size,
        hidden_dropout_prob=args.dropout, attention_probs_dropout_prob=args.dropout,
        max_position_embeddings=max(args.max_seq_length, 16), pad_token_id=tokenizer.pad_token_id,
    )
    return AutoModelForPreTraining.from_config(config)


def main(argv=None) -> dict:
    args = parse_args(argv)
    accelerator = setup_accelerator(args)
    documents = load_documents(args)
    if len(documents) < 2:
        raise ValueError(f"found {len(documents)} document(s); BERT pretraining needs at least 2 (separate documents "
                         "with blank lines, or give one document per line)" + see("too-little-data"))
    held_out = int(len(documents) * args.validation_split_percentage / 100)
    train_docs, eval_docs = (documents[:-held_out], documents[-held_out:]) if held_out else (documents, [])
    tokenizer = load_tokenizer(args, accelerator, train_docs)
    model = build_model(args, tokenizer)
    if args.max_seq_length > model.config.max_position_embeddings:
        raise ValueError(f"--max_seq_length {args.max_seq_length} exceeds the model's max_position_embeddings "
                         f"({model.config.max_position_embeddings}); lower it" + see("max-seq-length"))
    if args.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    nsp_probability = 0.0 if args.no_nsp else 0.5
    train_examples = build_nsp_examples(train_docs, tokenizer, args.max_seq_length, args.short_seq_prob,
                                        nsp_probability, seed=args.seed)
    eval_examples = build_nsp_examples(eval_docs, tokenizer, args.max_seq_length, 0.0, nsp_probability,
                                       seed=args.seed + 1) if len(eval_docs) >= 2 else []

    def collator():
        return DataCollatorForBertPretraining(tokenizer, args.mlm_probability, args.whole_word_mask, nsp=not args.no_nsp)

    fused = {"fused": True} if accelerator.device.type == "cuda" else {}
    optimizer = torch.optim.AdamW(parameter_groups(model, args.weight_decay), lr=args.learning_rate, **fused)
    model, optimizer = accelerator.prepare(model, optimizer)

    history = []
    eval_collator = collator()

    def evaluate(step: int) -> None:
        metrics = evaluate_pretraining(accelerator, model, eval_examples, eval_collator,
                                       args.per_device_eval_batch_size, seed=args.seed)
        history.append({"step": step, **metrics})
        accelerator.print(f"step {step}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
        if args.with_tracking:
            accelerator.log(metrics, step=step)

    task = BertPretrainingTask(train_examples, collator(), args.per_device_train_batch_size, args.seed,
                               rank=accelerator.process_index, world_size=accelerator.num_processes,
                               eval_steps=args.eval_steps, evaluate=evaluate if eval_examples else None)
    settings = run_config(args, accelerator.unwrap_model(model).config, exclude=NOT_RUN_CONFIG | EVALUATION_FLAGS)
    state, train_seconds = train_with_args(accelerator, args, model, optimizer, task, "pretrain_bert", settings, "batch",
                                           tokenizer=tokenizer)
    unwrapped = accelerator.unwrap_model(model)
    results = {
        "train_loss": state.mean_loss,
        "train_steps": state.global_step,
        "train_examples": len(train_examples),
        "train_seconds": train_seconds,
        "train_tokens_per_second": state.words * accelerator.num_processes / max(train_seconds, 1e-9),
        "vocab_size": len(tokenizer),
        "num_parameters": sum(p.numel() for p in unwrapped.parameters()),
    }
    if eval_examples:
        evaluate(state.global_step)
        results.update({k: v for k, v in history[-1].items() if k != "step"})
        results["eval_history"] = history
    return finish_run(accelerator, args, unwrapped, tokenizer, results)


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
