"""GloVe: the model's weighted least-squares loss, glove.c's AdaGrad (kernel and autograd), the recipe
(quality, exact resume, two processes), the GloVe text format and the CLI."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import REPO, load_recipe
from hfext_glove import GloVeConfig, GloVeModel
from transformers import AutoConfig, AutoModel, AutoTokenizer

import hfext  # noqa: F401
from hfext.cli import main as cli_main
from hfext.training.glove import (
    GRAD_CLIP,
    GloVeAdaGrad,
    GloVeTask,
    make_optimizer,
    train_entries,
    train_strata,
)
from hfext.vectors import KeyedVectors


def small_model(vocab_size=6, dim=4, seed=0, **kwargs):
    torch.manual_seed(seed)
    return GloVeModel(GloVeConfig(vocab_size=vocab_size, vector_size=dim, **kwargs))


def test_config_validation():
    with pytest.raises(ValueError, match="x_max must be > 0"):
        GloVeConfig(x_max=0)
    with pytest.raises(ValueError, match="vector_combination"):
        GloVeConfig(vector_combination="mean")
    with pytest.raises(ValueError, match="window must be >= 1"):
        GloVeConfig(window=0)


def test_loss_is_the_weighted_least_squares_formula():
    model = small_model(x_max=10.0, alpha=0.75)
    i, j, x = torch.tensor([1, 2, 3]), torch.tensor([2, 0, 3]), torch.tensor([1.0, 10.0, 50.0])
    w, wt = model.word_embeddings.weight, model.context_embeddings.weight
    b, bt = model.word_bias.weight[:, 0], model.context_bias.weight[:, 0]
    expected = []
    for a, c, count in zip(i.tolist(), j.tolist(), x.tolist()):
        f = min(1.0, (count / 10.0) ** 0.75)  # f(x) = (x / x_max)^alpha, capped at 1
        diff = float((w[a] @ wt[c] + b[a] + bt[c]).detach()) - np.log(count)
        expected.append(0.5 * f * diff**2)
    out = model(input_ids=i, context_ids=j, cooccurrence=x)
    assert out.loss.item() == pytest.approx(np.mean(expected), rel=1e-5)
    np.testing.assert_allclose(model.weighting(x).numpy(), [0.1**0.75, 1.0, 1.0], rtol=1e-6)
    with pytest.raises(ValueError, match="must be > 0"):
        model(input_ids=i, context_ids=j, cooccurrence=torch.tensor([1.0, 0.0, 2.0]))
    with pytest.raises(ValueError, match="needs both"):
        model(input_ids=i, context_ids=j)


def test_word_vectors_are_w_plus_w_tilde_and_round_trip(tmp_path):
    model = small_model()
    summed = model.get_word_vectors()
    torch.testing.assert_close(summed, model.word_embeddings.weight + model.context_embeddings.weight)
    torch.testing.assert_close(model(input_ids=torch.tensor([3])).hidden_states[0], summed[3])
    model.save_pretrained(tmp_path)
    loaded = AutoModel.from_pretrained(tmp_path)
    assert isinstance(loaded, GloVeModel) and loaded.config.vector_combination == "sum"
    torch.testing.assert_close(loaded.get_word_vectors(), summed)
    only_w = small_model(vector_combination="word")
    torch.testing.assert_close(only_w.get_word_vectors(), only_w.word_embeddings.weight)


def test_kernel_is_glove_c_adagrad_and_matches_autograd():
    """The fused kernel, one entry at a time, equals autograd + GloVeAdaGrad on the summed cost."""
    rng = np.random.default_rng(0)
    rows, cols = rng.integers(0, 6, 40), rng.integers(0, 6, 40)
    counts = rng.uniform(0.5, 30.0, 40)
    kernel_model, torch_model = small_model(x_max=10.0), small_model(x_max=10.0)
    kernel_opt = make_optimizer(kernel_model, 0.05, 1.0)
    torch_opt = make_optimizer(torch_model, 0.05, 1.0)
    params = [kernel_model.word_embeddings.weight, kernel_model.context_embeddings.weight,
              kernel_model.word_bias.weight, kernel_model.context_bias.weight]
    cost, used = train_entries(
        *[p.detach().numpy() for p in params], *[kernel_opt.state[p]["sum"].numpy() for p in params],
        rows, cols, counts, np.float32(0.05), np.float32(1.0), 10.0, 0.75, np.float32(GRAD_CLIP),
    )
    assert used == 40
    expected_cost = 0.0
    for a, c, x in zip(rows, cols, counts):
        loss = torch_model(input_ids=torch.tensor([a]), context_ids=torch.tensor([c]), cooccurrence=torch.tensor([x]))
        expected_cost += loss.loss.item()
        loss.loss.backward()
        torch_opt.step()
        torch_opt.zero_grad()
    assert cost == pytest.approx(expected_cost, rel=1e-4)
    for name in ("word_embeddings", "context_embeddings", "word_bias", "context_bias"):
        torch.testing.assert_close(getattr(kernel_model, name).weight, getattr(torch_model, name).weight, atol=1e-5, rtol=1e-4)


def test_parallel_lanes_never_race():
    """Two lanes in parallel give exactly what running their strata one after another gives."""
    rng = np.random.default_rng(3)
    n, lanes = 400, 2
    rows, cols, counts = rng.integers(0, 9, n), rng.integers(0, 9, n), rng.uniform(0.5, 30.0, n)
    strata = (rows % lanes) * lanes + cols % lanes
    order = np.argsort(strata, kind="stable")
    rows, cols, counts, strata = rows[order], cols[order], counts[order], strata[order]
    starts = np.searchsorted(strata, np.arange(lanes * lanes + 1))

    def state():
        model = small_model(vocab_size=9, dim=5, seed=7)
        optimizer = make_optimizer(model, 0.05, 1.0)
        params = [model.word_embeddings.weight, model.context_embeddings.weight, model.word_bias.weight,
                  model.context_bias.weight]
        return [p.detach().numpy() for p in params] + [optimizer.state[p]["sum"].numpy() for p in params]

    hyper = (np.float32(0.05), np.float32(1.0), 10.0, 0.75, np.float32(GRAD_CLIP))
    parallel = state()
    cost, used = train_strata(*parallel, rows, cols, counts, starts, *hyper)
    sequential = state()
    expected = 0.0
    for r in range(lanes):
        for lane in range(lanes):
            s = lane * lanes + (lane + r) % lanes
            a, z = starts[s], starts[s + 1]
            expected += train_entries(*sequential, rows[a:z], cols[a:z], counts[a:z], *hyper)[0]
    assert used == n and cost == pytest.approx(expected, rel=1e-12)
    for got, want in zip(parallel, sequential):
        np.testing.assert_array_equal(got, want)


def test_adagrad_follows_glove_c():
    """p -= s / sqrt(G) with the accumulator *before* the step, then G += s^2, where s = lr * g."""
    p = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    optimizer = GloVeAdaGrad([p], lr=0.5)
    p.grad = torch.tensor([2.0, -4.0])
    optimizer.step()
    torch.testing.assert_close(p.detach(), torch.tensor([1.0 - 1.0, 2.0 + 2.0]))  # first step: G = 1
    torch.testing.assert_close(optimizer.state[p]["sum"], torch.tensor([2.0, 5.0]))
    sparse = torch.nn.Parameter(torch.tensor([[1.0], [2.0], [3.0]]))
    sparse_opt = GloVeAdaGrad([sparse], lr=0.5)
    sparse.grad = torch.sparse_coo_tensor([[2, 0, 2]], torch.tensor([[1.0], [2.0], [1.0]]), (3, 1))
    sparse_opt.step()
    torch.testing.assert_close(sparse.detach(), torch.tensor([[0.0], [2.0], [2.0]]))
    with pytest.raises(ValueError, match="learning rate"):
        GloVeAdaGrad([p], lr=0)


def test_task_covers_every_entry_once_per_epoch_and_shards():
    import scipy.sparse as sp

    matrix = sp.random(50, 50, density=0.2, random_state=0, format="csr")
    model = small_model(vocab_size=50)
    task = GloVeTask(matrix, batch_entries=64, seed=1, backend="torch", optimizer=make_optimizer(model, 0.05, 1.0))
    seen = np.concatenate([task.entries(0, s) for s in range(task.steps_per_epoch())])
    assert sorted(seen.tolist()) == list(range(matrix.nnz))
    assert not np.array_equal(seen, np.concatenate([task.entries(1, s) for s in range(task.steps_per_epoch())]))
    ranks = [GloVeTask(matrix, 64, 1, "torch", task.optimizer, rank=r, world_size=2) for r in range(2)]
    sharded = np.concatenate([t.entries(0, s) for s in range(ranks[0].steps_per_epoch()) for t in ranks])
    assert set(sharded.tolist()) == set(range(matrix.nnz))
    with pytest.raises(ValueError, match="no non-zero entries"):
        GloVeTask(sp.csr_matrix((5, 5)), 8, 0, "torch", task.optimizer)


def run_recipe(tmp_path, corpus, *extra, name="glove"):
    recipe = load_recipe("pretrain_glove")
    return recipe.main(["--train_file", str(corpus), "--output_dir", str(tmp_path / name), *extra])


def test_recipe_learns_word_similarity(tmp_path, gensim_data):
    results = run_recipe(
        tmp_path, gensim_data / "head500.noblanks.cor", "--x_max", "10", "--num_train_epochs", "10",
        "--similarity_file", str(gensim_data / "wordsim353.tsv"), "--analogies_file", str(gensim_data / "questions-words.txt"),
        "--logging_steps", "1000",
    )
    # Untrained vectors score about 0; on this 330k-word corpus GloVe reaches ~0.5 (word2vec: ~0.4).
    assert results["similarity_spearman"] > 0.4
    assert results["analogy_accuracy"] > 0.02
    assert results["backend"] == "kernel" and results["cooccurrence_entries"] > 1_000_000
    output = tmp_path / "glove"
    model = AutoModel.from_pretrained(output)
    tokenizer = AutoTokenizer.from_pretrained(output)
    kv = KeyedVectors.from_pretrained(str(output))
    word = "war"
    torch.testing.assert_close(
        torch.from_numpy(kv[word].copy()), model.get_word_vectors()[tokenizer.convert_tokens_to_ids(word)].detach()
    )
    assert (output / ".cooccurrence_cache" / "cooccurrence.safetensors").exists()


def test_exact_resume_and_cache_reuse(tmp_path, gensim_data):
    corpus = gensim_data / "lee_background.cor"
    common = ["--num_train_epochs", "2", "--vector_size", "16", "--window", "5", "--batch_entries", "50000", "--logging_steps", "1000"]
    straight = run_recipe(tmp_path, corpus, *common, name="straight")
    run_recipe(tmp_path, corpus, *common, "--checkpointing_steps", "5", name="resumed")
    (tmp_path / "resumed" / "model.safetensors").unlink()
    checkpoint = tmp_path / "resumed" / "step_5"
    assert checkpoint.is_dir() and straight["train_steps"] > 5
    resumed = run_recipe(tmp_path, corpus, *common, "--resume_from_checkpoint", str(checkpoint), name="resumed")
    assert resumed["train_steps"] == straight["train_steps"]
    a = AutoModel.from_pretrained(tmp_path / "straight")
    b = AutoModel.from_pretrained(tmp_path / "resumed")
    for name, param in a.state_dict().items():
        assert torch.equal(param, b.state_dict()[name]), name  # bit-identical, AdaGrad state included
    with pytest.raises(ValueError, match="settings changed"):
        run_recipe(tmp_path, corpus, *common, "--x_max", "5", "--resume_from_checkpoint", "latest", name="resumed")


def test_torch_backend_learns(tmp_path, gensim_data):
    results = run_recipe(tmp_path, gensim_data / "lee_background.cor", "--backend", "torch", "--num_train_epochs", "3",
                         "--vector_size", "16", "--batch_entries", "8192", "--logging_steps", "1000", "--x_max", "10")
    first = run_recipe(tmp_path, gensim_data / "lee_background.cor", "--backend", "torch", "--num_train_epochs", "1",
                       "--vector_size", "16", "--batch_entries", "8192", "--logging_steps", "1000", "--x_max", "10",
                       name="one_epoch")
    assert results["backend"] == "torch"
    assert results["train_loss"] < first["train_loss"]


def test_two_processes(tmp_path, gensim_data):
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
        str(REPO / "recipes" / "pretrain_glove.py"), "--train_file", str(gensim_data / "lee_background.cor"),
        "--output_dir", str(tmp_path / "ddp"), "--num_train_epochs", "1", "--vector_size", "8", "--batch_entries", "20000",
    ]
    done = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "ddp" / "all_results.json").read_text())
    assert results["backend"] == "torch"
    # 2 processes split the steps: each runs ceil(blocks / 2) of them
    assert results["train_steps"] == math.ceil(math.ceil(results["cooccurrence_entries"] / 20000) / 2)
    assert AutoConfig.from_pretrained(tmp_path / "ddp").model_type == "hfext-glove"


def test_recipe_bad_input(tmp_path, gensim_data):
    with pytest.raises(ValueError, match="--window must be >= 1"):
        run_recipe(tmp_path, gensim_data / "lee_background.cor", "--window", "0")
    one_word = tmp_path / "one.txt"
    one_word.write_text("hello\n" * 10)
    with pytest.raises(ValueError, match="no non-zero entries"):
        run_recipe(tmp_path, one_word, "--min_count", "1")


def test_glove_text_format_round_trip_and_cli(tmp_path, gensim_data, capsys):
    kv = KeyedVectors.load_word2vec_format(gensim_data / "test_glove.txt", no_header=True)
    assert (len(kv), kv.vector_size) == (76, 50)
    out = tmp_path / "glove.txt"
    kv.save_word2vec_format(out, write_header=False)
    assert out.read_bytes() == (gensim_data / "test_glove.txt").read_bytes()  # byte-identical round trip
    ragged = tmp_path / "ragged.txt"
    ragged.write_text("a 1 2 3\nb 1 2\n")
    with pytest.raises(ValueError, match="line 2: expected 3 values after the word 'b', found 2"):
        KeyedVectors.load_word2vec_format(ragged, no_header=True)

    run_recipe(tmp_path, gensim_data / "lee_background.cor", "--num_train_epochs", "1", "--vector_size", "8",
               "--logging_steps", "1000", name="small")
    exported = tmp_path / "exported.txt"
    assert cli_main(["export", "glove-format", str(tmp_path / "small"), str(exported)]) == 0
    first = exported.read_text().splitlines()[0].split()
    assert len(first) == 9  # word + 8 values, no header line
    back = KeyedVectors.load_word2vec_format(exported, no_header=True)
    original = KeyedVectors.from_pretrained(str(tmp_path / "small"))
    np.testing.assert_allclose(back[first[0]], original[first[0]], atol=1e-6)
    assert cli_main(["neighbors", str(tmp_path / "small"), first[0], "--topn", "3"]) == 0
    assert "nearest neighbours" in capsys.readouterr().out


def test_convert_glove_text_round_trips_byte_exact(tmp_path, gensim_data, capsys):
    source = gensim_data / "test_glove.txt"
    assert cli_main(["convert", "glove-text", str(source), str(tmp_path / "converted")]) == 0
    model = AutoModel.from_pretrained(tmp_path / "converted")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "converted")
    original = KeyedVectors.load_word2vec_format(source, no_header=True)
    the = tokenizer.convert_tokens_to_ids("the")
    np.testing.assert_array_equal(model.get_word_vectors()[the].detach().numpy(), original["the"])
    assert cli_main(["export", "glove-format", str(tmp_path / "converted"), str(tmp_path / "back.txt")]) == 0
    assert (tmp_path / "back.txt").read_bytes() == source.read_bytes()  # same words, order and digits
    capsys.readouterr()
    assert cli_main(["convert", "glove-text", str(source), str(tmp_path / "converted")]) == 2
    assert "--overwrite" in capsys.readouterr().err
    ragged = tmp_path / "ragged.txt"
    ragged.write_text("a 1 2\nb 1\n")
    assert cli_main(["convert", "glove-text", str(ragged), str(tmp_path / "bad")]) == 2
    assert "line 2: expected 2 values after the word 'b', found 1" in capsys.readouterr().err
