"""BERT pretraining pieces: a WordPiece tokenizer trained with ``tokenizers`` (BERT normaliser,
``[CLS] A [SEP] B [SEP]`` template), documents read from text, the MLM + NSP training task for the shared
loop, and held-out evaluation (MLM loss and accuracy, NSP accuracy)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

import numpy as np
import torch

from ..data.bert_pretraining import DataCollatorForBertPretraining
from ..errors import see
from .loop import StepResult, TrainingTask

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def train_wordpiece(texts: Iterable[str], vocab_size: int = 8000, lowercase: bool = True, min_frequency: int = 2):
    """A BERT WordPiece tokenizer trained on ``texts``: BERT's normaliser and pre-tokeniser, ``##``
    continuation pieces, the ``[CLS] A [SEP] B [SEP]`` template with ``token_type_ids``; loads with
    ``AutoTokenizer``."""
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast

    if vocab_size <= len(SPECIAL_TOKENS):
        raise ValueError(f"--vocab_size must be > {len(SPECIAL_TOKENS)} (the special tokens), got {vocab_size}"
                         + see("pretraining-flags"))
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.train_from_iterator(texts, trainers.WordPieceTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=SPECIAL_TOKENS, show_progress=False))
    # The trainer numbers the initial alphabet in hash-map order, so two runs usually give the same pieces with
    # different ids; renumber them (special tokens first, then sorted). Frequency ties between candidate merges are
    # also broken in hash-map order, so on a small corpus the piece set itself can differ between runs: for an
    # exactly reproducible run, train the tokenizer once and pass it with --tokenizer_name.
    vocab = tokenizer.get_vocab()
    ordered = SPECIAL_TOKENS + sorted(token for token in vocab if token not in SPECIAL_TOKENS)
    tokenizer.model = models.WordPiece({token: i for i, token in enumerate(ordered)}, unk_token="[UNK]")
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]", model_input_names=["input_ids", "token_type_ids", "attention_mask"])


def read_documents(lines: Iterable[str]) -> list[list[str]]:
    """Documents as lists of sentences. Text with blank lines is BERT's format (one sentence per line,
    documents separated by blank lines); text without is one document per line, split into sentences
    after ``.``, ``!`` and ``?``."""
    lines = [line.rstrip("\n") for line in lines]
    if any(not line.strip() for line in lines) and sum(1 for line in lines if not line.strip()) < len(lines):
        documents, current = [], []
        for line in lines:
            if line.strip():
                current.append(line.strip())
            elif current:
                documents.append(current)
                current = []
        if current:
            documents.append(current)
        return documents
    return [[s for s in _SENTENCE_END.split(line.strip()) if s] for line in lines if line.strip()]


class BertPretrainingTask(TrainingTask):
    """One step = ``batch_size`` pretraining examples (per process) in an order seeded by (seed, epoch),
    dealt round-robin to processes; the masking of a step is seeded by (seed, epoch, step, rank), so a
    resumed run masks exactly as the uninterrupted one. The loss is ``BertForPreTraining``'s MLM (+ NSP)."""

    def __init__(self, examples: Sequence[dict], collator: DataCollatorForBertPretraining, batch_size: int, seed: int,
                 rank: int = 0, world_size: int = 1, eval_steps: int | None = None, evaluate=None):
        if batch_size < 1:
            raise ValueError(f"--per_device_train_batch_size must be >= 1, got {batch_size}" + see("training-flags"))
        if not examples:
            raise ValueError("no pretraining examples: the documents are too short or too few" + see("too-little-data"))
        self.examples, self.collator = list(examples), collator
        self.batch_size, self.seed, self.rank, self.world_size = int(batch_size), int(seed), rank, world_size
        self.num_batches = math.ceil(len(self.examples) / self.batch_size)
        self._order: tuple[int, np.ndarray] | None = None
        self.eval_steps, self.evaluate = eval_steps, evaluate

    def steps_per_epoch(self) -> int:
        return math.ceil(self.num_batches / self.world_size)

    def batch(self, epoch: int, step: int) -> dict[str, torch.Tensor]:
        if self._order is None or self._order[0] != epoch:
            self._order = (epoch, np.random.default_rng([self.seed, epoch]).permutation(len(self.examples)))
        index = (step * self.world_size + self.rank) % self.num_batches
        chosen = self._order[1][index * self.batch_size : (index + 1) * self.batch_size]
        self.collator.generator = torch.Generator().manual_seed(int(np.random.default_rng(
            [self.seed, epoch, step, self.rank]).integers(2**62)))
        return self.collator([self.examples[i] for i in chosen])

    def step(self, model, epoch: int, step: int, lr: float, next_lr: float) -> StepResult:
        done = epoch * self.steps_per_epoch() + step
        if self.evaluate is not None and self.eval_steps and done and done % self.eval_steps == 0:
            self.evaluate(done)
        device = next(model.parameters()).device
        batch = {name: tensor.to(device) for name, tensor in self.batch(epoch, step).items()}
        loss = model(**batch).loss
        count = batch["input_ids"].shape[0]
        return StepResult(loss_sum=float(loss.detach()) * count, count=count,
                          words=int(batch["attention_mask"].sum()), loss=loss)


@torch.no_grad()
def evaluate_pretraining(accelerator, model, examples: Sequence[dict], collator: DataCollatorForBertPretraining,
                         batch_size: int, seed: int = 0) -> dict:
    """MLM loss/accuracy over the masked tokens and NSP accuracy on ``examples`` (batches dealt round-robin to
    the processes, sums combined with ``reduce``). The masking is seeded and every process masks every batch
    in the same order, so each evaluation, on any number of processes, scores the same masked tokens."""
    model.eval()
    device = accelerator.device
    totals = torch.zeros(5, dtype=torch.float64, device=device)  # MLM loss sum, correct, count; NSP correct, count
    examples = list(examples)
    collator.generator = torch.Generator().manual_seed(seed)
    for index, start in enumerate(range(0, len(examples), batch_size)):
        masked_batch = collator(examples[start : start + batch_size])  # advances the generator on every process
        if index % accelerator.num_processes != accelerator.process_index:
            continue
        batch = {k: v.to(device) for k, v in masked_batch.items()}
        labels, nsp = batch.pop("labels"), batch.pop("next_sentence_label", None)
        out = model(**batch)
        masked = labels != -100
        logits = out.prediction_logits[masked].float()
        totals[0] += float(torch.nn.functional.cross_entropy(logits, labels[masked], reduction="sum"))
        totals[1] += float((logits.argmax(-1) == labels[masked]).sum())
        totals[2] += float(masked.sum())
        if nsp is not None:
            totals[3] += float((out.seq_relationship_logits.argmax(-1) == nsp).sum())
            totals[4] += len(nsp)
    totals = accelerator.reduce(totals, reduction="sum")
    model.train()
    results = {"eval_mlm_loss": float(totals[0] / totals[2].clamp(min=1)),
               "eval_mlm_accuracy": float(totals[1] / totals[2].clamp(min=1))}
    if totals[4] > 0:
        results["eval_nsp_accuracy"] = float(totals[3] / totals[4])
    return results


__all__ = ["BertPretrainingTask", "evaluate_pretraining", "read_documents", "train_wordpiece"]
