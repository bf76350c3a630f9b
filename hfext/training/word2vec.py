"""word2vec training as a :class:`~hfext.training.loop.TrainingTask`: one step = one chunk of sentences.

Two backends run the same data and the same objective:

- ``kernel``: the fused multi-threaded numba SGD (:mod:`hfext.training.word2vec_kernel`), word2vec.c's
  update rule on the model's tensors in place. The fast path on CPU, one process.
- ``torch``: autograd on the model's ``forward`` (mean loss, Adam). Runs on any device and under
  ``accelerate launch`` with several processes (DDP).

fastText (:mod:`hfext.training.fasttext`) is the same task with subword inputs.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from ..data.windows import WindowChunks, build_noise_table, cbow_windows, skipgram_pairs
from ..errors import see
from .loop import StepResult, TrainingTask
from .word2vec_kernel import (  # noqa: F401  (BACKENDS, resolve_backend: used by the recipes)
    BACKENDS,
    NO_SUBWORDS,
    WORD2VEC_SIGMOID,
    make_workspace,
    resolve_backend,
    set_threads,
    train_chunk,
)

# Tokens per step. The kernel merges its lanes' rows once per step (per 16k centers a lane at most):
# 50k measured 1.3x faster than gensim's 10k batches on CBOW with equal quality. Autograd sums a
# step's gradients at one snapshot, which diverges at word2vec's learning rates beyond a few k pairs.
DEFAULT_BATCH_WORDS = {"kernel": 50_000, "torch": 1_000}
# The kernel is word2vec.c's per-pair SGD (its alphas). Autograd minibatches sum thousands of pairs at
# one snapshot: plain SGD at word2vec's rates diverged on head500 (loss 4.2 -> 27), so the torch
# backend takes the mean loss with Adam, which measured WS353 rho 0.55 / analogies 0.027 there.
DEFAULT_LEARNING_RATES = {("kernel", "skipgram"): 0.025, ("kernel", "cbow"): 0.05,
                          ("torch", "skipgram"): 0.02, ("torch", "cbow"): 0.01}


def make_optimizer(parameters, backend: str, learning_rate: float):
    """SGD for the kernel (it reads only the learning rate), Adam for autograd minibatches."""
    if backend == "kernel":
        return torch.optim.SGD(parameters, lr=learning_rate)
    return torch.optim.Adam(parameters, lr=learning_rate)


def _seed_of(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, dtype=np.uint64)[0])


class Word2VecTask(TrainingTask):
    """Skip-gram or CBOW over :class:`WindowChunks`; the model decides which (``config.model_type``).

    The one place for what word2vec and fastText share (:class:`~hfext.training.fasttext.FastTextTask`
    overrides the few hooks below): chunks, noise table, Huffman tree, kernel workspace, both backends."""

    input_matrix = "center_embeddings"  # the model's input (v) embedding module
    sigmoid = WORD2VEC_SIGMOID  # word2vec.c's tabulated sigmoid
    center_is_input = False  # skip-gram: word2vec.c predicts the center from each context word

    def __init__(
        self,
        model,
        chunks: WindowChunks,
        backend: str,
        seed: int,
        threads: int | None = None,
        centers_per_lane: int | None = None,  # None: default_centers_per_lane()
    ):
        self.chunks = chunks
        self.backend = backend
        self.fused = backend == "kernel"
        self.seed = int(seed)
        config = model.config
        self.cbow = self.is_cbow(config)
        self.centers_per_lane = int(centers_per_lane or self.default_centers_per_lane())
        self.objective = config.objective
        if self.fused and self.objective == "softmax":
            raise ValueError("the kernel backend has no full softmax; use --backend torch for objective='softmax'"
                             + see("kernel-backend"))
        counts = model.word_counts.detach().cpu().numpy()
        self.negative = config.negative if self.objective == "negative_sampling" else 0
        self.noise_table = build_noise_table(counts, config.ns_exponent) if self.negative else np.zeros(1, np.int32)
        if self.fused:
            # One lane per thread; the vectors depend on the lanes (so on --workers), never on timing.
            self.lanes = max(1, int(threads or os.cpu_count() or 1))
            self.threads = set_threads(self.lanes)
            if self.objective == "hierarchical_softmax":
                points, codes, lengths = (t.cpu().numpy() for t in model.huffman_tree())
                self.tree = (points.astype(np.int32), codes.astype(np.int8), lengths.astype(np.int32))
            else:
                self.tree = (np.zeros((0, 0), np.int32), np.zeros((0, 0), np.int8), np.zeros(0, np.int32))
            self.subwords = self.subword_table(model)
            rows_per_word = int(np.diff(self.subwords.offsets).max()) if len(self.subwords.offsets) > 1 else None
            targets_per_prediction = (self.tree[0].shape[1]) + (self.negative + 1 if self.negative else 0)
            self.workspace = make_workspace(
                self._input_weight(model).shape[0], model.context_embeddings.weight.shape[0],
                config.vector_size, self.lanes, self.centers_per_lane, config.window, targets_per_prediction, self.cbow,
                rows_per_word=rows_per_word, num_words=len(self.subwords.offsets) - 1,
            )

    # Hooks a subword model overrides.
    def default_centers_per_lane(self) -> int:
        """Centers a lane trains between merges: fewer merges (faster) against staler rows across lanes."""
        return 16384

    @staticmethod
    def is_cbow(config) -> bool:
        return config.model_type == "hfext-cbow"

    def subword_table(self, model):
        return NO_SUBWORDS  # one input row per word

    def _input_weight(self, model) -> torch.Tensor:
        return getattr(model, self.input_matrix).weight

    def steps_per_epoch(self) -> int:
        return self.chunks.steps_per_epoch

    def step(self, model, epoch: int, step: int, lr: float, next_lr: float) -> StepResult:
        chunk = self.chunks.chunk(epoch, step)
        chunk_seed = _seed_of(self.seed, epoch, self.chunks.chunk_index(step))
        if self.fused:
            return self._kernel_step(model, chunk, chunk_seed, lr, next_lr)
        return self._torch_step(model, chunk, chunk_seed)

    def _kernel_step(self, model, chunk, chunk_seed, lr, next_lr) -> StepResult:
        # .numpy() shares memory with the parameters: the kernel updates the model in place.
        v = self._input_weight(model).detach().numpy()
        u = model.context_embeddings.weight.detach().numpy()
        loss_sum, count = train_chunk(
            v, u, chunk.ids, chunk.lo, chunk.hi, chunk.windows, self.cbow, model.config.cbow_mean, self.negative,
            self.noise_table, *self.tree, np.float32(lr), np.float32(next_lr), np.uint64(chunk_seed),
            self.centers_per_lane, self.workspace, self.subwords, self.sigmoid,
        )
        return StepResult(float(loss_sum), int(count), chunk.raw_words)

    def _torch_step(self, model, chunk, chunk_seed) -> StepResult:
        device = model.device if hasattr(model, "device") else next(model.parameters()).device
        if self.cbow:
            context, mask, targets = cbow_windows(chunk)
            inputs = {
                "input_ids": torch.from_numpy(context).to(device),
                "attention_mask": torch.from_numpy(mask).to(device),
            }
        else:
            sources, targets = skipgram_pairs(chunk)  # (context, center) pairs
            if self.center_is_input:
                sources, targets = targets, sources
            inputs = {"input_ids": torch.from_numpy(sources).to(device)}
        num_examples = len(targets)
        if self.negative:
            rng = np.random.default_rng(chunk_seed)
            draws = rng.integers(0, len(self.noise_table), size=(num_examples, self.negative))
            inputs["negative_ids"] = torch.from_numpy(self.noise_table[draws].astype(np.int64)).to(device)
        if num_examples == 0:  # every process must still run forward/backward under DDP
            weight = model.module if hasattr(model, "module") else model
            zero = sum(p.sum() for p in weight.parameters()) * 0.0
            return StepResult(0.0, 0, chunk.raw_words, loss=zero)
        outputs = model(labels=torch.from_numpy(targets).to(device), **inputs)
        return StepResult(float(outputs.loss.detach()) * num_examples, num_examples, chunk.raw_words, loss=outputs.loss)


WORD2VEC_MODEL_TYPES = ("hfext-skipgram", "hfext-cbow")


def load_pretrained_word2vec(model_name_or_path: str, model_types=WORD2VEC_MODEL_TYPES,
                             recipe: str = "recipes/pretrain_word2vec.py", allow_pickle: bool = False):
    """Model and tokenizer of a saved word2vec checkpoint through :func:`hfext.loading.load_pretrained`: clear
    errors for the wrong kind of directory, missing, corrupt or pickle-only weights, and a tokenizer larger
    than the model's vocabulary."""
    from ..loading import ModelTypeMismatchError, load_pretrained, load_tokenizer_for

    try:
        model = load_pretrained(model_name_or_path, model_types=model_types, allow_pickle=allow_pickle)
    except ModelTypeMismatchError as error:
        raise ModelTypeMismatchError(f"{error}; pass a directory written by {recipe}") from None
    return model, load_tokenizer_for(model, model_name_or_path)
