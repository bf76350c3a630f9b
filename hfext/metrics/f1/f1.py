"""F1 as a local ``evaluate`` module: ``hfext.metrics.load("f1")``, the harmonic mean of precision and recall,
2·TP / (2·TP + FP + FN), with the Hub's ``f1`` inputs and options (scikit-learn's ``f1_score`` semantics,
0 where undefined).
"""

import datasets
import evaluate

from hfext.metrics import functional

_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted labels (integers).
    references: true labels (integers).
    labels: the labels to score with average None/macro/weighted (default: every label present).
    pos_label: the positive class for average='binary' (default 1).
    average: 'binary' (default), 'micro', 'macro', 'weighted', or None for one score per label.
    sample_weight: optional weight per example.
Returns:
    f1: in [0, 1] (a list per label with average=None).
Example:
    >>> from hfext.metrics import load
    >>> round(load("f1").compute(predictions=[0, 1, 1, 0], references=[0, 1, 0, 0])["f1"], 4)
    0.6667
"""


@evaluate.utils.file_utils.add_start_docstrings(__doc__, _KWARGS_DESCRIPTION)
class F1(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__, citation="", inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references, labels=None, pos_label=1, average="binary", sample_weight=None):
        return {"f1": functional.f1(predictions, references, labels, pos_label, average, sample_weight)}
