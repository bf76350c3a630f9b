"""One-hot vectors and window co-occurrence counts (the lecture's first two word representations)."""

import numpy as np
import pytest

import hfext.data.cooccurrence as cooc
from hfext.cli import main as cli_main
from hfext.data import (
    EncodedCorpus,
    Vocabulary,
    cooccurrence_matrix,
    load_cooccurrence,
    one_hot,
    save_cooccurrence,
    split_sentences,
)
from hfext.errors import see

LECTURE_CORPUS = "I like deep learning. I like NLP. I enjoy flying."
LECTURE_DICTIONARY = ["I", "like", "enjoy", "deep", "learning", "NLP", "flying", "."]
# The lecture's slide "Window-based Co-occurrence Matrix", window 1, row by row.
LECTURE_TABLE = [
    [0, 2, 1, 0, 0, 0, 0, 0],
    [2, 0, 0, 1, 0, 1, 0, 0],
    [1, 0, 0, 0, 0, 0, 1, 0],
    [0, 1, 0, 0, 1, 0, 0, 0],
    [0, 0, 0, 1, 0, 0, 0, 1],
    [0, 1, 0, 0, 0, 0, 0, 1],
    [0, 0, 1, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 1, 1, 1, 0],
]


def lecture_ids():
    return [[LECTURE_DICTIONARY.index(w) for w in s.split()] for s in split_sentences([LECTURE_CORPUS])]


def brute_force(sentences, vocab_size, window, symmetric, weighting):
    counts = np.zeros((vocab_size, vocab_size))
    for sentence in sentences:
        kept = [w for w in sentence if 0 <= w < vocab_size]
        for i, a in enumerate(kept):
            for j in range(i + 1, min(len(kept), i + window + 1)):
                weight = 1.0 / (j - i) if weighting else 1.0
                counts[a, kept[j]] += weight
                if symmetric:
                    counts[kept[j], a] += weight
    return counts


def test_one_hot_vectors_are_orthogonal():
    vectors = one_hot(LECTURE_DICTIONARY, LECTURE_DICTIONARY)
    np.testing.assert_array_equal(vectors, np.eye(8, dtype=np.float32))
    cosines = vectors @ vectors.T / np.outer(np.linalg.norm(vectors, axis=1), np.linalg.norm(vectors, axis=1))
    np.testing.assert_array_equal(cosines, np.eye(8))  # distinct words: cosine 0, however related
    np.testing.assert_array_equal(one_hot("like", LECTURE_DICTIONARY), [[0, 1, 0, 0, 0, 0, 0, 0]])


def test_one_hot_errors():
    with pytest.raises(KeyError, match="'cat' is not in the vocabulary") as error:
        one_hot(["I", "cat"], LECTURE_DICTIONARY)
    assert error.value.args[0].endswith(see("vocabulary"))
    with pytest.raises(ValueError, match="empty"):
        one_hot(["I"], [])
    with pytest.raises(ValueError, match="repeated"):
        one_hot(["I"], ["I", "I"])


def test_sentences_split_like_the_lecture():
    assert list(split_sentences([LECTURE_CORPUS])) == ["I like deep learning .", "I like NLP .", "I enjoy flying ."]
    assert list(split_sentences(["a b. c", "d"], split_punctuation=False)) == ["a b. c", "d"]


def test_the_lecture_table_cell_by_cell():
    matrix = cooccurrence_matrix(lecture_ids(), len(LECTURE_DICTIONARY), window=1)
    np.testing.assert_array_equal(matrix.toarray(), LECTURE_TABLE)


def test_cli_prints_the_lecture_table(tmp_path, capsys):
    corpus = tmp_path / "lecture.txt"
    corpus.write_text(LECTURE_CORPUS + "\n")
    assert cli_main(["cooccurrence", str(corpus), "--window", "1", "--vocab", ",".join(LECTURE_DICTIONARY),
                     "--out", str(tmp_path / "table.tsv")]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines.index(next(line for line in lines if line.startswith("counts")))
    assert lines[header].split() == ["counts", *LECTURE_DICTIONARY]
    for word, expected, line in zip(LECTURE_DICTIONARY, LECTURE_TABLE, lines[header + 2 :]):
        assert line.split() == [word, *map(str, expected)]
    saved = [line.split("\t") for line in (tmp_path / "table.tsv").read_text().splitlines()]
    assert saved[0] == ["counts", *LECTURE_DICTIONARY]
    assert [[int(x) for x in row[1:]] for row in saved[1:]] == LECTURE_TABLE


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("weighting", [True, False])
def test_matches_brute_force_and_never_crosses_sentences(symmetric, weighting):
    rng = np.random.default_rng(0)
    vocab_size = 12
    # ids 12 and 13 are "unknown" words: dropped before windowing, as GloVe does
    sentences = [rng.integers(0, vocab_size + 2, size=rng.integers(0, 15)).tolist() for _ in range(60)]
    matrix = cooccurrence_matrix(sentences, vocab_size, window=3, symmetric=symmetric, distance_weighting=weighting)
    np.testing.assert_allclose(matrix.toarray(), brute_force(sentences, vocab_size, 3, symmetric, weighting))
    if not symmetric:
        both = cooccurrence_matrix(sentences, vocab_size, 3, symmetric=True, distance_weighting=weighting)
        np.testing.assert_allclose(both.toarray(), (matrix + matrix.T).toarray())


def test_streaming_in_small_chunks_gives_the_same_matrix(tmp_path, monkeypatch, gensim_data):
    lines = (gensim_data / "lee_background.cor").read_text().splitlines()
    vocab = Vocabulary.build(lines, min_count=5)
    corpus = EncodedCorpus.build(lines, vocab.to_tokenizer(), tmp_path / "corpus")
    whole = cooccurrence_matrix(corpus, len(vocab), window=5, distance_weighting=True)
    monkeypatch.setattr(cooc, "PAIR_BUDGET", 2000)  # hundreds of chunks and merges
    chunked = cooccurrence_matrix(corpus, len(vocab), window=5, distance_weighting=True)
    assert chunked.nnz == whole.nnz > 10_000
    np.testing.assert_allclose(chunked.toarray(), whole.toarray(), rtol=1e-12)
    from_lists = cooccurrence_matrix(
        (corpus.ids[a:b] for a, b in zip(corpus.offsets[:-1], corpus.offsets[1:])), len(vocab), 5, distance_weighting=True
    )
    np.testing.assert_allclose(from_lists.toarray(), whole.toarray(), rtol=1e-12)


def test_save_and_load_round_trip(tmp_path):
    matrix = cooccurrence_matrix(lecture_ids(), 8, window=2, distance_weighting=True)
    path = tmp_path / "x.safetensors"
    save_cooccurrence(path, matrix, LECTURE_DICTIONARY, window=2)
    loaded, words, settings = load_cooccurrence(path)
    assert words == LECTURE_DICTIONARY and settings == {"window": 2}
    assert (loaded != matrix).nnz == 0
    assert not list(tmp_path.glob("*.tmp*"))
    (tmp_path / "bad.safetensors").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a co-occurrence matrix"):
        load_cooccurrence(tmp_path / "bad.safetensors")
    with pytest.raises(FileNotFoundError, match="no co-occurrence file") as error:
        load_cooccurrence(tmp_path / "missing.safetensors")
    assert str(error.value).endswith(see("data-cache"))


def test_bad_input():
    with pytest.raises(ValueError, match="window must be >= 1") as error:
        cooccurrence_matrix([[0, 1]], 2, window=0)
    assert str(error.value).endswith(see("window-settings"))
    with pytest.raises(ValueError, match="vocabulary is empty"):
        cooccurrence_matrix([[0, 1]], 0, window=1)


def test_cli_errors(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text(LECTURE_CORPUS)
    assert cli_main(["cooccurrence", str(corpus), "--window", "0"]) == 2
    assert "--window must be >= 1" in capsys.readouterr().err
    assert cli_main(["cooccurrence", str(tmp_path / "nope.txt")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli_main(["cooccurrence", str(corpus), "--out", str(tmp_path / "x.png")]) == 2
    assert ".tsv or .csv" in capsys.readouterr().err
    assert cli_main(["cooccurrence", str(corpus), "--vocab", "I,I"]) == 2
    assert "twice" in capsys.readouterr().err
    assert cli_main(["cooccurrence", str(corpus), "--window", "1", "--vocab", "I,like,lov"]) == 0  # a typo: warned
    assert "--vocab word(s) never in" in capsys.readouterr().err.split("lov")[0]
    (tmp_path / "empty.txt").write_text("\n")
    assert cli_main(["cooccurrence", str(tmp_path / "empty.txt")]) == 2
    assert "empty" in capsys.readouterr().err
