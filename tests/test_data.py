"""The data pipeline: vocabulary, encoded corpus, subsampling, dynamic windows and bad input."""

import numpy as np
import pytest

from hfext.data import (
    CorpusError,
    EncodedCorpus,
    Vocabulary,
    WindowChunks,
    build_noise_table,
    cbow_windows,
    keep_probabilities,
    read_lines,
    skipgram_pairs,
)
from hfext.data.windows import WindowChunk
from hfext.errors import see


def encode(tmp_path, lines, min_count=1, **kwargs):
    vocab = Vocabulary.build(lines, min_count=min_count)
    corpus = EncodedCorpus.build(lines, vocab.to_tokenizer(), tmp_path / "cache", **kwargs)
    return vocab, corpus


def test_vocabulary_matches_gensim(gensim_data):
    from gensim.models import Word2Vec
    from gensim.models.word2vec import LineSentence

    path = gensim_data / "lee_background.cor"
    ours = Vocabulary.build(read_lines(path), min_count=5)
    theirs = Word2Vec(min_count=5)
    theirs.build_vocab(LineSentence(str(path)))
    assert ours.words == theirs.wv.index_to_key
    assert ours.counts.tolist() == [theirs.wv.get_vecattr(w, "count") for w in ours.words]


def test_encoded_corpus_drops_unknown_words_and_splits_long_sentences(tmp_path):
    lines = ["a b c a", "b rare a", "", "a a a a a"]
    vocab = Vocabulary.build(lines, min_count=2)
    corpus = EncodedCorpus.build(lines, vocab.to_tokenizer(), tmp_path / "c", max_sentence_length=3)
    ids = {w: i for i, w in enumerate(vocab.words)}
    flat = np.asarray(corpus.ids).tolist()
    assert flat == [ids[w] for w in ["a", "b", "a", "b", "a", "a", "a", "a", "a", "a"]]
    assert np.asarray(corpus.offsets).tolist() == [0, 3, 5, 8, 10]  # empty line skipped, 5 a's -> 3 + 2
    assert corpus.raw_words == 12


def test_encoded_corpus_cache_is_reused_only_for_same_fingerprint(tmp_path):
    lines = ["x y z", "x y"]
    vocab = Vocabulary.build(lines, min_count=1)
    first = EncodedCorpus.build(lines, vocab.to_tokenizer(), tmp_path / "c", fingerprint="one")
    again = EncodedCorpus.build(["z z z z"], vocab.to_tokenizer(), tmp_path / "c", fingerprint="one")
    assert again.num_tokens == first.num_tokens == 5
    other = EncodedCorpus.build(["z z z z"], vocab.to_tokenizer(), tmp_path / "c", fingerprint="two")
    assert other.num_tokens == 4
    assert not list((tmp_path / "c").glob("*.tmp*"))


def test_keep_probability_is_word2vec_formula():
    counts = np.array([1000, 100, 10, 1])
    keep = keep_probabilities(counts, 1e-2)
    t = 1e-2 * counts.sum()
    expected = np.minimum(1, (np.sqrt(counts / t) + 1) * t / counts)
    np.testing.assert_allclose(keep, expected, rtol=1e-6)
    assert keep_probabilities(counts, 0).tolist() == [1, 1, 1, 1]


def brute_force_pairs(chunk):
    pairs = []
    for i in range(len(chunk.ids)):
        for j in range(len(chunk.ids)):
            if i != j and abs(i - j) <= chunk.windows[i] and chunk.lo[i] <= j < chunk.hi[i]:
                pairs.append((int(chunk.ids[j]), int(chunk.ids[i])))
    return sorted(pairs)


def test_windows_never_cross_sentences_and_respect_dynamic_width(tmp_path):
    rng = np.random.default_rng(0)
    lines = [" ".join(f"w{x}" for x in rng.integers(0, 30, rng.integers(1, 12))) for _ in range(40)]
    vocab, corpus = encode(tmp_path, lines)
    chunks = WindowChunks(corpus, vocab.counts, window=4, sample=0, batch_words=50, seed=3)
    seen = 0
    for step in range(chunks.steps_per_epoch):
        chunk = chunks.chunk(0, step)
        assert (chunk.windows >= 1).all() and (chunk.windows <= 4).all()
        sources, targets = skipgram_pairs(chunk)
        assert sorted(zip(sources.tolist(), targets.tolist())) == brute_force_pairs(chunk)
        _context, mask, _centers = cbow_windows(chunk)
        assert mask.sum() == len(sources)  # CBOW sees the same (context, center) pairs
        seen += len(chunk)
    assert seen == corpus.num_tokens  # sample=0: every token, each exactly once per epoch


def test_subsampling_drops_frequent_words_and_chunks_are_reproducible(tmp_path):
    lines = ["the " * 50 + "rare word here"] * 20
    vocab, corpus = encode(tmp_path, lines)
    chunks = WindowChunks(corpus, vocab.counts, window=2, sample=0.02, batch_words=100, seed=1)
    kept = np.concatenate([chunks.chunk(0, s).ids for s in range(chunks.steps_per_epoch)])
    the = vocab.words.index("the")
    # t N = 21.2: "the" (1000 times) is kept with probability (sqrt(1000/21.2) + 1) 21.2/1000 = 0.167
    assert 120 < (kept == the).sum() < 215
    assert (kept != the).sum() == 60  # words with count <= t N are always kept
    again = WindowChunks(corpus, vocab.counts, window=2, sample=0.02, batch_words=100, seed=1)
    assert np.array_equal(chunks.chunk(1, 3).ids, again.chunk(1, 3).ids)
    assert not np.array_equal(chunks.chunk(0, 3).ids, chunks.chunk(1, 3).ids)  # new draw each epoch


def test_chunks_shard_over_ranks_with_equal_step_counts(tmp_path):
    lines = [f"a b c d e {i}" for i in range(7)]
    vocab, corpus = encode(tmp_path, lines)
    shards = [WindowChunks(corpus, vocab.counts, 2, 0, 6, seed=0, rank=r, world_size=2) for r in range(2)]
    assert shards[0].steps_per_epoch == shards[1].steps_per_epoch == 4
    indices = [shard.chunk_index(s) for s in range(4) for shard in shards]
    assert sorted(set(indices)) == list(range(7))  # every chunk is seen; one rank repeats one to even out


def test_noise_table_follows_unigram_power():
    counts = np.array([800, 100, 10, 1])
    table = build_noise_table(counts, 0.75, size=1 << 17)
    expected = counts**0.75 / (counts**0.75).sum()
    np.testing.assert_allclose(np.bincount(table, minlength=4) / len(table), expected, atol=1e-4)


def test_bad_corpus_input(tmp_path):
    with pytest.raises(CorpusError, match="empty"):
        Vocabulary.build(["", "  "], min_count=1)
    with pytest.raises(CorpusError, match="min_count=5"):
        Vocabulary.build(["a b c", "a"], min_count=5)
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(CorpusError, match="binary"):
        list(read_lines(binary))
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(CorpusError, match="UTF-8"):
        list(read_lines(latin))
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        list(read_lines(tmp_path / "missing.txt"))
    with pytest.raises(ValueError, match="window") as error:
        WindowChunks.__new__(WindowChunks).__init__(None, np.ones(1), 0, 0, 10, 0)
    assert str(error.value).endswith(see("window-settings"))
    with pytest.raises(ValueError, match="min_count must be >= 1") as error:
        Vocabulary.build(["a b"], min_count=0)
    assert str(error.value).endswith(see("min-count"))
    with pytest.raises(ValueError, match="power of two") as error:
        build_noise_table(np.ones(3), size=1000)
    assert str(error.value).endswith(see("window-settings"))
    with pytest.raises(ValueError, match="reserved token") as error:
        Vocabulary(["[UNK]"], [3]).to_tokenizer()
    assert str(error.value).endswith(see("vocabulary"))
    with pytest.raises(FileNotFoundError, match="meta.json missing") as error:
        EncodedCorpus(tmp_path)
    assert str(error.value).endswith(see("data-cache"))


def test_chunk_dataclass_len():
    chunk = WindowChunk(np.arange(3, dtype=np.int32), np.zeros(3, np.int64), np.full(3, 3), np.ones(3, np.int32), 3)
    assert len(chunk) == 3
