"""The CPU fast path for word2vec and fastText: one fused, multi-threaded SGD kernel (numba).

It applies the reference tools' per-pair SGD (word2vec.c; Facebook fastText's ``model.cc``/``fasttext.cc``)
to the model's own parameter tensors in place. Unlike word2vec.c, fastText and gensim, whose worker
threads race on shared rows ("Hogwild"), it is deterministic:

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

Subwords (fastText)
-------------------
With ``subwords`` (a CSR ``offsets``/``rows`` list per word, :class:`SubwordTable`), a word's input
vector is the mean of its input rows (its own row, then its hashed character n-gram rows); without
it each word is one row (word2vec). What is matched, checked against Facebook fastText
(``src/model.cc``: ``computeHidden``, ``update``; ``src/fasttext.cc``: ``skipgram``, ``cbow``;
``src/loss.cc``) and gensim 4.4 (``gensim/models/fasttext_inner.pyx``):

- skip-gram: the *center* word's subwords predict each context word (``fasttext.cc`` skipgram:
  ``update(dict_->getSubwords(line[w]), line, w + c)``; gensim ``fasttext_fast_sentence_sg_neg(c, i, j)``
  takes ``subwords_idx[i]`` of the center). word2vec.c and gensim's Word2Vec swap this (the context
  word's vector predicts the center), and the word2vec path keeps that.
- h = (1/n) sum of the n input rows (``computeHidden``: ``hidden.mul(1.0 / input.size())``, the word's
  own row included). gensim's skip-gram divides by the number of n-grams only (``norm_factor = 1 /
  subwords_len``, the word's own row not counted) while its CBOW and final vectors divide by n; we
  follow Facebook. Duplicate n-grams in a word count as often as they occur, as in ``getSubwords``.
- the gradient g = sum over the targets of (label - sigmoid(h.u)) lr u is added to every input row
  *unscaled* (``update``: ``wi_->addVectorToRow(grad, *it, 1.0)``; ``normalizeGradient_`` is only set for
  the supervised model; gensim also adds ``work`` unscaled).
- CBOW: h is the mean of the subword rows of *all* context words together (``fasttext.cc`` cbow
  concatenates ``getSubwords`` of every context word into ``bow``; gensim counts every row in
  ``count``), one prediction of the center per window, the gradient added unscaled to every row of
  every context word. ``cbow_mean=False`` (fastText always averages) is the model's definition: h is
  the sum of the context words' vectors (each the mean of its rows), every row gets the gradient
  unscaled (so each word vector moves by it, as word2vec.c's sum mode); gensim instead sums all rows
  and divides the gradient by their number.
- sigmoid: fastText's table (512 steps over [-8, 8], 0/1 outside: ``loss.cc``), word2vec.c's (1000
  steps over [-6, 6]) for word2vec; the update is the clipped one outside the range (fastText's
  ``binaryLogistic``; gensim's fastText skip-gram skips such targets instead).
- noise words: from the unigram^``ns_exponent`` table (the config's; Facebook uses 0.5, gensim 0.75);
  a draw equal to the target is skipped (word2vec.c, gensim) where fastText's ``getNegative`` draws again.
- learning rate: linear decay over training (fastText to 0, gensim/word2vec.c to ``1e-4 * lr``; we
  use the loop's ``word2vec_linear`` schedule, the latter), updated per center inside a chunk.

Skip-gram's input rows stay the same for all pairs of one center, so instead of recomputing h and
updating all n rows after each pair (2 n d flops a pair), the kernel keeps h current as
``h += influence[w] * g`` (``influence`` = sum over the list of each entry's multiplicity / n: 1 when
the rows are distinct) and adds the summed gradient to the rows once per center. That is the same
arithmetic as the reference's per-pair update up to float rounding, at a cost independent of n per pair.
A lane finds a word's row copies through a per-word slot list (one lookup in a vocabulary-sized table
per word, the list read sequentially) rather than one lookup per row in the 2M-row row table.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
from numba import njit, prange

from ..errors import see

# Threads: numba's default layer (OpenMP, sharing torch's libgomp) was the fastest on an idle machine
# here; on a busy shared machine its spinning threads lose more than the workqueue layer does, so set
# NUMBA_THREADING_LAYER=workqueue there (see the README's troubleshooting section).


EXP_TABLE_SIZE = 1000
MAX_EXP = 6.0  # word2vec.c: sigmoid is tabulated on [-6, 6]
FASTTEXT_SIGMOID_TABLE_SIZE = 512
FASTTEXT_MAX_SIGMOID = 8.0  # fastText's loss.cc: SIGMOID_TABLE_SIZE 512, MAX_SIGMOID 8


def sigmoid_tables(size: int, max_exp: float):
    """(sigmoid, log sigmoid, max_exp): size + 1 entries at x_i = 2 max_exp i / size - max_exp, indexed
    as int((x + max_exp) size / max_exp / 2), as word2vec.c's expTable and fastText's t_sigmoid_."""
    grid = np.arange(size + 1, dtype=np.float64) * 2 * max_exp / size - max_exp
    table = (1.0 / (1.0 + np.exp(-grid))).astype(np.float32)
    return table, np.log(table).astype(np.float32), float(max_exp)


WORD2VEC_SIGMOID = sigmoid_tables(EXP_TABLE_SIZE, MAX_EXP)
FASTTEXT_SIGMOID = sigmoid_tables(FASTTEXT_SIGMOID_TABLE_SIZE, FASTTEXT_MAX_SIGMOID)
SIGMOID_TABLE, LOG_SIGMOID_TABLE = WORD2VEC_SIGMOID[0], WORD2VEC_SIGMOID[1]


@njit(inline="always")
def _splitmix64(x):
    x = (x + np.uint64(0x9E3779B97F4A7C15)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    z = x
    z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    return z ^ (z >> np.uint64(31))


@njit(inline="always")
def _gradient_and_loss(f, label, lr, sigmoid_table, log_sigmoid_table, max_exp):
    """The clipped, tabulated sigmoid step: g = (label - sigmoid(f)) * lr, and -log P(label); outside
    [-max_exp, max_exp] the sigmoid is 0 or 1 (word2vec.c's negative sampling, fastText's loss.cc)."""
    scale = (sigmoid_table.shape[0] - 1) / max_exp / 2
    z = f if label == 1 else -f  # loss is -log sigmoid(z)
    if z >= max_exp:
        loss = 0.0
    elif z <= -max_exp:
        loss = -z
    else:
        loss = -log_sigmoid_table[int((z + max_exp) * scale)]
    if f >= max_exp:
        g = (label - 1.0) * lr
    elif f <= -max_exp:
        g = label * lr
    else:
        g = (label - sigmoid_table[int((f + max_exp) * scale)]) * lr
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


@njit(inline="always")
def _touch_word(word, offsets, rows, v, vbuf, vslots, vrows, used_v, wstart, wlist, wwords, wcount):
    """fastText: where the slots of ``word``'s input rows are listed (``wlist[start:start + n]``), touching
    the rows on the word's first use in the round. One lookup per word in a vocabulary-sized table
    instead of one per row in the (words + buckets)-sized row table, whose reads miss the cache."""
    start = wstart[word]
    if start < 0:
        start = wcount[0]
        for p in range(offsets[word], offsets[word + 1]):
            slot, used_v = _touch(rows[p], v, vbuf, vslots, vrows, used_v)
            wlist[wcount[0]] = slot
            wcount[0] += 1
        wstart[word] = start
        wwords[wcount[1]] = word
        wcount[1] += 1
    return start, used_v


@njit(inline="always")
def _forget_words(wstart, wwords, wcount):
    for index in range(wcount[1]):
        wstart[wwords[index]] = -1
    wcount[0] = 0
    wcount[1] = 0


@njit(inline="always", fastmath=True)
def _binary_step(h, ubuf, slot, label, lr, neu1e, sig):
    """One binary decision "is this the target?": g = (label - sigmoid(h.u)) lr, then u += g h and the
    input gradient neu1e += g u (with u before its update, as word2vec.c). Returns the -log-likelihood."""
    dim = h.shape[0]
    f = np.float32(0.0)
    for k in range(dim):
        f += h[k] * ubuf[slot, k]
    g, loss = _gradient_and_loss(f, label, lr, sig[0], sig[1], sig[2])
    for k in range(dim):
        neu1e[k] += g * ubuf[slot, k]
        ubuf[slot, k] += g * h[k]
    return loss


@njit(inline="always")
def _predict(h, word, neu1e, u, ubuf, uslots, urows, used_u, negative, noise_table, points, codes, code_lengths, lr,
             state, sig):
    """Every binary decision that predicts ``word`` from h (its Huffman path, or the word and its noise
    words); accumulates the input gradient in ``neu1e``. Returns (loss, rng state, used output rows)."""
    tmask = np.uint64(0xFFFFFFFFFFFFFFFF)
    table_mask = np.uint64(noise_table.shape[0] - 1)
    loss_sum = 0.0
    if code_lengths.shape[0] > 0:  # one decision per inner node of the target's Huffman path; label 1 - code_j
        for node in range(code_lengths[word]):
            slot, used_u = _touch(points[word, node], u, ubuf, uslots, urows, used_u)
            loss_sum += _binary_step(h, ubuf, slot, 1 - codes[word, node], lr, neu1e, sig)
    for d in range(negative + 1 if negative > 0 else 0):
        target = word
        label = 1
        if d > 0:
            state = (state * np.uint64(25214903917) + np.uint64(11)) & tmask  # word2vec.c's LCG
            target = noise_table[(state >> np.uint64(16)) & table_mask]  # table size is a power of 2
            label = 0
            if target == word:  # word2vec.c and gensim skip a noise word equal to the target
                continue
        slot, used_u = _touch(target, u, ubuf, uslots, urows, used_u)
        loss_sum += _binary_step(h, ubuf, slot, label, lr, neu1e, sig)
    return loss_sum, state, used_u


@njit(fastmath=True, nogil=True, cache=True)
def _run_lane(first, last, n, v, u, vbuf, ubuf, vslots, uslots, vrows, urows, used, ids, lo, hi, windows,
              cbow, cbow_mean, negative, noise_table, points, codes, code_lengths, lr_start, lr_end, seed,
              max_centers, v_rows_per_center, u_rows_per_center, offsets, rows, influence, sig, wstart, wlist, wwords,
              wcount):
    """Sequential SGD from center ``first`` towards ``last`` on the lane's private row copies (``vbuf``,
    ``ubuf``, indexed through ``vslots``/``uslots``), stopping after ``max_centers`` centers or when the
    next center might not fit in the buffers. Returns (loss, predictions, next center); ``used``
    receives how many rows of each matrix were copied. With ``offsets`` non-empty, word w's input is
    the mean of rows ``rows[offsets[w]:offsets[w + 1]]`` of ``v`` (fastText), else row w (word2vec)."""
    dim = v.shape[1]
    subwords = offsets.shape[0] > 0
    neu1e = np.empty(dim, dtype=np.float32)
    mean = np.empty(dim, dtype=np.float32)  # CBOW's h, fastText's h
    grad = np.empty(dim, dtype=np.float32)  # fastText skip-gram: the center's summed input gradient
    h = mean
    tmask = np.uint64(0xFFFFFFFFFFFFFFFF)
    used_v, used_u = 0, 0
    loss_sum = 0.0
    predictions = 0
    stop = min(last, first + max_centers)
    for i in range(first, stop):
        v_full = vbuf.shape[0] < v.shape[0] and used_v + v_rows_per_center > vbuf.shape[0]
        u_full = ubuf.shape[0] < u.shape[0] and used_u + u_rows_per_center > ubuf.shape[0]
        if subwords and wcount[0] + v_rows_per_center > wlist.shape[0]:
            if vbuf.shape[0] == v.shape[0]:  # in place: nothing to merge, just start a fresh word list
                _forget_words(wstart, wwords, wcount)
            else:
                v_full = True
        if v_full or u_full:
            if i == first:  # not even one center fits: this workspace was made for a smaller window
                raise ValueError(  # internal: Word2VecTask sizes the workspace for its chunks
                    "word2vec kernel: workspace too small for this chunk; rebuild it with make_workspace")
            stop = i  # the next center might not fit: merge, and go on from here next round
            break
        a = max(lo[i], i - windows[i])
        b = min(hi[i], i + windows[i] + 1)
        if b - a <= 1:
            continue
        lr = np.float32(lr_start + (lr_end - lr_start) * (i / n))
        word = ids[i]
        state = _splitmix64(seed ^ ((np.uint64(i) * np.uint64(0x9E3779B97F4A7C15)) & tmask))
        if subwords and cbow:  # fastText CBOW: h = mean of the subword rows of all context words together
            h = mean
            for k in range(dim):
                h[k] = 0.0
            count = 0
            for jj in range(a, b):
                if jj != i:
                    start, used_v = _touch_word(ids[jj], offsets, rows, v, vbuf, vslots, vrows, used_v, wstart, wlist,
                                                wwords, wcount)
                    num_rows = offsets[ids[jj] + 1] - offsets[ids[jj]]
                    if not cbow_mean:  # the sum of the context words' vectors (each the mean of its rows)
                        for k in range(dim):
                            grad[k] = 0.0
                    for q in range(start, start + num_rows):
                        slot = wlist[q]
                        if cbow_mean:
                            for k in range(dim):
                                h[k] += vbuf[slot, k]
                        else:
                            for k in range(dim):
                                grad[k] += vbuf[slot, k]
                    if not cbow_mean and num_rows > 0:
                        inv_rows = np.float32(1.0 / num_rows)
                        for k in range(dim):
                            h[k] += grad[k] * inv_rows
                    count += num_rows
            if count == 0:
                continue
            if cbow_mean:
                inv = np.float32(1.0 / count)
                for k in range(dim):
                    h[k] *= inv
            for k in range(dim):
                neu1e[k] = 0.0
            loss, state, used_u = _predict(h, word, neu1e, u, ubuf, uslots, urows, used_u, negative, noise_table,
                                           points, codes, code_lengths, lr, state, sig)
            loss_sum += loss
            for jj in range(a, b):  # every row of every context word gets the gradient unscaled (model.cc update)
                if jj != i:
                    start = wstart[ids[jj]]
                    for q in range(start, start + offsets[ids[jj] + 1] - offsets[ids[jj]]):
                        slot = wlist[q]
                        for k in range(dim):
                            vbuf[slot, k] += neu1e[k]
            predictions += 1
            continue
        if subwords:  # fastText skip-gram: the center's subwords predict each context word
            first_row, last_row = offsets[word], offsets[word + 1]
            if last_row == first_row:
                continue
            h = mean
            for k in range(dim):
                h[k] = 0.0
                grad[k] = 0.0
            start, used_v = _touch_word(word, offsets, rows, v, vbuf, vslots, vrows, used_v, wstart, wlist, wwords,
                                        wcount)
            for q in range(start, start + last_row - first_row):
                slot = wlist[q]
                for k in range(dim):
                    h[k] += vbuf[slot, k]
            inv = np.float32(1.0 / (last_row - first_row))
            for k in range(dim):
                h[k] *= inv
            weight = influence[word]
            for j in range(a, b):
                if j == i:
                    continue
                for k in range(dim):
                    neu1e[k] = 0.0
                loss, state, used_u = _predict(h, ids[j], neu1e, u, ubuf, uslots, urows, used_u, negative,
                                               noise_table, points, codes, code_lengths, lr, state, sig)
                loss_sum += loss
                for k in range(dim):  # the rows would each get += neu1e now; their mean moves by weight * neu1e
                    grad[k] += neu1e[k]
                    h[k] += weight * neu1e[k]
                predictions += 1
            for q in range(start, start + last_row - first_row):  # ... so they get the pairs' summed gradient once
                slot = wlist[q]
                for k in range(dim):
                    vbuf[slot, k] += grad[k]
            continue
        # word2vec: both models predict the center word (skip-gram from each context word, as word2vec.c)
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
            loss, state, used_u = _predict(h, word, neu1e, u, ubuf, uslots, urows, used_u, negative, noise_table,
                                           points, codes, code_lengths, lr, state, sig)
            loss_sum += loss
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
def _train_chunk(v, u, ids, lo, hi, windows, cbow, cbow_mean, negative, noise_table, points, codes, code_lengths,
                 lr_start, lr_end, seed, centers_per_lane, workspace, offsets, rows, influence, sig):
    vbuf, ubuf, vslots, uslots, vrows, urows, used, wstart, wlist, wwords, wcount = workspace
    n = ids.shape[0]
    lanes = vbuf.shape[0]  # the result depends on the number of lanes, not on the number of threads
    lane_loss = np.zeros(lanes, dtype=np.float64)
    lane_predictions = np.zeros(lanes, dtype=np.int64)
    hs = code_lengths.shape[0] > 0
    max_window = windows.max() if n > 0 else 1
    targets_per_prediction = (code_lengths.max() if hs else 0) + (negative + 1 if negative > 0 else 0)
    v_rows_per_center = 2 * max_window + 1
    if offsets.shape[0] > 0:  # fastText: a center's input rows are its subwords (CBOW: all context words')
        max_rows = 1
        for w in range(offsets.shape[0] - 1):
            max_rows = max(max_rows, offsets[w + 1] - offsets[w])
        v_rows_per_center = 2 * max_window * max_rows if cbow else max_rows
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
            v_rows_per_center, u_rows_per_center, offsets, rows, influence, sig, wstart[0], wlist[0], wwords[0],
            wcount[0],
        )
        _forget_words(wstart[0], wwords[0], wcount[0])
        return loss, predictions
    while (cursor < end).any():
        for lane in prange(lanes):
            loss, predictions, cursor[lane] = _run_lane(
                cursor[lane], end[lane], n, v, u, vbuf[lane], ubuf[lane], vslots[lane], uslots[lane], vrows[lane],
                urows[lane], used[lane], ids, lo, hi, windows, cbow, cbow_mean, negative, noise_table, points, codes,
                code_lengths, lr_start, lr_end, seed, centers_per_lane, v_rows_per_center, u_rows_per_center,
                offsets, rows, influence, sig, wstart[lane], wlist[lane], wwords[lane], wcount[lane],
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
            _forget_words(wstart[lane], wwords[lane], wcount[lane])
    return lane_loss.sum(), lane_predictions.sum()


class SubwordTable(NamedTuple):
    """Each word's input rows as CSR: word w's input vector is the mean of ``v[rows[offsets[w]:offsets[w+1]]]``."""

    offsets: np.ndarray  # (V + 1,) int64
    rows: np.ndarray  # (nnz,) int64 rows of the input matrix
    influence: np.ndarray  # (V,) float32: how much h moves per unit gradient on every row (1: distinct rows)


NO_SUBWORDS = SubwordTable(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))


def make_subword_table(offsets, rows, num_input_rows: int | None = None) -> SubwordTable:
    """A :class:`SubwordTable` from CSR ``offsets``/``rows`` (e.g. a fastText model's ``subword_offsets`` and
    ``subword_ids``). ``influence[w]`` = sum over w's list of each entry's multiplicity, / its length:
    adding g to every listed row (a row listed k times gets k g, as fastText's update) moves the mean by
    influence[w] g."""
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    if offsets.ndim != 1 or len(offsets) < 2 or offsets[0] != 0 or offsets[-1] != len(rows) or (np.diff(offsets) < 0).any():
        raise ValueError(
            f"subword offsets must be a non-decreasing CSR index from 0 to len(rows)={len(rows)}; got "
            f"{len(offsets)} offsets ending at {offsets[-1] if len(offsets) else None}" + see("corrupt-weights")
        )
    if num_input_rows is not None and len(rows) and (rows.min() < 0 or rows.max() >= num_input_rows):
        raise ValueError(f"subword rows must lie in [0, {num_input_rows}); got {rows.min()}..{rows.max()}"
                         + see("corrupt-weights"))
    lengths = np.diff(offsets)
    words = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    key = words * (int(rows.max(initial=0)) + 1) + rows
    _, inverse, multiplicity = np.unique(key, return_inverse=True, return_counts=True)
    per_entry = multiplicity[inverse].astype(np.float64)
    influence = np.bincount(words, weights=per_entry, minlength=len(lengths)) / np.maximum(lengths, 1)
    return SubwordTable(offsets, rows, influence.astype(np.float32))


def train_chunk(
    v,  # (R, d) float32 input vectors (word2vec: R = V words; fastText: words then n-gram buckets), in place
    u,  # (V or V-1, d) float32 output vectors, updated in place
    ids,  # (n,) int32 token ids after subsampling
    lo,  # (n,) int64 first position of each token's sentence
    hi,  # (n,) int64 one past the last position of each token's sentence
    windows,  # (n,) int32 reduced window b of each center, in 1..window
    cbow,  # bool: CBOW (else skip-gram)
    cbow_mean,  # bool: average (else sum) the context vectors
    negative,  # K noise words per prediction (negative sampling) or 0
    noise_table,  # (T,) int32 word ids in proportion to unigram^ns_exponent
    points,  # (V, L) int32 Huffman inner nodes (hierarchical softmax) or (0, 0)
    codes,  # (V, L) int8 Huffman branch bits
    code_lengths,  # (V,) int32 path lengths, or (0,) when not using hierarchical softmax
    lr_start,
    lr_end,  # learning rate decays linearly from lr_start to lr_end over the chunk
    seed,  # uint64 seed of this chunk
    centers_per_lane,  # at most this many centers per lane between merges (bounds the lanes' staleness)
    workspace,  # the lanes' row buffers, from make_workspace (reused across chunks)
    subwords: SubwordTable = NO_SUBWORDS,  # fastText's input rows per word; NO_SUBWORDS: word2vec
    sigmoid=WORD2VEC_SIGMOID,  # (table, log table, max_exp) from sigmoid_tables
):
    """Train on one chunk of tokens; returns (summed -log-likelihood, number of predictions)."""
    return _train_chunk(
        v, u, ids, lo, hi, windows, cbow, cbow_mean, negative, noise_table, points, codes, code_lengths, lr_start,
        lr_end, seed, centers_per_lane, workspace, subwords.offsets, subwords.rows, subwords.influence, sigmoid,
    )


def make_workspace(v_rows, u_rows, dim, lanes, centers_per_lane, window, targets_per_prediction, cbow,
                   bytes_per_lane=256 * 2**20, rows_per_word=None, num_words=0):
    """Preallocated private row buffers for ``lanes`` lanes (allocated once per run, not per chunk).

    Each lane holds up to every row a round of ``centers_per_lane`` centers can touch, within a memory
    budget; with a small vocabulary that is the whole vocabulary, with a large one rounds end early.
    ``rows_per_word``: fastText's most input rows of one word (None: word2vec, one row a word);
    ``num_words``: fastText's vocabulary size (for the per-word slot lists)."""
    predictions_per_center = 1 if cbow else 2 * window
    if rows_per_word is None:
        v_rows_per_center = 2 * window + 1
    else:  # fastText reads the center's subwords (skip-gram) or every context word's (CBOW)
        v_rows_per_center = max(1, int(rows_per_word)) * (2 * window if cbow else 1)
    u_rows_per_center = predictions_per_center * targets_per_prediction
    budget_rows = max(bytes_per_lane // (4 * dim), 4 * (v_rows_per_center + u_rows_per_center))
    v_capacity = min(v_rows, centers_per_lane * v_rows_per_center, budget_rows // 3)
    u_capacity = min(u_rows, centers_per_lane * u_rows_per_center, budget_rows - v_capacity)
    v_capacity = max(v_capacity, min(v_rows, v_rows_per_center))
    u_capacity = max(u_capacity, min(u_rows, u_rows_per_center))
    # fastText's per-word slot lists: a round's words list at most 2x the rows it may copy (n-grams are shared)
    words = int(num_words) if rows_per_word is not None else 0
    list_capacity = max(2 * v_capacity, 4 * v_rows_per_center) if words else 0
    word_lists = (
        np.full((lanes, words), -1, dtype=np.int64),
        np.zeros((lanes, list_capacity), dtype=np.int32),
        np.zeros((lanes, words), dtype=np.int64),
        np.zeros((lanes, 2), dtype=np.int64),
    )
    if lanes == 1:  # the lane works on the matrices themselves: every row's "slot" is the row
        return (
            np.zeros((1, 0, dim), dtype=np.float32),
            np.zeros((1, 0, dim), dtype=np.float32),
            np.arange(v_rows, dtype=np.int32)[None],
            np.arange(u_rows, dtype=np.int32)[None],
            np.zeros((1, 0), dtype=np.int64),
            np.zeros((1, 0), dtype=np.int64),
            np.zeros((1, 2), dtype=np.int64),
            *word_lists,
        )
    return (
        _prefaulted((lanes, v_capacity, dim)),
        _prefaulted((lanes, u_capacity, dim)),
        np.full((lanes, v_rows), -1, dtype=np.int32),
        np.full((lanes, u_rows), -1, dtype=np.int32),
        np.zeros((lanes, v_capacity), dtype=np.int64),
        np.zeros((lanes, u_capacity), dtype=np.int64),
        np.zeros((lanes, 2), dtype=np.int64),
        *word_lists,
    )


def _prefaulted(shape) -> np.ndarray:
    """A zeroed float32 buffer whose pages are already mapped: np.zeros maps them lazily, and a first
    touch inside the kernel (fastText's lane buffers are ~100 MB) cost the first epoch ~20% more time."""
    buffer = np.empty(shape, dtype=np.float32)
    buffer.fill(0.0)
    return buffer


BACKENDS = ("auto", "kernel", "torch")


def resolve_backend(backend: str, device, num_processes: int, objective: str | None = None) -> str:
    """The backend a word2vec, fastText or GloVe run uses: ``auto`` picks these fused kernels in one CPU process
    (the fast path) and autograd otherwise: on GPUs, in several processes, and for the full softmax, which the
    kernels don't implement."""
    if backend not in BACKENDS:
        raise ValueError(f"--backend must be one of {BACKENDS}, got {backend!r}" + see("kernel-backend"))
    kernel_fits = device.type == "cpu" and num_processes == 1
    if backend == "auto":
        return "kernel" if kernel_fits and objective != "softmax" else "torch"
    if backend == "kernel" and not kernel_fits:
        raise ValueError(
            "the kernel backend trains on the CPU in a single process; use --backend torch for GPUs or "
            "several processes (accelerate launch)" + see("kernel-backend")
        )
    return backend


def set_threads(num_threads: int) -> int:
    """Use ``num_threads`` numba threads (capped at what numba has); returns the number used."""
    num_threads = max(1, min(int(num_threads), numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(num_threads)
    return num_threads


__all__ = [
    "FASTTEXT_SIGMOID",
    "NO_SUBWORDS",
    "WORD2VEC_SIGMOID",
    "SubwordTable",
    "make_subword_table",
    "make_workspace",
    "set_threads",
    "sigmoid_tables",
    "train_chunk",
]
