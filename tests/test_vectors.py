"""Parity of hfext.vectors.KeyedVectors with gensim's KeyedVectors (queries, evaluations, file formats)."""

import doctest
import os
import re

import numpy as np
import pytest

gensim = pytest.importorskip("gensim")
from gensim.models import KeyedVectors as GensimKV
from gensim.models import Word2Vec

import hfext.vectors
from hfext.vectors import KeyedVectors

DATA = os.path.join(os.path.dirname(gensim.__file__), "test", "test_data")
QUESTIONS = os.path.join(DATA, "questions-words.txt")


def data(name):
    return os.path.join(DATA, name)


def ours_from(g, counts=True):
    """Our KeyedVectors holding a copy of a gensim KeyedVectors (with its counts if it has them)."""
    keys = list(g.index_to_key)
    cnt = np.array([g.get_vecattr(k, "count") for k in keys]) if counts and "count" in g.expandos else None
    return KeyedVectors(g.vectors.copy(), keys, counts=cnt)


def assert_same_results(ours, theirs):
    """Same keys in the same order, scores equal to float32 precision."""
    assert [k for k, _ in ours] == [k for k, _ in theirs]
    np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], rtol=1e-6, atol=1e-7)


@pytest.fixture(scope="module")
def trained():
    """A small word2vec trained on the Lee corpus, case preserved (so 'The'/'the' both exist)."""
    with open(data("lee_background.cor"), encoding="utf8") as fin:
        sentences = [re.findall(r"[A-Za-z]+", line) for line in fin]
    model = Word2Vec(sentences, vector_size=32, min_count=2, epochs=3, workers=1, seed=42)
    return model.wv, ours_from(model.wv)


@pytest.fixture(scope="module")
def analogy_model():
    """Random vectors for the whole questions-words vocabulary where each section's relation holds
    approximately (so answers are a mix of right and wrong), plus lower-case variants of some words
    to exercise case-insensitive matching."""
    rng = np.random.default_rng(0)
    dim, vec, rel, section = 24, {}, {}, None
    with open(QUESTIONS, encoding="utf8") as fin:
        for line in fin:
            if line.startswith(":"):
                section = line
                continue
            a, b, c, d = line.split()
            for w in (a, b, c, d):
                vec.setdefault(w, rng.standard_normal(dim).astype(np.float32))
            r = rel.setdefault(section, rng.standard_normal(dim).astype(np.float32))
            vec[b] = vec[a] + r + 0.3 * rng.standard_normal(dim).astype(np.float32)
    words = list(vec)
    keys = words + [w.lower() for w in words[::7] if w.lower() not in vec]
    rng.shuffle(keys)
    vectors = np.array([vec.get(k, rng.standard_normal(dim)) for k in keys], dtype=np.float32)
    g = GensimKV(dim)
    g.add_vectors(keys, vectors)
    return g, KeyedVectors(vectors, keys)


# ---------------------------------------------------------------------- construction, lookup


def test_construction_and_lookup():
    vectors = np.arange(12, dtype=np.float32).reshape(4, 3)
    kv = KeyedVectors(vectors, ["a", "b", "c", "d"], counts=np.array([4, 3, 2, 1]))
    assert len(kv) == 4 and kv.vector_size == 3
    assert kv.key_to_index == {"a": 0, "b": 1, "c": 2, "d": 3}
    assert "b" in kv and "z" not in kv and kv.has_index_for("c") and not kv.has_index_for("z")
    assert kv.get_index("c") == 2 and kv.get_index(1) == 1 and kv.get_index("z", default=-1) == -1
    np.testing.assert_array_equal(kv["b"], [3, 4, 5])
    np.testing.assert_array_equal(kv[["d", "a"]], [[9, 10, 11], [0, 1, 2]])
    np.testing.assert_allclose(kv.get_vector("b", norm=True), np.array([3, 4, 5]) / np.sqrt(50), rtol=1e-6)
    assert not kv.get_vector("a").flags.writeable
    assert repr(kv) == "KeyedVectors<vector_size=3, 4 keys>"


@pytest.mark.parametrize(
    "vectors, keys, counts, message",
    [
        (np.zeros(3, np.float32), ["a"], None, "2-D"),
        (np.zeros((2, 3), np.float32), ["a"], None, "1 keys but vectors has 2 rows"),
        (np.zeros((3, 3), np.float32), ["a", "b", "a"], None, "duplicate key 'a' at positions 0 and 2"),
        (np.zeros((2, 3), np.float32), ["a", "b"], np.array([1, 2, 3]), "counts must have shape"),
        (np.zeros((2, 3), np.float32), ["a", "b"], np.array([1.5, 2]), "counts must be integers"),
    ],
)
def test_construction_errors(vectors, keys, counts, message):
    with pytest.raises(ValueError, match=re.escape(message)) as err:
        KeyedVectors(vectors, keys, counts=counts)
    assert str(err.value).endswith("(see docs/troubleshooting.md#vectors-arguments)")


def test_unknown_key_error_names_the_key(trained):
    _, kv = trained
    for call in (
        lambda: kv["no_such_wordzz"],
        lambda: kv.get_vector("no_such_wordzz"),
        lambda: kv.most_similar("no_such_wordzz"),
        lambda: kv.similarity("the", "no_such_wordzz"),
        lambda: kv.most_similar_cosmul(["the"], ["no_such_wordzz"]),
    ):
        with pytest.raises(KeyError, match="Key 'no_such_wordzz' not present in vocabulary") as err:
            call()
        assert err.value.args[0].endswith("(see docs/troubleshooting.md#unknown-word)")


def test_vectors_setter_and_add_vectors_invalidate_norms():
    kv = KeyedVectors(np.eye(3, dtype=np.float32), ["x", "y", "z"])
    assert kv.most_similar("x", topn=1)[0][1] == pytest.approx(0.0)
    kv.vectors = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1]], dtype=np.float32)
    assert kv.most_similar("x", topn=1) == [("y", pytest.approx(np.sqrt(0.5)))]
    kv.add_vectors(["w", "x"], np.array([[2, 0.1, 0], [0, 0, 5]], dtype=np.float32))  # "x" kept
    assert kv.index_to_key == ["x", "y", "z", "w"] and kv.most_similar("x", topn=1)[0][0] == "w"
    kv["x"] = np.array([0, 0, 5], dtype=np.float32)  # __setitem__ replaces
    assert kv.most_similar("x", topn=1)[0] == ("z", pytest.approx(1.0))
    np.testing.assert_allclose(np.linalg.norm(kv.get_normed_vectors(), axis=1), 1, rtol=1e-6)
    with pytest.raises(ValueError, match="must have shape"):
        kv.vectors = np.zeros((2, 3), np.float32)


def test_zero_vectors_give_no_nan():
    kv = KeyedVectors(np.array([[0, 0], [1, 0], [1, 1]], dtype=np.float32), ["zero", "a", "b"])
    assert np.isfinite(kv.get_normed_vectors()).all()
    assert np.all(kv.get_normed_vectors()[0] == 0)
    sims = kv.most_similar("a", topn=None)
    assert np.isfinite(sims).all() and sims[0] == 0
    assert dict(kv.most_similar("zero"))["a"] == 0.0
    assert kv.similarity("zero", "a") == 0.0 and kv.distance("zero", "a") == 1.0
    assert np.isfinite(kv.distances("a")).all() and np.isfinite(kv.most_similar_cosmul("a", topn=None)).all()


# ---------------------------------------------------------------------- query parity with gensim


@pytest.mark.parametrize(
    "kwargs",
    [
        {"positive": ["government"]},
        {"positive": "government", "topn": 3},
        {"positive": ["Australia", "president"], "negative": ["Australian"], "topn": 7},
        {"positive": [("police", 2.0), "fire"], "negative": [("the", -0.5)]},
        {"positive": ["police"], "restrict_vocab": 500},
        {"positive": ["police", "government"], "topn": 5000},  # more than the vocabulary
    ],
)
def test_most_similar_matches_gensim(trained, kwargs):
    g, kv = trained
    assert_same_results(kv.most_similar(**kwargs), g.most_similar(**kwargs))


@pytest.mark.parametrize(
    "positive, negative, topn",
    [
        (["government"], None, 10),
        ("fire", None, 3),
        (["Australia", "president"], ["Australian"], 7),
        (["police", "fire"], ["the", "minister"], 5000),
    ],
)
def test_most_similar_cosmul_matches_gensim(trained, positive, negative, topn):
    g, kv = trained
    ours, theirs = kv.most_similar_cosmul(positive, negative, topn), g.most_similar_cosmul(positive, negative, topn)
    assert_same_results(ours, theirs)


def test_most_similar_all_scores_and_vectors(trained):
    g, kv = trained
    np.testing.assert_allclose(kv.most_similar("fire", topn=None), g.most_similar("fire", topn=None), rtol=1e-6)
    np.testing.assert_allclose(
        kv.most_similar_cosmul(["fire", "police"], ["the"], topn=None),
        g.most_similar_cosmul(["fire", "police"], ["the"], topn=None),
        rtol=1e-6,
    )
    vec = g["fire"] + g["police"]
    assert_same_results(kv.similar_by_vector(vec, topn=5), g.similar_by_vector(vec, topn=5))
    assert_same_results(kv.similar_by_word("fire", topn=5), g.similar_by_word("fire", topn=5))
    assert kv.most_similar("fire", topn=0) == []


def test_most_similar_cosmul_restrict_vocab(trained):
    _, kv = trained
    full = kv.most_similar_cosmul(["fire"], topn=None)
    top = kv.most_similar_cosmul(["fire"], topn=5, restrict_vocab=300)
    assert all(kv.get_index(k) < 300 for k, _ in top)
    expected = [kv.index_to_key[i] for i in np.argsort(-full[:300]) if kv.index_to_key[i] != "fire"][:5]
    assert [k for k, _ in top] == expected


def test_pairwise_queries_match_gensim(trained):
    g, kv = trained
    pairs = [("fire", "police"), ("Australia", "Australian"), ("the", "The"), ("government", "government")]
    for w1, w2 in pairs:
        assert kv.similarity(w1, w2) == pytest.approx(g.similarity(w1, w2), rel=1e-6, abs=1e-7)
        assert kv.distance(w1, w2) == pytest.approx(g.distance(w1, w2), rel=1e-6, abs=1e-7)
    ws1, ws2 = ["fire", "police", "bushfire"], ["government", "minister"]
    assert kv.n_similarity(ws1, ws2) == pytest.approx(g.n_similarity(ws1, ws2), rel=1e-6)
    np.testing.assert_allclose(kv.distances("fire"), g.distances("fire"), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(kv.distances("fire", ws2), g.distances("fire", ws2), rtol=1e-5, atol=1e-6)
    assert kv.closer_than("fire", "police") == g.closer_than("fire", "police")
    assert kv.rank("fire", "police") == g.rank("fire", "police")
    assert kv.most_similar_to_given("fire", ws1[1:] + ws2) == g.most_similar_to_given("fire", ws1[1:] + ws2)
    np.testing.assert_allclose(
        KeyedVectors.cosine_similarities(kv["fire"], kv[ws2]), GensimKV.cosine_similarities(g["fire"], g[ws2])
    )


def test_doesnt_match_matches_gensim(trained, caplog):
    g, kv = trained
    for words in (["fire", "bushfire", "blaze", "government"], ["police", "government", "minister", "fire"]):
        assert kv.doesnt_match(words) == g.doesnt_match(words)
    assert kv.doesnt_match(["fire", "bushfire", "zzunknown", "government"]) == g.doesnt_match(
        ["fire", "bushfire", "zzunknown", "government"]
    )
    assert "zzunknown" in caplog.text  # unknown words are logged and ignored, as in gensim
    with pytest.raises(ValueError):
        kv.doesnt_match(["zzunknown"])


# ---------------------------------------------------------------------- evaluations


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"restrict_vocab": 600},
        {"case_insensitive": False},
        {"dummy4unknown": True, "restrict_vocab": 500},
    ],
)
def test_evaluate_word_analogies_matches_gensim(analogy_model, kwargs):
    g, kv = analogy_model
    g_score, g_sections = g.evaluate_word_analogies(QUESTIONS, **kwargs)
    score, sections = kv.evaluate_word_analogies(QUESTIONS, **kwargs)
    assert score == g_score
    assert [s["section"] for s in sections] == [s["section"] for s in g_sections]
    assert sections[-1]["section"] == "Total accuracy"
    for ours, theirs in zip(sections, g_sections):
        assert ours == theirs, ours["section"]  # same correct/incorrect tuples, in the same order
    total = sections[-1]
    assert 0 < len(total["correct"]) and 0 < len(total["incorrect"])  # a non-trivial test


def test_evaluate_word_analogies_trained_model(trained):
    g, kv = trained
    assert kv.evaluate_word_analogies(QUESTIONS) == g.evaluate_word_analogies(QUESTIONS)
    assert kv.evaluate_word_analogies(QUESTIONS, restrict_vocab=800) == g.evaluate_word_analogies(
        QUESTIONS, restrict_vocab=800
    )


def test_evaluate_word_analogies_needs_section_header(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("a b c d\n")
    kv = KeyedVectors(np.eye(4, dtype=np.float32), list("abcd"))
    with pytest.raises(ValueError, match="Missing section header") as err:
        kv.evaluate_word_analogies(str(bad))
    assert str(err.value).endswith("(see docs/troubleshooting.md#evaluation-files)")
    bad.write_text("a b 0.5\n")  # space-separated pairs read with the default tab delimiter: no valid line
    with pytest.raises(ValueError, match="No valid similarity judgements") as err:
        kv.evaluate_word_pairs(str(bad))
    assert str(err.value).endswith("(see docs/troubleshooting.md#evaluation-files)")


@pytest.mark.parametrize("pairs", ["wordsim353.tsv", "simlex999.txt"])
@pytest.mark.parametrize(
    "kwargs", [{}, {"restrict_vocab": 1000}, {"dummy4unknown": True}, {"case_insensitive": False}]
)
def test_evaluate_word_pairs_matches_gensim(trained, pairs, kwargs):
    g, kv = trained
    g_pearson, g_spearman, g_oov = g.evaluate_word_pairs(data(pairs), **kwargs)
    pearson, spearman, oov = kv.evaluate_word_pairs(data(pairs), **kwargs)
    assert type(pearson) is type(g_pearson) and type(spearman) is type(g_spearman)
    assert pearson.statistic == pytest.approx(g_pearson.statistic, rel=1e-6)
    assert pearson.pvalue == pytest.approx(g_pearson.pvalue, rel=1e-5)
    assert spearman.statistic == pytest.approx(g_spearman.statistic, rel=1e-6)
    assert spearman.pvalue == pytest.approx(g_spearman.pvalue, rel=1e-5)
    assert oov == g_oov and 0 < oov < 100


# ---------------------------------------------------------------------- word2vec formats


@pytest.mark.parametrize("binary", [False, True])
def test_written_bytes_equal_gensim(trained, tmp_path, binary):
    g, kv = trained
    for name, kwargs in [("plain", {}), ("nohdr", {"write_header": False}), ("total", {"total_vec": 12345})]:
        ours_path, gensim_path = tmp_path / f"ours_{name}", tmp_path / f"gensim_{name}"
        kv.save_word2vec_format(str(ours_path), binary=binary, **kwargs)
        g.save_word2vec_format(str(gensim_path), binary=binary, **kwargs)
        assert ours_path.read_bytes() == gensim_path.read_bytes(), name


@pytest.mark.parametrize("binary", [False, True])
def test_written_bytes_equal_gensim_without_counts(tmp_path, binary):
    """Vectors without counts are written in index order; values with many digits, tiny and huge."""
    rng = np.random.default_rng(3)
    vectors = (rng.standard_normal((50, 7)) * 10.0 ** rng.integers(-9, 9, (50, 7))).astype(np.float32)
    vectors[0] = 0
    keys = [f"w{i}é" for i in range(50)]
    g = GensimKV(7)
    g.add_vectors(keys, vectors)
    KeyedVectors(vectors, keys).save_word2vec_format(str(tmp_path / "ours"), binary=binary)
    g.save_word2vec_format(str(tmp_path / "gensim"), binary=binary)
    assert (tmp_path / "ours").read_bytes() == (tmp_path / "gensim").read_bytes()


@pytest.mark.parametrize("binary", [False, True])
def test_round_trip_with_gensim(trained, tmp_path, binary):
    g, kv = trained
    path = str(tmp_path / "vectors")
    kv.save_word2vec_format(path, binary=binary)
    back = GensimKV.load_word2vec_format(path, binary=binary)  # gensim reads ours
    assert back.index_to_key == kv.index_to_key
    np.testing.assert_array_equal(back.vectors, kv.vectors)

    g.save_word2vec_format(path, binary=binary)  # we read gensim's
    ours = KeyedVectors.load_word2vec_format(path, binary=binary)
    assert ours.index_to_key == g.index_to_key
    np.testing.assert_array_equal(ours.vectors, g.vectors)
    assert ours.vectors.dtype == np.float32

    limited = KeyedVectors.load_word2vec_format(path, binary=binary, limit=25)
    g_limited = GensimKV.load_word2vec_format(path, binary=binary, limit=25)
    assert limited.index_to_key == g_limited.index_to_key and len(limited) == 25
    np.testing.assert_array_equal(limited.vectors, g_limited.vectors)


def test_fvocab_round_trip(trained, tmp_path):
    _g, kv = trained
    path, vocab = str(tmp_path / "v.txt"), str(tmp_path / "vocab.txt")
    kv.save_word2vec_format(path, fvocab=vocab)
    back = GensimKV.load_word2vec_format(path, fvocab=vocab)
    assert [back.get_vecattr(k, "count") for k in back.index_to_key] == kv.counts.tolist()
    ours = KeyedVectors.load_word2vec_format(path, fvocab=vocab)
    np.testing.assert_array_equal(ours.counts, kv.counts)


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("euclidean_vectors.bin", {"binary": True}),
        ("high_precision.kv.bin", {"binary": True}),
        ("high_precision.kv.txt", {}),
        ("crime-and-punishment.vec", {}),
        ("lee_fasttext.vec", {"limit": 100}),
        ("test_glove.txt", {"no_header": True}),
        ("test_glove.txt", {"no_header": True, "limit": 7}),
        ("high_precision.kv.txt", {"datatype": np.float64}),
    ],
)
def test_shipped_files_load_like_gensim(tmp_path, name, kwargs):
    g = GensimKV.load_word2vec_format(data(name), **kwargs)
    kv = KeyedVectors.load_word2vec_format(data(name), **kwargs)
    assert kv.index_to_key == g.index_to_key
    assert kv.vectors.dtype == g.vectors.dtype
    np.testing.assert_array_equal(kv.vectors, g.vectors)
    # and what we write back is what gensim writes back
    for binary in (False, True):
        kv.save_word2vec_format(str(tmp_path / "ours"), binary=binary)
        g.save_word2vec_format(str(tmp_path / "gensim"), binary=binary)
        assert (tmp_path / "ours").read_bytes() == (tmp_path / "gensim").read_bytes()


def test_reads_word2vec_c_binary_with_newlines(tmp_path):
    """word2vec.c ends every vector with a newline (gensim's writer does not); both must read the same."""
    vectors = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    body = b"".join(f"{w} ".encode() + v.tobytes() + b"\n" for w, v in zip(["a", "bé", "c"], vectors))
    path = tmp_path / "c.bin"
    path.write_bytes(b"3 4\n" + body)
    kv = KeyedVectors.load_word2vec_format(str(path), binary=True)
    assert kv.index_to_key == ["a", "bé", "c"]
    np.testing.assert_array_equal(kv.vectors, vectors)


def test_duplicate_words_in_file_keep_first(tmp_path, caplog):
    path = tmp_path / "dup.txt"
    path.write_text("3 2\na 1 2\nb 3 4\na 5 6\n")
    kv = KeyedVectors.load_word2vec_format(str(path))
    g = GensimKV.load_word2vec_format(str(path))  # (gensim leaves a None in index_to_key here)
    assert kv.index_to_key == g.index_to_key[:2] == ["a", "b"]
    np.testing.assert_array_equal(kv.vectors, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(kv.vectors, g.vectors[:2])
    assert "duplicate word 'a'" in caplog.text


# ---------------------------------------------------------------------- bad input


def test_missing_file(tmp_path):
    missing = str(tmp_path / "nope.bin")
    with pytest.raises(FileNotFoundError, match="nope.bin"):
        KeyedVectors.load_word2vec_format(missing)


def test_truncated_shipped_text_file():
    # pretrained.vec declares 3 vectors but holds 1 (gensim raises EOFError)
    with pytest.raises(ValueError, match=r"pretrained\.vec: unexpected end of file after line 2: found 1 of the 3"):
        KeyedVectors.load_word2vec_format(data("pretrained.vec"))


def test_not_a_word2vec_file():
    # toy-model.bin is a pickled gensim model
    with pytest.raises(ValueError, match=r"toy-model\.bin, line 1: .*not a word2vec-format file"):
        KeyedVectors.load_word2vec_format(data("toy-model.bin"), binary=True)


def test_truncated_binary(trained, tmp_path):
    _, kv = trained
    path = tmp_path / "v.bin"
    kv.save_word2vec_format(str(path), binary=True)
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(ValueError, match=r"v\.bin, entry \d+: unexpected end of file.*truncated"):
        KeyedVectors.load_word2vec_format(str(path), binary=True)


def test_text_read_as_binary_and_binary_read_as_text(trained, tmp_path):
    _, kv = trained
    text, binary = tmp_path / "v.txt", tmp_path / "v.bin"
    kv.save_word2vec_format(str(text))
    kv.save_word2vec_format(str(binary), binary=True)
    with pytest.raises(ValueError, match=r"v\.txt.*try binary=False") as as_binary:
        KeyedVectors.load_word2vec_format(str(text), binary=True)
    with pytest.raises(ValueError, match=r"v\.bin, line 2.*try binary=True") as as_text:
        KeyedVectors.load_word2vec_format(str(binary))
    for err in (as_binary, as_text):  # the wrong reader, not a damaged file
        assert isinstance(err.value, hfext.vectors.Word2VecFormatError)
        assert str(err.value).endswith("(see docs/troubleshooting.md#vectors-file-format)")


@pytest.mark.parametrize(
    "content, kwargs, message, section",
    [
        ("3 2\na 1 2\nb 3 4\n", {}, "found 2 of the 3 vectors declared in the header", "damaged"),
        ("2 3\na 1 2 3\nb 3 4\n", {}, "line 3: expected 3 values after the word 'b', found 2", "damaged"),
        ("2 2\na 1 2\nb 3 x\n", {}, "line 3: non-numeric value for word 'b'", "damaged"),
        ("1 2\na 1 2\nb 3 4\n", {}, "line 3: the header declares 1 vectors but the file has more", "damaged"),
        ("the 0.1 0.2\nof 0.3 0.4\n", {}, "line 1: expected a header '<count> <dimensions>'", "format"),
        ("the 0.1 0.2\nof 0.3 0.4\n", {}, "no_header=True", "format"),
        ("a 1 2\nb 3 4 5\n", {"no_header": True}, "line 2: expected 2 values after the word 'b', found 3", "damaged"),
        ("", {"no_header": True}, "no vectors found", "damaged"),
        ("2 2\na 1 2\n", {"binary": True}, "unexpected end of file", "damaged"),
        ("2 2\n", {"binary": True, "no_header": True}, "only works for text files", "format"),
    ],
)
def test_malformed_files(tmp_path, content, kwargs, message, section):
    path = tmp_path / "bad.vec"
    path.write_text(content)
    with pytest.raises(ValueError, match=re.escape(message)) as err:
        KeyedVectors.load_word2vec_format(str(path), **kwargs)
    assert "bad.vec" in str(err.value) or "only works" in message
    # damaged: truncated or miscounted; format: read with the wrong options
    assert str(err.value).endswith(f"(see docs/troubleshooting.md#vectors-file-{section})")


def test_limit_ignores_extra_lines(tmp_path):
    path = tmp_path / "ok.vec"
    path.write_text("3 2\na 1 2\nb 3 4\nc 5 6\n\n")  # trailing blank line is fine
    assert KeyedVectors.load_word2vec_format(str(path), limit=2).index_to_key == ["a", "b"]
    assert KeyedVectors.load_word2vec_format(str(path)).index_to_key == ["a", "b", "c"]


@pytest.mark.parametrize("binary", [False, True])
def test_failed_write_leaves_no_file(trained, tmp_path, monkeypatch, binary):
    _, kv = trained
    calls = []

    def failing_entry(word, vector, is_binary):
        calls.append(word)
        if len(calls) == 3:
            raise OSError("disk full")
        return b"x"

    existing = tmp_path / "existing.vec"
    existing.write_bytes(b"old content")
    monkeypatch.setattr(hfext.vectors, "_entry_bytes", failing_entry)
    with pytest.raises(OSError, match="disk full"):
        kv.save_word2vec_format(str(tmp_path / "new.vec"), binary=binary)
    calls.clear()
    with pytest.raises(OSError, match="disk full"):
        kv.save_word2vec_format(str(existing), binary=binary)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing.vec"]  # no partial or temp file
    assert existing.read_bytes() == b"old content"


# ---------------------------------------------------------------------- native format, docs


def test_save_load_safetensors(trained, tmp_path):
    _, kv = trained
    path = tmp_path / "kv.safetensors"
    kv.save(str(path))
    back = KeyedVectors.load(str(path))
    assert back.index_to_key == kv.index_to_key
    np.testing.assert_array_equal(back.vectors, kv.vectors)
    np.testing.assert_array_equal(back.counts, kv.counts)
    assert [p.name for p in tmp_path.iterdir()] == ["kv.safetensors"]
    assert b"pickle" not in path.read_bytes()[:200]

    no_counts = KeyedVectors(kv.vectors[:3], kv.index_to_key[:3])
    no_counts.save(str(path))
    assert KeyedVectors.load(str(path)).counts is None

    with pytest.raises(FileNotFoundError, match="missing.safetensors"):
        KeyedVectors.load(str(tmp_path / "missing.safetensors"))
    from safetensors.numpy import save_file

    save_file({"x": np.zeros(2, np.float32)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="not a file written by KeyedVectors.save"):
        KeyedVectors.load(str(tmp_path / "other.safetensors"))


def test_module_docstring_examples():
    result = doctest.testmod(hfext.vectors)
    assert result.attempted > 0 and result.failed == 0
