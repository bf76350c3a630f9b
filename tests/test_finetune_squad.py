"""recipes/finetune_squad.py on the SQuAD v1.1 fixture (official JSON layout): a tiny hfext-bert learns to
answer well above a trivial baseline, including questions whose answer is only in a later window of a long
context; all_results.json equals EM/F1 recomputed from predictions.json with the official normalisation;
the saved model reproduces the predictions; two processes under `accelerate launch` give the predictions
of one; bad input fails clearly."""

import collections
import json
import os
import re
import string
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import REPO, load_recipe, save_tiny_bert
from transformers import AutoModelForQuestionAnswering, AutoTokenizer

import hfext  # noqa: F401
from hfext.data.question_answering import read_squad_file
from hfext.training.finetune import MissingHeadError

SQUAD = REPO / "tests" / "fixtures" / "squad"
TRAIN, DEV = str(SQUAD / "train-v1.1.json"), str(SQUAD / "dev-v1.1.json")
WINDOWS = ["--max_seq_length", "64", "--doc_stride", "24", "--max_answer_length", "5"]
FAST = [*WINDOWS, "--per_device_train_batch_size", "16", "--per_device_eval_batch_size", "32", "--learning_rate", "2e-3",
        "--num_warmup_steps", "10", "--logging_steps", "1000"]


def make_tiny_bert(directory):
    """A tiny random hfext-bert (no QA head) with a WordPiece vocabulary trained on the fixture's text."""
    from hfext.training.bert import train_wordpiece

    rows = read_squad_file(TRAIN)
    tokenizer = train_wordpiece([r["context"] for r in rows] + [r["question"] for r in rows], vocab_size=400,
                                lowercase=False)
    return save_tiny_bert(directory, tokenizer, max_position_embeddings=128)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: threads only contend


@pytest.fixture(scope="module")
def recipe():
    return load_recipe("finetune_squad")


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    return make_tiny_bert(tmp_path_factory.mktemp("bert"))


@pytest.fixture(scope="module")
def trained(recipe, bert, tmp_path_factory):
    out = tmp_path_factory.mktemp("squad")
    results = recipe.main(["--model_name_or_path", bert, "--train_file", TRAIN, "--validation_file", DEV,
                           "--output_dir", str(out), *FAST, "--num_train_epochs", "12", "--learning_rate", "1e-3"])
    return out, results


def normalize(text):  # the official SQuAD v1.1 normalisation, written out again
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def token_f1(prediction, gold):
    common = collections.Counter(normalize(prediction).split()) & collections.Counter(normalize(gold).split())
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(normalize(prediction).split()), same / len(normalize(gold).split())
    return 2 * precision * recall / (precision + recall)


def squad_scores(predictions, rows):
    em = np.mean([max(normalize(predictions[r["id"]]) == normalize(a) for a in r["answers"]["text"]) for r in rows])
    f1 = np.mean([max(token_f1(predictions[r["id"]], a) for a in r["answers"]["text"]) for r in rows])
    return 100 * em, 100 * f1


def test_learns_squad_and_reports_the_metric_of_its_predictions(trained):
    out, results = trained
    rows = read_squad_file(DEV)
    predictions = json.loads((out / "predictions.json").read_text())
    assert set(predictions) == {r["id"] for r in rows}
    em, f1 = squad_scores(predictions, rows)
    saved = json.loads((out / "all_results.json").read_text())
    assert saved["eval_exact_match"] == pytest.approx(em) == pytest.approx(results["eval_exact_match"])
    assert saved["eval_f1"] == pytest.approx(f1) and f1 >= em
    # Trivial baseline: the first two-word name of the paragraph (every paragraph has the founder's and often others).
    baseline = {r["id"]: re.search(r"[A-Z][a-z]+ [A-Z][a-z]+", r["context"]).group(0) for r in rows}
    baseline_em, _ = squad_scores(baseline, rows)
    assert em >= 55 and em >= baseline_em + 20, (em, baseline_em)
    assert [entry["epoch"] for entry in saved["eval_history"]] == list(range(12))
    assert saved["eval_history"][-1]["eval_exact_match"] > saved["eval_history"][0]["eval_exact_match"] - 10
    assert saved["eval_windows"] > saved["eval_examples"] == len(rows)  # long contexts gave several windows
    nbest = json.loads((out / "nbest_predictions.json").read_text())
    assert all(nbest[qid][0]["text"] == text for qid, text in predictions.items())


def test_the_saved_model_gives_the_predictions_and_later_windows_are_used(trained):
    """Recompute the predictions from the saved model outside the recipe (tokenizer windows, model, post-processing
    by hand for the argmax span) and check that answers found only in a later window are found."""
    from hfext.data.question_answering import prepare_validation_features

    out, _ = trained
    model = AutoModelForQuestionAnswering.from_pretrained(out).eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    rows = read_squad_file(DEV)
    predictions = json.loads((out / "predictions.json").read_text())
    batch = {key: [row[key] for row in rows] for key in rows[0]}
    features = prepare_validation_features(batch, tokenizer, max_seq_length=64, doc_stride=24)
    inputs = {k: torch.tensor(features[k]) for k in ("input_ids", "token_type_ids", "attention_mask")}
    with torch.no_grad():
        output = model(**inputs)
    best = {}
    for i, example_id in enumerate(features["example_id"]):
        offsets = features["offset_mapping"][i]
        context = [k for k, o in enumerate(offsets) if o is not None]
        for s in context:
            for e in context:
                if s <= e < s + 5:
                    score = float(output.start_logits[i, s] + output.end_logits[i, e])
                    if example_id not in best or score > best[example_id][0]:
                        best[example_id] = (score, i, offsets[s][0], offsets[e][1])
    agree = later = later_right = 0
    first_window = {}
    for i, example_id in enumerate(features["example_id"]):
        first_window.setdefault(example_id, i)
    for row in rows:
        _, window, start, end = best[row["id"]]
        agree += row["context"][start:end] == predictions[row["id"]]
        answer_start = row["answers"]["answer_start"][0]
        in_first = [o for o in features["offset_mapping"][first_window[row["id"]]] if o is not None][-1][1]
        if answer_start + len(row["answers"]["text"][0]) > in_first:  # the answer is not in the first window
            later += 1
            later_right += predictions[row["id"]] in row["answers"]["text"] and window != first_window[row["id"]]
    # The exhaustive search equals the recipe's n-best search (top-20 starts/ends cover these tiny windows).
    assert agree == len(rows)
    assert later >= 15 and later_right >= later / 2, (later, later_right)


def test_bad_input_fails_clearly(recipe, bert, tmp_path):
    base = ["--model_name_or_path", bert, "--train_file", TRAIN, "--validation_file", DEV, "--output_dir", str(tmp_path)]
    with pytest.raises(ValueError, match="--version_2_with_negative .SQuAD v2.0. is not supported"):
        recipe.parse_args([*base, "--version_2_with_negative"])
    with pytest.raises(ValueError, match=r"--doc_stride \(64\) must be smaller than --max_seq_length \(64\)"):
        recipe.parse_args([*base, "--max_seq_length", "64", "--doc_stride", "64"])
    document = json.loads((SQUAD / "train-v1.1.json").read_text())
    qa = document["data"][2]["paragraphs"][3]["qas"][0]
    qa["answers"][0]["answer_start"] -= 2
    (tmp_path / "bad.json").write_text(json.dumps(document))
    with pytest.raises(ValueError, match=rf"question '{qa['id']}': answer_start .* not at the answer text "
                                         rf"'{qa['answers'][0]['text']}'"):
        recipe.main([*base[:2], "--train_file", str(tmp_path / "bad.json"), *base[4:], *FAST])
    # A checkpoint whose model type has no question-answering head (hfext-gpt) is refused, naming what loads it.
    from transformers import AutoConfig, AutoModelForCausalLM

    gpt = tmp_path / "gpt"
    AutoModelForCausalLM.from_config(AutoConfig.for_model("hfext-gpt", vocab_size=400, n_embd=16, n_layer=1, n_head=2,
                                                          n_positions=64)).save_pretrained(gpt)
    AutoTokenizer.from_pretrained(bert).save_pretrained(gpt)
    with pytest.raises(MissingHeadError, match=r"'hfext-gpt' checkpoint, which has no AutoModelForQuestionAnswering "
                                               r"model \(it loads with \[.*'AutoModelForCausalLM'"):
        recipe.main(["--model_name_or_path", str(gpt), *base[2:], *FAST])


def test_hub_style_dataset_folder(recipe, bert, tmp_path):
    """--dataset_name with a folder of flat squad rows (what `datasets` gives for `squad`) trains and evaluates."""
    import datasets

    from hfext.data.question_answering import load_squad_dataset

    folder = tmp_path / "squad_data"
    folder.mkdir()
    load_squad_dataset(TRAIN).select(range(64)).to_json(folder / "train.jsonl")
    load_squad_dataset(DEV).to_json(folder / "validation.jsonl")
    assert datasets.load_dataset(str(folder))["validation"].num_rows == len(read_squad_file(DEV))
    results = recipe.main(["--model_name_or_path", bert, "--dataset_name", str(folder), "--output_dir",
                           str(tmp_path / "out"), *FAST, "--max_train_steps", "2", "--max_eval_samples", "10"])
    assert results["train_steps"] == 2 and results["eval_examples"] == 10
    assert len(json.loads((tmp_path / "out" / "predictions.json").read_text())) == 10


def test_two_processes_predict_what_one_does(bert, tmp_path):
    """Under a 2-process `accelerate launch` (windows of one question may land on both processes), every question
    is answered once, and the saved model evaluated in one process (one training step at a learning rate too small
    to change a weight) gives the same predictions and EM. About 20 s."""
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
               str(REPO / "recipes" / "finetune_squad.py"), "--model_name_or_path", bert, "--train_file", TRAIN,
               "--validation_file", DEV, "--output_dir", str(out), *FAST, "--max_train_steps", "6"]
    done = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    two = json.loads((out / "predictions.json").read_text())
    assert len(two) == len(read_squad_file(DEV))
    single = load_recipe("finetune_squad").main([
        "--model_name_or_path", str(out), "--train_file", TRAIN, "--validation_file", DEV,
        "--output_dir", str(tmp_path / "single"), *FAST, "--max_train_steps", "1", "--learning_rate", "1e-30",
        "--max_train_samples", "1"])
    assert json.loads((tmp_path / "single" / "predictions.json").read_text()) == two
    assert single["eval_exact_match"] == json.loads((out / "all_results.json").read_text())["eval_exact_match"]


def test_a_transformers_bert_fine_tunes_too(bert, tmp_path):
    """transformers' own BertForQuestionAnswering (model type `bert`) goes through the same recipe (here with
    --pad_to_max_length and a --test_file to answer)."""
    from transformers import BertConfig, BertForQuestionAnswering

    tokenizer = AutoTokenizer.from_pretrained(bert)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, pad_token_id=tokenizer.pad_token_id)
    BertForQuestionAnswering(config).save_pretrained(tmp_path / "hf")
    tokenizer.save_pretrained(tmp_path / "hf")
    results = load_recipe("finetune_squad").main([
        "--model_name_or_path", str(tmp_path / "hf"), "--train_file", TRAIN, "--validation_file", DEV,
        "--output_dir", str(tmp_path / "out"), *FAST, "--max_train_steps", "3", "--max_eval_samples", "8",
        "--test_file", DEV, "--pad_to_max_length"])
    assert results["train_steps"] == 3 and 0 <= results["eval_exact_match"] <= results["eval_f1"] <= 100
    test_predictions = json.loads((tmp_path / "out" / "test_predictions.json").read_text())
    rows = read_squad_file(DEV)  # --max_eval_samples leaves the test split whole
    assert list(test_predictions) == [r["id"] for r in rows]
    assert all(text in r["context"] for text, r in zip(test_predictions.values(), rows))
    assert type(AutoModelForQuestionAnswering.from_pretrained(tmp_path / "out")).__name__ == "BertForQuestionAnswering"
