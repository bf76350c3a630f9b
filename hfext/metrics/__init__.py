"""Local ``evaluate`` modules: the Hub's metric scripts can't be fetched offline, these load from a path.

>>> import evaluate
>>> from hfext.metrics import metric_path
>>> bleu = evaluate.load(metric_path("sacrebleu"))
>>> round(bleu.compute(predictions=["the cat sat on the mat"], references=[["the cat sat on the mat"]])["score"], 1)
100.0
"""

from __future__ import annotations

from pathlib import Path

METRICS_DIR = Path(__file__).resolve().parent


def metric_path(name: str) -> str:
    """The folder of the local ``evaluate`` module ``name``, for ``evaluate.load(path)``."""
    path = METRICS_DIR / name
    if not (path / f"{name}.py").is_file():
        available = sorted(p.name for p in METRICS_DIR.iterdir() if (p / f"{p.name}.py").is_file())
        raise FileNotFoundError(f"no local metric {name!r} in {METRICS_DIR}; available: {available}")
    return str(path)
