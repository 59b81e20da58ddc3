"""`brandmon escalate`, `queue …`, `correct`, `kpis`, `advocates` and `alerts`."""

from __future__ import annotations

import getpass
import json
import os
from datetime import UTC, datetime

import typer
from rich.table import Table
from rich.text import Text

from brandmon.cli.common import console, err_console, fail, settings_of, writing
from brandmon.cli.output import Format, cell, chosen, format_option, json_alias, print_frame
from pipeline import escalate as esc
from pipeline.store import Store

cli = typer.Typer()  # this module's top-level commands; register() adds them to the app


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return os.environ.get("USER") or getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


def _when(value: str | None, name: str) -> datetime | None:
    """Parse an ISO date/time (a bare date is midnight UTC); naive times are UTC."""
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        from brandmon.cli.common import fail

        fail(f"{name}: {value!r} is not an ISO date or date-time (e.g. 2026-03-01 or 2026-03-01T09:00)", 2)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _hours(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


ActorOpt = typer.Option(None, "--actor", help="Who is acting (default: $USER).")


def _store(ctx: typer.Context) -> Store:
    return Store.from_settings(settings_of(ctx))


def _run(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except esc.ActionError as e:
        fail(str(e), 1)


@cli.command("escalate")
def escalate_cmd(ctx: typer.Context) -> None:
    """Score scored mentions for escalation, open/refresh queue items, reopen dismissed ones on new complaints."""
    s = settings_of(ctx)
    with writing(s, "escalate"):
        counts = esc.escalate(s, _store(ctx))
    console.print(" ".join(f"{k}={v}" for k, v in counts.items()))


q = typer.Typer(
    help="The escalation queue: list, show, assign, start, resolve, dismiss, reopen, comment.",
    invoke_without_command=True,
)


@q.callback()
def queue_list(
    ctx: typer.Context,
    state: list[str] | None = typer.Option(None, "--state", "-s", help="State(s) to show (default: open ones)."),
    owner: str | None = typer.Option(None, "--owner", help="Only items owned by this person."),
    brand: str | None = typer.Option(None, "--brand", help="Only this brand id."),
    limit: int = typer.Option(30, "--limit", "-n", help="Items to show at most."),
    fmt: Format = format_option(),
) -> None:
    """List queue items by priority (open ones unless --state is given)."""
    if ctx.invoked_subcommand is not None:
        return
    df = _run(esc.queue, _store(ctx), state=state or None, owner=owner, brand=brand, limit=limit)
    if fmt is not Format.table:
        print_frame(df.drop(columns=["reasons_json"]), fmt, console=console)
        return
    if df.empty:
        console.print("queue is empty")
        return
    t = Table("id", "prio", "level", "state", "owner", "brand", "sla", "post", "why")
    for r in df.itertuples(index=False):
        answered = bool(cell(r.first_response_at))
        sla = "BREACHED" if r.sla_breached else ("answered" if answered else cell(r.sla_due_at)[:16])
        t.add_row(
            Text(r.escalation_id[:8]),
            f"{r.priority:.2f}",
            r.level or "",
            r.state,
            Text(r.owner or ""),
            Text(r.brand_id or ""),
            sla,
            Text(" ".join(str(r.text or "").split())[:90]),
            Text(r.why),
        )
    console.print(t)


@q.command("show")
def queue_show(ctx: typer.Context, escalation_id: str = typer.Argument(..., help="Id or unique prefix.")) -> None:
    """One item: the post, why it is in the queue (each factor × weight, matched terms), and its history."""
    st = _store(ctx)
    eid = _run(esc.resolve_id, st, escalation_id)
    df = esc.queue(st, state=list(esc.STATES), limit=1_000_000)
    row = df[df["escalation_id"] == eid].iloc[0]
    console.print(Text(f"escalation {eid}  mention {row.mention_id}  brand {row.brand_id}"))
    console.print(
        Text(
            f"state {row.state}  owner {row.owner or '-'}  priority {row.priority:.3f} ({row.level})  "
            f"version {row.version}  SLA due {row.sla_due_at}  first response {row.first_response_at}"
        )
    )
    console.print(Text(f"{row.source_id}  {row.author or '?'}  {row.posted_at}  {row.url or ''}"))
    console.print(Text(str(row.text or "")))
    reasons = json.loads(row.reasons_json or "{}")
    t = Table("factor", "value", "weight", "contribution", title="why")
    for k, v in sorted(reasons.get("factors", {}).items(), key=lambda kv: -kv[1]["contribution"]):
        t.add_row(k, f"{v['value']:.3f}", f"{v['weight']:.2f}", f"{v['contribution']:.3f}")
    console.print(t)
    for term in reasons.get("threat_terms", []):
        console.print(Text(f"term: {term['found']} → {term['term']} ({term['category']}, weight {term['weight']})"))
    print_frame(esc.history(st, eid), "table", title="history", console=console)


@q.command("assign")
def queue_assign(
    ctx: typer.Context,
    escalation_id: str = typer.Argument(...),
    owner: str = typer.Argument(..., help="Who will handle it."),
    actor: str | None = ActorOpt,
) -> None:
    """Assign an item to an owner (new → assigned; re-assigns an assigned/in-progress item)."""
    st = _store(ctx)
    eid = _run(esc.resolve_id, st, escalation_id)
    r = _run(esc.assign, st, eid, owner, _actor(actor))
    console.print(Text(f"{eid}: {r['state']}, owner {r['owner']} (version {r['version']})"))


def _state_cmd(name: str, to_state: str | None, help_text: str) -> None:
    @q.command(name, help=help_text)
    def _cmd(
        ctx: typer.Context,
        escalation_id: str = typer.Argument(...),
        comment: str | None = typer.Option(None, "--comment", "-m", help="Why (kept in the history)."),
        actor: str | None = ActorOpt,
    ) -> None:
        st = _store(ctx)
        eid = _run(esc.resolve_id, st, escalation_id)
        if to_state is None:
            r = _run(esc.reopen, st, eid, _actor(actor), comment)
        else:
            r = _run(esc.transition, st, eid, to_state, _actor(actor), comment)
        console.print(Text(f"{eid}: {r['state']} (version {r['version']})"))


_state_cmd("start", "in_progress", "Start working on an item (→ in_progress).")


_state_cmd("resolve", "resolved", "Mark an item resolved.")


_state_cmd(
    "dismiss", "dismissed", "Dismiss an item as noise (it stays dismissed unless its thread gets new negative replies)."
)


_state_cmd("reopen", None, "Reopen a resolved/dismissed item (→ assigned if it has an owner, else new).")


@q.command("comment")
def queue_comment(
    ctx: typer.Context,
    escalation_id: str = typer.Argument(...),
    text: str = typer.Argument(..., help="The comment."),
    actor: str | None = ActorOpt,
) -> None:
    """Add a comment to an item's history."""
    st = _store(ctx)
    eid = _run(esc.resolve_id, st, escalation_id)
    r = _run(esc.add_comment, st, eid, _actor(actor), text)
    console.print(Text(f"{eid}: comment added (version {r['version']})"))


@cli.command("correct")
def correct_cmd(
    ctx: typer.Context,
    mention_id: str = typer.Argument(..., help="The mention to correct."),
    sentiment: str | None = typer.Option(None, "--sentiment", help="negative, neutral or positive"),
    intent: str | None = typer.Option(None, "--intent", help="question, failure, complaint, praise or other"),
    actor: str | None = ActorOpt,
) -> None:
    """Correct a mention's sentiment and/or intent (overrides the model everywhere; used for training)."""
    if not sentiment and not intent:
        fail("give --sentiment and/or --intent", 2)
    st = _store(ctx)
    for field, value in (("sentiment", sentiment), ("intent", intent)):
        if value:
            r = _run(esc.correct, st, mention_id, field, value, _actor(actor))
            console.print(Text(f"{mention_id}: {field} {r['previous']} → {r['value']}"))


@cli.command("kpis")
def kpis_cmd(
    ctx: typer.Context,
    since: str | None = typer.Option(None, "--since", help="Window start (ISO date/time, UTC)."),
    until: str | None = typer.Option(None, "--until", help="Window end, exclusive."),
    brand: str | None = typer.Option(None, "--brand", help="Only this brand id."),
    fmt: Format = format_option(),
    as_json: bool = json_alias(),
) -> None:
    """Response rate, time to first response, SLA breaches, backlog and negative share over a window.

    json: every table in one document; csv: the summary as one row."""
    import pandas as pd

    from brandmon.cli.output import print_json
    from pipeline.kpis import compute_kpis

    k = compute_kpis(_store(ctx), since=_when(since, "--since"), until=_when(until, "--until"), brand=brand)
    fmt = chosen(fmt, as_json)
    if fmt is Format.json:
        print_json({kk: (v.to_dict(orient="records") if hasattr(v, "to_dict") else v) for kk, v in k.items()})
        return
    s = k["summary"]
    if fmt is Format.csv:
        print_frame(pd.DataFrame([s]), fmt)
        return
    rate = f"{s['response_rate']:.0%}" if s["response_rate"] is not None else "-"
    console.print(
        f"received {s['received']}  answered {s['answered']}  response rate {rate}  "
        f"dismissed {s['dismissed']}  resolved {s['resolved']}"
    )
    console.print(
        f"time to first response: median {_hours(s['ttfr_median_hours'])} h, p90 {_hours(s['ttfr_p90_hours'])} h"
    )
    console.print(f"SLA breaches: {s['sla_breached_open']} open past due, {s['sla_answered_late']} answered late")
    print_frame(k["by_brand"], "table", title="by brand", console=console)
    print_frame(k["backlog"], "table", title="backlog (open items by age and level)", console=console)
    print_frame(k["negative_by_brand"], "table", title="negative share by brand", console=console)
    print_frame(k["negative_by_source"], "table", title="negative share by source", console=console)


@cli.command("advocates")
def advocates_cmd(
    ctx: typer.Context,
    brand: str | None = typer.Option(None, "--brand", help="Only this brand id."),
    limit: int = typer.Option(20, "--limit", "-n"),
    update: bool = typer.Option(True, "--update/--no-update", help="Recompute author scores first."),
    leaders: bool = typer.Option(False, "--leaders", help="Show opinion leaders (influence) instead."),
    fmt: Format = format_option(),
) -> None:
    """Brand advocates (repeated positive stance, defending the brand) or opinion leaders, with reasons."""
    from pipeline.advocates import opinion_leaders, top_advocates, update_authors

    st = _store(ctx)
    if update:
        # a listing: while a flow writes it shows the scores of the last update rather than waiting for the flow
        with writing(settings_of(ctx), "advocates", wait=False) as held:
            if held:
                update_authors(settings_of(ctx), st)
            else:
                err_console.print("a flow is writing: author scores as of their last update", highlight=False)
    df = opinion_leaders(st, limit) if leaders else top_advocates(st, brand, limit)
    print_frame(df.drop(columns=["author_key"]), fmt, console=console)


@cli.command("alerts")
def alerts_cmd(
    ctx: typer.Context,
    ack: str | None = typer.Option(None, "--ack", help="Acknowledge this alert id (or unique prefix)."),
    detect: bool = typer.Option(False, "--detect", help="Run spike/theme detection first."),
    open_only: bool = typer.Option(False, "--open", help="Only unacknowledged alerts."),
    brand: str | None = typer.Option(None, "--brand"),
    limit: int = typer.Option(30, "--limit", "-n"),
    actor: str | None = ActorOpt,
    fmt: Format = format_option(),
) -> None:
    """List alerts (spikes, new/growing themes); --ack ID acknowledges one; --detect runs detection first."""
    from pipeline.alerts import acknowledge, detect_alerts, list_alerts

    st = _store(ctx)
    if detect:
        with writing(settings_of(ctx), "alerts"):
            counts = detect_alerts(settings_of(ctx), st)
        console.print(" ".join(f"{k}={v}" for k, v in counts.items()))
    if ack:
        ids = st.show("SELECT alert_id FROM alerts WHERE starts_with(alert_id, ?) LIMIT 2", [ack])
        if len(ids) != 1:
            fail(f"{ack!r} matches {'no' if ids.empty else 'several'} alerts", 1)
        r = _run(acknowledge, st, str(ids.iloc[0, 0]), _actor(actor))
        console.print(
            Text(
                f"{r['alert_id']}: acknowledged by {r['acknowledged_by']}"
                + (" (already)" if r["already"] else "")
                + (" (pending: stored when the running pipeline stage lets go)" if r.get("pending") else "")
            )
        )
        return
    df = list_alerts(st, unacknowledged=open_only, brand=brand, limit=limit)
    if fmt is not Format.table:
        print_frame(df, fmt)
        return
    if df.empty:
        console.print("no alerts")
        return
    t = Table("id", "kind", "when", "ack", "explanation")
    for r in df.itertuples(index=False):
        t.add_row(
            Text(r.alert_id[:8]),
            r.kind,
            cell(r.window_end)[:16],
            Text(r.acknowledged_by or ""),
            Text(r.explanation or ""),
        )
    console.print(t)


def register(app: typer.Typer) -> None:
    """Add this module's commands and groups to the app."""
    app.registered_commands += cli.registered_commands
    app.add_typer(q, name="queue")
