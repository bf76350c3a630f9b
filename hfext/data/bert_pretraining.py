"""BERT pretraining data: next-sentence-prediction pairs packed from documents, and masked-language-model
masking (15 % of the tokens, of which 80 % become ``[MASK]``, 10 % a random token, 10 % stay), with an
optional whole-word mode (every WordPiece of a chosen word is predicted).

>>> from hfext.data import build_nsp_examples, DataCollatorForBertPretraining  # doctest: +SKIP
>>> examples = build_nsp_examples(documents, tokenizer, max_seq_length=128, seed=0)  # doctest: +SKIP
>>> batch = DataCollatorForBertPretraining(tokenizer, seed=0)(examples[:32])  # doctest: +SKIP
>>> model(**batch).loss  # BertForPreTraining: MLM + NSP  # doctest: +SKIP

The pair construction follows Google's ``create_pretraining_data.py``: sentences of a document are
accumulated into a chunk of about ``max_seq_length - 3`` tokens (shorter with probability
``short_seq_prob``), split at a random sentence boundary into A and B; with probability
``nsp_probability`` B is replaced by sentences from another document (``next_sentence_label`` 1), and
the unused sentences go back into the stream. Pairs are truncated to fit ``[CLS] A [SEP] B [SEP]``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence

import torch

from ..errors import see

logger = logging.getLogger(__name__)


def _special_id(tokenizer, name: str) -> int:
    value = getattr(tokenizer, f"{name}_token_id", None)
    if value is None:
        raise ValueError(
            f"the tokenizer has no {name} token; BERT pretraining needs [CLS], [SEP], [PAD] and [MASK]: add it with "
            f"tokenizer.add_special_tokens({{'{name}_token': '[{name.upper()}]'}}) and resize the model's embeddings"
            + see("bert-pretraining-data")
        )
    return int(value)


def _truncate_pair(a: list[int], b: list[int], max_tokens: int, rng: random.Random) -> None:
    """Drop tokens from the longer segment, at its front or back at random, until both fit (in place)."""
    while len(a) + len(b) > max_tokens:
        longer = a if len(a) > len(b) else b
        if rng.random() < 0.5:
            del longer[0]
        else:
            longer.pop()


def build_nsp_examples(
    documents: Sequence[Sequence[str | Sequence[int]]],
    tokenizer,
    max_seq_length: int = 128,
    short_seq_prob: float = 0.1,
    nsp_probability: float = 0.5,
    seed: int = 0,
) -> list[dict[str, list[int] | int]]:
    """Sentence-pair examples ``{"input_ids", "token_type_ids", "next_sentence_label"}`` from ``documents``
    (each a list of sentences, as strings or as token ids without special tokens); label 0: B follows A
    in the document, 1: B comes from another document."""
    if max_seq_length < 5:
        raise ValueError(f"max_seq_length must be at least 5 ([CLS] A [SEP] B [SEP]), got {max_seq_length}"
                         + see("bert-pretraining-data"))
    if not 0.0 <= nsp_probability <= 1.0:
        raise ValueError(f"nsp_probability must be in [0, 1], got {nsp_probability!r}" + see("bert-pretraining-data"))
    cls_id, sep_id = _special_id(tokenizer, "cls"), _special_id(tokenizer, "sep")
    docs = []
    for document in documents:
        sentences = []
        for sentence in document:
            ids = tokenizer(sentence, add_special_tokens=False)["input_ids"] if isinstance(sentence, str) else list(sentence)
            if ids:
                sentences.append(list(ids))
        if sentences:
            docs.append(sentences)
    if len(docs) < 2 and nsp_probability > 0:
        raise ValueError(
            f"next-sentence prediction needs at least 2 non-empty documents to draw negatives from, got {len(docs)}; "
            "pass more documents (e.g. split the corpus at blank lines) or nsp_probability=0"
            + see("bert-pretraining-data")
        )
    rng = random.Random(seed)
    max_tokens = max_seq_length - 3  # [CLS], [SEP], [SEP]
    examples = []
    for doc_index, document in enumerate(docs):
        target = rng.randint(2, max_tokens) if rng.random() < short_seq_prob else max_tokens
        chunk, length, i = [], 0, 0
        while i < len(document):
            chunk.append(document[i])
            length += len(document[i])
            if i == len(document) - 1 or length >= target:
                a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
                a = [t for sentence in chunk[:a_end] for t in sentence]
                is_random = len(chunk) == 1 or rng.random() < nsp_probability
                if is_random and len(docs) >= 2 and nsp_probability > 0:
                    other_index = rng.randrange(len(docs) - 1)
                    other_index += other_index >= doc_index  # any document but this one
                    other = docs[other_index]
                    start = rng.randrange(len(other))
                    b = []
                    for sentence in other[start:]:
                        b.extend(sentence)
                        if len(b) >= target - len(a):
                            break
                    i -= len(chunk) - a_end  # the sentences not used go back into the stream
                    label = 1
                else:
                    b = [t for sentence in chunk[a_end:] for t in sentence]
                    label = 0
                if a and b:
                    _truncate_pair(a, b, max_tokens, rng)
                    input_ids = [cls_id, *a, sep_id, *b, sep_id]
                    token_type_ids = [0] * (len(a) + 2) + [1] * (len(b) + 1)
                    examples.append({"input_ids": input_ids, "token_type_ids": token_type_ids, "next_sentence_label": label})
                chunk, length = [], 0
                target = rng.randint(2, max_tokens) if rng.random() < short_seq_prob else max_tokens
            i += 1
    rng.shuffle(examples)
    logger.info("built %d NSP pairs from %d documents (%.0f %% random B)", len(examples), len(docs),
                100.0 * sum(e["next_sentence_label"] for e in examples) / max(1, len(examples)))
    return examples


def mask_tokens(
    input_ids: torch.Tensor,
    mask_token_id: int | None,
    vocab_size: int,
    special_tokens_mask: torch.Tensor | None = None,
    word_starts: torch.Tensor | None = None,
    mlm_probability: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masking: returns ``(inputs, labels)``. Each token (each word when ``word_starts`` marks the
    first piece of every word: whole-word masking) is chosen with probability ``mlm_probability``; chosen
    tokens get their id as label (others -100) and become ``[MASK]`` (80 %), a random token (10 %) or stay
    (10 %). ``special_tokens_mask`` (True for [CLS], [SEP], padding) is never chosen."""
    if mask_token_id is None:
        raise ValueError(
            "MLM needs a mask token but the tokenizer has none; add one with "
            "tokenizer.add_special_tokens({'mask_token': '[MASK]'}) and resize the model's embeddings"
            + see("bert-pretraining-data")
        )
    if not 0.0 < mlm_probability < 1.0:
        raise ValueError(f"mlm_probability must be in (0, 1), got {mlm_probability!r}" + see("bert-pretraining-data"))
    special = special_tokens_mask.bool() if special_tokens_mask is not None else torch.zeros_like(input_ids, dtype=torch.bool)
    draw = torch.rand(input_ids.shape, generator=generator)
    if word_starts is None:
        chosen = (draw < mlm_probability) & ~special
    else:
        # A word's pieces share the draw of its first piece: word index = running count of word starts.
        starts = word_starts.bool() | special
        word_index = starts.long().cumsum(dim=-1) - 1  # (B, T)
        chosen = (draw.gather(-1, word_index.clamp(min=0)) < mlm_probability) & ~special
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, -100))
    action = torch.rand(input_ids.shape, generator=generator)
    inputs = input_ids.clone()
    inputs[chosen & (action < 0.8)] = mask_token_id
    randomised = chosen & (action >= 0.8) & (action < 0.9)
    inputs[randomised] = torch.randint(vocab_size, input_ids.shape, generator=generator)[randomised]
    return inputs, labels


class DataCollatorForBertPretraining:
    """Pads examples (``input_ids``, optional ``token_type_ids``, ``next_sentence_label``) into a batch and
    masks it for MLM; ``whole_word_mask`` treats WordPiece continuations (``##...``) as part of their word;
    ``nsp=False`` drops the NSP labels (MLM-only pretraining, as RoBERTa)."""

    def __init__(self, tokenizer, mlm_probability: float = 0.15, whole_word_mask: bool = False, nsp: bool = True,
                 pad_to_multiple_of: int | None = None, seed: int | None = None):
        self.mask_token_id = tokenizer.mask_token_id
        if self.mask_token_id is None:
            mask_tokens(torch.zeros(1, 1, dtype=torch.long), None, 1)  # raises the clear error
        self.pad_token_id = _special_id(tokenizer, "pad")
        self.vocab_size = len(tokenizer)
        self.special_ids = torch.tensor(sorted(set(tokenizer.all_special_ids)), dtype=torch.long)
        self.mlm_probability = mlm_probability
        self.nsp = nsp
        self.pad_to_multiple_of = pad_to_multiple_of
        self.generator = torch.Generator().manual_seed(seed) if seed is not None else None
        self.continuation = None
        if whole_word_mask:
            tokens = tokenizer.convert_ids_to_tokens(list(range(self.vocab_size)))
            self.continuation = torch.tensor([bool(t) and t.startswith("##") for t in tokens])
            if not self.continuation.any():
                logger.warning("whole_word_mask: the vocabulary has no '##' continuation pieces; masking single tokens")

    def __call__(self, examples: list[dict]) -> dict[str, torch.Tensor]:
        width = max(len(e["input_ids"]) for e in examples)
        if self.pad_to_multiple_of:
            width = -(-width // self.pad_to_multiple_of) * self.pad_to_multiple_of
        input_ids = torch.full((len(examples), width), self.pad_token_id, dtype=torch.long)
        token_type_ids = torch.zeros((len(examples), width), dtype=torch.long)
        attention_mask = torch.zeros((len(examples), width), dtype=torch.long)
        for row, example in enumerate(examples):
            n = len(example["input_ids"])
            input_ids[row, :n] = torch.as_tensor(example["input_ids"])
            if "token_type_ids" in example:
                token_type_ids[row, :n] = torch.as_tensor(example["token_type_ids"])
            attention_mask[row, :n] = 1
        special = torch.isin(input_ids, self.special_ids) | (attention_mask == 0)
        word_starts = ~self.continuation[input_ids] if self.continuation is not None else None
        inputs, labels = mask_tokens(input_ids, self.mask_token_id, self.vocab_size, special, word_starts,
                                     self.mlm_probability, self.generator)
        batch = {"input_ids": inputs, "token_type_ids": token_type_ids, "attention_mask": attention_mask, "labels": labels}
        if self.nsp:
            if any("next_sentence_label" not in e for e in examples):
                raise ValueError("nsp=True but an example has no next_sentence_label; build pairs with "
                                 "build_nsp_examples, or pass nsp=False for MLM-only pretraining"
                                 + see("bert-pretraining-data"))
            batch["next_sentence_label"] = torch.tensor([int(e["next_sentence_label"]) for e in examples])
        return batch


__all__ = ["DataCollatorForBertPretraining", "build_nsp_examples", "mask_tokens"]
