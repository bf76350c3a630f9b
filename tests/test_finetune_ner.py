"""recipes/finetune_ner.py on the CoNLL-2003 fixture (the real column format): a tiny hfext-bert learns the
entities (high entity F1); all_results.json equals the `seqeval` package's scores of predictions.txt and the
saved model's own predictions; --label_all_tokens learns too; a Hub-style dataset with ClassLabel tags
(conll2003's layout) trains through --dataset_name; bad input fails clearly."""

import json

import pytest
import torch
from conftest import REPO, load_recipe, save_tiny_bert
from transformers import AutoModelForTokenClassification, AutoTokenizer

import hfext  # noqa: F401
from hfext.data.token_classification import read_conll
from hfext.training.finetune import MissingHeadError, UnseenLabelError

CONLL = REPO / "tests" / "fixtures" / "conll2003"
TRAIN, VALID = str(CONLL / "train.txt"), str(CONLL / "valid.txt")
FAST = ["--max_seq_length", "64", "--per_device_train_batch_size", "16", "--per_device_eval_batch_size", "32",
        "--learning_rate", "3e-3", "--logging_steps", "1000"]


def make_tiny_bert(directory):
    """A tiny random hfext-bert with a small cased WordPiece vocabulary trained on the fixture's words (some
    words split into several pieces)."""
    from hfext.training.bert import train_wordpiece

    tokenizer = train_wordpiece([" ".join(r["tokens"]) for r in read_conll(TRAIN)], vocab_size=300, lowercase=False)
    return save_tiny_bert(directory, tokenizer)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: threads only contend


@pytest.fixture(scope="module")
def recipe():
    return load_recipe("finetune_ner")


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    return make_tiny_bert(tmp_path_factory.mktemp("bert"))


def read_predictions(path):
    """predictions.txt (word gold predicted, blank line after each sentence) as (words, gold, predicted) lists."""
    sentences = [block.splitlines() for block in path.read_text().split("\n\n") if block.strip()]
    columns = [list(zip(*(line.split(" ") for line in block))) for block in sentences]
    return [list(c[0]) for c in columns], [list(c[1]) for c in columns], [list(c[2]) for c in columns]


def test_learns_conll_and_reports_seqevals_scores(recipe, bert, tmp_path):
    from seqeval.metrics import (
        accuracy_score,
        classification_report,
        f1_score,
        precision_score,
        recall_score,
    )

    out = tmp_path / "ner"
    results = recipe.main(["--model_name_or_path", bert, "--train_file", TRAIN, "--validation_file", VALID,
                           "--output_dir", str(out), *FAST, "--num_train_epochs", "6", "--return_entity_level_metrics"])
    words, gold, predicted = read_predictions(out / "predictions.txt")
    rows = read_conll(VALID)
    assert words == [r["tokens"] for r in rows] and gold == [r["ner_tags"] for r in rows]
    saved = json.loads((out / "all_results.json").read_text())
    assert saved["eval_f1"] == pytest.approx(f1_score(gold, predicted)) == pytest.approx(results["eval_f1"])
    assert saved["eval_precision"] == pytest.approx(precision_score(gold, predicted))
    assert saved["eval_recall"] == pytest.approx(recall_score(gold, predicted))
    assert saved["eval_accuracy"] == pytest.approx(accuracy_score(gold, predicted))
    report = classification_report(gold, predicted, output_dict=True)
    for entity in ("PER", "ORG", "LOC", "MISC"):
        assert saved[f"eval_{entity}_f1"] == pytest.approx(report[entity]["f1-score"])
        assert saved[f"eval_{entity}_number"] == report[entity]["support"]
    assert saved["eval_f1"] >= 0.85, saved["eval_f1"]
    assert [entry["epoch"] for entry in saved["eval_history"]] == list(range(6))

    # The saved model, used outside the recipe, predicts the same tags (each word from its first piece).
    model = AutoModelForTokenClassification.from_pretrained(out).eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert model.config.id2label == dict(enumerate(saved["labels"]))
    encoded = tokenizer([r["tokens"] for r in rows], is_split_into_words=True, padding=True, return_tensors="pt")
    with torch.no_grad():
        ids = model(**encoded).logits.argmax(-1)
    for i, row in enumerate(rows):
        tags, seen = [], set()
        for position, word in enumerate(encoded.word_ids(i)):
            if word is not None and word not in seen:
                seen.add(word)
                tags.append(model.config.id2label[int(ids[i, position])])
        assert tags == predicted[i]


def test_label_all_tokens_and_hub_style_classlabel_data(recipe, bert, tmp_path):
    import datasets

    results = recipe.main(["--model_name_or_path", bert, "--train_file", TRAIN, "--validation_file", VALID,
                           "--output_dir", str(tmp_path / "all"), *FAST, "--num_train_epochs", "5", "--label_all_tokens"])
    assert results["eval_f1"] >= 0.8, results["eval_f1"]
    # conll2003 on the Hub: ClassLabel tags in its own label order; parquet keeps the features.
    names = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
    features = datasets.Features({"id": datasets.Value("string"), "tokens": datasets.Sequence(datasets.Value("string")),
                                  "ner_tags": datasets.Sequence(datasets.ClassLabel(names=names))})
    folder = tmp_path / "conll2003"
    folder.mkdir()
    for split, path in (("train", TRAIN), ("validation", VALID)):
        rows = read_conll(path)
        datasets.Dataset.from_dict({"id": [r["id"] for r in rows], "tokens": [r["tokens"] for r in rows],
                                    "ner_tags": [[names.index(t) for t in r["ner_tags"]] for r in rows]},
                                   features=features).to_parquet(folder / f"{split}.parquet")
    out = tmp_path / "hub"
    results = recipe.main(["--model_name_or_path", bert, "--dataset_name", str(folder), "--output_dir", str(out), *FAST,
                           "--max_train_steps", "3"])
    assert results["labels"] == names and results["train_steps"] == 3
    assert AutoModelForTokenClassification.from_pretrained(out).config.label2id == {n: i for i, n in enumerate(names)}
    _, gold, _ = read_predictions(out / "predictions.txt")
    assert gold == [r["ner_tags"] for r in read_conll(VALID)]


def test_exact_resume_and_continuing_from_a_fine_tuned_checkpoint(recipe, bert, tmp_path):
    import shutil

    args = ["--model_name_or_path", bert, "--train_file", TRAIN, "--validation_file", VALID, *FAST,
            "--max_train_steps", "10", "--checkpointing_steps", "4"]
    full = recipe.main([*args, "--output_dir", str(tmp_path / "full")])
    shutil.copytree(tmp_path / "full" / "step_8", tmp_path / "step_8")  # a run that crashed after step 8
    resumed = recipe.main([*args, "--output_dir", str(tmp_path / "resumed"), "--resume_from_checkpoint",
                           str(tmp_path / "step_8")])
    assert resumed["train_steps"] == full["train_steps"] == 10 and resumed["eval_f1"] == full["eval_f1"]
    a = AutoModelForTokenClassification.from_pretrained(tmp_path / "full").state_dict()
    b = AutoModelForTokenClassification.from_pretrained(tmp_path / "resumed").state_dict()
    assert all(torch.equal(a[key], b[key]) for key in a)
    # A checkpoint already fine-tuned on these labels keeps its label ids (and its head), whatever their order.
    model = AutoModelForTokenClassification.from_pretrained(tmp_path / "full")
    shuffled = list(reversed(full["labels"]))
    model.config.id2label, model.config.label2id = dict(enumerate(shuffled)), {n: i for i, n in enumerate(shuffled)}
    model.save_pretrained(tmp_path / "shuffled")
    AutoTokenizer.from_pretrained(bert).save_pretrained(tmp_path / "shuffled")
    again = recipe.main(["--model_name_or_path", str(tmp_path / "shuffled"), *args[2:6], *FAST, "--max_train_steps",
                         "1", "--output_dir", str(tmp_path / "again")])
    assert again["labels"] == shuffled


def test_padding_and_a_words_only_test_file(recipe, bert, tmp_path):
    rows = read_conll(VALID)[:5]
    (tmp_path / "test.txt").write_text("".join("".join(f"{w}\n" for w in r["tokens"]) + "\n" for r in rows))
    out = tmp_path / "out"
    results = recipe.main(["--model_name_or_path", bert, "--train_file", TRAIN, "--validation_file", VALID,
                           "--test_file", str(tmp_path / "test.txt"), "--output_dir", str(out), *FAST,
                           "--pad_to_max_length", "--max_train_steps", "2"])
    assert results["train_steps"] == 2
    sentences = [block.splitlines() for block in (out / "test_predictions.txt").read_text().split("\n\n") if block.strip()]
    assert [[line.split(" ")[0] for line in block] for block in sentences] == [r["tokens"] for r in rows]
    assert all(line.split(" ")[1] in results["labels"] for block in sentences for line in block)


def test_bad_input_fails_clearly(recipe, bert, tmp_path):
    base = ["--model_name_or_path", bert, "--output_dir", str(tmp_path / "out"), *FAST]
    lines = (CONLL / "train.txt").read_text().splitlines()
    lines[6] = lines[6].rsplit(" ", 1)[0]  # a token line that lost its NER column
    (tmp_path / "short.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"short.txt:7: 3 columns .* the file's first token line has 4"):
        recipe.main([*base, "--train_file", str(tmp_path / "short.txt"), "--validation_file", VALID])
    (tmp_path / "valid.txt").write_text((CONLL / "valid.txt").read_text().replace("B-MISC", "B-EVENT", 1))
    with pytest.raises(UnseenLabelError, match=r"--validation_file '.*valid.txt' has label\(s\) \['B-EVENT'\] that the "
                                               r"training data doesn't have"):
        recipe.main([*base, "--train_file", TRAIN, "--validation_file", str(tmp_path / "valid.txt")])
    with pytest.raises(FileNotFoundError, match="--validation_file .*missing.txt' does not exist"):
        recipe.parse_args([*base, "--train_file", TRAIN, "--validation_file", str(tmp_path / "missing.txt")])
    from transformers import AutoConfig, AutoModelForCausalLM

    gpt = tmp_path / "gpt"
    AutoModelForCausalLM.from_config(AutoConfig.for_model("hfext-gpt", vocab_size=200, n_embd=16, n_layer=1, n_head=2,
                                                          n_positions=64)).save_pretrained(gpt)
    AutoTokenizer.from_pretrained(bert).save_pretrained(gpt)
    with pytest.raises(MissingHeadError, match=r"'hfext-gpt' checkpoint, which has no AutoModelForTokenClassification"):
        recipe.main(["--model_name_or_path", str(gpt), *base[2:], "--train_file", TRAIN, "--validation_file", VALID])
