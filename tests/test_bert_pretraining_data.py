"""BERT pretraining data: NSP pairs from documents (template, segments, 50 % negatives from other
documents, packing to max_seq_length) and MLM masking (15 %, 80/10/10, specials and padding never
masked, whole-word option), the collator's batch feeding BertForPreTraining, and clear errors."""

import pytest
import torch
from hfext_bert import BertConfig, BertForPreTraining
from test_bert_model import CORPUS, wordpiece_tokenizer

from hfext.data import DataCollatorForBertPretraining, build_nsp_examples, mask_tokens
from hfext.errors import see

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: threads only contend


@pytest.fixture(scope="module")
def tokenizer():
    return wordpiece_tokenizer()


def documents(n=12):
    # Document d: six corpus sentences (rotated by d) plus d-dependent words, so every document differs.
    return [[f"{CORPUS[(d + k) % 6]} {' '.join(['cat'] * (d % 3 + 1))}" for k in range(6)] for d in range(n)]


def test_nsp_pairs_template_segments_labels_and_packing(tokenizer):
    examples = build_nsp_examples(documents(), tokenizer, max_seq_length=32, seed=0)
    assert len(examples) > 20
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    for example in examples:
        ids, types = example["input_ids"], example["token_type_ids"]
        assert len(ids) <= 32 and len(ids) == len(types)
        assert ids[0] == cls and ids[-1] == sep and ids.count(sep) == 2
        first_sep = ids.index(sep)
        assert types == [0] * (first_sep + 1) + [1] * (len(ids) - first_sep - 1)
    labels = [e["next_sentence_label"] for e in examples]
    assert 0.3 < sum(labels) / len(labels) < 0.7  # about half the B segments are random
    # Packing: sentences are ~8 tokens, so most pairs fill close to the 32 positions.
    assert sum(len(e["input_ids"]) for e in examples) / len(examples) > 20
    # Deterministic for a seed.
    assert build_nsp_examples(documents(), tokenizer, max_seq_length=32, seed=0) == examples


def test_true_next_sentence_follows_in_the_document(tokenizer):
    docs = [[[10 + d, 10 + d], [20 + d, 20 + d], [30 + d, 30 + d], [40 + d, 40 + d]] for d in range(4)]  # token ids
    examples = build_nsp_examples(docs, tokenizer, max_seq_length=64, short_seq_prob=0.0, seed=1)
    for example in examples:
        ids = example["input_ids"]
        first_sep = ids.index(tokenizer.sep_token_id)
        a, b = ids[1:first_sep], ids[first_sep + 1:-1]
        same_doc = a[0] % 10 == b[0] % 10
        if example["next_sentence_label"] == 0:
            assert same_doc and b[0] == a[-1] + 10  # B starts with the sentence after A's last one
        else:
            assert not same_doc


def test_mask_tokens_rates_80_10_10_and_specials_untouched():
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 1000, (200, 100), generator=generator)
    special = torch.zeros_like(ids, dtype=torch.bool)
    special[:, 0] = special[:, -1] = True
    inputs, labels = mask_tokens(ids, 4, 1000, special, mlm_probability=0.15, generator=generator)
    chosen = labels != -100
    assert (labels[chosen] == ids[chosen]).all() and not chosen[special].any()
    assert 0.14 < chosen.float().sum() / (~special).sum() < 0.16
    masked = (inputs == 4) & chosen
    unchanged = (inputs == ids) & chosen
    assert 0.77 < masked.sum() / chosen.sum() < 0.83
    assert 0.08 < unchanged.sum() / chosen.sum() < 0.12  # (plus a random draw equal to the id: 0.1 %)
    assert (inputs[~chosen] == ids[~chosen]).all()


def test_whole_word_masking_masks_every_piece_of_a_word():
    generator = torch.Generator().manual_seed(0)
    ids = torch.arange(10, 10 + 60).repeat(300, 1)  # (300, 60)
    word_starts = torch.ones_like(ids, dtype=torch.bool)
    word_starts[:, 1::3] = False  # words of 3 pieces: 3k starts a word, 3k+1 and 3k+2 continue it
    word_starts[:, 2::3] = False
    _, labels = mask_tokens(ids, 4, 100, word_starts=word_starts, generator=generator)
    chosen = (labels != -100).view(300, 20, 3)
    assert (chosen.all(-1) | ~chosen.any(-1)).all()  # a word is predicted whole or not at all
    assert 0.13 < chosen.float().mean() < 0.17


def test_collator_batch_trains_bert_for_pretraining(tokenizer):
    examples = build_nsp_examples(documents(), tokenizer, max_seq_length=32, seed=0)[:8]
    collator = DataCollatorForBertPretraining(tokenizer, whole_word_mask=True, pad_to_multiple_of=8, seed=0)
    batch = collator(examples)
    assert batch["input_ids"].shape[1] % 8 == 0 and set(batch) == {
        "input_ids", "token_type_ids", "attention_mask", "labels", "next_sentence_label"}
    padding = batch["attention_mask"] == 0
    assert (batch["labels"][padding] == -100).all() and (batch["input_ids"][padding] == tokenizer.pad_token_id).all()
    assert (batch["labels"][:, 0] == -100).all()  # [CLS] is never predicted
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=32)
    loss = BertForPreTraining(config)(**batch).loss
    assert torch.isfinite(loss) and loss > 0
    mlm_only = DataCollatorForBertPretraining(tokenizer, nsp=False, seed=0)([{"input_ids": e["input_ids"]} for e in examples])
    assert "next_sentence_label" not in mlm_only


def test_clear_errors(tokenizer):
    with pytest.raises(ValueError, match=r"MLM needs a mask token but the tokenizer has none"):
        mask_tokens(torch.ones(2, 3, dtype=torch.long), None, 10)
    no_mask = wordpiece_tokenizer()
    no_mask.mask_token = None
    with pytest.raises(ValueError, match=r"MLM needs a mask token"):
        DataCollatorForBertPretraining(no_mask)
    with pytest.raises(ValueError, match=r"needs at least 2 non-empty documents") as error:
        build_nsp_examples([["the cat sat", "on the mat"]], tokenizer)
    assert str(error.value).endswith(see("bert-pretraining-data"))
    with pytest.raises(ValueError, match=r"an example has no next_sentence_label"):
        DataCollatorForBertPretraining(tokenizer)([{"input_ids": [2, 5, 3]}])
