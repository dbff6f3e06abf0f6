"""The training loop every training kind shares (retrieval kinds and code-LM fine-tuning): seeded mini-batches,
the loss under the device's autocast, one optimizer step (see ``device.stepper``), a report per step."""
from __future__ import annotations

import random
from collections.abc import Callable


def shuffled_batches(n: int, size: int, steps: int, seed: int):
    """``steps`` batches of indices into n items, reshuffled each epoch."""
    rng, order = random.Random(seed), []
    for _ in range(steps):
        if len(order) < size:
            order += rng.sample(range(n), n)
        yield [order.pop() for _ in range(min(size, n))]


def train_steps(device, optimizer, n_items: int, batch_size: int, steps: int, seed: int,
                loss_of: Callable[[list[int]], object], on_step: Callable[[int, float], None],
                clip: float | None = None, after_step: Callable[[int], None] | None = None) -> list[float]:
    """``steps`` optimizer steps, each on ``loss_of(batch indices)``; ``on_step(step, loss)`` after each (steps
    count from 1), ``after_step(step)`` between the step and zero_grad (AdaLoRA reads the gradients there).
    ``device`` None is the CPU in float32. Returns the losses."""
    from backend.device import autocast_of, stepper
    step_once, losses = stepper(device, optimizer, clip), []
    for step, idx in enumerate(shuffled_batches(n_items, batch_size, steps, seed), start=1):
        with autocast_of(device):
            loss = loss_of(idx)
        step_once(loss, before_zero_grad=(lambda s=step: after_step(s)) if after_step else None)
        losses.append(loss.item())
        on_step(step, losses[-1])
    return losses
