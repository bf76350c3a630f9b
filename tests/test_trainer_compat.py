"""hfext models are ordinary transformers models for transformers' ``Trainer``: it trains them (loss goes
down), saves safetensors that reload through the Auto classes, and its ``checkpoint-N`` folders (weights plus
pickled optimizer/scheduler state) load with hfext's safe loader, which takes the weights and leaves the
training state alone."""

import pytest
import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    Trainer,
    TrainingArguments,
)

import hfext  # noqa: F401
from hfext.loading import UnsafeWeightsError, load_pretrained

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: threads only contend


class ListDataset(torch.utils.data.Dataset):
    def __init__(self, rows):
        self.rows = rows

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, index):
        return self.rows[index]


def arguments(output_dir, **overrides):
    settings = {"output_dir": str(output_dir), "max_steps": 12, "per_device_train_batch_size": 8, "learning_rate": 5e-3,
                "logging_steps": 1, "save_steps": 6, "save_strategy": "steps", "report_to": "none", "use_cpu": True,
                "seed": 0, "dataloader_num_workers": 0, "disable_tqdm": True, "lr_scheduler_type": "constant"}
    return TrainingArguments(**{**settings, **overrides})


def losses(trainer):
    return [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]


def assert_same_weights(model, other):
    reference = other.state_dict()
    for name, value in model.state_dict().items():
        assert torch.equal(value, reference[name]), name


def test_trainer_trains_saves_and_reloads_an_hfext_gpt(tmp_path):
    torch.manual_seed(0)
    config = AutoConfig.for_model("hfext-gpt", vocab_size=64, n_positions=16, n_embd=32, n_layer=1, n_head=2,
                                  bos_token_id=0, eos_token_id=0, pad_token_id=0)
    AutoModelForCausalLM.from_config(config).save_pretrained(tmp_path / "start")  # e.g. a recipe's output folder
    model = load_pretrained(tmp_path / "start", AutoModelForCausalLM)
    # counting sequences: each token predicts the next, which a model learns in a few steps
    rows = [{"input_ids": ids, "labels": ids} for ids in (torch.arange(s, s + 16) % 64 for s in range(64))]
    trainer = Trainer(model=model, args=arguments(tmp_path / "run", learning_rate=1e-2), train_dataset=ListDataset(rows))
    trainer.train()
    history = losses(trainer)
    assert len(history) == 12 and sum(history[-3:]) / 3 < 0.8 * sum(history[:3]) / 3

    trainer.save_model(tmp_path / "final")
    assert (tmp_path / "final" / "model.safetensors").exists()
    assert not list((tmp_path / "final").glob("pytorch_model*.bin"))  # (training_args.bin is the Trainer's settings)
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path / "final")
    assert type(reloaded).__name__ == "GPTForCausalLM" and reloaded.config.model_type == "hfext-gpt"
    assert_same_weights(reloaded, trainer.model)
    assert reloaded.lm_head.weight.data_ptr() == reloaded.get_input_embeddings().weight.data_ptr()  # still tied

    # a Trainer checkpoint: weights + optimizer.pt / scheduler.pt / rng_state.pth (pickles of training state)
    checkpoint = tmp_path / "run" / "checkpoint-12"
    assert {"model.safetensors", "optimizer.pt", "trainer_state.json"} <= {p.name for p in checkpoint.iterdir()}
    assert_same_weights(load_pretrained(checkpoint, AutoModelForCausalLM, model_types=["hfext-gpt"]), trainer.model)
    # ... but a checkpoint whose weights are only pickled is still refused
    (checkpoint / "model.safetensors").rename(checkpoint / "weights.safetensors.bak")
    torch.save(trainer.model.state_dict(), checkpoint / "pytorch_model.bin")
    with pytest.raises(UnsafeWeightsError, match=r"only as pickle \(pytorch_model.bin\)"):
        load_pretrained(checkpoint, AutoModelForCausalLM)


def test_trainer_fine_tunes_an_hfext_bert_classifier_and_resumes(tmp_path):
    torch.manual_seed(0)
    config = AutoConfig.for_model("hfext-bert", vocab_size=40, hidden_size=32, num_hidden_layers=1,
                                  num_attention_heads=2, intermediate_size=64, max_position_embeddings=16,
                                  num_labels=2, pad_token_id=0)
    model = AutoModelForSequenceClassification.from_config(config)
    generator = torch.Generator().manual_seed(0)
    rows = []
    for _ in range(96):  # label 1 when token 7 occurs in the sentence
        ids = torch.randint(8, 40, (12,), generator=generator)
        label = int(torch.rand((), generator=generator) < 0.5)
        if label:
            ids[torch.randint(1, 12, (), generator=generator)] = 7
        ids[0] = 1  # [CLS]
        rows.append({"input_ids": ids, "attention_mask": torch.ones(12, dtype=torch.long), "labels": torch.tensor(label)})
    trainer = Trainer(model=model, args=arguments(tmp_path / "run", max_steps=24, save_steps=12, learning_rate=2e-3),
                      train_dataset=ListDataset(rows))
    trainer.train()
    history = losses(trainer)
    assert sum(history[-4:]) / 4 < sum(history[:4]) / 4
    trainer.save_model(tmp_path / "final")
    reloaded = load_pretrained(tmp_path / "final", AutoModelForSequenceClassification, model_types=["hfext-bert"])
    assert type(reloaded).__name__ == "BertForSequenceClassification" and reloaded.config.num_labels == 2
    assert_same_weights(reloaded, trainer.model)

    # Trainer resumes from its own checkpoint of an hfext model to the same weights as the uninterrupted run
    again = Trainer(model=AutoModelForSequenceClassification.from_config(config),
                    args=arguments(tmp_path / "run", max_steps=24, save_steps=12, learning_rate=2e-3),
                    train_dataset=ListDataset(rows))
    again.train(resume_from_checkpoint=str(tmp_path / "run" / "checkpoint-12"))
    for name, value in trainer.model.state_dict().items():
        torch.testing.assert_close(again.model.state_dict()[name], value, rtol=1e-5, atol=1e-6, msg=name)
