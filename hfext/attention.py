"""Attention from first principles, following the lecture: queries, keys and values; Nadaraya-Watson
kernel regression (average pooling vs attention pooling, non-parametric and with a learned width);
masked softmax; additive and scaled dot-product attention; multi-head attention.

These are teaching implementations kept next to the formulas, tested against torch's own
(`F.scaled_dot_product_attention`, `nn.MultiheadAttention`). The model families' modeling files carry
their own copies (they must stay self-contained to load as remote code).

>>> x_train, y_train, x_test, y_truth = kernel_regression_data(seed=0)
>>> average = average_pooling(y_train, len(x_test))            # f(x) = (1/n) sum_i y_i
>>> attended, weights = nadaraya_watson(x_test, x_train, y_train)
>>> float(((attended - y_truth) ** 2).mean()) < float(((average - y_truth) ** 2).mean())
True
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .errors import see

# ---------------------------------------------------------------------- Nadaraya-Watson kernel regression


def true_function(x: torch.Tensor) -> torch.Tensor:
    """The lecture's regression target: f(x) = 2 sin(x) + x^0.8."""
    return 2 * torch.sin(x) + x**0.8


def kernel_regression_data(n_train: int = 50, noise: float = 0.5, seed: int = 0):
    """The lecture's data: x_i ~ U(0, 5) sorted, y_i = 2 sin(x_i) + x_i^0.8 + eps, eps ~ N(0, noise^2);
    test inputs 0, 0.1, ..., 4.9 with their noiseless targets. Returns (x_train, y_train, x_test, y_truth)."""
    if n_train < 2:
        raise ValueError(f"n_train must be >= 2, got {n_train}" + see("attention-maps"))
    generator = torch.Generator().manual_seed(seed)
    x_train, _ = torch.sort(torch.rand(n_train, generator=generator) * 5)
    y_train = true_function(x_train) + torch.normal(0.0, noise, (n_train,), generator=generator)
    x_test = torch.arange(0, 5, 0.1)
    return x_train, y_train, x_test, true_function(x_test)


def average_pooling(y_train: torch.Tensor, n_queries: int) -> torch.Tensor:
    """The simplest estimator, ignoring the query: f(x) = (1/n) sum_i y_i for every x."""
    return y_train.mean().repeat(n_queries)


def gaussian_kernel_weights(queries: torch.Tensor, keys: torch.Tensor, width: torch.Tensor | float = 1.0) -> torch.Tensor:
    """alpha(x, x_i) = softmax_i(-((x - x_i) w)^2 / 2): the Gaussian kernel normalised over the keys, (Q, K)."""
    differences = (queries.unsqueeze(-1) - keys.unsqueeze(-2)) * width
    return torch.softmax(-(differences**2) / 2, dim=-1)


def nadaraya_watson(queries, keys, values, width: torch.Tensor | float = 1.0):
    """Attention pooling f(x) = sum_i alpha(x, x_i) y_i with Gaussian-kernel weights; returns (f(x), alpha)."""
    weights = gaussian_kernel_weights(queries, keys, width)
    return weights @ values, weights


class NadarayaWatsonRegression(nn.Module):
    """Parametric attention pooling: the kernel's width w is learned, f(x) = sum_i softmax(-((x - x_i) w)^2 / 2) y_i."""

    def __init__(self, width: float = 1.0):
        super().__init__()
        self.width = nn.Parameter(torch.tensor(float(width)))
        self.attention_weights = None  # of the last forward, for heatmaps

    def forward(self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        prediction, self.attention_weights = nadaraya_watson(queries, keys, values, self.width)
        return prediction


def fit_nadaraya_watson(x_train, y_train, epochs: int = 5, learning_rate: float = 0.5, width: float = 1.0):
    """Train the width by gradient descent on the training points, each predicted from all the *others*
    (leave-one-out: a point may not attend to itself, or the fit is trivial). Returns (model, losses)."""
    n = len(x_train)
    others = ~torch.eye(n, dtype=torch.bool)
    keys = x_train.repeat(n, 1)[others].reshape(n, n - 1)  # (n, n-1): the other inputs of each query
    values = y_train.repeat(n, 1)[others].reshape(n, n - 1)
    model = NadarayaWatsonRegression(width)
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        weights = gaussian_kernel_weights(x_train.unsqueeze(-1), keys, model.width).squeeze(-2)  # (n, n-1)
        loss = 0.5 * ((weights * values).sum(-1) - y_train).pow(2).sum()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return model, losses


# ---------------------------------------------------------------------- attention scoring


def masked_softmax(scores: torch.Tensor, valid_lens: torch.Tensor | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
    """softmax over the last axis, ignoring masked keys: either the first ``valid_lens`` keys count (per
    batch row, or per query), or ``mask`` is True where a key may be attended to. A row with no valid key
    gets all-zero weights instead of NaN."""
    if valid_lens is not None:
        if mask is not None:
            raise ValueError("pass valid_lens or mask, not both" + see("attention-maps"))
        positions = torch.arange(scores.shape[-1], device=scores.device)
        lens = valid_lens.to(scores.device)
        while lens.dim() < scores.dim() - 1:  # (B,) -> (B, 1, ..., 1): the same length for every query
            lens = lens.unsqueeze(-1)
        mask = positions < lens.unsqueeze(-1)
    if mask is None:
        return torch.softmax(scores, dim=-1)
    scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return torch.nan_to_num(weights, nan=0.0)


class AdditiveAttention(nn.Module):
    """a(q, k) = w_v^T tanh(W_q q + W_k k): queries and keys may have different sizes (Bahdanau et al.)."""

    def __init__(self, query_size: int, key_size: int, num_hiddens: int, dropout: float = 0.0):
        super().__init__()
        self.W_q = nn.Linear(query_size, num_hiddens, bias=False)
        self.W_k = nn.Linear(key_size, num_hiddens, bias=False)
        self.w_v = nn.Linear(num_hiddens, 1, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.attention_weights = None

    def forward(self, queries, keys, values, valid_lens=None, mask=None):
        # (B, Q, 1, h) + (B, 1, K, h) -> scores (B, Q, K)
        features = torch.tanh(self.W_q(queries).unsqueeze(2) + self.W_k(keys).unsqueeze(1))
        scores = self.w_v(features).squeeze(-1)
        self.attention_weights = masked_softmax(scores, valid_lens, mask)
        return self.dropout(self.attention_weights) @ values


def scaled_dot_product_attention(query, key, value, attn_mask=None, is_causal: bool = False, dropout_p: float = 0.0,
                                 training: bool = False):
    """softmax(Q K^T / sqrt(d)) V, returning (output, weights). ``attn_mask`` is boolean (True = may attend)
    or additive (float), as in ``F.scaled_dot_product_attention``; ``is_causal`` hides future keys."""
    d = query.shape[-1]
    scores = query @ key.transpose(-2, -1) / math.sqrt(d)  # (..., Q, K)
    mask = None
    if is_causal:
        mask = torch.ones(scores.shape[-2], scores.shape[-1], dtype=torch.bool, device=scores.device).tril()
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            mask = attn_mask if mask is None else mask & attn_mask
        else:
            scores = scores + attn_mask
    weights = masked_softmax(scores, mask=mask.expand_as(scores) if mask is not None else None)
    if dropout_p > 0 and training:
        weights = F.dropout(weights, dropout_p)
    return weights @ value, weights


class MultiHeadAttention(nn.Module):
    """MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W_o, head_i = Attention(Q W_q^i, K W_k^i, V W_v^i).

    ``key_padding_mask`` (B, K) is True at padding (``nn.MultiheadAttention``'s convention); ``attn_mask``
    (Q, K) is boolean True = may attend; ``is_causal`` hides future positions. Returns (output, weights
    averaged over heads)."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim ({embed_dim}) is not a multiple of num_heads ({num_heads})" + see("attention-maps"))
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}" + see("attention-maps"))
        self.num_heads, self.head_dim = num_heads, embed_dim // num_heads
        self.W_q = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.W_k = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.W_v = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.W_o = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.dropout = dropout

    def _split(self, x):  # (B, T, E) -> (B, h, T, E/h)
        return x.view(x.shape[0], x.shape[1], self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, query, key, value, key_padding_mask=None, attn_mask=None, is_causal: bool = False):
        q, k, v = self._split(self.W_q(query)), self._split(self.W_k(key)), self._split(self.W_v(value))
        mask = attn_mask
        if key_padding_mask is not None:
            keep = ~key_padding_mask[:, None, None, :]  # (B, 1, 1, K)
            mask = keep if mask is None else mask & keep
        out, weights = scaled_dot_product_attention(q, k, v, mask, is_causal, self.dropout, self.training)
        out = out.transpose(1, 2).reshape(query.shape[0], query.shape[1], -1)  # (B, T, E)
        return self.W_o(out), weights.mean(1)

    @classmethod
    def from_torch(cls, module: nn.MultiheadAttention) -> MultiHeadAttention:
        """The same weights as a ``batch_first`` ``nn.MultiheadAttention`` (for comparing the two)."""
        embed_dim = module.embed_dim
        ours = cls(embed_dim, module.num_heads, module.dropout, bias=module.in_proj_bias is not None)
        with torch.no_grad():
            for index, layer in enumerate((ours.W_q, ours.W_k, ours.W_v)):
                layer.weight.copy_(module.in_proj_weight[index * embed_dim : (index + 1) * embed_dim])
                if module.in_proj_bias is not None:
                    layer.bias.copy_(module.in_proj_bias[index * embed_dim : (index + 1) * embed_dim])
            ours.W_o.weight.copy_(module.out_proj.weight)
            if module.out_proj.bias is not None:
                ours.W_o.bias.copy_(module.out_proj.bias)
        return ours
