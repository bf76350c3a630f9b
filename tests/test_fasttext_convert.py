"""Facebook fastText .bin <-> hfext-fasttext: parity with gensim's load_facebook_model on the real files gensim
ships (in-vocabulary and OOV vectors), byte-identical write-back, memory-mapped FastTextKeyedVectors, the CLI,
and every kind of bad input."""

import filecmp
import shutil
import struct

import numpy as np
import pytest
import torch
from hfext_fasttext import FastTextConfig, FastTextModel
from transformers import AutoModel, AutoTokenizer

import hfext  # noqa: F401  (registers the plugins)
from hfext.cli import main as hfext_main
from hfext.convert import (
    FastTextFormatError,
    convert_fasttext_bin,
    read_fasttext_bin_info,
    save_fasttext_bin,
)
from hfext.data import Vocabulary
from hfext.vectors import FastTextKeyedVectors, KeyedVectors

gensim_fasttext = pytest.importorskip("gensim.models.fasttext")

# Every unsupervised .bin gensim ships: pre-2017 layout (lee, non_ascii, cp852), version 11 and version 12,
# skip-gram and CBOW (toy-model), Cyrillic words, non-UTF-8 words (cp852).
BINS = ["lee_fasttext.bin", "lee_fasttext_new.bin", "toy-model.bin", "toy-model-pretrained.bin",
        "crime-and-punishment.bin", "non_ascii_fasttext.bin", "cp852_fasttext.bin"]
OOV = ["governmentt", "zzqx", "naïveté", "преступление", "中文字", "😀ok", "ab", "x"]


@pytest.fixture(scope="module")
def converted(tmp_path_factory, gensim_data):
    """Each shipped .bin converted once: {name: model dir}."""
    root = tmp_path_factory.mktemp("converted")
    return {name: convert_fasttext_bin(gensim_data / name, root / name.replace(".bin", "")) for name in BINS}


@pytest.mark.parametrize("name", BINS)
def test_vectors_match_gensim(name, converted, gensim_data):
    gensim_kv = gensim_fasttext.load_facebook_model(str(gensim_data / name)).wv
    kv = KeyedVectors.from_pretrained(converted[name])
    assert isinstance(kv, FastTextKeyedVectors)
    assert kv.index_to_key == gensim_kv.index_to_key
    # gensim gives the line-end word "</s>" n-grams; fastText since its 2017 file format does not (hfext follows
    # fastText: tests/test_fasttext_facebook.py), so for those files "</s>" is compared there, not here.
    same = [i for i, w in enumerate(kv.index_to_key) if w != "</s>" or name == "lee_fasttext.bin"]
    np.testing.assert_allclose(kv.vectors[same], gensim_kv.vectors[same], atol=1e-5, rtol=0)
    for word in OOV + [gensim_kv.index_to_key[-1] + "qq"]:
        assert word in kv and not kv.has_index_for(word)  # gensim: any word with n-grams is "in" the model
        np.testing.assert_allclose(kv[word], gensim_kv[word], atol=1e-5, rtol=0)
        np.testing.assert_allclose(kv.get_vector(word, norm=True), gensim_kv.get_vector(word, norm=True), atol=1e-5)
    np.testing.assert_array_equal(kv.counts, [gensim_kv.get_vecattr(w, "count") for w in kv.index_to_key])


@pytest.mark.parametrize("name", BINS)
def test_write_back_is_byte_identical(name, converted, gensim_data, tmp_path):
    save_fasttext_bin(converted[name], tmp_path / "back.bin")
    assert filecmp.cmp(gensim_data / name, tmp_path / "back.bin", shallow=False)


def test_converted_dir_loads_with_auto_classes(converted, gensim_data):
    model = AutoModel.from_pretrained(converted["lee_fasttext.bin"])
    tokenizer = AutoTokenizer.from_pretrained(converted["lee_fasttext.bin"])
    assert isinstance(model, FastTextModel)
    config = model.config
    assert (config.vocab_size, config.bucket, config.vector_size, config.architecture) == (1763, 1000, 10, "skipgram")
    assert tokenizer.convert_ids_to_tokens(1762) == "[UNK]" and tokenizer.convert_tokens_to_ids("the") == 0
    assert torch.count_nonzero(model.input_embeddings.weight[1762]) == 0
    gensim_kv = gensim_fasttext.load_facebook_model(str(gensim_data / "lee_fasttext.bin")).wv
    for word in ["government", "the", "Australia"]:
        np.testing.assert_allclose(model.get_word_vector(word, tokenizer.convert_tokens_to_ids(word)).numpy(),
                                   gensim_kv[word], atol=1e-5)
    np.testing.assert_allclose(model.get_word_vector("governmentt").numpy(), gensim_kv["governmentt"], atol=1e-5)
    # the model itself writes the same .bin back
    assert config.facebook_args["ntokens"] == 60189


def test_keyed_vectors_are_memory_mapped_and_queryable(converted):
    kv = KeyedVectors.from_pretrained(converted["lee_fasttext.bin"])
    assert isinstance(kv.vectors_ngrams, np.memmap)
    assert not kv.vectors.flags.owndata and not kv.vectors.flags.writeable  # a view of the read-only mapping
    assert kv.vectors_ngrams.shape == (1000, 10)
    neighbours = [w for w, _ in kv.most_similar("governmentt", topn=5)]  # an OOV query
    assert "government," in neighbours[:3]  # the corpus was not tokenised: punctuation sticks to words
    assert kv.most_similar_cosmul(positive=["governmentt"], topn=1)
    # without the cached composed vectors the same vectors are composed from the model's rows
    no_cache = converted["lee_fasttext.bin"].parent / "no-cache"
    shutil.copytree(converted["lee_fasttext.bin"], no_cache)
    (no_cache / "word_vectors.safetensors").unlink()
    np.testing.assert_allclose(KeyedVectors.from_pretrained(no_cache).vectors, kv.vectors, atol=1e-6)


def test_stale_word_vector_cache_is_ignored(converted, tmp_path):
    model_dir = tmp_path / "lee"
    shutil.copytree(converted["lee_fasttext.bin"], model_dir)
    model = AutoModel.from_pretrained(model_dir)
    with torch.no_grad():
        model.input_embeddings.weight.mul_(2)  # "more training"
    model.save_pretrained(model_dir)
    kv = KeyedVectors.from_pretrained(model_dir)
    np.testing.assert_allclose(kv.vectors, 2 * KeyedVectors.from_pretrained(converted["lee_fasttext.bin"]).vectors,
                               atol=1e-5)


def test_vec_export_matches_facebook_vec(converted, gensim_data, tmp_path):
    convert_fasttext_bin(gensim_data / "lee_fasttext.bin", tmp_path / "lee", vec=tmp_path / "lee.vec")
    ours = KeyedVectors.load_word2vec_format(tmp_path / "lee.vec")
    facebook = KeyedVectors.load_word2vec_format(gensim_data / "lee_fasttext.vec")  # fastText's own .vec
    assert ours.index_to_key == facebook.index_to_key
    np.testing.assert_allclose(ours.vectors, facebook.vectors, atol=1e-4)  # fastText prints 5 significant digits


def test_export_a_model_built_in_hfext_reads_in_gensim(tmp_path):
    words = ["cat", "cats", "dog", "mouse", "mice", "caterpillar"]
    torch.manual_seed(0)
    model = FastTextModel(FastTextConfig(vocab_size=len(words) + 1, vector_size=4, bucket=50, min_count=1))
    model.set_vocabulary(words, [60, 50, 40, 30, 20, 10])
    tokenizer = Vocabulary(words, [60, 50, 40, 30, 20, 10]).to_tokenizer()
    save_fasttext_bin(model, tmp_path / "model.bin", tokenizer=tokenizer)
    gensim_kv = gensim_fasttext.load_facebook_model(str(tmp_path / "model.bin")).wv
    assert gensim_kv.index_to_key == words
    for index, word in enumerate(words):
        np.testing.assert_allclose(gensim_kv[word], model.get_word_vector(word, index).numpy(), atol=1e-6)
    np.testing.assert_allclose(gensim_kv["catz"], model.get_word_vector("catz").numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="needs the model's tokenizer") as err:
        save_fasttext_bin(model, tmp_path / "x.bin")
    assert str(err.value).endswith("(see docs/troubleshooting.md#fasttext-model-folder)")


# ---------------------------------------------------------------------- bad input


def _patched(gensim_data, tmp_path, offset, data, name="toy-model.bin"):
    raw = bytearray((gensim_data / name).read_bytes())
    raw[offset : offset + len(data)] = data
    path = tmp_path / "bad.bin"
    path.write_bytes(bytes(raw))
    return path


def test_wrong_magic(gensim_data, tmp_path):
    path = _patched(gensim_data, tmp_path, 0, struct.pack("<i", 123456789))
    with pytest.raises(FastTextFormatError, match=r"bad.bin is not a fastText .bin file: it starts with the number "
                                                  r"123456789 \(0x075bcd15\) where fastText writes its magic number 793712314"):
        read_fasttext_bin_info(path)


def test_text_file_gets_a_hint(gensim_data):
    with pytest.raises(FastTextFormatError, match="looks like a text file.*load_word2vec_format"):
        read_fasttext_bin_info(gensim_data / "toy-model.vec")


def test_wrong_version(gensim_data, tmp_path):
    path = _patched(gensim_data, tmp_path, 4, struct.pack("<i", 13))
    with pytest.raises(FastTextFormatError, match="has fastText file format version 13; hfext reads versions 11 and 12"):
        read_fasttext_bin_info(path)


@pytest.mark.parametrize("keep", [30, 200, 2000, 3312])
def test_truncated(gensim_data, tmp_path, keep):
    path = tmp_path / "cut.bin"
    path.write_bytes((gensim_data / "toy-model.bin").read_bytes()[:keep])
    with pytest.raises(FastTextFormatError, match="cut.bin is truncated.*fetch the file again"):
        read_fasttext_bin_info(path)
    with pytest.raises(FastTextFormatError, match="truncated"):
        convert_fasttext_bin(path, tmp_path / "out")
    assert not (tmp_path / "out").exists() and [p.name for p in tmp_path.iterdir()] == ["cut.bin"]  # nothing left


def test_quantized(gensim_data, tmp_path):
    info = read_fasttext_bin_info(gensim_data / "toy-model.bin")
    quant_flag = info.input_offset - 17  # bool quant_input, then int64 rows, cols
    with pytest.raises(FastTextFormatError, match=r"is a quantized fastText model \(.ftz.*Use the full .bin model"):
        read_fasttext_bin_info(_patched(gensim_data, tmp_path, quant_flag, b"\x01"))


def test_supervised(gensim_data):
    with pytest.raises(FastTextFormatError, match="is a supervised fastText model.*only unsupervised") as err:
        read_fasttext_bin_info(gensim_data / "pang_lee_polarity_fasttext.bin")
    assert str(err.value).endswith("(see docs/troubleshooting.md#convert-fasttext-bin)")


def test_missing_file_and_existing_destination(gensim_data, tmp_path):
    with pytest.raises(FileNotFoundError, match="fastText model '.*nope.bin' does not exist") as err:
        convert_fasttext_bin(tmp_path / "nope.bin", tmp_path / "out")
    assert str(err.value).endswith("(see docs/troubleshooting.md#convert-fasttext-bin)")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError, match="already exists and is not empty.*overwrite=True") as err:
        convert_fasttext_bin(gensim_data / "toy-model.bin", tmp_path / "busy")
    assert str(err.value).endswith("(see docs/troubleshooting.md#output-file)")
    convert_fasttext_bin(gensim_data / "toy-model.bin", tmp_path / "busy", overwrite=True)
    assert not (tmp_path / "busy" / "keep.txt").exists() and (tmp_path / "busy" / "model.safetensors").is_file()


# ---------------------------------------------------------------------- CLI


def test_cli_convert_neighbors_export(gensim_data, tmp_path, capsys):
    src = gensim_data / "lee_fasttext.bin"
    assert hfext_main(["convert", "fasttext-bin", str(src), str(tmp_path / "lee"), "--vec", str(tmp_path / "lee.vec")]) == 0
    assert "1762 words, 1000 n-gram buckets, dimension 10" in capsys.readouterr().out
    assert (tmp_path / "lee.vec").read_text().startswith("1762 10\nthe ")
    assert hfext_main(["neighbors", str(tmp_path / "lee"), "governmentt", "--topn", "3", "--json"]) == 0  # OOV word
    assert "government" in capsys.readouterr().out
    assert hfext_main(["export", "fasttext-bin", str(tmp_path / "lee"), str(tmp_path / "back.bin")]) == 0
    assert filecmp.cmp(src, tmp_path / "back.bin", shallow=False)


def test_cli_errors(gensim_data, tmp_path, capsys):
    assert hfext_main(["convert", "fasttext-bin", str(tmp_path / "nope.bin"), str(tmp_path / "out")]) == 2
    assert "nope.bin' does not exist; pass the path of a Facebook .bin file" in capsys.readouterr().err
    assert hfext_main(["convert", "fasttext-bin", str(gensim_data / "pang_lee_polarity_fasttext.bin"), str(tmp_path / "o")]) == 2
    assert "supervised fastText model" in capsys.readouterr().err
    assert hfext_main(["export", "fasttext-bin", str(tmp_path / "missing"), str(tmp_path / "x.bin")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_composition_in_small_chunks_matches_gensim(converted, gensim_data):
    """The converter reads the input matrix chunk by chunk; tiny chunks and batches give the same vectors."""
    from hfext.vectors import (
        compose_word_vectors,
        safetensors_memmap,
        tensor_row_reader,
    )

    weights = converted["crime-and-punishment.bin"] / "model.safetensors"
    read_rows, shape = tensor_row_reader(weights, "input_embeddings.weight")
    offsets, ids = safetensors_memmap(weights, "subword_offsets"), safetensors_memmap(weights, "subword_ids")
    vectors = compose_word_vectors(read_rows, shape, offsets, ids, 291, rows_per_chunk=7, batch=5)
    gensim_kv = gensim_fasttext.load_facebook_model(str(gensim_data / "crime-and-punishment.bin")).wv
    same = [i for i, w in enumerate(gensim_kv.index_to_key) if w != "</s>"]  # see test_vectors_match_gensim
    np.testing.assert_allclose(vectors[same], gensim_kv.vectors[same], atol=1e-5, rtol=0)
