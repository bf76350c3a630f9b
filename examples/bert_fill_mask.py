#!/usr/bin/env python
"""Chapter 9 of the tour: pretrain a small BERT (``hfext-bert``) with masked language modelling and next-sentence
prediction, then ask it to fill in a masked word.

    python examples/bert_fill_mask.py                 # 2 layers x 128 wide, 2,500 steps: ~2.5 min on 2 idle cores
    python examples/bert_fill_mask.py --smoke         # a 1-layer toy, 20 steps: seconds (CI)
    python examples/bert_fill_mask.py --train_file my_corpus.txt --sentence "a sentence with one [MASK] ."

The corpus: by default, short documents generated from the 23 country-capital pairs of gensim's
``questions-words.txt`` ("the capital of norway is oslo ." / "oslo is the largest city in norway ." ...), one
sentence per line and a blank line between documents, BERT's input format. A few minutes of CPU cannot teach a
BERT English from real text (it stays at predicting frequent words), but they can teach it these facts: to
fill "the capital of france is [MASK] ." it must attend from the mask to "france".

The vocabulary of the generated corpus is its ~60 whole words in sorted order, so a run repeats exactly
(with ``--train_file`` the recipe trains a WordPiece vocabulary instead, whose ties between equally frequent
merges are broken in no fixed order). The recipe (``hfext train bert`` = ``recipes/pretrain_bert.py``) builds
``[CLS] A [SEP] B [SEP]`` pairs (half with a random B: the NSP label), masks 15 % of the tokens (80 % [MASK],
10 % a random token, 10 % unchanged) and minimises L = L_MLM + L_NSP. The saved folder then works with
transformers' ``pipeline("fill-mask")``; the picture is its top-5 for the masked sentence.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

import torch

import hfext  # noqa: F401  (registers hfext-bert with the Auto classes)
from hfext.cli import main as hfext_cli
from hfext.data import gensim_test_data
from hfext.plots import analogy_pairs, pyplot, save_figure
from hfext.tour import pictures_dir, quiet

TEMPLATES = ["{city} is the capital of {country} .", "the capital of {country} is {city} .",
             "{country} has its government in {city} .", "many people visit {city} every year .",
             "the president of {country} lives in {city} .", "{city} is the largest city in {country} ."]


def capital_pairs(analogies: str) -> list[tuple[str, str]]:
    """The (city, country) pairs of the analogy file's capital-common-countries section, lower-cased, sorted."""
    return sorted((city.lower(), country.lower()) for country, city in analogy_pairs(analogies, "capital-common-countries"))


def write_capitals_corpus(path: Path, analogies: str, num_documents: int = 1500, seed: int = 0) -> int:
    """Documents of 4 sentences about one (country, capital) pair of the analogy file's
    capital-common-countries section; returns the number of pairs."""
    rng = random.Random(seed)
    pairs = capital_pairs(analogies)
    documents = []
    for _ in range(num_documents):
        city, country = rng.choice(pairs)
        documents.append("\n".join(t.format(city=city, country=country) for t in rng.sample(TEMPLATES, 4)))
    path.write_text("\n\n".join(documents) + "\n")
    return len(pairs)


def save_word_tokenizer(texts, directory: str) -> int:
    """A whole-word BERT tokenizer for a small closed vocabulary, saved to ``directory``: every word of ``texts``
    (after BERT's normaliser and pre-tokeniser) gets an id, the special tokens first and then the words in sorted
    order, so the same texts always give the same ids. (A trained WordPiece vocabulary is not reproducible on a
    corpus this small: the trainer breaks ties between equally frequent merges in hash-map order, and a different
    vocabulary gives a different model.) Returns the vocabulary size."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    from hfext.training.bert import SPECIAL_TOKENS

    normalizer, pre_tokenizer = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    words = {word for text in texts for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text))}
    vocab = SPECIAL_TOKENS + sorted(words - set(SPECIAL_TOKENS))
    tokenizer = Tokenizer(models.WordLevel({word: i for i, word in enumerate(vocab)}, unk_token="[UNK]"))
    tokenizer.normalizer, tokenizer.pre_tokenizer = normalizer, pre_tokenizer
    cls, sep = vocab.index("[CLS]"), vocab.index("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(  # [CLS] A [SEP] B [SEP], B with token type 1
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]", model_input_names=["input_ids", "token_type_ids", "attention_mask"],
    ).save_pretrained(directory)
    return len(vocab)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", default="./bert-capitals", help="where the model is saved")
    parser.add_argument("--out_dir", default=None, help="where the pictures go (default: docs/images; with --smoke, a temporary folder)")
    parser.add_argument("--train_file", default=None, help="your own corpus (default: the generated capitals corpus)")
    parser.add_argument("--max_train_steps", type=int, default=None, help="default 2500 (--smoke 20)")
    parser.add_argument("--sentence", default="the capital of france is [MASK] .", help="a sentence with one [MASK]")
    parser.add_argument("--smoke", action="store_true", help="a 1-layer toy, 20 steps (CI)")
    args = parser.parse_args(argv)
    args.out_dir = pictures_dir(args.out_dir, args.smoke)
    # One thread: a model this small gains little from a second one, and on a shared CPU OpenMP's waiting
    # threads made steps 10-50x slower when another torch process was running.
    torch.set_num_threads(1)
    data = gensim_test_data()
    if data is None:
        parser.error("this example trains on gensim's bundled corpus: `pip install gensim`")
    os.makedirs(args.out_dir, exist_ok=True)
    steps = args.max_train_steps or (20 if args.smoke else 2500)
    train_file = args.train_file
    if train_file is None:
        os.makedirs(args.output_dir, exist_ok=True)
        train_file = os.path.join(args.output_dir, "capitals.txt")
        pairs = write_capitals_corpus(Path(train_file), os.path.join(data, "questions-words.txt"))
        print(f"corpus: 1,500 generated documents about {pairs} country-capital pairs, e.g.")
        print("  " + Path(train_file).read_text().split("\n\n")[0].replace("\n", "\n  "))
        # a whole-word vocabulary in a fixed order: the same run gives the same numbers every time
        tokenizer_dir = os.path.join(args.output_dir, "tokenizer")
        save_word_tokenizer([Path(train_file).read_text()], tokenizer_dir)
        vocabulary = ["--tokenizer_name", tokenizer_dir]
    else:  # your own text: the recipe trains a WordPiece vocabulary
        vocabulary = ["--vocab_size", "1000" if args.smoke else "2000"]
    if args.smoke:
        size = ["--hidden_size", "32", "--num_hidden_layers", "1", "--num_attention_heads", "2",
                "--max_seq_length", "32"]
    else:
        size = ["--hidden_size", "128", "--num_hidden_layers", "2", "--num_attention_heads", "2",
                "--max_seq_length", "64", "--eval_steps", "300", "--dropout", "0"]
    command = ["train", "bert", "--train_file", train_file, "--output_dir",
               args.output_dir, *size, *vocabulary, "--max_train_steps", str(steps), "--num_train_epochs", "100",
               "--learning_rate", "1e-3", "--num_warmup_steps", str(steps // 15), "--seed", "0",
               "--per_device_train_batch_size", "32", "--validation_split_percentage", "5"]
    with quiet():  # the recipe's progress bars and JSON
        status = hfext_cli(command)
    if status:
        return status
    results = json.loads(Path(args.output_dir, "all_results.json").read_text())
    print(f"{results['num_parameters'] / 1e6:.2f}M parameters, {results['train_steps']} steps in "
          f"{results['train_seconds']:.0f} s; held out: MLM loss {results['eval_mlm_loss']:.3f}, "
          f"MLM accuracy {results['eval_mlm_accuracy']:.3f}, NSP accuracy {results['eval_nsp_accuracy']:.3f}")

    from transformers import pipeline

    with quiet():
        fill = pipeline("fill-mask", model=args.output_dir, top_k=5)
    predictions = fill(args.sentence)
    print(args.sentence)
    for rank, p in enumerate(predictions, 1):
        print(f"  {rank}. {p['token_str']:<12} {p['score']:.3f}")

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=110)
    words = [p["token_str"] for p in predictions][::-1]
    bars = ax.barh(words, [p["score"] for p in predictions][::-1], color="tab:green")
    ax.bar_label(bars, fmt="%.3f", padding=3)
    ax.set_xlim(0, max(p["score"] for p in predictions) * 1.25)
    ax.set_xlabel("probability of the [MASK] token")
    ax.set_title(args.sentence, fontsize=9)
    out = os.path.join(args.out_dir, "bert_fill_mask.png")
    save_figure(fig, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
