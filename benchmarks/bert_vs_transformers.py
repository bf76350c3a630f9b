#!/usr/bin/env python
"""hfext-bert vs transformers' BertForPreTraining: training-step throughput (forward + backward + AdamW, MLM + NSP
loss) and inference throughput, same config, same weights (converted with ``hfext.convert.bert``'s renames),
same padded batch, measured in one run, interleaved (best of ``--repeats`` rounds per model).

    python benchmarks/bert_vs_transformers.py                          # BERT-small-ish: 4 layers, 256 wide
    python benchmarks/bert_vs_transformers.py --layers 12 --hidden 768 --heads 12 --seq_len 128 --batch 32  # base
    python benchmarks/bert_vs_transformers.py --dtype bf16             # on a GPU: bf16 autocast

Prints one JSON line: sequences/s of each model and the ratios hfext / transformers (>= 1.0: hfext is as fast).
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch
import transformers

import hfext  # noqa: F401  (registers hfext-bert)
from hfext.convert.bert import CONFIG_FIELDS, rename_bert_key


def build(args, device):
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=args.vocab, hidden_size=args.hidden, num_hidden_layers=args.layers,
                                     num_attention_heads=args.heads, intermediate_size=4 * args.hidden,
                                     max_position_embeddings=max(512, args.seq_len), hidden_dropout_prob=0.1,
                                     attention_probs_dropout_prob=0.1)
    theirs = transformers.BertForPreTraining(config)
    theirs.set_attn_implementation("sdpa")
    from hfext_bert import BertConfig, BertForPreTraining

    ours = BertForPreTraining(BertConfig(**{k: v for k, v in config.to_dict().items() if k in CONFIG_FIELDS}))
    state = {rename_bert_key(k): v for k, v in theirs.state_dict().items() if not k.endswith("position_ids")}
    missing, unexpected = ours.load_state_dict(state, strict=False)
    assert not unexpected and set(missing) <= {"predictions.decoder.weight"}, (missing, unexpected)
    return {"hfext-bert": ours.to(device), "transformers BertForPreTraining": theirs.to(device)}


def make_batch(args, device):
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(5, args.vocab, (args.batch, args.seq_len), generator=g)
    lengths = torch.randint(args.seq_len // 2, args.seq_len + 1, (args.batch,), generator=g)
    mask = (torch.arange(args.seq_len)[None] < lengths[:, None]).long()
    types = (torch.arange(args.seq_len)[None] >= (lengths // 2)[:, None]).long()
    labels = torch.where(torch.rand(ids.shape, generator=g) < 0.15, ids, torch.full_like(ids, -100))
    labels[mask == 0] = -100
    nsp = torch.randint(0, 2, (args.batch,), generator=g)
    batch = {"input_ids": ids * mask, "attention_mask": mask, "token_type_ids": types, "labels": labels,
             "next_sentence_label": nsp}
    return {k: v.to(device) for k, v in batch.items()}


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, steps, device) -> float:
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    sync(device)
    return time.perf_counter() - start


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=30522)
    parser.add_argument("--seq_len", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=5, help="Timed steps per round.")
    parser.add_argument("--repeats", type=int, default=3, help="Interleaved rounds; the best is kept.")
    parser.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32", help="bf16: autocast (GPU).")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    models = build(args, device)
    batch = make_batch(args, device)
    inference_batch = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.dtype == "bf16")
    optimizers = {name: torch.optim.AdamW(m.parameters(), lr=1e-4, fused=device.type == "cuda")
                  for name, m in models.items()}

    def train_step(name):
        model = models[name].train()
        with autocast:
            loss = model(**batch).loss
        loss.backward()
        optimizers[name].step()
        optimizers[name].zero_grad(set_to_none=True)

    def infer(name):
        model = models[name].eval()
        with torch.no_grad(), autocast:
            model(**inference_batch)

    best = {(kind, name): float("inf") for kind in ("train", "inference") for name in models}
    for name in models:  # warm up (allocator, kernels)
        train_step(name)
        infer(name)
    for _ in range(args.repeats):
        for name in models:
            best["train", name] = min(best["train", name], timed(lambda n=name: train_step(n), args.steps, device))
            best["inference", name] = min(best["inference", name], timed(lambda n=name: infer(n), args.steps, device))
    ours, theirs = list(models)
    result = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
              "threads": torch.get_num_threads(), "dtype": args.dtype,
              "config": {k: getattr(args, k) for k in ("layers", "hidden", "heads", "vocab", "seq_len", "batch", "steps")}}
    for kind in ("train", "inference"):
        for name in models:
            result[f"{kind}_seq_per_s {name}"] = round(args.batch * args.steps / best[kind, name], 2)
        result[f"{kind}_ratio"] = round(best[kind, theirs] / best[kind, ours], 3)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
