#!/usr/bin/env python
"""ELMo features for a downstream task: a frozen ELMo, a trained scalar mix gamma * sum_j softmax(w)_j h_j and
a linear classifier, on a small labelled set of sentences that use "fire" in its two senses (a blaze / to
dismiss someone).

    python examples/elmo_sentence_classification.py                      # pretrains a tiny ELMo first, ~30 s
    python examples/elmo_sentence_classification.py --elmo_dir my-elmo   # or any hfext-elmo folder
    python examples/elmo_sentence_classification.py --smoke              # 20 pretraining steps: seconds (CI)

First, the lecture's point as a picture (``elmo_context_similarity.png`` in ``--out_dir``): the cosine of the
vectors of "fire" in "the fire burned the barn today" and "they will fire the coach today", layer by layer. The
token layer is context-free (cosine 1, like a word2vec vector); the LSTM layers and the scalar mix are not.

Two classifiers are trained on the same frozen model:

- ``sentence``: the scalar mix of every layer, mean-pooled over the sentence's words (ELMo's usual recipe);
- ``fire only``: the vector of the word "fire" alone, once from ELMo's mix and once from its token layer
  (layer 0, the char CNN: context-free like a word2vec vector). Only the contextual vector can tell the
  senses apart; the token layer gives "fire" the same vector in every sentence, so it stays at chance.

Without ``--elmo_dir`` the example writes an unlabelled corpus of such sentences and pretrains a tiny ELMo
on it with ``recipes/pretrain_elmo.py``. The labelled set is generated too (seeded), so the run is repeatable.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

import hfext  # noqa: F401  (registers hfext-elmo)
from hfext.tour import pictures_dir, quiet

REPO = Path(__file__).resolve().parent.parent
WHEN = ["yesterday", "today", "overnight", "again", "last week", "on monday"]
PLACES = ["house", "barn", "forest", "school", "factory", "warehouse", "hotel"]
CONTEXT_SENTENCES = ("the fire burned the barn today", "they will fire the coach today")
PEOPLE = ["workers", "staff", "manager", "coach", "players", "director", "chef"]


def make_sentences(n: int, seed: int) -> tuple[list[str], list[int]]:
    """Sentences with "fire" as a blaze (label 0) or as dismissing someone (label 1)."""
    rng = np.random.default_rng(seed)

    def pick(options):
        return options[rng.integers(len(options))]

    sentences, labels = [], []
    for _ in range(n):
        if rng.random() < 0.5:
            sentence = pick([
                f"the fire {pick(['burned', 'destroyed', 'reached'])} the {pick(PLACES)} {pick(WHEN)}",
                f"a fire broke out in the {pick(PLACES)} {pick(WHEN)}",
                f"crews fought the fire at the {pick(PLACES)} {pick(WHEN)}",
            ])
            labels.append(0)
        else:
            sentence = pick([
                f"{pick(['they', 'bosses', 'owners'])} will fire the {pick(PEOPLE)} {pick(WHEN)}",
                f"the board decided to fire the {pick(PEOPLE)} {pick(WHEN)}",
                f"nobody wants to fire the {pick(PEOPLE)} {pick(WHEN)}",
            ])
            labels.append(1)
        sentences.append(sentence)
    return sentences, labels


def pretrain_tiny_elmo(output_dir: Path, seed: int, steps: int = 300, clip: bool = True) -> Path:
    """A tiny ELMo pretrained on unlabelled sentences of the same kind (about 20 s on a CPU). ``clip=False``
    turns ELMo's cell/projection clipping off, which lets torch's fused LSTM run (faster; for smoke runs)."""
    corpus = output_dir / "unlabelled.txt"
    output_dir.mkdir(parents=True, exist_ok=True)
    corpus.write_text("\n".join(make_sentences(1000, seed + 1)[0]) + "\n")
    spec = importlib.util.spec_from_file_location("pretrain_elmo", REPO / "recipes" / "pretrain_elmo.py")
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    with quiet():  # the recipe's progress bars and JSON
        results = recipe.main([
            "--train_file", str(corpus), "--output_dir", str(output_dir / "elmo"), "--projection_dim", "32",
            "--lstm_dim", "64", "--filters", "[[1, 16], [2, 16], [3, 32], [4, 32]]", "--min_count", "1",
            "--learning_rate", "5e-3", "--lr_scheduler_type", "constant", "--max_train_steps", str(steps),
            "--num_train_epochs", "20", "--logging_steps", "100", "--seed", str(seed),
            *([] if clip else ["--cell_clip", "0", "--proj_clip", "0"]),
        ])
    print(f"pretrained a tiny ELMo for {steps} steps: held-out perplexity forward "
          f"{results['eval_forward_perplexity']:.2f}, backward {results['eval_backward_perplexity']:.2f}")
    return output_dir / "elmo"


@torch.no_grad()
def context_similarity(model, tokenizer, sentences=CONTEXT_SENTENCES, word: str = "fire") -> dict:
    """Cosine of ``word``'s vectors in two sentences, for every layer and the scalar mix."""
    tokens = [s.split() for s in sentences]
    position = [t.index(word) + 1 for t in tokens]  # +1 for <S>
    out = model(**tokenizer(tokens, is_split_into_words=True, return_tensors="pt"))

    def cosine(layer):
        return float(nn.functional.cosine_similarity(layer[0, position[0]], layer[1, position[1]], dim=0))

    names = ["token layer (char CNN)"] + [f"LSTM layer {i}" for i in range(1, len(out.hidden_states))]
    similarity = {name: cosine(layer) for name, layer in zip(names, out.hidden_states)}
    similarity["scalar mix (ELMo)"] = cosine(out.elmo_representations)
    return similarity


def plot_context_similarity(similarity: dict, out: str, sentences=CONTEXT_SENTENCES) -> None:
    from hfext.plots import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.4), dpi=110)
    names = list(similarity)
    bars = ax.barh(names[::-1], [similarity[n] for n in names][::-1], color="tab:orange")
    ax.bar_label(bars, fmt="%.3f", padding=3)
    ax.set_xlim(0, 1.15)
    ax.set_xlabel('cosine of "fire" across the two sentences')
    ax.set_title(f'"{sentences[0]}" vs "{sentences[1]}"', fontsize=9)
    save_figure(fig, out)


@torch.no_grad()
def elmo_layers(model, tokenizer, sentences: list[str], batch_size: int = 64):
    """Every layer of the frozen ELMo, (N, L, T, 2P), the word mask (N, T) and the position of "fire" (N,)."""
    layers, masks, fire = [], [], []
    longest = max(len(s.split()) for s in sentences) + 2
    for start in range(0, len(sentences), batch_size):
        batch = tokenizer(sentences[start : start + batch_size], return_tensors="pt", return_special_tokens_mask=True)
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        stacked = torch.stack(out.hidden_states, dim=1)  # (B, L, T, 2P)
        pad = longest - stacked.shape[2]
        layers.append(nn.functional.pad(stacked, (0, 0, 0, pad)))
        words = batch["attention_mask"].bool() & ~batch["special_tokens_mask"].bool()  # no <S>, </S>
        masks.append(nn.functional.pad(words, (0, pad)))
        fire.extend(s.split().index("fire") + 1 for s in sentences[start : start + batch_size])
    return torch.cat(layers), torch.cat(masks), torch.tensor(fire)


def train_probe(features_of, train_ids, test_ids, labels, mix, hidden: int, epochs: int, lr: float, seed: int) -> float:
    """Train ``mix`` (if any) + a linear classifier on ``features_of(mix, ids)``; returns test accuracy."""
    torch.manual_seed(seed)
    classifier = nn.Linear(hidden, 2)
    params = list(classifier.parameters()) + (list(mix.parameters()) if mix is not None else [])
    optimizer = torch.optim.Adam(params, lr=lr)
    for _ in range(epochs):
        for batch in torch.randperm(len(train_ids)).split(32):
            ids = train_ids[batch]
            loss = nn.functional.cross_entropy(classifier(features_of(mix, ids)), labels[ids])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        predictions = classifier(features_of(mix, test_ids)).argmax(-1)
    return float((predictions == labels[test_ids]).float().mean())


def run(argv=None) -> dict:
    """Run the example; returns the results (also written to ``OUTPUT_DIR/results.json``)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--elmo_dir", default=None, help="An hfext-elmo folder (default: pretrain a tiny one).")
    parser.add_argument("--output_dir", default="./elmo-classification")
    parser.add_argument("--num_examples", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--learning_rate", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pretrain_steps", type=int, default=None, help="tiny ELMo's steps (default 300; --smoke 20)")
    parser.add_argument("--out_dir", default=None, help="draw the context-similarity picture here")
    parser.add_argument("--smoke", action="store_true",
                        help="20 pretraining steps without clipping (fused LSTM), 60 examples, 3 epochs (CI)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.num_examples, args.epochs = min(args.num_examples, 60), min(args.epochs, 3)
    from hfext_elmo import ElmoScalarMix
    from transformers import AutoModel, AutoTokenizer

    steps = args.pretrain_steps or (20 if args.smoke else 300)
    elmo_dir = (Path(args.elmo_dir) if args.elmo_dir
                else pretrain_tiny_elmo(Path(args.output_dir), args.seed, steps, clip=not args.smoke))
    with quiet():
        model = AutoModel.from_pretrained(elmo_dir).eval()  # frozen: only the new mix and the classifier learn
    model.requires_grad_(False)
    tokenizer = AutoTokenizer.from_pretrained(elmo_dir)

    similarity = context_similarity(model, tokenizer)
    print('cosine of "fire" in two contexts: ' + ", ".join(f"{k} {v:.3f}" for k, v in similarity.items()))
    if args.out_dir:
        os.makedirs(args.out_dir, exist_ok=True)
        out = os.path.join(args.out_dir, "elmo_context_similarity.png")
        plot_context_similarity(similarity, out)
        print(f"wrote {out}")

    sentences, labels = make_sentences(args.num_examples, args.seed)
    labels = torch.tensor(labels)
    layers, words, fire = elmo_layers(model, tokenizer, sentences)  # computed once: ELMo is frozen
    order = torch.randperm(len(sentences), generator=torch.Generator().manual_seed(args.seed))
    train_ids, test_ids = order[: int(0.75 * len(order))], order[int(0.75 * len(order)) :]
    hidden = layers.shape[-1]

    def mixed(mix, ids):  # (n, T, 2P): gamma * sum_j softmax(w)_j h_j
        return mix(list(layers[ids].unbind(1)), words[ids])

    def sentence_features(mix, ids):  # mean over the sentence's words
        keep = words[ids].unsqueeze(-1).float()
        return (mixed(mix, ids) * keep).sum(1) / keep.sum(1)

    def fire_features(mix, ids):  # the mixed vector of "fire" alone
        return mixed(mix, ids)[torch.arange(len(ids)), fire[ids]]

    def fire_token_layer(mix, ids):  # layer 0 at "fire": the same for every sentence
        return layers[ids, 0][torch.arange(len(ids)), fire[ids]]

    num_layers = layers.shape[1]
    sentence_mix = ElmoScalarMix(num_layers)
    results = {
        "sentence_accuracy": train_probe(sentence_features, train_ids, test_ids, labels, sentence_mix, hidden,
                                         args.epochs, args.learning_rate, args.seed),
        "fire_only_accuracy": train_probe(fire_features, train_ids, test_ids, labels, ElmoScalarMix(num_layers),
                                          hidden, args.epochs, args.learning_rate, args.seed),
        "fire_token_layer_accuracy": train_probe(fire_token_layer, train_ids, test_ids, labels, None, hidden,
                                                 args.epochs, args.learning_rate, args.seed),
        "majority_baseline": float(max(labels[test_ids].float().mean(), 1 - labels[test_ids].float().mean())),
        "scalar_mix_weights": torch.softmax(sentence_mix.scalar_parameters.detach(), 0).tolist(),
        "scalar_mix_gamma": float(sentence_mix.gamma.detach()),
        "fire_context_cosine": similarity,
    }
    os.makedirs(args.output_dir, exist_ok=True)
    Path(args.output_dir, "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return results


def main(argv=None) -> int:
    """The script's entry point: as :func:`run`, with the picture in docs/images/ (a temporary folder with
    ``--smoke``) unless ``--out_dir`` says."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--out_dir" not in argv:
        argv += ["--out_dir", pictures_dir(None, "--smoke" in argv)]
    return 0 if run(argv) else 1


if __name__ == "__main__":
    sys.exit(main())
