"""Word-similarity correlation as a local ``evaluate`` module: ``hfext.metrics.load("word_similarity")``.

How well a model's similarities for word pairs (usually the cosine of their vectors) rank the pairs as people
did (WordSim353, SimLex-999): Spearman's ρ between ``predictions`` (model scores) and ``references`` (human
scores), plus Pearson's r, as gensim's ``evaluate_word_pairs``. A pair the model cannot score (an
out-of-vocabulary word: prediction ``None`` or NaN) is left out and counted in ``oov_ratio`` (%), or scored 0
with ``dummy4unknown=True`` (gensim's option of that name).
"""

import datasets
import evaluate
import numpy as np

from hfext.errors import see
from hfext.metrics import functional

_CITATION = """\
@inproceedings{finkelstein2001placing, title={Placing search in context: The concept revisited},
  author={Finkelstein, Lev and others}, booktitle={WWW}, year={2001}}
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: the model's similarity per pair (None or NaN when a word is out of vocabulary).
    references: the human similarity per pair.
    dummy4unknown: score unknown pairs 0 instead of leaving them out (default False).
Returns:
    spearmanr, pearsonr (over the pairs scored), oov_ratio (% of pairs unknown), pairs (pairs scored).
Example:
    >>> from hfext.metrics import load
    >>> load("word_similarity").compute(predictions=[0.9, 0.1, None, 0.5], references=[9.0, 1.0, 5.0, 4.0])["spearmanr"]
    1.0
"""


@evaluate.utils.file_utils.add_start_docstrings(__doc__, _KWARGS_DESCRIPTION)
class WordSimilarity(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__, citation=_CITATION, inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("float64"), "references": datasets.Value("float64")}),
        )

    def _compute(self, predictions, references, dummy4unknown=False):
        model = np.array([np.nan if p is None else p for p in predictions], dtype=np.float64)
        human = np.asarray(references, dtype=np.float64)
        unknown = np.isnan(model)
        if dummy4unknown:
            model[unknown] = 0.0
        else:
            model, human = model[~unknown], human[~unknown]
        if len(model) < 2:
            raise ValueError(f"only {len(model)} pair(s) could be scored ({int(unknown.sum())} unknown); "
                             "a correlation needs at least 2" + see("metric-inputs"))
        return {"spearmanr": functional.spearmanr(model, human)[0], "pearsonr": functional.pearsonr(model, human)[0],
                "oov_ratio": 100.0 * float(unknown.mean()) if len(unknown) else 0.0, "pairs": len(model)}
