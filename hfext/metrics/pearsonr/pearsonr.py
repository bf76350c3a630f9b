"""Pearson's correlation coefficient r (linear association) as a local ``evaluate`` module: ``hfext.metrics.load("pearsonr")`` (STS-B's GLUE metric,
computed with scipy). nan when either input is constant (the coefficient is undefined there).
"""

import datasets
import evaluate

from hfext.metrics import functional

_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted scores (floats).
    references: true scores (floats).
    return_pvalue: also return the two-sided p-value (default False).
Returns:
    pearsonr: in [-1, 1]; p-value: with return_pvalue=True.
Example:
    >>> from hfext.metrics import load
    >>> load("pearsonr").compute(predictions=[1.0, 2.0, 3.0], references=[2.0, 4.0, 6.0])["pearsonr"]
    1.0
"""


@evaluate.utils.file_utils.add_start_docstrings(__doc__, _KWARGS_DESCRIPTION)
class Pearsonr(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__, citation="", inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("float64"), "references": datasets.Value("float64")}),
        )

    def _compute(self, predictions, references, return_pvalue=False):
        statistic, pvalue = functional.pearsonr(predictions, references)
        return {"pearsonr": statistic, "p-value": pvalue} if return_pvalue else {"pearsonr": statistic}
