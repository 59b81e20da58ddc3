"""What every command module shares: the consoles, the exit codes, `fail` and the settings of the running command.

Kept apart from the package module `brandmon.cli` (which imports every command module) so that a command module
can be imported, and its commands run, on their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape  # messages quote config values and queries: never read them as markup

from pipeline.config import Settings, load_settings

# Exit codes, the same for every command (`brandmon --help` lists them).
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_DATABASE = 0, 1, 2, 3

console = Console()
err_console = Console(stderr=True)


def one_line(prefix: str, message: str) -> None:
    """An error on stderr as one line, whatever the terminal width."""
    err_console.print(f"[red]{prefix}:[/red] {escape(' '.join(message.split()))}", highlight=False, soft_wrap=True)


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def settings_of(ctx: typer.Context) -> Settings:
    """The settings built by the root callback (commands take them from here, never from globals)."""
    obj = ctx.find_root().obj
    if not isinstance(obj, Settings):  # a command module's own Typer, run without the app's root callback
        obj = load_settings()
    return obj


@contextmanager
def writing(settings: Settings, stage: str, *, wait: bool = True) -> Iterator[bool]:
    """Hold the store's write lock while a single-stage command writes, as the flows' stages do, so that
    `brandmon ingest` from a shell and a scheduled flow's stage take turns instead of interleaving. Says that it
    waits; gives up after `schedule.write_lock_timeout_seconds` with an error (exit 1), having written nothing.
    Yields whether it holds the lock: with ``wait=False`` a busy lock yields False at once (the caller skips its
    write, e.g. a listing that refreshes first)."""
    from flows.locking import WriteLockTimeout, write_lock

    timeout = settings.schedule.write_lock_timeout_seconds
    with ExitStack() as held:
        got = True
        try:
            try:
                held.enter_context(write_lock(settings.data_dir, 0, url=settings.store.url, stage=stage))
            except WriteLockTimeout:
                got = False
                if wait:
                    err_console.print(
                        f"waiting for the write lock: another brandmon process is writing (up to {timeout:.0f}s)",
                        highlight=False,
                    )
                    held.enter_context(write_lock(settings.data_dir, timeout, url=settings.store.url, stage=stage))
                    got = True
        except WriteLockTimeout as e:
            fail(str(e), EXIT_FAILURE)
        yield got
