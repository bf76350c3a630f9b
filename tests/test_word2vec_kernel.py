"""The fused CPU kernel: the same update as autograd on the model's loss, lanes that are exactly
sequential word2vec.c SGD merged as documented (checked against plain numpy), and bit-identical
results whatever the thread count."""

import numpy as np
import pytest
import torch
from hfext_word2vec import (
    CBOWConfig,
    CBOWModel,
    SkipGramConfig,
    SkipGramModel,
    build_huffman_tree,
)

from hfext.training.word2vec_kernel import (
    EXP_TABLE_SIZE,
    MAX_EXP,
    SIGMOID_TABLE,
    make_workspace,
    set_threads,
    train_chunk,
)

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


def run_kernel(v, u, ids, windows, cbow=False, negative=0, noise=(0,), tree=NO_TREE, lr=0.05, lanes=1,
               centers_per_lane=1000, seed=7):
    n = len(ids)
    targets = tree[0].shape[1] + (negative + 1 if negative else 0)
    workspace = make_workspace(v.shape[0], u.shape[0], v.shape[1], lanes, centers_per_lane, int(max(windows)), targets, cbow)
    return train_chunk(
        v, u, np.asarray(ids, np.int32), np.zeros(n, np.int64), np.full(n, n, np.int64),
        np.asarray(windows, np.int32), cbow, True, negative, np.asarray(noise, np.int32), *tree,
        np.float32(lr), np.float32(lr), np.uint64(seed), centers_per_lane, workspace,
    )


def sequential_sgd(v, u, ids, windows, centers, n, cbow, negative, noise_word, tree, lr):
    """word2vec.c's plain per-pair SGD over ``centers`` (the context word's v predicts the center)."""
    points, codes, lengths = tree
    for i in centers:
        lo, hi = max(0, i - windows[i]), min(n, i + windows[i] + 1)
        contexts = [j for j in range(lo, hi) if j != i]
        if not contexts:
            continue
        word = ids[i]
        inputs = [contexts] if cbow else [[j] for j in contexts]
        for group in inputs:
            h = np.mean([v[ids[j]] for j in group], 0).astype(np.float32)
            targets = []
            if len(lengths):
                targets += [(points[word, k], 1 - codes[word, k]) for k in range(lengths[word])]
            if negative:
                targets += [(word, 1)] + [(noise_word, 0)] * negative * int(noise_word != word)
            neu1e = np.zeros_like(h)
            for t, label in targets:
                g = np.float32((label - table_sigmoid(np.float32(h @ u[t]))) * lr)
                neu1e += g * u[t]
                u[t] += g * h
            for j in group:
                v[ids[j]] += neu1e


def reference(v, u, ids, windows, cbow, negative, noise_word, tree, lr, lanes):
    """One round: each lane runs sequential SGD on its own copy over its block of centers; rows
    changed by one lane take its value, rows changed by several get the sum of their changes."""
    n = len(ids)
    block = -(-n // lanes)
    results = []
    for lane in range(lanes):
        lv, lu = v.copy(), u.copy()
        sequential_sgd(lv, lu, ids, windows, range(lane * block, min(n, (lane + 1) * block)), n, cbow, negative,
                       noise_word, tree, lr)
        results.append((lv, lu))
    merged_v = v + sum(lv - v for lv, _ in results)
    merged_u = u + sum(lu - u for _, lu in results)
    return merged_v, merged_u


@pytest.mark.parametrize("lanes", [1, 2])
@pytest.mark.parametrize("cbow", [False, True])
@pytest.mark.parametrize("objective", ["negative_sampling", "hierarchical_softmax"])
def test_kernel_equals_sequential_lanes_reference(cbow, objective, lanes):
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
    expected_v, expected_u = reference(v, u, ids, windows, cbow, negative, 4, tree, 0.05, lanes)
    _loss, count = run_kernel(v, u, ids, windows, cbow, negative, (4,), tree, lanes=lanes)
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
    else:  # the context word 1 predicts center 3
        ids, windows = [1, 3], [0, 1]
        out = model(input_ids=torch.tensor([1]), labels=torch.tensor([3]), negative_ids=torch.tensor([[5, 5]]))
    out.loss.backward()
    v, u = v0.copy(), u0.copy()
    loss, count = run_kernel(v, u, ids, windows, cbow, 2, (5,), lr=lr)
    grad_v = model.center_embeddings.weight.grad.numpy()
    grad_u = model.context_embeddings.weight.grad.numpy()
    expected_v = v0 - lr * grad_v * (2.0 if cbow else 1.0)
    np.testing.assert_allclose(v, expected_v, atol=1e-3)
    np.testing.assert_allclose(u, u0 - lr * grad_u, atol=1e-3)
    assert loss == pytest.approx(out.loss.item(), rel=1e-2)
    assert count == 1


@pytest.mark.parametrize("cbow", [False, True])
def test_kernel_is_bit_identical_for_any_thread_count(cbow):
    """The vectors depend on the number of lanes, never on how many threads run them or their timing."""
    rng = np.random.default_rng(1)
    vocab, dim, n = 300, 16, 5000
    ids = rng.integers(0, vocab, n)
    windows = rng.integers(1, 6, n)
    noise = rng.integers(0, vocab, 1024)  # a power of two, as build_noise_table makes it
    results = []
    start = rng.normal(0, 0.1, (vocab, dim)).astype(np.float32)
    for threads in (1, 2, 2):
        set_threads(threads)
        v, u = start.copy(), np.zeros((vocab, dim), np.float32)
        loss, _ = run_kernel(v, u, ids, windows, cbow, 5, noise, lanes=2, centers_per_lane=300)  # several rounds
        results.append((v, u, loss))
    for v, u, loss in results[1:]:
        assert np.array_equal(v, results[0][0]) and np.array_equal(u, results[0][1]) and loss == results[0][2]
