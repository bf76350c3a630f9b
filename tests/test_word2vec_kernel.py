"""The fused CPU kernel: same update as autograd on the model's loss, minibatch semantics equal to a
plain numpy reference, and bit-identical results whatever the thread count."""

import numpy as np
import pytest
import torch

from hfext.training.word2vec_kernel import EXP_TABLE_SIZE, MAX_EXP, SIGMOID_TABLE, set_threads, train_chunk
from hfext_word2vec import CBOWConfig, CBOWModel, SkipGramConfig, SkipGramModel, build_huffman_tree

NO_TREE = (np.zeros((0, 0), np.int32), np.zeros((0, 0), np.int8), np.zeros(0, np.int32))


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def table_sigmoid(f):
    """word2vec.c's tabulated sigmoid, saturating outside [-6, 6]."""
    if f >= MAX_EXP:
        return 1.0
    if f <= -MAX_EXP:
        return 0.0
    return float(SIGMOID_TABLE[int((f + MAX_EXP) * (EXP_TABLE_SIZE / MAX_EXP / 2))])


def tree_arrays(counts):
    points, codes, lengths = build_huffman_tree(list(counts))
    return points.numpy().astype(np.int32), codes.numpy().astype(np.int8), lengths.numpy().astype(np.int32)


def run_kernel(v, u, ids, windows, cbow=False, negative=0, noise=(0,), tree=NO_TREE, lr=0.05, mb=4, threads=1, seed=7):
    n = len(ids)
    return train_chunk(
        v, u, np.asarray(ids, np.int32), np.zeros(n, np.int64), np.full(n, n, np.int64),
        np.asarray(windows, np.int32), cbow, True, negative, np.asarray(noise, np.int32), *tree,
        np.float32(lr), np.float32(lr), np.uint64(seed), mb, threads,
    )


def reference(v, u, ids, windows, cbow, negative, noise_word, tree, lr, mb):
    """Minibatch SGD exactly as the kernel documents it, in plain numpy: every gradient of a
    minibatch is taken at the same snapshot; u_t += g h and the input rows += their summed gradient."""
    v, u = v.astype(np.float64), u.astype(np.float64)
    points, codes, lengths = tree
    n = len(ids)
    for start in range(0, n, mb):
        du, dv = np.zeros_like(u), np.zeros_like(v)
        for i in range(start, min(n, start + mb)):
            lo, hi = max(0, i - windows[i]), min(n, i + windows[i] + 1)
            contexts = [j for j in range(lo, hi) if j != i]
            if not contexts:
                continue
            if cbow:
                predictions = [(np.mean([v[ids[j]] for j in contexts], 0), ids[i], [ids[j] for j in contexts])]
            else:
                predictions = [(v[ids[j]], ids[i], [ids[j]]) for j in contexts]
            for h, word, input_rows in predictions:
                targets = []
                if len(lengths):
                    targets += [(points[word, k], 1 - codes[word, k]) for k in range(lengths[word])]
                if negative:
                    targets += [(word, 1)] + [(noise_word, 0)] * negative * int(noise_word != word)
                neu1e = np.zeros_like(h)
                for t, label in targets:
                    g = (label - table_sigmoid(np.float32(h @ u[t]))) * lr
                    neu1e += g * u[t]
                    du[t] += g * h
                for row in input_rows:
                    dv[row] += neu1e
        u += du
        v += dv
    return v, u


@pytest.mark.parametrize("cbow", [False, True])
@pytest.mark.parametrize("objective", ["negative_sampling", "hierarchical_softmax"])
def test_kernel_equals_minibatch_reference(cbow, objective):
    rng = np.random.default_rng(0)
    vocab, dim, n = 9, 5, 40
    counts = rng.integers(1, 50, vocab)
    v = rng.normal(0, 0.3, (vocab, dim)).astype(np.float32)
    hs = objective == "hierarchical_softmax"
    u = rng.normal(0, 0.3, (vocab - 1 if hs else vocab, dim)).astype(np.float32)
    ids = rng.integers(0, vocab, n)
    windows = rng.integers(1, 4, n)
    tree = tree_arrays(counts) if hs else NO_TREE
    negative = 0 if hs else 3
    expected_v, expected_u = reference(v, u, ids, windows, cbow, negative, 4, tree, 0.05, 4)
    loss, count = run_kernel(v, u, ids, windows, cbow, negative, (4,), tree, mb=4)
    np.testing.assert_allclose(v, expected_v, atol=2e-5)
    np.testing.assert_allclose(u, expected_u, atol=2e-5)
    assert count == (n if cbow else sum(min(n, i + w + 1) - max(0, i - w) - 1 for i, w in enumerate(windows)))


@pytest.mark.parametrize("cbow", [False, True])
def test_kernel_step_is_sgd_on_the_models_own_loss(cbow):
    """One prediction: the kernel's update equals -lr * autograd gradient of the PreTrainedModel's loss
    (for CBOW, word2vec.c applies the mean's gradient to each context word unscaled: 2m x autograd's)."""
    torch.manual_seed(0)
    config_cls, model_cls = (CBOWConfig, CBOWModel) if cbow else (SkipGramConfig, SkipGramModel)
    model = model_cls(config_cls(vocab_size=6, vector_size=4, negative=2))
    with torch.no_grad():
        model.context_embeddings.weight.normal_(0, 0.4)
    v0 = model.center_embeddings.weight.detach().numpy().copy()
    u0 = model.context_embeddings.weight.detach().numpy().copy()
    lr = 0.1
    if cbow:  # center 3 predicted from contexts 1 and 2
        ids, windows = [1, 3, 2], [0, 1, 0]
        out = model(input_ids=torch.tensor([[1, 2]]), labels=torch.tensor([3]), negative_ids=torch.tensor([[5, 5]]))
        scale = np.array([2.0, 0, 2.0])
    else:  # the context word 1 predicts center 3
        ids, windows = [1, 3], [0, 1]
        out = model(input_ids=torch.tensor([1]), labels=torch.tensor([3]), negative_ids=torch.tensor([[5, 5]]))
    out.loss.backward()
    v, u = v0.copy(), u0.copy()
    loss, count = run_kernel(v, u, ids, windows, cbow, 2, (5,), lr=lr, mb=8)
    grad_v = model.center_embeddings.weight.grad.numpy()
    grad_u = model.context_embeddings.weight.grad.numpy()
    expected_v = v0 - lr * grad_v * (2.0 if cbow else 1.0)
    np.testing.assert_allclose(v, expected_v, atol=1e-3)
    np.testing.assert_allclose(u, u0 - lr * grad_u, atol=1e-3)
    assert loss == pytest.approx(out.loss.item(), rel=1e-2)
    assert count == 1


@pytest.mark.parametrize("cbow", [False, True])
def test_kernel_is_bit_identical_for_any_thread_count(cbow):
    rng = np.random.default_rng(1)
    vocab, dim, n = 300, 16, 5000
    ids = rng.integers(0, vocab, n)
    windows = rng.integers(1, 6, n)
    noise = rng.integers(0, vocab, 1000)
    results = []
    for threads in (1, 2, 2):
        threads = set_threads(threads)
        v = rng.normal(0, 0.1, (vocab, dim)).astype(np.float32) * 0 + np.float32(0.01)
        u = np.zeros((vocab, dim), np.float32)
        loss, _ = run_kernel(v, u, ids, windows, cbow, 5, noise, mb=64, threads=threads)
        results.append((v, u, loss))
    for v, u, loss in results[1:]:
        assert np.array_equal(v, results[0][0]) and np.array_equal(u, results[0][1]) and loss == results[0][2]
