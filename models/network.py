"""The scoring network: a shared frozen lower encoder and, per task, a fine-tuned top stack + a linear head.

The backbone's embeddings and lower ``split`` layers are frozen and shared by every task (so training can cache
their output once and inference runs them once); each task (sentiment, intent) owns a copy of the top layers,
fine-tuned, and a linear head over the mean-pooled top output. Only the task parts differ from the base, so
only they are shipped (a few MB). Works for BERT-family encoders (``encoder.layer`` of layers taking
``(hidden, additive_mask)``); a test checks that running the layers here equals the library's own forward.

A task may instead *branch* off another task's stack after ``depth`` of its layers: it reads that hidden state
and adds only its own remaining layers (possibly none, a head alone), so each mention costs fewer layers.
"""

from __future__ import annotations

import copy
from typing import Any, cast

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


def pad_hidden(hiddens: list, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Unpadded [T_i, H] hidden states (cached frozen layers' output) -> a [B, T, H] batch and its [B, T] mask."""
    L = max(h.shape[0] for h in hiddens)
    x = torch.zeros(len(hiddens), L, hiddens[0].shape[1], dtype=dtype)
    m = torch.zeros(len(hiddens), L, dtype=torch.long)
    for i, h in enumerate(hiddens):
        x[i, : h.shape[0]] = h.to(dtype)
        m[i, : h.shape[0]] = 1
    return x, m


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


class PooledMLP(nn.Module):
    """A small MLP head: mean-pooled input standardised per channel (``shift``/``scale`` fixed from the training
    set, see ``fit_standardisation``), one hidden layer. It lets a task read another task's finished stack with no
    encoder layer of its own: a linear head there underfits (intent 0.67 macro-F1), this one does not (~0.85).

    With ``members`` > 1 it is an ensemble of that many MLPs on the same input, each trained on its own loss
    (``member_logits``) and averaged in logits: one MLP's scores move by 2-4 points of F1 with its random start,
    and the members cost next to nothing beside the encoder layers."""

    shift: torch.Tensor
    scale: torch.Tensor

    def __init__(self, hidden: int, width: int, n_out: int, dropout: float = 0.1, members: int = 1):
        super().__init__()
        self.register_buffer("shift", torch.zeros(hidden))
        self.register_buffer("scale", torch.ones(hidden))

        def mlp() -> nn.Sequential:
            return nn.Sequential(nn.Linear(hidden, width), nn.GELU(), nn.Dropout(dropout), nn.Linear(width, n_out))

        self.mlp = mlp()  # member 0 keeps the single head's parameter names, so older scorers load unchanged
        self.more = nn.ModuleList([mlp() for _ in range(max(1, members) - 1)])

    @property
    def members(self) -> int:
        return 1 + len(self.more)

    @torch.no_grad()
    def fit_standardisation(self, pooled: torch.Tensor) -> None:
        self.shift.copy_(pooled.mean(0))
        self.scale.copy_(1.0 / (pooled.std(0) + 1e-5))

    def member_logits(self, x: torch.Tensor) -> torch.Tensor:
        """(members, batch, n_out): each member's logits, for training each on its own loss."""
        z = (x - self.shift) * self.scale
        return torch.stack([self.mlp(z), *[m(z) for m in self.more]])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.more:
            return self.mlp((x - self.shift) * self.scale)
        return self.member_logits(x).mean(0)


def make_head(hidden: int, n_out: int, width: int = 0, members: int = 1) -> nn.Module:
    """A linear head, or with ``width`` > 0 a ``PooledMLP`` of that hidden width (an ensemble of ``members``)."""
    return PooledMLP(hidden, width, n_out, members=members) if width else nn.Linear(hidden, n_out)


class TaskStack(nn.Module):
    layers: nn.ModuleList
    head: nn.Module

    def __init__(
        self,
        layers: nn.ModuleList,
        hidden: int,
        n_out: int,
        dropout: float = 0.1,
        head_width: int = 0,
        head_members: int = 1,
    ):
        super().__init__()
        self.layers = layers
        self.dropout = nn.Dropout(dropout)
        self.head = make_head(hidden, n_out, head_width, head_members)

    def pooled(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """What the head reads: the mean-pooled output of this stack's layers."""
        return mean_pool(run_layers(self.layers, hidden, additive_mask(mask, hidden.dtype)), mask)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.run(hidden, mask)[0]

    def run(
        self, hidden: torch.Tensor, mask: torch.Tensor, taps: frozenset[int] = frozenset()
    ) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """Logits, and the hidden state after each layer count in ``taps`` (what branching tasks read)."""
        ext = additive_mask(mask, hidden.dtype)
        kept = {0: hidden} if 0 in taps else {}
        for i, layer in enumerate(self.layers, 1):
            hidden = run_layers([layer], hidden, ext)
            if i in taps:
                kept[i] = hidden
        return self.head(self.dropout(mean_pool(hidden, mask))), kept


def _check_branch(task: str, src: str, depth: int, tasks, branches, n_top: int) -> None:
    """A task may branch only off another task that has a stack of its own, within that stack's layers."""
    if src not in tasks or src == task or src in branches:
        raise ValueError(f"task {task!r} cannot branch off {src!r}: not an unbranched task here")
    if not 0 <= depth <= n_top:
        raise ValueError(f"task {task!r}: branch depth {depth} outside 0..{n_top}")


class ScorerNet(nn.Module):
    """``lower(ids, mask) -> hidden`` (frozen, shared) and ``tasks[name](hidden, mask) -> logits``.

    ``branches`` maps a task to ``(source task, depth)``: its stack reads the source stack's hidden state after
    ``depth`` layers and owns only the base's layers ``split + depth ..``. ``head_widths`` gives a task an MLP head
    (``PooledMLP``) instead of a linear one, ``head_members`` an ensemble of such MLPs.
    """

    embeddings: nn.Module
    lower: nn.ModuleList
    tasks: nn.ModuleDict

    def __init__(
        self,
        base: nn.Module,
        split: int,
        task_sizes: dict[str, int],
        branches: dict[str, tuple[str, int]] | None = None,
        head_widths: dict[str, int] | None = None,
        head_members: dict[str, int] | None = None,
    ):
        super().__init__()
        layers = encoder_layers(base)
        if not 0 <= split < len(layers):
            raise ValueError(f"split must be in [0, {len(layers) - 1}], got {split}")
        self.branches = dict(branches or {})
        for task, (src, depth) in self.branches.items():
            _check_branch(task, src, depth, task_sizes, self.branches, len(layers) - split)
        # torch's ``__getattr__`` types a transformers model's ``config`` and ``embeddings`` as tensor-or-module
        model: Any = base
        hidden = int(model.config.hidden_size)
        self.split = split
        self.embeddings = model.embeddings
        self.lower = nn.ModuleList(layers[:split])
        self.tasks = nn.ModuleDict(
            {
                name: TaskStack(
                    copy.deepcopy(layers[split + self.branches.get(name, ("", 0))[1] :]),
                    hidden,
                    n,
                    head_width=(head_widths or {}).get(name, 0),
                    head_members=(head_members or {}).get(name, 1),
                )
                for name, n in task_sizes.items()
            }
        )
        for p in list(self.embeddings.parameters()) + list(self.lower.parameters()):
            p.requires_grad_(False)

    def stack(self, task: str) -> TaskStack:
        """``task``'s own stack, typed (``ModuleDict`` items are plain modules to a type checker)."""
        return cast(TaskStack, self.tasks[task])

    def lower_forward(self, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.embeddings(input_ids=input_ids)
        return run_layers(self.lower, h, additive_mask(mask, h.dtype))

    def task_input(self, task: str, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The hidden state ``task``'s own layers read (what training caches)."""
        h = self.lower_forward(input_ids, mask)
        if task in self.branches:
            src, depth = self.branches[task]
            h = run_layers(self.stack(src).layers[:depth], h, additive_mask(mask, h.dtype))
        return h

    def forward(self, input_ids: torch.Tensor, mask: torch.Tensor, tasks: list[str] | None = None):
        return self.from_embeddings(self.embeddings(input_ids=input_ids), mask, tasks)

    def from_embeddings(self, h: torch.Tensor, mask: torch.Tensor, tasks: list[str] | None = None):
        """Everything after the embedding lookup (what the int8 graph holds: the 250k-row table stays out)."""
        want = list(tasks or self.tasks)
        h = run_layers(self.lower, h, additive_mask(mask, h.dtype))
        out: dict[str, torch.Tensor] = {}
        roots = [
            t
            for t in self.tasks
            if t not in self.branches and (t in want or any(self.branches.get(b, ("",))[0] == t for b in want))
        ]
        for t in roots:
            taps = frozenset(d for b, (s, d) in self.branches.items() if s == t and b in want)
            out[t], kept = self.stack(t).run(h, mask, taps)
            for b, (s, d) in self.branches.items():
                if s == t and b in want:
                    out[b] = self.tasks[b](kept[d], mask)
        return {t: out[t] for t in want}

    def unbranch(self, task: str) -> None:
        """Make a branched task stand alone: copies of its source's first ``depth`` layers go in front of its own,
        so it computes exactly what it did while its source is retrained."""
        src, depth = self.branches.pop(task)
        own = self.stack(task).layers
        self.stack(task).layers = nn.ModuleList([copy.deepcopy(m) for m in self.stack(src).layers[:depth]] + list(own))

    def rebranch(self, task: str, branch: tuple[str, int] | None, base_layers) -> None:
        """Move ``task``'s branch point (``(source, depth)``, or None for a stack of its own). Its own layers become
        the base's from the new start; a layer it already had (same base index) keeps its current weights."""
        old = self.branches.get(task, ("", 0))[1]
        new = 0
        if branch is not None:
            src, new = branch
            _check_branch(task, src, new, self.tasks, self.branches, len(base_layers) - self.split)
            if any(s == task for s, _ in self.branches.values()):
                raise ValueError(f"other tasks branch off {task!r}; it cannot branch itself")
        cur = self.stack(task).layers
        layers = []
        for k in range(self.split + new, len(base_layers)):
            i = k - self.split - old
            layers.append(copy.deepcopy(cur[i] if 0 <= i < len(cur) else base_layers[k]))
        self.stack(task).layers = nn.ModuleList(layers)
        if branch is None:
            self.branches.pop(task, None)
        else:
            self.branches[task] = (branch[0], int(new))

    def task_state_dict(self) -> dict[str, torch.Tensor]:
        """Only what differs from the base: the task stacks and heads."""
        return {f"tasks.{k}": v for k, v in self.tasks.state_dict().items()}
