#!/usr/bin/env python
"""hfext ELMo speed: tokens/s for pretraining (``ElmoForBiLM``, forward + backward + AdamW step) and for
feature extraction (``ElmoModel`` in eval mode) with AllenNLP's small configuration (13.6M biLM parameters),
with ELMo's clipping (cell and projection clipped at 3: a Python loop over time steps, as no fused kernel
clips) and without it (torch's fused LSTM with ``proj_size``; cuDNN on a GPU).

    python benchmarks/elmo_speed.py                       # CPU, 2 threads
    python benchmarks/elmo_speed.py --device cuda --batch_size 128

* Data: sentences of gensim's ``lee_background.cor`` split into pieces of at most ``--max_seq_length``
  tokens (with <S> and </S>), batches of ``--batch_size`` sentences in length order (little padding).
* Output vocabulary: the corpus's words seen 3 times (2,919 with the specials), full softmax.
* Clipping: ELMo's (3/3) needs the step-by-step loop; without it the model runs torch's fused LSTM with
  ``proj_size`` (cuDNN on a GPU, where the gap is largest).
* Timing: ``--steps`` batches after ``--warmup`` batches; tokens = non-padding positions (incl. boundaries).

Results: ``benchmarks/results/elmo_speed.{json,md}``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from collections import Counter

import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def sentences_from(path: str) -> list[list[str]]:
    with open(path, encoding="utf-8") as handle:
        return [line.split() for line in handle if line.split()]


def step(model, optimizer, batch, device, train: bool) -> float:
    """Seconds for one batch: forward + backward + AdamW step (train) or a no-grad forward."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    if train:
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["word_ids"])
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        optimizer.step()
    else:
        with torch.no_grad():
            model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def measure(variants, data, batches, steps: int, warmup: int, device, train: bool) -> list[float]:
    """Tokens per second of each model, the models interleaved batch by batch so that a busy, shared machine
    slows them alike."""
    optimizers = [torch.optim.AdamW(model.parameters(), lr=1e-3) if train else None for model in variants]
    elapsed, tokens = [0.0] * len(variants), 0
    for index in range(warmup + steps):
        batch = {k: v.to(device) for k, v in data.batch(batches[index % len(batches)]).items()}
        for number, (model, optimizer) in enumerate(zip(variants, optimizers)):
            model.train(train)
            seconds = step(model, optimizer, batch, device, train)
            if index >= warmup:
                elapsed[number] += seconds
        if index >= warmup:
            tokens += int(batch["attention_mask"].sum())
    return [tokens / seconds for seconds in elapsed]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="small", choices=["small", "medium", "original"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--max_seq_length", type=int, default=40)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--out", default=os.path.join(HERE, "results", "elmo_speed"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    import gensim
    from hfext_elmo import ElmoCharacterTokenizer, ElmoConfig, ElmoForBiLM, ElmoModel

    import hfext  # noqa: F401
    from hfext.training.elmo import ElmoSentences

    device = torch.device(args.device)
    corpus = os.path.join(os.path.dirname(gensim.__file__), "test", "test_data", "lee_background.cor")
    sentences = sentences_from(corpus)
    counts = Counter(word for sentence in sentences for word in sentence)
    tokenizer = ElmoCharacterTokenizer.from_words([w for w, c in counts.most_common() if c >= 3])
    data = ElmoSentences(sentences, tokenizer, args.max_seq_length)
    batches = data.batches(args.batch_size)[::-1]  # longest first: the warm-up allocates the largest buffers
    rows = []
    variants = [("cell 3, projection 3 (ELMo): step loop", 3.0), ("none: torch's fused LSTM (cuDNN on GPU)", None)]
    configs = [ElmoConfig.from_preset(args.preset, vocab_size=len(tokenizer), cell_clip=clip, proj_clip=clip)
               for _, clip in variants]
    train = measure([ElmoForBiLM(c).to(device) for c in configs], data, batches, args.steps, args.warmup, device, True)
    infer = measure([ElmoModel(c).to(device) for c in configs], data, batches, args.steps, args.warmup, device, False)
    rows = [{"clipping": name, "train_tokens_per_second": t, "inference_tokens_per_second": i}
            for (name, _), t, i in zip(variants, train, infer)]
    config = configs[0]
    results = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
        "device": args.device, "threads": args.threads, "preset": args.preset, "batch_size": args.batch_size,
        "max_seq_length": args.max_seq_length, "vocab_size": len(tokenizer), "steps": args.steps,
        "biLM_parameters": sum(p.numel() for n, p in ElmoModel(config).named_parameters() if not n.startswith("scalar_mix")),
        "rows": rows,
        "clipping_cost_train": rows[1]["train_tokens_per_second"] / rows[0]["train_tokens_per_second"],
        "clipping_cost_inference": rows[1]["inference_tokens_per_second"] / rows[0]["inference_tokens_per_second"],
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out + ".json", "w") as handle:
        json.dump(results, handle, indent=2)
    lines = [
        "# hfext ELMo speed", "",
        (f"Date: {results['date']}; {results['machine']}; device {args.device}, {args.threads} threads. "
        f"Preset {args.preset} ({results['biLM_parameters']:,} biLM parameters), output vocabulary {len(tokenizer):,} "
        f"(full softmax), batches of {args.batch_size} sentences of at most {args.max_seq_length} tokens "
        f"(lee_background.cor), {args.steps} timed batches after {args.warmup} warm-up batches."), "",
        f"Command: `python benchmarks/elmo_speed.py {' '.join(argv if argv is not None else sys.argv[1:])}`", "",
        "| clipping | train tokens/s | inference tokens/s |", "|---|---|---|",
        *[f"| {r['clipping']} | {r['train_tokens_per_second']:,.0f} | {r['inference_tokens_per_second']:,.0f} |" for r in rows],
        "",
        (f"Without clipping, training runs {results['clipping_cost_train']:.2f}x and inference "
        f"{results['clipping_cost_inference']:.2f}x as fast as with it on this device. ELMo's published weights were "
        "trained with clipping, so converted models keep it."),
    ]
    with open(args.out + ".md", "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return results


if __name__ == "__main__":
    main()
