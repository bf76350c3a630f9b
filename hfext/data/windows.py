"""Training examples for word-vector models, vectorised with numpy: frequent-word subsampling, dynamic
windows that never cross a sentence boundary, (center, context) pairs, CBOW windows and noise words.

The corpus is cut into chunks of whole sentences (about ``batch_words`` tokens each); one chunk is one
training step. Everything random about a chunk (which words are subsampled, each center's window) is
drawn from a generator seeded by ``(seed, epoch, chunk)``, so a run resumed mid-epoch sees exactly the
data an uninterrupted run would, and chunks shard over processes without coordination.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import see
from .corpus import EncodedCorpus


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """word2vec.c's subsampling: keep a word of count c with probability (sqrt(c / (t N)) + 1) t N / c."""
    counts = np.asarray(counts, dtype=np.float64)
    if sample <= 0:
        return np.ones(len(counts), dtype=np.float32)
    threshold = sample * counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = (np.sqrt(counts / threshold) + 1) * threshold / counts
    return np.nan_to_num(np.minimum(keep, 1.0), nan=1.0).astype(np.float32)


@dataclass
class WindowChunk:
    """One step's tokens after subsampling, with each token's sentence span and dynamic window."""

    ids: np.ndarray  # (n,) int32
    lo: np.ndarray  # (n,) int64 first position of the token's sentence
    hi: np.ndarray  # (n,) int64 one past the last position of the token's sentence
    windows: np.ndarray  # (n,) int32 reduced window b in 1..window
    raw_words: int  # corpus words the chunk stands for, unknown and subsampled ones included (gensim's count)

    def __len__(self) -> int:
        return len(self.ids)


class WindowChunks:
    """The chunks of an :class:`EncodedCorpus` for one process: ``chunk(epoch, step)`` is step ``step``
    of ``epoch`` on this rank. Chunks are dealt round-robin to ranks; when they don't divide evenly a
    rank repeats an early chunk (as ``DistributedSampler`` pads) so every rank runs the same number of steps."""

    def __init__(
        self,
        corpus: EncodedCorpus,
        counts: np.ndarray,
        window: int,
        sample: float,
        batch_words: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        shrink_windows: bool = True,
    ):
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}" + see("window-settings"))
        if batch_words < 1:
            raise ValueError(f"batch_words must be >= 1, got {batch_words}" + see("window-settings"))
        self.corpus = corpus
        self.window = int(window)
        self.seed = int(seed)
        self.rank, self.world_size = int(rank), int(world_size)
        self.shrink_windows = shrink_windows
        self.keep = keep_probabilities(counts, sample)
        offsets = np.asarray(corpus.offsets)
        # Chunk k covers sentences [bounds[k], bounds[k+1]): whole sentences, ~batch_words tokens each.
        starts = np.searchsorted(offsets[:-1], np.arange(0, corpus.num_tokens, batch_words), side="left")
        self.bounds = np.unique(np.append(starts, corpus.num_sentences))
        self.num_chunks = len(self.bounds) - 1
        self.steps_per_epoch = -(-self.num_chunks // self.world_size)

    def chunk_index(self, step: int) -> int:
        return (step * self.world_size + self.rank) % self.num_chunks

    def chunk(self, epoch: int, step: int) -> WindowChunk:
        index = self.chunk_index(step)
        rng = np.random.default_rng([self.seed, epoch, index])
        offsets = np.asarray(self.corpus.offsets[self.bounds[index] : self.bounds[index + 1] + 1])
        ids = np.asarray(self.corpus.ids[offsets[0] : offsets[-1]])
        lengths = np.diff(offsets)
        sentence = np.repeat(np.arange(len(lengths)), lengths)
        kept = rng.random(len(ids), dtype=np.float32) < self.keep[ids]
        ids, sentence = ids[kept], sentence[kept]
        new_lengths = np.bincount(sentence, minlength=len(lengths))
        new_offsets = np.concatenate([[0], np.cumsum(new_lengths)])
        lo = new_offsets[:-1][sentence]
        hi = new_offsets[1:][sentence]
        if self.shrink_windows:
            windows = rng.integers(1, self.window + 1, size=len(ids), dtype=np.int32)
        else:
            windows = np.full(len(ids), self.window, dtype=np.int32)
        # Unknown words were dropped at encoding; count them in proportion, as gensim's words/s does.
        raw_words = round(len(kept) * self.corpus.raw_words / max(self.corpus.num_tokens, 1))
        return WindowChunk(ids.astype(np.int32), lo.astype(np.int64), hi.astype(np.int64), windows, raw_words)


def skipgram_pairs(chunk: WindowChunk) -> tuple[np.ndarray, np.ndarray]:
    """Every (input, target) pair of a chunk: for center i and context j with |i - j| <= b_i in the same
    sentence, the context word is the input and the center the target, as in word2vec.c and gensim."""
    positions = np.arange(len(chunk.ids))
    inputs, targets = [], []
    for distance in range(1, int(chunk.windows.max(initial=0)) + 1):
        for context in (positions - distance, positions + distance):
            valid = (distance <= chunk.windows) & (context >= chunk.lo) & (context < chunk.hi)
            inputs.append(chunk.ids[context[valid]])
            targets.append(chunk.ids[valid])
    if not inputs:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(inputs).astype(np.int64), np.concatenate(targets).astype(np.int64)


def cbow_windows(chunk: WindowChunk) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CBOW examples: (context ids (n, 2W) padded with 0, mask (n, 2W), center ids (n,)) for every
    center with at least one context word."""
    width = int(chunk.windows.max(initial=0))
    positions = np.arange(len(chunk.ids))
    offsets = np.concatenate([np.arange(-width, 0), np.arange(1, width + 1)])
    context = positions[:, None] + offsets[None, :]
    mask = (np.abs(offsets)[None, :] <= chunk.windows[:, None]) & (context >= chunk.lo[:, None])
    mask &= context < chunk.hi[:, None]
    ids = np.where(mask, chunk.ids[np.clip(context, 0, max(len(chunk.ids) - 1, 0))], 0)
    has_context = mask.any(1)
    return ids[has_context].astype(np.int64), mask[has_context], chunk.ids[has_context].astype(np.int64)


def build_noise_table(counts: np.ndarray, exponent: float = 0.75, size: int | None = None) -> np.ndarray:
    """word2vec.c's unigram table: word ids repeated in proportion to count^exponent, so a noise word is
    one random index away (O(1) per draw)."""
    weights = np.asarray(counts, dtype=np.float64) ** exponent
    if not weights.sum() > 0:
        weights = np.ones_like(weights)
    if size is None:  # about 100 slots per word, as a power of two (the kernel masks instead of dividing)
        size = 1 << int(np.clip(np.ceil(np.log2(100 * len(weights))), 20, 24))
    elif size & (size - 1):
        raise ValueError(f"noise table size must be a power of two, got {size}; pass e.g. 1 << 20, "
                         "or size=None to size it automatically" + see("window-settings"))
    cumulative = np.cumsum(weights / weights.sum())
    cumulative[-1] = 1.0
    return np.searchsorted(cumulative, (np.arange(size) + 0.5) / size).astype(np.int32)
