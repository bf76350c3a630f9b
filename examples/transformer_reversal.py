#!/usr/bin/env python
"""Train the Transformer of "Attention Is All You Need" to reverse symbol sequences, then look at where it
attends: the cross-attention of each output position falls on the mirrored source position.

    python examples/transformer_reversal.py                     # ~15 s of training on one CPU core
    python examples/transformer_reversal.py --out reversal_attention.png --output_dir ./reverser
    python examples/transformer_reversal.py --smoke --out_dir /tmp/pictures   # 1,000 pairs, 2 epochs (CI)

Uses only the public pieces: ``recipes/train_seq2seq.py`` (the shared Accelerate loop, a WordLevel
tokenizer trained on the data, BLEU and exact match), ``AutoModelForSeq2SeqLM`` / ``AutoTokenizer`` to
reload, ``generate()``, and ``hfext.plots.plot_attention_heatmap``.
"""

import argparse
import importlib.util
import json
import os
import random
import sys
import tempfile
from pathlib import Path

import torch

import hfext  # noqa: F401  (registers hfext-transformer with the Auto classes)
from hfext.plots import plot_attention_heatmap
from hfext.tour import pictures_dir, quiet

REPO = Path(__file__).resolve().parent.parent


def write_pairs(path: Path, n: int, seed: int, alphabet: str = "abcdefghijkl") -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        symbols = [rng.choice(alphabet) for _ in range(rng.randint(3, 8))]
        rows.append({"source": " ".join(symbols), "target": " ".join(reversed(symbols))})
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", default="./transformer-reversal")
    parser.add_argument("--out", default=None,
                        help="the cross-attention heatmap (default: OUT_DIR/transformer_reversal_attention.png)")
    parser.add_argument("--out_dir", default=None, help="where the pictures go (default: docs/images; with --smoke, a temporary folder)")
    parser.add_argument("--smoke", action="store_true", help="1,000 training pairs and 2 epochs (CI)")
    parser.add_argument("--example", default="a b c d e f g", help="a source to reverse and draw")
    args = parser.parse_args(argv)
    args.out_dir = pictures_dir(args.out_dir, args.smoke)
    out = args.out or os.path.join(args.out_dir, "transformer_reversal_attention.png")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    torch.set_num_threads(1)  # a model this small gains nothing from more threads

    spec = importlib.util.spec_from_file_location("train_seq2seq", REPO / "recipes" / "train_seq2seq.py")
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    with tempfile.TemporaryDirectory() as data:
        train, valid = Path(data) / "train.jsonl", Path(data) / "valid.jsonl"
        write_pairs(train, 1000 if args.smoke else 8000, seed=0)
        write_pairs(valid, 200, seed=1)
        with quiet():  # the recipe's progress bars and JSON
            results = recipe.main([
                "--train_file", str(train), "--validation_file", str(valid), "--output_dir", args.output_dir,
                "--tokenizer_type", "wordlevel", "--d_model", "64", "--num_heads", "4", "--encoder_layers", "2",
                "--decoder_layers", "2", "--ffn_dim", "128", "--dropout", "0", "--label_smoothing", "0",
                "--per_device_train_batch_size", "64", "--num_train_epochs", "2" if args.smoke else "5",
                "--learning_rate", "1e-3", "--lr_scheduler_type", "constant_with_warmup", "--num_warmup_steps", "100",
                "--max_source_length", "16", "--max_target_length", "16", "--logging_steps", "1000",
            ])
    print(f"exact match {results['eval_exact_match']:.3f}, BLEU {results['eval_bleu']:.1f}, "
          f"{results['train_seconds']:.1f} s of training")

    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    # eager attention returns the weights (SDPA does not)
    with quiet():
        model = AutoModelForSeq2SeqLM.from_pretrained(args.output_dir, attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(args.output_dir)
    inputs = tokenizer([args.example], return_tensors="pt")
    with torch.no_grad():
        generated = model.generate(**inputs)
        outputs = model(**inputs, decoder_input_ids=generated, output_attentions=True)
    print(f"{args.example!r} -> {tokenizer.decode(generated[0], skip_special_tokens=True)!r}")
    weights = outputs.cross_attentions[-1][0].mean(0)  # last decoder layer, averaged over heads: (T, S)
    plot_attention_heatmap(
        weights, out, xlabel="source", ylabel="decoder input",
        xticklabels=tokenizer.convert_ids_to_tokens(inputs["input_ids"][0]),
        yticklabels=tokenizer.convert_ids_to_tokens(generated[0]),
        title="Transformer cross-attention on the reversal task",
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
