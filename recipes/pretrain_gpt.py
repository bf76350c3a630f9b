#!/usr/bin/env python
"""Pretrain a GPT (``hfext-gpt``) language model from scratch with Accelerate on the shared hfext loop.

    python recipes/pretrain_gpt.py --train_file corpus.txt --output_dir gpt --block_size 256

    ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no \\
        --dynamo_backend no --main_process_port 0 recipes/pretrain_gpt.py ...

    accelerate launch --mixed_precision bf16 recipes/pretrain_gpt.py ... --torch_compile    (on a GPU)

Data: text files (``--train_file``, one document or line per line) or ``--dataset_name`` with ``--text_column``;
validation text from ``--validation_file`` or else the last ``--validation_split_percentage`` % of the lines.
Without ``--tokenizer_name`` a GPT-2-style byte-level BPE is trained on the training text. Texts are
tokenized, joined with ``<|endoftext|>`` and cut into ``--block_size`` blocks. Optimisation as in nanoGPT /
GPT-2: AdamW (beta2 0.95, weight decay 0.1 on matrices only, none on biases and LayerNorms), linear warmup
then cosine decay, gradient clipping at 1.0. Validation perplexity every ``--eval_steps`` and at the end
(with the unigram perplexity of the same positions as the bar to clear);
``samples.txt`` holds a few sampled continuations. The output folder loads with
``AutoModelForCausalLM.from_pretrained`` / ``AutoTokenizer.from_pretrained`` (after ``import hfext``) and
with ``pipeline("text-generation", model=out)``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

import torch

import hfext  # noqa: F401  (registers hfext-gpt with the Auto classes)
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
from hfext.training.causal_lm import (
    CausalLMTask,
    evaluate_perplexity,
    group_texts,
    parameter_groups,
    train_byte_level_bpe,
    unigram_perplexity,
)

logger = logging.getLogger(__name__)

# Flags a resumed run may change: they alter what is reported or how fast, not what is computed.
EVALUATION_FLAGS = {"per_device_eval_batch_size", "eval_steps", "num_samples", "sample_prompt", "max_new_tokens",
                    "torch_compile"}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_args(parser)
    data = parser.add_argument_group("data (GPT)")
    data.add_argument("--validation_file", nargs="+", default=None, help="Text file(s) for validation perplexity.")
    data.add_argument("--validation_split_percentage", type=float, default=5.0,
                      help="Without --validation_file: hold out this %% of the training lines.")
    data.add_argument("--block_size", type=int, default=256, help="Tokens per training block (the context length).")
    data.add_argument("--max_train_samples", type=int, default=None, help="Use only the first N training lines.")
    tok = parser.add_argument_group("tokenizer")
    tok.add_argument("--tokenizer_name", default=None, help="A saved tokenizer (path or Hub id) instead of training one.")
    tok.add_argument("--vocab_size", type=int, default=8000, help="Size of the trained byte-level BPE vocabulary.")
    model = parser.add_argument_group("model (ignored with --model_name_or_path)")
    model.add_argument("--n_embd", type=int, default=384)
    model.add_argument("--n_layer", type=int, default=6)
    model.add_argument("--n_head", type=int, default=6)
    model.add_argument("--dropout", type=float, default=0.1)
    model.add_argument("--post_norm", action="store_true", help="GPT-1's post-LN blocks (default: GPT-2's pre-LN).")
    model.add_argument("--gradient_checkpointing", action="store_true", help="Recompute activations in backward.")
    model.add_argument("--torch_compile", action="store_true", help="torch.compile the model (best on a GPU).")
    add_training_args(parser)
    opt = parser.add_argument_group("optimisation and evaluation")
    opt.add_argument("--per_device_train_batch_size", type=int, default=16)
    opt.add_argument("--per_device_eval_batch_size", type=int, default=32)
    opt.add_argument("--weight_decay", type=float, default=0.1, help="On matrices only (not biases or LayerNorms).")
    opt.add_argument("--adam_beta1", type=float, default=0.9)
    opt.add_argument("--adam_beta2", type=float, default=0.95, help="nanoGPT / GPT-3's beta2.")
    opt.add_argument("--eval_steps", type=int, default=None, help="Validation perplexity every N steps (and at the end).")
    opt.add_argument("--num_samples", type=int, default=3, help="Sampled continuations written to samples.txt.")
    opt.add_argument("--sample_prompt", default="The", help="Prompt of the sampled continuations.")
    opt.add_argument("--max_new_tokens", type=int, default=40)
    parser.set_defaults(num_train_epochs=1, learning_rate=6e-4, lr_scheduler_type="cosine", num_warmup_steps=100,
                        max_grad_norm=1.0)
    args = parser.parse_args(argv)
    validate_common_args(args)
    for path in args.validation_file or []:
        if not os.path.exists(path):
            raise FileNotFoundError(f"--validation_file {path!r} does not exist" + see("corpus-missing"))
    for name in ("block_size", "per_device_train_batch_size", "per_device_eval_batch_size", "n_embd", "n_layer", "n_head"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be >= 1, got {getattr(args, name)}" + see("training-flags"))
    if not 0.0 <= args.validation_split_percentage < 100.0:
        raise ValueError(f"--validation_split_percentage must be in [0, 100), got {args.validation_split_percentage}"
                         + see("training-flags"))
    return args


def read_lines(paths) -> list[str]:
    lines = []
    for path in paths:
        with open(path, encoding="utf8") as fin:
            lines.extend(line.strip() for line in fin if line.strip())
    return lines


def load_texts(args) -> tuple[list[str], list[str]]:
    if args.train_file:
        train_texts = read_lines(args.train_file)
    else:
        dataset = load_text_dataset(args)
        train_texts = [text for text in dataset[args.text_column] if text and text.strip()]
    if args.max_train_samples:
        train_texts = train_texts[: args.max_train_samples]
    if args.validation_file:
        return train_texts, read_lines(args.validation_file)
    held_out = int(len(train_texts) * args.validation_split_percentage / 100)
    if held_out == 0:
        return train_texts, []
    return train_texts[:-held_out], train_texts[-held_out:]


def load_tokenizer(args, accelerator, train_texts):
    """--tokenizer_name / --model_name_or_path's tokenizer, or a byte-level BPE trained by the main process
    (the others load its copy, so every process has the identical vocabulary)."""
    from transformers import AutoTokenizer

    name = args.tokenizer_name or args.model_name_or_path
    if name:
        tokenizer = AutoTokenizer.from_pretrained(name)
        if tokenizer.eos_token_id is None:
            raise ValueError(f"tokenizer {name!r} needs an end-of-text token (eos_token_id) to separate documents"
                             + see("tokenizer-tokens"))
        return tokenizer
    directory = os.path.join(args.output_dir, ".trained_tokenizer")
    with accelerator.main_process_first():
        if accelerator.is_main_process and not (args.resume_from_checkpoint and os.path.isdir(directory)):
            train_byte_level_bpe(train_texts, args.vocab_size).save_pretrained(directory)
        tokenizer = AutoTokenizer.from_pretrained(directory)
    return tokenizer


def build_model(args, tokenizer):
    from transformers import AutoConfig, AutoModelForCausalLM

    if args.model_name_or_path:  # safetensors only, an hfext-gpt, and a tokenizer that fits its embedding
        model = load_pretrained(args.model_name_or_path, AutoModelForCausalLM, model_types=["hfext-gpt"])
        check_tokenizer_fits(tokenizer, model, f"the tokenizer of {args.tokenizer_name or args.model_name_or_path!r}")
        return model
    config = AutoConfig.for_model(
        "hfext-gpt", vocab_size=len(tokenizer), n_positions=args.block_size, n_embd=args.n_embd, n_layer=args.n_layer,
        n_head=args.n_head, dropout=args.dropout, attention_dropout=args.dropout, pre_norm=not args.post_norm,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
    )
    return AutoModelForCausalLM.from_config(config)


def sample(model, tokenizer, args, device) -> list[str]:
    model.eval()
    ids = tokenizer(args.sample_prompt, return_tensors="pt", add_special_tokens=False).input_ids.to(device)
    if ids.shape[1] == 0:
        ids = torch.tensor([[tokenizer.eos_token_id]], device=device)
    ids = ids[:, -(model.config.n_positions - args.max_new_tokens) :]
    with torch.no_grad():
        ids = ids.repeat(args.num_samples, 1)
        out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=True, top_k=50, temperature=0.8,
                             max_new_tokens=args.max_new_tokens, pad_token_id=model.config.pad_token_id)
    model.train()
    return [tokenizer.decode(row, skip_special_tokens=True) for row in out]


def main(argv=None) -> dict:
    args = parse_args(argv)
    accelerator = setup_accelerator(args)
    train_texts, eval_texts = load_texts(args)
    if not train_texts:
        raise ValueError("no training text: the --train_file / --dataset_name texts are empty" + see("too-little-data"))
    tokenizer = load_tokenizer(args, accelerator, train_texts)
    model = build_model(args, tokenizer)
    if args.block_size > model.config.n_positions:
        raise ValueError(f"--block_size {args.block_size} exceeds the model's n_positions ({model.config.n_positions}); "
                         "lower it" + see("pretraining-flags"))
    if args.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    train_blocks = group_texts(tokenizer, train_texts, args.block_size)
    eval_blocks = group_texts(tokenizer, eval_texts, args.block_size) if eval_texts else None

    fused = {"fused": True} if accelerator.device.type == "cuda" else {}
    optimizer = torch.optim.AdamW(parameter_groups(model, args.weight_decay), lr=args.learning_rate,
                                  betas=(args.adam_beta1, args.adam_beta2), **fused)
    if args.torch_compile:
        # In place (nn.Module.compile), not torch.compile(model): the wrapper's "_orig_mod." prefix would leak
        # into checkpoints, which an eager run then could not resume.
        model.compile()
    model, optimizer = accelerator.prepare(model, optimizer)

    history = []

    def evaluate(step: int) -> None:
        metrics = evaluate_perplexity(accelerator, model, eval_blocks, args.per_device_eval_batch_size)
        history.append({"step": step, **metrics})
        accelerator.print(f"step {step}: validation perplexity {metrics['perplexity']:.2f}")
        if args.with_tracking:
            accelerator.log(metrics, step=step)

    task = CausalLMTask(train_blocks, args.per_device_train_batch_size, args.seed, rank=accelerator.process_index,
                        world_size=accelerator.num_processes, eval_steps=args.eval_steps,
                        evaluate=evaluate if eval_blocks is not None else None)
    settings = run_config(args, accelerator.unwrap_model(model).config, exclude=NOT_RUN_CONFIG | EVALUATION_FLAGS)
    state, train_seconds = train_with_args(accelerator, args, model, optimizer, task, "pretrain_gpt", settings, "batch",
                                           tokenizer=tokenizer)
    unwrapped = accelerator.unwrap_model(model)
    results = {
        "train_loss": state.mean_loss,
        "train_steps": state.global_step,
        "train_blocks": len(train_blocks),
        "train_seconds": train_seconds,
        "train_tokens_per_second": state.words * accelerator.num_processes / max(train_seconds, 1e-9),
        "vocab_size": len(tokenizer),
        "num_parameters": sum(p.numel() for p in unwrapped.parameters()),
    }
    if eval_blocks is not None:
        evaluate(state.global_step)
        results.update({"eval_loss": history[-1]["eval_loss"], "perplexity": history[-1]["perplexity"],
                        "unigram_perplexity": unigram_perplexity(train_blocks, eval_blocks, len(tokenizer)),
                        "eval_history": history})
    samples = sample(unwrapped, tokenizer, args, accelerator.device) if args.num_samples > 0 else []
    for text in samples:
        accelerator.print(f"sample: {text}")
    extra = {"samples.txt": "".join(f"{text}\n" for text in samples)} if samples else None
    return finish_run(accelerator, args, unwrapped, tokenizer, results, extra)


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
