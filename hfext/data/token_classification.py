"""Token classification (CoNLL-2003 NER) data: the CoNLL column format, label lists, and word labels aligned
to sub-word tokens, as transformers' ``run_ner_no_trainer.py`` does.

CoNLL-2003 files have one token a line with space-separated columns ``word POS chunk NER``, a blank line
after each sentence, and ``-DOCSTART- -X- -X- O`` lines between documents::

    -DOCSTART- -X- -X- O

    EU NNP B-NP B-ORG
    rejects VBZ B-VP O
    German JJ B-NP B-MISC

:func:`read_conll` turns such a file into rows with ``tokens``, ``pos_tags``, ``chunk_tags`` and
``ner_tags`` (tag strings), the columns of the Hub's ``conll2003`` dataset (which stores the tags as
``ClassLabel`` ids; :func:`label_names` reads either). A word that the tokenizer splits into several
sub-tokens is labelled on its first sub-token, the others get -100 (ignored by the loss), or with
``label_all_tokens`` every sub-token gets the word's label (``B-X`` continues as ``I-X``).

>>> from hfext.data.token_classification import read_conll
>>> rows = read_conll("tests/fixtures/conll2003/train.txt")   # doctest: +SKIP
>>> rows[0]["tokens"][:3], rows[0]["ner_tags"][:3]   # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from ..errors import see

CONLL2003_COLUMNS = ("tokens", "pos_tags", "chunk_tags", "ner_tags")


def read_conll(path: str | os.PathLike) -> list[dict]:
    """Sentences of a CoNLL column file as rows ``{"id", "tokens", "ner_tags"}`` (tag strings; the NER tag is
    the last column), plus ``pos_tags``/``chunk_tags`` for the 4-column CoNLL-2003 layout, and without
    ``ner_tags`` for a words-only file (text to tag). Every token line must have as many columns as the first
    one; ``-DOCSTART-`` lines are skipped."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"CoNLL file {path!r} does not exist; check the path" + see("conll-format"))
    rows, sentence, expected = [], [], None

    def close_sentence():
        if sentence:
            row = {"id": str(len(rows)), "tokens": [cols[0] for cols in sentence]}
            if expected > 1:  # a words-only file (text to tag) has no tags
                row["ner_tags"] = [cols[-1] for cols in sentence]
            if expected == 4:
                row["pos_tags"] = [cols[1] for cols in sentence]
                row["chunk_tags"] = [cols[2] for cols in sentence]
            rows.append(row)
            sentence.clear()

    with open(path, encoding="utf8") as fin:
        for lineno, line in enumerate(fin, start=1):
            columns = line.split()
            if not columns:
                close_sentence()
                continue
            if columns[0] == "-DOCSTART-":
                close_sentence()
                continue
            if expected is None:
                expected = len(columns)
            elif len(columns) != expected:
                raise ValueError(
                    f"{path}:{lineno}: {len(columns)} columns ({line.strip()!r}) where the file's first token line has "
                    f"{expected}; every token line needs the same columns (CoNLL-2003: word POS chunk NER, separated "
                    "by spaces, a blank line between sentences)" + see("conll-format")
                )
            sentence.append(columns)
    close_sentence()
    if not rows:
        raise ValueError(f"CoNLL file {path!r} holds no sentences; it needs one token a line, a blank line between "
                         "sentences" + see("conll-format"))
    return rows


def load_conll_dataset(path: str | os.PathLike):
    """A CoNLL column file (see :func:`read_conll`) as a ``datasets.Dataset`` with string tags."""
    import datasets

    rows = read_conll(path)
    return datasets.Dataset.from_dict({key: [row[key] for row in rows] for key in rows[0]})


def label_names(dataset, column: str = "ner_tags") -> list[str]:
    """The label list: the ``ClassLabel`` names of a Hub dataset (``conll2003``: in id order), or the sorted
    distinct tags of string-tagged data (as run_ner)."""
    feature = dataset.features[column]
    inner = getattr(feature, "feature", None)
    if inner is not None and hasattr(inner, "names"):
        return list(inner.names)
    return sorted({tag for tags in dataset[column] for tag in tags})


def tags_as_strings(dataset, column: str = "ner_tags"):
    """``dataset`` with ``column`` as tag strings (``ClassLabel`` ids become their names)."""
    feature = dataset.features[column]
    inner = getattr(feature, "feature", None)
    if inner is None or not hasattr(inner, "names"):
        return dataset
    names = list(inner.names)
    import datasets

    features = dataset.features.copy()
    features[column] = datasets.Sequence(datasets.Value("string"))
    return dataset.map(lambda row: {column: [names[i] for i in row[column]]}, features=features)


def check_labels(label_list: Sequence[str], dataset, column: str = "ner_tags", source: str = "the validation data",
                 error: type[Exception] = ValueError) -> None:
    """Every tag of ``dataset`` (strings) is in the training ``label_list``; else ``error`` (a ``ValueError``
    subclass of the caller's choice) names the unseen tags and ``source``."""
    known = set(label_list)
    unseen = sorted({tag for tags in dataset[column] for tag in tags} - known)
    if unseen:
        raise error(
            f"{source} has label(s) {unseen} that the training data doesn't have (training labels: "
            f"{sorted(known)}); the model can't predict them: fix the tags or add training examples with them"
            + see("missing-columns")
        )


def b_to_i_labels(label_list: Sequence[str]) -> list[int]:
    """For each label id, the id a word's later sub-tokens get with ``label_all_tokens``: ``B-X`` -> ``I-X``
    (when the list has it), anything else itself."""
    index = {label: i for i, label in enumerate(label_list)}
    return [index.get("I-" + label[2:], i) if label.startswith("B-") else i for i, label in enumerate(label_list)]


def tokenize_and_align_labels(examples: Mapping, tokenizer, label_to_id: Mapping[str, int], max_seq_length: int = 128,
                              label_all_tokens: bool = False, tokens_column: str = "tokens",
                              label_column: str = "ner_tags", padding: str | bool = False) -> dict:
    """Tokenize pre-split words (``is_split_into_words``) and give each sub-token its word's label id: the first
    sub-token of a word gets it; the others get -100 or, with ``label_all_tokens``, the label (``B-X`` -> ``I-X``);
    special tokens (and ``padding="max_length"``'s pads) get -100. Also returns ``word_ids`` (-1 for special tokens)
    so predictions map back to words."""
    tokenized = tokenizer(examples[tokens_column], truncation=True, max_length=max_seq_length,
                          is_split_into_words=True, padding=padding)
    label_list = sorted(label_to_id, key=label_to_id.get)
    continuation = b_to_i_labels(label_list)
    tokenized["labels"], tokenized["word_ids"] = [], []
    for i, tags in enumerate(examples[label_column]):
        word_ids = tokenized.word_ids(batch_index=i)
        labels, previous = [], None
        for word in word_ids:
            if word is None:
                labels.append(-100)
            elif word != previous:
                labels.append(label_to_id[tags[word]])
            else:
                labels.append(continuation[label_to_id[tags[word]]] if label_all_tokens else -100)
            previous = word
        tokenized["labels"].append(labels)
        tokenized["word_ids"].append([-1 if word is None else word for word in word_ids])
    return tokenized


def word_predictions(word_ids: Sequence[int], token_predictions: Sequence[int], num_words: int, label_list: Sequence[str],
                     fill: str = "O") -> list[str]:
    """One tag per word from per-token predicted ids: each word takes its first sub-token's prediction; words cut off
    by truncation (no sub-token) get ``fill``, so scores count them as missed rather than dropping them."""
    tags = [fill] * num_words
    seen = set()
    for word, prediction in zip(word_ids, token_predictions):
        if word >= 0 and word not in seen:
            tags[word] = label_list[int(prediction)]
            seen.add(word)
    return tags
