"""`brandmon parse`, `brandmon crawl`, `brandmon sources`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table
from rich.text import Text

PARSE_ENGINES = ("auto", "vbulletin", "phpbb", "xenforo", "ipb", "smf", "mybb", "nodebb", "discourse", "telegram",
                 "generic")


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


def register(app: typer.Typer) -> None:
    from pipeline.cli import console, fail, settings_of

    @app.command("parse")
    def parse_cmd(
        ctx: typer.Context,
        path_or_url: str = typer.Argument(..., help="A saved page (HTML or Discourse JSON) or an http(s) URL."),
        engine: str = typer.Option("auto", "--engine", "-e", help="auto|" + "|".join(PARSE_ENGINES[1:])),
        encoding: Optional[str] = typer.Option(None, "--encoding", help="Force a charset (cp1251, koi8-r, utf-8…)."),
        url: Optional[str] = typer.Option(None, "--url", help="The page's original URL (for links of a saved file)."),
        tz: Optional[str] = typer.Option(None, "--tz", help="Time zone of naive dates (default: settings)."),
        local: bool = typer.Option(False, "--local", help="Allow fetching from 127.0.0.1 / private addresses."),
    ) -> None:
        """Parse one page and print its posts as JSON lines (engine detected from the markup)."""
        from crawlers.encoding import decode_html
        from crawlers.parsers import ParseContext, ParseError, parse_any, parse_page
        from crawlers.parsers.base import saved_page_url

        s = settings_of(ctx)
        if engine not in PARSE_ENGINES:
            fail(f"unknown engine {engine!r}; one of: {', '.join(PARSE_ENGINES)}", 2)
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
        print(f"engine={used} posts={len(res.items)} threads={len(res.thread_links)} next={res.next_url or '-'}",
              file=sys.stderr)

    @app.command("crawl")
    def crawl_cmd(
        ctx: typer.Context,
        source: list[str] = typer.Option(None, "--source", "-s", help="Source name from sources.yaml (repeatable)."),
        all_: bool = typer.Option(False, "--all", help="Every enabled source."),
        since: Optional[str] = typer.Option(None, "--since", help="Keep only posts on/after this date."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Crawl sources (one Scrapy process each) into the raw layer, with a live progress display."""
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from crawlers.run import CrawlError, crawl_sources
        from pipeline.config import ConfigError
        from pipeline.store import Store

        s = settings_of(ctx)
        if not source and not all_:
            fail("say which: --source NAME (repeatable) or --all", 2)
        store = Store.from_settings(s)
        store.upgrade()
        tasks: dict[str, int] = {}
        with Progress(TextColumn("{task.fields[name]}"), BarColumn(bar_width=None, pulse_style="cyan"),
                      TextColumn("pages {task.fields[pages]}  items {task.fields[items]}  errors {task.fields[errors]}"),
                      TimeElapsedColumn(), console=console, transient=as_json) as prog:
            def on_progress(name: str, c: dict) -> None:
                if name not in tasks:
                    tasks[name] = prog.add_task("", total=None, name=name, pages=0, items=0, errors=0)
                prog.update(tasks[name], pages=c["pages"], items=c["items"], errors=c["errors"])

            try:
                res = crawl_sources(s, store, None if all_ else list(source), since=since, progress=on_progress)
            except (CrawlError, ConfigError) as e:
                fail(str(e), 2)
        if as_json:
            print(json.dumps(res, ensure_ascii=False, default=str))
            return
        t = Table("source", "status", "pages", "items", "errors", "seconds", "raw")
        for name, r in res["sources"].items():
            color = {"ok": "green", "partial": "yellow", "interrupted": "yellow"}.get(r["status"], "red")
            t.add_row(name, Text(r["status"], style=color), str(r["pages"]), str(r["items"]), str(r["errors"]),
                      str(r.get("seconds", "")), Text(r["raw_path"]))
        console.print(t)
        if any(r["status"] == "failed" for r in res["sources"].values()):
            raise typer.Exit(1)

    @app.command("sources")
    def sources_cmd(
        ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON lines.")
    ) -> None:
        """Sources from sources.yaml and their health: last run, items, error rate."""
        from crawlers.health import source_health
        from pipeline.store import Store

        s = settings_of(ctx)
        rows = source_health(s, Store.from_settings(s))
        if as_json:
            for r in rows:
                print(json.dumps(r, ensure_ascii=False, default=str))
            return
        t = Table("source", "kind", "engine", "enabled", "last run", "status", "items", "runs", "error rate", "silent")
        for r in rows:
            rate = "-" if r["error_rate"] is None else f"{r['error_rate']:.0%}"
            t.add_row(r["name"], r["kind"], r["engine"] or "", "yes" if r["enabled"] else "no",
                      str(r["last_run"] or "never"), r["last_status"] or "-", str(r["last_items"] or 0),
                      str(r["runs"]), rate, Text("SILENT", style="red") if r["silent"] else Text(""))
        console.print(t)
