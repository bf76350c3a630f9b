"""Attention primitives against the lecture's formulas and torch's own implementations."""

import pytest
import torch
import torch.nn.functional as F

from hfext.attention import (
    AdditiveAttention,
    MultiHeadAttention,
    NadarayaWatsonRegression,
    average_pooling,
    fit_nadaraya_watson,
    kernel_regression_data,
    masked_softmax,
    nadaraya_watson,
    scaled_dot_product_attention,
    true_function,
)


def mse(prediction, truth):
    return float(((prediction - truth) ** 2).mean())


def test_attention_pooling_beats_average_pooling_by_far():
    x_train, y_train, x_test, y_truth = kernel_regression_data(seed=0)
    torch.testing.assert_close(y_truth, 2 * torch.sin(x_test) + x_test**0.8)
    average = mse(average_pooling(y_train, len(x_test)), y_truth)
    attended, weights = nadaraya_watson(x_test, x_train, y_train)
    torch.testing.assert_close(weights.sum(-1), torch.ones(len(x_test)))
    non_parametric = mse(attended, y_truth)
    model, losses = fit_nadaraya_watson(x_train, y_train, epochs=5)
    assert losses[-1] < losses[0]
    with torch.no_grad():
        parametric = mse(model(x_test, x_train, y_train), y_truth)
    assert model.attention_weights.shape == (len(x_test), len(x_train))
    # Average pooling ignores x entirely (MSE ~0.9 here); the fixed-width kernel (w = 1) follows the
    # curve but oversmooths (~0.4); the learned width (w ~ 6-10) fits it closely (~0.05-0.15).
    assert non_parametric < average / 1.5
    assert parametric < average / 4 and parametric < non_parametric / 2
    assert model.width.item() > 2
    for seed in range(1, 4):  # not a lucky draw
        x_train, y_train, x_test, y_truth = kernel_regression_data(seed=seed)
        average = mse(average_pooling(y_train, 50), y_truth)
        assert mse(nadaraya_watson(x_test, x_train, y_train)[0], y_truth) < average / 1.5
        model, _ = fit_nadaraya_watson(x_train, y_train)
        with torch.no_grad():
            assert mse(model(x_test, x_train, y_train), y_truth) < average / 4


def test_kernel_weights_follow_the_formula():
    queries, keys = torch.tensor([0.0, 1.0]), torch.tensor([0.0, 0.5, 3.0])
    _, weights = nadaraya_watson(queries, keys, torch.zeros(3), width=2.0)
    raw = torch.exp(-((queries[:, None] - keys[None, :]) * 2.0) ** 2 / 2)
    torch.testing.assert_close(weights, raw / raw.sum(-1, keepdim=True))
    assert NadarayaWatsonRegression(3.0).width.item() == 3.0
    assert float(true_function(torch.tensor(0.0))) == 0.0
    with pytest.raises(ValueError, match="n_train must be >= 2"):
        kernel_regression_data(n_train=1)


def test_masked_softmax():
    scores = torch.randn(2, 3, 4)
    weights = masked_softmax(scores, torch.tensor([2, 3]))
    assert (weights[0, :, 2:] == 0).all() and (weights[1, :, 3:] == 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3))
    torch.testing.assert_close(weights[0, :, :2], torch.softmax(scores[0, :, :2], -1))
    per_query = masked_softmax(scores, torch.tensor([[1, 2, 3], [4, 4, 0]]))
    assert (per_query[0, 0, 1:] == 0).all() and (per_query[1, 2] == 0).all()  # no valid key: zeros, not NaN
    with pytest.raises(ValueError, match="not both"):
        masked_softmax(scores, torch.tensor([1, 1]), torch.ones(2, 3, 4, dtype=torch.bool))


def test_additive_attention_uses_only_valid_keys():
    torch.manual_seed(0)
    attention = AdditiveAttention(query_size=20, key_size=2, num_hiddens=8)
    queries, keys = torch.normal(0, 1, (2, 1, 20)), torch.ones(2, 10, 2)
    values = torch.arange(40, dtype=torch.float32).reshape(1, 10, 4).repeat(2, 1, 1)
    out = attention(queries, keys, values, torch.tensor([2, 6]))
    # identical keys -> uniform weights over the valid ones: the mean of the first 2 / 6 value rows
    torch.testing.assert_close(out[0, 0], values[0, :2].mean(0))
    torch.testing.assert_close(out[1, 0], values[1, :6].mean(0))


@pytest.mark.parametrize("is_causal", [False, True])
def test_scaled_dot_product_matches_torch(is_causal):
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 5, 8), torch.randn(2, 3, 5, 8)
    padding = torch.ones(2, 1, 1, 5, dtype=torch.bool)
    padding[0, ..., 3:] = False
    out, weights = scaled_dot_product_attention(q, k, v, padding, is_causal=is_causal)
    mask = padding & torch.ones(5, 5, dtype=torch.bool).tril() if is_causal else padding
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=1e-5)
    if is_causal:
        assert (weights[..., 0, 1:] == 0).all()
    additive = torch.randn(5, 5)
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, additive)[0],
                               F.scaled_dot_product_attention(q, k, v, attn_mask=additive), atol=1e-6, rtol=1e-5)


def test_multi_head_attention_matches_torch():
    torch.manual_seed(0)
    reference = torch.nn.MultiheadAttention(16, 4, batch_first=True).eval()
    ours = MultiHeadAttention.from_torch(reference).eval()
    query, memory = torch.randn(2, 6, 16), torch.randn(2, 7, 16)
    padding = torch.zeros(2, 7, dtype=torch.bool)
    padding[1, 5:] = True
    expected, expected_weights = reference(query, memory, memory, key_padding_mask=padding)
    out, weights = ours(query, memory, memory, key_padding_mask=padding)
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(weights, expected_weights, atol=1e-6, rtol=1e-5)
    causal = torch.nn.Transformer.generate_square_subsequent_mask(6)  # float -inf above the diagonal
    expected, _ = reference(query, query, query, attn_mask=causal)
    torch.testing.assert_close(ours(query, query, query, is_causal=True)[0], expected, atol=1e-6, rtol=1e-5)
    with pytest.raises(ValueError, match=r"embed_dim \(10\) is not a multiple of num_heads \(4\) \(see .*#attention-maps\)$"):
        MultiHeadAttention(10, 4)
    with pytest.raises(ValueError, match="dropout"):
        MultiHeadAttention(8, 2, dropout=-0.1)


def test_plot_commands(tmp_path, capsys):
    from hfext.cli import main as cli_main
    from hfext.plots import plot_attention_heatmap

    fit, heat = tmp_path / "fit.png", tmp_path / "heat.png"
    assert cli_main(["plot", "kernel-regression", "--out", str(fit), "--heatmap", str(heat)]) == 0
    out = capsys.readouterr().out
    assert "average pooling (MSE 0.905)" in out and "attention pooling, w = 1 (MSE 0.428)" in out
    assert fit.read_bytes()[:4] == heat.read_bytes()[:4] == b"\x89PNG"
    assert cli_main(["plot", "kernel-regression", "--out", str(tmp_path / "fit.jpg")]) == 2
    assert ".png, .pdf or .svg" in capsys.readouterr().err
    assert cli_main(["plot", "kernel-regression", "--out", str(fit), "--n_train", "1"]) == 2
    err = capsys.readouterr().err
    assert "--n_train must be >= 2" in err and err.rstrip().endswith("(see docs/troubleshooting.md#flag-value)")
    with pytest.raises(ValueError, match="2-D"):
        plot_attention_heatmap(torch.ones(2, 2, 2), tmp_path / "x.png")


def test_plot_attention_of_a_transformer(tmp_path, capsys):
    from transformers import AutoConfig, AutoModelForSeq2SeqLM

    import hfext  # noqa: F401
    from hfext.cli import main as cli_main
    from hfext.plots import seq2seq_attention
    from hfext.training.seq2seq import train_tokenizer

    tokenizer = train_tokenizer(["a b c d e", "e d c b a"], tokenizer_type="wordlevel")
    torch.manual_seed(0)
    config = AutoConfig.for_model("hfext-transformer", vocab_size=len(tokenizer), d_model=16, num_heads=2,
                                  encoder_layers=1, decoder_layers=2, ffn_dim=32, max_position_embeddings=32,
                                  pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                                  eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.bos_token_id)
    model = AutoModelForSeq2SeqLM.from_config(config)
    model.generation_config.max_new_tokens = 6
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")

    eager = AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "model", attn_implementation="eager").eval()
    weights, keys, queries = seq2seq_attention(eager, tokenizer, "a b c", kind="cross", layer=1)
    assert weights.shape == (len(queries), len(keys)) and keys[:3] == ["a", "b", "c"]
    torch.testing.assert_close(weights.sum(-1), torch.ones(len(queries)))
    decoder, _, _ = seq2seq_attention(eager, tokenizer, "a b c", kind="decoder", head=1)
    assert torch.equal(decoder, decoder.tril())  # causal: no query looks ahead
    with pytest.raises(ValueError, match="layer 5 does not exist"):
        seq2seq_attention(eager, tokenizer, "a b c", layer=5)

    out = tmp_path / "attention.png"
    assert cli_main(["plot", "attention", str(tmp_path / "model"), "a b c", "--out", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG" and "cross attention of layer -1" in capsys.readouterr().out
    assert cli_main(["plot", "attention", str(tmp_path / "model"), "a b", "--head", "7", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "head 7 does not exist" in err and err.rstrip().endswith("(see docs/troubleshooting.md#attention-maps)")
    assert err.count("troubleshooting.md#") == 1  # the wrapped error's own section, not a second one
    assert cli_main(["plot", "attention", str(tmp_path / "nothing"), "a", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "not a model folder" in err and err.rstrip().endswith("(see docs/troubleshooting.md#model-dir)")
