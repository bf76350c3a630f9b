"""ELMo's character tokenizer: words -> ELMo character ids (AllenNLP's ``ELMoCharacterMapper``), and, for
pretraining, words -> ids of the output vocabulary (bilm-tf's ``vocab.txt``, one word a line).

Character ids: a word is ``[begin-of-word, its UTF-8 bytes..., end-of-word, padding...]`` with bytes 0-255,
256/257 begin/end of sentence, 258/259 begin/end of word, 260 padding, all shifted by +1 so that 0 marks a
padded token. ``<S>`` and ``</S>`` get the sentence-boundary ids; the tokenizer puts them around each
sentence (``add_special_tokens=True``), as AllenNLP's ``Elmo`` does inside the model.

Words longer than ``max_characters_per_token - 2`` UTF-8 bytes (48 for ELMo) are truncated to their first
48 bytes, as ELMo does (a multi-byte character may be cut; ELMo's published weights saw the same cut).

>>> tokenizer = ElmoCharacterTokenizer()
>>> batch = tokenizer(["the cat", "a"])
>>> [len(row) for row in batch["input_ids"]], batch["attention_mask"]    # <S> the cat </S>; padded rows
([4, 4], [[1, 1, 1, 1], [1, 1, 1, 0]])
>>> batch["input_ids"][0][1][:5]     # begin-of-word, 't', 'h', 'e', end-of-word (+1 each)
[259, 117, 105, 102, 260]

Self-contained (transformers only), like the model files.
"""

from __future__ import annotations

import os
from typing import ClassVar

from transformers import BatchEncoding, PreTrainedTokenizer

from .configuration_elmo import see

VOCAB_FILES_NAMES = {"vocab_file": "vocab.txt"}

BEGINNING_OF_SENTENCE_CHARACTER = 256  # <begin sentence>
END_OF_SENTENCE_CHARACTER = 257  # <end sentence>
BEGINNING_OF_WORD_CHARACTER = 258  # <begin word>
END_OF_WORD_CHARACTER = 259  # <end word>
PADDING_CHARACTER = 260  # <padding>


def _special_word(character: int, max_characters: int) -> list[int]:
    ids = [PADDING_CHARACTER] * max_characters
    ids[0], ids[1], ids[2] = BEGINNING_OF_WORD_CHARACTER, character, END_OF_WORD_CHARACTER
    return [i + 1 for i in ids]  # +1: 0 masks padded tokens


class ElmoCharacterTokenizer(PreTrainedTokenizer):
    """Whitespace-split words -> ELMo character ids (``input_ids``, (B, T, max_characters_per_token)) and an
    ``attention_mask`` (B, T); with ``return_word_ids=True`` also ``word_ids`` (B, T): ids in the output
    vocabulary (``<UNK>`` for unknown words, -100 on padding) that ``ElmoForBiLM`` predicts.

    Args:
        vocab_file: the output vocabulary, one word a line (bilm-tf's format). Without one the tokenizer
            still makes character ids (all ELMo needs for features); its vocabulary is just the specials.
        max_characters_per_token: characters per token including the word markers (ELMo: 50).
    """

    vocab_files_names = VOCAB_FILES_NAMES
    model_input_names: ClassVar[list[str]] = ["input_ids", "attention_mask"]

    def __init__(
        self,
        vocab_file: str | None = None,
        max_characters_per_token: int = 50,
        bos_token: str = "<S>",
        eos_token: str = "</S>",
        unk_token: str = "<UNK>",
        **kwargs,
    ):
        if int(max_characters_per_token) < 3:
            raise ValueError(
                f"max_characters_per_token must be >= 3, got {max_characters_per_token}" + see("elmo-inputs")
            )
        self.max_characters_per_token = int(max_characters_per_token)
        # A saved tokenizer hands the specials back as AddedToken objects; the vocabulary holds strings.
        bos_token, eos_token, unk_token = str(bos_token), str(eos_token), str(unk_token)
        words = []
        if vocab_file is not None:
            if not os.path.isfile(vocab_file):
                raise FileNotFoundError(
                    f"no ELMo vocabulary file at {vocab_file!r} (one word a line)" + see("elmo-inputs")
                )
            with open(vocab_file, encoding="utf-8") as handle:
                words = [line.rstrip("\n") for line in handle if line.strip()]
        # bilm-tf's vocabularies start with </S>, <S>, <UNK>; add any that are missing, in that order.
        for special in (unk_token, bos_token, eos_token):
            if special not in words:
                words.insert(0, special)
        self.vocab = {}
        for word in words:
            if word in self.vocab:
                raise ValueError(
                    f"word {word!r} occurs twice in the vocabulary file {vocab_file!r}; remove the duplicate"
                    + see("elmo-inputs")
                )
            self.vocab[word] = len(self.vocab)
        self.ids_to_tokens = {i: w for w, i in self.vocab.items()}
        self._char_cache: dict[str, list[int]] = {}
        kwargs.setdefault("padding_side", "right")
        super().__init__(
            bos_token=bos_token, eos_token=eos_token, unk_token=unk_token,
            max_characters_per_token=self.max_characters_per_token, **kwargs,
        )

    @classmethod
    def from_words(cls, words, **kwargs) -> ElmoCharacterTokenizer:
        """A tokenizer whose output vocabulary is ``</S>, <S>, <UNK>`` followed by ``words`` (most frequent
        first: the sampled softmax draws ids from a Zipfian distribution)."""
        tokenizer = cls(**kwargs)
        for word in words:
            if word not in tokenizer.vocab:
                tokenizer.vocab[word] = len(tokenizer.vocab)
        tokenizer.ids_to_tokens = {i: w for w, i in tokenizer.vocab.items()}
        return tokenizer

    # --- word-level vocabulary (the softmax targets) -------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def __len__(self) -> int:
        return len(self.vocab)

    def get_vocab(self) -> dict[str, int]:
        return dict(self.vocab)

    def _tokenize(self, text: str, **kwargs) -> list[str]:
        return text.split()

    def _convert_token_to_id(self, token: str) -> int:
        return self.vocab.get(token, self.vocab[str(self.unk_token)])

    def _convert_id_to_token(self, index: int) -> str:
        return self.ids_to_tokens.get(index, str(self.unk_token))

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        return " ".join(tokens)

    def save_vocabulary(self, save_directory: str, filename_prefix: str | None = None) -> tuple[str]:
        name = (filename_prefix + "-" if filename_prefix else "") + VOCAB_FILES_NAMES["vocab_file"]
        path = os.path.join(save_directory, name) if os.path.isdir(save_directory) else save_directory
        with open(path, "w", encoding="utf-8") as handle:
            handle.writelines(self.ids_to_tokens[index] + "\n" for index in range(len(self.ids_to_tokens)))
        return (path,)

    # --- characters ------------------------------------------------------------------------------
    def word_to_char_ids(self, word: str) -> list[int]:
        """ELMo's character ids of one word (``max_characters_per_token`` of them, +1-shifted)."""
        cached = self._char_cache.get(word)
        if cached is not None:
            return cached
        size = self.max_characters_per_token
        if word == str(self.bos_token):
            ids = _special_word(BEGINNING_OF_SENTENCE_CHARACTER, size)
        elif word == str(self.eos_token):
            ids = _special_word(END_OF_SENTENCE_CHARACTER, size)
        else:
            encoded = word.encode("utf-8", "ignore")[: size - 2]  # ELMo truncates long words to 48 bytes
            chars = [PADDING_CHARACTER] * size
            chars[0] = BEGINNING_OF_WORD_CHARACTER
            chars[1 : len(encoded) + 1] = encoded
            chars[len(encoded) + 1] = END_OF_WORD_CHARACTER
            ids = [c + 1 for c in chars]
        if len(self._char_cache) < 1_000_000:
            self._char_cache[word] = ids
        return ids

    def char_ids_to_word(self, char_ids) -> str:
        """The word a row of character ids spells (inverse of :meth:`word_to_char_ids` up to truncation)."""
        ids = [int(i) - 1 for i in char_ids]
        if len(ids) > 1 and ids[1] == BEGINNING_OF_SENTENCE_CHARACTER:
            return str(self.bos_token)
        if len(ids) > 1 and ids[1] == END_OF_SENTENCE_CHARACTER:
            return str(self.eos_token)
        return bytes(i for i in ids if 0 <= i < 256).decode("utf-8", "replace")

    def __call__(
        self,
        text,
        text_pair=None,
        add_special_tokens: bool = True,
        padding: bool | str = True,
        truncation: bool | None = None,
        max_length: int | None = None,
        is_split_into_words: bool = False,
        return_tensors=None,
        return_attention_mask: bool = True,
        return_word_ids: bool = False,
        return_special_tokens_mask: bool = False,
        **kwargs,
    ) -> BatchEncoding:
        """Tokenize a sentence or a batch (strings split on whitespace, or lists of words with
        ``is_split_into_words=True``). ``max_length`` with ``truncation=True`` keeps that many tokens,
        boundaries included. Batches are padded to their longest sentence (ELMo needs rectangles)."""
        if text_pair is not None:
            raise ValueError(
                "ELMo encodes single sentences; tokenize each sentence of a pair separately" + see("elmo-inputs")
            )
        if isinstance(text, str) or is_split_into_words and isinstance(text, (list, tuple)) and (not text or isinstance(text[0], str)):
            batch, single = [text], True
        elif isinstance(text, (list, tuple)):
            batch, single = list(text), False
        else:
            raise TypeError(
                f"text must be a string, a list of strings or a list of word lists, got {type(text).__name__}"
                + see("elmo-inputs")
            )
        rows = []
        for index, sentence in enumerate(batch):
            words = list(sentence) if is_split_into_words else str(sentence).split()
            if not words:
                raise ValueError(
                    f"sentence {index} of the batch is empty ({sentence!r}): ELMo needs at least one word per "
                    "sentence; drop empty lines before tokenizing" + see("elmo-inputs")
                )
            if add_special_tokens:
                words = [str(self.bos_token), *words, str(self.eos_token)]
            if truncation and max_length is not None and len(words) > max_length:
                if max_length < (3 if add_special_tokens else 1):
                    raise ValueError(
                        f"max_length={max_length} leaves no room for a word between <S> and </S>" + see("elmo-inputs")
                    )
                words = words[: max_length - 1] + [words[-1]] if add_special_tokens else words[:max_length]
            row = {"input_ids": [self.word_to_char_ids(w) for w in words]}
            if return_attention_mask:
                row["attention_mask"] = [1] * len(words)
            if return_word_ids:
                row["word_ids"] = [self._convert_token_to_id(w) for w in words]
            if return_special_tokens_mask:
                specials = (str(self.bos_token), str(self.eos_token))
                row["special_tokens_mask"] = [int(add_special_tokens and w in specials) for w in words]
            rows.append(row)
        if single and return_tensors is None:
            return BatchEncoding(rows[0])
        return self.pad(rows, return_tensors=return_tensors)

    def pad(self, encoded_inputs, padding=True, return_tensors=None, **kwargs) -> BatchEncoding:
        """Pad rows (dicts as :meth:`__call__` makes them, or one dict of lists) to the longest one: all-zero
        character rows, attention 0, ``word_ids`` -100, ``special_tokens_mask`` 1. Works as a collator."""
        if isinstance(encoded_inputs, dict) and isinstance(encoded_inputs.get("input_ids"), list):
            keys = list(encoded_inputs.keys())
            encoded_inputs = [dict(zip(keys, values)) for values in zip(*(encoded_inputs[k] for k in keys))]
        rows = [dict(row) for row in encoded_inputs]
        if not rows:
            raise ValueError("nothing to pad: the batch is empty" + see("elmo-inputs"))
        longest = max(len(row["input_ids"]) for row in rows)
        blank = [0] * self.max_characters_per_token
        fill = {"attention_mask": 0, "word_ids": -100, "special_tokens_mask": 1}
        out: dict[str, list] = {}
        for row in rows:
            missing = longest - len(row["input_ids"])
            for key, value in row.items():
                value = list(value.tolist() if hasattr(value, "tolist") else value)
                if key == "input_ids":
                    padded = value + [blank] * missing
                elif key in fill:
                    padded = value + [fill[key]] * missing
                else:
                    padded = value
                out.setdefault(key, []).append(padded)
        return BatchEncoding(out, tensor_type=return_tensors)
