"""The metrics' arithmetic, in one place: the local ``evaluate`` modules (``hfext/metrics/<name>/``) and the
recipes both call these. Plain numpy/scipy, checked against scikit-learn and scipy in tests/test_metrics.py.

>>> from hfext.metrics.functional import accuracy, f1, matthews_correlation
>>> accuracy([0, 1, 1, 0], [0, 1, 0, 0])
0.75
>>> round(f1([0, 1, 1, 0], [0, 1, 0, 0]), 4)
0.6667
>>> round(matthews_correlation([0, 1, 1, 0], [0, 1, 0, 0]), 4)
0.5774
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import see

AVERAGES = ("binary", "micro", "macro", "weighted", None)


def _pair(predictions, references, sample_weight=None):
    predictions, references = np.asarray(predictions), np.asarray(references)
    if predictions.shape[0] != references.shape[0]:
        raise ValueError(f"got {predictions.shape[0]} predictions for {references.shape[0]} references; pass one each"
                         + see("metric-inputs"))
    if predictions.shape[0] == 0:
        raise ValueError("no predictions to score; pass at least one prediction and reference" + see("metric-inputs"))
    weights = np.ones(len(references)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if weights.shape != (len(references),):
        raise ValueError(f"sample_weight has shape {weights.shape}; it needs one weight per example ({len(references)})"
                         + see("metric-inputs"))
    return predictions, references, weights


def accuracy(predictions, references, normalize: bool = True, sample_weight=None) -> float:
    """The (weighted) share of predictions equal to their reference; the (weighted) count if not ``normalize``."""
    predictions, references, weights = _pair(predictions, references, sample_weight)
    correct = float(np.sum(weights * (predictions == references)))
    return correct / float(np.sum(weights)) if normalize else correct


def f1(predictions, references, labels: Sequence | None = None, pos_label=1, average: str | None = "binary",
       sample_weight=None):
    """F1 = 2·TP / (2·TP + FP + FN), 0 where undefined (no positives predicted or present), as scikit-learn's
    ``f1_score`` with ``zero_division=0``. ``average``: ``binary`` (the ``pos_label`` class), ``micro``
    (pooled counts), ``macro`` (unweighted mean over ``labels``), ``weighted`` (mean weighted by support) or
    ``None`` (a list, one score per label in ``labels`` order, default sorted present labels)."""
    if average not in AVERAGES:
        raise ValueError(f"average={average!r} is not one of {list(AVERAGES)}" + see("metric-options"))
    predictions, references, weights = _pair(predictions, references, sample_weight)
    present = np.union1d(np.unique(predictions), np.unique(references))
    if average == "binary":
        if len(present) > 2:
            raise ValueError(f"average='binary' needs two classes, got {present.tolist()}; pass average='macro', "
                             "'micro' or 'weighted' for multi-class F1" + see("metric-options"))
        if len(present) == 2 and pos_label not in present:
            raise ValueError(f"pos_label={pos_label!r} is not one of the labels {present.tolist()}; pass one of them"
                             + see("metric-options"))
        labels = [pos_label]
    elif labels is None:
        labels = present.tolist()
    labels = np.asarray(labels)
    # (L,) weighted counts per label
    tp = np.array([np.sum(weights * ((predictions == c) & (references == c))) for c in labels], dtype=np.float64)
    fp = np.array([np.sum(weights * ((predictions == c) & (references != c))) for c in labels], dtype=np.float64)
    fn = np.array([np.sum(weights * ((predictions != c) & (references == c))) for c in labels], dtype=np.float64)
    if average == "micro":
        tp, fp, fn = tp.sum(keepdims=True), fp.sum(keepdims=True), fn.sum(keepdims=True)
    denominator = 2 * tp + fp + fn
    scores = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    if average is None:
        return scores.tolist()
    if average == "weighted":
        support = tp + fn
        return float(np.sum(scores * support) / support.sum()) if support.sum() > 0 else 0.0
    return float(scores.mean())


def matthews_correlation(predictions, references, sample_weight=None) -> float:
    """Matthews correlation coefficient, multi-class (Gorodkin's R_K, as scikit-learn):
    (c·s − Σ p_k t_k) / sqrt((s² − Σ p_k²)(s² − Σ t_k²)) with c correct, s samples, p_k/t_k predicted/true
    counts of class k; 0 when either side is constant."""
    predictions, references, weights = _pair(predictions, references, sample_weight)
    classes, encoded = np.unique(np.concatenate([references, predictions]), return_inverse=True)
    true, predicted = encoded[: len(references)], encoded[len(references):]
    confusion = np.zeros((len(classes), len(classes)))
    np.add.at(confusion, (true, predicted), weights)
    t_sum, p_sum = confusion.sum(axis=1), confusion.sum(axis=0)
    correct, samples = np.trace(confusion), confusion.sum()
    cov_ytyp = correct * samples - np.dot(t_sum, p_sum)
    cov_ypyp = samples**2 - np.dot(p_sum, p_sum)
    cov_ytyt = samples**2 - np.dot(t_sum, t_sum)
    if cov_ypyp * cov_ytyt == 0:
        return 0.0
    return float(cov_ytyp / np.sqrt(cov_ytyt * cov_ypyp))


def _correlation(kind: str, predictions, references) -> tuple[float, float]:
    from scipy import stats

    predictions, references, _ = _pair(np.asarray(predictions, dtype=np.float64), np.asarray(references, dtype=np.float64))
    if len(predictions) < 2:
        raise ValueError(f"{kind} needs at least 2 pairs, got {len(predictions)}" + see("metric-inputs"))
    if np.all(predictions == predictions[0]) or np.all(references == references[0]):
        return float("nan"), float("nan")  # undefined for a constant input (scipy warns and returns nan)
    result = (stats.pearsonr if kind == "pearsonr" else stats.spearmanr)(predictions, references)
    return float(result.statistic), float(result.pvalue)


def pearsonr(predictions, references) -> tuple[float, float]:
    """Pearson's r and its two-sided p-value (scipy); nan for a constant input."""
    return _correlation("pearsonr", predictions, references)


def spearmanr(predictions, references) -> tuple[float, float]:
    """Spearman's ρ (Pearson's r of the ranks, ties averaged) and its p-value (scipy); nan for a constant input."""
    return _correlation("spearmanr", predictions, references)


# The Hub's `glue` metric: which metrics each GLUE task reports.
GLUE_METRICS = {
    "cola": ("matthews_correlation",),
    "sst2": ("accuracy",), "mnli": ("accuracy",), "mnli_matched": ("accuracy",), "mnli_mismatched": ("accuracy",),
    "qnli": ("accuracy",), "rte": ("accuracy",), "wnli": ("accuracy",), "hans": ("accuracy",), "ax": ("matthews_correlation",),
    "mrpc": ("accuracy", "f1"), "qqp": ("accuracy", "f1"),
    "stsb": ("pearson", "spearmanr"),
}


def glue(task: str, predictions, references) -> dict[str, float]:
    """The GLUE benchmark's metrics for ``task`` (as the Hub's ``glue`` metric): accuracy; accuracy and F1
    for MRPC/QQP; Matthews correlation for CoLA; Pearson and Spearman for STS-B (a regression)."""
    if task not in GLUE_METRICS:
        raise KeyError(f"unknown GLUE task {task!r}; pick one of {sorted(GLUE_METRICS)}" + see("metric-options"))
    if task == "stsb":
        return {"pearson": pearsonr(predictions, references)[0], "spearmanr": spearmanr(predictions, references)[0]}
    functions = {"accuracy": accuracy, "f1": f1, "matthews_correlation": matthews_correlation}
    return {name: functions[name](predictions, references) for name in GLUE_METRICS[task]}
