"""Corpus input shared by every embedding family: streaming lines, the vocabulary, and an encoded,
memory-mapped copy of the corpus that each epoch streams from disk.

>>> vocab = Vocabulary.build(["the cat sat", "the dog sat"], min_count=1)
>>> vocab.words, vocab.counts.tolist()
(['sat', 'the', 'dog', 'cat'], [2, 2, 1, 1])
>>> tokenizer = vocab.to_tokenizer()
>>> tokenizer("the dog")["input_ids"]
[1, 2]
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from ..errors import see

logger = logging.getLogger(__name__)

UNK_TOKEN = "[UNK]"
MAX_SENTENCE_LENGTH = 10_000  # longer lines are split, as gensim does (word2vec.c: 1000)
_SNIFF_BYTES = 8192


class CorpusError(ValueError):
    """The corpus cannot be used as given; the message says why and what to do."""


def _check_text_file(path: Path) -> None:
    if not path.exists():
        raise FileNotFoundError(f"corpus file {str(path)!r} does not exist; check the path passed as --train_file"
                                + see("corpus-missing"))
    if path.is_dir():
        raise CorpusError(f"corpus path {str(path)!r} is a directory; pass the text files inside it" + see("corpus-missing"))
    with open(path, "rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if b"\x00" in head:
        raise CorpusError(
            f"{str(path)!r} looks binary (it contains NUL bytes), not a text corpus; pass a UTF-8 text file "
            "with one sentence per line (to read word2vec/fastText model files use hfext.vectors)" + see("corpus-missing")
        )


def read_lines(files: str | os.PathLike | Iterable[str | os.PathLike], encoding: str = "utf-8") -> Iterator[str]:
    """Yield the lines of one or more text files, one at a time (never the whole file)."""
    paths = [Path(files)] if isinstance(files, (str, os.PathLike)) else [Path(f) for f in files]
    if not paths:
        raise CorpusError("no corpus files given; pass --train_file or --dataset_name" + see("flags-data"))
    for path in paths:
        _check_text_file(path)
    for path in paths:
        with open(path, encoding=encoding) as handle:
            line_number = 0
            try:
                for line_number, line in enumerate(handle, 1):
                    yield line
            except UnicodeDecodeError as error:
                raise CorpusError(
                    f"{str(path)!r} is not valid {encoding} text (line {line_number + 1}: {error.reason}); "
                    "convert it to UTF-8 or pass the right encoding" + see("corpus-encoding")
                ) from None


def dataset_lines(dataset, text_column: str = "text", batch_size: int = 1000) -> Iterator[str]:
    """Yield the texts of a `datasets` column (map-style or streaming) without materialising them."""
    columns = getattr(dataset, "column_names", None)
    if columns is not None and text_column not in columns:
        raise CorpusError(f"dataset has no column {text_column!r} (columns: {columns}); pass --text_column"
                          + see("dataset-column"))
    if hasattr(dataset, "iter"):
        for batch in dataset.iter(batch_size=batch_size):
            yield from batch[text_column]
    else:
        for example in dataset:
            yield example[text_column]


class Vocabulary:
    """Words sorted by decreasing corpus count, in the same order as gensim (so word ids agree)."""

    def __init__(self, words: list[str], counts):
        self.words = list(words)
        self.counts = np.asarray(counts, dtype=np.int64)
        if len(self.words) != len(self.counts):
            raise ValueError(f"{len(self.words)} words but {len(self.counts)} counts; pass one count per word"
                             + see("vocabulary"))

    def __len__(self) -> int:
        return len(self.words)

    @classmethod
    def build(
        cls, lines: Iterable[str], min_count: int = 5, max_vocab_size: int | None = None, progress: bool = False
    ) -> Vocabulary:
        """Count whitespace-separated words in one streaming pass, then keep those seen ``min_count`` times."""
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count}" + see("min-count"))
        counter: Counter[str] = Counter()
        iterator = lines
        if progress:
            from tqdm.auto import tqdm

            iterator = tqdm(lines, desc="counting words", unit=" lines")
        for line in iterator:
            counter.update(line.split())  # Counter.update on a list runs in C
        if not counter:
            raise CorpusError("the corpus is empty: it has no words; check --train_file / --text_column" + see("min-count"))
        kept = [(word, count) for word, count in counter.items() if count >= min_count]
        if not kept:
            best = counter.most_common(1)[0]
            raise CorpusError(
                f"no word reaches min_count={min_count} (the most frequent, {best[0]!r}, occurs {best[1]} times "
                f"among {len(counter)} distinct words); lower --min_count or use a larger corpus" + see("min-count")
            )
        # Order exactly as gensim 4 does (by count, ties last-seen first), so word ids agree with gensim's.
        counts = np.array([count for _, count in kept], dtype=np.int64)
        order = np.lexsort((-np.arange(len(kept)), -counts))
        kept = [kept[i] for i in order]
        if max_vocab_size is not None:
            kept = kept[: int(max_vocab_size)]
        logger.info("vocabulary: %d of %d distinct words kept (min_count=%d)", len(kept), len(counter), min_count)
        return cls([w for w, _ in kept], [c for _, c in kept])

    def to_tokenizer(self, unk_token: str = UNK_TOKEN):
        """A `PreTrainedTokenizerFast` over a `tokenizers` WordLevel model: word i has id i, unknown
        words map to ``unk_token`` (the last id), whitespace splits words. Saves as ``tokenizer.json``."""
        from tokenizers import Tokenizer, models, pre_tokenizers
        from transformers import PreTrainedTokenizerFast

        if unk_token in self.words:
            raise ValueError(f"the corpus contains the reserved token {unk_token!r}; pick another unk_token"
                             + see("vocabulary"))
        table = {word: i for i, word in enumerate(self.words)}
        table[unk_token] = len(self.words)
        backend = Tokenizer(models.WordLevel(vocab=table, unk_token=unk_token))
        backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        return PreTrainedTokenizerFast(tokenizer_object=backend, unk_token=unk_token)

    @classmethod
    def from_tokenizer(cls, tokenizer, counts) -> Vocabulary:
        """The words of a saved word2vec tokenizer (ids 0..len(counts)-1), with their counts."""
        id_to_word = {i: w for w, i in tokenizer.get_vocab().items()}
        return cls([id_to_word[i] for i in range(len(counts))], counts)


class EncodedCorpus:
    """The corpus as word ids in a memory-mapped file (`ids.bin`, int32, out-of-vocabulary words removed)
    plus sentence offsets (`offsets.npy`): built once, then every epoch streams it from disk."""

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        meta_path = self.directory / "meta.json"
        if not meta_path.exists():
            raise FileNotFoundError(f"{str(self.directory)!r} holds no encoded corpus (meta.json missing); "
                                    "build one with EncodedCorpus.build(lines, tokenizer, directory)" + see("data-cache"))
        self.meta = json.loads(meta_path.read_text())
        self.num_tokens = int(self.meta["num_tokens"])
        self.raw_words = int(self.meta["raw_words"])  # words before dropping out-of-vocabulary ones
        self.offsets = np.load(self.directory / "offsets.npy", mmap_mode="r")
        self.ids = (
            np.memmap(self.directory / "ids.bin", dtype=np.int32, mode="r", shape=(self.num_tokens,))
            if self.num_tokens
            else np.zeros(0, dtype=np.int32)
        )

    @property
    def num_sentences(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def build(
        cls,
        lines: Iterable[str],
        tokenizer,
        directory: str | os.PathLike,
        max_sentence_length: int = MAX_SENTENCE_LENGTH,
        batch_lines: int = 10_000,
        fingerprint: str = "",
    ) -> EncodedCorpus:
        """Encode ``lines`` with ``tokenizer`` (the Rust `tokenizers` backend, in batches) into ``directory``.

        If ``directory`` already holds an encoding with the same ``fingerprint`` it is reused. Files are
        written under temporary names and renamed at the end, so an interrupted build leaves nothing half-done.
        """
        directory = Path(directory)
        meta_path = directory / "meta.json"
        if fingerprint and meta_path.exists() and json.loads(meta_path.read_text()).get("fingerprint") == fingerprint:
            return cls(directory)
        directory.mkdir(parents=True, exist_ok=True)
        backend = tokenizer.backend_tokenizer if hasattr(tokenizer, "backend_tokenizer") else tokenizer
        unk_id = backend.token_to_id(UNK_TOKEN)
        offsets = [0]
        num_tokens = raw_words = 0
        fd, tmp_ids = tempfile.mkstemp(dir=directory, prefix=".ids.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                batch: list[str] = []

                def flush():
                    nonlocal num_tokens, raw_words
                    for encoding in backend.encode_batch(batch, add_special_tokens=False):
                        ids = np.asarray(encoding.ids, dtype=np.int32)
                        raw_words += len(ids)
                        if unk_id is not None:
                            ids = ids[ids != unk_id]  # word2vec drops unknown words before windowing
                        for start in range(0, len(ids), max_sentence_length):
                            piece = ids[start : start + max_sentence_length]
                            if len(piece):
                                piece.tofile(out)
                                num_tokens += len(piece)
                                offsets.append(num_tokens)
                    batch.clear()

                for line in lines:
                    batch.append(line)
                    if len(batch) >= batch_lines:
                        flush()
                flush()
            offsets_array = np.asarray(offsets, dtype=np.int64)
            tmp_offsets = directory / ".offsets.tmp.npy"
            np.save(tmp_offsets, offsets_array)
            os.replace(tmp_ids, directory / "ids.bin")
            os.replace(tmp_offsets, directory / "offsets.npy")
        except BaseException:
            if os.path.exists(tmp_ids):
                os.unlink(tmp_ids)
            raise
        if num_tokens == 0:
            raise CorpusError(
                "no in-vocabulary words in the corpus (empty corpus, or a tokenizer built on another corpus)"
                + see("vocabulary")
            )
        meta = {"num_tokens": num_tokens, "raw_words": raw_words, "fingerprint": fingerprint}
        tmp_meta = directory / ".meta.json.tmp"
        tmp_meta.write_text(json.dumps(meta))
        os.replace(tmp_meta, meta_path)
        return cls(directory)


def file_fingerprint(paths: Iterable[str | os.PathLike], *extra) -> str:
    """A cheap identity of input files (path, size, mtime) plus settings, to reuse a corpus cache safely."""
    digest = hashlib.sha256()
    for path in paths:
        stat = os.stat(path)
        digest.update(f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    digest.update(json.dumps(extra, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def gensim_test_data() -> str | None:
    """gensim's bundled test data folder (real corpora, analogy and similarity sets, fastText ``.bin`` files),
    or None without gensim: the offline data the examples, the tour and the quickstart use."""
    try:
        import gensim
    except ImportError:
        return None
    folder = os.path.join(os.path.dirname(gensim.__file__), "test", "test_data")
    return folder if os.path.isdir(folder) else None
