"""ELMo as a Hugging Face model (Peters et al., 2018, "Deep contextualized word representations").

A character CNN turns each token into a context-independent vector x_k; a forward LSTM language model
reads the sentence left to right, a backward one right to left; pretraining maximises the lecture's joint
log-likelihood

    sum_k [ log p(t_k | t_1..t_{k-1}; Theta_x, Theta_fwd, Theta_s) + log p(t_k | t_{k+1}..t_N; Theta_x, Theta_bwd, Theta_s) ]

with the token representation Theta_x (the char CNN) and the softmax Theta_s shared by both directions.
A downstream task uses every layer: ELMo_k = gamma * sum_j s_j h_kj with s = softmax(w) (the scalar mix).

The layout and the numerics are AllenNLP's (``_ElmoCharacterEncoder``, ``ElmoLstm``,
``LstmCellWithProjection``, ``ScalarMix``), so AllenNLP's published weights convert exactly
(``hfext convert allennlp-elmo``). The model is stateless: every sentence starts from zero LSTM states,
so a sentence's vectors never depend on the batch it is in or what came before.

Inputs are character ids ``(B, T, max_characters_per_token)`` from :class:`ElmoCharacterTokenizer`,
which adds ``<S>`` / ``</S>`` around each sentence (as AllenNLP's ``Elmo`` does inside the model).

>>> from hfext_elmo import ElmoConfig, ElmoModel, ElmoCharacterTokenizer
>>> config = ElmoConfig(filters=[[1, 4], [2, 8]], n_highway=1, projection_dim=8, lstm_dim=16)
>>> model = ElmoModel(config).eval()
>>> batch = ElmoCharacterTokenizer()(["the cat sat", "a dog"], return_tensors="pt")
>>> out = model(**batch)
>>> out.elmo_representations.shape, len(out.hidden_states)   # <S> the cat sat </S>: 5 positions
(torch.Size([2, 5, 16]), 3)

Self-contained (torch + transformers only) so pushed checkpoints load with ``trust_remote_code=True``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.utils import ModelOutput

from .configuration_elmo import ElmoConfig, see


@dataclass
class ElmoModelOutput(ModelOutput):
    """
    elmo_representations: (B, T, 2P) the scalar mix gamma * sum_j softmax(w)_j h_j of ``hidden_states``
        (None for a model built without a scalar mix, e.g. inside ``ElmoForBiLM``).
    last_hidden_state: (B, T, 2P) the top LSTM layer, ``[forward; backward]``.
    hidden_states: num_layers + 1 tensors (B, T, 2P): the char-CNN token layer duplicated for both
        directions (as ELMo does), then each LSTM layer ``[forward; backward]``. Padding rows are zero.
    attention_mask: (B, T) the positions that hold tokens.
    """

    elmo_representations: torch.FloatTensor | None = None
    last_hidden_state: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attention_mask: torch.Tensor | None = None


@dataclass
class ElmoBiLMOutput(ModelOutput):
    """
    loss: forward_loss + backward_loss (the lecture's joint negative log-likelihood, each a mean per token).
    forward_loss / backward_loss: mean NLL of the next / previous token; exp() of each is that direction's
        perplexity (with the sampled softmax while training, the sampled estimate).
    num_targets: tokens predicted per direction (to average losses over several batches).
    forward_logits / backward_logits: (B, T, V) scores of the next / previous token at each position,
        returned when no ``labels`` are given.
    hidden_states: as in :class:`ElmoModelOutput`.
    """

    loss: torch.FloatTensor | None = None
    forward_loss: torch.FloatTensor | None = None
    backward_loss: torch.FloatTensor | None = None
    num_targets: torch.LongTensor | None = None
    forward_logits: torch.FloatTensor | None = None
    backward_logits: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None


class ElmoHighway(nn.Module):
    """Highway layers y = g * x + (1 - g) * relu(W_h x + b_h), g = sigmoid(W_g x + b_g), one Linear per layer
    holding [W_h; W_g] (AllenNLP's ``Highway``; bilm-tf's carry gate is 1 - g)."""

    def __init__(self, size: int, num_layers: int):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(size, 2 * size) for _ in range(num_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            nonlinear, gate = layer(x).chunk(2, dim=-1)  # (N, F) each
            gate = torch.sigmoid(gate)
            x = gate * x + (1 - gate) * F.relu(nonlinear)
        return x


class ElmoCharacterEncoder(nn.Module):
    """Theta_x: character embeddings -> CNN filters max-pooled over the characters -> highway -> projection."""

    def __init__(self, config: ElmoConfig):
        super().__init__()
        self.config = config
        # Row 0 is the mask id of padded tokens: always zero, never trained (AllenNLP prepends a zero row).
        self.char_embedding = nn.Embedding(config.n_characters, config.char_embedding_dim, padding_idx=0)
        self.convolutions = nn.ModuleList(
            nn.Conv1d(config.char_embedding_dim, number, kernel_size=width) for width, number in config.filters
        )
        self.highway = ElmoHighway(config.n_filters, config.n_highway)
        self.projection = nn.Linear(config.n_filters, config.projection_dim)
        self.activation = torch.tanh if config.char_activation == "tanh" else F.relu

    def forward(self, char_ids: torch.LongTensor) -> torch.Tensor:
        batch, length, chars = char_ids.shape
        # x_k depends on the word alone: run the (costly) CNN once per distinct word of the batch.
        words, index = torch.unique(char_ids.reshape(batch * length, chars), dim=0, return_inverse=True)  # (U, C), (B*T,)
        x = self.char_embedding(words).transpose(1, 2)  # (U, e, C): Conv1d wants channels first
        # max over positions, then the activation (AllenNLP's order; bilm-tf's too)
        pooled = [self.activation(conv(x).max(dim=-1).values) for conv in self.convolutions]  # (U, n_i) each
        tokens = self.projection(self.highway(torch.cat(pooled, dim=-1)))  # (U, P)
        return tokens[index].view(batch, length, -1)  # (B, T, P)


class ElmoLstmCellWithProjection(nn.Module):
    """One direction of one layer: an LSTM whose memory cell (``lstm_dim``) is projected down to
    ``projection_dim`` before it is output and fed back, with cell and projection clipping.
    Gates in the order input, forget, memory, output (AllenNLP's ``LstmCellWithProjection``).

    Without clipping the cell runs as torch's fused LSTM with ``proj_size`` (cuDNN on a GPU; on a CPU about
    as fast as the step loop)."""

    def __init__(self, config: ElmoConfig):
        super().__init__()
        self.cell_size = config.lstm_dim
        self.cell_clip = config.cell_clip
        self.proj_clip = config.proj_clip
        self.input_linearity = nn.Linear(config.projection_dim, 4 * config.lstm_dim, bias=False)
        self.state_linearity = nn.Linear(config.projection_dim, 4 * config.lstm_dim, bias=True)
        self.state_projection = nn.Linear(config.lstm_dim, config.projection_dim, bias=False)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """``inputs`` (B, T, P) with padding at the end of each row; returns (B, T, P). Outputs at padded
        positions are garbage and masked by the caller (a padded step never feeds a real one)."""
        if not self.cell_clip and not self.proj_clip:
            return self._fused(inputs)
        batch, length, _ = inputs.shape
        # (B, T, 4c): one GEMM for all time steps; unbind, not [:, t], whose backward would fill a full-size
        # zero gradient at every step (quadratic in T)
        projected_inputs = self.input_linearity(inputs).unbind(dim=1)
        state = inputs.new_zeros(batch, self.state_projection.out_features)  # h_0 = 0: stateless
        memory = inputs.new_zeros(batch, self.cell_size)  # c_0 = 0
        outputs = []
        for t in range(length):
            gates = projected_inputs[t] + self.state_linearity(state)  # (B, 4c)
            input_gate, forget_gate, memory_init, output_gate = gates.chunk(4, dim=-1)
            # c_t = i * tanh(g) + f * c_{t-1}, clipped: keeps the unbounded cell from exploding
            memory = torch.sigmoid(input_gate) * torch.tanh(memory_init) + torch.sigmoid(forget_gate) * memory
            if self.cell_clip:
                memory = memory.clamp(-self.cell_clip, self.cell_clip)
            state = self.state_projection(torch.sigmoid(output_gate) * torch.tanh(memory))  # (B, P)
            if self.proj_clip:
                state = state.clamp(-self.proj_clip, self.proj_clip)
            outputs.append(state)
        return torch.stack(outputs, dim=1)  # (B, T, P)

    def _fused(self, inputs: torch.Tensor) -> torch.Tensor:
        """Without clipping the cell is torch's LSTM with ``proj_size`` (same gate order): one fused kernel
        (cuDNN) instead of a Python loop over time steps. Clipping has no fused kernel."""
        batch = inputs.shape[0]
        state = inputs.new_zeros(1, batch, self.state_projection.out_features)  # (1, B, P)
        memory = inputs.new_zeros(1, batch, self.cell_size)  # (1, B, c)
        weights = [self.input_linearity.weight, self.state_linearity.weight,
                   torch.zeros_like(self.state_linearity.bias), self.state_linearity.bias, self.state_projection.weight]
        # torch.lstm(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first)
        with warnings.catch_warnings():  # CPU: "LSTM with projections is not supported with oneDNN" (still C++)
            warnings.filterwarnings("ignore", message="LSTM with projections")
            output, _, _ = torch.lstm(inputs, (state, memory), weights, True, 1, 0.0, self.training, False, True)
        return output  # (B, T, P)


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each row of ``x`` (B, T, ...) within its length, leaving the padding at the end. Its own
    inverse: the backward LM runs the forward recursion on reversed rows."""
    positions = torch.arange(x.shape[1], device=x.device)[None, :]  # (1, T)
    index = lengths[:, None] - 1 - positions  # (B, T)
    index = torch.where(index >= 0, index, positions)
    return x.gather(1, index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x))


class ElmoBiLstm(nn.Module):
    """Stacked forward and backward LSTMs (separate weights per direction and layer), with residual
    connections from the second layer on (AllenNLP's ``ElmoLstm``)."""

    def __init__(self, config: ElmoConfig):
        super().__init__()
        self.forward_layers = nn.ModuleList(ElmoLstmCellWithProjection(config) for _ in range(config.num_layers))
        self.backward_layers = nn.ModuleList(ElmoLstmCellWithProjection(config) for _ in range(config.num_layers))
        self.use_skip_connections = config.use_skip_connections
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
        """``tokens`` (B, T, P), ``mask`` (B, T) bool; returns each layer's (B, T, 2P) output."""
        lengths = mask.sum(dim=1)  # (B,)
        keep = mask.unsqueeze(-1).to(tokens.dtype)  # (B, T, 1)
        forward_x = tokens
        backward_x = reverse_padded(tokens, lengths)  # the backward stream lives in reversed order
        outputs = []
        for index, (forward_layer, backward_layer) in enumerate(zip(self.forward_layers, self.backward_layers)):
            forward_out = forward_layer(self.dropout(forward_x))  # (B, T, P)
            backward_out = backward_layer(self.dropout(backward_x))  # (B, T, P), reversed order
            if index > 0 and self.use_skip_connections:
                forward_out = forward_out + forward_x
                backward_out = backward_out + backward_x
            forward_x, backward_x = forward_out, backward_out
            layer = torch.cat([forward_out, reverse_padded(backward_out, lengths)], dim=-1) * keep  # (B, T, 2P)
            outputs.append(layer)
        return outputs


class ElmoScalarMix(nn.Module):
    """gamma * sum_j s_j h_j with s = softmax(w): the task-specific weighting of ELMo's layers (AllenNLP's
    ``ScalarMix``; w starts at 0 = an even mix, gamma at 1), optionally layer-normalising each layer."""

    def __init__(self, num_representations: int, layer_norm: bool = False):
        super().__init__()
        self.scalar_parameters = nn.Parameter(torch.zeros(num_representations))  # w
        self.gamma = nn.Parameter(torch.ones(1))
        self.layer_norm = layer_norm

    def forward(self, tensors, mask: torch.Tensor) -> torch.Tensor:
        if len(tensors) != self.scalar_parameters.numel():
            raise ValueError(
                f"{len(tensors)} layers passed to a scalar mix of {self.scalar_parameters.numel()} layers"
                + see("model-inputs")
            )
        weights = torch.softmax(self.scalar_parameters, dim=0)  # s = softmax(w)
        if self.layer_norm:
            keep = mask.unsqueeze(-1).to(tensors[0].dtype)  # (B, T, 1)
            count = keep.sum() * tensors[0].shape[-1]
            normed = []
            for tensor in tensors:  # AllenNLP: one mean and variance over all unmasked entries of the batch
                mean = (tensor * keep).sum() / count
                variance = (((tensor * keep) - mean) * keep).pow(2).sum() / count
                normed.append((tensor - mean) / torch.sqrt(variance + 1e-13))
            tensors = normed
        return self.gamma * sum(weight * tensor for weight, tensor in zip(weights, tensors))


def remove_sentence_boundaries(tensor: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop the ``<S>`` / ``</S>`` positions the tokenizer added: (B, T, D) -> (B, T - 2, D) and the new mask,
    the shape AllenNLP's ``Elmo`` returns (it adds and removes the boundaries inside the module)."""
    lengths = attention_mask.sum(dim=1)  # (B,)
    words = tensor[:, 1:-1].clone()  # (B, T-2, D): every row loses its <S>
    keep = torch.arange(words.shape[1], device=tensor.device)[None, :] < (lengths[:, None] - 2)  # ... and its </S>
    return words * keep.unsqueeze(-1).to(words.dtype), keep


class ElmoPreTrainedModel(PreTrainedModel):
    config_class = ElmoConfig
    base_model_prefix = "elmo"
    main_input_name = "input_ids"
    _supports_sdpa = False
    _no_split_modules: ClassVar[list[str]] = ["ElmoLstmCellWithProjection"]

    def _initialize_weights(self, module, is_custom_code: bool = False):
        # transformers skips _init_weights for remote-code modules holding no parameters of their own, which
        # would skip bilm-tf's initialisers below (they live on ElmoCharacterEncoder, the LSTM cells, the head's
        # model). They use only transformers.initialization, which leaves loaded tensors alone, so run them.
        super()._initialize_weights(module, is_custom_code=False)

    def _init_weights(self, module):
        # bilm-tf's initialisers: N(0, 1/fan_in) for the CNN, highway and projection, carry bias -2 (the
        # highway starts close to the identity), Glorot-uniform LSTM kernels, forget-gate bias 1.
        if isinstance(module, ElmoCharacterEncoder):
            init.uniform_(module.char_embedding.weight, -1.0, 1.0)
            if not getattr(module.char_embedding.weight, "_is_hf_initialized", False):
                with torch.no_grad():
                    module.char_embedding.weight[0].zero_()  # the mask id embeds to zero
            for conv in module.convolutions:
                init.normal_(conv.weight, std=math.sqrt(1.0 / (conv.kernel_size[0] * conv.in_channels)))
                init.zeros_(conv.bias)
            for layer in module.highway.layers:
                size = layer.in_features
                init.normal_(layer.weight, std=math.sqrt(1.0 / size))
                # [b_h; b_g]: b_g = +2 so g = sigmoid(2) ~ 0.88 carries x through at first
                init.copy_(layer.bias, torch.cat([torch.zeros(size), torch.full((size,), 2.0)]))
            init.normal_(module.projection.weight, std=math.sqrt(1.0 / module.projection.in_features))
            init.zeros_(module.projection.bias)
        elif isinstance(module, ElmoLstmCellWithProjection):
            init.xavier_uniform_(module.input_linearity.weight)
            init.xavier_uniform_(module.state_linearity.weight)
            init.xavier_uniform_(module.state_projection.weight)
            c = module.cell_size
            init.copy_(module.state_linearity.bias, torch.cat([torch.zeros(c), torch.ones(c), torch.zeros(2 * c)]))
        elif isinstance(module, ElmoScalarMix):
            init.zeros_(module.scalar_parameters)
            init.ones_(module.gamma)
        elif isinstance(module, ElmoForBiLM):
            init.normal_(module.lm_head.weight, std=1.0 / math.sqrt(module.lm_head.in_features))
            init.zeros_(module.lm_head.bias)


class ElmoModel(ElmoPreTrainedModel):
    """ELMo's representations of every layer and their scalar mix (AllenNLP's ``_ElmoBiLm`` + ``Elmo``)."""

    def __init__(self, config: ElmoConfig, add_scalar_mix: bool = True):
        super().__init__(config)
        self.char_encoder = ElmoCharacterEncoder(config)
        self.encoder = ElmoBiLstm(config)
        self.scalar_mix = ElmoScalarMix(config.num_layers + 1, config.scalar_mix_layer_norm) if add_scalar_mix else None
        self.representation_dropout = nn.Dropout(config.representation_dropout)
        self.post_init()

    def _check_inputs(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        expected = self.config.max_characters_per_token
        if input_ids.dim() == 2 and input_ids.shape[-1] == expected:
            raise ValueError(
                f"input_ids has shape {tuple(input_ids.shape)}: one sentence without a batch dimension; pass "
                f"(batch, tokens, {expected}) character ids, e.g. tokenizer(text, return_tensors='pt')"
                + see("elmo-inputs")
            )
        if input_ids.dim() != 3 or input_ids.shape[-1] != expected:
            raise ValueError(
                f"input_ids must be character ids of shape (batch, tokens, {expected}) (max_characters_per_token), "
                f"got {tuple(input_ids.shape)}; tokenize with ElmoCharacterTokenizer(max_characters_per_token={expected})"
                + see("elmo-inputs")
            )
        if input_ids.numel() and (int(input_ids.min()) < 0 or int(input_ids.max()) >= self.config.n_characters):
            raise ValueError(
                f"character ids must lie in [0, {self.config.n_characters}), got values from {int(input_ids.min())} "
                f"to {int(input_ids.max())}; these are not ELMo character ids (use ElmoCharacterTokenizer)"
                + see("elmo-inputs")
            )
        # AllenNLP's mask: a token is there if any of its character ids is non-zero.
        mask = (input_ids > 0).any(dim=-1) if attention_mask is None else attention_mask.bool()
        if mask.shape != input_ids.shape[:2]:
            raise ValueError(
                f"attention_mask has shape {tuple(mask.shape)}, expected {tuple(input_ids.shape[:2])}"
                + see("model-inputs")
            )
        lengths = mask.sum(dim=1)
        empty = (lengths == 0).nonzero().flatten().tolist()
        if empty:
            raise ValueError(
                f"sentence(s) {empty} of the batch have no tokens; ELMo needs at least one token per sentence: drop "
                "empty sentences before calling the model" + see("elmo-inputs")
            )
        if not torch.equal(mask, torch.arange(mask.shape[1], device=mask.device)[None, :] < lengths[:, None]):
            raise ValueError("ELMo needs right padding (tokens first, padding at the end of each row); "
                             "tokenize with padding_side='right'" + see("elmo-inputs"))
        return mask

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> ElmoModelOutput:
        mask = self._check_inputs(input_ids, attention_mask)
        keep = mask.unsqueeze(-1)  # (B, T, 1)
        tokens = self.char_encoder(input_ids) * keep  # (B, T, P): x_k, context-independent
        layers = self.encoder(tokens, mask)  # num_layers x (B, T, 2P)
        # Layer 0 is the token layer duplicated, so every layer has the width 2P of [forward; backward].
        hidden_states = (torch.cat([tokens, tokens], dim=-1), *layers)
        mixed = None
        if self.scalar_mix is not None:
            mixed = self.representation_dropout(self.scalar_mix(hidden_states, mask))  # (B, T, 2P)
        return ElmoModelOutput(
            elmo_representations=mixed, last_hidden_state=layers[-1], hidden_states=hidden_states, attention_mask=mask
        )


def log_uniform_probabilities(ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Q(k) = log((k + 2) / (k + 1)) / log(V + 1): the Zipfian sampler of TensorFlow's sampled softmax
    (ids sorted by decreasing frequency)."""
    ids = ids.to(torch.float64)
    return torch.log1p(1.0 / (ids + 1.0)) / math.log(vocab_size + 1.0)


def expected_count(ids: torch.Tensor, vocab_size: int, tries: int) -> torch.Tensor:
    """How often ``ids`` are expected among ``tries`` draws: 1 - (1 - Q)^tries (TF's unique sampler)."""
    q = log_uniform_probabilities(ids, vocab_size)
    return (-torch.expm1(tries * torch.log1p(-q))).float()


def sample_log_uniform_unique(num_sampled: int, vocab_size: int, device) -> tuple[torch.Tensor, int]:
    """``num_sampled`` distinct ids drawn from Q by rejection, and the number of draws it took (TF's
    ``LogUniformCandidateSampler(unique=True)``)."""
    draws = torch.empty(0, dtype=torch.long, device=device)
    while True:
        uniform = torch.rand(4 * num_sampled + 64, device=device, dtype=torch.float64)
        more = (torch.exp(uniform * math.log(vocab_size + 1.0)).floor().long() - 1).clamp_(0, vocab_size - 1)
        draws = torch.cat([draws, more])
        values, inverse = torch.unique(draws, return_inverse=True)
        if len(values) >= num_sampled:
            break
    positions = torch.arange(len(draws), device=device)
    first = torch.full((len(values),), len(draws), device=device).scatter_reduce(0, inverse, positions, "amin")
    order = first.argsort()[:num_sampled]  # the first num_sampled distinct ids, in the order drawn
    return values[order], int(first[order[-1]]) + 1


class ElmoForBiLM(ElmoPreTrainedModel):
    """ELMo's pretraining model: the bidirectional LM with a softmax Theta_s shared by both directions.

    ``labels`` (B, T) are the output-vocabulary ids of the tokens (``-100`` where there is no token), as
    ``ElmoCharacterTokenizer(..., return_word_ids=True)`` gives them in ``word_ids``. The forward LM at
    position k predicts token k + 1, the backward LM predicts token k - 1."""

    def __init__(self, config: ElmoConfig):
        super().__init__(config)
        if config.vocab_size < 2:
            raise ValueError(
                f"ElmoForBiLM needs an output vocabulary (config.vocab_size >= 2), got vocab_size={config.vocab_size}; "
                "set it to the tokenizer's vocabulary size (len(tokenizer))" + see("vocabulary-mismatch")
            )
        self.elmo = ElmoModel(config, add_scalar_mix=False)  # the mix is for downstream tasks, not pretraining
        self.lm_head = nn.Linear(config.projection_dim, config.vocab_size)  # Theta_s
        self.dropout = nn.Dropout(config.dropout)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def _nll(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Summed NLL of ``targets`` (N,) given ``hidden`` (N, P): full softmax, or the sampled softmax
        while training with ``num_sampled`` > 0."""
        vocab_size = self.config.vocab_size
        num_sampled = self.config.num_sampled
        if not (self.training and 0 < num_sampled < vocab_size):
            return F.cross_entropy(self.lm_head(hidden), targets, reduction="sum")
        # Sampled softmax (Jean et al., 2015), as TensorFlow's sampled_softmax_loss in bilm-tf: the true word
        # against num_sampled distinct log-uniform samples shared by the batch, every logit corrected by
        # log(expected count) of its word, accidental hits removed.
        sampled, tries = sample_log_uniform_unique(num_sampled, vocab_size, hidden.device)  # (S,)
        weight, bias = self.lm_head.weight, self.lm_head.bias
        true_logits = (hidden * weight[targets]).sum(-1) + bias[targets]  # (N,)
        true_logits = true_logits - torch.log(expected_count(targets, vocab_size, tries))
        sampled_logits = hidden @ weight[sampled].T + bias[sampled]  # (N, S)
        sampled_logits = sampled_logits - torch.log(expected_count(sampled, vocab_size, tries))
        sampled_logits = sampled_logits.masked_fill(targets[:, None] == sampled[None, :], float("-inf"))  # accidental hits
        logits = torch.cat([true_logits[:, None], sampled_logits], dim=1)  # (N, 1 + S): the true word is class 0
        return F.cross_entropy(logits, torch.zeros_like(targets), reduction="sum")

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> ElmoBiLMOutput:
        out = self.elmo(input_ids, attention_mask=attention_mask)
        forward_top, backward_top = out.last_hidden_state.split(self.config.projection_dim, dim=-1)  # (B, T, P) each
        forward_top, backward_top = self.dropout(forward_top), self.dropout(backward_top)
        if labels is None:
            return ElmoBiLMOutput(
                forward_logits=self.lm_head(forward_top), backward_logits=self.lm_head(backward_top),
                hidden_states=out.hidden_states,
            )
        if labels.shape != out.attention_mask.shape:
            raise ValueError(
                f"labels must have shape (batch, tokens) = {tuple(out.attention_mask.shape)}, got {tuple(labels.shape)}"
                + see("labels-shape")
            )
        labels = labels.masked_fill(~out.attention_mask, -100)
        valid = labels[labels != -100]
        if valid.numel() and (int(valid.min()) < 0 or int(valid.max()) >= self.config.vocab_size):
            raise ValueError(
                f"labels must be word ids in [0, vocab_size={self.config.vocab_size}) or -100, got values from "
                f"{int(valid.min())} to {int(valid.max())}; use the tokenizer the model was built with"
                + see("token-ids")
            )
        # forward: h_k predicts t_{k+1}; backward: h_k predicts t_{k-1}
        forward_targets, forward_hidden = labels[:, 1:], forward_top[:, :-1]  # (B, T-1), (B, T-1, P)
        backward_targets, backward_hidden = labels[:, :-1], backward_top[:, 1:]
        forward_keep = forward_targets != -100  # a real target k+1 implies a real position k
        backward_keep = (backward_targets != -100) & out.attention_mask[:, 1:]  # position k+1 may be padding
        count = forward_keep.sum()  # the same number of targets both ways
        if int(count) == 0:
            raise ValueError(
                "no token to predict: every sentence needs at least two tokens (with <S> and </S>)" + see("elmo-inputs")
            )
        forward_loss = self._nll(forward_hidden[forward_keep], forward_targets[forward_keep]) / count
        backward_loss = self._nll(backward_hidden[backward_keep], backward_targets[backward_keep]) / count
        return ElmoBiLMOutput(
            loss=forward_loss + backward_loss, forward_loss=forward_loss, backward_loss=backward_loss,
            num_targets=count, hidden_states=out.hidden_states,
        )
