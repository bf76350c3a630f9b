"""GPT (Radford et al., 2018/2019): the Transformer decoder without encoder-decoder attention, as a transformers model.

>>> import torch
>>> from hfext_gpt import GPTConfig, GPTForCausalLM
>>> config = GPTConfig(vocab_size=100, n_positions=64, n_embd=32, n_layer=2, n_head=4)
>>> model = GPTForCausalLM(config).eval()
>>> ids = torch.tensor([[5, 6, 7, 8]])
>>> model(input_ids=ids, labels=ids).logits.shape
torch.Size([1, 4, 100])
>>> model.generate(ids, max_new_tokens=5, do_sample=False).shape
torch.Size([1, 9])

Pieces, bottom-up: token embeddings + learned position embeddings; masked multi-head self-attention
softmax(Q K^T / sqrt(d_k) + causal/padding mask) V (dispatched to torch's SDPA or the eager reference through
transformers' ``ALL_ATTENTION_FUNCTIONS``; the block is copied from ``hfext_transformer``); a GELU MLP
act(x W1 + b1) W2 + b2; blocks are pre-LN ``x + Sublayer(LayerNorm(x))`` with a final LayerNorm (GPT-2) or
post-LN ``LayerNorm(x + Sublayer(x))`` (GPT-1). Decoding caches keys/values in a ``DynamicCache``.
Positions follow the attention mask (cumulative count of real tokens), so a left-padded row sees the same
positions as the unpadded sequence.

Self-contained: imports only torch, transformers and the sibling configuration file, so a pushed
checkpoint loads with ``trust_remote_code=True`` on a machine without hfext.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.cache_utils import Cache, DynamicCache
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import (
    BaseModelOutputWithPast,
    CausalLMOutputWithPast,
)
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.pytorch_utils import Conv1D

from .configuration_gpt import GPTConfig, see


# Copied from hfext_transformer.modeling_transformer._additive_mask with Transformer->GPT
def _additive_mask(allowed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A boolean "may attend" mask -> 0 / most-negative float, the form both SDPA and eager add to the scores.
    A finite minimum (not -inf) keeps a fully masked row (a padding query) a harmless uniform softmax, not NaN."""
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill_(~allowed, torch.finfo(dtype).min)


# Copied from hfext_transformer.modeling_transformer.eager_attention_forward with Transformer->GPT
def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention written out: softmax(Q K^T / sqrt(d_k) + mask) V."""
    if scaling is None:
        scaling = query.size(-1) ** -0.5
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling  # (B, nh, T, S)
    if attention_mask is not None:
        scores = scores + attention_mask
    weights = F.softmax(scores, dim=-1)
    weights = F.dropout(weights, p=dropout, training=module.training)
    output = torch.matmul(weights, value)  # (B, nh, T, hs)
    return output.transpose(1, 2).contiguous(), weights  # (B, T, nh, hs)


class GPTAttention(nn.Module):
    """Masked multi-head self-attention: h heads of size n_embd / h, projected back to n_embd.

    Not a copy of ``hfext_transformer``'s attention (which has separate q/k/v projections and always takes an
    explicit mask): q, k and v come from one fused projection (one matmul instead of three, GPT-2's ``c_attn``
    layout), and without padding or a cached prefix SDPA's built-in causal kernel runs with no mask at all.

    The projections are GPT-2's ``Conv1D`` (a linear layer whose weight is stored (in, out), y = x W + b): on CPU
    the one-token decoding step, a vector-matrix product, runs faster with that layout than ``nn.Linear``'s
    (out, in) (KV-cache generation 1.16x tokens/s measured here), and GPT-2 checkpoints convert without transposes."""

    def __init__(self, config: GPTConfig, layer_idx: int | None = None):
        super().__init__()
        self.config = config
        self.embed_dim = config.n_embd
        self.num_heads = config.n_head
        self.head_dim = config.n_embd // config.n_head
        self.scaling = self.head_dim**-0.5  # the 1/sqrt(d_k) of scaled dot-product attention
        self.dropout = config.attention_dropout
        self.is_causal = True
        self.layer_idx = layer_idx
        self.c_attn = Conv1D(3 * self.embed_dim, self.embed_dim)  # (d, 3d): q | k | v
        self.c_proj = Conv1D(self.embed_dim, self.embed_dim)
        self.c_proj.is_residual_projection = True

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        cache: Cache | None = None,
        **kwargs,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch_size, length = hidden_states.shape[:2]
        qkv = self.c_attn(hidden_states).view(batch_size, length, 3, self.num_heads, self.head_dim)
        query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x (B, nh, T, hs)
        if cache is not None:
            key, value = cache.update(key, value, self.layer_idx)  # (B, nh, past + T, hs)
        attention_interface = ALL_ATTENTION_FUNCTIONS.get_interface(self.config._attn_implementation, eager_attention_forward)
        output, weights = attention_interface(
            self,
            query,
            key,
            value,
            attention_mask,
            dropout=self.dropout if self.training else 0.0,
            scaling=self.scaling,
            # GPTModel passes mask=None only where plain causal attention is exactly right (see _needs_mask).
            is_causal=attention_mask is None,
            **kwargs,
        )
        output = output.reshape(batch_size, length, self.embed_dim)  # (B, T, d): heads concatenated
        return self.c_proj(output), weights


def _check_token_ids(input_ids: torch.Tensor, vocab_size: int) -> None:
    if input_ids.numel() and (int(input_ids.min()) < 0 or int(input_ids.max()) >= vocab_size):
        bad = input_ids[(input_ids < 0) | (input_ids >= vocab_size)].unique()[:5].tolist()
        raise ValueError(
            f"input_ids holds token ids {bad} outside the vocabulary [0, {vocab_size}); use the tokenizer this model "
            "was trained with, or resize the embeddings with model.resize_token_embeddings(len(tokenizer))"
            + see("token-ids")
        )


class GPTMLP(nn.Module):
    """The position-wise feed-forward network act(x W1 + b1) W2 + b2, 4 x wider inside by default."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = Conv1D(config.inner_dim, config.n_embd)  # weights (in, out), as in GPTAttention
        self.c_proj = Conv1D(config.n_embd, config.inner_dim)
        self.c_proj.is_residual_projection = True
        self.act = ACT2FN[config.activation_function]

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.c_proj(self.act(self.c_fc(hidden_states)))  # (B, T, d_ff) -> (B, T, d)


class GPTBlock(GradientCheckpointingLayer):
    """Masked self-attention then the MLP, each in a residual connection with LayerNorm before (GPT-2)
    or after (GPT-1) the sub-layer."""

    def __init__(self, config: GPTConfig, layer_idx: int | None = None):
        super().__init__()
        self.pre_norm = config.pre_norm
        self.dropout = config.dropout
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.attn = GPTAttention(config, layer_idx=layer_idx)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.mlp = GPTMLP(config)

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None,
                cache: Cache | None = None, **kwargs):
        inputs = self.ln_1(hidden_states) if self.pre_norm else hidden_states
        output, weights = self.attn(inputs, attention_mask=attention_mask, cache=cache, **kwargs)
        hidden_states = hidden_states + F.dropout(output, p=self.dropout, training=self.training)
        if not self.pre_norm:
            hidden_states = self.ln_1(hidden_states)
        inputs = self.ln_2(hidden_states) if self.pre_norm else hidden_states
        hidden_states = hidden_states + F.dropout(self.mlp(inputs), p=self.dropout, training=self.training)
        if not self.pre_norm:
            hidden_states = self.ln_2(hidden_states)
        return hidden_states, weights


class GPTPreTrainedModel(PreTrainedModel):
    config_class = GPTConfig
    config: GPTConfig
    base_model_prefix = "transformer"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _no_split_modules: ClassVar[list[str]] = ["GPTBlock"]
    _supports_sdpa = True
    _supports_flash_attn = False
    _supports_flex_attn = False
    _can_compile_fullgraph = False

    def _init_weights(self, module):
        std = self.config.initializer_range
        if isinstance(module, (nn.Linear, Conv1D)):
            if getattr(module, "is_residual_projection", False):
                # GPT-2 section 2.3: projections into the residual stream scaled by 1/sqrt(N), N = 2 per block.
                # Marked on the layer itself: transformers skips _init_weights of remote-code modules that hold
                # no parameters of their own (GPTAttention, GPTMLP), so they can't do it.
                std = std / math.sqrt(2 * self.config.n_layer)
            init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            init.normal_(module.weight, mean=0.0, std=std)
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)


class GPTModel(GPTPreTrainedModel):
    """Token + learned position embeddings and the stack of blocks; returns the last hidden states."""

    def __init__(self, config: GPTConfig):
        super().__init__(config)
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.n_positions, config.n_embd)
        self.h = nn.ModuleList([GPTBlock(config, i) for i in range(config.n_layer)])
        # Pre-LN leaves the residual stream un-normalised: one LayerNorm at the top (GPT-2).
        self.ln_f = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon) if config.pre_norm else None
        self.gradient_checkpointing = False
        self.post_init()

    def get_input_embeddings(self):
        return self.wte

    def set_input_embeddings(self, value):
        self.wte = value

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        past_key_values: Cache | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPast:
        cache = cache if cache is not None else past_key_values
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids or inputs_embeds" + see("model-inputs"))
        if input_ids is not None:
            _check_token_ids(input_ids, self.config.vocab_size)
            inputs_embeds = self.wte(input_ids)
        batch_size, length = inputs_embeds.shape[:2]
        if length == 0:
            raise ValueError(
                "the input is empty (0 tokens); give at least one token, e.g. start generation from the BOS "
                "token (set config.bos_token_id, or pass input_ids=[[tokenizer.bos_token_id]])" + see("model-inputs")
            )
        use_cache = self.config.use_cache if use_cache is None else use_cache
        if self.gradient_checkpointing and self.training:
            use_cache = False  # recomputed blocks would append to the cache twice
        if use_cache and cache is None:
            cache = DynamicCache(config=self.config)
        elif not use_cache:
            cache = None
        past = cache.get_seq_length() if cache is not None else 0
        if past + length > self.config.n_positions:
            raise ValueError(
                f"the sequence has {past + length} positions (cached {past} + new {length}) but this model's "
                f"n_positions is {self.config.n_positions}; truncate the input, e.g. tokenizer(..., truncation=True, "
                f"max_length={self.config.n_positions}), or generate fewer tokens (max_new_tokens)"
                + see("max-seq-length")
            )
        if attention_mask is not None and attention_mask.shape != (batch_size, past + length):
            raise ValueError(
                f"attention_mask has shape {tuple(attention_mask.shape)}, expected {(batch_size, past + length)} "
                "(cached steps + new steps)" + see("model-inputs")
            )
        if position_ids is None:
            if attention_mask is not None:
                # Count real tokens only, so a left-padded row has the positions of the unpadded sequence.
                position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)[:, past:]  # (B, T)
            else:
                position_ids = torch.arange(past, past + length, device=inputs_embeds.device)[None]  # (1, T)
        hidden_states = inputs_embeds + self.wpe(position_ids).to(inputs_embeds.dtype)
        hidden_states = F.dropout(hidden_states, p=self.config.dropout, training=self.training)  # (B, T, d)

        # Position t may attend to positions <= t (past + t in absolute terms) that are not padding. Without
        # padding, SDPA's causal kernel needs no mask for a fresh sequence, and one new token sees the whole cache.
        padded = attention_mask is not None and not bool(attention_mask.all())
        plain_causal = past == 0 and self.config._attn_implementation == "sdpa"
        mask = None
        if padded or (length > 1 and not plain_causal):
            query_pos = torch.arange(past, past + length, device=hidden_states.device)
            key_pos = torch.arange(past + length, device=hidden_states.device)
            allowed = (key_pos[None, :] <= query_pos[:, None])[None, None]  # (1, 1, T, past + T)
            if padded:
                allowed = allowed & attention_mask.bool()[:, None, None, :]  # (B, 1, T, past + T)
            mask = _additive_mask(allowed, hidden_states.dtype)

        all_hidden, all_attentions = [], []
        for block in self.h:
            if output_hidden_states:
                all_hidden.append(hidden_states)
            hidden_states, weights = block(hidden_states, mask, cache, **kwargs)
            if output_attentions:
                all_attentions.append(weights)
        if self.ln_f is not None:
            hidden_states = self.ln_f(hidden_states)
        if output_hidden_states:
            all_hidden.append(hidden_states)
        return BaseModelOutputWithPast(
            last_hidden_state=hidden_states,
            cache=cache,
            hidden_states=tuple(all_hidden) if output_hidden_states else None,
            attentions=tuple(all_attentions) if output_attentions else None,
        )


class GPTForCausalLM(GPTPreTrainedModel, GenerationMixin):
    """GPT with its language-model head (tied to the token embeddings): next-token prediction and ``generate()``
    (greedy, sampling with temperature/top-k/top-p, beam search)."""

    _tied_weights_keys: ClassVar[dict[str, str]] = {"lm_head.weight": "transformer.wte.weight"}

    def __init__(self, config: GPTConfig):
        super().__init__(config)
        self.transformer = GPTModel(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.post_init()

    def get_output_embeddings(self):
        return self.lm_head

    def set_output_embeddings(self, value):
        self.lm_head = value

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        past_key_values: Cache | None = None,
        **kwargs,
    ) -> CausalLMOutputWithPast:
        r"""``labels`` (B, T): usually ``input_ids`` itself, -100 where ignored; position t is scored on
        predicting label t + 1 (the shift happens here). ``logits_to_keep`` = k > 0 projects only the last k
        positions (generation needs just the last)."""
        outputs = self.transformer(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
            cache=cache if cache is not None else past_key_values, inputs_embeds=inputs_embeds, use_cache=use_cache,
            output_attentions=output_attentions, output_hidden_states=output_hidden_states, **kwargs,
        )
        hidden_states = outputs.last_hidden_state  # (B, T, d)
        keep = slice(-logits_to_keep, None) if isinstance(logits_to_keep, int) else logits_to_keep
        logits = self.lm_head(hidden_states[:, keep, :])  # (B, T', V)
        loss = None
        if labels is not None:
            # L = -sum_t log P(u_t | u_<t): logits at t predict the token at t + 1.
            # Shift the labels, not the logits: no copy of the (B, T, V) tensor (the last position gets -100).
            shift_labels = F.pad(labels.to(logits.device), (0, 1), value=-100)[:, 1:]
            if shift_labels.shape[1] != logits.shape[1]:
                raise ValueError(f"labels have {labels.shape[1]} positions but logits_to_keep left {logits.shape[1]}; "
                                 "pass logits_to_keep=0 when computing the loss" + see("labels-shape"))
            loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), shift_labels.reshape(-1), ignore_index=-100)
        return CausalLMOutputWithPast(
            loss=loss, logits=logits, cache=outputs.cache,
            hidden_states=outputs.hidden_states, attentions=outputs.attentions,
        )


__all__ = ["GPTMLP", "GPTAttention", "GPTBlock", "GPTForCausalLM", "GPTModel", "GPTPreTrainedModel"]
