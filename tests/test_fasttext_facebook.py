"""Parity with Facebook's own fastText (the `fasttext` Python bindings of the C++ library): n-gram
hashing, in-vocabulary and out-of-vocabulary word vectors of converted `.bin` files, and `.bin` files
hfext writes loading back into fastText."""

import numpy as np
import pytest

fasttext = pytest.importorskip("fasttext")

from hfext.convert import convert_fasttext_bin, save_fasttext_bin
from hfext.vectors import KeyedVectors

# The .bin files in gensim's test data that Facebook's fastText 0.9 itself can read (version 12).
FACEBOOK_READABLE = ["lee_fasttext_new.bin", "crime-and-punishment.bin", "toy-model.bin", "toy-model-pretrained.bin"]
OOV_WORDS = ["hfextunseenword", "naïveté", "東京都", "x", "🙂emoji", "Ünïcödé-words"]


def facebook_vector(model, word):
    return model.get_word_vector(word)


@pytest.mark.parametrize("name", FACEBOOK_READABLE)
def test_converted_vectors_match_facebook(tmp_path, gensim_data, name):
    source = gensim_data / name
    reference = fasttext.load_model(str(source))
    converted = convert_fasttext_bin(source, tmp_path / "model")
    kv = KeyedVectors.from_pretrained(str(converted))
    words = reference.words
    assert kv.index_to_key == words  # same vocabulary, same order
    expected = np.stack([facebook_vector(reference, w) for w in words])
    np.testing.assert_allclose(np.stack([kv[w] for w in words]), expected, atol=1e-5)
    for word in OOV_WORDS:
        np.testing.assert_allclose(kv[word], facebook_vector(reference, word), atol=1e-5, err_msg=word)


def test_subword_hashes_match_facebook(gensim_data):
    from hfext_fasttext.modeling_fasttext import subword_buckets

    reference = fasttext.load_model(str(gensim_data / "lee_fasttext_new.bin"))
    args = reference.f.getArgs()
    nwords = len(reference.words)
    for word in OOV_WORDS + ["the", "government", "a"]:
        _, ids = reference.get_subwords(word)
        ngram_ids = [int(i) - nwords for i in ids if i >= nwords]  # Facebook: ngram rows follow the words
        assert subword_buckets(word, args.minn, args.maxn, args.bucket) == ngram_ids, word


def test_bin_written_by_hfext_loads_in_facebook_fasttext(tmp_path, gensim_data):
    """Round trip through hfext's model folder back to a .bin that fastText reads with the same vectors."""
    source = gensim_data / "lee_fasttext_new.bin"
    converted = convert_fasttext_bin(source, tmp_path / "model")
    written = tmp_path / "written.bin"
    save_fasttext_bin(converted, written)
    assert written.read_bytes() == source.read_bytes()
    reloaded = fasttext.load_model(str(written))
    original = fasttext.load_model(str(source))
    for word in original.words[:50] + OOV_WORDS:
        np.testing.assert_array_equal(reloaded.get_word_vector(word), original.get_word_vector(word))
