"""Causal language-model pretraining pieces (GPT): a byte-level BPE tokenizer trained with ``tokenizers``,
texts grouped into fixed ``block_size`` blocks, the training task for the shared loop, AdamW parameter groups
and validation perplexity."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import torch

from ..errors import see
from .loop import StepResult, TrainingTask

END_OF_TEXT = "<|endoftext|>"  # GPT-2's one special token: document separator, BOS, EOS and padding


def train_byte_level_bpe(texts: Iterable[str], vocab_size: int = 8000, min_frequency: int = 2):
    """A GPT-2-style byte-level BPE tokenizer trained on ``texts``: every byte is in the base alphabet, so
    no input is ever unknown; ``<|endoftext|>`` is the only special token. Loads with ``AutoTokenizer``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    if vocab_size < len(alphabet) + 1:
        raise ValueError(f"--vocab_size must be > {len(alphabet)} (the 256 bytes plus <|endoftext|>), got {vocab_size}"
                         + see("pretraining-flags"))
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=[END_OF_TEXT],
                                  initial_alphabet=alphabet, show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token=END_OF_TEXT, eos_token=END_OF_TEXT,
                                   pad_token=END_OF_TEXT, clean_up_tokenization_spaces=False)


def group_texts(tokenizer, texts: Sequence[str], block_size: int, batch_size: int = 10_000) -> torch.Tensor:
    """All texts tokenized, joined with the end-of-text token after each, and cut into (N, block_size) blocks;
    the incomplete last block is dropped (as in transformers' ``run_clm``)."""
    if block_size < 2:
        raise ValueError(f"--block_size must be >= 2, got {block_size}" + see("pretraining-flags"))
    eos = tokenizer.eos_token_id
    stream: list[int] = []
    for start in range(0, len(texts), batch_size):
        for ids in tokenizer(list(texts[start : start + batch_size]), add_special_tokens=False)["input_ids"]:
            stream.extend(ids)
            if eos is not None:
                stream.append(eos)
    count = len(stream) // block_size
    if count == 0:
        raise ValueError(f"the texts hold {len(stream)} tokens, fewer than one --block_size block ({block_size}); "
                         "lower --block_size or add text" + see("block-size"))
    return torch.tensor(stream[: count * block_size], dtype=torch.long).view(count, block_size)


def parameter_groups(model, weight_decay: float) -> list[dict]:
    """AdamW groups: weight decay on matrices (linear and embedding weights), none on biases and LayerNorm
    parameters (nanoGPT / transformers' examples)."""
    decay, no_decay = [], []
    for parameter in model.parameters():  # tied matrices are listed once
        if parameter.requires_grad:
            (decay if parameter.ndim >= 2 else no_decay).append(parameter)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class CausalLMTask(TrainingTask):
    """One step = ``batch_size`` blocks (per process) in an order seeded by (seed, epoch); batches are dealt
    round-robin to processes, the last round topped up with early batches. The loss is the mean next-token
    cross-entropy over the block."""

    def __init__(self, blocks: torch.Tensor, batch_size: int, seed: int, rank: int = 0, world_size: int = 1,
                 eval_steps: int | None = None, evaluate=None):
        if batch_size < 1:
            raise ValueError(f"--per_device_train_batch_size must be >= 1, got {batch_size}" + see("training-flags"))
        self.blocks = blocks
        self.batch_size, self.seed = int(batch_size), int(seed)
        self.rank, self.world_size = rank, world_size
        self.num_batches = math.ceil(len(blocks) / self.batch_size)
        self._order: tuple[int, np.ndarray] | None = None
        # The shared loop has no evaluation hook: ``evaluate(step)`` runs every ``eval_steps`` data steps.
        self.eval_steps, self.evaluate = eval_steps, evaluate

    def steps_per_epoch(self) -> int:
        return math.ceil(self.num_batches / self.world_size)

    def batch(self, epoch: int, step: int) -> torch.Tensor:
        if self._order is None or self._order[0] != epoch:
            self._order = (epoch, np.random.default_rng([self.seed, epoch]).permutation(len(self.blocks)))
        index = (step * self.world_size + self.rank) % self.num_batches
        return self.blocks[torch.from_numpy(self._order[1][index * self.batch_size : (index + 1) * self.batch_size])]

    def step(self, model, epoch: int, step: int, lr: float, next_lr: float) -> StepResult:
        done = epoch * self.steps_per_epoch() + step
        if self.evaluate is not None and self.eval_steps and done and done % self.eval_steps == 0:
            self.evaluate(done)
        input_ids = self.batch(epoch, step).to(next(model.parameters()).device)
        loss = model(input_ids=input_ids, labels=input_ids, use_cache=False).loss
        tokens = input_ids.shape[0] * (input_ids.shape[1] - 1)  # predicted positions
        return StepResult(loss_sum=float(loss.detach()) * tokens, count=tokens, words=input_ids.numel(), loss=loss)


@torch.no_grad()
def evaluate_perplexity(accelerator, model, blocks: torch.Tensor, batch_size: int) -> dict:
    """Mean next-token loss over ``blocks`` (split across processes, summed with ``reduce``) and its exp."""
    model.eval()
    device = accelerator.device
    total = torch.zeros(2, dtype=torch.float64, device=device)  # loss sum, token count
    mine = blocks[accelerator.process_index :: accelerator.num_processes]
    for start in range(0, len(mine), batch_size):
        input_ids = mine[start : start + batch_size].to(device)
        loss = model(input_ids=input_ids, labels=input_ids, use_cache=False).loss
        tokens = input_ids.shape[0] * (input_ids.shape[1] - 1)
        total += torch.tensor([float(loss) * tokens, tokens], dtype=torch.float64, device=device)
    total = accelerator.reduce(total, reduction="sum")
    model.train()
    loss = float(total[0] / total[1].clamp(min=1))
    return {"eval_loss": loss, "perplexity": math.exp(min(loss, 700.0))}


def unigram_perplexity(train_blocks: torch.Tensor, eval_blocks: torch.Tensor, vocab_size: int) -> float:
    """The perplexity of add-one-smoothed training token frequencies on the evaluated positions: the bar a
    language model must clear to have learned anything about context."""
    counts = torch.bincount(train_blocks.flatten(), minlength=vocab_size).double() + 1.0
    log_probs = (counts / counts.sum()).log()
    return math.exp(-float(log_probs[eval_blocks[:, 1:].flatten()].mean()))
