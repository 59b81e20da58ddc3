"""One logging configuration for every entry point.

Lines are `key=value` so they grep well: ``ts=… level=INFO logger=pipeline.ingest stage=ingest run_id=… msg="…"``.
`log_context(stage=…, run_id=…, source=…)` binds fields for everything logged inside it (contextvars, so it
is safe across threads and asyncio tasks).
"""

from __future__ import annotations

import contextvars
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# no default: a shared mutable default dict would be one object for every context; readers pass a fresh `{}`
_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("brandmon_log_context")

CONTEXT_KEYS = ("stage", "run_id", "source", "brand", "flow_run")


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        ctx = current_context()
        for k in CONTEXT_KEYS:
            if not hasattr(record, k):
                setattr(record, k, ctx.get(k))
        return True


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        parts = [
            f"ts={self.formatTime(record, '%Y-%m-%dT%H:%M:%S')}",
            f"level={record.levelname}",
            f"logger={record.name}",
        ]
        for k in CONTEXT_KEYS:
            v = getattr(record, k, None)
            if v is not None:
                parts.append(f"{k}={v}")
        msg = record.getMessage().replace('"', "'")
        parts.append(f'msg="{msg}"')
        if record.exc_info:
            parts.append("exc=" + repr(self.formatException(record.exc_info)))
        return " ".join(parts)


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is at emit time: test runners and CliRunner swap it, and a handler bound
    to the old object would write to a closed file."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def current_context() -> dict[str, Any]:
    """The fields bound by the enclosing `log_context` blocks (empty outside any)."""
    return _context.get({})


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    token = _context.set({**current_context(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def configure_logging(level: str = "INFO", log_file: str | Path | None = None) -> None:
    """Idempotent: replaces brandmon's handlers on the root logger."""
    root = logging.getLogger()
    for h in list(root.handlers):
        # Prefect puts its own console handler on the root logger; with ours beside it every line printed twice.
        if getattr(h, "_brandmon", False) or type(h).__module__.startswith("prefect."):
            root.removeHandler(h)
    handlers: list[logging.Handler] = [_CurrentStderr()]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    for h in handlers:
        h._brandmon = True  # type: ignore[attr-defined]
        h.setFormatter(KeyValueFormatter())
        h.addFilter(_ContextFilter())
        root.addHandler(h)
    root.setLevel(level.upper())
    # onnx_ir logs every pass of the one-off int8 export (hundreds of lines); pymorphy3 each dictionary load
    for noisy in ("scrapy", "filelock", "urllib3", "httpx", "asyncio", "numba", "onnx_ir", "onnxscript", "pymorphy3"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
