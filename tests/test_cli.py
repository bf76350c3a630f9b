"""The `hfext` command: each command's output checked against the library calls it wraps and against gensim,
on a small word2vec trained once (through `hfext train word2vec`) on gensim's Lee corpus."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

gensim = pytest.importorskip("gensim")
from gensim.models import KeyedVectors as GensimKV

from hfext.cli import main
from hfext.vectors import KeyedVectors

DATA = os.path.join(os.path.dirname(gensim.__file__), "test", "test_data")
LEE = os.path.join(DATA, "lee_background.cor")
QUESTIONS = os.path.join(DATA, "questions-words.txt")
WORDSIM = os.path.join(DATA, "wordsim353.tsv")
HFEXT = str(Path(sys.executable).with_name("hfext"))  # the console script installed with the package


def run(capsys, *argv):
    """`hfext ARGV` in this process: (exit status, stdout, stderr); argparse usage errors count as status 2."""
    capsys.readouterr()
    try:
        code = main(list(argv))
    except SystemExit as exit:
        code = exit.code
    out, err = capsys.readouterr()
    return code, out, err


def points_to(err: str, section: str) -> bool:
    """The error line ends with its troubleshooting section, once."""
    return err.rstrip().endswith(f"(see docs/troubleshooting.md#{section})") and err.count("troubleshooting.md#") == 1


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("w2v")
    code = main(["train", "word2vec", "--train_file", LEE, "--output_dir", str(out), "--num_train_epochs", "1",
                 "--min_count", "5", "--vector_size", "32", "--seed", "7"])
    assert code == 0
    return str(out)


@pytest.fixture(scope="module")
def kv(model_dir):
    return KeyedVectors.from_pretrained(model_dir)


def test_train_writes_a_model_directory(model_dir, kv):
    config = json.loads(Path(model_dir, "config.json").read_text())
    assert config["model_type"] == "hfext-skipgram" and config["vector_size"] == 32
    assert json.loads(Path(model_dir, "all_results.json").read_text())["vocab_size"] == len(kv)
    assert kv.vector_size == 32 and "government" in kv and len(kv) > 1000


def test_train_usage_errors(capsys, tmp_path):
    code, _, err = run(capsys, "train", "word2vec", "--train_file", str(tmp_path / "nope.txt"), "--output_dir", str(tmp_path))
    assert code == 2 and f"--train_file '{tmp_path / 'nope.txt'}' does not exist" in err and "Traceback" not in err
    code, _, err = run(capsys, "train", "word2vec", "--train_file", LEE)  # the recipe's own argparse error
    assert code == 2 and "hfext train word2vec" in err and "--output_dir" in err
    code, _, err = run(capsys, "train", "bert2vec", "--train_file", LEE)
    assert code == 2 and "no training recipe for 'bert2vec'" in err and "available: " in err
    assert points_to(err, "recipes-and-tour")
    assert all(family in err for family in ("word2vec", "glove", "fasttext", "seq2seq"))
    assert "squad" not in err  # fine-tuning recipes are `hfext finetune`'s
    code, _, err = run(capsys, "finetune", "sst", "--output_dir", str(tmp_path))
    assert code == 2 and "no fine-tuning recipe for 'sst'" in err and "glue" in err and "word2vec" not in err


# ---------------------------------------------------------------------- export


@pytest.mark.parametrize("binary", [False, True])
def test_export_word2vec_format_is_read_by_gensim(capsys, model_dir, kv, tmp_path, binary):
    out = tmp_path / ("vectors.bin" if binary else "vectors.txt")
    code, stdout, err = run(capsys, "export", "word2vec-format", model_dir, str(out), *(["--binary"] if binary else []))
    assert code == 0, err
    assert stdout.startswith(f"wrote {len(kv)} vectors of dimension 32 to {out}")
    theirs = GensimKV.load_word2vec_format(str(out), binary=binary)
    assert sorted(theirs.index_to_key) == sorted(kv.index_to_key)
    # exact: text values are written with the shortest repr that round-trips float32
    np.testing.assert_array_equal(theirs[kv.index_to_key], kv.vectors)
    # like gensim, the file lists words by descending corpus frequency
    counts = [kv.counts[kv.key_to_index[w]] for w in theirs.index_to_key]
    assert counts == sorted(counts, reverse=True)


def test_export_errors(capsys, model_dir, tmp_path):
    code, _, err = run(capsys, "export", "word2vec-format", model_dir, str(tmp_path / "missing" / "v.txt"))
    assert code == 2 and "does not exist; create it first" in err and points_to(err, "output-file")
    code, _, err = run(capsys, "export", "word2vec-format", model_dir, str(tmp_path))
    assert code == 2 and "is a directory" in err and points_to(err, "output-file")


# ---------------------------------------------------------------------- eval


def _section_counts(sections):
    return [(s["section"], len(s["correct"]), len(s["correct"]) + len(s["incorrect"])) for s in sections]


@pytest.mark.parametrize("flags, kwargs", [
    ([], {}),
    (["--case_sensitive", "--restrict_vocab", "800"], {"case_insensitive": False, "restrict_vocab": 800}),
])
def test_eval_analogies_matches_keyedvectors(capsys, model_dir, kv, flags, kwargs):
    score, sections = kv.evaluate_word_analogies(QUESTIONS, **kwargs)
    expected = _section_counts(sections)
    assert expected[-1][2] > 0  # some questions are in the vocabulary: the comparison means something

    code, out, err = run(capsys, "eval", "analogies", model_dir, QUESTIONS, *flags, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["accuracy"] == score
    assert (result["correct"], result["total"]) == expected[-1][1:]
    assert [(s["section"], s["correct"], s["total"]) for s in result["sections"]] == expected[:-1]

    code, out, err = run(capsys, "eval", "analogies", model_dir, QUESTIONS, *flags)
    assert code == 0, err
    rows = {line.rsplit(None, 3)[0]: line.rsplit(None, 3)[1:] for line in out.splitlines()[2:] if not line.startswith("(")}
    for name, correct, total in expected:
        accuracy = f"{100 * correct / total:.1f}%" if total else "-"
        assert rows[name] == [str(correct), str(total), accuracy]


def test_case_sensitive_changes_what_is_asked(capsys, model_dir, kv, tmp_path):
    # "the"/"The" are both words of the Lee corpus; "says" is, "Says" (capitalised) is not
    assert {"the", "The", "says"} <= set(kv.key_to_index) and "Says" not in kv
    questions = tmp_path / "mixed-case.txt"
    questions.write_text(": mixed-case\nthe The says Says\nThe the says says\n")
    _, out_default, _ = run(capsys, "eval", "analogies", model_dir, str(questions), "--json")
    _, out_exact, _ = run(capsys, "eval", "analogies", model_dir, str(questions), "--json", "--case_sensitive")
    assert json.loads(out_default)["total"] == 2  # upper-cased, every word is known
    assert json.loads(out_exact)["total"] == 1  # "Says" is not a key


def test_eval_similarity_matches_keyedvectors(capsys, model_dir, kv):
    pearson, spearman, oov = kv.evaluate_word_pairs(WORDSIM)
    code, out, err = run(capsys, "eval", "similarity", model_dir, WORDSIM, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["pearson"] == pearson[0] and result["spearman"] == spearman[0]
    assert result["pearson_pvalue"] == pearson[1] and result["spearman_pvalue"] == spearman[1]
    assert result["oov_ratio"] == oov and 0 < oov < 100

    code, out, err = run(capsys, "eval", "similarity", model_dir, WORDSIM)
    assert code == 0, err
    assert [line.split() for line in out.splitlines()[2:]] == [
        ["Pearson", f"{pearson[0]:.4f}", f"{pearson[1]:.3g}"],
        ["Spearman", f"{spearman[0]:.4f}", f"{spearman[1]:.3g}"],
        ["OOV", "pairs", f"{oov:.1f}%"],
    ]


def test_eval_similarity_delimiter(capsys, model_dir, kv, tmp_path):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("# word1,word2,score\ngovernment,police,7.5\nfire,police,3.0\ngovernment,fire,1.0\n")
    _pearson, spearman, oov = kv.evaluate_word_pairs(str(pairs), delimiter=",")
    code, out, err = run(capsys, "eval", "similarity", model_dir, str(pairs), "--delimiter", ",", "--json")
    assert code == 0, err
    assert json.loads(out)["spearman"] == spearman[0] and json.loads(out)["oov_ratio"] == oov == 0
    code, _, err = run(capsys, "eval", "similarity", model_dir, str(pairs))  # wrong delimiter: no valid line
    assert code == 2 and "No valid similarity judgements" in err and "delimiter '\\t'" in err


def test_eval_file_errors(capsys, model_dir):
    code, _, err = run(capsys, "eval", "analogies", model_dir, "questions.txt")
    assert code == 2 and "analogy file 'questions.txt' does not exist" in err and QUESTIONS in err
    assert points_to(err, "input-file")
    code, _, err = run(capsys, "eval", "similarity", model_dir, "ws.tsv")
    assert code == 2 and "word-pair file 'ws.tsv' does not exist" in err and WORDSIM in err


# ---------------------------------------------------------------------- neighbors


def test_neighbors_match_most_similar(capsys, model_dir, kv):
    expected = kv.most_similar("government", topn=7)
    code, out, err = run(capsys, "neighbors", model_dir, "government", "--topn", "7", "--json")
    assert code == 0, err
    assert [(n["word"], n["similarity"]) for n in json.loads(out)] == [(w, s) for w, s in expected]

    code, out, err = run(capsys, "neighbors", model_dir, "government", "--topn", "7")
    assert code == 0, err
    rows = [line.split() for line in out.splitlines()[3:]]
    assert [r[1] for r in rows] == [w for w, _ in expected]
    assert [r[2] for r in rows] == [f"{s:.4f}" for _, s in expected]
    assert [r[0] for r in rows] == [str(i) for i in range(1, 8)]


def test_neighbors_with_positive_and_negative(capsys, model_dir, kv):
    expected = kv.most_similar(positive=["police", "fire"], negative=["government"], topn=5)
    code, out, err = run(capsys, "neighbors", model_dir, "police", "--positive", "fire", "--negative", "government",
                         "--topn", "5", "--json")
    assert code == 0, err
    assert [(n["word"], n["similarity"]) for n in json.loads(out)] == expected


def test_neighbors_unknown_word(capsys, model_dir, kv):
    code, out, err = run(capsys, "neighbors", model_dir, "governmnet")
    assert code == 2 and out == ""
    assert "word 'governmnet' is not in the vocabulary" in err
    assert "closest known words: government" in err
    assert points_to(err, "unknown-word")
    code, _, err = run(capsys, "neighbors", model_dir, "police", "--negative", "zzzqqq")
    assert code == 2 and "'zzzqqq'" in err
    code, _, err = run(capsys, "neighbors", model_dir, "police", "--topn", "0")
    assert code == 2 and "--topn must be >= 1" in err and points_to(err, "flag-value")


# ---------------------------------------------------------------------- bad model directories


def test_bad_model_dirs(capsys, model_dir, tmp_path):
    missing = tmp_path / "no_such_model"
    code, out, err = run(capsys, "neighbors", str(missing), "police")
    assert code == 2 and out == ""
    assert f"model directory '{missing}' does not exist" in err and "hfext train word2vec" in err
    assert points_to(err, "model-dir")

    code, _, err = run(capsys, "eval", "similarity", os.path.join(model_dir, "config.json"), WORDSIM)
    assert code == 2 and "is a file, not a model directory" in err

    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run(capsys, "export", "word2vec-format", str(empty), str(tmp_path / "v.txt"))
    assert code == 2 and "has no config.json, so it is not a Hugging Face model directory" in err

    from transformers import BertConfig

    BertConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8).save_pretrained(tmp_path / "bert")
    code, _, err = run(capsys, "neighbors", str(tmp_path / "bert"), "police")
    assert code == 2 and "holds a 'bert' model (BertConfig), not a word-vector model" in err
    assert "hfext-skipgram, hfext-cbow" in err and points_to(err, "wrong-model-kind")

    unknown = tmp_path / "glove"
    unknown.mkdir()
    (unknown / "config.json").write_text(json.dumps({"model_type": "hfext-notinstalled"}))
    code, _, err = run(capsys, "neighbors", str(unknown), "police")
    assert code == 2 and "type 'hfext-notinstalled', which no installed hfext plugin provides" in err
    assert points_to(err, "model-type-mismatch")

    no_tokenizer = tmp_path / "no_tokenizer"
    no_tokenizer.mkdir()
    for name in ("config.json", "model.safetensors"):
        (no_tokenizer / name).write_bytes(Path(model_dir, name).read_bytes())
    code, _, err = run(capsys, "neighbors", str(no_tokenizer), "police")
    assert code == 2 and "has no tokenizer" in err and points_to(err, "no-tokenizer")


# ---------------------------------------------------------------------- the installed console script


def test_console_script(model_dir, capsys):
    result = subprocess.run([HFEXT, "neighbors", model_dir, "governmnet"], check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2  # a real process exit status
    assert "hfext: error: word 'governmnet' is not in the vocabulary" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""

    result = subprocess.run([HFEXT, "eval", "similarity", model_dir, WORDSIM, "--json"], check=False, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    _, out, _ = run(capsys, "eval", "similarity", model_dir, WORDSIM, "--json")
    assert json.loads(result.stdout) == json.loads(out)


# ---------------------------------------------------------------------- quickstart


def test_quickstart(capsys, tmp_path, monkeypatch):
    out_dir = tmp_path / "qs"
    # a small corpus and one epoch keep the test fast; the default run uses head500.noblanks.cor
    code, out, err = run(capsys, "quickstart", "--output_dir", str(out_dir), "--train_file", LEE, "--epochs", "1")
    assert code == 0, err
    assert "analogies (questions-words.txt): accuracy" in out and "WordSim353 (wordsim353.tsv): Spearman" in out
    assert "AutoModel.from_pretrained -> SkipGramModel (hfext-skipgram)" in out
    assert "vectors identical to the saved weights: yes; token ids give the KeyedVectors rows: yes" in out
    # the neighbours it prints are the saved model's
    reloaded = KeyedVectors.from_pretrained(str(out_dir))
    shown = out[out.index("[3/4]") : out.index("[4/4]")].splitlines()[1:]
    assert len(shown) == 4
    for line in shown:
        word = line.strip().split(": ", 1)[0]
        expected = ", ".join(f"{w} ({s:.2f})" for w, s in reloaded.most_similar(word, topn=5))
        assert line.strip() == f"{word}: {expected}"

    monkeypatch.setitem(sys.modules, "gensim", None)  # as if gensim were not installed
    code, _, err = run(capsys, "quickstart", "--output_dir", str(tmp_path / "qs2"))
    assert code == 2 and "pip install gensim" in err and "--train_file" in err
    assert points_to(err, "optional-dependency")


@pytest.mark.parametrize("name", sorted(p.stem for p in (Path(__file__).resolve().parent.parent / "recipes").glob("*.py")))
def test_every_recipe_prints_its_help(name, capsys):
    from conftest import load_recipe

    with pytest.raises(SystemExit) as exit_info:
        load_recipe(name).parse_args(["--help"])
    assert exit_info.value.code == 0 and "--output_dir" in capsys.readouterr().out


def test_explain_prints_the_section_an_error_points_to(capsys):
    from hfext.loading import UnsafeWeightsError

    pointer = str(UnsafeWeightsError("only pickle")).split("(see ")[1].rstrip(")")  # docs/troubleshooting.md#pickle-weights
    code, out, _ = run(capsys, "explain", pointer)
    assert code == 0
    assert out.startswith("Weights only as pickle\n======================\n") and "allow_pickle=True" in out
    assert "## " not in out  # one section, not the next one
    code, out, _ = run(capsys, "explain")
    anchors = [line.split()[0] for line in out.splitlines()[2:]]
    assert code == 0 and "pickle-weights" in anchors and "omp-threads" in anchors and len(anchors) >= 70
    code, _, err = run(capsys, "explain", "pickle-weight")
    assert code == 2 and "no troubleshooting section 'pickle-weight'; did you mean pickle-weights?" in err
