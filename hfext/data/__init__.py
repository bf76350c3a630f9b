"""Data pipeline shared by the embedding families: corpus streaming, vocabulary, windows, sampling."""

from .corpus import CorpusError, EncodedCorpus, Vocabulary, dataset_lines, file_fingerprint, read_lines
from .windows import WindowChunk, WindowChunks, build_noise_table, cbow_windows, keep_probabilities, skipgram_pairs

__all__ = [
    "CorpusError",
    "EncodedCorpus",
    "Vocabulary",
    "WindowChunk",
    "WindowChunks",
    "build_noise_table",
    "cbow_windows",
    "dataset_lines",
    "file_fingerprint",
    "keep_probabilities",
    "read_lines",
    "skipgram_pairs",
]
