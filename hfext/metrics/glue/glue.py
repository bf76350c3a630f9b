"""The GLUE benchmark's metrics as a local ``evaluate`` module: ``hfext.metrics.load("glue", config_name="mrpc")``,
as the Hub's ``glue`` metric: accuracy (SST-2, MNLI, QNLI, RTE, WNLI), accuracy and F1 (MRPC, QQP), Matthews
correlation (CoLA), Pearson and Spearman correlation (STS-B, a regression over float scores).
"""

import datasets
import evaluate

from hfext.errors import see
from hfext.metrics import functional

_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted labels (integers), or scores (floats) for stsb.
    references: true labels, or scores for stsb.
Returns:
    the task's metrics: accuracy; accuracy and f1; matthews_correlation; or pearson and spearmanr.
Example:
    >>> from hfext.metrics import load
    >>> load("glue", config_name="mrpc").compute(predictions=[0, 1], references=[0, 1])
    {'accuracy': 1.0, 'f1': 1.0}
"""


@evaluate.utils.file_utils.add_start_docstrings(__doc__, _KWARGS_DESCRIPTION)
class Glue(evaluate.Metric):
    def _info(self):
        if self.config_name not in functional.GLUE_METRICS:
            raise KeyError(f"unknown GLUE config_name {self.config_name!r}; pick one of "
                           f"{sorted(functional.GLUE_METRICS)}" + see("metric-options"))
        kind = "float32" if self.config_name == "stsb" else "int64"
        return evaluate.MetricInfo(
            description=__doc__, citation="", inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value(kind), "references": datasets.Value(kind)}),
        )

    def _compute(self, predictions, references):
        return functional.glue(self.config_name, predictions, references)
