"""The local evaluate metrics (hfext.metrics.load) against scikit-learn, scipy, gensim and direct computation,
edge cases included; the GLUE combination; clear errors."""

import math

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from hfext.errors import see
from hfext.metrics import available_metrics, functional, load, metric_path

RNG = np.random.default_rng(0)
BINARY = (RNG.integers(0, 2, 50), RNG.integers(0, 2, 50))
MULTI = (RNG.integers(0, 4, 60), RNG.integers(0, 4, 60))
WEIGHTS = RNG.random(60)


@pytest.fixture(scope="module")
def metrics():
    return {name: load(name) for name in ("accuracy", "f1", "matthews_correlation", "pearsonr", "spearmanr",
                                          "perplexity", "word_analogy", "word_similarity")}


def test_accuracy_matches_sklearn(metrics):
    accuracy = metrics["accuracy"]
    predictions, references = MULTI
    assert accuracy.compute(predictions=predictions, references=references)["accuracy"] == pytest.approx(
        accuracy_score(references, predictions))
    assert accuracy.compute(predictions=predictions, references=references, normalize=False)["accuracy"] == \
        accuracy_score(references, predictions, normalize=False)
    assert accuracy.compute(predictions=predictions, references=references, sample_weight=WEIGHTS)["accuracy"] == \
        pytest.approx(accuracy_score(references, predictions, sample_weight=WEIGHTS))
    assert accuracy.compute(predictions=[3], references=[3])["accuracy"] == 1.0
    with pytest.raises(ValueError, match="got 2 predictions for 3 references") as error:
        functional.accuracy([0, 1], [0, 1, 1])
    assert str(error.value).endswith(see("metric-inputs"))
    with pytest.raises(ValueError, match="no predictions to score"):
        functional.accuracy([], [])


@pytest.mark.parametrize("average", ["macro", "micro", "weighted", None])
def test_f1_multiclass_matches_sklearn(metrics, average):
    predictions, references = MULTI
    ours = metrics["f1"].compute(predictions=predictions, references=references, average=average)["f1"]
    theirs = f1_score(references, predictions, average=average, zero_division=0)
    assert np.allclose(ours, theirs)
    weighted = functional.f1(predictions, references, average=average, sample_weight=WEIGHTS)
    assert np.allclose(weighted, f1_score(references, predictions, average=average, sample_weight=WEIGHTS,
                                          zero_division=0))
    # A label never predicted nor present scores 0 (scikit-learn's zero_division=0).
    assert np.allclose(functional.f1(predictions, references, labels=[0, 1, 9], average=average),
                       f1_score(references, predictions, labels=[0, 1, 9], average=average, zero_division=0))


def test_f1_binary_and_edge_cases(metrics):
    predictions, references = BINARY
    assert metrics["f1"].compute(predictions=predictions, references=references)["f1"] == pytest.approx(
        f1_score(references, predictions))
    assert functional.f1(predictions, references, pos_label=0) == pytest.approx(f1_score(references, predictions, pos_label=0))
    assert functional.f1([0, 0, 0], [0, 1, 1]) == 0.0  # nothing predicted positive
    assert functional.f1([0, 0], [0, 0]) == 0.0 == f1_score([0, 0], [0, 0], zero_division=0)  # no positives at all
    assert functional.f1([1, 1], [1, 1]) == 1.0
    with pytest.raises(ValueError, match=r"average='binary' needs two classes, got \[0, 1, 2, 3\]; pass average='macro'"):
        functional.f1(*MULTI)
    with pytest.raises(ValueError, match=r"average='mean' is not one of"):
        functional.f1(*BINARY, average="mean")


def test_matthews_correlation_matches_sklearn(metrics):
    for predictions, references in (BINARY, MULTI):
        assert metrics["matthews_correlation"].compute(predictions=predictions, references=references)[
            "matthews_correlation"] == pytest.approx(matthews_corrcoef(references, predictions))
    predictions, references = MULTI
    assert functional.matthews_correlation(predictions, references, sample_weight=WEIGHTS) == pytest.approx(
        matthews_corrcoef(references, predictions, sample_weight=WEIGHTS))
    assert functional.matthews_correlation([1, 1, 1, 1], [0, 1, 0, 1]) == 0.0 == matthews_corrcoef([0, 1, 0, 1], [1, 1, 1, 1])
    assert functional.matthews_correlation([1, 0, 1, 0], [0, 1, 0, 1]) == pytest.approx(-1.0)
    assert functional.matthews_correlation([2, 0, 1], [2, 0, 1]) == pytest.approx(1.0)


def test_correlations_match_scipy_and_direct(metrics):
    predictions = RNG.normal(size=40)
    references = np.round(predictions + RNG.normal(size=40), 0)  # rounded: many ties for the ranks
    pearson = metrics["pearsonr"].compute(predictions=predictions, references=references, return_pvalue=True)
    expected = stats.pearsonr(predictions, references)
    assert pearson["pearsonr"] == pytest.approx(expected.statistic) and pearson["p-value"] == pytest.approx(expected.pvalue)
    assert pearson["pearsonr"] == pytest.approx(np.corrcoef(predictions, references)[0, 1])
    spearman = metrics["spearmanr"].compute(predictions=predictions, references=references)
    assert set(spearman) == {"spearmanr"}
    assert spearman["spearmanr"] == pytest.approx(stats.spearmanr(predictions, references).statistic)
    ranks = (stats.rankdata(predictions), stats.rankdata(references))  # ties get their mean rank
    assert spearman["spearmanr"] == pytest.approx(np.corrcoef(*ranks)[0, 1])
    assert math.isnan(functional.pearsonr([1.0, 1.0, 1.0], [1.0, 2.0, 3.0])[0])  # undefined, not an exception
    with pytest.raises(ValueError, match="spearmanr needs at least 2 pairs, got 1"):
        functional.spearmanr([1.0], [2.0])


def test_glue_configs_combine_the_metrics():
    predictions, references = BINARY
    mrpc = load("glue", config_name="mrpc").compute(predictions=predictions, references=references)
    assert mrpc == pytest.approx({"accuracy": accuracy_score(references, predictions),
                                  "f1": f1_score(references, predictions)})
    cola = load("glue", config_name="cola").compute(predictions=predictions, references=references)
    assert cola == pytest.approx({"matthews_correlation": matthews_corrcoef(references, predictions)})
    scores = RNG.normal(size=20)
    stsb = load("glue", config_name="stsb").compute(predictions=scores, references=scores * 2 + 1)
    assert stsb == pytest.approx({"pearson": 1.0, "spearmanr": 1.0})
    assert set(functional.glue("mnli", *MULTI)) == {"accuracy"}
    with pytest.raises(KeyError, match=r"unknown GLUE config_name 'sst5'; pick one of \['ax', 'cola'") as error:
        load("glue", config_name="sst5")
    assert error.value.args[0].endswith(see("metric-options"))


def test_perplexity_from_log_likelihoods_or_losses(metrics):
    torch.manual_seed(0)
    logits, targets = torch.randn(3, 7, 11), torch.randint(0, 11, (3, 7))
    losses = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, reduction="none")  # (3, 7)
    lengths = [7, 4, 2]  # texts of different lengths
    texts = [losses[i, :n].tolist() for i, n in enumerate(lengths)]
    result = metrics["perplexity"].compute(predictions=texts, input_type="loss")
    flat = torch.cat([losses[i, :n] for i, n in enumerate(lengths)])
    assert result["perplexity"] == pytest.approx(math.exp(flat.mean().item()), rel=1e-6)  # token-weighted
    assert result["perplexities"] == pytest.approx([math.exp(losses[i, :n].mean().item()) for i, n in enumerate(lengths)])
    assert result["mean_perplexity"] == pytest.approx(np.mean(result["perplexities"]))
    log_likelihoods = [[-value for value in text] for text in texts]
    assert metrics["perplexity"].compute(predictions=log_likelihoods)["perplexity"] == pytest.approx(result["perplexity"])
    uniform = metrics["perplexity"].compute(predictions=[[math.log(1 / 50)] * 5])
    assert uniform["perplexity"] == pytest.approx(50.0)  # a uniform guess over V words has perplexity V
    with pytest.raises(ValueError, match="text 0 has positive log-likelihoods; pass input_type='loss'") as error:
        metrics["perplexity"].compute(predictions=[[0.5, 0.2]])
    assert str(error.value).endswith(see("metric-options"))  # a literal pointer: the module doesn't import hfext
    with pytest.raises(ValueError, match="text 1 has no tokens"):
        metrics["perplexity"].compute(predictions=[[-0.5], []])


def test_word_analogy_matches_gensim(metrics, gensim_data):
    """Vectors where capital = country + one offset: gensim's evaluate_word_analogies and our metric, fed
    gensim's own answers, agree section by section."""
    from gensim.models import KeyedVectors

    questions, section = [], None
    for line in (gensim_data / "questions-words.txt").read_text().splitlines():
        if line.startswith(":"):
            section = line[1:].strip()
        elif section in ("capital-common-countries", "gram3-comparative"):
            questions.append((section, *line.split()))
    words = sorted({w for q in questions for w in q[1:]})
    rng = np.random.default_rng(1)
    vectors = {w: rng.normal(size=16) for w in words}
    offset = rng.normal(size=16) * 2
    for _, a, b, _c, _d in questions[:300]:  # half of the first section follows the offset
        if rng.random() < 0.5:
            vectors[b] = vectors[a] + offset + rng.normal(size=16) * 0.1
    known = words[: int(len(words) * 0.9)]  # the rest are out of vocabulary
    kv = KeyedVectors(16)
    kv.add_vectors(known, np.stack([vectors[w] for w in known]).astype(np.float32))
    path = gensim_data / "questions-words.txt"
    _, gensim_sections = kv.evaluate_word_analogies(str(path))  # over the whole file; compare our 2 sections
    predictions, references, sections = [], [], []
    vocabulary = {w.upper() for w in kv.index_to_key}
    for name, a, b, c, expected in questions:
        answer = None
        if all(w.upper() in vocabulary for w in (a, b, c, expected)):
            for candidate, _ in kv.most_similar(positive=[b, c], negative=[a], topn=5):
                if candidate.upper() not in {a.upper(), b.upper(), c.upper()}:
                    answer = candidate
                    break
        predictions.append(answer)
        references.append(expected)
        sections.append(name)
    result = metrics["word_analogy"].compute(predictions=predictions, references=references, sections=sections,
                                             skip_unanswered=True)
    theirs = {s["section"]: len(s["correct"]) / max(1, len(s["correct"]) + len(s["incorrect"])) for s in gensim_sections}
    ours = [s for s in gensim_sections if s["section"] in ("capital-common-countries", "gram3-comparative")]
    correct, total = sum(len(s["correct"]) for s in ours), sum(len(s["correct"]) + len(s["incorrect"]) for s in ours)
    assert 0.05 < result["accuracy"] == pytest.approx(correct / total) and result["total"] == total
    assert result["sections"]["capital-common-countries"]["accuracy"] == pytest.approx(theirs["capital-common-countries"])
    assert result["sections"]["gram3-comparative"]["accuracy"] == pytest.approx(theirs["gram3-comparative"])
    assert result["semantic_accuracy"] == pytest.approx(theirs["capital-common-countries"])
    counted = metrics["word_analogy"].compute(predictions=predictions, references=references)
    assert counted["total"] == len(questions) and counted["unanswered"] == predictions.count(None)
    assert counted["accuracy"] == pytest.approx(result["correct"] / len(questions))  # unanswered count as wrong
    strict = metrics["word_analogy"].compute(predictions=["Paris"], references=["paris"], case_insensitive=False)
    assert strict["accuracy"] == 0.0
    with pytest.raises(ValueError, match="got 1 sections for 2 questions"):
        metrics["word_analogy"].compute(predictions=["a", "b"], references=["a", "b"], sections=["x"])


def test_word_similarity_matches_gensim(metrics, gensim_data):
    from gensim.models import KeyedVectors

    pairs = [line.split("\t") for line in (gensim_data / "wordsim353.tsv").read_text().splitlines()
             if line and not line.startswith("#")]
    words = sorted({w.lower() for a, b, _ in pairs for w in (a, b)})
    rng = np.random.default_rng(2)
    known = [w for w in words if rng.random() < 0.85]
    kv = KeyedVectors(8)
    kv.add_vectors(known, rng.normal(size=(len(known), 8)).astype(np.float32))
    pearson, spearman, oov = kv.evaluate_word_pairs(str(gensim_data / "wordsim353.tsv"))
    predictions = [float(kv.similarity(a.lower(), b.lower())) if a.lower() in kv and b.lower() in kv else None
                   for a, b, _ in pairs]
    human = [float(score) for _, _, score in pairs]
    result = metrics["word_similarity"].compute(predictions=predictions, references=human)
    assert result["spearmanr"] == pytest.approx(spearman.statistic, abs=1e-6)
    assert result["pearsonr"] == pytest.approx(pearson.statistic, abs=1e-6)
    assert result["oov_ratio"] == pytest.approx(oov) and 0 < oov < 50
    assert result["pairs"] == sum(p is not None for p in predictions)
    dummy = metrics["word_similarity"].compute(predictions=predictions, references=human, dummy4unknown=True)
    _, spearman_dummy, _ = kv.evaluate_word_pairs(str(gensim_data / "wordsim353.tsv"), dummy4unknown=True)
    assert dummy["spearmanr"] == pytest.approx(spearman_dummy.statistic, abs=1e-6) and dummy["pairs"] == len(pairs)
    with pytest.raises(ValueError, match=r"only 1 pair\(s\) could be scored \(2 unknown\)"):
        metrics["word_similarity"].compute(predictions=[0.5, None, float("nan")], references=[1.0, 2.0, 3.0])


def test_load_names_the_available_metrics():
    assert {"accuracy", "f1", "matthews_correlation", "pearsonr", "spearmanr", "glue", "perplexity", "word_analogy",
            "word_similarity", "sacrebleu"} <= set(available_metrics())
    assert metric_path("accuracy").endswith("accuracy")
    with pytest.raises(FileNotFoundError, match=r"no local metric 'bleu' .*; available: \['accuracy', "):
        load("bleu")
