"""Seeded mini-batches for the training loops (retrieval kinds and code-LM fine-tuning share one order)."""
from __future__ import annotations

import random


def shuffled_batches(n: int, size: int, steps: int, seed: int):
    """``steps`` batches of indices into n items, reshuffled each epoch."""
    rng, order = random.Random(seed), []
    for _ in range(steps):
        if len(order) < size:
            order += rng.sample(range(n), n)
        yield [order.pop() for _ in range(min(size, n))]
