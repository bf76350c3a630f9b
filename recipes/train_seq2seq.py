#!/usr/bin/env python
"""Train a sequence-to-sequence model (by default the ``hfext-transformer`` of "Attention Is All You Need")
with Accelerate on the shared hfext loop, then evaluate it with generation: BLEU, exact match, loss.

    python recipes/train_seq2seq.py --train_file train.jsonl --validation_file valid.jsonl --output_dir out

    ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no \\
        --dynamo_backend no --main_process_port 0 recipes/train_seq2seq.py ...

Data: JSON lines files with ``{"source": ..., "target": ...}`` per line (``--source_column`` /
``--target_column`` rename them), or ``--dataset_name`` (a Hub dataset, a local dataset folder or script);
WMT-style datasets with a ``translation`` column take ``--source_lang``/``--target_lang``.
Without ``--tokenizer_name`` a tokenizer (BPE or WordLevel, one vocabulary for both sides) is trained on
the training pairs. The output directory is an ordinary transformers model folder:
``AutoModelForSeq2SeqLM.from_pretrained(out)`` + ``AutoTokenizer.from_pretrained(out)`` load it (after
``import hfext``), ``model.generate`` translates; ``all_results.json`` and ``generated_predictions.txt``
hold the scores and the validation outputs.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

import torch

import hfext  # noqa: F401  (registers the hfext model types with the Auto classes)
from hfext.errors import see
from hfext.loading import check_tokenizer_fits, load_pretrained
from hfext.metrics import metric_path
from hfext.training.args import (
    NOT_RUN_CONFIG,
    add_training_args,
    finish_run,
    run_config,
    setup_accelerator,
    train_with_args,
    validate_common_args,
)
from hfext.training.seq2seq import (
    TOKENIZER_TYPES,
    Seq2SeqTask,
    encode,
    evaluate_generation,
    load_pairs,
    train_tokenizer,
)

logger = logging.getLogger(__name__)

# Flags that may change between a run and its resumption: they don't change the training computation.
EVALUATION_FLAGS = {"per_device_eval_batch_size", "num_beams", "max_new_tokens", "max_eval_samples"}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = parser.add_argument_group("data")
    data.add_argument("--train_file", nargs="+", default=None, help="JSON lines file(s) with source/target pairs.")
    data.add_argument("--validation_file", nargs="+", default=None, help="JSON lines file(s) to evaluate on.")
    data.add_argument("--dataset_name", default=None, help="A dataset on the Hub, or a local dataset folder/script.")
    data.add_argument("--dataset_config_name", default=None, help="The dataset's configuration name.")
    data.add_argument("--train_split_name", default="train")
    data.add_argument("--validation_split_name", default="validation")
    data.add_argument("--source_column", default="source")
    data.add_argument("--target_column", default="target")
    data.add_argument("--source_lang", default=None, help="With --target_lang: read a WMT-style 'translation' column.")
    data.add_argument("--target_lang", default=None)
    data.add_argument("--max_source_length", type=int, default=128, help="Longer sources are truncated.")
    data.add_argument("--max_target_length", type=int, default=128, help="Longer targets are truncated.")
    data.add_argument("--max_train_samples", type=int, default=None)
    data.add_argument("--max_eval_samples", type=int, default=None)
    tok = parser.add_argument_group("tokenizer")
    tok.add_argument("--tokenizer_name", default=None, help="A saved tokenizer (path or Hub id) instead of training one.")
    tok.add_argument("--tokenizer_type", choices=TOKENIZER_TYPES, default="bpe")
    tok.add_argument("--vocab_size", type=int, default=8000, help="Size of the trained (joint) vocabulary.")
    model = parser.add_argument_group("model (ignored with --model_name_or_path)")
    model.add_argument("--d_model", type=int, default=512)
    model.add_argument("--num_heads", type=int, default=8)
    model.add_argument("--encoder_layers", type=int, default=6)
    model.add_argument("--decoder_layers", type=int, default=6)
    model.add_argument("--ffn_dim", type=int, default=2048)
    model.add_argument("--dropout", type=float, default=0.1)
    model.add_argument("--attention_dropout", type=float, default=0.0)
    model.add_argument("--activation_dropout", type=float, default=0.0, help="Dropout inside the FFN.")
    model.add_argument("--pre_norm", action="store_true", help="LayerNorm before each sub-layer (default: the paper's after).")
    model.add_argument("--no_share_embeddings", action="store_true", help="Separate source and target embeddings.")
    model.add_argument("--max_position_embeddings", type=int, default=None,
                       help="Default: the longer of --max_source_length / --max_target_length, plus one.")
    add_training_args(parser)
    opt = parser.add_argument_group("optimisation and evaluation")
    opt.add_argument("--per_device_train_batch_size", type=int, default=32)
    opt.add_argument("--per_device_eval_batch_size", type=int, default=64)
    opt.add_argument("--group_by_length", action="store_true",
                     help="Batch pairs of similar length (less padding; noisier updates).")
    opt.add_argument("--weight_decay", type=float, default=0.0)
    opt.add_argument("--adam_beta1", type=float, default=0.9)
    opt.add_argument("--adam_beta2", type=float, default=0.98, help="The paper's beta2.")
    opt.add_argument("--label_smoothing", type=float, default=0.1, help="The paper's eps_ls (0 disables).")
    opt.add_argument("--num_beams", type=int, default=1, help="Beam size for evaluation (1 = greedy).")
    opt.add_argument("--max_new_tokens", type=int, default=None, help="Default: --max_target_length.")
    # fairseq's recipe for the paper's model: lr 5e-4 reached after 4000 linear warmup steps, then ~1/sqrt(step)
    # (the paper's schedule up to its constant); post-norm Transformers often diverge without the warmup.
    parser.set_defaults(num_train_epochs=10, learning_rate=5e-4, lr_scheduler_type="inverse_sqrt",
                        num_warmup_steps=4000, max_grad_norm=1.0)
    args = parser.parse_args(argv)
    if args.train_file is None and args.dataset_name is None:
        raise ValueError("pass --train_file (JSON lines with source/target pairs) or --dataset_name" + see("flags-data"))
    validate_common_args(args)
    for path in args.validation_file or []:
        if not os.path.exists(path):
            raise FileNotFoundError(f"--validation_file {path!r} does not exist" + see("data-files"))
    for name in ("max_source_length", "max_target_length", "per_device_train_batch_size", "per_device_eval_batch_size",
                 "num_beams"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be >= 1, got {getattr(args, name)}" + see("training-flags"))
    if not 0.0 <= args.label_smoothing < 1.0:
        raise ValueError(f"--label_smoothing must be in [0, 1), got {args.label_smoothing}" + see("pretraining-flags"))
    if args.max_position_embeddings is None:
        args.max_position_embeddings = max(args.max_source_length, args.max_target_length) + 1  # + the start token
    return args


def load_tokenizer(args, accelerator, train_texts):
    """--tokenizer_name / --model_name_or_path's tokenizer, or one trained on the training pairs by the main
    process (the others load its copy, so every process has the identical vocabulary)."""
    from transformers import AutoTokenizer

    name = args.tokenizer_name or args.model_name_or_path
    if name:
        tokenizer = AutoTokenizer.from_pretrained(name)
        if tokenizer.pad_token_id is None or tokenizer.eos_token_id is None:
            raise ValueError(f"tokenizer {name!r} needs a pad and an end-of-sequence token (pad_token_id, eos_token_id)"
                             + see("tokenizer-tokens"))
        return tokenizer
    directory = os.path.join(args.output_dir, ".trained_tokenizer")
    if args.resume_from_checkpoint and args.resume_from_checkpoint != "latest":
        # The run that wrote the checkpoint kept its tokenizer next to it: resume with exactly that vocabulary.
        original = os.path.join(os.path.dirname(os.path.abspath(args.resume_from_checkpoint)), ".trained_tokenizer")
        if os.path.isdir(original):
            directory = original
    with accelerator.main_process_first():
        if accelerator.is_main_process and not (args.resume_from_checkpoint and os.path.isdir(directory)):
            tokenizer = train_tokenizer(train_texts, args.vocab_size, args.tokenizer_type)
            tokenizer.save_pretrained(directory)
        tokenizer = AutoTokenizer.from_pretrained(directory)
    return tokenizer


def build_model(args, tokenizer):
    from transformers import AutoConfig, AutoModelForSeq2SeqLM

    if args.model_name_or_path:  # safetensors only, a seq2seq model type, a tokenizer that fits its embedding
        model = load_pretrained(args.model_name_or_path, AutoModelForSeq2SeqLM)
        check_tokenizer_fits(tokenizer, model, f"the tokenizer of {args.tokenizer_name or args.model_name_or_path!r}")
        return model
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.pad_token_id
    config = AutoConfig.for_model(
        "hfext-transformer",
        vocab_size=len(tokenizer), d_model=args.d_model, num_heads=args.num_heads,
        encoder_layers=args.encoder_layers, decoder_layers=args.decoder_layers, ffn_dim=args.ffn_dim,
        dropout=args.dropout, attention_dropout=args.attention_dropout, activation_dropout=args.activation_dropout,
        pre_norm=args.pre_norm,
        share_embeddings=not args.no_share_embeddings, tie_word_embeddings=True,
        max_position_embeddings=args.max_position_embeddings, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=start,
    )
    return AutoModelForSeq2SeqLM.from_config(config)


def make_optimizer(model, args) -> torch.optim.Optimizer:
    # No weight decay on biases and LayerNorm weights (as transformers' examples do).
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        (no_decay if parameter.ndim < 2 else decay).append(parameter)
    groups = [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=args.learning_rate, betas=(args.adam_beta1, args.adam_beta2), eps=1e-9)


def main(argv=None) -> dict:
    args = parse_args(argv)
    accelerator = setup_accelerator(args)
    pairs = load_pairs(
        train_file=args.train_file, validation_file=args.validation_file, dataset_name=args.dataset_name,
        dataset_config_name=args.dataset_config_name, train_split=args.train_split_name,
        validation_split=args.validation_split_name, source_column=args.source_column,
        target_column=args.target_column, source_lang=args.source_lang, target_lang=args.target_lang,
    )
    train_sources, train_targets = pairs["train"]
    if args.max_train_samples:
        train_sources, train_targets = train_sources[: args.max_train_samples], train_targets[: args.max_train_samples]
    tokenizer = load_tokenizer(args, accelerator, train_sources + train_targets)
    model = build_model(args, tokenizer)
    config = model.config
    if config.decoder_start_token_id is None or config.pad_token_id is None:
        raise ValueError("the model's config needs decoder_start_token_id and pad_token_id to train"
                         + see("tokenizer-tokens"))
    limit = getattr(config, "max_position_embeddings", None)
    for flag in ("max_source_length", "max_target_length"):
        if limit is not None and getattr(args, flag) > limit:
            raise ValueError(f"--{flag} {getattr(args, flag)} exceeds the model's max_position_embeddings ({limit}); "
                             "lower it" + see("pretraining-flags"))

    source_ids = encode(tokenizer, train_sources, args.max_source_length)
    target_ids = encode(tokenizer, train_targets, args.max_target_length)
    optimizer = make_optimizer(model, args)
    model, optimizer = accelerator.prepare(model, optimizer)
    task = Seq2SeqTask(source_ids, target_ids, args.per_device_train_batch_size, args.seed, config.pad_token_id,
                       config.decoder_start_token_id, args.label_smoothing, rank=accelerator.process_index,
                       world_size=accelerator.num_processes, group_by_length=args.group_by_length)
    settings = run_config(args, accelerator.unwrap_model(model).config, exclude=NOT_RUN_CONFIG | EVALUATION_FLAGS)
    state, train_seconds = train_with_args(accelerator, args, model, optimizer, task, "train_seq2seq", settings, "batch",
                                           tokenizer=tokenizer)
    results = {
        "train_loss": state.mean_loss,
        "train_steps": state.global_step,
        "train_samples": len(source_ids),
        "train_seconds": train_seconds,
        "train_tokens_per_second": state.words * accelerator.num_processes / max(train_seconds, 1e-9),
        "vocab_size": len(tokenizer),
        "num_parameters": sum(p.numel() for p in accelerator.unwrap_model(model).parameters()),
    }

    unwrapped = accelerator.unwrap_model(model)
    max_new_tokens = args.max_new_tokens or args.max_target_length
    generation_kwargs = {"num_beams": args.num_beams, "max_new_tokens": max_new_tokens, "do_sample": False}
    unwrapped.generation_config.update(num_beams=args.num_beams, max_new_tokens=max_new_tokens, do_sample=False)
    predictions = None
    if "validation" in pairs:
        eval_sources, eval_targets = pairs["validation"]
        if args.max_eval_samples:
            eval_sources, eval_targets = eval_sources[: args.max_eval_samples], eval_targets[: args.max_eval_samples]
        metrics, predictions = evaluate_generation(
            accelerator, model, tokenizer, encode(tokenizer, eval_sources, args.max_source_length),
            encode(tokenizer, eval_targets, args.max_target_length), eval_targets, args.per_device_eval_batch_size,
            generation_kwargs, metric_path=metric_path("sacrebleu"),
        )
        results.update(metrics)
        if args.with_tracking:
            accelerator.log({k: v for k, v in metrics.items() if isinstance(v, float)}, step=state.global_step)
    extra = {"generated_predictions.txt": "".join(f"{line}\n" for line in predictions)} if predictions is not None else None
    return finish_run(accelerator, args, unwrapped, tokenizer, results, extra)


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
