"""hfext-gpt: config validation, save/load with tied embeddings, causality, SDPA = eager, cached = uncached
decoding, left-padding invariance, greedy / sampling / beam search through GenerationMixin, gradient
checkpointing, the post-LN (GPT-1) layout, pipeline("text-generation") and bad input."""

import json
import os
import subprocess
import sys

import pytest
import torch
from hfext_gpt import GPTConfig, GPTForCausalLM, GPTModel
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    AutoModel,
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedTokenizerFast,
    pipeline,
)

import hfext  # noqa: F401  (registers hfext-gpt)

VOCAB = 40
PAD = 0


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: threads only contend


def tiny_config(**kwargs):
    # A wide init (0.2, not 0.02) keeps a random model's logits far apart, so greedy choices never hinge on
    # float rounding differences between code paths.
    defaults = {"vocab_size": VOCAB, "n_positions": 32, "n_embd": 32, "n_layer": 2, "n_head": 4, "dropout": 0.0,
                "attention_dropout": 0.0, "initializer_range": 0.2, "pad_token_id": PAD, "eos_token_id": 1}
    return GPTConfig(**{**defaults, **kwargs})


def tiny_model(seed=0, **kwargs):
    torch.manual_seed(seed)
    return GPTForCausalLM(tiny_config(**kwargs)).eval()


def test_config_errors_name_the_values():
    with pytest.raises(ValueError, match=r"n_embd \(30\) is not a multiple of n_head \(4\)"):
        GPTConfig(n_embd=30, n_head=4)
    with pytest.raises(ValueError, match="dropout must be a probability"):
        GPTConfig(dropout=1.5)
    with pytest.raises(ValueError, match="activation_function must be one of"):
        GPTConfig(activation_function="tanhh")
    with pytest.raises(ValueError, match=r"bos_token_id \(99\)"):
        GPTConfig(vocab_size=50, bos_token_id=99)
    config = GPTConfig()
    assert (config.n_layer, config.n_embd, config.n_head, config.n_positions, config.vocab_size) == (12, 768, 12, 1024, 50257)
    assert config.pre_norm and config.tie_word_embeddings
    assert (config.hidden_size, config.num_attention_heads, config.num_hidden_layers) == (768, 12, 12)


def test_too_long_empty_and_bad_inputs_fail_clearly():
    model = tiny_model()
    with pytest.raises(ValueError, match=r"33 positions .* n_positions is 32") as error:
        model(input_ids=torch.ones(1, 33, dtype=torch.long))
    assert str(error.value).endswith("(max_new_tokens) (see docs/troubleshooting.md#max-seq-length)")
    with pytest.raises(ValueError, match="n_positions is 32"):
        model.generate(torch.ones(1, 30, dtype=torch.long), max_new_tokens=5, do_sample=False)
    with pytest.raises(ValueError, match="input is empty"):
        model(input_ids=torch.ones(1, 0, dtype=torch.long))
    with pytest.raises(ValueError, match=r"token ids \[40\] outside the vocabulary"):
        model(input_ids=torch.tensor([[3, 40]]))
    with pytest.raises(ValueError, match="bos_token_id"):  # no prompt and no BOS to start from
        model.generate(max_new_tokens=3)
    with pytest.raises(ValueError, match="input is empty.*BOS token"):  # an empty prompt says how to start
        model.generate(torch.ones(1, 0, dtype=torch.long), max_new_tokens=3)


def test_auto_classes_and_save_load_round_trip_keep_ties(tmp_path):
    model = tiny_model()
    assert model.lm_head.weight is model.transformer.wte.weight
    model.save_pretrained(tmp_path)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert type(loaded) is GPTForCausalLM
    assert loaded.lm_head.weight is loaded.transformer.wte.weight
    ids = torch.tensor([[3, 4, 5, 6, 7]])
    torch.testing.assert_close(loaded(input_ids=ids).logits, model(input_ids=ids).logits, rtol=0, atol=0)
    base = AutoModel.from_pretrained(tmp_path)
    assert type(base) is GPTModel
    torch.testing.assert_close(base.wpe.weight, model.transformer.wpe.weight)
    # untied: a separate output matrix survives the round trip
    untied = tiny_model(tie_word_embeddings=False)
    assert untied.lm_head.weight is not untied.transformer.wte.weight
    untied.save_pretrained(tmp_path / "untied")
    again = AutoModelForCausalLM.from_pretrained(tmp_path / "untied")
    torch.testing.assert_close(again.lm_head.weight, untied.lm_head.weight)
    assert not torch.equal(again.lm_head.weight, again.transformer.wte.weight)


@pytest.mark.parametrize("pre_norm", [True, False])
def test_causal_and_sdpa_equals_eager(pre_norm):
    model = tiny_model(pre_norm=pre_norm)
    assert (model.transformer.ln_f is None) == (not pre_norm)
    ids = torch.tensor([[3, 4, 5, 6, 7, 8]])
    changed = ids.clone()
    changed[0, 4:] = torch.tensor([20, 21])
    logits, logits_changed = model(input_ids=ids).logits, model(input_ids=changed).logits
    torch.testing.assert_close(logits[:, :4], logits_changed[:, :4])  # the future never leaks back
    assert not torch.allclose(logits[:, 4:], logits_changed[:, 4:])
    model.set_attn_implementation("eager")
    torch.testing.assert_close(model(input_ids=ids).logits, logits, atol=1e-5, rtol=1e-5)


def test_loss_is_next_token_cross_entropy():
    model = tiny_model()
    ids = torch.tensor([[3, 4, 5, 6, 7]])
    labels = ids.clone()
    labels[0, 2] = -100
    output = model(input_ids=ids, labels=labels)
    log_probs = output.logits[0, :-1].log_softmax(-1)
    targets = [(0, 4), (2, 6), (3, 7)]  # position t predicts token t + 1; the label at 2 is ignored
    expected = -torch.stack([log_probs[t, y] for t, y in targets]).mean()
    torch.testing.assert_close(output.loss, expected)


def test_cached_decoding_equals_uncached_and_full_forward():
    model = tiny_model()
    prompt = torch.tensor([[3, 9, 4, 12]])
    cached = model.generate(prompt, max_new_tokens=20, do_sample=False, use_cache=True, eos_token_id=None)
    uncached = model.generate(prompt, max_new_tokens=20, do_sample=False, use_cache=False, eos_token_id=None)
    assert cached.shape == (1, 24)
    assert torch.equal(cached, uncached)
    assert len(set(cached[0, 4:].tolist())) > 2  # a real continuation, not one token repeated
    # step-by-step logits with the cache equal the logits of one full forward
    full = model(input_ids=cached).logits
    out = model(input_ids=cached[:, :4], use_cache=True)
    steps = [out.logits]
    for t in range(4, 24):
        out = model(input_ids=cached[:, t : t + 1], cache=out.cache, use_cache=True)
        steps.append(out.logits)
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-5, rtol=1e-5)


def test_left_padded_batch_generates_what_single_inputs_do():
    model = tiny_model()
    prompts = [[3, 9, 4, 12, 5, 6], [7, 8], [10, 11, 13, 14]]
    singles = [model.generate(torch.tensor([p]), max_new_tokens=10, do_sample=False, eos_token_id=None)[0, len(p):]
               for p in prompts]
    width = max(map(len, prompts))
    input_ids = torch.tensor([[PAD] * (width - len(p)) + p for p in prompts])
    attention_mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    batch = model.generate(input_ids=input_ids, attention_mask=attention_mask, max_new_tokens=10, do_sample=False,
                           eos_token_id=None)
    for row, single in zip(batch[:, width:], singles):
        assert row.tolist() == single.tolist()


def test_greedy_sampling_and_beam_search():
    model = tiny_model()
    prompt = torch.tensor([[3, 9, 4]])
    greedy = model.generate(prompt, max_new_tokens=8, do_sample=False, eos_token_id=None)
    beam = model.generate(prompt, max_new_tokens=8, num_beams=4, do_sample=False, eos_token_id=None,
                          output_scores=True, return_dict_in_generate=True)
    assert beam.sequences.shape == (1, 11)

    def log_prob(sequence):
        logits = model(input_ids=sequence).logits[0, 2:-1].log_softmax(-1)
        return logits.gather(-1, sequence[0, 3:, None]).sum()

    assert log_prob(beam.sequences) >= log_prob(greedy) - 1e-4  # beam search finds at least greedy's score
    torch.manual_seed(0)
    samples = model.generate(prompt.repeat(8, 1), max_new_tokens=8, do_sample=True, temperature=1.5, top_k=20,
                             top_p=0.95, eos_token_id=None)
    assert samples.shape == (8, 11) and len({tuple(s) for s in samples.tolist()}) > 1
    torch.manual_seed(0)
    cold = model.generate(prompt, max_new_tokens=8, do_sample=True, top_k=1, eos_token_id=None)
    assert torch.equal(cold, greedy)  # top-1 sampling is greedy


def test_gradient_checkpointing_gives_the_same_gradients():
    ids = torch.tensor([[3, 4, 5, 6, 7, 8, 9]])
    grads = []
    for checkpointing in (False, True):
        model = tiny_model().train()
        if checkpointing:
            model.activation_checkpointing_enable() if hasattr(model, "activation_checkpointing_enable") else model.gradient_checkpointing_enable()
            assert model.transformer.gradient_checkpointing
        model(input_ids=ids, labels=ids).loss.backward()
        grads.append(model.transformer.h[0].attn.c_attn.weight.grad.clone())
    torch.testing.assert_close(grads[0], grads[1])


def train_byte_level_bpe(texts, vocab_size=300):
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                   pad_token="<|endoftext|>")


def test_text_generation_pipeline_on_a_saved_directory(tmp_path):
    texts = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog"] * 5
    tokenizer = train_byte_level_bpe(texts)
    model = tiny_model(vocab_size=len(tokenizer), pad_token_id=0, bos_token_id=0, eos_token_id=0, n_positions=64)
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    assert isinstance(AutoTokenizer.from_pretrained(tmp_path), PreTrainedTokenizerFast)
    generator = pipeline("text-generation", model=str(tmp_path), device="cpu")
    out = generator("the cat", max_new_tokens=6, do_sample=False)
    text = out[0]["generated_text"]
    assert text.startswith("the cat") and len(text) > len("the cat")
    ids = tokenizer("the cat", return_tensors="pt").input_ids
    direct = model.generate(ids, max_new_tokens=6, do_sample=False)
    assert text == tokenizer.decode(direct[0], skip_special_tokens=True)


def test_remote_code_checkpoint_loads_and_generates_without_hfext(tmp_path):
    model = tiny_model(seed=3)
    model.register_for_auto_class("AutoModelForCausalLM")
    model.config.register_for_auto_class()
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["auto_map"]["AutoModelForCausalLM"] == "modeling_gpt.GPTForCausalLM"
    assert {"modeling_gpt.py", "configuration_gpt.py"} <= set(os.listdir(tmp_path))
    expected = model.generate(torch.tensor([[3, 9, 4]]), max_new_tokens=8, do_sample=False, eos_token_id=None)
    code = (
        "import json, sys, torch\n"
        "from transformers import AutoModelForCausalLM\n"
        f"m = AutoModelForCausalLM.from_pretrained({str(tmp_path)!r}, trust_remote_code=True).eval()\n"
        "out = m.generate(torch.tensor([[3, 9, 4]]), max_new_tokens=8, do_sample=False, eos_token_id=None)\n"
        "print(json.dumps({'module': type(m).__module__, 'hfext': 'hfext' in sys.modules, 'tokens': out.tolist()}))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "HF_MODULES_CACHE": str(tmp_path / "modules")}
    done = subprocess.run([sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["module"].startswith("transformers_modules") and not report["hfext"]
    assert report["tokens"] == expected.tolist()


def test_init_scales_the_residual_projections_as_gpt2():
    """GPT-2's init: N(0, 0.02) everywhere, N(0, 0.02 / sqrt(2 n_layer)) for the projections into the residual
    stream, also through from_config (transformers skips parameter-less remote-code modules' init)."""
    from transformers import AutoModelForCausalLM

    for model in (tiny_model(n_layer=8, n_embd=64, initializer_range=0.02),
                  AutoModelForCausalLM.from_config(tiny_config(n_layer=8, n_embd=64, initializer_range=0.02))):
        block = model.transformer.h[0]
        assert float(block.attn.c_attn.weight.std()) == pytest.approx(0.02, rel=0.05)
        assert float(block.mlp.c_fc.weight.std()) == pytest.approx(0.02, rel=0.05)
        for projection in (block.attn.c_proj, block.mlp.c_proj):
            assert float(projection.weight.std()) == pytest.approx(0.02 / 4, rel=0.1)
