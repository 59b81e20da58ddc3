"""`brandmon demo-web`: serve the bundled demo web on a local port."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import typer

from brandmon.cli.common import console, fail, settings_of

cli = typer.Typer()  # this module's top-level commands; register() adds them to the app


@cli.command("demo-web")
def demo_web(
    ctx: typer.Context,
    port: int | None = typer.Option(None, help="Port (default: from settings.demo_web_url, 8765)."),
    host: str | None = typer.Option(None, help="Interface (default: from settings.demo_web_url, 127.0.0.1)."),
    content: Path | None = typer.Option(None, help="Content folder (default: the bundled data/demo_web)."),
) -> None:
    """Serve the demo web (forums, news, feeds, Telegram pages) until Ctrl-C."""
    from demo.web.corpus import DEFAULT_CONTENT_DIR, CorpusError
    from demo.web.render_misc import ENTRY
    from demo.web.server import DemoWebServer

    u = urlsplit(settings_of(ctx).demo_web_url)
    try:
        srv = DemoWebServer(
            content or DEFAULT_CONTENT_DIR,
            host=host or u.hostname or "127.0.0.1",
            port=port if port is not None else (u.port or 8765),
        )
        srv.start()
    except CorpusError as e:
        fail(str(e), 2)
    except OSError as e:
        fail(f"cannot listen on {host or u.hostname}:{port or u.port}: {e.strerror or e}", 2)
    from demo.web import corpus

    try:  # Ctrl-C while the site list is printing stops as cleanly as while serving
        c = corpus.load(srv.content_dir)
        n_posts = sum(1 for _ in c.all_posts())
        console.print(f"demo web on [bold]{srv.url}[/bold]: {len(c.sites)} sites, {n_posts} posts (Ctrl-C stops)")
        for s in c.sites.values():
            console.print(f"  {srv.url}{ENTRY[s.engine].format(key=s.key)}  {s.title} ({s.engine})", highlight=False)
        srv.serve_forever()
    except KeyboardInterrupt:
        console.print("stopped")
    finally:
        srv.stop()


def register(app: typer.Typer) -> None:
    """Add this module's commands and groups to the app."""
    app.registered_commands += cli.registered_commands
