"""The scoring network: a shared frozen lower encoder and, per task, a fine-tuned top stack + a linear head.

The backbone's embeddings and lower ``split`` layers are frozen and shared by every task (so training can cache
their output once and inference runs them once); each task (sentiment, intent) owns a copy of the top layers,
fine-tuned, and a linear head over the mean-pooled top output. Only the task parts differ from the base, so
only they are shipped (a few MB). Works for BERT-family encoders (``encoder.layer`` of layers taking
``(hidden, additive_mask)``); a test checks that running the layers here equals the library's own forward.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def encoder_layers(base: nn.Module) -> nn.ModuleList:
    enc = getattr(base, "encoder", None)
    layers = getattr(enc, "layer", None) or getattr(enc, "layers", None)
    if layers is None:
        raise TypeError(f"{type(base).__name__}: not a BERT-style encoder (no encoder.layer)")
    return layers


def additive_mask(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """[B, T] 1/0 → [B, 1, 1, T] additive mask (0 keep, large negative drop), accepted by eager and SDPA."""
    return (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


def run_layers(layers, hidden: torch.Tensor, ext_mask: torch.Tensor) -> torch.Tensor:
    for layer in layers:
        out = layer(hidden, attention_mask=ext_mask)
        hidden = out[0] if isinstance(out, tuple) else out
    return hidden


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


class TaskStack(nn.Module):
    def __init__(self, layers: nn.ModuleList, hidden: int, n_out: int, dropout: float = 0.1):
        super().__init__()
        self.layers = layers
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, n_out)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = run_layers(self.layers, hidden, additive_mask(mask, hidden.dtype))
        return self.head(self.dropout(mean_pool(h, mask)))


class ScorerNet(nn.Module):
    """``lower(ids, mask) -> hidden`` (frozen, shared) and ``tasks[name](hidden, mask) -> logits``."""

    def __init__(self, base: nn.Module, split: int, task_sizes: dict[str, int]):
        super().__init__()
        layers = encoder_layers(base)
        if not 0 <= split < len(layers):
            raise ValueError(f"split must be in [0, {len(layers) - 1}], got {split}")
        hidden = base.config.hidden_size
        self.split = split
        self.embeddings = base.embeddings
        self.lower = nn.ModuleList(layers[:split])
        top = layers[split:]
        self.tasks = nn.ModuleDict(
            {name: TaskStack(copy.deepcopy(top), hidden, n) for name, n in task_sizes.items()}
        )
        for p in list(self.embeddings.parameters()) + list(self.lower.parameters()):
            p.requires_grad_(False)

    def lower_forward(self, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.embeddings(input_ids=input_ids)
        return run_layers(self.lower, h, additive_mask(mask, h.dtype))

    def forward(self, input_ids: torch.Tensor, mask: torch.Tensor, tasks: list[str] | None = None):
        h = self.lower_forward(input_ids, mask)
        return {t: self.tasks[t](h, mask) for t in (tasks or list(self.tasks))}

    def task_state_dict(self) -> dict[str, torch.Tensor]:
        """Only what differs from the base: the task stacks and heads."""
        return {f"tasks.{k}": v for k, v in self.tasks.state_dict().items()}
