"""Perplexity from a model's per-token scores, as a local ``evaluate`` module: ``hfext.metrics.load("perplexity")``.

Unlike the Hub's ``perplexity`` (which downloads a model and runs it), this scores what your model already
computed: ``predictions`` holds, per text, the natural-log likelihood of each predicted token,
log p(w_t | context) <= 0 (``input_type="log_likelihood"``, the default), or the per-token cross-entropy
losses -log p(w_t | context) >= 0 (``input_type="loss"``, e.g. ``F.cross_entropy(..., reduction="none")``).
Perplexity = exp(−(1/N) Σ log p(w_t | context)) over all N tokens of all texts (the corpus perplexity);
``perplexities`` are the same per text and ``mean_perplexity`` their unweighted mean (the Hub metric's
outputs). Empty texts are refused (they have no perplexity).
"""

import math

import datasets
import evaluate
import numpy as np

_KWARGS_DESCRIPTION = """
Args:
    predictions: per text, a list of per-token natural-log likelihoods (or losses with input_type="loss").
    input_type: "log_likelihood" (default, values <= 0) or "loss" (negative log-likelihoods, values >= 0).
Returns:
    perplexity: exp of the mean token loss over all tokens; loss: that mean loss;
    perplexities: one per text; mean_perplexity: their mean.
Example:
    >>> import math
    >>> from hfext.metrics import load
    >>> round(load("perplexity").compute(predictions=[[math.log(0.5), math.log(0.5)]])["perplexity"], 6)
    2.0
"""


@evaluate.utils.file_utils.add_start_docstrings(__doc__, _KWARGS_DESCRIPTION)
class Perplexity(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__, citation="", inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Sequence(datasets.Value("float64"))}),
        )

    def _compute(self, predictions, input_type="log_likelihood"):
        if input_type not in ("log_likelihood", "loss"):
            raise ValueError(f"input_type={input_type!r}; pass 'log_likelihood' (log p <= 0) or 'loss' (-log p >= 0)"
                             " (see docs/troubleshooting.md#metric-options)")
        losses = [np.asarray(text, dtype=np.float64) * (-1.0 if input_type == "log_likelihood" else 1.0)
                  for text in predictions]
        for index, text in enumerate(losses):
            if len(text) == 0:
                raise ValueError(f"text {index} has no tokens; drop empty texts before computing perplexity"
                                 " (see docs/troubleshooting.md#metric-inputs)")
            if np.any(text < 0):
                wrong = "positive log-likelihoods" if input_type == "log_likelihood" else "negative losses"
                raise ValueError(f"text {index} has {wrong}; pass input_type="
                                 f"{'loss' if input_type == 'log_likelihood' else 'log_likelihood'!r} for this input"
                                 " (see docs/troubleshooting.md#metric-options)")
        if not losses:
            raise ValueError("no texts to score; pass at least one text's scores"
                             " (see docs/troubleshooting.md#metric-inputs)")
        mean_loss = float(np.concatenate(losses).mean())
        perplexities = [math.exp(float(text.mean())) for text in losses]
        return {"perplexity": math.exp(mean_loss), "loss": mean_loss, "perplexities": perplexities,
                "mean_perplexity": float(np.mean(perplexities))}
