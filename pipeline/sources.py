"""The configured sources a command works on: every enabled one, or the ones it names."""

from __future__ import annotations

from collections.abc import Iterable

from pipeline.config import ConfigError, Settings, SourceConfig, load_sources


def select_sources(settings: Settings, names: Iterable[str] | None = None) -> list[SourceConfig]:
    """Enabled sources from sources.yaml, or the named ones in the order given, each once (a source named but
    disabled is crawled: naming it is the request). An unknown name is a ConfigError that lists the known ones."""
    configured = load_sources(settings.sources_file, settings.demo_web_url)
    names = list(dict.fromkeys(names or ()))
    if not names:
        return [s for s in configured if s.enabled]
    by_name = {s.name: s for s in configured}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ConfigError(
            f"{settings.sources_file}: unknown source(s) {', '.join(unknown)}; known: {', '.join(sorted(by_name))}"
        )
    return [by_name[n] for n in names]
