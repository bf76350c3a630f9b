"""fastText as a PreTrainedModel: the config, Facebook-exact n-gram hashing (checked against gensim),
the subword CSR buffers, word / OOV vectors, the objectives, save/load round-trips and Auto class loading."""

import pytest
import torch
import torch.nn.functional as F
from hfext_fasttext import (
    FastTextConfig,
    FastTextModel,
    char_ngrams,
    fasttext_hash,
    subword_buckets,
    subword_csr,
)
from transformers import AutoConfig, AutoModel, AutoTokenizer

import hfext  # noqa: F401  (registers the plugins)
from hfext.data import Vocabulary

gensim_fasttext = pytest.importorskip("gensim.models.fasttext")
from gensim.models.fasttext_inner import compute_ngrams_bytes, ft_hash_bytes

WORDS = ["where", "here", "café", "naïve", "中文", "日本語テキスト", "😀ok", "a", "ab", "x" * 30, "Ünïcödé😀中", "</s>"]


def make(words=("cat", "cats", "dog", "mouse", "mice"), **kwargs):
    torch.manual_seed(0)
    kwargs = {"vector_size": 6, "bucket": 97, **kwargs}
    model = FastTextModel(FastTextConfig(vocab_size=len(words) + 1, **kwargs))
    with torch.no_grad():  # non-zero output vectors so every term of the loss matters
        model.context_embeddings.weight.normal_(0, 0.5)
    model.set_vocabulary(list(words), list(range(len(words) * 10, 0, -10)))
    return model


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"vector_size": 0}, "vector_size must be >= 1"),
        ({"minn": 5, "maxn": 3}, r"minn \(5\) must be <= maxn \(3\)"),
        ({"bucket": -1}, "bucket must be >= 0"),
        ({"bucket": 0}, "bucket=0 leaves nowhere to hash"),
        ({"minn": 0, "maxn": 4}, "minn must be >= 1"),
        ({"architecture": "sg"}, "architecture must be one of"),
        ({"objective": "ova"}, "objective must be one of"),
        ({"negative": 0}, "needs negative >= 1"),
        ({"sample": -1.0}, "sample must be >= 0"),
        ({"facebook_args": [1]}, "facebook_args must be a dict"),
    ],
)
def test_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message) as error:
        FastTextConfig(vocab_size=10, **kwargs)
    assert str(error.value).endswith(" (see docs/troubleshooting.md#config-value)")


def test_config_defaults_are_facebooks_and_not_shared():
    config = FastTextConfig(vocab_size=10)
    assert (config.minn, config.maxn, config.bucket, config.sample, config.vector_size) == (3, 6, 2_000_000, 1e-4, 100)
    assert config.hidden_size == 100 and config.num_subword_ids == 9
    config.facebook_args["t"] = 1.0
    assert FastTextConfig(vocab_size=10).facebook_args == {}
    assert FastTextConfig(vocab_size=10, maxn=0, bucket=0).use_subwords is False  # maxn=0: plain word2vec


def test_auto_classes_load_the_plugin():
    config = AutoConfig.for_model("hfext-fasttext", vocab_size=7, vector_size=4, bucket=11)
    assert isinstance(config, FastTextConfig)
    model = AutoModel.from_config(config)
    assert isinstance(model, FastTextModel)
    assert model.get_input_embeddings() is model.input_embeddings
    assert model.input_embeddings.weight.shape == (7 + 11, 4) and model.context_embeddings.weight.shape == (7, 4)
    assert torch.count_nonzero(model.input_embeddings.weight[6]) == 0  # [UNK]'s row stays zero
    assert torch.count_nonzero(model.context_embeddings.weight) == 0
    assert model.input_embeddings.weight.abs().max() <= 1 / 4


def test_hash_matches_gensim_and_facebook():
    for word in WORDS:
        data = word.encode("utf-8")
        assert fasttext_hash(data) == ft_hash_bytes(data)
    # bytes >= 0x80 are sign-extended before the XOR, as fastText's uint32_t(int8_t(c)); FNV-1a of "a"
    assert fasttext_hash(b"a") == 0xE40C292C
    assert fasttext_hash(b"\xe9") == ((2166136261 ^ 0xFFFFFFE9) * 16777619) & 0xFFFFFFFF


@pytest.mark.parametrize("minn, maxn", [(3, 6), (1, 1), (1, 3), (2, 4), (5, 5)])
def test_ngrams_and_buckets_match_gensim(minn, maxn):
    for word in WORDS:
        assert [g.encode() for g in char_ngrams(word, minn, maxn)] == compute_ngrams_bytes(word, minn, maxn)
        assert subword_buckets(word, minn, maxn, 2_000_000) == gensim_fasttext.ft_ngram_hashes(word, minn, maxn, 2_000_000)
    # n-grams count Unicode characters, not bytes: "中文" -> "<中", "<中文", ... with minn=2
    assert char_ngrams("中文", 2, 2) == ["<中", "中文", "文>"]
    assert char_ngrams("ab", 1, 1) == ["a", "b"]  # the lone "<" and ">" are not n-grams


def test_subword_csr_lists_own_row_then_ngram_rows():
    vocab_size = len(WORDS) + 1
    offsets, ids = subword_csr(WORDS, vocab_size, 3, 6, 1000)
    for i, word in enumerate(WORDS):
        # Facebook's Dictionary::initNgrams skips the line-end word "</s>" (gensim hashes it like any word)
        ngrams = [] if word == "</s>" else gensim_fasttext.ft_ngram_hashes(word, 3, 6, 1000)
        expected = [i] + [vocab_size + b for b in ngrams]
        assert ids[offsets[i] : offsets[i + 1]].tolist() == expected
    offsets, ids = subword_csr(WORDS, vocab_size, 3, 0, 1000)  # maxn=0: words only
    assert ids.tolist() == list(range(len(WORDS))) and offsets.tolist() == list(range(len(WORDS) + 1))


def test_set_vocabulary_fills_buffers_and_config():
    model = make()
    config = model.config
    assert model.subword_offsets.shape == (config.vocab_size + 1,)
    assert model.subword_ids.shape == (config.num_subword_ids,) and config.num_subword_ids == int(model.subword_offsets[-1])
    assert model.subword_offsets[-1] == model.subword_offsets[-2]  # [UNK]: no rows
    assert model.word_counts.tolist() == [50, 40, 30, 20, 10, 0]
    rows = model.subword_ids[model.subword_offsets[1] : model.subword_offsets[2]].tolist()
    assert rows == [1] + [config.vocab_size + b for b in subword_buckets("cats", 3, 6, config.bucket)]
    with pytest.raises(ValueError, match="set_vocabulary got 2 words but the config has vocab_size=6") as error:
        model.set_vocabulary(["a", "b"])
    assert str(error.value).endswith(" (see docs/troubleshooting.md#vocabulary-mismatch)")


def test_word_vectors_are_means_of_rows_and_oov_uses_ngrams():
    model = make()
    weight = model.input_embeddings.weight.detach()
    vocab_size, bucket = model.config.vocab_size, model.config.bucket
    rows = [1] + [vocab_size + b for b in subword_buckets("cats", 3, 6, bucket)]
    torch.testing.assert_close(model.get_word_vector("cats", 1), weight[rows].mean(0))
    torch.testing.assert_close(model(torch.tensor([1])).hidden_states[0], weight[rows].mean(0))
    oov_rows = [vocab_size + b for b in subword_buckets("catz", 3, 6, bucket)]
    torch.testing.assert_close(model.get_word_vector("catz"), weight[oov_rows].mean(0))
    torch.testing.assert_close(model.get_word_vector("catz", vocab_size - 1), weight[oov_rows].mean(0))  # [UNK] id
    assert torch.count_nonzero(model.get_word_vector("")) == 0  # "<>" has no 3-gram: the origin, as fastText
    assert torch.count_nonzero(make(maxn=0).get_word_vector("catz")) == 0  # no n-grams at all


def test_skipgram_negative_sampling_loss_matches_formula():
    model = make()
    centers, contexts, noise = torch.tensor([0, 1, 2]), torch.tensor([3, 4, 0]), torch.tensor([[4, 2], [0, 3], [1, 1]])
    out = model(input_ids=centers, labels=contexts, negative_ids=noise)
    h, u = model.word_vectors(centers), model.context_embeddings.weight
    # -log s(u_o . h) - sum_k log s(-u_k . h)
    expected = -(F.logsigmoid((h * u[contexts]).sum(-1)) + F.logsigmoid(-(u[noise] @ h.unsqueeze(-1)).squeeze(-1)).sum(-1))
    torch.testing.assert_close(out.loss, expected.mean())
    out.loss.backward()
    grad = model.input_embeddings.weight.grad
    touched = set(torch.nonzero(grad.abs().sum(1)).flatten().tolist())
    assert touched == set(model.subword_ids[: model.subword_offsets[3]].tolist())  # the rows of words 0, 1, 2


def test_cbow_hidden_is_mean_of_all_context_rows():
    model = make(architecture="cbow", objective="softmax")
    ids, mask = torch.tensor([[0, 2, 3], [1, 4, 0]]), torch.tensor([[1, 1, 1], [1, 0, 0]])
    out = model(input_ids=ids, attention_mask=mask, labels=torch.tensor([1, 2]))
    weight = model.input_embeddings.weight
    rows = torch.cat([model.subword_ids[model.subword_offsets[w] : model.subword_offsets[w + 1]] for w in (0, 2, 3)])
    torch.testing.assert_close(out.hidden_states[0], weight[rows].mean(0))  # fastText averages every row
    torch.testing.assert_close(out.hidden_states[1], model.word_vectors(torch.tensor(1)))
    assert out.logits.shape == (2, 6)
    summed = make(architecture="cbow", cbow_mean=False)(input_ids=ids, attention_mask=mask).hidden_states
    torch.testing.assert_close(summed[1], model.word_vectors(torch.tensor(1)))


def test_hierarchical_softmax_trains():
    model = make(objective="hierarchical_softmax")
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    losses = []
    for _ in range(100):
        optimizer.zero_grad()
        loss = model(input_ids=torch.tensor([0, 1, 2]), labels=torch.tensor([3, 4, 0])).loss
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_save_load_round_trip_with_tokenizer(tmp_path):
    words = ["cat", "cats", "dog", "mouse", "mice"]
    model = make(words)
    tokenizer = Vocabulary(words, [50, 40, 30, 20, 10]).to_tokenizer()
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoModel.from_pretrained(tmp_path)
    assert isinstance(loaded, FastTextModel) and loaded.config.num_subword_ids == model.config.num_subword_ids
    for name, tensor in model.state_dict().items():  # weights and the three buffers
        assert torch.equal(tensor, loaded.state_dict()[name]), name
    ids = AutoTokenizer.from_pretrained(tmp_path)("cats catz")["input_ids"]
    assert ids == [1, 5]  # catz is [UNK], the last id
    torch.testing.assert_close(loaded.get_word_vector("cats", ids[0]), model.get_word_vector("cats", 1))
    torch.testing.assert_close(loaded.get_word_vector("catz", ids[1]), model.get_word_vector("catz"))
