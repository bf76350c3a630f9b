"""The lecture's country-capital picture: analogy pairs, the 2-D projection and `hfext plot`."""

import numpy as np
import pytest

from hfext.cli import main as cli_main
from hfext.plots import analogy_pairs, plot_word_pairs, project_2d
from hfext.vectors import KeyedVectors

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture()
def capital_vectors():
    """Countries and capitals that differ by one shared "capital of" offset, plus noise."""
    rng = np.random.default_rng(0)
    countries = ["greece", "iraq", "japan", "egypt", "france"]
    capitals = ["athens", "baghdad", "tokyo", "cairo", "paris"]
    base = rng.normal(size=(5, 20))
    offset = rng.normal(size=20) * 3
    vectors = np.concatenate([base, base + offset + rng.normal(scale=0.05, size=(5, 20))]).astype(np.float32)
    return KeyedVectors(vectors, countries + capitals), list(zip(countries, capitals))


def test_analogy_pairs_from_the_real_file(gensim_data):
    pairs = analogy_pairs(gensim_data / "questions-words.txt", "capital-common-countries")
    assert pairs[:3] == [("Greece", "Athens"), ("Iraq", "Baghdad"), ("Thailand", "Bangkok")]
    assert len(pairs) == len(set(pairs)) == 23
    vocab = KeyedVectors(np.eye(3, dtype=np.float32), ["greece", "athens", "iraq"])
    assert analogy_pairs(gensim_data / "questions-words.txt", "capital-common-countries", vocab) == [("greece", "athens")]
    with pytest.raises(KeyError, match="no section 'capitals'.*capital-world"):
        analogy_pairs(gensim_data / "questions-words.txt", "capitals")


def test_pca_is_the_top_two_principal_components():
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(30, 8)) @ np.diag([5, 3, 1, 1, 1, 1, 1, 1])
    coords = project_2d(vectors)
    np.testing.assert_allclose(coords.mean(0), 0, atol=1e-9)
    centred = vectors - vectors.mean(0)
    _eigenvalues, eigenvectors = np.linalg.eigh(np.cov(centred.T))
    top = eigenvectors[:, ::-1][:, :2]
    np.testing.assert_allclose(np.abs(coords), np.abs(centred @ top), atol=1e-8)  # equal up to the sign of each axis
    assert coords[:, 0].var() >= coords[:, 1].var()
    with pytest.raises(ValueError, match="at least 2 words"):
        project_2d(vectors[:1])
    with pytest.raises(ValueError, match="method must be one of"):
        project_2d(vectors, "umap")


def test_pairs_share_one_direction_in_the_picture(tmp_path, capital_vectors):
    kv, pairs = capital_vectors
    coords = plot_word_pairs(kv, pairs, tmp_path / "capitals.png")
    assert (tmp_path / "capitals.png").read_bytes()[:8] == PNG_MAGIC
    arrows = coords[1::2] - coords[0::2]  # country -> capital lines
    unit = arrows / np.linalg.norm(arrows, axis=1, keepdims=True)
    assert (unit @ unit.mean(0)).min() > 0.95  # nearly parallel, as on the lecture's slide
    assert not list(tmp_path.glob("*.tmp*"))
    with pytest.raises(KeyError, match="not in the vocabulary: italy, rome"):
        plot_word_pairs(kv, [("italy", "rome")], tmp_path / "x.png")


def test_tsne(tmp_path, capital_vectors):
    pytest.importorskip("sklearn")
    kv, pairs = capital_vectors
    coords = plot_word_pairs(kv, pairs, tmp_path / "tsne.png", method="tsne")
    assert coords.shape == (10, 2) and (tmp_path / "tsne.png").exists()


def test_cli(tmp_path, capital_vectors, capsys, gensim_data):
    from transformers import AutoConfig, AutoModel

    import hfext  # noqa: F401
    from hfext.data import Vocabulary

    kv, _ = capital_vectors
    vocab = Vocabulary(kv.index_to_key, np.ones(len(kv), dtype=np.int64))
    model = AutoModel.from_config(AutoConfig.for_model("hfext-skipgram", vocab_size=len(kv) + 1, vector_size=20))
    model.center_embeddings.weight.data[: len(kv)] = __import__("torch").from_numpy(kv.vectors)
    model.save_pretrained(tmp_path / "model")
    vocab.to_tokenizer().save_pretrained(tmp_path / "model")

    out = tmp_path / "capitals.png"
    assert cli_main(["plot", "pca", str(tmp_path / "model"), "--analogy-section", "capital-common-countries",
                     "--analogies_file", str(gensim_data / "questions-words.txt"), "--out", str(out)]) == 0
    assert "PCA projection of 5 pairs" in capsys.readouterr().out  # all five pairs are in the section
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert cli_main(["plot", "pca", str(tmp_path / "model"), "--words", "greece", "paris", "--out", str(tmp_path / "w.png")]) == 0
    assert cli_main(["plot", "pca", str(tmp_path / "model"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "say what to draw" in err and err.rstrip().endswith("(see docs/troubleshooting.md#flag-value)")
    assert cli_main(["plot", "pca", str(tmp_path / "model"), "--words", "greece", "atlantis", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "'atlantis' is not in the vocabulary" in err and err.rstrip().endswith("(see docs/troubleshooting.md#unknown-word)")
    assert cli_main(["plot", "pca", str(tmp_path / "model"), "--words", "greece", "iraq", "--out", str(tmp_path / "x.txt")]) == 2
    err = capsys.readouterr().err
    assert ".png, .pdf or .svg" in err and err.rstrip().endswith("(see docs/troubleshooting.md#output-file)")
    assert cli_main(["plot", "pca", str(tmp_path / "model"), "--analogy_section", "family",
                     "--analogies_file", str(gensim_data / "questions-words.txt"), "--out", str(out)]) == 2
    assert "no pair of section 'family'" in capsys.readouterr().err


def test_a_missing_matplotlib_is_one_clear_line(tmp_path, monkeypatch, capsys):
    import sys

    from hfext.errors import MissingDependencyError, see
    from hfext.plots import pyplot

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    with pytest.raises(ImportError, match=r"plots need matplotlib: `pip install matplotlib`") as error:
        pyplot()
    assert isinstance(error.value, MissingDependencyError) and str(error.value).endswith(see("optional-dependency"))
    # the CLI reports it like its own mistakes: one line, exit status 2, nothing written
    assert cli_main(["plot", "kernel-regression", "--out", str(tmp_path / "fit.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hfext: error: plots need matplotlib") and "Traceback" not in err
    assert not list(tmp_path.iterdir())
