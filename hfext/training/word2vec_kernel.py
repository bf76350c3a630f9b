"""The CPU fast path for word2vec: a fused, multi-threaded SGD kernel (numba).

It applies exactly the word2vec.c update rule (sigmoid table, per-pair SGD, linear learning-rate decay)
to the model's own parameter tensors in place, but unlike word2vec.c and gensim it is deterministic:
each minibatch of centers is processed in three phases,

1. (parallel over centers) read-only: score every (input, target) pair, store the scaled gradients g;
2. (parallel over rows of u) apply u_t += g * h, each thread owning the rows with t % threads == tid;
3. (parallel over rows of v) apply the input-vector gradients, again by row ownership,

so every row is updated in the same order whatever the thread count or timing: the same seed gives
bit-identical vectors run after run, with any number of threads. Within a minibatch (a few hundred
centers) gradients are taken at one snapshot of the weights, as in minibatch SGD.

Pairs, noise words and windows come from counter-based seeds (the step's seed and the pair's index),
so nothing depends on how work was split among threads.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

EXP_TABLE_SIZE = 1000
MAX_EXP = 6.0  # word2vec.c: sigmoid is tabulated on [-6, 6]

_grid = (np.arange(EXP_TABLE_SIZE, dtype=np.float64) / EXP_TABLE_SIZE * 2 - 1) * MAX_EXP
SIGMOID_TABLE = (1.0 / (1.0 + np.exp(-_grid))).astype(np.float32)
LOG_SIGMOID_TABLE = np.log(SIGMOID_TABLE).astype(np.float32)


@njit(inline="always")
def _splitmix64(x):
    x = (x + np.uint64(0x9E3779B97F4A7C15)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    z = x
    z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    return z ^ (z >> np.uint64(31))


@njit(inline="always")
def _gradient_and_loss(f, label, lr, sigmoid_table, log_sigmoid_table):
    """word2vec.c's clipped sigmoid step: g = (label - sigmoid(f)) * lr, and -log P(label)."""
    z = f if label == 1 else -f  # loss is -log sigmoid(z)
    if z >= MAX_EXP:
        loss = 0.0
    elif z <= -MAX_EXP:
        loss = -z
    else:
        loss = -log_sigmoid_table[int((z + MAX_EXP) * (EXP_TABLE_SIZE / MAX_EXP / 2))]
    if f >= MAX_EXP:
        g = (label - 1.0) * lr
    elif f <= -MAX_EXP:
        g = label * lr
    else:
        g = (label - sigmoid_table[int((f + MAX_EXP) * (EXP_TABLE_SIZE / MAX_EXP / 2))]) * lr
    return g, loss


@njit(inline="always", fastmath=True)
def _binary_step(h, u, t, label, lr, neu1e):
    """One binary decision "is t the target?": returns (g, loss) and adds g * u_t to the input gradient."""
    f = np.float32(0.0)
    for k in range(h.shape[0]):
        f += h[k] * u[t, k]
    g, loss = _gradient_and_loss(f, label, lr, SIGMOID_TABLE, LOG_SIGMOID_TABLE)
    for k in range(h.shape[0]):
        neu1e[k] += g * u[t, k]
    return g, loss


@njit(fastmath=True, nogil=True, cache=True)
def _score(h, word, u, negative, noise_table, points, codes, code_lengths, hs, lr, rng_state, targets, grads, slot, neu1e):
    """Score one prediction of ``word`` from input vector ``h``; store targets and g from ``slot`` on.

    Accumulates the input gradient into ``neu1e``; returns the summed -log-likelihood."""
    loss_sum = 0.0
    tmask = np.uint64(0xFFFFFFFFFFFFFFFF)
    if hs:  # one binary decision per inner node on word's Huffman path; target of node j is 1 - code_j
        for node in range(code_lengths[word]):
            t = points[word, node]
            g, loss = _binary_step(h, u, t, 1 - codes[word, node], lr, neu1e)
            loss_sum += loss
            targets[slot] = t
            grads[slot] = g
            slot += 1
    state = rng_state
    for d in range(negative + 1 if negative > 0 else 0):
        label = 1
        t = word
        if d > 0:
            state = (state * np.uint64(25214903917) + np.uint64(11)) & tmask  # word2vec.c's LCG
            t = noise_table[(state >> np.uint64(16)) % np.uint64(noise_table.shape[0])]
            label = 0
            if t == word:  # word2vec.c skips a noise word equal to the target
                targets[slot] = -1
                slot += 1
                continue
        g, loss = _binary_step(h, u, t, label, lr, neu1e)
        loss_sum += loss
        targets[slot] = t
        grads[slot] = g
        slot += 1
    return loss_sum, slot


@njit(fastmath=True, nogil=True, cache=True)
def _phase_scores(tid, num_threads, v, u, ids, lo, hi, windows, cbow, cbow_mean, negative, noise_table, points, codes,
                  code_lengths, hs, lr, seed, pair_base, start, count, slots, targets, grads, pred_offsets, pred_input,
                  hidden, pred_grad):
    """Phase 1 for this thread's share of the minibatch's centers: read-only on v and u."""
    dim = v.shape[1]
    tmask = np.uint64(0xFFFFFFFFFFFFFFFF)
    local_loss = 0.0
    local_count = 0
    for m in range(count * tid // num_threads, count * (tid + 1) // num_threads):
        i = start + m
        a = max(lo[i], i - windows[i])
        b = min(hi[i], i + windows[i] + 1)
        p = pred_offsets[m]
        if p == pred_offsets[m + 1]:
            continue
        for j in range(a, b):
            if j == i:
                continue
            if cbow:
                if p > pred_offsets[m]:
                    break  # CBOW makes one prediction per center, from the whole window
                word = ids[i]
                for k in range(dim):
                    hidden[p, k] = 0.0
                for jj in range(a, b):
                    if jj != i:
                        row = ids[jj]
                        for k in range(dim):
                            hidden[p, k] += v[row, k]
                if cbow_mean:  # (1/2m) (v_o1 + ... + v_o2m)
                    inv = np.float32(1.0 / (b - a - 1))
                    for k in range(dim):
                        hidden[p, k] *= inv
                pred_input[p] = -1
            else:
                # As in word2vec.c and gensim, the context word's v predicts the center word through u;
                # over a corpus this is the lecture's P(w_o | w_c) with the roles of each pair swapped.
                word = ids[i]
                row = ids[j]
                for k in range(dim):
                    hidden[p, k] = v[row, k]
                pred_input[p] = row
            for k in range(dim):
                pred_grad[p, k] = 0.0
            rng_state = _splitmix64(seed ^ ((np.uint64(pair_base + p) * np.uint64(0x9E3779B97F4A7C15)) & tmask))
            loss, slot = _score(hidden[p], word, u, negative, noise_table, points, codes, code_lengths, hs, lr,
                                rng_state, targets, grads, p * slots, pred_grad[p])
            while slot < (p + 1) * slots:
                targets[slot] = -1
                slot += 1
            local_loss += loss
            local_count += 1
            p += 1
    return local_loss, local_count


@njit(fastmath=True, nogil=True, cache=True)
def _phase_output_updates(tid, num_threads, u, hidden, targets, grads, num_predictions, slots):
    """Phase 2: u_t += g h for the rows this thread owns, in prediction order."""
    dim = u.shape[1]
    for p in range(num_predictions):
        for s in range(p * slots, (p + 1) * slots):
            t = targets[s]
            if t >= 0 and t % num_threads == tid:
                g = grads[s]
                for k in range(dim):
                    u[t, k] += g * hidden[p, k]


@njit(fastmath=True, nogil=True, cache=True)
def _phase_input_updates(tid, num_threads, v, ids, lo, hi, windows, pred_offsets, pred_input, pred_grad, start, count,
                         cbow):
    """Phase 3: input-vector gradients for the rows this thread owns, in prediction order."""
    dim = v.shape[1]
    for m in range(count):
        for p in range(pred_offsets[m], pred_offsets[m + 1]):
            if not cbow:
                row = pred_input[p]
                if row % num_threads == tid:
                    for k in range(dim):
                        v[row, k] += pred_grad[p, k]
                continue
            i = start + m
            for j in range(max(lo[i], i - windows[i]), min(hi[i], i + windows[i] + 1)):
                row = ids[j]
                if j != i and row % num_threads == tid:
                    for k in range(dim):  # word2vec.c adds neu1e to every context word, unscaled
                        v[row, k] += pred_grad[p, k]


@njit(parallel=True, fastmath=True, nogil=True, cache=True)
def train_chunk(
    v,  # (V, d) float32 input vectors, updated in place
    u,  # (V or V-1, d) float32 output vectors, updated in place
    ids,  # (n,) int32 token ids after subsampling
    lo,  # (n,) int64 first position of each token's sentence
    hi,  # (n,) int64 one past the last position of each token's sentence
    windows,  # (n,) int32 reduced window b of each center, in 1..window
    cbow,  # bool: CBOW (else skip-gram)
    cbow_mean,  # bool: average (else sum) the context vectors
    negative,  # K noise words per prediction (negative sampling) or 0
    noise_table,  # (T,) int32 word ids in proportion to unigram^0.75
    points,  # (V, L) int32 Huffman inner nodes (hierarchical softmax) or (0, 0)
    codes,  # (V, L) int8 Huffman branch bits
    code_lengths,  # (V,) int32 path lengths, or (0,) when not using hierarchical softmax
    lr_start,
    lr_end,  # learning rate decays linearly from lr_start to lr_end over the chunk
    seed,  # uint64 seed of this chunk
    centers_per_minibatch,
    num_threads,
):
    """Train on one chunk of tokens; returns (summed -log-likelihood, number of predictions)."""
    n = ids.shape[0]
    dim = v.shape[1]
    hs = code_lengths.shape[0] > 0
    slots = (code_lengths.max() if hs else 0) + (negative + 1 if negative > 0 else 0)
    mb = centers_per_minibatch
    max_window = windows.max() if n > 0 else 1
    max_predictions = mb * (1 if cbow else 2 * max_window)
    targets = np.empty(max_predictions * slots, dtype=np.int64)
    grads = np.empty(max_predictions * slots, dtype=np.float32)
    pred_offsets = np.empty(mb + 1, dtype=np.int64)  # first prediction of each center in the minibatch
    pred_input = np.empty(max_predictions, dtype=np.int64)  # skip-gram: the v row of each prediction
    hidden = np.empty((max_predictions, dim), dtype=np.float32)  # input vector h of each prediction
    pred_grad = np.empty((max_predictions, dim), dtype=np.float32)  # gradient for h's row(s)
    thread_loss = np.zeros(num_threads, dtype=np.float64)
    thread_count = np.zeros(num_threads, dtype=np.int64)
    pair_base = np.int64(0)

    for start in range(0, n, mb):
        count = min(n, start + mb) - start
        lr = lr_start + (lr_end - lr_start) * (start / n)
        pred_offsets[0] = 0
        for m in range(count):  # where each center's predictions go: O(count), serial
            i = start + m
            width = min(hi[i], i + windows[i] + 1) - max(lo[i], i - windows[i]) - 1
            pred_offsets[m + 1] = pred_offsets[m] + (min(width, 1) if cbow else width)
        for tid in prange(num_threads):
            loss, predictions = _phase_scores(
                tid, num_threads, v, u, ids, lo, hi, windows, cbow, cbow_mean, negative, noise_table, points, codes,
                code_lengths, hs, lr, seed, pair_base, start, count, slots, targets, grads, pred_offsets, pred_input,
                hidden, pred_grad,
            )
            thread_loss[tid] += loss
            thread_count[tid] += predictions
        num_predictions = pred_offsets[count]
        for tid in prange(num_threads):
            _phase_output_updates(tid, num_threads, u, hidden, targets, grads, num_predictions, slots)
        for tid in prange(num_threads):
            _phase_input_updates(tid, num_threads, v, ids, lo, hi, windows, pred_offsets, pred_input, pred_grad,
                                 start, count, cbow)
        pair_base += num_predictions
    return thread_loss.sum(), thread_count.sum()


def set_threads(num_threads: int) -> int:
    """Use ``num_threads`` numba threads (capped at what numba has); returns the number used."""
    num_threads = max(1, min(int(num_threads), numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(num_threads)
    return num_threads


__all__ = ["set_threads", "train_chunk"]
