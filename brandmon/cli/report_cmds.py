"""`brandmon report`: a brand's digest as one self-contained HTML file, optionally sent through the channels."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import typer

from brandmon.cli.common import console, fail, settings_of

cli = typer.Typer()  # this module's top-level commands; register() adds them to the app


def _when(text: str):
    """An ISO date or time as an aware UTC datetime (a date alone is its midnight)."""
    from datetime import datetime

    from pipeline.report import ReportError

    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise ReportError(
            f"--until {text!r}: expected an ISO date or time such as 2026-03-10 or 2026-03-10T12:00"
        ) from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


@cli.command("report")
def report_cmd(
    ctx: typer.Context,
    brand: str = typer.Option(..., "--brand", "-b", help="Brand id."),
    period: str = typer.Option("7d", "--period", "-p", help="Length of the period: 24h, 7d, 2w, 30d ..."),
    until: str | None = typer.Option(None, "--until", help="End of the period (ISO date or time, UTC; default now)."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="HTML file (default <data-dir>/reports/digest-BRAND-DATE.html)."
    ),
    pdf: bool = typer.Option(False, "--pdf", help="Also write FILE.pdf (needs the optional WeasyPrint)."),
    send: list[str] | None = typer.Option(None, "--send", help="Channel names to send it to (e-mail attaches it)."),
) -> None:
    """Digest of a brand: volume and sentiment charts, themes, KPIs, worst open items, change vs before."""
    from pipeline.report import ReportError, send_digest, write_digest
    from pipeline.store import Store

    s = settings_of(ctx)
    store = Store.from_settings(s)
    store.upgrade()
    channels = [c.strip() for item in send or [] for c in item.split(",") if c.strip()]
    try:
        end = _when(until) if until else None
        path, d = write_digest(s, store, brand, period, out, now=end)
        console.print(
            f"{path}: {d.brand_name}, {d.totals['mentions']:,} mentions, {len(d.escalations)} open escalations shown",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        if pdf:
            from pipeline.report.pdf import write_pdf

            console.print(f"{write_pdf(path)}", highlight=False, markup=False)
        if channels:
            r = send_digest(s, store, d, path, period, channels)
            errors = r.pop("errors", {})
            console.print(", ".join(f"{k} {v}" for k, v in r.items()), highlight=False)
            for channel, err in errors.items():
                console.print(f"{channel}: {err}", highlight=False, markup=False)
    except ReportError as e:
        fail(str(e), 2)


def register(app: typer.Typer) -> None:
    """Add this module's commands and groups to the app."""
    app.registered_commands += cli.registered_commands
