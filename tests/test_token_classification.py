"""hfext.data.token_classification: the CoNLL-2003 column reader (and its parity with a Hub-style dataset of
ClassLabel tags), clear errors, and word labels aligned to WordPieces in both modes."""

import datasets
import pytest
from conftest import REPO

from hfext.data.token_classification import (
    b_to_i_labels,
    check_labels,
    label_names,
    load_conll_dataset,
    read_conll,
    tags_as_strings,
    tokenize_and_align_labels,
    word_predictions,
)
from hfext.errors import see

CONLL = REPO / "tests" / "fixtures" / "conll2003"

SAMPLE = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O


Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
-DOCSTART- -X- -X- O

BRUSSELS NNP B-NP B-LOC"""


def test_reader_reads_the_conll2003_columns(tmp_path):
    path = tmp_path / "sample.txt"
    path.write_text(SAMPLE)  # blank-line runs, a -DOCSTART- right after a sentence, no final newline
    rows = read_conll(path)
    assert [row["tokens"] for row in rows] == [["EU", "rejects", "German", "call", "."], ["Peter", "Blackburn"], ["BRUSSELS"]]
    assert rows[0]["ner_tags"] == ["B-ORG", "O", "B-MISC", "O", "O"]
    assert rows[0]["pos_tags"] == ["NNP", "VBZ", "JJ", "NN", "."] and rows[1]["chunk_tags"] == ["B-NP", "I-NP"]
    assert [row["id"] for row in rows] == ["0", "1", "2"]
    (tmp_path / "two.txt").write_text("EU B-ORG\nrejects O\n\nPeter B-PER\n")  # word + tag only
    assert read_conll(tmp_path / "two.txt") == [{"id": "0", "tokens": ["EU", "rejects"], "ner_tags": ["B-ORG", "O"]},
                                                {"id": "1", "tokens": ["Peter"], "ner_tags": ["B-PER"]}]
    fixture = read_conll(CONLL / "train.txt")
    text = (CONLL / "train.txt").read_text()
    sentences = [block for block in text.split("\n\n") if block.strip() and not block.startswith("-DOCSTART-")]
    assert len(fixture) == len(sentences) and sum(len(r["tokens"]) for r in fixture) == sum(
        len(block.strip().splitlines()) for block in sentences)


def test_reader_errors_name_the_line(tmp_path):
    (tmp_path / "bad.txt").write_text("EU NNP B-NP B-ORG\nrejects VBZ O\n")
    with pytest.raises(ValueError, match=r"bad.txt:2: 3 columns \('rejects VBZ O'\) where the file's first token "
                                         r"line has 4"):
        read_conll(tmp_path / "bad.txt")
    (tmp_path / "words.txt").write_text("\nEU\nrejects\n\nPeter\n")  # words only: text to tag
    assert read_conll(tmp_path / "words.txt") == [{"id": "0", "tokens": ["EU", "rejects"]}, {"id": "1", "tokens": ["Peter"]}]
    (tmp_path / "mixed.txt").write_text("EU\nrejects O\n")
    with pytest.raises(ValueError, match=r"mixed.txt:2: 2 columns"):
        read_conll(tmp_path / "mixed.txt")
    (tmp_path / "empty.txt").write_text("-DOCSTART- -X- -X- O\n\n")
    with pytest.raises(ValueError, match="holds no sentences") as error:
        read_conll(tmp_path / "empty.txt")
    assert str(error.value).endswith(see("conll-format"))
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        read_conll(tmp_path / "missing.txt")


def test_file_and_hub_style_datasets_give_the_same_tags_and_unseen_labels_are_refused():
    from_file = load_conll_dataset(CONLL / "valid.txt")
    labels = label_names(from_file)
    assert labels == sorted({t for tags in from_file["ner_tags"] for t in tags}) and "O" in labels
    # The Hub's conll2003 stores tags as ClassLabel ids in its own order.
    names = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
    hub = datasets.Dataset.from_dict(
        {"tokens": from_file["tokens"], "ner_tags": [[names.index(t) for t in tags] for tags in from_file["ner_tags"]]},
        features=datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")),
                                    "ner_tags": datasets.Sequence(datasets.ClassLabel(names=names))}))
    assert label_names(hub) == names
    assert tags_as_strings(hub)["ner_tags"] == from_file["ner_tags"]
    assert tags_as_strings(from_file) is from_file
    check_labels(labels, from_file)
    with pytest.raises(ValueError, match=r"the validation data has label\(s\) \['B-EVENT'\] that the training data "
                                         r"doesn't have"):
        check_labels(labels, datasets.Dataset.from_dict({"ner_tags": [["O", "B-EVENT"]]}))


@pytest.fixture(scope="module")
def tokenizer():
    from hfext.training.bert import train_wordpiece

    # A vocabulary too small for whole names: they split into several WordPieces.
    return train_wordpiece(["Peter Blackburn visited Brussels", "the EU rejects German call"] * 3, vocab_size=60,
                           lowercase=False)


def test_labels_align_to_the_first_wordpiece_or_to_all(tokenizer):
    labels = ["B-LOC", "B-MISC", "B-ORG", "B-PER", "I-LOC", "I-MISC", "I-ORG", "I-PER", "O"]
    label_to_id = {label: i for i, label in enumerate(labels)}
    assert [labels[i] for i in b_to_i_labels(labels)] == ["I-LOC", "I-MISC", "I-ORG", "I-PER", *labels[4:]]
    batch = {"tokens": [["Peter", "Blackburn", "visited", "Brussels"]], "ner_tags": [["B-PER", "I-PER", "O", "B-LOC"]]}
    first = tokenize_and_align_labels(batch, tokenizer, label_to_id)
    every = tokenize_and_align_labels(batch, tokenizer, label_to_id, label_all_tokens=True)
    word_ids = first["word_ids"][0]
    pieces = tokenizer.convert_ids_to_tokens(first["input_ids"][0])
    assert pieces[0] == "[CLS]" and word_ids[0] == -1 and word_ids[-1] == -1
    assert len(word_ids) > 6  # some words are several pieces
    expected_first, expected_every, previous = [], [], None
    for word in word_ids:
        if word == -1:
            expected_first.append(-100)
            expected_every.append(-100)
        elif word != previous:
            expected_first.append(label_to_id[batch["ner_tags"][0][word]])
            expected_every.append(label_to_id[batch["ner_tags"][0][word]])
        else:
            expected_first.append(-100)
            tag = batch["ner_tags"][0][word]
            expected_every.append(label_to_id[tag.replace("B-", "I-")])
        previous = word
    assert first["labels"][0] == expected_first and every["labels"][0] == expected_every
    assert first["labels"][0][1] == label_to_id["B-PER"]
    assert label_to_id["I-LOC"] in every["labels"][0]  # Brussels' later pieces continue the entity
    truncated = tokenize_and_align_labels(batch, tokenizer, label_to_id, max_seq_length=5)
    assert len(truncated["input_ids"][0]) == 5 and truncated["labels"][0][-1] == -100
    padded = tokenize_and_align_labels(batch, tokenizer, label_to_id, max_seq_length=32, padding="max_length")
    assert len(padded["labels"][0]) == 32 and padded["labels"][0][-1] == -100


def test_word_predictions_take_first_pieces_and_fill_truncated_words():
    labels = ["B-PER", "I-PER", "O"]
    # [CLS] Peter Black ##burn visited [SEP]; the fourth word was cut off by truncation
    assert word_predictions([-1, 0, 1, 1, 2, -1], [2, 0, 1, 0, 2, 0], num_words=4, label_list=labels) == [
        "B-PER", "I-PER", "O", "O"]
