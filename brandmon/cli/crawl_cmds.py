"""`brandmon parse`, `brandmon crawl`, `brandmon sources` (health, `probe URL`, `add URL`)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from brandmon.cli.common import console, fail, settings_of
from brandmon.cli.output import Format, chosen, format_option, json_alias, print_frame, print_json_lines

cli = typer.Typer()  # this module's top-level commands; register() adds them to the app


def fetch(url: str, settings, allow_local: bool, encoding: str | None) -> tuple[str, str]:
    """One polite GET for `brandmon parse URL`, under the crawler's network rules and size limit: the host is
    resolved once and checked, the connection goes to the address checked, and so does every redirect hop."""
    import urllib.error
    import urllib.request

    from crawlers.encoding import decode_html
    from crawlers.netguard import NetworkRefused, check_url
    from crawlers.pinned_urllib import pinned_opener

    hint = "" if allow_local else " (use --local for a page on this machine)"
    why = check_url(url, set(), allow_local)
    if why:
        raise ValueError(f"refusing {url}: {why}{hint}")
    req = urllib.request.Request(url, headers={"User-Agent": settings.crawl.resolved_user_agent()})
    limit = settings.crawl.max_page_bytes
    try:
        with pinned_opener(allow_local).open(req, timeout=settings.crawl.download_timeout) as r:
            final = r.geturl()
            body = r.read(limit + 1)
            ctype = r.headers.get("Content-Type")
    except urllib.error.URLError as e:
        if isinstance(e.reason, NetworkRefused):  # a redirect hop the rules refuse, caught before its connection
            raise ValueError(f"refusing {url}: {e.reason}{hint}") from None
        raise
    except NetworkRefused as e:
        raise ValueError(f"refusing {url}: {e}{hint}") from None
    if len(body) > limit:
        raise ValueError(f"{url}: page larger than {limit} bytes")
    return decode_html(body, ctype, encoding)[0], final


@cli.command("parse")
def parse_cmd(
    ctx: typer.Context,
    path_or_url: str = typer.Argument(..., help="A saved page (HTML or Discourse JSON) or an http(s) URL."),
    engine: str = typer.Option(
        "auto", "--engine", "-e", help="auto (from the markup) or a parser engine; a wrong name lists them."
    ),
    encoding: str | None = typer.Option(None, "--encoding", help="Force a charset (cp1251, koi8-r, utf-8…)."),
    url: str | None = typer.Option(None, "--url", help="The page's original URL (for links of a saved file)."),
    tz: str | None = typer.Option(None, "--tz", help="Time zone of naive dates (default: settings)."),
    local: bool = typer.Option(False, "--local", help="Allow fetching from 127.0.0.1 / private addresses."),
) -> None:
    """Parse one page and print its posts as JSON lines (engine detected from the markup)."""
    from crawlers.encoding import decode_html
    from crawlers.parsers import ENGINES, ParseContext, ParseError, parse_any, parse_page
    from crawlers.parsers.base import saved_page_url

    s = settings_of(ctx)
    if engine != "auto" and engine not in ENGINES:
        fail(f"unknown engine {engine!r}; one of: auto, {', '.join(ENGINES)}", 2)
    try:
        if path_or_url.startswith(("http://", "https://")):
            text, page_url = fetch(path_or_url, s, local, encoding)
        else:
            p = Path(path_or_url)
            if not p.is_file():
                fail(f"{p}: no such file", 2)
            text = decode_html(p.read_bytes(), None, encoding)[0]
            page_url = url or saved_page_url(text, p.resolve().as_uri().replace("file://", "http://saved.local"))
        pctx = ParseContext(source="parse", tz=tz or s.crawl.default_timezone)
        if engine == "auto":
            used, res = parse_any(text, url or page_url, pctx)
        else:
            used, res = engine, parse_page(text, url or page_url, engine, pctx)
    except (ParseError, ValueError, OSError) as e:
        fail(str(e), 2)
    for it in res.items:
        sys.stdout.write(json.dumps(it.to_dict(), ensure_ascii=False) + "\n")
    print(
        f"engine={used} posts={len(res.items)} threads={len(res.thread_links)} next={res.next_url or '-'}",
        file=sys.stderr,
    )


@cli.command("crawl")
def crawl_cmd(
    ctx: typer.Context,
    source: list[str] = typer.Option(None, "--source", "-s", help="Source name from sources.yaml (repeatable)."),
    all_: bool = typer.Option(False, "--all", help="Every enabled source."),
    since: str | None = typer.Option(None, "--since", help="Keep only posts on/after this date."),
    workers: int = typer.Option(
        0,
        "--workers",
        min=0,
        help="Crawl on N local worker processes (Dask); 0: as the workers settings say (default: here).",
    ),
    fmt: Format = format_option(),
    as_json: bool = json_alias(),
) -> None:
    """Crawl sources (one Scrapy process each) into the raw layer, with a live progress display.

    json: the whole result as one JSON document; csv: one row per source."""
    import pandas as pd

    fmt = chosen(fmt, as_json)
    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    from crawlers.run import CrawlError, crawl_sources
    from pipeline.config import ConfigError
    from pipeline.store import Store

    s = settings_of(ctx)
    if workers:  # a crawler process on each
        s.workers.local = workers
        s.crawl.processes = max(s.crawl.processes, workers)
    if not source and not all_:
        fail("say which: --source NAME (repeatable) or --all", 2)
    store = Store.from_settings(s)
    store.upgrade()
    tasks: dict[str, TaskID] = {}
    with Progress(
        TextColumn("{task.fields[name]}"),
        BarColumn(bar_width=None, pulse_style="cyan"),
        TextColumn("pages {task.fields[pages]}  items {task.fields[items]}  errors {task.fields[errors]}"),
        TimeElapsedColumn(),
        console=console,
        transient=fmt is not Format.table,
    ) as prog:

        def on_progress(name: str, c: dict) -> None:
            if name not in tasks:
                tasks[name] = prog.add_task("", total=None, name=name, pages=0, items=0, errors=0)
            prog.update(tasks[name], pages=c["pages"], items=c["items"], errors=c["errors"])

        try:
            from flows.workers import dask_crawl

            remote = dask_crawl(s) if s.workers.enabled else None  # workers report no progress lines
            res = crawl_sources(
                s, store, None if all_ else list(source), since=since, progress=on_progress, run_remote=remote
            )
        except (CrawlError, ConfigError) as e:
            fail(str(e), 2)
    if fmt is Format.json:
        print(json.dumps(res, ensure_ascii=False, default=str))
    elif fmt is Format.csv:
        cols = ("status", "pages", "items", "errors", "seconds", "raw_path")
        print_frame(
            pd.DataFrame([{"source": name, **{k: r.get(k) for k in cols}} for name, r in res["sources"].items()]), fmt
        )
    else:
        _print_crawl(res)
    if any(r["status"] == "failed" for r in res["sources"].values()):
        raise typer.Exit(1)  # in every format: scripts read the exit code


def _print_crawl(res: dict) -> None:
    t = Table("source", "status", "pages", "items", "errors", "seconds", "raw")
    for name, r in res["sources"].items():
        color = {"ok": "green", "partial": "yellow", "interrupted": "yellow"}.get(r["status"], "red")
        t.add_row(
            name,
            Text(r["status"], style=color),
            str(r["pages"]),
            str(r["items"]),
            str(r["errors"]),
            str(r.get("seconds", "")),
            Text(r["raw_path"]),
        )
    console.print(t)


sources_app = typer.Typer(
    help="Sources: their health (the default), probing a page, adding a site.",
    invoke_without_command=True,
    no_args_is_help=False,
)


@sources_app.callback()
def sources_cmd(ctx: typer.Context, fmt: Format = format_option(), as_json: bool = json_alias()) -> None:
    """Sources from sources.yaml and their health: last run, items, error rate (json: one line per source)."""
    if ctx.invoked_subcommand is not None:
        return
    from crawlers.health import source_health
    from pipeline.store import Store

    s = settings_of(ctx)
    rows = source_health(s, Store.from_settings(s))
    fmt = chosen(fmt, as_json)
    if fmt is Format.json:
        print_json_lines(rows)
        return
    if fmt is Format.csv:
        import pandas as pd

        print_frame(pd.DataFrame(rows), fmt)
        return
    t = Table("source", "kind", "engine", "enabled", "last run", "status", "items", "runs", "error rate", "silent")
    for r in rows:
        rate = "-" if r["error_rate"] is None else f"{r['error_rate']:.0%}"
        t.add_row(
            r["name"],
            r["kind"],
            r["engine"] or "",
            "yes" if r["enabled"] else "no",
            str(r["last_run"] or "never"),
            r["last_status"] or "-",
            str(r["last_items"] or 0),
            str(r["runs"]),
            rate,
            Text("SILENT", style="red") if r["silent"] else Text(""),
        )
    console.print(t)


def _probe(ctx: typer.Context, url: str, local: bool, encoding: str | None):
    from crawlers.probe import probe_page

    s = settings_of(ctx)
    if not url.startswith(("http://", "https://")):
        fail(f"{url}: give the page's http(s) URL", 2)
    try:
        note = check_robots(url, s, local)
        text, final = fetch(url, s, local, encoding)
    except (ValueError, OSError) as e:
        fail(str(e), 2)
    return probe_page(text, final, s.crawl.default_timezone), final, note


@sources_app.command("probe")
def sources_probe(
    ctx: typer.Context,
    url: str = typer.Argument(..., help="A page of the site: a thread, a comment page, a channel."),
    name: str | None = typer.Option(None, "--name", help="Name of the suggested source (default: from the host)."),
    local: bool = typer.Option(False, "--local", help="Allow fetching from 127.0.0.1 / private addresses."),
    encoding: str | None = typer.Option(None, "--encoding", help="Force a charset (cp1251, koi8-r, utf-8…)."),
    rows: int = typer.Option(10, "--rows", min=0, help="Posts shown in the preview."),
    fmt: Format = format_option(),
    as_json: bool = json_alias(),
) -> None:
    """Fetch one page (robots.txt respected) and show how brandmon reads it, with a ready sources.yaml entry.

    json: everything as one JSON document; csv: the preview posts."""
    from crawlers.probe import entry_yaml, source_entry

    fmt = chosen(fmt, as_json)
    p, final, note = _probe(ctx, url, local, encoding)
    entry = source_entry(p, url, name, local)
    if fmt is Format.csv:
        import pandas as pd

        print_frame(
            pd.DataFrame(
                [
                    {"author": it.author, "posted_at": it.posted_at, "url": it.url, "text": _first_words(it.text)}
                    for it in p.result.items[:rows]
                ],
                columns=["author", "posted_at", "url", "text"],
            ),
            fmt,
        )
        return
    if fmt is Format.json:
        print(
            json.dumps(
                {
                    "url": final,
                    "engine": p.engine,
                    "method": p.method,
                    "confidence": p.confidence,
                    "detector_scores": p.scores,
                    "posts": len(p.result.items),
                    "next_url": p.result.next_url,
                    "thread_links": len(p.result.thread_links),
                    "preview": [
                        {"author": it.author, "posted_at": it.posted_at, "text": _first_words(it.text)}
                        for it in p.result.items[:rows]
                    ],
                    "entry": entry,
                },
                ensure_ascii=False,
            )
        )
        return
    _print_probe(p, final, note, rows)
    console.print(Text("sources.yaml entry (brandmon sources add URL appends it):", style="bold"))
    console.print(Text(entry_yaml(entry)), soft_wrap=True)


@sources_app.command("add")
def sources_add(
    ctx: typer.Context,
    url: str = typer.Argument(..., help="A page of the site, as for `brandmon sources probe`."),
    name: str | None = typer.Option(None, "--name", help="Source name (default: from the host)."),
    local: bool = typer.Option(False, "--local", help="Allow fetching from 127.0.0.1 / private addresses."),
    encoding: str | None = typer.Option(None, "--encoding", help="Force a charset (cp1251, koi8-r, utf-8…)."),
) -> None:
    """Probe the page and append its source to sources.yaml, once `config check` passes on the result."""
    from crawlers.parsers import ENGINE_NAMES
    from crawlers.probe import entry_yaml, source_entry
    from pipeline.config import ConfigError
    from pipeline.sources_file import SourceExists, add_source

    s = settings_of(ctx)
    p, final, note = _probe(ctx, url, local, encoding)
    entry = source_entry(p, url, name, local)
    if not p.result.items and not p.result.thread_links:
        fail(f"{url}: no posts or threads found on the page; not adding it (see brandmon sources probe)", 1)
    comment = f"added by brandmon sources add: {p.engine} ({p.method}), confidence {p.confidence:.2f}"
    try:
        path = add_source(
            s, entry["name"], entry["start_urls"], lambda indent: entry_yaml(entry, indent, comment), ENGINE_NAMES
        )
    except SourceExists as e:
        fail(str(e), 1)
    except ConfigError as e:
        fail(f"config check failed on the result, {s.sources_file} left as it was: {e}", 2)
    _print_probe(p, final, note, 5)
    console.print(Text(f"added source {entry['name']!r} to {path}:", style="green"))
    console.print(Text(entry_yaml(entry)), soft_wrap=True)
    console.print(Text(f"next: brandmon crawl --source {entry['name']}"))


def _print_probe(p, final: str, note: str | None, rows: int) -> None:
    console.print(Text.assemble(("page: ", "bold"), final), soft_wrap=True)
    if note:
        console.print(Text(note, style="yellow"))
    scores = ", ".join(f"{e} {n}" for e, n in p.scores.items()) or "none"
    console.print(
        Text.assemble(
            ("read by: ", "bold"),
            f"{p.engine} ({p.method}), confidence {p.confidence:.2f}",
            f"; engine markers scored: {scores}",
        )
    )
    console.print(
        Text.assemble(("posts: ", "bold"), str(len(p.result.items)), f"   thread links: {len(p.result.thread_links)}")
    )
    if p.result.items and rows:
        t = Table("#", "author", "date", "first words")
        for i, it in enumerate(p.result.items[:rows], 1):
            # scraped strings as Text: never read as console markup
            t.add_row(
                str(i),
                Text(it.author or "—"),
                Text(_short_date(it.posted_at) or it.posted_at_raw or "—"),
                Text(_first_words(it.text)),
            )
        console.print(t)
    console.print(Text.assemble(("next page: ", "bold"), p.result.next_url or "—"), soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands and groups to the app."""
    app.registered_commands += cli.registered_commands
    app.add_typer(sources_app, name="sources")


def _short_date(iso: str | None) -> str | None:
    """An ISO time to the minute, with its offset, for a preview column ("3 hours ago" resolves to microseconds)."""
    if not iso:
        return None
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d)(?::\d\d(?:\.\d+)?)?(.*)$", iso)
    return f"{m.group(1)}{m.group(2)}" if m else iso


def _first_words(text: str | None, n: int = 12) -> str:
    words = (text or "").split()
    return " ".join(words[:n]) + (" …" if len(words) > n else "")


def check_robots(url: str, settings, allow_local: bool) -> str | None:
    """Refuse (ValueError) a page the site's robots.txt forbids to the crawl's user agent; returns a note when
    robots.txt could not be read (then, as the crawl's middleware does, the page is fetched)."""
    import urllib.error
    from urllib.parse import urlsplit, urlunsplit

    from crawlers.probe import ROBOTS_AGENT, robots_allow

    if not settings.crawl.obey_robots:
        return None
    parts = urlsplit(url)
    robots_url = urlunsplit((parts.scheme, parts.netloc, "/robots.txt", "", ""))
    try:
        text, _ = fetch(robots_url, settings, allow_local, None)
    except urllib.error.HTTPError as e:
        if 400 <= e.code < 500:
            return None  # no robots.txt: everything allowed
        return f"robots.txt: HTTP {e.code}, read as allowing everything"
    except urllib.error.URLError as e:
        return f"robots.txt could not be read ({e.reason}), read as allowing everything"
    if not robots_allow(text, url):
        raise ValueError(f"refusing {url}: {robots_url} disallows it for {ROBOTS_AGENT!r} (crawl.obey_robots is on)")
    return None
