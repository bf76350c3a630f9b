"""Spearman's rank correlation coefficient ρ (Pearson's r of the ranks, ties averaged) as a local ``evaluate`` module: ``hfext.metrics.load("spearmanr")`` (STS-B's GLUE metric,
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
    spearmanr: in [-1, 1]; p-value: with return_pvalue=True.
Example:
    >>> from hfext.metrics import load
    >>> load("spearmanr").compute(predictions=[1.0, 2.0, 3.0], references=[2.0, 4.0, 6.0])["spearmanr"]
    1.0
"""


@evaluate.utils.file_utils.add_start_docstrings(__doc__, _KWARGS_DESCRIPTION)
class Spearmanr(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__, citation="", inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("float64"), "references": datasets.Value("float64")}),
        )

    def _compute(self, predictions, references, return_pvalue=False):
        statistic, pvalue = functional.spearmanr(predictions, references)
        return {"spearmanr": statistic, "p-value": pvalue} if return_pvalue else {"spearmanr": statistic}
