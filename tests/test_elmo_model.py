"""hfext-elmo: presets' parameter counts, ELMo's character ids (truncation, boundaries, padding), the
bidirectional LM's directions and statelessness, clipping, the scalar mix, the BiLM loss (full and sampled
softmax), Auto-class round trips and bad input."""

import json
import math
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from hfext_elmo import (
    ElmoCharacterTokenizer,
    ElmoConfig,
    ElmoForBiLM,
    ElmoModel,
    remove_sentence_boundaries,
)
from hfext_elmo.modeling_elmo import sample_log_uniform_unique
from transformers import AutoConfig, AutoModel, AutoModelForPreTraining, AutoTokenizer

import hfext  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: threads only contend


TINY = {"filters": [[1, 4], [2, 8], [3, 8]], "n_highway": 1, "projection_dim": 6, "lstm_dim": 10, "char_embedding_dim": 4}


def tiny_model(cls=ElmoModel, seed=0, **kwargs):
    torch.manual_seed(seed)
    return cls(ElmoConfig(**{**TINY, **kwargs})).eval()


@pytest.mark.parametrize(("preset", "count"), [("small", 13_593_312), ("medium", 28_027_744), ("original", 93_600_864)])
def test_presets_have_elmo_parameter_counts(preset, count):
    with torch.device("meta"):  # no memory for the 94M weights
        model = ElmoModel(ElmoConfig.from_preset(preset))
    biLM = sum(p.numel() for name, p in model.named_parameters() if not name.startswith("scalar_mix"))
    assert biLM == count  # AllenNLP's 13.6M / 28.0M / 93.6M
    assert round(biLM / 1e6, 1) == {"small": 13.6, "medium": 28.0, "original": 93.6}[preset]
    assert model.scalar_mix.scalar_parameters.numel() == 3  # token layer + 2 LSTM layers


def test_config_validation():
    with pytest.raises(ValueError, match="unknown ELMo preset 'large'"):
        ElmoConfig.from_preset("large")
    with pytest.raises(ValueError, match="widest filter \\(7\\) is wider than max_characters_per_token \\(5\\)"):
        ElmoConfig(max_characters_per_token=5)
    with pytest.raises(ValueError, match="cell_clip must be > 0 or None"):
        ElmoConfig(cell_clip=-1.0)
    with pytest.raises(ValueError, match="n_characters must be >= 262"):
        ElmoConfig(n_characters=100)
    with pytest.raises(ValueError, match="char_activation"):
        ElmoConfig(char_activation="gelu")
    with pytest.raises(ValueError, match="ElmoForBiLM needs an output vocabulary"):
        ElmoForBiLM(ElmoConfig(**TINY))
    assert ElmoConfig().hidden_size == 1024 and ElmoConfig().filters[-1] == [7, 1024]


def test_character_ids_follow_elmo():
    tokenizer = ElmoCharacterTokenizer()
    ids = tokenizer("hé")["input_ids"]  # <S> hé </S>
    assert len(ids) == 3 and all(len(row) == 50 for row in ids)
    # begin-of-word 258, bytes of 'h' and 'é' (0xC3 0xA9), end-of-word 259, padding 260; all +1
    assert ids[1][:6] == [259, 105, 196, 170, 260, 261] and set(ids[1][6:]) == {261}
    assert ids[0][:4] == [259, 257, 260, 261] and ids[2][:4] == [259, 258, 260, 261]  # <S> 256, </S> 257
    batch = tokenizer(["a b c", "d"], return_tensors="pt", return_special_tokens_mask=True)
    assert batch["input_ids"].shape == (2, 5, 50) and batch["attention_mask"].tolist() == [[1] * 5, [1, 1, 1, 0, 0]]
    assert not batch["input_ids"][1, 3:].any()  # padded tokens are all-zero rows (the model's mask)
    assert batch["special_tokens_mask"][1].tolist() == [1, 0, 1, 1, 1]
    assert tokenizer("a b", add_special_tokens=False)["input_ids"] == [tokenizer.word_to_char_ids(w) for w in "ab"]


def test_long_words_are_truncated_to_48_bytes_as_elmo_does():
    tokenizer = ElmoCharacterTokenizer()
    long_word = "a" * 47 + "é" + "z" * 10  # 59 bytes; the 48-byte cut falls inside 'é' (2 bytes)
    ids = tokenizer.word_to_char_ids(long_word)
    assert len(ids) == 50 and ids[0] == 259 and ids[49] == 260  # begin/end-of-word survive
    assert ids[1:49] == [b + 1 for b in long_word.encode("utf-8")[:48]]  # 47 'a' + the first byte of 'é'
    assert tokenizer.word_to_char_ids("a" * 48 + "tail") == tokenizer.word_to_char_ids("a" * 48)
    model = tiny_model()
    with torch.no_grad():  # so two words that share their first 48 bytes get the same token vector
        out = model(**tokenizer(["a" * 48 + "x", "a" * 48 + "y"], return_tensors="pt"))
    torch.testing.assert_close(out.hidden_states[0][0, 1], out.hidden_states[0][1, 1])
    short = ElmoCharacterTokenizer(max_characters_per_token=10)
    assert short.word_to_char_ids("abcdefghijkl")[1:9] == [b + 1 for b in b"abcdefgh"]


def test_tokenizer_round_trips_through_auto_tokenizer(tmp_path):
    tokenizer = ElmoCharacterTokenizer.from_words(["the", "cat", "sat"])
    assert tokenizer.convert_ids_to_tokens([0, 1, 2, 3]) == ["</S>", "<S>", "<UNK>", "the"]
    model = ElmoForBiLM(ElmoConfig(**TINY, vocab_size=len(tokenizer)))
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert type(loaded) is ElmoCharacterTokenizer and loaded.get_vocab() == tokenizer.get_vocab()
    encoded = loaded("the dog sat", return_word_ids=True)
    assert encoded["word_ids"] == [1, 3, 2, 5, 0]  # <S> the <UNK> sat </S>
    assert encoded["input_ids"] == tokenizer("the dog sat")["input_ids"]


def test_each_direction_sees_only_its_side_of_the_sentence():
    model = tiny_model(num_layers=2)
    tokenizer = ElmoCharacterTokenizer()
    a = tokenizer(["the bank of the river"], return_tensors="pt")
    b = tokenizer(["the bank of a loan"], return_tensors="pt")  # differs from position 4 on (<S> is 0)
    with torch.no_grad():
        top_a, top_b = model(**a).last_hidden_state[0], model(**b).last_hidden_state[0]
    P = model.config.projection_dim
    torch.testing.assert_close(top_a[:4, :P], top_b[:4, :P])  # forward LM: positions before the change agree
    assert not torch.allclose(top_a[4:, :P], top_b[4:, :P])
    assert not torch.allclose(top_a[:4, P:], top_b[:4, P:])  # backward LM: everything before the change differs


def test_stateless_batching_and_padding_do_not_change_a_sentence():
    model = tiny_model()
    tokenizer = ElmoCharacterTokenizer()
    sentences = ["a short one", "a much longer sentence with many more words in it", "two words"]
    with torch.no_grad():
        together = model(**tokenizer(sentences, return_tensors="pt")).hidden_states
        for row, sentence in enumerate(sentences):
            alone = model(**tokenizer([sentence], return_tensors="pt")).hidden_states
            length = alone[0].shape[1]
            for layer_together, layer_alone in zip(together, alone):
                torch.testing.assert_close(layer_together[row, :length], layer_alone[0], rtol=1e-5, atol=1e-6)
                assert not layer_together[row, length:].any()
        # calling twice gives the same vectors: no state carried between calls
        again = model(**tokenizer(sentences, return_tensors="pt")).hidden_states
    for first, second in zip(together, again):
        torch.testing.assert_close(first, second)


def test_remove_sentence_boundaries_gives_allennlp_elmo_shapes():
    model = tiny_model()
    batch = ElmoCharacterTokenizer()(["one two three", "four"], return_tensors="pt")
    with torch.no_grad():
        out = model(**batch)
    words, mask = remove_sentence_boundaries(out.elmo_representations, out.attention_mask)
    assert words.shape == (2, 3, 12) and mask.tolist() == [[True, True, True], [True, False, False]]
    torch.testing.assert_close(words[0], out.elmo_representations[0, 1:4])
    torch.testing.assert_close(words[1, 0], out.elmo_representations[1, 1])
    assert not words[1, 1:].any()  # </S> of the short row is gone, not moved


def test_clipping_bounds_the_projection_and_layer_zero_is_the_token_layer_twice():
    model = tiny_model(proj_clip=0.05, cell_clip=0.1)
    with torch.no_grad():
        for param in model.encoder.parameters():
            param.mul_(20.0)  # saturate: without clipping the projections would exceed 0.05
        out = model(**ElmoCharacterTokenizer()(["clipping keeps the states small"], return_tensors="pt"))
    first_layer = out.hidden_states[1]
    assert first_layer.abs().max() <= 0.05 + 1e-7 and first_layer.abs().max() == pytest.approx(0.05)
    P = model.config.projection_dim
    torch.testing.assert_close(out.hidden_states[0][..., :P], out.hidden_states[0][..., P:])
    unclipped = tiny_model(proj_clip=None, cell_clip=None)
    unclipped.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert unclipped(**ElmoCharacterTokenizer()(["clipping keeps the states small"], return_tensors="pt")).hidden_states[1].abs().max() > 0.1


def test_fused_lstm_path_gives_the_step_loops_numbers():
    from hfext_elmo import ElmoLstmCellWithProjection

    torch.manual_seed(0)
    cell = ElmoLstmCellWithProjection(ElmoConfig(**TINY, cell_clip=None, proj_clip=None))
    with torch.no_grad():
        for param in cell.parameters():
            param.normal_(0.0, 0.5)
    inputs = torch.randn(3, 7, TINY["projection_dim"], requires_grad=True)
    fused = cell(inputs)  # no clipping: torch.lstm with proj_size
    cell.cell_clip = 1e9  # a clip that never binds: the step-by-step loop, same function
    looped = cell(inputs)
    torch.testing.assert_close(fused, looped)
    for a, b in zip(torch.autograd.grad(fused.square().sum(), [inputs, *cell.parameters()]),
                    torch.autograd.grad(looped.square().sum(), [inputs, *cell.parameters()])):
        torch.testing.assert_close(a, b)


def test_scalar_mix_is_gamma_times_softmax_weighted_layers():
    model = tiny_model(representation_dropout=0.5)
    with torch.no_grad():
        model.scalar_mix.scalar_parameters.copy_(torch.tensor([0.5, -1.0, 2.0]))
        model.scalar_mix.gamma.fill_(1.7)
        out = model(**ElmoCharacterTokenizer()(["mix the layers", "ok"], return_tensors="pt"))
    s = torch.softmax(torch.tensor([0.5, -1.0, 2.0]), dim=0)  # s = softmax(w)
    expected = 1.7 * sum(s[j] * out.hidden_states[j] for j in range(3))  # ELMo_k = gamma sum_j s_j h_kj
    torch.testing.assert_close(out.elmo_representations, expected)
    normed = tiny_model(scalar_mix_layer_norm=True)
    with torch.no_grad():
        out = normed(**ElmoCharacterTokenizer()(["mix the layers", "ok"], return_tensors="pt"))
    mask = out.attention_mask.unsqueeze(-1).float()
    layer = out.hidden_states[1]
    mean = (layer * mask).sum() / (mask.sum() * layer.shape[-1])
    std = torch.sqrt((((layer - mean) * mask) ** 2).sum() / (mask.sum() * layer.shape[-1]))
    assert out.elmo_representations.shape == layer.shape
    torch.testing.assert_close(  # with equal weights: the mean of the layer-normalised layers
        out.elmo_representations, sum(((h - (h * mask).sum() / (mask.sum() * h.shape[-1])) /
                                       torch.sqrt((((h - (h * mask).sum() / (mask.sum() * h.shape[-1])) * mask) ** 2).sum()
                                                  / (mask.sum() * h.shape[-1]) + 1e-13)) / 3 for h in out.hidden_states))
    assert std > 0


def test_bilm_loss_is_forward_plus_backward_nll():
    tokenizer = ElmoCharacterTokenizer.from_words(["the", "cat", "sat", "on", "mat"])
    model = tiny_model(ElmoForBiLM, vocab_size=len(tokenizer))
    batch = tokenizer(["the cat sat", "on the mat now"], return_tensors="pt", return_word_ids=True)
    labels = batch.pop("word_ids")
    with torch.no_grad():
        out = model(**batch, labels=labels)
        logits = model(**batch)
    forward_nll, backward_nll, count = 0.0, 0.0, 0
    for row in range(2):
        length = int(batch["attention_mask"][row].sum())
        ids = labels[row, :length]
        forward_nll += F.cross_entropy(logits.forward_logits[row, : length - 1], ids[1:], reduction="sum")  # t_{k+1}
        backward_nll += F.cross_entropy(logits.backward_logits[row, 1:length], ids[:-1], reduction="sum")  # t_{k-1}
        count += length - 1
    assert int(out.num_targets) == count == 4 + 5
    torch.testing.assert_close(out.forward_loss, forward_nll / count)
    torch.testing.assert_close(out.backward_loss, backward_nll / count)
    torch.testing.assert_close(out.loss, (forward_nll + backward_nll) / count)
    assert 0 < out.forward_loss < 2 * math.log(len(tokenizer))


def test_sampled_softmax_trains_the_full_softmax():
    torch.manual_seed(0)
    words = [f"w{i}" for i in range(200)]
    tokenizer = ElmoCharacterTokenizer.from_words(words)
    model = tiny_model(ElmoForBiLM, vocab_size=len(tokenizer), num_sampled=20, dropout=0.0, projection_dim=16, lstm_dim=32)
    sentences = [" ".join(words[i : i + 6]) for i in range(0, 60, 3)]  # a deterministic sequence to learn
    batch = tokenizer(sentences, return_tensors="pt", return_word_ids=True)
    labels = batch.pop("word_ids")
    with torch.no_grad():
        before = model(**batch, labels=labels).loss  # eval mode: the full softmax
    model.train()
    sampled = model(**batch, labels=labels)
    assert sampled.loss.isfinite() and sampled.loss < before  # 21 classes instead of 203
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(150):
        optimizer.zero_grad()
        model(**batch, labels=labels).loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        after = model(**batch, labels=labels).loss
    assert after < 0.7 * before  # the sampled estimate's gradient lowers the true (full-softmax) loss
    ids, tries = sample_log_uniform_unique(20, len(tokenizer), "cpu")
    assert len(set(ids.tolist())) == 20 and tries >= 20  # distinct samples, as TF's unique sampler
    # frequent (low) ids are drawn far more often: Q(0) / Q(199) = log 2 / log(201/200)
    draws = torch.cat([sample_log_uniform_unique(5, 200, "cpu")[0] for _ in range(300)])
    assert (draws < 20).float().mean() > 0.4


def test_auto_classes_and_round_trip(tmp_path):
    config = AutoConfig.for_model("hfext-elmo", **TINY, vocab_size=12)
    model = AutoModelForPreTraining.from_config(config)
    assert type(model) is ElmoForBiLM
    model.save_pretrained(tmp_path)
    loaded = AutoModelForPreTraining.from_pretrained(tmp_path)
    for name, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[name]), name
    features = AutoModel.from_pretrained(tmp_path).eval()  # the biLM under a fresh scalar mix
    assert type(features) is ElmoModel
    for name, value in model.elmo.state_dict().items():
        assert torch.equal(value, features.state_dict()[name]), name
    assert features.scalar_mix.gamma.item() == 1.0 and not features.scalar_mix.scalar_parameters.any()
    assert features.char_encoder.char_embedding.weight[0].abs().sum() == 0  # the padding id embeds to zero


def test_bad_input_fails_clearly():
    model = tiny_model()
    tokenizer = ElmoCharacterTokenizer()
    with pytest.raises(ValueError, match="sentence 1 of the batch is empty") as error:
        tokenizer(["fine", "   "])
    assert str(error.value).endswith("before tokenizing (see docs/troubleshooting.md#elmo-inputs)")
    with pytest.raises(ValueError, match="drop empty lines"):
        tokenizer("")
    batch = tokenizer(["a b", "c"], return_tensors="pt")
    with pytest.raises(ValueError, match=r"sentence\(s\) \[1\] of the batch have no tokens"):
        model(input_ids=batch["input_ids"], attention_mask=torch.tensor([[1, 1, 1, 1], [0, 0, 0, 0]]))
    with pytest.raises(ValueError, match="right padding") as error:
        model(input_ids=batch["input_ids"], attention_mask=torch.tensor([[1, 1, 1, 1], [0, 1, 1, 1]]))
    assert str(error.value).endswith("padding_side='right' (see docs/troubleshooting.md#elmo-inputs)")
    with pytest.raises(ValueError, match=r"one sentence without a batch dimension"):
        model(input_ids=batch["input_ids"][0])
    with pytest.raises(ValueError, match=r"\(batch, tokens, 50\).*got \(2, 4, 20\)"):
        model(input_ids=batch["input_ids"][..., :20])
    with pytest.raises(ValueError, match=r"character ids must lie in \[0, 262\)"):
        model(input_ids=batch["input_ids"] + 300)
    bilm = tiny_model(ElmoForBiLM, vocab_size=5)
    with pytest.raises(ValueError, match=r"labels must be word ids in \[0, vocab_size=5\)"):
        bilm(**batch, labels=torch.tensor([[1, 9, 2, 0], [1, 2, 0, -100]]))


def test_remote_code_checkpoint_loads_without_hfext(tmp_path):
    """Plugins are self-contained: a saved checkpoint (model and character tokenizer) loads with
    trust_remote_code=True in a process that never imports hfext."""
    tokenizer = ElmoCharacterTokenizer.from_words(["the", "cat"])
    model = tiny_model(ElmoForBiLM, vocab_size=len(tokenizer))
    model.register_for_auto_class("AutoModelForPreTraining")
    model.config.register_for_auto_class()
    tokenizer.register_for_auto_class("AutoTokenizer")
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    assert {"modeling_elmo.py", "configuration_elmo.py", "tokenization_elmo.py"} <= set(os.listdir(tmp_path))
    batch = tokenizer(["the cat sat"], return_tensors="pt", return_word_ids=True)
    labels = batch.pop("word_ids")
    with torch.no_grad():
        expected = model(**batch, labels=labels).loss.item()
    code = (
        "import json, sys, torch\n"
        "from transformers import AutoModelForPreTraining, AutoTokenizer\n"
        f"m = AutoModelForPreTraining.from_pretrained({str(tmp_path)!r}, trust_remote_code=True).eval()\n"
        f"t = AutoTokenizer.from_pretrained({str(tmp_path)!r}, trust_remote_code=True)\n"
        "b = t(['the cat sat'], return_tensors='pt', return_word_ids=True)\n"
        "loss = m(input_ids=b['input_ids'], attention_mask=b['attention_mask'], labels=b['word_ids']).loss.item()\n"
        "print(json.dumps({'module': type(m).__module__, 'tok': type(t).__module__, 'hfext': 'hfext' in sys.modules, 'loss': loss}))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "HF_MODULES_CACHE": str(tmp_path / "modules")}
    done = subprocess.run([sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["module"].startswith("transformers_modules") and report["tok"].startswith("transformers_modules")
    assert not report["hfext"]
    assert report["loss"] == pytest.approx(expected, rel=1e-5)


def test_init_follows_bilm_tf():
    """bilm-tf's initialisers reach every module, including those transformers would skip for remote code
    because they hold no parameters of their own (the character encoder, the LSTM cells, the LM's head model)."""
    model = ElmoForBiLM(ElmoConfig(**TINY, vocab_size=50))
    encoder = model.elmo.char_encoder
    embedding = encoder.char_embedding.weight
    assert float(embedding[0].abs().max()) == 0.0 and float(embedding.abs().max()) <= 1.0
    assert float(embedding[1:].std()) == pytest.approx((1 / 3) ** 0.5, rel=0.15)  # uniform(-1, 1)
    highway = encoder.highway.layers[0]
    size = highway.in_features
    assert torch.equal(highway.bias, torch.cat([torch.zeros(size), torch.full((size,), 2.0)]))  # carry gate open
    cell = model.elmo.encoder.forward_layers[0]
    c = cell.cell_size
    assert torch.equal(cell.state_linearity.bias, torch.cat([torch.zeros(c), torch.ones(c), torch.zeros(2 * c)]))
    assert float(model.lm_head.bias.abs().max()) == 0.0
