"""Facebook fastText ``.bin`` models <-> hfext-fasttext model directories, streaming.

Facebook's published vectors are 2M words + 2M n-gram buckets x 300 dimensions: 7 GB. Conversion never holds a
matrix in memory: it copies the matrices from the ``.bin`` into ``model.safetensors`` in chunks (inserting
hfext's zero ``[UNK]`` row between the word rows and the bucket rows), writes the composed in-vocabulary vectors
once into ``word_vectors.safetensors`` so that :class:`~hfext.vectors.FastTextKeyedVectors` can memory-map
them, and only then moves the finished folder into place.

>>> from hfext.convert import convert_fasttext_bin, save_fasttext_bin  # doctest: +SKIP
>>> convert_fasttext_bin("cc.en.300.bin", "cc-en-300")                 # doctest: +SKIP
>>> kv = KeyedVectors.from_pretrained("cc-en-300")                     # doctest: +SKIP
>>> kv["unseenword"]                                                   # doctest: +SKIP
>>> save_fasttext_bin("cc-en-300", "again.bin")                        # byte-identical to cc.en.300.bin

The ``.bin`` layout (fastText's ``FastText::saveModel``, little-endian, no padding)::

    int32 magic (793712314), int32 version (12)          -- absent in files from before May 2017, which start at dim
    args:  int32 dim ws epoch minCount neg wordNgrams loss model bucket minn maxn lrUpdateRate, float64 t
    dict:  int32 size nwords nlabels, int64 ntokens, [int64 pruneidx_size]
           size x (word bytes, NUL, int64 count, int8 type), [pruneidx_size x (int32, int32)]
    [bool quant_input]  int64 rows cols  float32[rows * cols]        input matrix: nwords + bucket rows
    [bool qout]         int64 rows cols  float32[rows * cols]        output matrix: nwords rows
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..errors import DocumentedError, see

logger = logging.getLogger(__name__)

FASTTEXT_MAGIC = 793712314  # FASTTEXT_FILEFORMAT_MAGIC_INT32
FASTTEXT_VERSION = 12  # what fastText 0.9 writes
SUPPORTED_VERSIONS = (11, 12)  # 11 has the same layout; it only differs for supervised models
MODEL_NAMES = {1: "cbow", 2: "skipgram", 3: "supervised"}
LOSS_NAMES = {1: "hierarchical_softmax", 2: "negative_sampling", 3: "softmax", 4: "one_vs_all"}
# Args::save, in order; "t" is a double, the rest int32.
ARG_FIELDS = ("dim", "ws", "epoch", "min_count", "neg", "word_ngrams", "loss", "model", "bucket", "minn", "maxn",
              "lr_update_rate", "t")
_ARGS_STRUCT = struct.Struct("<12id")
_COPY_CHUNK = 64 << 20  # bytes per read/write while streaming a matrix
_WEIGHTS = "model.safetensors"


class FastTextFormatError(DocumentedError, ValueError):
    """The file is not a fastText ``.bin`` hfext can convert; the message names the file and what was found."""

    docs = "convert-fasttext-bin"


@dataclass
class FastTextBinInfo:
    """Everything in a fastText ``.bin`` except the matrix data, plus where that data lies in the file."""

    path: str
    file_size: int
    new_format: bool  # magic + version present (fastText >= 2017)
    version: int | None
    args: dict
    size: int
    nwords: int
    nlabels: int
    ntokens: int
    pruneidx_size: int | None
    words: list[bytes] = field(repr=False)
    counts: np.ndarray = field(repr=False)
    types: bytes = field(repr=False)
    input_shape: tuple[int, int] = (0, 0)
    input_offset: int = 0
    output_shape: tuple[int, int] = (0, 0)
    output_offset: int = 0

    def decoded_words(self) -> tuple[list[str], dict[str, str]]:
        """Words as str (UTF-8; undecodable bytes escaped with backslashes, as gensim does) and the raw
        bytes (hex) of those that needed escaping, keyed by word id, for a byte-exact write-back."""
        words, raw = [], {}
        for index, word in enumerate(self.words):
            try:
                words.append(word.decode("utf-8"))
            except UnicodeDecodeError:
                words.append(word.decode("utf-8", errors="backslashreplace"))
                raw[str(index)] = word.hex()
        if raw:
            logger.warning("%s: %d words are not valid UTF-8 (e.g. %r); they are kept with backslash escapes, "
                           "as gensim does", self.path, len(raw), words[int(next(iter(raw)))])
        return words, raw


class _Reader:
    """Buffered little-endian reads that turn an early end of file into a clear error."""

    def __init__(self, fin, path, file_size):
        self.fin, self.path, self.file_size = fin, path, file_size
        self.buf, self.pos, self.offset = b"", 0, 0  # offset: file position of buf[0]

    def tell(self) -> int:
        return self.offset + self.pos

    def _fill(self, need: int, what: str) -> None:
        if len(self.buf) - self.pos >= need:
            return
        self.buf, self.offset, self.pos = self.buf[self.pos :], self.offset + self.pos, 0
        while len(self.buf) < need:
            chunk = self.fin.read(max(need - len(self.buf), 1 << 20))
            if not chunk:
                raise FastTextFormatError(
                    f"{self.path} is truncated: it ends after {self.file_size} bytes while reading {what}; "
                    "the download or copy is incomplete, fetch the file again"
                )
            self.buf += chunk

    def read(self, size: int, what: str) -> bytes:
        self._fill(size, what)
        data = self.buf[self.pos : self.pos + size]
        self.pos += size
        return data

    def unpack(self, fmt: str, what: str):
        fmt = struct.Struct(fmt)
        return fmt.unpack(self.read(fmt.size, what))

    def read_word(self, what: str) -> bytes:
        while True:
            end = self.buf.find(b"\0", self.pos)
            if end >= 0:
                word = self.buf[self.pos : end]
                self.pos = end + 1
                return word
            if len(self.buf) - self.pos > 1 << 20:
                raise FastTextFormatError(f"{self.path}: no end of word within 1 MiB while reading {what}; "
                                          "this is not a fastText .bin file (or it is damaged)")
            self._fill(len(self.buf) - self.pos + 1, what)


def _plausible_old_header(args: dict) -> bool:
    """Pre-2017 files have no magic: they start with dim and ws. Accept them only if every field is sane."""
    return (0 < args["dim"] <= 100_000 and 0 < args["ws"] <= 10_000 and args["loss"] in LOSS_NAMES
            and args["model"] in MODEL_NAMES and 0 <= args["bucket"] <= 1 << 30 and 0 <= args["minn"] <= 1000
            and 0 <= args["maxn"] <= 1000 and math.isfinite(args["t"]) and 0 <= args["t"] < 1)


def read_fasttext_bin_info(path) -> FastTextBinInfo:
    """Parse a fastText ``.bin`` header and dictionary (not the matrices) and check that the file is whole.

    Raises ``FileNotFoundError`` for a missing file and :class:`FastTextFormatError` (a ``ValueError``) for a
    file that is not fastText, an unsupported version, a supervised or quantized model, or a truncated file.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"fastText model '{path}' does not exist; pass the path of a Facebook .bin file"
                                + see("convert-fasttext-bin"))
    if os.path.isdir(path):
        raise FastTextFormatError(f"'{path}' is a directory; pass the path of a Facebook fastText .bin file")
    file_size = os.path.getsize(path)
    with open(path, "rb") as fin:
        reader = _Reader(fin, path, file_size)
        if file_size < 8:
            raise FastTextFormatError(f"{path} is not a fastText .bin file: it has only {file_size} bytes")
        magic, version = reader.unpack("<2i", "the magic number")
        new_format = magic == FASTTEXT_MAGIC
        if new_format:
            if version not in SUPPORTED_VERSIONS:
                raise FastTextFormatError(
                    f"{path} has fastText file format version {version}; hfext reads versions "
                    f"{' and '.join(map(str, SUPPORTED_VERSIONS))} (fastText 0.1.0 and later; 11: builds from mid-2017). Load it with the fastText "
                    "release that wrote it and save it again with fastText 0.9 (`model.save_model(...)`)"
                )
            args = dict(zip(ARG_FIELDS, reader.unpack(_ARGS_STRUCT.format, "the training arguments")))
        else:  # pre-May-2017 layout: no magic, the file starts with dim and ws
            rest = reader.unpack("<10id", "the training arguments") if file_size >= 8 + 48 else None
            args = dict(zip(ARG_FIELDS, (magic, version, *rest))) if rest else None
            version = None
            if args is None or not _plausible_old_header(args):
                with open(path, "rb") as head:
                    start = head.read(16)
                text = all(32 <= b < 127 or b in b"\t\r\n" for b in start)
                hint = " It looks like a text file (a .vec?): read it with KeyedVectors.load_word2vec_format." if text else ""
                raise FastTextFormatError(
                    f"{path} is not a fastText .bin file: it starts with the number {magic} (0x{magic & 0xFFFFFFFF:08x}) "
                    f"where fastText writes its magic number {FASTTEXT_MAGIC}.{hint}"
                )
        if args["model"] == 3:
            raise FastTextFormatError(
                f"{path} is a supervised fastText model (a text classifier, model={args['model']}); only unsupervised "
                "word-embedding models (skipgram or cbow) can be converted"
            )
        if args["model"] not in MODEL_NAMES or args["loss"] not in (1, 2, 3):
            raise FastTextFormatError(
                f"{path} has an unknown model ({args['model']}) or loss ({args['loss']}) in its header; expected "
                "model 1 (cbow) or 2 (skipgram) and loss 1 (hs), 2 (ns) or 3 (softmax): not a fastText word model"
            )
        size, nwords, nlabels = reader.unpack("<3i", "the dictionary sizes")
        (ntokens,) = reader.unpack("<q", "the dictionary sizes")
        if nlabels > 0:
            raise FastTextFormatError(f"{path} has {nlabels} labels: it is a supervised (classification) model; only "
                                      "unsupervised word-embedding models (skipgram or cbow) can be converted")
        if not (0 < nwords == size):
            raise FastTextFormatError(f"{path} declares {size} dictionary entries and {nwords} words; a fastText word "
                                      "model has as many words as entries (at least one). The file is damaged")
        pruneidx_size = reader.unpack("<q", "the dictionary")[0] if new_format else None
        words, counts, types = [], np.empty(size, dtype=np.int64), bytearray(size)
        entry = struct.Struct("<qb")
        for index in range(size):
            words.append(reader.read_word(f"word {index + 1} of {size} of the dictionary"))
            counts[index], types[index] = entry.unpack(reader.read(entry.size, f"word {index + 1} of the dictionary"))
        if any(types):
            raise FastTextFormatError(f"{path} has label entries in its dictionary: it is a supervised model; only "
                                      "unsupervised word-embedding models (skipgram or cbow) can be converted")
        if new_format and pruneidx_size is not None and pruneidx_size >= 0:
            raise FastTextFormatError(
                f"{path} is a quantized fastText model (.ftz: its n-grams are pruned, pruneidx_size={pruneidx_size}); "
                "quantized models store compressed vectors hfext cannot convert. Use the full .bin model instead"
            )
        dim, bucket = args["dim"], args["bucket"]
        info = FastTextBinInfo(path, file_size, new_format, version, args, size, nwords, nlabels, ntokens,
                               pruneidx_size, words, counts, bytes(types))
        for which in ("input", "output"):
            if new_format:
                (quant,) = reader.unpack("<?", f"the {which} matrix")
                if quant:
                    raise FastTextFormatError(
                        f"{path} is a quantized fastText model (.ftz: its {which} matrix is product-quantized); "
                        "hfext converts only full-precision .bin models. Use the full .bin model instead"
                    )
            rows, cols = reader.unpack("<2q", f"the {which} matrix shape")
            expected_rows = nwords + bucket if which == "input" else nwords
            if cols != dim or rows != expected_rows:
                raise FastTextFormatError(
                    f"{path}: the {which} matrix is {rows} x {cols} but the header (dim={dim}, {nwords} words, "
                    f"bucket={bucket}) needs {expected_rows} x {dim}; the file is damaged or not a fastText word model"
                )
            offset = reader.tell()
            end = offset + rows * cols * 4
            if end > file_size:
                raise FastTextFormatError(
                    f"{path} is truncated: the {which} matrix ({rows} x {cols} float32) needs {end} bytes but the file "
                    f"has {file_size}; the download or copy is incomplete, fetch the file again"
                )
            setattr(info, f"{which}_shape", (rows, cols))
            setattr(info, f"{which}_offset", offset)
            fin.seek(end)
            reader.buf, reader.pos, reader.offset = b"", 0, end
        if reader.tell() != file_size:
            raise FastTextFormatError(f"{path} has {file_size - reader.tell()} bytes after the output matrix; it is not a "
                                      "single fastText model (or it is damaged)")
    return info



# ---------------------------------------------------------------------- safetensors, streamed


class _SafetensorsStream:
    """Write a safetensors file tensor by tensor without holding any tensor: the header (8-byte little-endian
    length + JSON with dtype, shape and byte range of every tensor) is known up front, then each tensor's raw
    little-endian bytes follow in header order."""

    _SIZES: ClassVar[dict[str, int]] = {"F32": 4, "I64": 8}

    def __init__(self, fout, specs: list[tuple[str, str, tuple[int, ...]]], metadata: dict[str, str]):
        self.fout, self.specs, self.index, self.written = fout, specs, -1, 0
        header, offset = {"__metadata__": metadata}, 0
        self.sizes = []
        for name, dtype, shape in specs:
            nbytes = math.prod(shape) * self._SIZES[dtype]
            header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
            self.sizes.append(nbytes)
            offset += nbytes
        raw = json.dumps(header, separators=(",", ":")).encode()
        raw += b" " * (-len(raw) % 8)  # tensor data starts 8-byte aligned, as safetensors writes it
        fout.write(len(raw).to_bytes(8, "little") + raw)

    def begin(self, name: str) -> None:
        self._check_complete()
        self.index += 1
        if self.specs[self.index][0] != name:
            raise RuntimeError(f"safetensors stream expected tensor {self.specs[self.index][0]!r}, got {name!r}")  # internal
        self.written = 0

    def write(self, data) -> None:
        data = memoryview(data).cast("B")
        self.written += len(data)
        self.fout.write(data)

    def _check_complete(self) -> None:
        if self.index >= 0 and self.written != self.sizes[self.index]:
            raise RuntimeError(f"tensor {self.specs[self.index][0]!r}: wrote {self.written} of {self.sizes[self.index]} bytes")  # internal

    def close(self) -> None:
        self._check_complete()
        if self.index != len(self.specs) - 1:
            raise RuntimeError("safetensors stream closed before every tensor was written")  # internal


def _copy_range(src, offset: int, nbytes: int, out: _SafetensorsStream) -> None:
    src.seek(offset)
    while nbytes > 0:
        chunk = src.read(min(nbytes, _COPY_CHUNK))
        if not chunk:
            raise FastTextFormatError(f"{src.name} ended while copying its matrices; the file is truncated")
        out.write(chunk)
        nbytes -= len(chunk)


# ---------------------------------------------------------------------- .bin -> model directory


def _new_dir_next_to(dst: Path) -> Path:
    tmp = dst.parent / f".{dst.name}.converting-{secrets.token_hex(4)}"
    tmp.mkdir(parents=True)
    return tmp


def _check_destination(dst: Path, overwrite: bool) -> None:
    if dst.exists() and not dst.is_dir():
        raise FileExistsError(f"destination '{dst}' is a file; pass a new folder name for the converted model"
                              + see("output-file"))
    if dst.is_dir() and any(dst.iterdir()) and not overwrite:
        raise FileExistsError(f"destination '{dst}' already exists and is not empty; pass a new folder, or "
                              "overwrite=True (--overwrite) to replace it" + see("output-file"))
    if not dst.parent.is_dir():
        raise FileNotFoundError(f"the parent folder of '{dst}' does not exist; create it first (mkdir -p {dst.parent})"
                                + see("output-file"))


def _move_into_place(tmp: Path, dst: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    for item in tmp.iterdir():
        os.chmod(item, 0o666 & ~umask)  # mkstemp-style 0600 files would surprise users sharing model folders
    old = None
    if dst.exists():
        old = dst.parent / f".{dst.name}.replaced-{secrets.token_hex(4)}"
        os.rename(dst, old)
    os.rename(tmp, dst)
    if old is not None:
        shutil.rmtree(old)


def fasttext_config_from_bin(info: FastTextBinInfo, num_subword_ids: int, raw_words: dict[str, str]):
    """The FastTextConfig of a ``.bin``; what hfext has no field for goes to ``facebook_args`` for write-back."""
    from hfext_fasttext import FastTextConfig

    args = info.args
    facebook_args = {"format": "facebook" if info.new_format else "facebook-pre2017", "version": info.version,
                     "epoch": args["epoch"], "word_ngrams": args["word_ngrams"], "lr_update_rate": args["lr_update_rate"],
                     "loss": args["loss"], "model": args["model"], "neg": args["neg"], "t": args["t"],
                     "min_count": args["min_count"], "ws": args["ws"], "ntokens": int(info.ntokens),
                     "pruneidx_size": info.pruneidx_size, "undecodable_words": raw_words}
    objective = LOSS_NAMES[args["loss"]]
    config = FastTextConfig(
        vocab_size=info.nwords + 1, vector_size=args["dim"], architecture=MODEL_NAMES[args["model"]],
        window=max(args["ws"], 1), objective=objective,
        negative=args["neg"] if objective == "negative_sampling" else max(args["neg"], 0),
        sample=max(args["t"], 0.0), min_count=args["min_count"], minn=args["minn"], maxn=args["maxn"],
        bucket=args["bucket"], num_subword_ids=num_subword_ids, facebook_args=facebook_args,
    )
    config.architectures = ["FastTextModel"]
    return config


def convert_fasttext_bin(src, dst, *, overwrite: bool = False, vec=None) -> Path:
    """Convert Facebook's fastText ``.bin`` `src` into the hfext-fasttext model directory `dst`, streaming.

    `dst` gets ``config.json``, ``model.safetensors`` (input rows = words, zero ``[UNK]`` row, n-gram buckets;
    output rows = words, zero ``[UNK]`` row; the word counts and subword CSR buffers), ``tokenizer.json``
    (word ids = the ``.bin``'s order, ``[UNK]`` last) and ``word_vectors.safetensors`` (the composed
    in-vocabulary vectors, for memory-mapped queries). Everything is written into a temporary sibling folder
    that replaces `dst` only once complete. `vec` also writes the in-vocabulary vectors as a ``.vec`` file.
    """
    from hfext_fasttext import subword_csr

    from hfext.data.corpus import Vocabulary
    from hfext.vectors import (
        FASTTEXT_WORD_VECTORS_FILE,
        compose_word_vectors,
        file_fingerprint,
        tensor_row_reader,
    )

    dst = Path(dst).expanduser()
    _check_destination(dst, overwrite)
    info = read_fasttext_bin_info(src)
    words, raw_words = info.decoded_words()
    if len(set(words)) != len(words):
        raise FastTextFormatError(f"{info.path} has duplicate words after decoding; the dictionary is damaged")
    nwords, dim, bucket = info.nwords, info.args["dim"], info.args["bucket"]
    vocab_size = nwords + 1
    # Pre-2017 files come from a fastText that gave "</s>" n-grams like any word; today's gives it none.
    offsets, ids = subword_csr(words, vocab_size, info.args["minn"], info.args["maxn"], bucket,
                               eos_ngrams=not info.new_format)
    offsets = np.append(offsets, offsets[-1])  # [UNK]: no rows
    counts = np.append(info.counts, 0)
    config = fasttext_config_from_bin(info, len(ids), raw_words)
    tokenizer = Vocabulary(words, info.counts).to_tokenizer()  # ids = the .bin's order, [UNK] last

    tmp = _new_dir_next_to(dst)
    try:
        config.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        weights = tmp / _WEIGHTS
        specs = [("context_embeddings.weight", "F32", (vocab_size, dim)),
                 ("input_embeddings.weight", "F32", (vocab_size + bucket, dim)),
                 ("subword_ids", "I64", (len(ids),)),
                 ("subword_offsets", "I64", (vocab_size + 1,)),
                 ("word_counts", "I64", (vocab_size,))]
        zero_row = bytes(4 * dim)
        with open(info.path, "rb") as fin, open(weights, "wb") as fout:
            out = _SafetensorsStream(fout, specs, {"format": "pt"})
            out.begin("context_embeddings.weight")
            _copy_range(fin, info.output_offset, nwords * dim * 4, out)
            out.write(zero_row)
            out.begin("input_embeddings.weight")
            _copy_range(fin, info.input_offset, nwords * dim * 4, out)
            out.write(zero_row)  # [UNK] sits between the words and the buckets
            _copy_range(fin, info.input_offset + nwords * dim * 4, bucket * dim * 4, out)
            for name, array in (("subword_ids", ids), ("subword_offsets", offsets), ("word_counts", counts)):
                out.begin(name)
                out.write(np.ascontiguousarray(array, dtype="<i8"))
            out.close()
        _validate_weights(weights, specs)

        # The composed word vectors, once, so that loading never touches every word's n-gram rows.
        read_rows, shape = tensor_row_reader(weights, "input_embeddings.weight")
        vectors = compose_word_vectors(read_rows, shape, offsets, ids, nwords)
        with open(tmp / FASTTEXT_WORD_VECTORS_FILE, "wb") as fout:
            out = _SafetensorsStream(fout, [("vectors", "F32", (nwords, dim))],
                                     {"format": "hfext.FastTextKeyedVectors", "model_fingerprint": file_fingerprint(weights)})
            out.begin("vectors")
            out.write(np.ascontiguousarray(vectors, dtype="<f4"))
            out.close()
        del vectors
        _move_into_place(tmp, dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("converted %s (%d words, %d buckets, dim %d) to %s", info.path, nwords, bucket, dim, dst)
    if vec is not None:
        from hfext.vectors import FastTextKeyedVectors

        FastTextKeyedVectors.from_pretrained(dst).save_word2vec_format(vec)
    return dst


def _validate_weights(path: Path, specs) -> None:
    """Open the written file with safetensors itself: a bad header or size fails here, not at load time."""
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as f:
        for name, _, shape in specs:
            if tuple(f.get_slice(name).get_shape()) != tuple(shape):
                raise RuntimeError(f"{path}: tensor {name} has shape {f.get_slice(name).get_shape()}, expected {shape}")  # internal


# ---------------------------------------------------------------------- model directory -> .bin


def _facebook_header(config) -> tuple[dict, dict]:
    """Args for the ``.bin`` header: those stored at conversion, else derived from the config."""
    stored = dict(config.facebook_args or {})
    losses = {name: code for code, name in LOSS_NAMES.items()}
    models = {"cbow": 1, "skipgram": 2}
    args = {"dim": config.vector_size, "ws": stored.get("ws", config.window), "epoch": stored.get("epoch", 5),
            "min_count": stored.get("min_count", config.min_count), "neg": stored.get("neg", config.negative),
            "word_ngrams": stored.get("word_ngrams", 1), "loss": stored.get("loss", losses[config.objective]),
            "model": stored.get("model", models[config.architecture]), "bucket": config.bucket, "minn": config.minn,
            "maxn": config.maxn, "lr_update_rate": stored.get("lr_update_rate", 100), "t": stored.get("t", config.sample)}
    return args, stored


def save_fasttext_bin(model_or_dir, path, tokenizer=None) -> None:
    """Write Facebook's fastText ``.bin`` (readable by ``fasttext.load_model`` and gensim's
    ``load_facebook_model``) from an hfext-fasttext model directory, streaming, or from a ``FastTextModel``
    plus its `tokenizer`. A model converted from a ``.bin`` is written back byte for byte."""
    from hfext.vectors import _atomic_open, safetensors_layout, safetensors_memmap

    if isinstance(model_or_dir, (str, os.PathLike)):
        from hfext_fasttext import FastTextConfig

        model_dir = Path(model_or_dir).expanduser()
        if not (model_dir / "config.json").is_file():
            raise FileNotFoundError(f"'{model_dir}' is not a model directory (no config.json); pass the folder that "
                                    "`hfext convert fasttext-bin` or save_pretrained wrote" + see("fasttext-model-folder"))
        config = FastTextConfig.from_pretrained(model_dir)
        weights = model_dir / _WEIGHTS
        if not weights.is_file():
            raise FileNotFoundError(f"'{model_dir}' has no {_WEIGHTS}; save the model with save_pretrained"
                                    + see("fasttext-model-folder"))
        layout = safetensors_layout(weights)
        prefix = "" if "input_embeddings.weight" in layout[1] else "fasttext."
        tensors = {name: safetensors_memmap(weights, prefix + name, layout)
                   for name in ("input_embeddings.weight", "context_embeddings.weight", "word_counts")}
        with open(model_dir / "tokenizer.json", encoding="utf8") as fin:
            vocab = json.load(fin)["model"]["vocab"]
    else:
        model = model_or_dir
        config = model.config
        if tokenizer is None:
            raise ValueError("save_fasttext_bin(model, path) needs the model's tokenizer for the words: "
                             "save_fasttext_bin(model, path, tokenizer=tokenizer)" + see("fasttext-model-folder"))
        tensors = {"input_embeddings.weight": model.input_embeddings.weight.detach().float().cpu().numpy(),
                   "context_embeddings.weight": model.context_embeddings.weight.detach().float().cpu().numpy(),
                   "word_counts": model.word_counts.detach().cpu().numpy()}
        vocab = tokenizer.get_vocab()
    if config.model_type != "hfext-fasttext":
        raise ValueError(f"save_fasttext_bin needs an hfext-fasttext model, got '{config.model_type}'"
                         + see("fasttext-model-folder"))
    nwords, dim, bucket = config.vocab_size - 1, config.vector_size, config.bucket
    words = [None] * nwords
    for word, index in vocab.items():
        if index < nwords:
            words[index] = word
    if any(word is None for word in words):
        raise ValueError(f"the tokenizer does not name all {nwords} words of the model" + see("fasttext-model-folder"))
    args, stored = _facebook_header(config)
    raw_words = {int(i): bytes.fromhex(h) for i, h in (stored.get("undecodable_words") or {}).items()}
    new_format = stored.get("format", "facebook") != "facebook-pre2017"
    counts = np.asarray(tensors["word_counts"][:nwords], dtype=np.int64)
    ntokens = stored.get("ntokens", int(counts.sum()))

    with _atomic_open(path) as fout:
        if new_format:
            fout.write(struct.pack("<2i", FASTTEXT_MAGIC, stored.get("version") or FASTTEXT_VERSION))
            fout.write(_ARGS_STRUCT.pack(*(args[name] for name in ARG_FIELDS)))
        else:
            fout.write(struct.pack("<12id", *(args[name] for name in ARG_FIELDS)))
        fout.write(struct.pack("<3iq", nwords, nwords, 0, ntokens))
        if new_format:
            fout.write(struct.pack("<q", stored.get("pruneidx_size", -1) if stored.get("pruneidx_size") is not None else -1))
        entry = struct.Struct("<qb")
        for index, word in enumerate(words):
            fout.write(raw_words.get(index) or word.encode("utf-8"))
            fout.write(b"\0" + entry.pack(int(counts[index]), 0))
        matrices = (("input_embeddings.weight", [(0, nwords), (nwords + 1, nwords + 1 + bucket)], nwords + bucket),
                    ("context_embeddings.weight", [(0, nwords)], nwords))
        for name, ranges, rows in matrices:
            if new_format:
                fout.write(b"\0")  # not quantized
            fout.write(struct.pack("<2q", rows, dim))
            matrix = tensors[name]
            step = max(_COPY_CHUNK // (4 * dim), 1)
            for lo, hi in ranges:  # skip hfext's [UNK] row
                for start in range(lo, hi, step):
                    fout.write(np.ascontiguousarray(matrix[start : min(start + step, hi)], dtype="<f4").tobytes())
