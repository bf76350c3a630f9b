"""The CPU fast path for word2vec: a fused, multi-threaded SGD kernel (numba).

It applies word2vec.c's update rule (per-pair SGD, sigmoid table, linear learning-rate decay) to the
model's own parameter tensors in place. Unlike word2vec.c and gensim, whose worker threads race on
shared rows ("Hogwild"), it is deterministic:

- each of ``lanes`` lanes owns a contiguous block of the chunk's centers;
- in a round every lane runs plain sequential SGD over the next part of its block (up to
  ``centers_per_lane`` centers, or until its buffers are full), on private copies of the rows it
  touches (copied from the shared matrices on first touch), so within a lane updates are exactly
  sequential;
- at the end of the round the lanes' changes are merged into the shared matrices in a fixed order
  (a row changed by one lane takes its value; by several, the sum of their changes). A single lane
  needs no copies and trains on the shared matrices in place.

Lanes run in parallel threads; the result depends on the seed, the data and the number of lanes,
never on thread timing: the same seed gives bit-identical vectors run after run, with any number of
threads. Across lanes a round's updates are seen at the next round, a staleness like Hogwild's.
Noise words come from a counter-based seed per center, so they don't depend on the lane layout.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

# Threads: numba's default layer (OpenMP, sharing torch's libgomp) was the fastest on an idle machine
# here; on a busy shared machine its spinning threads lose more than the workqueue layer does, so set
# NUMBA_THREADING_LAYER=workqueue there (see the README's troubleshooting section).


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


@njit(inline="always")
def _touch(row, matrix, buffer, slots, rows, used):
    """The lane's private copy of ``matrix[row]`` (copied on first touch): returns (slot, used)."""
    slot = slots[row]
    if slot < 0:
        slot = used
        slots[row] = slot
        rows[slot] = row
        for k in range(matrix.shape[1]):
            buffer[slot, k] = matrix[row, k]
        used += 1
    return slot, used


@njit(inline="always", fastmath=True)
def _binary_step(h, ubuf, slot, label, lr, neu1e):
    """One binary decision "is this the target?": g = (label - sigmoid(h.u)) lr, then u += g h and the
    input gradient neu1e += g u (with u before its update, as word2vec.c). Returns the -log-likelihood."""
    dim = h.shape[0]
    f = np.float32(0.0)
    for k in range(dim):
        f += h[k] * ubuf[slot, k]
    g, loss = _gradient_and_loss(f, label, lr, SIGMOID_TABLE, LOG_SIGMOID_TABLE)
    for k in range(dim):
        neu1e[k] += g * ubuf[slot, k]
        ubuf[slot, k] += g * h[k]
    return loss


@njit(fastmath=True, nogil=True, cache=True)
def _run_lane(first, last, n, v, u, vbuf, ubuf, vslots, uslots, vrows, urows, used, ids, lo, hi, windows,
              cbow, cbow_mean, negative, noise_table, points, codes, code_lengths, lr_start, lr_end, seed,
              max_centers, v_rows_per_center, u_rows_per_center):
    """Sequential SGD from center ``first`` towards ``last`` on the lane's private row copies (``vbuf``,
    ``ubuf``, indexed through ``vslots``/``uslots``), stopping after ``max_centers`` centers or when the
    next center might not fit in the buffers. Returns (loss, predictions, next center); ``used``
    receives how many rows of each matrix were copied."""
    dim = v.shape[1]
    hs = code_lengths.shape[0] > 0
    neu1e = np.empty(dim, dtype=np.float32)
    mean = np.empty(dim, dtype=np.float32)  # CBOW's h
    h = mean
    tmask = np.uint64(0xFFFFFFFFFFFFFFFF)
    table_mask = np.uint64(noise_table.shape[0] - 1)
    used_v, used_u = 0, 0
    loss_sum = 0.0
    predictions = 0
    stop = min(last, first + max_centers)
    for i in range(first, stop):
        v_full = vbuf.shape[0] < v.shape[0] and used_v + v_rows_per_center > vbuf.shape[0]
        u_full = ubuf.shape[0] < u.shape[0] and used_u + u_rows_per_center > ubuf.shape[0]
        if v_full or u_full:
            if i == first:  # not even one center fits: this workspace was made for a smaller window
                raise ValueError("word2vec kernel: workspace too small for this chunk; rebuild it with make_workspace")
            stop = i  # the next center might not fit: merge, and go on from here next round
            break
        a = max(lo[i], i - windows[i])
        b = min(hi[i], i + windows[i] + 1)
        if b - a <= 1:
            continue
        lr = np.float32(lr_start + (lr_end - lr_start) * (i / n))
        word = ids[i]  # both models predict the center word (skip-gram from each context word, as word2vec.c)
        state = _splitmix64(seed ^ ((np.uint64(i) * np.uint64(0x9E3779B97F4A7C15)) & tmask))
        for j in range(a, b):
            if cbow and j > a:
                break  # CBOW makes one prediction per center, from its whole window
            if j == i and not cbow:
                continue
            if cbow:  # h = (1/2m) (v_o1 + ... + v_o2m)
                h = mean
                for k in range(dim):
                    h[k] = 0.0
                for jj in range(a, b):
                    if jj != i:
                        slot, used_v = _touch(ids[jj], v, vbuf, vslots, vrows, used_v)
                        for k in range(dim):
                            h[k] += vbuf[slot, k]
                if cbow_mean:
                    inv = np.float32(1.0 / (b - a - 1))
                    for k in range(dim):
                        h[k] *= inv
            else:
                in_slot, used_v = _touch(ids[j], v, vbuf, vslots, vrows, used_v)
                h = vbuf[in_slot]  # v of the context word; unchanged until neu1e is added below
            for k in range(dim):
                neu1e[k] = 0.0
            if hs:  # one decision per inner node of the target's Huffman path; node j's label is 1 - code_j
                for node in range(code_lengths[word]):
                    slot, used_u = _touch(points[word, node], u, ubuf, uslots, urows, used_u)
                    loss_sum += _binary_step(h, ubuf, slot, 1 - codes[word, node], lr, neu1e)
            for d in range(negative + 1 if negative > 0 else 0):
                target = word
                label = 1
                if d > 0:
                    state = (state * np.uint64(25214903917) + np.uint64(11)) & tmask  # word2vec.c's LCG
                    target = noise_table[(state >> np.uint64(16)) & table_mask]  # table size is a power of 2
                    label = 0
                    if target == word:  # word2vec.c skips a noise word equal to the target
                        continue
                slot, used_u = _touch(target, u, ubuf, uslots, urows, used_u)
                loss_sum += _binary_step(h, ubuf, slot, label, lr, neu1e)
            if cbow:  # word2vec.c adds neu1e to every context word, unscaled
                for jj in range(a, b):
                    if jj != i:
                        slot = vslots[ids[jj]]
                        for k in range(dim):
                            vbuf[slot, k] += neu1e[k]
            else:
                for k in range(dim):
                    vbuf[in_slot, k] += neu1e[k]
            predictions += 1
    used[0] = used_v
    used[1] = used_u
    return loss_sum, predictions, stop


@njit(fastmath=False, nogil=True, cache=True)
def _merge_rows(part, parts, matrix, buffer, slots, rows, used_counts):
    """Write back the rows with ``row % parts == part``: a row one lane changed takes that lane's value,
    a row several lanes changed gets the sum of their changes (in lane order: deterministic)."""
    lanes = buffer.shape[0]
    dim = matrix.shape[1]
    for lane in range(lanes):
        for index in range(used_counts[lane]):
            row = rows[lane, index]
            if row % parts != part:
                continue
            seen_before = False
            for earlier in range(lane):
                if slots[earlier, row] >= 0:
                    seen_before = True
                    break
            if seen_before:
                continue
            others = 0
            for later in range(lane + 1, lanes):
                if slots[later, row] >= 0:
                    others += 1
            if others == 0:
                for k in range(dim):
                    matrix[row, k] = buffer[lane, index, k]
                continue
            for k in range(dim):
                base = matrix[row, k]
                total = buffer[lane, index, k]
                for later in range(lane + 1, lanes):
                    slot = slots[later, row]
                    if slot >= 0:
                        total += buffer[later, slot, k] - base
                matrix[row, k] = total


@njit(parallel=True, nogil=True, cache=True)
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
    centers_per_lane,  # at most this many centers per lane between merges (bounds the lanes' staleness)
    workspace,  # the lanes' row buffers, from make_workspace (reused across chunks)
):
    """Train on one chunk of tokens; returns (summed -log-likelihood, number of predictions)."""
    vbuf, ubuf, vslots, uslots, vrows, urows, used = workspace
    n = ids.shape[0]
    lanes = vbuf.shape[0]  # the result depends on the number of lanes, not on the number of threads
    lane_loss = np.zeros(lanes, dtype=np.float64)
    lane_predictions = np.zeros(lanes, dtype=np.int64)
    hs = code_lengths.shape[0] > 0
    max_window = windows.max() if n > 0 else 1
    targets_per_prediction = (code_lengths.max() if hs else 0) + (negative + 1 if negative > 0 else 0)
    v_rows_per_center = 2 * max_window + 1
    u_rows_per_center = (1 if cbow else 2 * max_window) * targets_per_prediction
    # Each lane owns a contiguous block of the chunk; a round advances every lane as far as its
    # buffers (or centers_per_lane) allow, then merges. Progress depends on the data only.
    block = -(-n // lanes)
    cursor = np.empty(lanes, dtype=np.int64)
    end = np.empty(lanes, dtype=np.int64)
    for lane in range(lanes):
        cursor[lane] = min(n, lane * block)
        end[lane] = min(n, (lane + 1) * block)
    if lanes == 1:  # one lane cannot race with anyone: train on the shared matrices in place (identity slots)
        loss, predictions, _ = _run_lane(
            0, n, n, v, u, v, u, vslots[0], uslots[0], vrows[0], urows[0], used[0], ids, lo, hi, windows, cbow,
            cbow_mean, negative, noise_table, points, codes, code_lengths, lr_start, lr_end, seed, n,
            v_rows_per_center, u_rows_per_center,
        )
        return loss, predictions
    while (cursor < end).any():
        for lane in prange(lanes):
            loss, predictions, cursor[lane] = _run_lane(
                cursor[lane], end[lane], n, v, u, vbuf[lane], ubuf[lane], vslots[lane], uslots[lane], vrows[lane],
                urows[lane], used[lane], ids, lo, hi, windows, cbow, cbow_mean, negative, noise_table, points, codes,
                code_lengths, lr_start, lr_end, seed, centers_per_lane, v_rows_per_center, u_rows_per_center,
            )
            lane_loss[lane] += loss
            lane_predictions[lane] += predictions
        for part in prange(lanes):
            _merge_rows(part, lanes, v, vbuf, vslots, vrows, used[:, 0])
            _merge_rows(part, lanes, u, ubuf, uslots, urows, used[:, 1])
        for lane in prange(lanes):
            for index in range(used[lane, 0]):
                vslots[lane, vrows[lane, index]] = -1
            for index in range(used[lane, 1]):
                uslots[lane, urows[lane, index]] = -1
            used[lane, 0] = 0
            used[lane, 1] = 0
    return lane_loss.sum(), lane_predictions.sum()


def make_workspace(v_rows, u_rows, dim, lanes, centers_per_lane, window, targets_per_prediction, cbow,
                   bytes_per_lane=256 * 2**20):
    """Preallocated private row buffers for ``lanes`` lanes (allocated once per run, not per chunk).

    Each lane holds up to every row a round of ``centers_per_lane`` centers can touch, within a memory
    budget; with a small vocabulary that is the whole vocabulary, with a large one rounds end early."""
    predictions_per_center = 1 if cbow else 2 * window
    v_rows_per_center = 2 * window + 1
    u_rows_per_center = predictions_per_center * targets_per_prediction
    budget_rows = max(bytes_per_lane // (4 * dim), 4 * (v_rows_per_center + u_rows_per_center))
    v_capacity = min(v_rows, centers_per_lane * v_rows_per_center, budget_rows // 3)
    u_capacity = min(u_rows, centers_per_lane * u_rows_per_center, budget_rows - v_capacity)
    v_capacity = max(v_capacity, min(v_rows, v_rows_per_center))
    u_capacity = max(u_capacity, min(u_rows, u_rows_per_center))
    if lanes == 1:  # the lane works on the matrices themselves: every row's "slot" is the row
        return (
            np.zeros((1, 0, dim), dtype=np.float32),
            np.zeros((1, 0, dim), dtype=np.float32),
            np.arange(v_rows, dtype=np.int32)[None],
            np.arange(u_rows, dtype=np.int32)[None],
            np.zeros((1, 0), dtype=np.int64),
            np.zeros((1, 0), dtype=np.int64),
            np.zeros((1, 2), dtype=np.int64),
        )
    return (
        np.zeros((lanes, v_capacity, dim), dtype=np.float32),
        np.zeros((lanes, u_capacity, dim), dtype=np.float32),
        np.full((lanes, v_rows), -1, dtype=np.int32),
        np.full((lanes, u_rows), -1, dtype=np.int32),
        np.zeros((lanes, v_capacity), dtype=np.int64),
        np.zeros((lanes, u_capacity), dtype=np.int64),
        np.zeros((lanes, 2), dtype=np.int64),
    )


def set_threads(num_threads: int) -> int:
    """Use ``num_threads`` numba threads (capped at what numba has); returns the number used."""
    num_threads = max(1, min(int(num_threads), numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(num_threads)
    return num_threads


__all__ = ["make_workspace", "set_threads", "train_chunk"]
