"""Pictures of what the models learned (matplotlib, written as PNG files, atomically).

The lecture's figure: country and capital vectors projected to 2-D with PCA, one line per pair; the
lines come out roughly parallel when the vectors encode "capital of" as a direction.

>>> from hfext.vectors import KeyedVectors
>>> kv = KeyedVectors.from_pretrained("glove_dir")                               # doctest: +SKIP
>>> pairs = analogy_pairs("questions-words.txt", "capital-common-countries", kv)  # doctest: +SKIP
>>> plot_word_pairs(kv, pairs, "capitals.png")                                    # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np

from .errors import MissingDependencyError, see

logger = logging.getLogger(__name__)

METHODS = ("pca", "tsne")


def _resolve(kv, word: str) -> str | None:
    """The vocabulary's spelling of ``word`` (exact, else lower-case, as analogy files are capitalised)."""
    vocabulary = getattr(kv, "key_to_index", None)  # not `in kv`: fastText answers True for any word
    for candidate in (word, word.lower()):
        if (candidate in vocabulary) if vocabulary is not None else (candidate in kv):
            return candidate
    return None


def analogy_pairs(path: str | os.PathLike, section: str, kv=None, max_pairs: int | None = None) -> list[tuple[str, str]]:
    """The distinct (a, b) word pairs of one section of a questions-words.txt-style file, in file order:
    from "Athens Greece Baghdad Iraq" come (Greece, Athens) and (Iraq, Baghdad), i.e. (second, first).
    With ``kv``, only pairs whose words are both in its vocabulary, spelled as there."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    with open(path, encoding="utf8") as handle:
        for line_number, line in enumerate(handle, 1):
            if line.startswith(":"):
                current = line[1:].strip()
                sections.setdefault(current, [])
                continue
            words = line.split()
            if not words:
                continue
            if current is None or len(words) != 4:
                raise ValueError(f"{os.fspath(path)}, line {line_number}: expected ': section' or four words, "
                                 f"got {line.strip()!r}" + see("input-file"))
            for first, second in ((words[0], words[1]), (words[2], words[3])):
                if (second, first) not in sections[current]:
                    sections[current].append((second, first))
    if section not in sections:
        raise KeyError(f"no section {section!r} in {os.fspath(path)}; its sections are: {', '.join(sections)}"
                       + see("input-file"))
    pairs = sections[section]
    if kv is not None:
        resolved = [(_resolve(kv, a), _resolve(kv, b)) for a, b in pairs]
        pairs = [(a, b) for a, b in resolved if a is not None and b is not None]
    return pairs[:max_pairs] if max_pairs else pairs


def project_2d(vectors: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """(n, 2) coordinates: PCA (the top two principal directions, by SVD of the centred vectors) or t-SNE
    (scikit-learn's, when installed)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}" + see("flag-value"))
    vectors = np.asarray(vectors, dtype=np.float64)
    if len(vectors) < 2:
        raise ValueError(f"a 2-D projection needs at least 2 words, got {len(vectors)}" + see("flag-value"))
    if method == "pca":
        centred = vectors - vectors.mean(0)
        _, _, components = np.linalg.svd(centred, full_matrices=False)
        return centred @ components[:2].T
    try:
        from sklearn.manifold import TSNE
    except ImportError:
        raise MissingDependencyError("t-SNE needs scikit-learn: `pip install scikit-learn` (or \"hfext[plots]\"), "
                                     "or use PCA") from None
    perplexity = min(30.0, max(1.0, (len(vectors) - 1) / 3))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(vectors)


def plot_word_pairs(
    kv,
    pairs: Sequence[tuple[str, str]] = (),
    out: str | os.PathLike = "words.png",
    words: Sequence[str] = (),
    method: str = "pca",
    title: str | None = None,
    seed: int = 0,
    pair_labels: tuple[str, str] = ("first word", "second word"),
) -> np.ndarray:
    """Draw ``pairs`` (a line from each first word to its second, e.g. country -> capital) and loose
    ``words`` in 2-D; writes ``out`` atomically and returns the coordinates (pair words first, in order)."""
    plt = pyplot()
    labels = [w for pair in pairs for w in pair] + [w for w in words if w not in {x for p in pairs for x in p}]
    missing = [w for w in labels if w not in kv]
    if missing:
        raise KeyError(f"not in the vocabulary: {', '.join(missing[:10])}; drop them or use a model that has them"
                       + see("unknown-word"))
    coords = project_2d(np.stack([kv[w] for w in labels]), method, seed)
    fig, ax = plt.subplots(figsize=(8, 6.5), dpi=120)
    n = 2 * len(pairs)
    for k in range(len(pairs)):
        (x0, y0), (x1, y1) = coords[2 * k], coords[2 * k + 1]
        ax.plot([x0, x1], [y0, y1], color="0.6", linewidth=1, zorder=1)
    if pairs:
        ax.scatter(coords[0:n:2, 0], coords[0:n:2, 1], color="tab:blue", label=pair_labels[0], zorder=2)
        ax.scatter(coords[1:n:2, 0], coords[1:n:2, 1], color="tab:red", label=pair_labels[1], zorder=2)
    if len(labels) > n:
        ax.scatter(coords[n:, 0], coords[n:, 1], color="tab:green", zorder=2)
    for (x, y), label in zip(coords, labels):
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(4, 3), fontsize=9)
    axis = "principal component" if method == "pca" else "t-SNE dimension"
    ax.set_xlabel(f"{axis} 1")
    ax.set_ylabel(f"{axis} 2")
    ax.set_title(title or f"{method.upper()} projection of {len(labels)} word vectors")
    if pairs:
        ax.legend(loc="best", fontsize=8)
    save_figure(fig, out)
    return coords


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    try:
        import matplotlib
    except ImportError:  # not one of hfext's dependencies: only the plots need it
        raise MissingDependencyError("plots need matplotlib: `pip install matplotlib` (or \"hfext[plots]\")") from None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, out) -> None:
    """Write the figure to a temporary file, then rename: never a half-written image."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    out = os.fspath(out)
    root, extension = os.path.splitext(out)
    tmp = f"{root}.tmp{os.getpid()}{extension or '.png'}"
    try:
        fig.savefig(tmp)
        os.replace(tmp, out)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
    logger.info("wrote %s", out)


def plot_kernel_regression(x_train, y_train, x_test, y_truth, predictions: dict, out) -> None:
    """The lecture's Nadaraya-Watson picture: the true function, the noisy samples and each estimator's
    curve (``predictions``: label -> values at ``x_test``)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    ax.plot(x_test, y_truth, color="black", linewidth=2, label="truth: 2 sin(x) + x^0.8")
    for (label, values), style in zip(predictions.items(), ("--", "-", "-.", ":")):
        ax.plot(x_test, values, style, linewidth=1.8, label=label)
    ax.scatter(x_train, y_train, s=14, color="tab:gray", alpha=0.6, label="samples")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_xlim(0, 5)
    ax.legend(fontsize=8)
    save_figure(fig, out)


def plot_attention_heatmap(weights, out, xlabel: str = "keys", ylabel: str = "queries", title: str | None = None,
                           xticklabels=None, yticklabels=None) -> None:
    """An attention-weight matrix (queries x keys) as a heatmap: where each query looks."""
    weights = np.asarray(weights.detach().cpu() if hasattr(weights, "detach") else weights)
    if weights.ndim != 2:
        raise ValueError(f"attention weights must be a 2-D (queries, keys) matrix, got shape {weights.shape}"
                         + see("attention-maps"))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 5), dpi=120)
    image = ax.imshow(weights, cmap="Reds", aspect="auto")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if xticklabels is not None:
        ax.set_xticks(range(len(xticklabels)), xticklabels, rotation=90, fontsize=8)
    if yticklabels is not None:
        ax.set_yticks(range(len(yticklabels)), yticklabels, fontsize=8)
    if title:
        ax.set_title(title)
    save_figure(fig, out)


ATTENTION_KINDS = ("cross", "encoder", "decoder")


def seq2seq_attention(model, tokenizer, text: str, kind: str = "cross", layer: int = -1, head: int | None = None,
                      max_new_tokens: int | None = None):
    """Where an encoder-decoder model attends while it translates ``text``: generates the output, reruns
    it with ``output_attentions`` and returns (weights (queries, keys), key tokens, query tokens) for one
    ``layer`` of the ``kind`` of attention, one ``head`` or their mean. The model must run with eager
    attention (SDPA does not return weights): load it with ``attn_implementation="eager"``."""
    import torch

    if kind not in ATTENTION_KINDS:
        raise ValueError(f"kind must be one of {ATTENTION_KINDS}, got {kind!r}" + see("attention-maps"))
    if not getattr(model.config, "is_encoder_decoder", False):
        raise ValueError(f"{type(model).__name__} is not an encoder-decoder model; attention maps need one "
                         "(hfext-transformer)" + see("attention-maps"))
    inputs = tokenizer([text], return_tensors="pt")
    inputs.pop("token_type_ids", None)
    if max_new_tokens is None:  # the model's own setting, else as many as its positions allow (at most 64)
        max_new_tokens = model.generation_config.max_new_tokens or min(
            64, getattr(model.config, "max_position_embeddings", 65) - 1)
    with torch.no_grad():
        generated = model.generate(**inputs, max_new_tokens=max_new_tokens)
        outputs = model(**inputs, decoder_input_ids=generated, output_attentions=True)
    stacks = {"cross": outputs.cross_attentions, "encoder": outputs.encoder_attentions,
              "decoder": outputs.decoder_attentions}[kind]
    if not stacks or stacks[0] is None:
        raise ValueError("the model returned no attention weights: load it with attn_implementation='eager'"
                         + see("attention-maps"))
    if not -len(stacks) <= layer < len(stacks):
        raise ValueError(f"layer {layer} does not exist: the {kind} attention has {len(stacks)} layers "
                         f"(0..{len(stacks) - 1})" + see("attention-maps"))
    weights = stacks[layer][0]  # (heads, queries, keys)
    if head is not None and not 0 <= head < weights.shape[0]:
        raise ValueError(f"head {head} does not exist: each layer has {weights.shape[0]} heads "
                         f"(0..{weights.shape[0] - 1})" + see("attention-maps"))
    weights = weights.mean(0) if head is None else weights[head]
    source = tokenizer.convert_ids_to_tokens(inputs["input_ids"][0])
    target = tokenizer.convert_ids_to_tokens(generated[0])
    keys, queries = {"cross": (source, target), "encoder": (source, source), "decoder": (target, target)}[kind]
    return weights, keys, queries
