"""Local ``evaluate`` modules: the Hub's metric scripts can't be fetched offline, these load from a path.

>>> import evaluate
>>> from hfext.metrics import metric_path
>>> bleu = evaluate.load(metric_path("sacrebleu"))
>>> round(bleu.compute(predictions=["the cat sat on the mat"], references=[["the cat sat on the mat"]])["score"], 1)
100.0
>>> from hfext.metrics import load
>>> load("accuracy").compute(predictions=[1, 0, 1], references=[1, 1, 1])["accuracy"]
0.6666666666666666

Modules: accuracy, f1, matthews_correlation, pearsonr, spearmanr, glue (``config_name`` = a GLUE task),
perplexity, word_analogy, word_similarity, sacrebleu, squad, seqeval. Their arithmetic lives in
:mod:`hfext.metrics.functional` for code that needs no ``evaluate`` wrapper.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import see

METRICS_DIR = Path(__file__).resolve().parent


def available_metrics() -> list[str]:
    """The names of the local metric modules."""
    return sorted(p.name for p in METRICS_DIR.iterdir() if (p / f"{p.name}.py").is_file())


def metric_path(name: str) -> str:
    """The folder of the local ``evaluate`` module ``name``, for ``evaluate.load(path)``."""
    path = METRICS_DIR / name
    if not (path / f"{name}.py").is_file():
        raise FileNotFoundError(f"no local metric {name!r} in {METRICS_DIR}; available: {available_metrics()}"
                                + see("metric-options"))
    return str(path)


def load(name: str, **kwargs):
    """``evaluate.load`` of the local module ``name`` (``config_name``, ``experiment_id``, ... pass through);
    works offline. An unknown name raises ``FileNotFoundError`` listing the available metrics."""
    import evaluate

    return evaluate.load(metric_path(name), **kwargs)
