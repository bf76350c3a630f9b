"""GloVe training: glove.c's AdaGrad as a torch optimizer, a fused CPU kernel that applies it entry by
entry exactly as glove.c does, and the :class:`GloVeTask` the shared loop runs.

The training data is the non-zero entries (i, j, X_ij) of a co-occurrence matrix, shuffled every epoch
(seeded by (seed, epoch), so a resumed run sees the same order) and cut into steps of ``batch_entries``.

The kernel runs ``lanes`` threads without glove.c's races: an entry (i, j) belongs to stratum
(i mod L, j mod L), and in round r lane l trains stratum (l, (l + r) mod L), so no two lanes ever touch
the same row of W or of W~ at once (the stratified schedule of distributed matrix factorisation). Within a
stratum entries keep their shuffled order. The result depends on the seed, the data and the number of
lanes, never on thread timing; one lane is exactly glove.c's sequential loop.
"""

from __future__ import annotations

import os

import numpy as np
import scipy.sparse as sp
import torch
from numba import njit, prange

from ..errors import see
from .loop import StepResult, TrainingTask
from .word2vec_kernel import BACKENDS, resolve_backend, set_threads  # noqa: F401  (the recipe's)

DEFAULT_BATCH_ENTRIES = {"kernel": 1 << 20, "torch": 1 << 14}
GRAD_CLIP = 100.0  # glove.c's grad_clip_value: each gradient coordinate is clipped to +-100


class GloVeAdaGrad(torch.optim.Optimizer):
    """AdaGrad exactly as glove.c applies it, for any backend.

    Per coordinate, with step s = lr * g: ``p -= s / sqrt(G)`` using the accumulator G *before* this
    step, then ``G += s^2``; G starts at ``initial_accumulator_value`` (glove.c: 1). torch's Adagrad
    differs (it sums g^2, not (lr g)^2, and adds before dividing). glove.c also steps its biases by g
    itself, not lr * g: give the bias parameters their own group with ``lr=1.0`` for that.
    The accumulators live in ``state[p]["sum"]`` from the start, so checkpoints save them and the fused
    kernel updates them in place.
    """

    def __init__(self, params, lr: float = 0.05, initial_accumulator_value: float = 1.0):
        if not lr > 0:
            raise ValueError(f"learning rate must be > 0, got {lr}" + see("training-flags"))
        if not initial_accumulator_value > 0:
            raise ValueError(f"initial_accumulator_value must be > 0, got {initial_accumulator_value}"
                             + see("pretraining-flags"))
        super().__init__(params, {"lr": lr, "initial_accumulator_value": initial_accumulator_value})
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["sum"] = torch.full_like(p, group["initial_accumulator_value"], memory_format=torch.preserve_format)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                accumulator = self.state[p]["sum"]
                if p.grad.is_sparse:
                    grad = p.grad.coalesce()
                    rows, values = grad.indices()[0], grad.values() * group["lr"]
                    p.index_add_(0, rows, -values / accumulator[rows].sqrt())
                    accumulator.index_add_(0, rows, values * values)
                else:
                    update = p.grad * group["lr"]
                    p.addcdiv_(update, accumulator.sqrt(), value=-1.0)
                    accumulator.addcmul_(update, update)
        return loss


@njit(fastmath=True, nogil=True, cache=True)
def train_entries(w, w_tilde, b, b_tilde, g_w, g_w_tilde, g_b, g_b_tilde, rows, cols, counts, lr, bias_lr, x_max,
                  alpha, grad_clip):
    """glove.c's inner loop over entries (i, j, X_ij), in order, updating everything in place.
    Returns (summed cost 1/2 f(X) diff^2, entries used); an entry whose diff is not finite is skipped, as glove.c does."""
    dim = w.shape[1]
    step_w = np.empty(dim, dtype=np.float32)
    step_w_tilde = np.empty(dim, dtype=np.float32)
    cost = 0.0
    used = 0
    for e in range(rows.shape[0]):
        i = rows[e]
        j = cols[e]
        x = counts[e]
        diff = np.float32(0.0)
        for k in range(dim):
            diff += w[i, k] * w_tilde[j, k]
        diff += b[i, 0] + b_tilde[j, 0] - np.float32(np.log(x))
        fdiff = diff if x > x_max else np.float32((x / x_max) ** alpha) * diff
        if not np.isfinite(fdiff):
            continue
        cost += 0.5 * fdiff * diff
        used += 1
        finite = True
        for k in range(dim):
            s1 = min(max(fdiff * w_tilde[j, k], -grad_clip), grad_clip) * lr
            s2 = min(max(fdiff * w[i, k], -grad_clip), grad_clip) * lr
            step_w[k] = s1 / np.sqrt(g_w[i, k])
            step_w_tilde[k] = s2 / np.sqrt(g_w_tilde[j, k])
            g_w[i, k] += s1 * s1
            g_w_tilde[j, k] += s2 * s2
            if not (np.isfinite(step_w[k]) and np.isfinite(step_w_tilde[k])):
                finite = False
        if finite:
            for k in range(dim):
                w[i, k] -= step_w[k]
                w_tilde[j, k] -= step_w_tilde[k]
        s = fdiff * bias_lr
        b[i, 0] -= s / np.sqrt(g_b[i, 0])
        b_tilde[j, 0] -= s / np.sqrt(g_b_tilde[j, 0])
        g_b[i, 0] += s * s
        g_b_tilde[j, 0] += s * s
    return cost, used


@njit(parallel=True, nogil=True, cache=True)
def train_strata(w, w_tilde, b, b_tilde, g_w, g_w_tilde, g_b, g_b_tilde, rows, cols, counts, starts, lr, bias_lr,
                 x_max, alpha, grad_clip):
    """:func:`train_entries` on entries sorted by stratum (``starts[s]:starts[s + 1]`` holds stratum
    s = (i mod L) * L + (j mod L)), L lanes in parallel, L rounds. Returns (summed cost, entries used)."""
    lanes = int(np.sqrt(starts.shape[0] - 1) + 0.5)
    cost = np.zeros(lanes, dtype=np.float64)
    used = np.zeros(lanes, dtype=np.int64)
    for r in range(lanes):
        for lane in prange(lanes):
            stratum = lane * lanes + (lane + r) % lanes
            a, z = starts[stratum], starts[stratum + 1]
            c, u = train_entries(w, w_tilde, b, b_tilde, g_w, g_w_tilde, g_b, g_b_tilde, rows[a:z], cols[a:z],
                                 counts[a:z], lr, bias_lr, x_max, alpha, grad_clip)
            cost[lane] += c
            used[lane] += u
    return cost.sum(), used.sum()


def make_optimizer(model, learning_rate: float, bias_learning_rate: float) -> GloVeAdaGrad:
    """glove.c's AdaGrad: vectors step by lr * g, biases by ``bias_learning_rate`` * g (glove.c: 1)."""
    return GloVeAdaGrad(
        [
            {"params": [model.word_embeddings.weight, model.context_embeddings.weight], "lr": learning_rate},
            {"params": [model.word_bias.weight, model.context_bias.weight], "lr": bias_learning_rate},
        ],
        lr=learning_rate,
    )


class GloVeTask(TrainingTask):
    """One step = ``batch_entries`` entries of this epoch's shuffled order; steps are dealt round-robin to
    processes (the last ones padded with early steps so every process runs the same number)."""

    def __init__(self, matrix: sp.spmatrix, batch_entries: int, seed: int, backend: str, optimizer: GloVeAdaGrad,
                 rank: int = 0, world_size: int = 1, threads: int | None = None):
        if batch_entries < 1:
            raise ValueError(f"batch_entries must be >= 1, got {batch_entries}" + see("pretraining-flags"))
        coo = sp.coo_matrix(matrix)
        keep = coo.data > 0
        if not keep.any():
            raise ValueError("the co-occurrence matrix has no non-zero entries: the corpus has no word pairs "
                             "within the window (a corpus of one-word sentences?)" + see("too-little-data"))
        self.rows = coo.row[keep].astype(np.int64)
        self.cols = coo.col[keep].astype(np.int64)
        self.counts = coo.data[keep].astype(np.float64)
        self.batch_entries = int(batch_entries)
        self.seed = int(seed)
        self.backend = backend
        self.fused = backend == "kernel"
        self.optimizer = optimizer
        self.rank, self.world_size = rank, world_size
        self.num_blocks = -(-len(self.counts) // self.batch_entries)
        if self.fused:  # one lane per thread; the vectors depend on the lanes (so on --workers), never on timing
            self.lanes = set_threads(max(1, int(threads or os.cpu_count() or 1)))
            self.strata = (self.rows % self.lanes) * self.lanes + self.cols % self.lanes
        self._order: tuple[int, np.ndarray] | None = None

    @property
    def num_entries(self) -> int:
        return len(self.counts)

    def steps_per_epoch(self) -> int:
        return -(-self.num_blocks // self.world_size)

    def entries(self, epoch: int, step: int) -> np.ndarray:
        """Indices of the entries of ``step`` in ``epoch`` on this process."""
        if self._order is None or self._order[0] != epoch:
            self._order = (epoch, np.random.default_rng([self.seed, epoch]).permutation(len(self.counts)))
        block = (step * self.world_size + self.rank) % self.num_blocks
        return self._order[1][block * self.batch_entries : (block + 1) * self.batch_entries]

    def step(self, model, epoch: int, step: int, lr: float, next_lr: float) -> StepResult:
        index = self.entries(epoch, step)
        if self.fused:
            return self._kernel_step(model, index)
        device = next(model.parameters()).device
        outputs = model(
            input_ids=torch.from_numpy(self.rows[index]).to(device),
            context_ids=torch.from_numpy(self.cols[index]).to(device),
            cooccurrence=torch.from_numpy(self.counts[index]).to(device, torch.float32),
        )
        # glove.c's gradient is that of the summed cost: back-propagate the sum, report the mean.
        return StepResult(float(outputs.loss.detach()) * len(index), len(index), loss=outputs.loss * len(index))

    def _kernel_step(self, model, index) -> StepResult:
        params = [model.word_embeddings.weight, model.context_embeddings.weight, model.word_bias.weight,
                  model.context_bias.weight]
        arrays = [p.detach().numpy() for p in params]  # views: the kernel updates the model in place
        accumulators = [self.optimizer.state[p]["sum"].numpy() for p in params]
        vector_lr, bias_lr = (group["lr"] for group in self.optimizer.param_groups)
        config = model.config
        index = index[np.argsort(self.strata[index], kind="stable")]  # strata in order, shuffled within
        starts = np.searchsorted(self.strata[index], np.arange(self.lanes * self.lanes + 1))
        cost, used = train_strata(
            *arrays, *accumulators, self.rows[index], self.cols[index], self.counts[index], starts,
            np.float32(vector_lr), np.float32(bias_lr), float(config.x_max), float(config.alpha), np.float32(GRAD_CLIP),
        )
        return StepResult(float(cost), int(used))
