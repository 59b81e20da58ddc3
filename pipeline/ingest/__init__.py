"""Raw crawl runs → documents, mentions and authors in DuckDB.

`ingest_pending(settings, store, run_id=None)` reads the raw layer (`<raw_dir>/<run_id>/items-*.jsonl.gz` or
`.jsonl`, one `crawlers.items.PostItem` dict per line) of every run that `crawl_runs` says is finished and not
yet ingested, or of one given run (a raw folder without a `crawl_runs` row is fine: that is a replay).

Per batch of `Settings.ingest.batch_size` items, in one write transaction (a run's batches share one held
connection, `pipeline.store.WriteSession`, released every `ingest.hold_lock_seconds`; with more than one batch, helper
processes prepare the next batches' rows while the current one is written):
- text is normalised (`pipeline.normalize`) and PII-masked (`pipeline.privacy`) before anything is stored;
- `documents` rows are keyed by doc_id = stable_id(source, canonical thread/url, post_id). A document whose
  text_hash is unchanged is left alone (only likes/views/replies/reach are refreshed), so re-ingesting a run
  changes nothing; an edited post updates its row and its mentions' context/context_hash, so scoring picks it
  up again (the `current_scores` view only counts a score whose context_hash matches);
- brand mentions (`pipeline.brands.BrandMatcher`), mention_id = stable_id(doc_id, brand_id), with the
  context window the models score; a brand an edited post no longer mentions loses its mention;
- duplicates (`pipeline.dedup`) get `dup_of`; spam signals (`pipeline.spam`) set `spam`;
- `authors` rows (author_key = stable_id(source, author_url or author)) get their post counts.
Every write is one vectorised INSERT … ON CONFLICT per table. Malformed lines are counted by reason and
logged with file:line; they never stop a run and never cost the good lines around them.

Hostile or damaged raw input costs only itself:
- a line is decoded leniently (`pipeline.rawlines`): a BOM, bytes that are not UTF-8 and lone surrogate escapes
  are repaired (U+FFFD) and counted as `repaired`, not dropped; a line over `rawlines.MAX_LINE_BYTES` is skipped;
- every stored string has a cap (`FIELD_CAPS`, text at `ingest.max_text_chars`); a text with nothing visible
  (spaces, zero-width characters) is skipped as `empty_text`; names and titles lose bidi controls;
- a file that cannot be read (not gzip, garbage inside the stream, a directory, no permission) is counted,
  logged with its path and moved to `<raw_dir>/quarantine/<run>/…`, after its readable lines (kept in a
  `*.salvaged.jsonl.gz` beside the others, so a replay still has them); the other files and runs go on. A gzip
  file cut short (a killed or still-running crawl) is not damaged: its lines are read and it stays.

One job a module: `items` checks an item, `reading` reads raw files into batches, `rows` turns a batch into rows,
`write` writes them, `helpers` runs `rows` in helper processes, `quarantine` moves damaged files aside,
`config_sync` syncs the config files' rows, and `runs` ties them together per run.
"""

from pipeline.ingest.config_sync import sync_config
from pipeline.ingest.items import (
    BAD_LINE_REASONS,
    FIELD_CAPS,
    MAX_NAME_CHARS,
    MAX_TITLE_CHARS,
    MAX_TOKEN_CHARS,
    MAX_URL_CHARS,
    check_item,
)
from pipeline.ingest.quarantine import QUARANTINE, quarantine
from pipeline.ingest.reading import MAX_ERRORS_KEPT, DamagedFile, raw_files, read_raw
from pipeline.ingest.rows import about_rules, author_key, canonical_url, doc_id_for
from pipeline.ingest.runs import IngestError, ingest_pending, ingest_run, runs_to_ingest
from pipeline.ingest.write import link_parents

__all__ = [
    "BAD_LINE_REASONS",
    "FIELD_CAPS",
    "MAX_ERRORS_KEPT",
    "MAX_NAME_CHARS",
    "MAX_TITLE_CHARS",
    "MAX_TOKEN_CHARS",
    "MAX_URL_CHARS",
    "QUARANTINE",
    "DamagedFile",
    "IngestError",
    "about_rules",
    "author_key",
    "canonical_url",
    "check_item",
    "doc_id_for",
    "ingest_pending",
    "ingest_run",
    "link_parents",
    "quarantine",
    "raw_files",
    "read_raw",
    "runs_to_ingest",
    "sync_config",
]
