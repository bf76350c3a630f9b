"""The local squad and seqeval `evaluate` modules: squad equals the official SQuAD v1.1 evaluation script's
arithmetic (re-typed here from evaluate-v1.1.py), seqeval equals the `seqeval` package's default mode on
varied tag sequences (IOB1, IOB2, IOBES, malformed I- starts, suffix tags), and bad input fails clearly."""

import collections
import random
import re
import string
import warnings

import pytest

from hfext.errors import see
from hfext.metrics import load


# --- the official SQuAD v1.1 evaluation script (evaluate-v1.1.py), as published --------------------------
def official_normalize_answer(s):
    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    def lower(text):
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def official_f1(prediction, ground_truth):
    prediction_tokens = official_normalize_answer(prediction).split()
    ground_truth_tokens = official_normalize_answer(ground_truth).split()
    common = collections.Counter(prediction_tokens) & collections.Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def official_evaluate(gold: dict, predictions: dict):
    f1 = exact_match = total = 0
    for qid, answers in gold.items():
        total += 1
        if qid not in predictions:
            continue
        exact_match += max(float(official_normalize_answer(predictions[qid]) == official_normalize_answer(a)) for a in answers)
        f1 += max(official_f1(predictions[qid], a) for a in answers)
    return {"exact_match": 100.0 * exact_match / total, "f1": 100.0 * f1 / total}


@pytest.fixture(scope="module")
def squad():
    return load("squad", keep_in_memory=True)


@pytest.fixture(scope="module")
def seqeval_metric():
    return load("seqeval", keep_in_memory=True)


def squad_inputs(gold, predictions):
    return ([{"id": qid, "prediction_text": text} for qid, text in predictions.items()],
            [{"id": qid, "answers": {"text": answers, "answer_start": [0] * len(answers)}} for qid, answers in gold.items()])


def test_squad_normalisation_cases(squad):
    gold = {"1": ["The Eiffel Tower"], "2": ["Denver Broncos", "the Broncos"], "3": ["an apple, a pear"],
            "4": ["1,000 km"], "5": ["Paris"], "6": ["Saint-Denis"]}
    predictions = {"1": "eiffel   tower!", "2": "Broncos", "3": "apple pear", "4": "1000 km", "5": "Lyon", "6": "Saint Denis"}
    predicted, references = squad_inputs(gold, predictions)
    result = squad.compute(predictions=predicted, references=references)
    # 1: articles, case, punctuation and spaces go; 2: the best of two gold answers; 3: "an"/"a" and the comma
    # go; 4: the comma goes ("1000"); 5: wrong; 6: "-" is removed, not a space ("saintdenis" vs "saint denis").
    assert result["exact_match"] == pytest.approx(100 * 4 / 6)
    assert result["f1"] == pytest.approx(100 * (4 + 0 + 0) / 6)
    assert result == pytest.approx(official_evaluate(gold, predictions))


def test_squad_needs_a_gold_answer(squad):
    with pytest.raises(ValueError, match="question 'q' has no gold answer; SQuAD v1.1 needs at least one") as error:
        squad.compute(predictions=[{"id": "q", "prediction_text": "Paris"}],
                      references=[{"id": "q", "answers": {"text": [], "answer_start": []}}])
    assert str(error.value).endswith(see("squad-format"))


def test_squad_equals_the_official_script_on_random_answers(squad):
    rng = random.Random(0)
    words = ["the", "a", "an", "Tower", "tower,", "Paris", "paris.", "of", "France", "1889", "(iron)", "lattice", "Gustave"]
    gold, predictions = {}, {}
    for i in range(300):
        gold[str(i)] = [" ".join(rng.choices(words, k=rng.randint(1, 5))) for _ in range(rng.randint(1, 3))]
        predictions[str(i)] = " ".join(rng.choices(words, k=rng.randint(0, 6)))
    predictions["unknown"] = predictions.pop("7")  # question 7 unanswered scores 0, as in the official script
    predicted, references = squad_inputs(gold, predictions)
    ours = squad.compute(predictions=predicted, references=references)
    official = official_evaluate(gold, predictions)
    assert 0 < official["exact_match"] < official["f1"] < 100
    assert ours == pytest.approx(official, abs=1e-9)


def _seqeval_package(references, predictions, suffix=False):
    from seqeval.metrics import (
        accuracy_score,
        classification_report,
        f1_score,
        precision_score,
        recall_score,
    )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = classification_report(references, predictions, suffix=suffix, output_dict=True)
        overall = {
            "overall_precision": precision_score(references, predictions, suffix=suffix),
            "overall_recall": recall_score(references, predictions, suffix=suffix),
            "overall_f1": f1_score(references, predictions, suffix=suffix),
            "overall_accuracy": accuracy_score(references, predictions),
        }
    per_type = {name: {"precision": v["precision"], "recall": v["recall"], "f1": v["f1-score"], "number": v["support"]}
                for name, v in report.items() if not name.endswith("avg")}
    return {**per_type, **overall}


def _assert_equal(ours, theirs):
    assert set(ours) == set(theirs)
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, abs=1e-12), key


def test_seqeval_hand_made_cases(seqeval_metric):
    pytest.importorskip("seqeval")
    cases = [
        # IOB2, one wrong boundary
        ([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "O", "O", "B-LOC"]]),
        # IOB1 (original CoNLL-2003 files): I- starts an entity, B- only splits two adjacent ones
        ([["I-ORG", "I-ORG", "B-ORG", "O", "I-LOC"]], [["I-ORG", "I-ORG", "I-ORG", "O", "I-LOC"]]),
        # malformed: I- after O, I- of another type, a lone I- at the start of a sentence
        ([["O", "I-PER", "I-LOC", "O"], ["I-MISC", "B-MISC"]], [["O", "I-PER", "I-PER", "O"], ["I-MISC", "I-MISC"]]),
        # IOBES
        ([["S-PER", "B-ORG", "I-ORG", "E-ORG", "O"]], [["S-PER", "B-ORG", "E-ORG", "O", "O"]]),
        # entities never run across sentences
        ([["O", "B-PER"], ["I-PER", "O"]], [["O", "B-PER"], ["I-PER", "O"]]),
        # no predicted entities at all / no gold entities at all
        ([["B-PER", "O"]], [["O", "O"]]),
        ([["O", "O"]], [["B-LOC", "O"]]),
    ]
    for references, predictions in cases:
        _assert_equal(seqeval_metric.compute(predictions=predictions, references=references),
                      _seqeval_package(references, predictions))
    ours = seqeval_metric.compute(predictions=cases[1][1], references=cases[1][0])
    assert ours["ORG"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "number": 2}  # I I | B vs one long entity
    assert ours["overall_accuracy"] == pytest.approx(0.8)


def test_seqeval_equals_the_package_on_random_sequences(seqeval_metric):
    pytest.importorskip("seqeval")
    rng = random.Random(1)
    for tags, suffix in ((["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "I-MISC"], False),
                         (["O", "B-PER", "I-PER", "E-PER", "S-PER", "S-ORG", "B-ORG", "E-ORG"], False),
                         (["O", "PER-B", "PER-I", "LOC-B", "LOC-I"], True)):
        for _ in range(60):
            references = [[rng.choice(tags) for _ in range(rng.randint(1, 9))] for _ in range(rng.randint(1, 5))]
            predictions = [[t if rng.random() < 0.6 else rng.choice(tags) for t in sentence] for sentence in references]
            _assert_equal(seqeval_metric.compute(predictions=predictions, references=references, suffix=suffix),
                          _seqeval_package(references, predictions, suffix=suffix))


def test_seqeval_bad_input(seqeval_metric):
    with pytest.raises(ValueError, match="sentence 1: 1 predicted tags for 2 gold tags") as error:
        seqeval_metric.compute(predictions=[["O"], ["O"]], references=[["O"], ["O", "B-PER"]])
    assert str(error.value).endswith(see("metric-inputs"))  # a literal pointer: the module doesn't import hfext
    with pytest.raises(ValueError, match="only seqeval's default") as error:
        seqeval_metric.compute(predictions=[["O"]], references=[["O"]], mode="strict")
    assert str(error.value).endswith(see("metric-options"))
