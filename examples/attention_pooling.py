#!/usr/bin/env python
"""Chapter 6 of the tour: attention, from Nadaraya-Watson kernel regression to multi-head attention.

    python examples/attention_pooling.py                  # seconds
    python examples/attention_pooling.py --out_dir /tmp/pictures

1. The lecture's regression data y = 2 sin(x) + x^0.8 + noise, estimated at 50 query points three ways: average
   pooling (every query gets the mean of all y_i), Nadaraya-Watson attention pooling with a Gaussian kernel of
   width 1, and with a width learned by gradient descent (``hfext plot kernel-regression``).
2. Masked softmax, additive attention and scaled dot-product attention on a small batch, and hfext's
   ``MultiHeadAttention`` against PyTorch's ``nn.MultiheadAttention`` with the same weights.
"""

from __future__ import annotations

import argparse
import os
import sys

import torch
from torch import nn

from hfext.attention import (
    AdditiveAttention,
    MultiHeadAttention,
    masked_softmax,
    scaled_dot_product_attention,
)
from hfext.cli import main as hfext
from hfext.tour import pictures_dir


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", default=None, help="where the pictures go (default: docs/images; with --smoke, a temporary folder)")
    parser.add_argument("--output_dir", default=None, help="unused (this chapter trains nothing it keeps)")
    parser.add_argument("--smoke", action="store_true", help="accepted for the tour; this chapter takes seconds anyway")
    args = parser.parse_args(argv)
    args.out_dir = pictures_dir(args.out_dir, args.smoke)
    os.makedirs(args.out_dir, exist_ok=True)

    status = hfext(["plot", "kernel-regression", "--out", os.path.join(args.out_dir, "nadaraya_watson.png"),
                    "--heatmap", os.path.join(args.out_dir, "nadaraya_watson_weights.png"), "--learned_heatmap"])
    if status:
        return status

    torch.manual_seed(0)
    scores = torch.rand(2, 2, 4)
    weights = masked_softmax(scores, valid_lens=torch.tensor([2, 3]))
    print("masked softmax, valid lengths 2 and 3:", [[round(w, 3) for w in row] for row in weights[:, 0].tolist()])

    queries, keys = torch.normal(0, 1, (2, 1, 20)), torch.ones(2, 10, 2)
    values = torch.arange(40, dtype=torch.float32).reshape(1, 10, 4).repeat(2, 1, 1)
    additive = AdditiveAttention(query_size=20, key_size=2, num_hiddens=8).eval()
    print("additive attention, equal keys -> uniform weights over the valid ones:",
          [[round(x, 2) for x in row] for row in additive(queries, keys, values, torch.tensor([2, 6]))[:, 0].tolist()])

    q, k, v = torch.randn(2, 3, 8), torch.randn(2, 5, 8), torch.randn(2, 5, 8)
    out, attention = scaled_dot_product_attention(q, k, v, is_causal=False)
    reference = nn.functional.scaled_dot_product_attention(q, k, v)
    print(f"scaled dot-product attention: output {tuple(out.shape)}, weights {tuple(attention.shape)}, "
          f"max |ours - F.scaled_dot_product_attention| = {(out - reference).abs().max():.1e}")

    torch_mha = nn.MultiheadAttention(embed_dim=16, num_heads=4, batch_first=True).eval()
    ours = MultiHeadAttention.from_torch(torch_mha).eval()
    x = torch.randn(2, 6, 16)
    padding = torch.tensor([[False] * 6, [False] * 4 + [True] * 2])  # the second sequence has 2 padding keys
    with torch.no_grad():
        mine, mine_weights = ours(x, x, x, key_padding_mask=padding)
        theirs, theirs_weights = torch_mha(x, x, x, key_padding_mask=padding)
    print(f"multi-head attention (4 heads, d 16) vs nn.MultiheadAttention: max |output diff| "
          f"{(mine - theirs).abs().max():.1e}, max |weights diff| {(mine_weights - theirs_weights).abs().max():.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
