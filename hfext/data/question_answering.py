"""Extractive question answering (SQuAD v1.1) data: reading the official JSON, turning questions and
contexts into overlapping windows with start/end token labels, and turning a model's start/end logits back
into answer texts, as transformers' ``run_qa_no_trainer.py`` does.

A context longer than ``max_seq_length`` (with its question) is cut into several windows ("features") that
overlap by ``doc_stride`` tokens; each window keeps the character offsets of its context tokens, so a span
predicted in any window maps back to text. A training window that doesn't contain the answer points both
labels at its ``[CLS]`` token. At evaluation every window of a question proposes its ``n_best_size`` best
start and end tokens; the best-scoring valid span (inside the context, end >= start, at most
``max_answer_length`` tokens) over all the question's windows is the answer.

>>> from hfext.data.question_answering import read_squad_file
>>> rows = read_squad_file("tests/fixtures/squad/dev-v1.1.json")   # doctest: +SKIP
>>> sorted(rows[0])   # doctest: +SKIP
['answers', 'context', 'id', 'question', 'title']
"""

from __future__ import annotations

import collections
import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from ..errors import see

logger = logging.getLogger(__name__)

SQUAD_COLUMNS = ("id", "title", "context", "question", "answers")


def squad_features():
    """The ``datasets.Features`` of the Hub's ``squad`` dataset (flat rows)."""
    import datasets

    return datasets.Features({
        "id": datasets.Value("string"),
        "title": datasets.Value("string"),
        "context": datasets.Value("string"),
        "question": datasets.Value("string"),
        "answers": datasets.Sequence({"text": datasets.Value("string"), "answer_start": datasets.Value("int32")}),
    })


def read_squad_file(path: str | os.PathLike) -> list[dict]:
    """The questions of a SQuAD file as flat rows with the columns of the Hub's ``squad`` dataset (id, title,
    context, question, answers{text, answer_start}).

    Reads the official SQuAD v1.1 JSON (``{"data": [{"title", "paragraphs": [{"context", "qas": [{"id",
    "question", "answers": [{"text", "answer_start"}]}]}]}]}``) or JSON lines of flat rows (what
    ``Dataset.to_json`` writes for ``squad``). Refuses SQuAD v2.0 files (unanswerable questions)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"SQuAD file {path!r} does not exist; check the path" + see("squad-format"))
    with open(path, encoding="utf8") as fin:
        text = fin.read()
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        document = None
    if isinstance(document, dict) and "data" in document:
        return _flatten_squad(document, path)
    rows = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"{path}:{lineno}: not JSON ({error.msg}); pass the official SQuAD v1.1 JSON "
                '({"data": [{"title", "paragraphs": [...]}]}) or JSON lines of flat squad rows' + see("squad-format")
            ) from None
        if not isinstance(row, dict):
            raise TypeError(f"{path}:{lineno}: expected a JSON object with the columns {list(SQUAD_COLUMNS)}"
                            + see("squad-format"))
        rows.append(row)
    check_squad_rows(rows, source=path)
    return rows


def _flatten_squad(document: dict, path: str) -> list[dict]:
    if str(document.get("version", "")).startswith("v2"):
        raise ValueError(f"{path!r} is SQuAD {document['version']} (unanswerable questions), which is not supported; "
                         "pass a SQuAD v1.1 file" + see("squad-format"))
    rows = []
    for article in document["data"]:
        if "paragraphs" not in article:
            raise ValueError(f"{path!r}: an article without 'paragraphs' (keys {sorted(article)}); "
                             "SQuAD v1.1 articles are {'title', 'paragraphs': [{'context', 'qas'}]}"
                             + see("squad-format"))
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                if qa.get("is_impossible"):
                    raise ValueError(f"{path!r}: question {qa.get('id')!r} is marked is_impossible (SQuAD v2.0), "
                                     "which is not supported; pass a SQuAD v1.1 file" + see("squad-format"))
                rows.append({
                    "id": str(qa["id"]),
                    "title": article.get("title", ""),
                    "context": paragraph["context"],
                    "question": qa["question"],
                    "answers": {"text": [a["text"] for a in qa["answers"]],
                                "answer_start": [int(a["answer_start"]) for a in qa["answers"]]},
                })
    check_squad_rows(rows, source=path)
    return rows


def check_squad_rows(rows: Iterable[Mapping], source: str = "the dataset") -> None:
    """Every row has the SQuAD columns, and every ``answer_start`` points at its answer text in the context."""
    for row in rows:
        missing = [column for column in ("id", "context", "question", "answers") if column not in row]
        if missing:
            raise ValueError(f"{source}: a row (id {row.get('id')!r}) lacks the column(s) {missing}; SQuAD rows need "
                             f"{list(SQUAD_COLUMNS)}" + see("squad-format"))
        answers = row["answers"]
        if len(answers["text"]) != len(answers["answer_start"]):
            raise ValueError(f"{source}: question {row['id']!r} has {len(answers['text'])} answer texts but "
                             f"{len(answers['answer_start'])} answer_start values; give one offset per answer"
                             + see("squad-format"))
        for text, start in zip(answers["text"], answers["answer_start"]):
            found = row["context"][start : start + len(text)]
            if found != text:
                raise ValueError(
                    f"{source}: question {row['id']!r}: answer_start {start} points at {found!r} in the context, "
                    f"not at the answer text {text!r}; answer_start must be the answer's character offset in the "
                    "context" + see("squad-format")
                )


def load_squad_dataset(path: str | os.PathLike):
    """A SQuAD file (see :func:`read_squad_file`) as a ``datasets.Dataset`` with the ``squad`` features."""
    import datasets

    return datasets.Dataset.from_list(read_squad_file(path), features=squad_features())


def _tokenize(examples: Mapping, tokenizer, max_seq_length: int, doc_stride: int, padding):
    if doc_stride >= max_seq_length:
        raise ValueError(f"--doc_stride ({doc_stride}) must be smaller than --max_seq_length ({max_seq_length})"
                         + see("qa-windows"))
    pad_on_right = tokenizer.padding_side == "right"
    # Some questions start with spaces that only waste window room (as in run_qa).
    questions = [question.lstrip() for question in examples["question"]]
    first, second = (questions, examples["context"]) if pad_on_right else (examples["context"], questions)
    try:
        tokenized = tokenizer(
            first, second, truncation="only_second" if pad_on_right else "only_first", max_length=max_seq_length,
            stride=doc_stride, return_overflowing_tokens=True, return_offsets_mapping=True, padding=padding,
        )
    except BaseException as error:  # the Rust tokenizer panics (pyo3's PanicException is no Exception)
        if type(error).__name__ != "PanicException" or "stride" not in str(error):
            raise
        longest = max(len(tokenizer(question, add_special_tokens=False)["input_ids"]) for question in questions)
        raise ValueError(
            f"--doc_stride ({doc_stride}) leaves no room to slide the context: a question of {longest} tokens plus "
            f"the special tokens leaves fewer than {doc_stride + 1} of the {max_seq_length} tokens of a window for "
            "the context; lower --doc_stride or raise --max_seq_length" + see("qa-windows")
        ) from None
    return tokenized, (1 if pad_on_right else 0)


def prepare_train_features(examples: Mapping, tokenizer, max_seq_length: int = 384, doc_stride: int = 128,
                           padding: str | bool = "max_length") -> dict:
    """Windows with ``start_positions``/``end_positions`` for a batch of squad rows (``Dataset.map(batched=True)``).
    The label is the first answer; windows that don't contain it whole point both positions at ``[CLS]``.
    ``padding``: ``"max_length"`` or ``False`` (a collator pads each batch)."""
    tokenized, context_index = _tokenize(examples, tokenizer, max_seq_length, doc_stride, padding)
    sample_mapping = tokenized.pop("overflow_to_sample_mapping")
    offset_mapping = tokenized.pop("offset_mapping")
    tokenized["start_positions"], tokenized["end_positions"] = [], []
    for i, offsets in enumerate(offset_mapping):
        input_ids = tokenized["input_ids"][i]
        cls_index = input_ids.index(tokenizer.cls_token_id) if tokenizer.cls_token_id in input_ids else 0
        sequence_ids = tokenized.sequence_ids(i)
        answers = examples["answers"][sample_mapping[i]]
        start, end = cls_index, cls_index
        if answers["answer_start"]:
            start_char = answers["answer_start"][0]
            end_char = start_char + len(answers["text"][0])
            first = sequence_ids.index(context_index)
            last = len(sequence_ids) - 1 - sequence_ids[::-1].index(context_index)
            if offsets[first][0] <= start_char and offsets[last][1] >= end_char:
                # The answer lies in this window: the tokens whose character spans hold its first and last character.
                while first < len(offsets) and sequence_ids[first] == context_index and offsets[first][0] <= start_char:
                    first += 1
                while offsets[last][1] >= end_char:
                    last -= 1
                start, end = first - 1, last + 1
        tokenized["start_positions"].append(start)
        tokenized["end_positions"].append(end)
    return tokenized


def prepare_validation_features(examples: Mapping, tokenizer, max_seq_length: int = 384, doc_stride: int = 128,
                                padding: str | bool = "max_length") -> dict:
    """Windows for evaluation: each keeps its question's ``example_id`` and the character offsets of its
    context tokens (``None`` for the question and special tokens, so no answer is taken from them)."""
    tokenized, context_index = _tokenize(examples, tokenizer, max_seq_length, doc_stride, padding)
    sample_mapping = tokenized.pop("overflow_to_sample_mapping")
    tokenized["example_id"] = []
    for i in range(len(tokenized["input_ids"])):
        sequence_ids = tokenized.sequence_ids(i)
        tokenized["example_id"].append(examples["id"][sample_mapping[i]])
        tokenized["offset_mapping"][i] = [
            offset if sequence_ids[k] == context_index else None for k, offset in enumerate(tokenized["offset_mapping"][i])
        ]
    return tokenized


def postprocess_qa_predictions(examples: Iterable[Mapping], features: Mapping, start_logits: Sequence,
                               end_logits: Sequence, n_best_size: int = 20,
                               max_answer_length: int = 30) -> tuple[dict[str, str], dict[str, list[dict]]]:
    """Answer texts from the windows' start/end logits (one row per feature, in the features' order).

    ``examples``: rows with ``id`` and ``context``; ``features``: ``example_id`` and ``offset_mapping`` as
    made by :func:`prepare_validation_features`. For each question, every window proposes its ``n_best_size``
    best start and end tokens; spans outside the context, ending before they start or longer than
    ``max_answer_length`` tokens are skipped, and the best ``start + end`` logit sum over all the question's
    windows wins. Returns ({id: answer text}, {id: the n-best list with text, score and probability})."""
    start_logits, end_logits = np.asarray(start_logits), np.asarray(end_logits)
    if len(start_logits) != len(features["example_id"]) or len(end_logits) != len(start_logits):
        raise ValueError(f"got {len(start_logits)} start and {len(end_logits)} end logit rows for "
                         f"{len(features['example_id'])} features; pass one row per feature" + see("qa-windows"))
    features_per_example = collections.defaultdict(list)
    for index, example_id in enumerate(features["example_id"]):
        features_per_example[example_id].append(index)
    offset_mappings = features["offset_mapping"]

    predictions, all_nbest = collections.OrderedDict(), collections.OrderedDict()
    for example in examples:
        candidates = []
        for index in features_per_example[example["id"]]:
            offsets, starts, ends = offset_mappings[index], start_logits[index], end_logits[index]
            best_starts = np.argsort(starts)[-1 : -n_best_size - 1 : -1].tolist()
            best_ends = np.argsort(ends)[-1 : -n_best_size - 1 : -1].tolist()
            for start in best_starts:
                for end in best_ends:
                    if start >= len(offsets) or end >= len(offsets) or offsets[start] is None or offsets[end] is None:
                        continue  # padding, the question or a special token
                    if end < start or end - start + 1 > max_answer_length:
                        continue
                    candidates.append({"offsets": (offsets[start][0], offsets[end][1]),
                                       "score": float(starts[start] + ends[end]),
                                       "start_logit": float(starts[start]), "end_logit": float(ends[end])})
        nbest = sorted(candidates, key=lambda candidate: candidate["score"], reverse=True)[:n_best_size]
        context = example["context"]
        for candidate in nbest:
            first, last = candidate.pop("offsets")
            candidate["text"] = context[first:last]
        if not nbest:  # no valid span in any window (e.g. every window was question only)
            nbest = [{"text": "", "score": 0.0, "start_logit": 0.0, "end_logit": 0.0}]
        scores = np.array([candidate["score"] for candidate in nbest])
        probabilities = np.exp(scores - scores.max())
        probabilities /= probabilities.sum()
        for candidate, probability in zip(nbest, probabilities):
            candidate["probability"] = float(probability)
        predictions[example["id"]] = nbest[0]["text"]
        all_nbest[example["id"]] = nbest
    return predictions, all_nbest
