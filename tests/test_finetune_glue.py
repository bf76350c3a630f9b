"""recipes/finetune_glue.py on GLUE fixtures in the distribution's own TSV layouts (SST-2, CoLA without header,
MRPC, STS-B, MNLI matched/mismatched) and in json/csv with the Hub's column names: a tiny hfext-bert learns
them, all_results.json equals the metric recomputed (scikit-learn / scipy) from the saved model's predictions,
a transformers BertForSequenceClassification fine-tunes too, exact resume, two processes under
`accelerate launch` evaluate every example once with the single-process metrics, and bad input fails clearly."""

import csv
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import REPO, load_recipe, save_tiny_bert
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef
from transformers import AutoModelForSequenceClassification, AutoTokenizer

import hfext  # noqa: F401
from hfext.training.finetune import (
    MissingColumnsError,
    MissingHeadError,
    UnseenLabelError,
)

GLUE = REPO / "tests" / "fixtures" / "glue"
FAST = ["--max_seq_length", "32", "--per_device_train_batch_size", "8", "--per_device_eval_batch_size", "8",
        "--learning_rate", "2e-3", "--logging_steps", "1000"]


def fixture_tokenizer():
    """A BERT WordPiece tokenizer (``train_wordpiece``'s normaliser, pre-tokeniser and template) whose
    vocabulary is every word and character of the GLUE and SWAG fixtures, in sorted order: the same ids on
    every run (a trained vocabulary may break frequency ties differently from run to run)."""
    from tokenizers import models

    from hfext.training.bert import SPECIAL_TOKENS, train_wordpiece

    texts = []
    for path in sorted([*GLUE.glob("*/*.tsv"), *(REPO / "tests" / "fixtures" / "swag").glob("*.csv")]):
        texts += path.read_text().replace("\t", " ").replace(",", " ").splitlines()
    tokenizer = train_wordpiece(texts, vocab_size=len(SPECIAL_TOKENS) + 1)
    backend = tokenizer.backend_tokenizer
    words = {word for text in texts for word, _ in backend.pre_tokenizer.pre_tokenize_str(backend.normalizer.normalize_str(text))}
    characters = {c for word in words for c in word}
    pieces = sorted(words | characters | {f"##{c}" for c in characters})
    backend.model = models.WordPiece({t: i for i, t in enumerate(SPECIAL_TOKENS + pieces)}, unk_token="[UNK]")
    return type(tokenizer)(tokenizer_object=backend, **{k: getattr(tokenizer, k) for k in (
        "unk_token", "pad_token", "cls_token", "sep_token", "mask_token")}, model_input_names=tokenizer.model_input_names)


def make_tiny_bert(directory, hidden_size=32, max_position_embeddings=64, dropout=0.1):
    """A tiny random hfext-bert with :func:`fixture_tokenizer`: enough for the fixtures' separable tasks."""
    return save_tiny_bert(directory, fixture_tokenizer(), hidden_size=hidden_size, num_attention_heads=2,
                          max_position_embeddings=max_position_embeddings, dropout=dropout)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: threads only contend


@pytest.fixture(scope="module")
def recipe():
    return load_recipe("finetune_glue")


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    return str(make_tiny_bert(tmp_path_factory.mktemp("tiny_bert")))


def read_tsv(path, header=True):
    with open(path, encoding="utf8", newline="") as fin:
        rows = list(csv.reader(fin, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [dict(zip(rows[0], row)) for row in rows[1:]] if header else rows


@torch.no_grad()
def saved_model_outputs(directory, first, second=None):
    """Logits of the saved model on the texts, one example at a time (no padding, no recipe code)."""
    model = AutoModelForSequenceClassification.from_pretrained(directory).eval()
    tokenizer = AutoTokenizer.from_pretrained(directory)
    outputs = []
    for i, text in enumerate(first):
        encoded = tokenizer(text, second[i] if second else None, truncation=True, max_length=32, return_tensors="pt")
        outputs.append(model(**encoded).logits[0].numpy())
    return np.stack(outputs)


def test_sst2_tsv_learns_and_results_match_the_saved_model(recipe, bert, tmp_path):
    out = tmp_path / "sst2"
    dev = read_tsv(GLUE / "sst2" / "dev.tsv")
    test = tmp_path / "test.tsv"  # GLUE's unlabelled test layout
    test.write_text("index\tsentence\n" + "".join(f"{i}\t{row['sentence']}\n" for i, row in enumerate(dev)))
    results = recipe.main(["--model_name_or_path", bert, "--task_name", "sst2", "--output_dir", str(out), *FAST,
                           "--train_file", str(GLUE / "sst2" / "train.tsv"), "--validation_file",
                           str(GLUE / "sst2" / "dev.tsv"), "--test_file", str(test), "--num_train_epochs", "8"])
    assert results["eval_accuracy"] >= 0.9 and results["eval_examples"] == 21
    assert [entry["epoch"] for entry in results["eval_history"]] == list(range(8))  # evaluated after every epoch
    assert json.loads((out / "all_results.json").read_text())["eval_accuracy"] == results["eval_accuracy"]
    predictions = saved_model_outputs(out, [row["sentence"] for row in dev]).argmax(-1)
    assert results["eval_accuracy"] == pytest.approx(accuracy_score([int(r["label"]) for r in dev], predictions))
    model = AutoModelForSequenceClassification.from_pretrained(out)
    assert model.config.id2label == {0: "negative", 1: "positive"} and model.config.model_type == "hfext-bert"
    predicted = [line.split("\t")[1] for line in (out / "predict_results.txt").read_text().splitlines()[1:]]
    assert predicted == [model.config.id2label[int(i)] for i in predictions]


def test_stsb_regression(recipe, bert, tmp_path):
    out = tmp_path / "stsb"
    results = recipe.main(["--model_name_or_path", bert, "--task_name", "stsb", "--output_dir", str(out), *FAST,
                           "--train_file", str(GLUE / "stsb" / "train.tsv"), "--validation_file",
                           str(GLUE / "stsb" / "dev.tsv"), "--num_train_epochs", "15", "--learning_rate", "5e-3"])
    assert results["num_labels"] == 1 and results["eval_pearson"] > 0.9
    dev = read_tsv(GLUE / "stsb" / "dev.tsv")
    scores = saved_model_outputs(out, [r["sentence1"] for r in dev], [r["sentence2"] for r in dev])[:, 0]
    gold = [float(r["score"]) for r in dev]
    assert results["eval_pearson"] == pytest.approx(stats.pearsonr(scores, gold).statistic, abs=1e-4)
    # Templated pairs get near-equal scores, whose order float noise (batched vs one at a time) may swap.
    assert results["eval_spearmanr"] == pytest.approx(stats.spearmanr(scores, gold).statistic, abs=2e-3)


HUB_README = """---
configs:
- config_name: mnli
  data_files:
  - {split: train, path: mnli/train.jsonl}
  - {split: validation_matched, path: mnli/validation_matched.jsonl}
  - {split: validation_mismatched, path: mnli/validation_mismatched.jsonl}
  - {split: test_matched, path: mnli/test_matched.jsonl}
dataset_info:
- config_name: mnli
  features:
  - {name: premise, dtype: string}
  - {name: hypothesis, dtype: string}
  - name: label
    dtype: {class_label: {names: {'0': entailment, '1': neutral, '2': contradiction}}}
  - {name: idx, dtype: int32}
---
"""


def test_mnli_matched_mismatched_from_tsv_and_from_a_hub_layout_dataset(recipe, bert, tmp_path):
    """MNLI from the GLUE TSVs and from a dataset folder laid out as the Hub's `glue` (README configs, ClassLabel
    labels, validation_matched/_mismatched and an unlabelled test_matched split): the same numbers."""
    out = tmp_path / "mnli"
    results = recipe.main(["--model_name_or_path", bert, "--task_name", "mnli", "--output_dir", str(out), *FAST,
                           "--train_file", str(GLUE / "mnli" / "train.tsv"), "--validation_file",
                           str(GLUE / "mnli" / "dev_matched.tsv"), "--validation_mismatched_file",
                           str(GLUE / "mnli" / "dev_mismatched.tsv"), "--num_train_epochs", "12"])
    assert results["eval_examples"] == 21 and results["eval_examples_mm"] == 15
    assert results["eval_accuracy"] >= 0.8 and results["eval_accuracy_mm"] >= 0.8
    labels = ["entailment", "neutral", "contradiction"]
    for name, key in (("dev_matched", "eval_accuracy"), ("dev_mismatched", "eval_accuracy_mm")):
        dev = read_tsv(GLUE / "mnli" / f"{name}.tsv")
        logits = saved_model_outputs(out, [r["sentence1"] for r in dev], [r["sentence2"] for r in dev])
        assert results[key] == pytest.approx(accuracy_score([labels.index(r["gold_label"]) for r in dev],
                                                            logits.argmax(-1)))
    hub = tmp_path / "glue"
    (hub / "mnli").mkdir(parents=True)
    (hub / "README.md").write_text(HUB_README)
    for split, name in (("train", "train"), ("validation_matched", "dev_matched"),
                        ("validation_mismatched", "dev_mismatched"), ("test_matched", "dev_matched")):
        rows = [{"premise": r["sentence1"], "hypothesis": r["sentence2"], "idx": i,
                 "label": -1 if split.startswith("test") else labels.index(r["gold_label"])}
                for i, r in enumerate(read_tsv(GLUE / "mnli" / f"{name}.tsv"))]
        write_jsonl(hub / "mnli" / f"{split}.jsonl", rows)
    from_hub = recipe.main(["--model_name_or_path", bert, "--task_name", "mnli", "--dataset_name", str(hub),
                            "--dataset_config_name", "mnli", "--output_dir", str(tmp_path / "hub"), *FAST,
                            "--num_train_epochs", "12"])
    for key in ("eval_accuracy", "eval_accuracy_mm", "eval_examples", "eval_examples_mm", "train_loss"):
        assert from_hub[key] == pytest.approx(results[key], rel=1e-6)
    inferred = recipe.main(["--model_name_or_path", bert, "--dataset_name", str(hub), "--dataset_config_name", "mnli",
                            "--output_dir", str(tmp_path / "inferred"), *FAST, "--max_train_steps", "2"])
    assert inferred["num_labels"] == 3 and inferred["eval_examples_mm"] == 15  # ClassLabel names, premise/hypothesis
    assert AutoModelForSequenceClassification.from_pretrained(tmp_path / "inferred").config.id2label[2] == "contradiction"


def test_from_a_pretrain_bert_checkpoint(recipe, tmp_path):
    """The whole chain: recipes/pretrain_bert.py (MLM + NSP, a few steps) writes a checkpoint whose
    pretraining heads are dropped and a classifier added for SST-2."""
    fixture_tokenizer().save_pretrained(tmp_path / "tokenizer")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("".join(line.split("\t")[0] + "\n" for line in (GLUE / "sst2" / "train.tsv").read_text().splitlines()[1:]))
    pretrained = load_recipe("pretrain_bert").main([
        "--train_file", str(corpus), "--output_dir", str(tmp_path / "bert"), "--tokenizer_name", str(tmp_path / "tokenizer"),
        "--hidden_size", "32", "--num_hidden_layers", "2", "--num_attention_heads", "2", "--max_seq_length", "64",
        "--num_train_epochs", "5", "--max_train_steps", "10", "--per_device_train_batch_size", "16", "--num_warmup_steps", "2",
        "--learning_rate", "1e-3", "--validation_split_percentage", "0", "--logging_steps", "1000"])
    assert pretrained["train_steps"] == 10
    results = recipe.main(["--model_name_or_path", str(tmp_path / "bert"), "--task_name", "sst2", *FAST,
                           "--train_file", str(GLUE / "sst2" / "train.tsv"), "--validation_file",
                           str(GLUE / "sst2" / "dev.tsv"), "--output_dir", str(tmp_path / "sst2"), "--num_train_epochs", "8"])
    assert results["eval_accuracy"] >= 0.9


def test_cola_headerless_tsv_and_mrpc_metrics(recipe, bert, tmp_path):
    out = tmp_path / "cola"
    results = recipe.main(["--model_name_or_path", bert, "--task_name", "cola", "--output_dir", str(out), *FAST,
                           "--train_file", str(GLUE / "cola" / "train.tsv"), "--validation_file",
                           str(GLUE / "cola" / "dev.tsv"), "--num_train_epochs", "6"])
    dev = read_tsv(GLUE / "cola" / "dev.tsv", header=False)
    assert results["train_examples"] == 64 and results["eval_matthews_correlation"] >= 0.8
    predictions = saved_model_outputs(out, [row[3] for row in dev]).argmax(-1)
    assert results["eval_matthews_correlation"] == pytest.approx(
        matthews_corrcoef([int(row[1]) for row in dev], predictions))

    out = tmp_path / "mrpc"
    results = recipe.main(["--model_name_or_path", bert, "--task_name", "mrpc", "--output_dir", str(out), *FAST,
                           "--train_file", str(GLUE / "mrpc" / "train.tsv"), "--validation_file",
                           str(GLUE / "mrpc" / "dev.tsv"), "--num_train_epochs", "3"])
    dev = read_tsv(GLUE / "mrpc" / "dev.tsv")
    predictions = saved_model_outputs(out, [r["#1 String"] for r in dev], [r["#2 String"] for r in dev]).argmax(-1)
    gold = [int(r["Quality"]) for r in dev]
    assert results["eval_accuracy"] == pytest.approx(accuracy_score(gold, predictions))
    assert results["eval_f1"] == pytest.approx(f1_score(gold, predictions, zero_division=0))


@pytest.mark.parametrize("task, first, second, label, labels, extra", [
    ("rte", "sentence1", "sentence2", "label", ["entailment", "not_entailment"], ["--max_train_steps", "10"]),
    ("qnli", "question", "sentence", "label", ["entailment", "not_entailment"], ["--pad_to_max_length"]),
    ("qqp", "question1", "question2", "is_duplicate", ["0", "1"], []),
])
def test_rte_qnli_qqp_tsv_layouts(recipe, bert, tmp_path, task, first, second, label, labels, extra):
    out = tmp_path / task
    results = recipe.main(["--model_name_or_path", bert, "--task_name", task, "--output_dir", str(out), *FAST,
                           "--train_file", str(GLUE / task / "train.tsv"), "--validation_file",
                           str(GLUE / task / "dev.tsv"), "--num_train_epochs", "10", *extra])
    dev = read_tsv(GLUE / task / "dev.tsv")
    predictions = saved_model_outputs(out, [r[first] for r in dev], [r[second] for r in dev]).argmax(-1)
    gold = [labels.index(r[label]) for r in dev]
    assert results["eval_examples"] == 11 and results["eval_accuracy"] == pytest.approx(accuracy_score(gold, predictions))
    assert ("eval_f1" in results) == (task == "qqp")
    if task != "rte":
        assert results["eval_accuracy"] >= 0.8
    if task == "qqp":
        assert results["eval_f1"] == pytest.approx(f1_score(gold, predictions, zero_division=0))
    if task == "rte":  # stopped mid-epoch 2 by --max_train_steps: evaluated after epochs 0 and 1, then at step 10
        assert results["train_steps"] == 10
        assert [(e["epoch"], e["step"]) for e in results["eval_history"]] == [(0, 4), (1, 8), (None, 10)]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def test_transformers_bert_on_hub_style_jsonl(recipe, bert, tmp_path):
    """A user's converted BERT: transformers' own BertForSequenceClassification from a random config, with the
    Hub glue dataset's column names in json lines."""
    from transformers import BertConfig, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(bert)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(tmp_path / "hf_bert")
    tokenizer.save_pretrained(tmp_path / "hf_bert")
    rows = {name: [{"sentence": r["sentence"], "label": int(r["label"]), "idx": i}
                   for i, r in enumerate(read_tsv(GLUE / "sst2" / f"{name}.tsv"))] for name in ("train", "dev")}
    out = tmp_path / "out"
    results = recipe.main(["--model_name_or_path", str(tmp_path / "hf_bert"), "--task_name", "sst2", *FAST,
                           "--train_file", write_jsonl(tmp_path / "train.jsonl", rows["train"]),
                           "--validation_file", write_jsonl(tmp_path / "dev.jsonl", rows["dev"]),
                           "--output_dir", str(out), "--num_train_epochs", "8"])
    assert results["eval_accuracy"] >= 0.9
    assert AutoModelForSequenceClassification.from_pretrained(out).config.model_type == "bert"
    predictions = saved_model_outputs(out, [r["sentence"] for r in rows["dev"]]).argmax(-1)
    assert results["eval_accuracy"] == pytest.approx(accuracy_score([r["label"] for r in rows["dev"]], predictions))


def test_inferred_columns_csv_and_unseen_labels(recipe, bert, tmp_path):
    """Without --task_name: the label column and the text column are inferred; labels are any strings."""
    names = {"0": "bad", "1": "good"}
    for name in ("train", "dev"):
        with open(tmp_path / f"{name}.csv", "w", newline="") as fout:
            writer = csv.writer(fout)
            writer.writerow(["review", "label"])
            writer.writerows([r["sentence"], names[r["label"]]] for r in read_tsv(GLUE / "sst2" / f"{name}.tsv"))
    results = recipe.main(["--model_name_or_path", bert, *FAST, "--train_file", str(tmp_path / "train.csv"),
                           "--validation_file", str(tmp_path / "dev.csv"), "--output_dir", str(tmp_path / "o"),
                           "--num_train_epochs", "8"])
    assert results["eval_accuracy"] >= 0.9 and results["task_name"] is None
    assert AutoModelForSequenceClassification.from_pretrained(tmp_path / "o").config.label2id == {"bad": 0, "good": 1}
    with open(tmp_path / "dev.csv", "a") as fout:
        fout.write("the film is meh .,so-so\n")
    with pytest.raises(UnseenLabelError, match=r"--validation_file .*dev.csv' has label\(s\) \['so-so'\] .* never has"):
        recipe.main(["--model_name_or_path", bert, *FAST, "--train_file", str(tmp_path / "train.csv"),
                     "--validation_file", str(tmp_path / "dev.csv"), "--output_dir", str(tmp_path / "u")])


def test_bad_input_errors(recipe, bert, tmp_path):
    base = ["--model_name_or_path", bert, "--output_dir", str(tmp_path / "o"), *FAST]
    with pytest.raises(ValueError, match=r"--task_name 'sst5' is not a GLUE task; pick one of \['cola', 'mnli'"):
        recipe.main([*base, "--task_name", "sst5", "--train_file", str(GLUE / "sst2" / "train.tsv")])
    (tmp_path / "bad.tsv").write_text("text\tlabel\nthe film is great .\t1\n")
    with pytest.raises(MissingColumnsError, match=r"--train_file .*bad.tsv' lacks the column\(s\) \['sentence'\]"):
        recipe.main([*base, "--task_name", "sst2", "--train_file", str(tmp_path / "bad.tsv")])
    (tmp_path / "mnli.tsv").write_text("sentence1\tsentence2\tgold_label\na\tb\tmaybe\n")
    with pytest.raises(ValueError, match=r"label 'maybe' in --train_file .* is not one of the mnli labels"):
        recipe.main([*base, "--task_name", "mnli", "--train_file", str(tmp_path / "mnli.tsv")])
    with pytest.raises(ValueError, match=r"--max_seq_length 128 exceeds the model's max_position_embeddings \(64\)"):
        recipe.main([*base, "--task_name", "sst2", "--train_file", str(GLUE / "sst2" / "train.tsv"),
                     "--max_seq_length", "128"])
    (tmp_path / "train.txt").write_text("the film is great .\n")
    with pytest.raises(ValueError, match=r"--train_file .*train.txt': unsupported extension '.txt'; use one of"):
        recipe.main([*base, "--train_file", str(tmp_path / "train.txt")])

    from transformers import AutoConfig, AutoModelForCausalLM

    gpt = tmp_path / "gpt"
    AutoModelForCausalLM.from_config(AutoConfig.for_model("hfext-gpt", vocab_size=300, n_embd=32, n_layer=1,
                                                          n_head=2, n_positions=64)).save_pretrained(gpt)
    AutoTokenizer.from_pretrained(bert).save_pretrained(gpt)
    with pytest.raises(MissingHeadError, match=r"'hfext-gpt' checkpoint, which has no AutoModelForSequenceClassification "
                                               r"model \(it loads with \['AutoModelForCausalLM'"):
        recipe.main(["--model_name_or_path", str(gpt), "--output_dir", str(tmp_path / "g"), "--task_name", "sst2",
                     "--train_file", str(GLUE / "sst2" / "train.tsv")])


def test_exact_resume_from_a_checkpoint(recipe, bert, tmp_path):
    args = ["--model_name_or_path", bert, "--task_name", "sst2", *FAST, "--num_train_epochs", "3",
            "--train_file", str(GLUE / "sst2" / "train.tsv"), "--validation_file", str(GLUE / "sst2" / "dev.tsv"),
            "--checkpointing_steps", "5"]
    full = recipe.main([*args, "--output_dir", str(tmp_path / "full")])
    shutil.copytree(tmp_path / "full" / "step_10", tmp_path / "step_10")  # a run that crashed after step 10
    resumed = recipe.main([*args, "--output_dir", str(tmp_path / "resumed"), "--resume_from_checkpoint",
                           str(tmp_path / "step_10")])
    assert resumed["train_steps"] == full["train_steps"] == 24
    assert resumed["eval_accuracy"] == full["eval_accuracy"]
    a = AutoModelForSequenceClassification.from_pretrained(tmp_path / "full").state_dict()
    b = AutoModelForSequenceClassification.from_pretrained(tmp_path / "resumed").state_dict()
    assert all(torch.equal(a[key], b[key]) for key in a)  # dropout is on: the RNG state was restored too


def test_two_process_accelerate_launch_evaluates_each_example_once(recipe, tmp_path):
    """2 processes x 4 examples per step = 1 process x 8: the same training (without dropout, whose masks
    depend on the split), so the same metrics; the 21 validation examples (odd: the last batch is padded
    across processes) are each counted once."""
    bert = str(make_tiny_bert(tmp_path / "bert", dropout=0.0))
    common = ["--model_name_or_path", bert, "--task_name", "sst2", "--num_train_epochs", "2", "--max_seq_length", "32",
              "--learning_rate", "2e-3", "--per_device_eval_batch_size", "4", "--train_file",
              str(GLUE / "sst2" / "train.tsv"), "--validation_file", str(GLUE / "sst2" / "dev.tsv"), "--test_file",
              str(GLUE / "sst2" / "dev.tsv")]
    single = recipe.main([*common, "--per_device_train_batch_size", "8", "--output_dir", str(tmp_path / "one")])
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
               str(REPO / "recipes" / "finetune_glue.py"), *common, "--per_device_train_batch_size", "4",
               "--output_dir", str(tmp_path / "two")]
    done = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    double = json.loads((tmp_path / "two" / "all_results.json").read_text())
    assert double["eval_examples"] == single["eval_examples"] == 21
    assert double["eval_accuracy"] == single["eval_accuracy"]
    assert double["train_steps"] == single["train_steps"] == 16
    assert double["train_loss"] == pytest.approx(single["train_loss"], rel=1e-4)  # the mean over both processes
    assert (tmp_path / "two" / "predict_results.txt").read_text() == (tmp_path / "one" / "predict_results.txt").read_text()
