"""ELMo pretraining on the shared loop: sentences become length-bucketed batches of character ids and
output-vocabulary ids; each step is one ``ElmoForBiLM`` forward/backward (forward + backward NLL).

Sentences are independent (the model is stateless): each gets ``<S>`` / ``</S>`` and is split into pieces
of at most ``max_seq_length`` tokens. Character ids of every distinct word are computed once (a table),
so a batch is a numpy gather, not a Python loop over characters.

>>> from hfext_elmo import ElmoCharacterTokenizer
>>> tokenizer = ElmoCharacterTokenizer.from_words(["the", "cat"])
>>> data = ElmoSentences([["the", "cat"], ["cat"]], tokenizer)
>>> batch = data.batch([0, 1])
>>> tuple(batch["input_ids"].shape), batch["word_ids"].tolist()      # <S> the cat </S> / <S> cat </S>
((2, 4, 50), [[1, 3, 4, 0], [1, 4, 0, -100]])
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable

import numpy as np
import torch

from ..errors import see
from .loop import StepResult, TrainingTask

logger = logging.getLogger(__name__)


class ElmoSentences:
    """Whitespace-tokenized sentences as word indices into a table of distinct words, with each word's
    character ids and output-vocabulary id."""

    def __init__(self, sentences: Iterable[list[str]], tokenizer, max_seq_length: int = 100):
        if max_seq_length < 3:
            raise ValueError(f"--max_seq_length must be >= 3 (<S>, a word, </S>), got {max_seq_length}"
                             + see("pretraining-flags"))
        bos, eos = str(tokenizer.bos_token), str(tokenizer.eos_token)
        index: dict[str, int] = {bos: 0, eos: 1}
        pieces: list[np.ndarray] = []
        words_per_piece = max_seq_length - 2
        for words in sentences:
            for start in range(0, len(words), words_per_piece):
                chunk = words[start : start + words_per_piece]
                ids = [0] + [index.setdefault(word, len(index)) for word in chunk] + [1]
                pieces.append(np.asarray(ids, dtype=np.int64))
        if not pieces:
            raise ValueError("no sentences to train on: the corpus has no words; check --train_file / --text_column"
                             + see("too-little-data"))
        self.sentences = pieces
        self.lengths = np.array([len(p) for p in pieces], dtype=np.int64)
        words = list(index)
        self.max_characters = tokenizer.max_characters_per_token
        # Row 0 of the table is the all-zero padding token; word i is row i + 1.
        self.char_table = np.zeros((len(words) + 1, self.max_characters), dtype=np.int64)
        self.char_table[1:] = np.asarray([tokenizer.word_to_char_ids(w) for w in words], dtype=np.int64)
        self.word_ids = np.asarray([-100, *tokenizer.convert_tokens_to_ids(words)], dtype=np.int64)
        self.num_tokens = int(self.lengths.sum())

    def __len__(self) -> int:
        return len(self.sentences)

    def batch(self, indices) -> dict[str, torch.Tensor]:
        """``input_ids`` (B, T, C), ``attention_mask`` (B, T), ``word_ids`` (B, T) for sentences ``indices``."""
        longest = int(self.lengths[indices].max())
        rows = np.zeros((len(indices), longest), dtype=np.int64)  # table rows; 0 = padding
        for row, i in enumerate(indices):
            rows[row, : self.lengths[i]] = self.sentences[i] + 1
        return {
            "input_ids": torch.from_numpy(self.char_table[rows]),  # (B, T, C)
            "attention_mask": torch.from_numpy(rows > 0),  # (B, T)
            "word_ids": torch.from_numpy(self.word_ids[rows]),  # (B, T)
        }

    def batches(self, batch_size: int, seed: int | None = None, bucket: int = 50) -> list[np.ndarray]:
        """Sentence indices in batches of similar length. With ``seed``: shuffled, then sorted by length
        within buckets of ``bucket`` batches (little padding, still random); without: in length order."""
        if seed is None:
            order = np.argsort(self.lengths, kind="stable")
        else:
            rng = np.random.default_rng(seed)
            order = rng.permutation(len(self.sentences))
            span = batch_size * bucket
            order = np.concatenate(
                [chunk[np.argsort(self.lengths[chunk], kind="stable")] for chunk in np.split(order, range(span, len(order), span))]
            )
        result = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        if seed is not None:
            result = [result[i] for i in np.random.default_rng(seed + 1).permutation(len(result))]
        return result


class ElmoTask(TrainingTask):
    """One ``ElmoForBiLM`` step per batch; process ``rank`` of ``world_size`` takes every world_size-th batch
    (and wraps around so every process runs the same number of steps, as DDP needs)."""

    def __init__(self, data: ElmoSentences, batch_size: int, seed: int, device, rank: int = 0, world_size: int = 1):
        if batch_size < 1:
            raise ValueError(f"--per_device_train_batch_size must be >= 1, got {batch_size}" + see("training-flags"))
        self.data, self.batch_size, self.seed, self.device = data, batch_size, seed, device
        self.rank, self.world_size = rank, world_size
        self._epoch, self._batches = None, None
        self.forward_nll = self.backward_nll = 0.0  # summed over the targets seen, for train perplexities
        self.num_targets = 0

    def steps_per_epoch(self) -> int:
        return math.ceil(math.ceil(len(self.data) / self.batch_size) / self.world_size)

    def _epoch_batches(self, epoch: int) -> list[np.ndarray]:
        if self._epoch != epoch:
            batches = self.data.batches(self.batch_size, seed=self.seed * 1_000_003 + epoch)
            steps = self.steps_per_epoch()
            self._batches = [batches[(self.rank + self.world_size * s) % len(batches)] for s in range(steps)]
            self._epoch = epoch
        return self._batches

    def step(self, model, epoch: int, step: int, lr: float, next_lr: float) -> StepResult:
        batch = {k: v.to(self.device) for k, v in self.data.batch(self._epoch_batches(epoch)[step]).items()}
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["word_ids"])
        count = int(out.num_targets)
        self.forward_nll += float(out.forward_loss.detach()) * count
        self.backward_nll += float(out.backward_loss.detach()) * count
        self.num_targets += count
        # loss_sum / count is the mean joint NLL per predicted token (forward + backward)
        return StepResult(loss_sum=float(out.loss.detach()) * count, count=count, words=count, loss=out.loss)


@torch.no_grad()
def evaluate_perplexity(model, data: ElmoSentences, batch_size: int, device, rank: int = 0, world_size: int = 1,
                        reduce=None) -> dict[str, float]:
    """Per-direction perplexities exp(mean NLL) over ``data`` with the full softmax (sharded by ``rank``;
    ``reduce`` sums tensors across processes, e.g. ``lambda t: accelerator.reduce(t, "sum")``)."""
    was_training = model.training
    model.eval()
    sums = torch.zeros(3, dtype=torch.float64, device=device)  # forward NLL, backward NLL, targets
    for indices in data.batches(batch_size)[rank::world_size]:
        batch = {k: v.to(device) for k, v in data.batch(indices).items()}
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["word_ids"])
        count = out.num_targets.double()
        sums += torch.stack([out.forward_loss.double() * count, out.backward_loss.double() * count, count])
    if reduce is not None:
        sums = reduce(sums)
    model.train(was_training)
    forward, backward, count = sums.tolist()
    count = max(count, 1.0)
    return {"forward_perplexity": math.exp(forward / count), "backward_perplexity": math.exp(backward / count),
            "loss": (forward + backward) / count, "num_targets": int(count)}


__all__ = ["ElmoSentences", "ElmoTask", "evaluate_perplexity"]
