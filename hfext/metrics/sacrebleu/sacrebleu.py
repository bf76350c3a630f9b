"""sacreBLEU as a local ``evaluate`` module: ``evaluate.load("path/to/hfext/metrics/sacrebleu")``.

The same inputs and outputs as the Hub's ``sacrebleu`` metric (which needs the Hub to load): corpus BLEU
(Papineni et al., 2002) with sacreBLEU's standard tokenisation (13a) and settings, so scores are comparable
with published ones. ``references`` holds, per prediction, a list of one or more reference strings (a
plain string is taken as a single reference); every prediction must have the same number of references.
"""

import datasets
import evaluate
import sacrebleu as scb

_CITATION = """\
@inproceedings{post-2018-call,
    title = "A Call for Clarity in Reporting {BLEU} Scores",
    author = "Post, Matt",
    booktitle = "Proceedings of the Third Conference on Machine Translation: Research Papers",
    year = "2018",
    pages = "186--191",
}
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: list of hypothesis strings.
    references: list of lists of reference strings (or list of strings: one reference each).
    smooth_method: 'none', 'floor', 'add-k' or 'exp' (sacreBLEU's default).
    smooth_value: the value for 'floor' / 'add-k'.
    tokenize: sacreBLEU tokenizer ('13a' by default; 'none', 'zh', 'intl', 'char', ...).
    lowercase: compute case-insensitive BLEU.
    force: score even when the input looks already tokenised.
Returns:
    score (0-100), counts, totals, precisions (per n-gram order), bp (brevity penalty), sys_len, ref_len.
Example:
    >>> bleu = evaluate.load("hfext/metrics/sacrebleu")
    >>> bleu.compute(predictions=["hello there general kenobi"], references=[["hello there general kenobi"]])["score"]
    100.00000000000004
"""


@evaluate.utils.file_utils.add_start_docstrings(__doc__, _KWARGS_DESCRIPTION)
class Sacrebleu(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__,
            citation=_CITATION,
            homepage="https://github.com/mjpost/sacreBLEU",
            inputs_description=_KWARGS_DESCRIPTION,
            features=[
                datasets.Features(
                    {"predictions": datasets.Value("string"), "references": datasets.Sequence(datasets.Value("string"))}
                ),
                datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
            ],
            reference_urls=["https://github.com/mjpost/sacreBLEU"],
        )

    def _compute(self, predictions, references, smooth_method="exp", smooth_value=None, force=False, lowercase=False,
                 tokenize=None, use_effective_order=False):
        if references and isinstance(references[0], str):
            references = [[reference] for reference in references]
        counts = {len(refs) for refs in references}
        if len(counts) > 1:
            raise ValueError(
                f"sacreBLEU needs the same number of references for every prediction, got {sorted(counts)}; "
                "repeat a reference to fill in missing ones (see docs/troubleshooting.md#metric-inputs)"
            )
        per_prediction = counts.pop() if counts else 0
        transposed = [[refs[i] for refs in references] for i in range(per_prediction)]  # one stream per reference
        output = scb.corpus_bleu(
            predictions, transposed, smooth_method=smooth_method, smooth_value=smooth_value, force=force,
            lowercase=lowercase, use_effective_order=use_effective_order,
            **({"tokenize": tokenize} if tokenize is not None else {}),
        )
        return {
            "score": output.score,
            "counts": output.counts,
            "totals": output.totals,
            "precisions": output.precisions,
            "bp": output.bp,
            "sys_len": output.sys_len,
            "ref_len": output.ref_len,
        }
