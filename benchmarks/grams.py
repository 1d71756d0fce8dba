"""The five style layers' Grams at one size, forward + backward of sum ||Gram||^2, in isolation
(issue #34, fourth round): bfloat16 activations cast to float32 (what nst does with a bfloat16
network), Grams in bfloat16, and float32 activations. Run: python benchmarks/grams.py [SIZE]."""

import sys
import time

import torch

from nst.core.costs import gram_matrix


def once(acts, cast: bool) -> float:
    t = time.perf_counter()
    total = 0
    for a in acts:
        x = a.float() if cast else a
        total = total + gram_matrix(x.squeeze(0).reshape(x.shape[1], -1)).float().square().sum()
    total.backward()
    return time.perf_counter() - t


def main() -> None:
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 384
    torch.manual_seed(0)
    shapes = [(64, 1), (128, 2), (256, 4), (512, 8), (512, 16)]  # conv1_1 ... conv5_1: channels, stride
    for dtype, cast, label in ((torch.bfloat16, True, "bfloat16 cast to float32"),
                               (torch.bfloat16, False, "bfloat16"), (torch.float32, False, "float32")):
        acts = [torch.randn(1, c, size // s, size // s).to(memory_format=torch.channels_last).to(dtype)
                .requires_grad_(True) for c, s in shapes]
        times = [once(acts, cast) for _ in range(4)]
        print(f"{label}: {min(times[1:]) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
