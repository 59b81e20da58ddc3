"""`brandmon notify …`: deliver now, see the outbox, retry failed deliveries, test a channel."""

from __future__ import annotations

import typer

from brandmon.cli.common import console, fail, settings_of
from brandmon.cli.output import Format, format_option, print_frame

n = typer.Typer(
    help="Notifications: e-mail, chat webhook, Telegram (the notify section of the settings).", no_args_is_help=True
)


@n.command("send")
def send_cmd(ctx: typer.Context) -> None:
    """Queue notifications for new escalations and alerts and deliver what is due (the `notify` stage)."""
    from flows.stages import run_stage
    from pipeline.store import Store

    s = settings_of(ctx)
    store = Store.from_settings(s)
    store.upgrade()
    counts = run_stage("notify", s, store)
    errors = counts.pop("errors", {})
    console.print(", ".join(f"{k} {v}" for k, v in counts.items()), highlight=False)
    for channel, err in errors.items():
        console.print(f"[yellow]{channel}:[/yellow] ", end="")
        console.print(err, markup=False, highlight=False)


@n.command("status")
def status_cmd(
    ctx: typer.Context,
    state: list[str] | None = typer.Option(None, "--state", help="pending, sending, sent, failed, dead, skipped."),
    limit: int = typer.Option(50, "--limit", "-n"),
    fmt: Format = format_option(),
) -> None:
    """The outbox, latest first: channel, event, state, attempts, next try, last error."""
    from pipeline.notify.outbox import listing
    from pipeline.store import Store

    store = Store.from_settings(settings_of(ctx))
    store.upgrade()
    try:
        print_frame(listing(store, state, limit), fmt, title="notifications")
    except ValueError as e:
        fail(str(e), 2)


@n.command("retry")
def retry_cmd(ctx: typer.Context) -> None:
    """Make failed and dead deliveries due now (after fixing a channel); the next `notify send` tries them."""
    from pipeline.notify.outbox import retry_now
    from pipeline.store import Store, utcnow

    store = Store.from_settings(settings_of(ctx))
    store.upgrade()
    console.print(f"{retry_now(store, utcnow())} deliveries due again", highlight=False)


@n.command("test")
def test_cmd(
    ctx: typer.Context, channel: str = typer.Argument(..., help="A channel name from the notify.channels settings.")
) -> None:
    """Send a test message to one channel now (outside the outbox) and say whether it arrived."""
    from pipeline.notify.channels import DeliveryError, send
    from pipeline.notify.message import Message

    s = settings_of(ctx)
    cfg = s.notify.channels.get(channel)
    if cfg is None:
        fail(f"unknown channel {channel!r}; defined: {', '.join(s.notify.channels) or 'none'}", 2)
    msg = Message(
        title="[brandmon] test notification",
        facts=[f"Channel {channel} ({cfg.kind}) works."],
        links=[("Open brandmon", s.notify.dashboard_url)],
    )
    try:
        send(channel, cfg, msg, f"test-{channel}")
    except DeliveryError as e:
        fail(str(e))
    console.print(f"sent a test message to {channel}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands and groups to the app."""
    app.add_typer(n, name="notify")
