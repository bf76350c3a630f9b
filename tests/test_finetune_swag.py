"""recipes/finetune_swag.py on a fixture in the original SWAG release's CSV layout: a tiny hfext-bert learns the
multiple-choice task, all_results.json's accuracy equals the one recomputed from the saved model's choice
scores, json with the Hub `swag` columns works, and bad input fails clearly."""

import csv
import json

import numpy as np
import pytest
import torch
from conftest import REPO, load_recipe
from test_finetune_glue import make_tiny_bert
from transformers import AutoModelForMultipleChoice, AutoTokenizer

from hfext.training.finetune import MissingColumnsError

SWAG = REPO / "tests" / "fixtures" / "swag"
FAST = ["--max_seq_length", "32", "--per_device_train_batch_size", "8", "--per_device_eval_batch_size", "8",
        "--learning_rate", "2e-3", "--logging_steps", "1000"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: threads only contend


@pytest.fixture(scope="module")
def recipe():
    return load_recipe("finetune_swag")


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    return str(make_tiny_bert(tmp_path_factory.mktemp("tiny_bert")))


def read_csv(path):
    with open(path, encoding="utf8", newline="") as fin:
        return list(csv.DictReader(fin))


@torch.no_grad()
def choice_scores(directory, rows):
    """The saved model's four scores per example, one example at a time."""
    model = AutoModelForMultipleChoice.from_pretrained(directory).eval()
    tokenizer = AutoTokenizer.from_pretrained(directory)
    scores = []
    for row in rows:
        endings = [f"{row['sent2']} {row[f'ending{i}']}" for i in range(4)]
        encoded = tokenizer([row["sent1"]] * 4, endings, padding=True, return_tensors="pt")
        scores.append(model(**{k: v.unsqueeze(0) for k, v in encoded.items()}).logits[0].numpy())
    return np.stack(scores)


def test_swag_csv_learns_and_matches_the_saved_model(recipe, bert, tmp_path):
    out = tmp_path / "swag"
    results = recipe.main(["--model_name_or_path", bert, "--output_dir", str(out), *FAST, "--num_train_epochs", "4",
                           "--train_file", str(SWAG / "train.csv"), "--validation_file", str(SWAG / "val.csv")])
    assert results["eval_accuracy"] >= 0.9 and results["eval_examples"] == 21  # chance is 0.25
    assert json.loads((out / "all_results.json").read_text())["eval_accuracy"] == results["eval_accuracy"]
    rows = read_csv(SWAG / "val.csv")
    predictions = choice_scores(out, rows).argmax(-1)
    assert results["eval_accuracy"] == pytest.approx(np.mean(predictions == np.array([int(r["label"]) for r in rows])))


def test_hub_columns_json_and_bad_input(recipe, bert, tmp_path):
    """The Hub's `swag` (regular) columns in json lines, padded to --max_seq_length, the first N examples; a file
    without the endings; a label out of range."""
    keep = ["sent1", "sent2", "ending0", "ending1", "ending2", "ending3", "label"]
    for name in ("train", "val"):
        rows = [{k: int(r[k]) if k == "label" else r[k] for k in keep} for r in read_csv(SWAG / f"{name}.csv")]
        (tmp_path / f"{name}.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    results = recipe.main(["--model_name_or_path", bert, "--output_dir", str(tmp_path / "j"), *FAST,
                           "--num_train_epochs", "1", "--train_file", str(tmp_path / "train.json"),
                           "--validation_file", str(tmp_path / "val.json"), "--pad_to_max_length",
                           "--max_train_samples", "40", "--max_eval_samples", "9"])
    assert results["train_examples"] == 40 and results["train_steps"] == 5 and results["eval_examples"] == 9
    base = ["--model_name_or_path", bert, "--output_dir", str(tmp_path / "o"), *FAST]
    (tmp_path / "short.csv").write_text("sent1,sent2,ending0,ending1,label\na,b,c,d,0\n")
    with pytest.raises(MissingColumnsError, match=r"--train_file .*short.csv' lacks the column\(s\) \['ending2', 'ending3'\]"):
        recipe.main([*base, "--train_file", str(tmp_path / "short.csv")])
    (tmp_path / "label.csv").write_text("sent1,sent2,ending0,ending1,ending2,ending3,label\na,b,c,d,e,f,4\n")
    with pytest.raises(ValueError, match=r"has label\(s\) \[4\]; SWAG labels are the index of the right ending, 0 to 3"):
        recipe.main([*base, "--train_file", str(tmp_path / "label.csv")])
