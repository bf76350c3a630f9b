"""Entity-level precision, recall and F1 (CoNLL-2003 NER) as a local ``evaluate`` module:
``evaluate.load("path/to/hfext/metrics/seqeval")``.

The same inputs and outputs as the Hub's ``seqeval`` metric, and the same counting as the ``seqeval``
package's default (conlleval-compatible) mode, without needing either: entities are read from IOB1, IOB2,
IOE or IOBES tags (an ``I-X`` after ``O`` or after another type starts a new entity, as conlleval does);
a predicted entity counts only if its type and both boundaries equal a gold entity. Per entity type:
precision, recall, F1 and ``number`` (gold entities); overall: micro-averaged precision/recall/F1 and the
token accuracy. Entities never cross sentence boundaries.
"""

from collections import defaultdict

import datasets
import evaluate

_CITATION = """\
@misc{seqeval,
  title={{seqeval}: A Python framework for sequence labeling evaluation},
  url={https://github.com/chakki-works/seqeval},
  author={Hiroki Nakayama},
  year={2018},
}
@inproceedings{tjong-kim-sang-de-meulder-2003-introduction,
    title = "Introduction to the {C}o{NLL}-2003 Shared Task: Language-Independent Named Entity Recognition",
    author = "Tjong Kim Sang, Erik F. and De Meulder, Fien",
    booktitle = "Proceedings of the Seventh Conference on Natural Language Learning at {HLT}-{NAACL} 2003",
    year = "2003",
    pages = "142--147",
}
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: list of sentences, each a list of predicted tags ("B-PER", "I-LOC", "O", ...).
    references: list of sentences, each a list of gold tags (same lengths as the predictions).
    suffix: tags carry the prefix at the end ("PER-B") instead of the start.
    zero_division: the value of a precision/recall whose denominator is 0 ("warn" and 0 give 0, or 1).
Returns:
    per entity type: {"precision", "recall", "f1", "number"}; overall_precision, overall_recall, overall_f1
    (micro-averaged over entities) and overall_accuracy (tokens).
Example:
    >>> seqeval = evaluate.load("hfext/metrics/seqeval")
    >>> results = seqeval.compute(predictions=[["B-PER", "I-PER", "O"]], references=[["B-PER", "I-PER", "O"]])
    >>> results["overall_f1"], results["PER"]["number"]
    (1.0, 1)
"""


def _end_of_chunk(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    """Whether the entity running up to the previous token ends before this one (conlleval's endOfChunk)."""
    if prev_tag in ("E", "S"):
        return True
    if prev_tag in ("B", "I") and tag in ("B", "S", "O"):
        return True
    return prev_tag not in ("O", ".") and prev_type != type_


def _start_of_chunk(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    """Whether an entity starts at this token (conlleval's startOfChunk): an I-/E- after O, E or S starts one."""
    if tag in ("B", "S"):
        return True
    if prev_tag in ("E", "S", "O") and tag in ("E", "I"):
        return True
    return tag not in ("O", ".") and prev_type != type_


def get_entities(sentences, suffix: bool = False) -> list[tuple[str, int, int]]:
    """``(type, first, last)`` token positions of every entity, sentences joined with an ``O`` between them."""
    tags = [tag for sentence in sentences for tag in [*sentence, "O"]]
    prev_tag, prev_type, begin, chunks = "O", "", 0, []
    for i, chunk in enumerate([*tags, "O"]):
        if suffix:
            tag, type_ = chunk[-1], chunk[:-1].rsplit("-", maxsplit=1)[0] or "_"
        else:
            tag, type_ = chunk[0], chunk[1:].split("-", maxsplit=1)[-1] or "_"
        if _end_of_chunk(prev_tag, tag, prev_type, type_):
            chunks.append((prev_type, begin, i - 1))
        if _start_of_chunk(prev_tag, tag, prev_type, type_):
            begin = i
        prev_tag, prev_type = tag, type_
    return chunks


def _divide(numerator: int, denominator: int, zero_division) -> float:
    if denominator == 0:
        return 0.0 if zero_division in ("warn", 0) else 1.0
    return numerator / denominator


def _f1(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


@evaluate.utils.file_utils.add_start_docstrings(__doc__, _KWARGS_DESCRIPTION)
class Seqeval(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__,
            citation=_CITATION,
            homepage="https://github.com/chakki-works/seqeval",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("string", id="label"), id="sequence"),
                    "references": datasets.Sequence(datasets.Value("string", id="label"), id="sequence"),
                }
            ),
            reference_urls=["https://github.com/chakki-works/seqeval"],
        )

    def _compute(self, predictions, references, suffix: bool = False, scheme=None, mode=None, zero_division="warn"):
        if scheme is not None or mode is not None:
            raise ValueError(
                f"scheme={scheme!r} / mode={mode!r}: only seqeval's default (conlleval) mode is supported; "
                "leave scheme and mode unset (see docs/troubleshooting.md#metric-options)"
            )
        if zero_division not in ("warn", 0, 1):
            raise ValueError(f"zero_division must be 'warn', 0 or 1, got {zero_division!r}"
                             " (see docs/troubleshooting.md#metric-options)")
        for i, (prediction, reference) in enumerate(zip(predictions, references)):
            if len(prediction) != len(reference):
                raise ValueError(
                    f"sentence {i}: {len(prediction)} predicted tags for {len(reference)} gold tags; "
                    "pass one predicted tag per gold tag (see docs/troubleshooting.md#metric-inputs)"
                )
        gold, predicted = defaultdict(set), defaultdict(set)
        for type_, first, last in get_entities(references, suffix):
            gold[type_].add((first, last))
        for type_, first, last in get_entities(predictions, suffix):
            predicted[type_].add((first, last))

        results = {}
        total_correct = total_predicted = total_gold = 0
        for type_ in sorted(set(gold) | set(predicted)):
            correct = len(gold[type_] & predicted[type_])
            precision = _divide(correct, len(predicted[type_]), zero_division)
            recall = _divide(correct, len(gold[type_]), zero_division)
            results[type_] = {"precision": precision, "recall": recall, "f1": _f1(precision, recall),
                              "number": len(gold[type_])}
            total_correct += correct
            total_predicted += len(predicted[type_])
            total_gold += len(gold[type_])
        precision = _divide(total_correct, total_predicted, zero_division)
        recall = _divide(total_correct, total_gold, zero_division)
        tokens = sum(len(reference) for reference in references)
        matches = sum(p == r for prediction, reference in zip(predictions, references)
                      for p, r in zip(prediction, reference))
        results.update(overall_precision=precision, overall_recall=recall, overall_f1=_f1(precision, recall),
                       overall_accuracy=matches / tokens if tokens else 0.0)
        return results
