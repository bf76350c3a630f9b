#!/usr/bin/env python
"""hfext-gpt vs transformers' GPT2LMHeadModel: training tokens/s and KV-cache generation tokens/s, same config,
same weights (GPT-2's converted with ``hfext.convert.gpt2``), same batches, measured in one run, interleaved.

    python benchmarks/gpt_vs_transformers.py                      # 6 layers, 384 wide, 6 heads, block 256
    python benchmarks/gpt_vs_transformers.py --n_layer 2 --n_embd 128 --n_head 4 --block_size 128 --steps 5

On a GPU it also prints model FLOPs utilisation with nanoGPT's estimate: 6N + 12 L H Q T FLOPs per token
(N non-embedding... nanoGPT counts all parameters minus the position table), against --peak_tflops.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from transformers import GPT2Config, GPT2LMHeadModel

import hfext  # noqa: F401
from hfext.convert.gpt2 import gpt2_config_to_gpt, gpt2_state_dict_to_gpt


def build(args, device):
    torch.manual_seed(0)
    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=args.vocab_size, n_positions=args.block_size, n_embd=args.n_embd,
                                      n_layer=args.n_layer, n_head=args.n_head, resid_pdrop=0.0, embd_pdrop=0.0,
                                      attn_pdrop=0.0, bos_token_id=0, eos_token_id=0))
    gpt2.set_attn_implementation("sdpa")
    from transformers import AutoModelForCausalLM

    config = gpt2_config_to_gpt(gpt2.config.to_dict())
    ours = AutoModelForCausalLM.from_config(config)
    ours.load_state_dict(gpt2_state_dict_to_gpt(gpt2.state_dict(), config.n_layer), strict=False)
    ours.tie_weights()
    return {"hfext-gpt": ours.to(device), "transformers GPT2LMHeadModel": gpt2.to(device)}


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def train_tokens_per_second(model, batches, device, dtype) -> float:
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    autocast = torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32)
    with autocast:  # one warm-up step
        model(input_ids=batches[0], labels=batches[0], use_cache=False).loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    sync(device)
    start = time.perf_counter()
    for batch in batches:
        with autocast:
            loss = model(input_ids=batch, labels=batch, use_cache=False).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    sync(device)
    return sum(b.numel() for b in batches) / (time.perf_counter() - start)


@torch.no_grad()
def generate_tokens_per_second(model, prompt, new_tokens, device) -> tuple[float, torch.Tensor]:
    model.eval()
    kwargs = {"max_new_tokens": new_tokens, "min_new_tokens": new_tokens, "do_sample": False, "use_cache": True,
              "pad_token_id": 0, "eos_token_id": None}
    model.generate(prompt, **{**kwargs, "max_new_tokens": 4, "min_new_tokens": 4})  # warm-up
    sync(device)
    start = time.perf_counter()
    out = model.generate(prompt, **kwargs)
    sync(device)
    return prompt.shape[0] * new_tokens / (time.perf_counter() - start), out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n_layer", type=int, default=6)
    parser.add_argument("--n_embd", type=int, default=384)
    parser.add_argument("--n_head", type=int, default=6)
    parser.add_argument("--block_size", type=int, default=256)
    parser.add_argument("--vocab_size", type=int, default=8192)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="Interleaved rounds; the best of each is reported.")
    parser.add_argument("--prompt_length", type=int, default=16)
    parser.add_argument("--new_tokens", type=int, default=128)
    parser.add_argument("--generation_batch_size", type=int, default=1)
    parser.add_argument("--peak_tflops", type=float, default=989.0, help="Accelerator peak (H100 SXM bf16 dense: 989).")
    parser.add_argument("--cpu", action="store_true")
    args = parser.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() and not args.cpu else "cpu")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    models = build(args, device)
    generator = torch.Generator().manual_seed(0)
    batches = [torch.randint(0, args.vocab_size, (args.batch_size, args.block_size), generator=generator).to(device)
               for _ in range(args.steps)]
    prompt = torch.randint(0, args.vocab_size, (args.generation_batch_size, args.prompt_length), generator=generator).to(device)
    best = {name: {"train_tokens_per_second": 0.0, "generate_tokens_per_second": 0.0} for name in models}
    outputs = {}
    for _ in range(args.rounds):
        for name, model in models.items():
            best[name]["train_tokens_per_second"] = max(best[name]["train_tokens_per_second"],
                                                        train_tokens_per_second(model, batches, device, dtype))
        for name, model in models.items():
            speed, outputs[name] = generate_tokens_per_second(model, prompt, args.new_tokens, device)
            best[name]["generate_tokens_per_second"] = max(best[name]["generate_tokens_per_second"], speed)
    ours, theirs = best["hfext-gpt"], best["transformers GPT2LMHeadModel"]
    results = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)",
        "config": {k: getattr(args, k) for k in ("n_layer", "n_embd", "n_head", "block_size", "vocab_size", "batch_size")},
        **best,
        "train_speed_ratio": ours["train_tokens_per_second"] / theirs["train_tokens_per_second"],
        "generate_speed_ratio": ours["generate_tokens_per_second"] / theirs["generate_tokens_per_second"],
        "same_generated_tokens": bool(torch.equal(*outputs.values())),
    }
    if device.type == "cuda":
        n_params = sum(p.numel() for p in models["hfext-gpt"].parameters()) - models["hfext-gpt"].transformer.wpe.weight.numel()
        head_dim = args.n_embd // args.n_head
        flops_per_token = 6 * n_params + 12 * args.n_layer * args.n_head * head_dim * args.block_size
        for name in models:
            results[name]["mfu"] = best[name]["train_tokens_per_second"] * flops_per_token / (args.peak_tflops * 1e12)
    print(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
