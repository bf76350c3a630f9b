"""hfext.data.question_answering: the SQuAD v1.1 JSON reader (and its JSON-lines twin), answer checks,
doc_stride windows with start/end labels and offsets, and n-best post-processing across windows."""

import itertools
import json

import numpy as np
import pytest
from conftest import REPO

from hfext.data.question_answering import (
    load_squad_dataset,
    postprocess_qa_predictions,
    prepare_train_features,
    prepare_validation_features,
    read_squad_file,
    squad_features,
)
from hfext.errors import see

SQUAD = REPO / "tests" / "fixtures" / "squad"


@pytest.fixture(scope="module")
def tokenizer():
    from hfext.training.bert import train_wordpiece

    rows = read_squad_file(SQUAD / "train-v1.1.json")
    return train_wordpiece([r["context"] for r in rows] + [r["question"] for r in rows], vocab_size=300, lowercase=False)


def as_batch(rows):
    return {key: [row[key] for row in rows] for key in rows[0]}


def test_reader_flattens_the_official_layout_and_reads_json_lines_alike(tmp_path):
    rows = read_squad_file(SQUAD / "dev-v1.1.json")
    document = json.loads((SQUAD / "dev-v1.1.json").read_text())
    assert len(rows) == sum(len(p["qas"]) for a in document["data"] for p in a["paragraphs"])
    first = document["data"][0]["paragraphs"][0]
    assert rows[0] == {"id": first["qas"][0]["id"], "title": document["data"][0]["title"], "context": first["context"],
                       "question": first["qas"][0]["question"],
                       "answers": {"text": [a["text"] for a in first["qas"][0]["answers"]],
                                   "answer_start": [a["answer_start"] for a in first["qas"][0]["answers"]]}}
    dataset = load_squad_dataset(SQUAD / "dev-v1.1.json")
    assert dataset.features == squad_features() and dataset[0] == rows[0]
    dataset.to_json(tmp_path / "dev.jsonl")  # the flat rows of the Hub's squad, one per line
    assert read_squad_file(tmp_path / "dev.jsonl") == rows


def test_answer_start_must_point_at_the_answer(tmp_path):
    document = json.loads((SQUAD / "dev-v1.1.json").read_text())
    qa = document["data"][0]["paragraphs"][1]["qas"][0]
    qa["answers"][0]["answer_start"] += 1
    (tmp_path / "bad.json").write_text(json.dumps(document))
    text = qa["answers"][0]["text"]
    with pytest.raises(ValueError, match=rf"question '{qa['id']}': answer_start \d+ points at '.+' in the context, "
                                         rf"not at the answer text '{text}'"):
        read_squad_file(tmp_path / "bad.json")
    document["version"] = "v2.0"
    (tmp_path / "v2.json").write_text(json.dumps(document))
    with pytest.raises(ValueError, match="SQuAD v2.0 .* not supported") as error:
        read_squad_file(tmp_path / "v2.json")
    assert str(error.value).endswith(see("squad-format"))
    (tmp_path / "broken.jsonl").write_text('{"id": "1"}\nnot json\n')
    with pytest.raises(ValueError, match=r"broken.jsonl:2: not JSON"):
        read_squad_file(tmp_path / "broken.jsonl")
    (tmp_path / "one.jsonl").write_text('{"id": "1"}\n')
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['context', 'question', 'answers'\]"):
        read_squad_file(tmp_path / "one.jsonl")


def _context_span(offsets, first, last):
    return offsets[first][0], offsets[last][1]


def test_long_contexts_become_overlapping_windows_labelled_where_the_answer_is(tokenizer):
    rows = [r for r in read_squad_file(SQUAD / "train-v1.1.json") if len(r["context"]) > 300][:5]
    # An answer that ends the context exactly (no "." after it): run_qa's label search would run into padding.
    context = "Many people in Lyon work for Acme. Acme was founded by Anna Berger"
    rows.append({"id": "end", "title": "", "context": context, "question": "Who founded Acme?",
                 "answers": {"text": ["Anna Berger"], "answer_start": [context.index("Anna")]}})
    assert len(rows) == 6
    batch = as_batch(rows)
    stride = 8
    train = prepare_train_features(batch, tokenizer, max_seq_length=40, doc_stride=stride)
    evaluation = prepare_validation_features(batch, tokenizer, max_seq_length=40, doc_stride=stride)
    assert len(train["input_ids"]) == len(evaluation["input_ids"]) > len(rows)  # long contexts: several windows
    assert all(len(ids) == 40 for ids in train["input_ids"])
    per_example = {}
    for i, example_id in enumerate(evaluation["example_id"]):
        per_example.setdefault(example_id, []).append(i)
    for row in rows:
        windows = per_example[row["id"]]
        answer = row["answers"]["text"][0]
        labelled = 0
        for i in windows:
            offsets = evaluation["offset_mapping"][i]
            context_positions = [k for k, o in enumerate(offsets) if o is not None]
            # the question and special tokens have no offsets; the context tokens are contiguous after them
            assert context_positions == list(range(context_positions[0], context_positions[-1] + 1))
            start, end = train["start_positions"][i], train["end_positions"][i]
            if start == 0:
                assert end == 0 and train["input_ids"][i][0] == tokenizer.cls_token_id
                first, last = _context_span(offsets, context_positions[0], context_positions[-1])
                start_char = row["answers"]["answer_start"][0]
                assert not (first <= start_char and start_char + len(answer) <= last)  # really not in this window
            else:
                labelled += 1
                first, last = _context_span(offsets, start, end)
                assert row["context"][first:last] == answer
        assert labelled >= 1
        for a, b in itertools.pairwise(windows):  # consecutive windows share `stride` context tokens
            left = [o for o in evaluation["offset_mapping"][a] if o is not None]
            right = [o for o in evaluation["offset_mapping"][b] if o is not None]
            assert left[-stride:] == right[:stride]
    with pytest.raises(ValueError, match="--doc_stride .40. must be smaller than --max_seq_length .40.") as error:
        prepare_train_features(batch, tokenizer, max_seq_length=40, doc_stride=40)
    assert str(error.value).endswith(see("qa-windows"))
    # smaller than the window but not than the room a question leaves: the Rust tokenizer would panic
    with pytest.raises(ValueError, match=r"--doc_stride \(35\) leaves no room .* a question of \d+ tokens") as error:
        prepare_train_features(batch, tokenizer, max_seq_length=40, doc_stride=35)
    assert str(error.value).endswith(see("qa-windows"))


def test_postprocessing_takes_the_best_valid_span_over_all_windows():
    context = "Acme was founded by Anna Berger in 1901. Boris Keller visited Lyon."
    examples = [{"id": "q", "context": context}, {"id": "empty", "context": "x"}]
    span = lambda word: (context.index(word), context.index(word) + len(word))
    # window 0: [CLS] question [SEP] "Acme was founded by Anna" ; window 1: "Anna Berger in 1901 . Boris Keller"
    features = {
        "example_id": ["q", "q", "empty"],
        "offset_mapping": [
            [None, None, None, span("Acme"), span("was"), span("founded"), span("by"), span("Anna")],
            [None, None, span("Anna"), span("Berger"), span("in"), span("1901"), span("Boris"), span("Keller")],
            [None, None, None, None, None, None, None, None],  # no context token at all
        ],
    }
    start = np.full((3, 8), -5.0)
    end = np.full((3, 8), -5.0)
    start[0, 1], end[0, 1] = 9.0, 9.0  # the best logits, but on the question: not an answer
    start[0, 7], end[0, 3] = 6.0, 6.0  # ends before it starts
    start[1, 2], end[1, 7] = 4.0, 5.0  # "Anna ... Keller": 6 tokens, longer than max_answer_length=3
    start[1, 6], end[1, 7] = 2.0, 3.5  # "Boris Keller": valid, 5.5
    start[1, 2], end[1, 3] = 4.0, 2.5  # "Anna Berger": valid, 6.5 (start 4.0 also feeds the long span above)
    predictions, nbest = postprocess_qa_predictions(examples, features, start, end, n_best_size=3, max_answer_length=3)
    assert predictions == {"q": "Anna Berger", "empty": ""}
    assert [c["text"] for c in nbest["q"]][:2] == ["Anna Berger", "Boris Keller"]
    assert nbest["q"][0]["score"] == pytest.approx(6.5)
    assert sum(c["probability"] for c in nbest["q"]) == pytest.approx(1.0)
    # With a longer limit the long span wins (4.0 + 5.0 = 9.0): the limit is what excluded it.
    assert postprocess_qa_predictions(examples, features, start, end, 3, 6)[0]["q"] == context[span("Anna")[0]:span("Keller")[1]]
    with pytest.raises(ValueError, match="got 2 start and 2 end logit rows for 3 features"):
        postprocess_qa_predictions(examples, features, start[:2], end[:2])
