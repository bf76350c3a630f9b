"""SQuAD v1.1 exact match and F1 as a local ``evaluate`` module: ``evaluate.load("path/to/hfext/metrics/squad")``.

The same inputs and outputs as the Hub's ``squad`` metric (which needs the Hub to load) and the official
``evaluate-v1.1.py`` script: answers are normalised (lower-cased, punctuation removed, the articles
*a/an/the* removed, whitespace collapsed); exact match is 1 when the normalised prediction equals a
normalised gold answer; F1 is the bag-of-tokens overlap F1; each prediction takes the best score over its
gold answers, and both are averaged over the questions and reported in percent.
"""

import collections
import logging
import re
import string

import datasets
import evaluate

_CITATION = """\
@inproceedings{rajpurkar-etal-2016-squad,
    title = "{SQ}u{AD}: 100,000+ Questions for Machine Comprehension of Text",
    author = "Rajpurkar, Pranav and Zhang, Jian and Lopyrev, Konstantin and Liang, Percy",
    booktitle = "Proceedings of the 2016 Conference on Empirical Methods in Natural Language Processing",
    year = "2016",
    pages = "2383--2392",
}
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: list of {"id": question id, "prediction_text": the predicted answer}.
    references: list of {"id": question id, "answers": {"text": [gold answers], "answer_start": [offsets]}}.
Returns:
    exact_match: percentage of predictions matching a gold answer after normalisation.
    f1: mean token-overlap F1 against the best-matching gold answer, in percent.
Example:
    >>> squad = evaluate.load("hfext/metrics/squad")
    >>> squad.compute(predictions=[{"id": "1", "prediction_text": "The Eiffel tower"}],
    ...               references=[{"id": "1", "answers": {"text": ["Eiffel Tower"], "answer_start": [0]}}])
    {'exact_match': 100.0, 'f1': 100.0}
"""

logger = logging.getLogger(__name__)

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """The official SQuAD v1.1 normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def f1_score(prediction: str, ground_truth: str) -> float:
    prediction_tokens = normalize_answer(prediction).split()
    ground_truth_tokens = normalize_answer(ground_truth).split()
    common = collections.Counter(prediction_tokens) & collections.Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(prediction_tokens)
    recall = num_same / len(ground_truth_tokens)
    return 2 * precision * recall / (precision + recall)


def exact_match_score(prediction: str, ground_truth: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(ground_truth))


@evaluate.utils.file_utils.add_start_docstrings(__doc__, _KWARGS_DESCRIPTION)
class Squad(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__,
            citation=_CITATION,
            homepage="https://rajpurkar.github.io/SQuAD-explorer/",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": {"id": datasets.Value("string"), "prediction_text": datasets.Value("string")},
                    "references": {
                        "id": datasets.Value("string"),
                        "answers": datasets.features.Sequence(
                            {"text": datasets.Value("string"), "answer_start": datasets.Value("int32")}
                        ),
                    },
                }
            ),
            reference_urls=["https://rajpurkar.github.io/SQuAD-explorer/"],
        )

    def _compute(self, predictions, references):
        gold = {reference["id"]: reference["answers"]["text"] for reference in references}
        predicted = {prediction["id"]: prediction["prediction_text"] for prediction in predictions}
        missing = sorted(set(gold) - set(predicted))
        if missing:  # the official script scores them 0 and says so
            logger.warning("no prediction for %d question(s) (e.g. %s); they score 0", len(missing), missing[:3])
        if not gold:
            return {"exact_match": 0.0, "f1": 0.0}
        exact_match = f1 = 0.0
        for qid, answers in gold.items():
            if not answers:
                raise ValueError(f"question {qid!r} has no gold answer; SQuAD v1.1 needs at least one"
                                 " (see docs/troubleshooting.md#squad-format)")
            if qid in predicted:
                exact_match += max(exact_match_score(predicted[qid], answer) for answer in answers)
                f1 += max(f1_score(predicted[qid], answer) for answer in answers)
        return {"exact_match": 100.0 * exact_match / len(gold), "f1": 100.0 * f1 / len(gold)}
