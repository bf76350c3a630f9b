"""AllenNLP / bilm-tf ELMo weights -> hfext-elmo: a small weights.hdf5 written in bilm-tf's layout (dataset
names and shapes as AllenNLP's loader reads them) converts to a model that reproduces a reference forward
pass written here from TensorFlow's definitions (conv2d VALID, highway carry gate, LSTMCell with
forget_bias 1, cell/projection clipping, num_proj), independently of hfext's code; bad input fails clearly."""

import json

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

import hfext  # noqa: F401
from hfext.cli import main as cli_main
from hfext.convert import AllenNLPElmoFormatError, convert_allennlp_elmo

h5py = pytest.importorskip("h5py")

OPTIONS = {
    "lstm": {"use_skip_connections": True, "projection_dim": 6, "cell_clip": 3, "proj_clip": 3, "dim": 10, "n_layers": 2},
    "char_cnn": {"activation": "relu", "filters": [[1, 4], [2, 6], [3, 8]], "n_highway": 2, "embedding": {"dim": 5},
                 "n_characters": 262, "max_characters_per_token": 50},
}


def write_weights(path, options=OPTIONS, seed=0, lstm_scale=1.5):
    """bilm-tf's dump: char_embed has 261 rows (no padding row); W_0 is [inputs; m_prev] x 4 gates (i, j, f, o)."""
    rng = np.random.default_rng(seed)
    cnn, lstm = options["char_cnn"], options["lstm"]
    e, P, c = cnn["embedding"]["dim"], lstm["projection_dim"], lstm["dim"]
    F = sum(n for _, n in cnn["filters"])

    def normal(*shape, scale=0.5):
        return rng.normal(0.0, scale, size=shape).astype(np.float32)

    with h5py.File(path, "w") as f:
        f["char_embed"] = normal(261, e, scale=1.0)
        for i, (width, number) in enumerate(cnn["filters"]):
            f[f"CNN/W_cnn_{i}"] = normal(1, width, e, number)
            f[f"CNN/b_cnn_{i}"] = normal(number, scale=0.1)
        for k in range(cnn["n_highway"]):
            f[f"CNN_high_{k}/W_carry"] = normal(F, F, scale=0.3)
            f[f"CNN_high_{k}/b_carry"] = normal(F, scale=0.3)
            f[f"CNN_high_{k}/W_transform"] = normal(F, F, scale=0.3)
            f[f"CNN_high_{k}/b_transform"] = normal(F, scale=0.3)
        f["CNN_proj/W_proj"] = normal(F, P, scale=0.3)
        f["CNN_proj/b_proj"] = normal(P, scale=0.1)
        for d in range(2):
            for layer in range(lstm["n_layers"]):
                group = f"RNN_{d}/RNN/MultiRNNCell/Cell{layer}/LSTMCell"
                f[f"{group}/W_0"] = normal(2 * P, 4 * c, scale=lstm_scale)  # large: the cell clip engages
                f[f"{group}/B"] = normal(4 * c, scale=0.5)
                f[f"{group}/W_P_0"] = normal(c, P, scale=lstm_scale)


def reference_char_ids(word):
    """ELMo's ids, spelled out: begin-of-word 258, UTF-8 bytes (at most 48), end-of-word 259, padding 260; +1."""
    if word in ("<S>", "</S>"):
        ids = [258, 256 if word == "<S>" else 257, 259] + [260] * 47
    else:
        data = list(word.encode("utf-8"))[:48]
        ids = [258, *data, 259] + [260] * (48 - len(data))
    return [i + 1 for i in ids]


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def reference_layers(path, options, words):
    """ELMo's layers for one sentence (with <S> and </S>) computed from the hdf5 arrays as bilm-tf defines them.
    Returns the list of (T, 2P) layers and the largest |memory cell| reached before clipping."""
    cnn, lstm = options["char_cnn"], options["lstm"]
    with h5py.File(path, "r") as f:
        w = {name: f[name][...].astype(np.float64) for name in _dataset_names(f)}
    tokens = ["<S>", *words, "</S>"]
    table = np.vstack([np.zeros((1, w["char_embed"].shape[1])), w["char_embed"]])  # id 0 = padding
    x = table[np.array([reference_char_ids(t) for t in tokens])]  # (T, 50, e)
    pooled = []
    for i, (width, _) in enumerate(cnn["filters"]):
        kernel, bias = w[f"CNN/W_cnn_{i}"][0], w[f"CNN/b_cnn_{i}"]  # (width, e, n)
        positions = x.shape[1] - width + 1  # conv2d padding="VALID"
        conv = np.stack([np.einsum("tke,ken->tn", x[:, p : p + width], kernel) for p in range(positions)], 1) + bias
        pooled.append(np.maximum(conv.max(axis=1), 0.0))  # max over positions, then relu
    h = np.concatenate(pooled, axis=1)
    for k in range(cnn["n_highway"]):
        carry = sigmoid(h @ w[f"CNN_high_{k}/W_carry"] + w[f"CNN_high_{k}/b_carry"])
        transform = np.maximum(h @ w[f"CNN_high_{k}/W_transform"] + w[f"CNN_high_{k}/b_transform"], 0.0)
        h = carry * transform + (1.0 - carry) * h
    token_layer = h @ w["CNN_proj/W_proj"] + w["CNN_proj/b_proj"]  # (T, P)
    largest_cell = 0.0

    def run(d, layer, inputs):
        nonlocal largest_cell
        group = f"RNN_{d}/RNN/MultiRNNCell/Cell{layer}/LSTMCell"
        c_dim, p_dim = lstm["dim"], lstm["projection_dim"]
        c, m, outputs = np.zeros(c_dim), np.zeros(p_dim), []
        for x_t in inputs:
            z = np.concatenate([x_t, m]) @ w[f"{group}/W_0"] + w[f"{group}/B"]
            i, j, f_, o = np.split(z, 4)
            c = sigmoid(f_ + 1.0) * c + sigmoid(i) * np.tanh(j)  # LSTMCell(forget_bias=1.0)
            largest_cell = max(largest_cell, float(np.abs(c).max()))
            c = np.clip(c, -lstm["cell_clip"], lstm["cell_clip"])
            m = np.clip((sigmoid(o) * np.tanh(c)) @ w[f"{group}/W_P_0"], -lstm["proj_clip"], lstm["proj_clip"])
            outputs.append(m)
        return np.array(outputs)

    layers = [np.concatenate([token_layer, token_layer], axis=1)]
    forward_in, backward_in = token_layer, token_layer[::-1]
    for layer in range(lstm["n_layers"]):
        forward_out, backward_out = run(0, layer, forward_in), run(1, layer, backward_in)
        if layer > 0:  # residual connections from the second layer on
            forward_out, backward_out = forward_out + forward_in, backward_out + backward_in
        layers.append(np.concatenate([forward_out, backward_out[::-1]], axis=1))
        forward_in, backward_in = forward_out, backward_out
    return layers, largest_cell


def _dataset_names(f):
    names = []
    f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
    return names


def write_files(tmp_path, options=OPTIONS, weights_options=OPTIONS):
    options_path, weights_path = tmp_path / "options.json", tmp_path / "weights.hdf5"
    options_path.write_text(json.dumps(options))
    write_weights(weights_path, weights_options)
    return options_path, weights_path


SENTENCES = [
    ["The", "bank", "raised", "rates", "."],
    ["Größenwahn", "x" * 60, "naïve"],  # multi-byte characters; a 60-byte word ELMo truncates to 48 bytes
]


def test_converted_model_reproduces_the_reference_forward_pass(tmp_path):
    options_path, weights_path = write_files(tmp_path)
    dst = tmp_path / "elmo"
    convert_allennlp_elmo(options_path, weights_path, dst)
    model = AutoModel.from_pretrained(dst).eval()
    tokenizer = AutoTokenizer.from_pretrained(dst)
    assert model.config.model_type == "hfext-elmo" and model.config.n_characters == 262
    batch = tokenizer(SENTENCES, is_split_into_words=True, return_tensors="pt")
    assert batch["input_ids"][1, 2].tolist() == reference_char_ids("x" * 48)  # truncated as ELMo does
    with torch.no_grad():
        out = model(**batch)
    largest = 0.0
    for row, words in enumerate(SENTENCES):
        expected, largest_cell = reference_layers(weights_path, OPTIONS, words)
        largest = max(largest, largest_cell)
        length = len(words) + 2
        assert len(out.hidden_states) == len(expected) == 3
        for ours, theirs in zip(out.hidden_states, expected):
            np.testing.assert_allclose(ours[row, :length].numpy(), theirs, rtol=1e-4, atol=1e-5)
        # the untrained scalar mix is AllenNLP's: softmax(0) = equal weights, gamma = 1
        np.testing.assert_allclose(out.elmo_representations[row, :length].numpy(), np.mean(expected, axis=0), rtol=1e-4, atol=1e-5)
        assert not out.hidden_states[-1][row, length:].any()  # padding rows are zero
    assert largest > 3.0  # the weights drive the memory cell past the clip, so clipping was checked too


def test_cli_converts_and_reports(tmp_path, capsys):
    options_path, weights_path = write_files(tmp_path)
    assert cli_main(["convert", "allennlp-elmo", str(options_path), str(weights_path), str(tmp_path / "out")]) == 0
    assert "2 LSTM layers, cell 10, projection 6" in capsys.readouterr().out
    assert (tmp_path / "out" / "model.safetensors").exists() and (tmp_path / "out" / "tokenizer_config.json").exists()
    # a non-empty destination needs --overwrite
    assert cli_main(["convert", "allennlp-elmo", str(options_path), str(weights_path), str(tmp_path / "out")]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert cli_main(["convert", "allennlp-elmo", str(tmp_path / "nope.json"), str(weights_path), str(tmp_path / "x")]) == 2
    assert "does not exist" in capsys.readouterr().err


def _with(section, key, value):
    options = json.loads(json.dumps(OPTIONS))
    options[section][key] = value
    return options


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (_with("lstm", "projection_dim", 8), r"'CNN_proj/W_proj' has shape \(18, 6\) but the options file implies \(18, 8\)"),
        (_with("lstm", "dim", 12), r"'RNN_0/RNN/MultiRNNCell/Cell0/LSTMCell/W_0' has shape \(12, 40\).*\(12, 48\)"),
        (_with("lstm", "n_layers", 3), r"holds 2 LSTM layers per direction but the options say lstm.n_layers = 3"),
        (_with("char_cnn", "n_highway", 1), r"holds 2 highway layers but the options say char_cnn.n_highway = 1"),
        (_with("char_cnn", "filters", [[1, 4], [2, 6], [4, 8]]), r"'CNN/W_cnn_2' has shape \(1, 3, 5, 8\).*filters\[2\] = \[4, 8\]"),
        (_with("char_cnn", "n_characters", 300), r"char_embed has 261 rows but the options say n_characters = 300"),
        ({"lstm": OPTIONS["lstm"]}, r"has no 'char_cnn.filters' entry"),
    ],
)
def test_options_that_do_not_match_the_weights_fail_clearly(tmp_path, options, message):
    options_path, weights_path = write_files(tmp_path, options=options)
    with pytest.raises(AllenNLPElmoFormatError, match=message) as err:
        convert_allennlp_elmo(options_path, weights_path, tmp_path / "elmo")
    assert str(err.value).endswith("(see docs/troubleshooting.md#convert-elmo)")
    assert not (tmp_path / "elmo" / "model.safetensors").exists()


def test_files_that_are_not_elmo_fail_clearly(tmp_path, capsys):
    options_path, weights_path = write_files(tmp_path)
    not_hdf5 = tmp_path / "weights.txt"
    not_hdf5.write_text("hello")
    with pytest.raises(AllenNLPElmoFormatError, match="not an HDF5 file"):
        convert_allennlp_elmo(options_path, not_hdf5, tmp_path / "a")
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{lstm")
    with pytest.raises(AllenNLPElmoFormatError, match="not a JSON options file"):
        convert_allennlp_elmo(bad_json, weights_path, tmp_path / "b")
    with pytest.raises(FileNotFoundError, match="no ELMo weight file") as err:
        convert_allennlp_elmo(options_path, tmp_path / "missing.hdf5", tmp_path / "c")
    assert str(err.value).endswith("(see docs/troubleshooting.md#convert-elmo)")
    one_layer = tmp_path / "one_layer.json"
    one_layer.write_text(json.dumps(_with("lstm", "n_layers", 1)))
    code = cli_main(["convert", "allennlp-elmo", str(one_layer), str(weights_path), str(tmp_path / "e")])
    err = capsys.readouterr().err
    assert code == 2 and "lstm.n_layers = 1" in err
    assert err.rstrip().endswith("(see docs/troubleshooting.md#convert-elmo)")  # the CLI keeps the converter's section
