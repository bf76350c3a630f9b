"""Accuracy as a local ``evaluate`` module: ``hfext.metrics.load("accuracy")`` (the Hub's ``accuracy`` needs
the Hub to load). The share of predictions equal to their reference; the same inputs and output as the Hub's.
"""

import datasets
import evaluate

from hfext.metrics import functional

_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted labels (integers).
    references: true labels (integers).
    normalize: if False, return the number of correct predictions instead of their share.
    sample_weight: optional weight per example.
Returns:
    accuracy: in [0, 1] (or a count with normalize=False).
Example:
    >>> from hfext.metrics import load
    >>> load("accuracy").compute(predictions=[0, 1, 1], references=[0, 1, 0])["accuracy"]
    0.6666666666666666
"""


@evaluate.utils.file_utils.add_start_docstrings(__doc__, _KWARGS_DESCRIPTION)
class Accuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__, citation="", inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references, normalize=True, sample_weight=None):
        return {"accuracy": functional.accuracy(predictions, references, normalize, sample_weight)}
