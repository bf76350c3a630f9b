"""word2vec as PreTrainedModels: configs, the three objectives against the lecture's formulas, the
Huffman tree, save/load round-trips and Auto class loading."""

import math

import pytest
import torch
import torch.nn.functional as F
from hfext_word2vec import (
    CBOWConfig,
    CBOWModel,
    SkipGramConfig,
    SkipGramModel,
    build_huffman_tree,
)
from transformers import AutoConfig, AutoModel, AutoTokenizer

import hfext  # noqa: F401
from hfext.data import Vocabulary


def make(model_cls, config_cls, **kwargs):
    torch.manual_seed(0)
    model = model_cls(config_cls(vocab_size=12, vector_size=6, **kwargs))
    with torch.no_grad():  # non-zero u so every term of the loss matters
        model.context_embeddings.weight.normal_(0, 0.5)
        model.center_embeddings.weight.normal_(0, 0.5)
    model.set_word_counts(torch.arange(12, 0, -1) * 10)
    return model


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"vector_size": 0}, "vector_size"),
        ({"window": 0}, "window"),
        ({"negative": -1}, "negative"),
        ({"negative": 0}, "needs negative >= 1"),
        ({"objective": "nce"}, "objective must be one of"),
        ({"sample": -1.0}, "sample"),
    ],
)
def test_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message) as error:
        SkipGramConfig(vocab_size=10, **kwargs)
    assert str(error.value).endswith(" (see docs/troubleshooting.md#config-value)")


def test_model_types_are_namespaced_and_auto_loadable():
    for model_type, model_cls in [("hfext-skipgram", SkipGramModel), ("hfext-cbow", CBOWModel)]:
        config = AutoConfig.for_model(model_type, vocab_size=7, vector_size=4)
        assert isinstance(AutoModel.from_config(config), model_cls)


def test_full_softmax_matches_lecture_formula():
    model = make(SkipGramModel, SkipGramConfig, objective="softmax")
    centers, contexts = torch.tensor([1, 2, 3]), torch.tensor([4, 5, 6])
    out = model(input_ids=centers, labels=contexts)
    v, u = model.center_embeddings.weight, model.context_embeddings.weight
    # log P(w_o | w_c) = u_o . v_c - log sum_i exp(u_i . v_c)
    expected = -torch.stack(
        [u[o] @ v[c] - torch.logsumexp(u @ v[c], 0) for c, o in zip(centers.tolist(), contexts.tolist())]
    ).mean()
    torch.testing.assert_close(out.loss, expected)
    assert out.logits.shape == (3, 12)


def test_negative_sampling_matches_formula():
    model = make(SkipGramModel, SkipGramConfig, negative=3)
    centers, contexts = torch.tensor([1, 2]), torch.tensor([4, 5])
    negatives = torch.tensor([[7, 8, 9], [0, 3, 11]])
    out = model(input_ids=centers, labels=contexts, negative_ids=negatives)
    v, u = model.center_embeddings.weight, model.context_embeddings.weight
    expected = 0.0
    for b in range(2):
        h = v[centers[b]]
        expected += -F.logsigmoid(u[contexts[b]] @ h) - sum(F.logsigmoid(-(u[k] @ h)) for k in negatives[b])
    torch.testing.assert_close(out.loss, expected / 2)


def test_hierarchical_softmax_is_a_distribution():
    """With a Huffman tree, sum_w P(w | h) = 1 over the whole vocabulary (a proper softmax replacement)."""
    model = make(SkipGramModel, SkipGramConfig, objective="hierarchical_softmax")
    total = 0.0
    for word in range(12):
        out = model(input_ids=torch.tensor([3]), labels=torch.tensor([word]))
        total += math.exp(-out.loss.item())
    assert total == pytest.approx(1.0, abs=1e-5)


def test_huffman_tree_gives_frequent_words_short_codes():
    counts = [1000, 500, 100, 50, 10, 5, 1]
    points, codes, lengths = build_huffman_tree(counts)
    assert lengths.tolist() == sorted(lengths.tolist())  # rarer words, longer paths
    assert (points[:, 0][lengths > 0] == len(counts) - 2).all()  # every path starts at the root
    # codes are a prefix code: no word's code is a prefix of another's
    words = ["".join(map(str, codes[w, : lengths[w]].tolist())) for w in range(len(counts))]
    assert not any(a != b and b.startswith(a) for a in words for b in words)


def test_cbow_averages_context_vectors():
    model = make(CBOWModel, CBOWConfig, negative=2)
    context = torch.tensor([[1, 2, 3, 0]])
    mask = torch.tensor([[1, 1, 1, 0]])
    out = model(input_ids=context, attention_mask=mask, labels=torch.tensor([5]), negative_ids=torch.tensor([[6, 7]]))
    v = model.center_embeddings.weight
    torch.testing.assert_close(out.hidden_states[0], (v[1] + v[2] + v[3]) / 3)  # (1/2m)(v_o1 + ... + v_o2m)


def test_negatives_default_to_unigram_power_distribution():
    model = make(SkipGramModel, SkipGramConfig, negative=5)
    probs = model.noise_distribution()
    counts = model.word_counts.double()
    torch.testing.assert_close(probs.double(), counts**0.75 / (counts**0.75).sum(), rtol=1e-5, atol=1e-7)
    draws = model.sample_negatives((20000,), generator=torch.Generator().manual_seed(0))
    assert torch.bincount(draws, minlength=12).argmax() == 0  # the most frequent word is drawn most


@pytest.mark.parametrize("objective", ["negative_sampling", "hierarchical_softmax", "softmax"])
def test_save_and_auto_load_round_trip_exactly(tmp_path, objective):
    model = make(SkipGramModel, SkipGramConfig, objective=objective)
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists() and not list(tmp_path.glob("*.bin"))
    loaded = AutoModel.from_pretrained(tmp_path)
    assert isinstance(loaded, SkipGramModel)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name]), name
    # derived state (Huffman tree from the loaded counts) is rebuilt correctly after meta-device loading
    batch = {"input_ids": torch.tensor([1, 2]), "labels": torch.tensor([3, 4]), "negative_ids": torch.tensor([[5], [6]])}
    torch.testing.assert_close(model(**batch).loss, loaded(**batch).loss)


def test_vocabulary_is_a_real_tokenizer(tmp_path):
    vocab = Vocabulary.build(["the cat sat on the mat", "the dog sat"], min_count=1)
    tokenizer = vocab.to_tokenizer()
    model = SkipGramModel(SkipGramConfig(vocab_size=len(vocab) + 1, vector_size=4))
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert loaded("the dog flew")["input_ids"] == [0, vocab.words.index("dog"), len(vocab)]  # flew -> [UNK]
    assert loaded.convert_ids_to_tokens([0, 1]) == vocab.words[:2]
