"""Word-analogy accuracy as a local ``evaluate`` module: ``hfext.metrics.load("word_analogy")``.

For analogy questions "a is to b as c is to ?" (Mikolov et al., 2013; ``questions-words.txt``), the share of
questions whose predicted word equals the expected one, overall and, when ``sections`` are given (e.g.
``capital-common-countries``, ``gram1-adjective-to-adverb``), per section, as gensim's
``evaluate_word_analogies``: comparison ignores case by default, and a question the model could not answer
(an out-of-vocabulary word: prediction ``None`` or ``""``) counts as wrong unless ``skip_unanswered=True``
drops it (gensim's default restricts questions to the vocabulary beforehand, which is the same).
"""

import datasets
import evaluate

_CITATION = """\
@inproceedings{mikolov2013efficient,
  title={Efficient Estimation of Word Representations in Vector Space}, author={Mikolov, Tomas and Chen, Kai and
  Corrado, Greg and Dean, Jeffrey}, booktitle={ICLR Workshop}, year={2013}}
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: the predicted word per question (None or "" when the model could not answer).
    references: the expected word per question.
    sections: optional section name per question; adds per-section results.
    case_insensitive: compare ignoring case (default True).
    skip_unanswered: drop unanswered questions instead of counting them wrong (default False).
Returns:
    accuracy, correct, total (questions scored), unanswered, and with sections: sections = {name: {accuracy,
    correct, total}}, plus semantic/syntactic accuracies for questions-words.txt's "gram*" naming.
Example:
    >>> from hfext.metrics import load
    >>> load("word_analogy").compute(predictions=["queen", "Paris"], references=["queen", "paris"])["accuracy"]
    1.0
"""


@evaluate.utils.file_utils.add_start_docstrings(__doc__, _KWARGS_DESCRIPTION)
class WordAnalogy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__, citation=_CITATION, inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references, sections=None, case_insensitive=True, skip_unanswered=False):
        if sections is not None and len(sections) != len(references):
            raise ValueError(f"got {len(sections)} sections for {len(references)} questions; pass one section each"
                             " (see docs/troubleshooting.md#metric-inputs)")

        def norm(word):
            return word.lower() if case_insensitive else word

        outcomes = []  # (section, correct) per scored question
        unanswered = 0
        for index, (predicted, expected) in enumerate(zip(predictions, references)):
            if not predicted:
                unanswered += 1
                if skip_unanswered:
                    continue
            section = sections[index] if sections is not None else None
            outcomes.append((section, bool(predicted) and norm(predicted) == norm(expected)))

        def score(items):
            correct = sum(ok for _, ok in items)
            return {"accuracy": correct / len(items) if items else 0.0, "correct": correct, "total": len(items)}

        result = {**score(outcomes), "unanswered": unanswered}
        if sections is not None:
            names = list(dict.fromkeys(section for section, _ in outcomes))
            result["sections"] = {name: score([o for o in outcomes if o[0] == name]) for name in names}
            syntactic = [o for o in outcomes if str(o[0]).startswith("gram")]
            semantic = [o for o in outcomes if not str(o[0]).startswith("gram")]
            result["semantic_accuracy"] = score(semantic)["accuracy"]
            result["syntactic_accuracy"] = score(syntactic)["accuracy"]
        return result
