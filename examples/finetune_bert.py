#!/usr/bin/env python
"""Chapter 10 of the tour: fine-tune a pretrained BERT on a small sentence-pair task, and the same network
trained from scratch on the same labelled data, to see what pretraining brings.

    python examples/finetune_bert.py              # pretrain 2,500 steps, then 2 x 10 epochs of fine-tuning: ~3 min
    python examples/finetune_bert.py --smoke      # tiny models, 20 pretraining steps, 1 epoch each: seconds (CI)
    python examples/finetune_bert.py --seed 1     # another seed for pretraining, the random copy and fine-tuning

1. Pretraining, as chapter 9 (``hfext train bert``, 2,500 steps): MLM + NSP on documents generated from the 23
   country-capital pairs of gensim's ``questions-words.txt`` ("the capital of norway is oslo ." ...). Its
   held-out MLM and NSP accuracy jump when it learns the city -> country lookup, at a step that depends on
   the seed (seed 1: between 1,000 and 1,750); after 1,500 steps some seeds had not, and their fine-tuning
   stayed near chance.
2. A labelled task in GLUE's RTE format (``index sentence1 sentence2 label``): does "we flew to oslo last
   week ." entail "the city is in norway ." ? Half of the pairs name the right country, half a wrong one. The
   validation countries are not in the training file, so memorising labelled pairs is no help there: the
   model must already know which city belongs to which country, i.e. have learnt it while pretraining.
3. Fine-tuning (``hfext finetune glue --task_name rte``, a classifier on [CLS]) twice with the same flags and
   tokenizer: from the pretrained checkpoint, and from the same architecture randomly initialised.

Every run with the same flags gives the same numbers: the vocabulary is the texts' whole words in sorted
order (chapter 9's ``save_word_tokenizer``), every step is seeded, and torch runs on one thread with
deterministic algorithms. The picture is validation accuracy after each epoch for both.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import itertools
import json
import os
import random
import sys
from pathlib import Path

import torch

import hfext  # noqa: F401  (registers hfext-bert with the Auto classes)
from hfext.cli import main as hfext_cli
from hfext.data import gensim_test_data
from hfext.plots import pyplot, save_figure
from hfext.tour import pictures_dir, quiet

PREMISES = ["we flew to {city} last week .", "my sister lives in {city} .", "the meeting is in {city} .",
            "he was born in {city} .", "they moved to {city} ."]
HYPOTHESES = ["the city is in {country} .", "that place is in {country} .", "it is in {country} .",
              "this was in {country} .", "the place is part of {country} ."]  # follow from any premise


def chapter_9():
    """examples/bert_fill_mask.py as a module (examples/ is not a package): its corpus generator."""
    spec = importlib.util.spec_from_file_location("bert_fill_mask", Path(__file__).with_name("bert_fill_mask.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_rte(path: Path, pairs: list[tuple[str, str]], seed: int) -> int:
    """One entailed and one not-entailed example per (pair, premise, hypothesis) in RTE's TSV layout. The
    wrong country is another of ``pairs``: drawn from every country, the validation countries would appear in
    the training file only in not-entailed examples, a label leak. Returns the number of rows."""
    rng = random.Random(seed)
    countries = [country for _, country in pairs]
    rows = []
    for city, country in pairs:
        for premise, hypothesis in itertools.product(PREMISES, HYPOTHESES):
            wrong = rng.choice([c for c in countries if c != country])
            rows.append((premise.format(city=city), hypothesis.format(country=country), "entailment"))
            rows.append((premise.format(city=city), hypothesis.format(country=wrong), "not_entailment"))
    rng.shuffle(rows)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="", encoding="utf8") as fout:
        writer = csv.writer(fout, delimiter="\t", lineterminator="\n")
        writer.writerow(["index", "sentence1", "sentence2", "label"])
        writer.writerows((i, *row) for i, row in enumerate(rows))
    os.replace(tmp, path)
    return len(rows)


def save_random_copy(pretrained: str, output_dir: str, seed: int = 0) -> None:
    """The pretrained model's architecture and tokenizer with freshly initialised weights."""
    from transformers import AutoConfig, AutoModelForPreTraining, AutoTokenizer

    torch.manual_seed(seed)
    AutoModelForPreTraining.from_config(AutoConfig.from_pretrained(pretrained)).save_pretrained(output_dir)
    AutoTokenizer.from_pretrained(pretrained).save_pretrained(output_dir)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", default="./bert-finetuning", help="where the models are saved")
    parser.add_argument("--out_dir", default=None, help="where the pictures go (default: docs/images; with --smoke, a temporary folder)")
    parser.add_argument("--num_train_epochs", type=int, default=None, help="fine-tuning epochs (default 10, --smoke 1)")
    parser.add_argument("--learning_rate", type=float, default=1e-4, help="fine-tuning learning rate")
    parser.add_argument("--validation_countries", type=int, default=6, help="countries held out for validation")
    parser.add_argument("--pretraining_steps", type=int, default=None, help="default 2500 (--smoke 20)")
    parser.add_argument("--seed", type=int, default=0, help="seeds pretraining, the random copy and fine-tuning")
    parser.add_argument("--smoke", action="store_true", help="tiny models and step counts (CI)")
    args = parser.parse_args(argv)
    args.out_dir = pictures_dir(args.out_dir, args.smoke)
    torch.set_num_threads(1)  # see examples/bert_fill_mask.py: two torch processes on 2 cores fight badly
    data = gensim_test_data()
    if data is None:
        parser.error("this example trains on gensim's bundled corpus: `pip install gensim`")
    os.makedirs(args.out_dir, exist_ok=True)
    os.makedirs(args.output_dir, exist_ok=True)
    analogies = os.path.join(data, "questions-words.txt")
    epochs = args.num_train_epochs or (1 if args.smoke else 10)

    # 1. the labelled task: held-out countries in validation
    ch9 = chapter_9()
    pairs = ch9.capital_pairs(analogies)
    held_out = random.Random(0).sample(pairs, args.validation_countries)
    train_pairs = [p for p in pairs if p not in held_out]
    train_file, validation_file = Path(args.output_dir, "train.tsv"), Path(args.output_dir, "dev.tsv")
    n_train = write_rte(train_file, train_pairs, seed=0)
    n_validation = write_rte(validation_file, held_out, seed=1)

    # 2. pretraining: chapter 9's corpus, recipe and whole-word tokenizer (its vocabulary also covers the task's
    # words, which the pretraining documents never use, so that fine-tuning meets no [UNK])
    pretrained, scratch = os.path.join(args.output_dir, "pretrained"), os.path.join(args.output_dir, "scratch")
    corpus, tokenizer_dir = Path(args.output_dir, "capitals.txt"), os.path.join(args.output_dir, "tokenizer")
    ch9.write_capitals_corpus(corpus, analogies)
    texts = [corpus.read_text()]
    for path in (train_file, validation_file):
        with open(path, encoding="utf8") as fin:
            texts.extend(row[1] + " " + row[2] for row in list(csv.reader(fin, delimiter="\t"))[1:])
    ch9.save_word_tokenizer(texts, tokenizer_dir)
    steps = args.pretraining_steps or (20 if args.smoke else 2500)
    if args.smoke:
        size = ["--hidden_size", "32", "--num_hidden_layers", "1", "--num_attention_heads", "2",
                "--max_seq_length", "32"]
    else:
        size = ["--hidden_size", "128", "--num_hidden_layers", "2", "--num_attention_heads", "2",
                "--max_seq_length", "64", "--dropout", "0"]
    with quiet():
        status = hfext_cli(["train", "bert", "--train_file", str(corpus), "--output_dir", pretrained, *size,
                            "--tokenizer_name", tokenizer_dir, "--max_train_steps", str(steps),
                            "--num_train_epochs", "100", "--learning_rate", "1e-3",
                            "--num_warmup_steps", str(steps // 15), "--seed", str(args.seed),
                            "--per_device_train_batch_size", "32", "--validation_split_percentage", "5"])
    if status:
        return status
    results = json.loads(Path(pretrained, "all_results.json").read_text())
    print(f"pretrained: {results['num_parameters'] / 1e6:.2f}M parameters, {results['train_steps']} steps in "
          f"{results['train_seconds']:.0f} s, held-out MLM accuracy {results['eval_mlm_accuracy']:.3f}")
    with quiet():
        save_random_copy(pretrained, scratch, args.seed)

    print(f"task: {n_train} training pairs about {len(train_pairs)} countries, {n_validation} validation pairs "
          f"about {len(held_out)} others ({', '.join(c for _, c in held_out)}), e.g.")
    with open(train_file, encoding="utf8") as fin:
        for row in list(csv.reader(fin, delimiter="\t"))[1:3]:
            print(f"  {row[1]!r} => {row[2]!r}: {row[3]}")

    # 3. fine-tuning, the same flags for both starting points
    history = {}
    for name, start in (("pretrained", pretrained), ("from scratch", scratch)):
        output_dir = os.path.join(args.output_dir, "rte-" + name.replace(" ", "-"))
        with quiet():
            status = hfext_cli(["finetune", "glue", "--model_name_or_path", start, "--task_name", "rte",
                                "--train_file", str(train_file), "--validation_file", str(validation_file),
                                "--output_dir", output_dir, "--num_train_epochs", str(epochs),
                                "--learning_rate", str(args.learning_rate), "--per_device_train_batch_size", "16",
                                "--max_seq_length", "32", "--seed", str(args.seed)])
        if status:
            return status
        results = json.loads(Path(output_dir, "all_results.json").read_text())
        history[name] = [h["eval_accuracy"] for h in results["eval_history"] if h["epoch"] is not None]
        print(f"{name:>12}: validation accuracy per epoch "
              + " ".join(f"{a:.3f}" for a in history[name])
              + f"; training loss {results['train_loss']:.3f} ({results['train_seconds']:.0f} s)")

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    for (name, accuracies), color in zip(history.items(), ("tab:green", "tab:gray")):
        ax.plot(range(1, len(accuracies) + 1), accuracies, marker="o", color=color, label=name)
    ax.axhline(0.5, color="black", linewidth=0.8, linestyle=":", label="chance")
    ax.set_xlabel("fine-tuning epoch")
    ax.set_ylabel("validation accuracy")
    ax.set_ylim(0.3, 1.02)
    ax.set_title("does 'we flew to <city> ...' entail 'the city is in <country> .'? (unseen countries)", fontsize=9)
    ax.legend(loc="lower center", ncol=3)  # one row below the curves: accuracies stay above 0.45
    out = os.path.join(args.out_dir, "bert_finetuning.png")
    save_figure(fig, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
