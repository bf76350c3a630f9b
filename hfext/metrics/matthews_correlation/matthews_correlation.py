"""Matthews correlation coefficient as a local ``evaluate`` module: ``hfext.metrics.load("matthews_correlation")``
(CoLA's GLUE metric). In [-1, 1]: 1 perfect, 0 no better than chance (or a constant prediction), -1 inverse;
multi-class as scikit-learn's ``matthews_corrcoef``.
"""

import datasets
import evaluate

from hfext.metrics import functional

_CITATION = """\
@article{matthews1975comparison,
  title={Comparison of the predicted and observed secondary structure of T4 phage lysozyme},
  author={Matthews, Brian W}, journal={Biochimica et Biophysica Acta (BBA)-Protein Structure},
  volume={405}, number={2}, pages={442--451}, year={1975}}
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted labels (integers).
    references: true labels (integers).
    sample_weight: optional weight per example.
Returns:
    matthews_correlation: in [-1, 1].
Example:
    >>> from hfext.metrics import load
    >>> round(load("matthews_correlation").compute(predictions=[0, 1, 1, 0], references=[0, 1, 0, 0])["matthews_correlation"], 4)
    0.5774
"""


@evaluate.utils.file_utils.add_start_docstrings(__doc__, _KWARGS_DESCRIPTION)
class MatthewsCorrelation(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__, citation=_CITATION, inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references, sample_weight=None):
        return {"matthews_correlation": functional.matthews_correlation(predictions, references, sample_weight)}
