"""The DuckDB schema as an ordered list of named migrations.

Append a new `Migration` to change the schema; never edit one that has shipped. Migrations are applied in
order inside one transaction each and recorded in `schema_migrations`, so `upgrade` is a no-op on an
up-to-date file. Times are TIMESTAMPTZ (UTC), JSON is stored as VARCHAR so no extension is needed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str


INITIAL = """
CREATE TABLE sources (
    source_id VARCHAR PRIMARY KEY,          -- the name in sources.yaml
    kind VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    base_url VARCHAR,
    engine VARCHAR,
    config_json VARCHAR,
    enabled BOOLEAN DEFAULT TRUE,
    updated_at TIMESTAMPTZ
);

CREATE TABLE crawl_runs (
    run_id VARCHAR PRIMARY KEY,
    source_id VARCHAR NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    status VARCHAR NOT NULL,                -- running | ok | partial | failed
    pages INTEGER DEFAULT 0,
    items INTEGER DEFAULT 0,
    errors INTEGER DEFAULT 0,
    error_summary_json VARCHAR,
    raw_path VARCHAR,
    ingested_at TIMESTAMPTZ                 -- set when ingest has consumed this run's raw files
);

CREATE TABLE crawl_state (                  -- incremental re-crawl bookkeeping per thread/page
    source_id VARCHAR NOT NULL,
    url VARCHAR NOT NULL,
    last_post_id VARCHAR,
    pages INTEGER,
    etag VARCHAR,
    last_modified VARCHAR,
    content_hash VARCHAR,
    updated_at TIMESTAMPTZ,
    PRIMARY KEY (source_id, url)
);

CREATE TABLE documents (
    doc_id VARCHAR PRIMARY KEY,             -- hash(source, canonical url, post id)
    source_id VARCHAR NOT NULL,
    url VARCHAR,
    thread_url VARCHAR,
    thread_title VARCHAR,
    author VARCHAR,
    author_url VARCHAR,
    posted_at TIMESTAMPTZ,
    fetched_at TIMESTAMPTZ,
    text VARCHAR NOT NULL,
    quoted_text VARCHAR,
    text_hash VARCHAR NOT NULL,
    lang VARCHAR,
    parent_id VARCHAR,
    reach INTEGER,
    likes INTEGER,
    views INTEGER,
    replies INTEGER,
    rating DOUBLE,                          -- star rating on review sources
    is_official_answer BOOLEAN DEFAULT FALSE,
    dup_of VARCHAR,                         -- first document with the same or near-same text
    spam BOOLEAN DEFAULT FALSE,
    spam_reasons_json VARCHAR,
    raw_path VARCHAR,
    run_id VARCHAR,
    ingested_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ
);

CREATE TABLE brands (
    brand_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    aliases_json VARCHAR,
    query VARCHAR,
    exclusions_json VARCHAR,
    updated_at TIMESTAMPTZ
);

CREATE TABLE mentions (
    mention_id VARCHAR PRIMARY KEY,         -- hash(doc_id, brand_id)
    doc_id VARCHAR NOT NULL,
    brand_id VARCHAR NOT NULL,
    span_start INTEGER,
    span_end INTEGER,
    matched VARCHAR,
    context VARCHAR NOT NULL,               -- the window the models score
    context_hash VARCHAR NOT NULL,
    created_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ
);

CREATE TABLE models (
    model VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,         -- hash of the weights
    task VARCHAR NOT NULL,                  -- sentiment | intent | embed
    path VARCHAR,
    active BOOLEAN DEFAULT FALSE,
    metrics_json VARCHAR,
    created_at TIMESTAMPTZ,
    PRIMARY KEY (model, model_version)
);

CREATE TABLE scores (
    mention_id VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    context_hash VARCHAR NOT NULL,          -- what was scored; a changed context gets a new score
    sentiment VARCHAR,
    p_neg DOUBLE,
    p_neu DOUBLE,
    p_pos DOUBLE,
    unsure BOOLEAN,
    intent VARCHAR,
    intent_probs_json VARCHAR,
    scored_at TIMESTAMPTZ,
    PRIMARY KEY (mention_id, model_version)
);

CREATE TABLE themes (
    theme_id VARCHAR PRIMARY KEY,
    brand_id VARCHAR,
    label VARCHAR,
    keywords_json VARCHAR,
    centroid FLOAT[],
    first_seen TIMESTAMPTZ,
    last_seen TIMESTAMPTZ,
    size INTEGER,
    prev_size INTEGER,
    status VARCHAR,                         -- new | growing | stable | fading
    updated_at TIMESTAMPTZ
);

CREATE TABLE theme_members (
    theme_id VARCHAR NOT NULL,
    mention_id VARCHAR NOT NULL,
    distance DOUBLE,
    PRIMARY KEY (theme_id, mention_id)
);

CREATE TABLE escalations (
    escalation_id VARCHAR PRIMARY KEY,
    mention_id VARCHAR NOT NULL,
    brand_id VARCHAR,
    priority DOUBLE NOT NULL,
    level VARCHAR,                          -- critical | high | medium | low
    reasons_json VARCHAR,
    state VARCHAR NOT NULL,                 -- new | assigned | in_progress | resolved | dismissed
    owner VARCHAR,
    sla_due_at TIMESTAMPTZ,
    first_response_at TIMESTAMPTZ,
    resolved_at TIMESTAMPTZ,
    version INTEGER DEFAULT 1,              -- optimistic concurrency for analyst actions
    created_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ
);

CREATE TABLE escalation_events (
    event_id VARCHAR PRIMARY KEY,
    escalation_id VARCHAR NOT NULL,
    event_at TIMESTAMPTZ NOT NULL,          -- DESIGN.md's `at` is reserved in DuckDB
    actor VARCHAR,
    action VARCHAR,
    from_state VARCHAR,
    to_state VARCHAR,
    comment VARCHAR
);

CREATE TABLE corrections (
    mention_id VARCHAR NOT NULL,
    field VARCHAR NOT NULL,                 -- sentiment | intent
    value VARCHAR NOT NULL,
    actor VARCHAR,
    corrected_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (mention_id, field)
);

CREATE TABLE alerts (
    alert_id VARCHAR PRIMARY KEY,           -- hash(kind, scope, window) so re-runs deduplicate
    kind VARCHAR NOT NULL,                  -- volume_spike | negativity_spike | new_theme | growing_theme
    brand_id VARCHAR,
    source_id VARCHAR,
    theme_id VARCHAR,
    window_start TIMESTAMPTZ,
    window_end TIMESTAMPTZ,
    observed DOUBLE,
    expected DOUBLE,
    z DOUBLE,
    explanation VARCHAR,
    created_at TIMESTAMPTZ,
    acknowledged_by VARCHAR,
    acknowledged_at TIMESTAMPTZ
);

CREATE TABLE authors (
    author_key VARCHAR PRIMARY KEY,         -- hash(source, author name or url)
    source_id VARCHAR,
    name VARCHAR,
    url VARCHAR,
    posts INTEGER,
    neg INTEGER,
    pos INTEGER,
    advocate_score DOUBLE,
    influence_score DOUBLE,
    explanation VARCHAR,
    updated_at TIMESTAMPTZ
);

CREATE TABLE flow_runs (
    flow_run_id VARCHAR PRIMARY KEY,
    flow VARCHAR NOT NULL,
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    status VARCHAR,
    counts_json VARCHAR,
    error VARCHAR
);

CREATE INDEX idx_documents_source ON documents(source_id);
CREATE INDEX idx_documents_posted ON documents(posted_at);
CREATE INDEX idx_mentions_doc ON mentions(doc_id);
CREATE INDEX idx_mentions_brand ON mentions(brand_id);
"""

# The score every reader shows: the active scoring model's output for the mention's *current* context
# (an edited post's stale score does not count), overridden by analyst corrections.
CURRENT_SCORES = """
CREATE OR REPLACE VIEW current_scores AS
WITH active AS (
    SELECT model, model_version FROM models WHERE task = 'score' AND active
),
s AS (
    SELECT sc.* FROM scores sc JOIN active a ON a.model = sc.model AND a.model_version = sc.model_version
),
cs AS (SELECT mention_id, value FROM corrections WHERE field = 'sentiment'),
ci AS (SELECT mention_id, value FROM corrections WHERE field = 'intent')
SELECT
    m.mention_id,
    coalesce(cs.value, s.sentiment) AS sentiment,
    s.p_neg, s.p_neu, s.p_pos,
    CASE WHEN cs.value IS NOT NULL THEN FALSE ELSE s.unsure END AS unsure,
    coalesce(ci.value, s.intent) AS intent,
    s.intent_probs_json,
    s.model, s.model_version, s.scored_at,
    (cs.value IS NOT NULL OR ci.value IS NOT NULL) AS corrected
FROM mentions m
LEFT JOIN s ON s.mention_id = m.mention_id AND s.context_hash = m.context_hash
LEFT JOIN cs ON cs.mention_id = m.mention_id
LEFT JOIN ci ON ci.mention_id = m.mention_id
"""

# Escalation audit rows carry the owner and item version after the change, so replaying the events rebuilds
# state and owner exactly; author_brands holds per-brand advocate stats (authors keeps the per-author summary).
ESCALATE_QUEUE = """
ALTER TABLE escalation_events ADD COLUMN owner VARCHAR;
ALTER TABLE escalation_events ADD COLUMN version INTEGER;
CREATE TABLE author_brands (
    author_key VARCHAR NOT NULL,
    brand_id VARCHAR NOT NULL,
    posts INTEGER,
    pos INTEGER,
    neg INTEGER,
    defenses INTEGER,                       -- positive posts replying to / following a complaint in the thread
    advocate_score DOUBLE,
    explanation VARCHAR,
    updated_at TIMESTAMPTZ,
    PRIMARY KEY (author_key, brand_id)
);
"""

# Ingest: the author key documents share with `authors`, and the dedup index (exact key as band -1, MinHash
# LSH band buckets 0..15) so copies are found against everything ingested before.
INGEST_DEDUP = """
ALTER TABLE documents ADD COLUMN author_key VARCHAR;
CREATE TABLE doc_lsh (
    band SMALLINT NOT NULL,
    bucket UBIGINT NOT NULL,
    doc_id VARCHAR NOT NULL
);
"""

# Crawler incremental state: a row is either a fetched page (ETag/Last-Modified/body hash) or a thread
# (last post id, page count, its last page URL, content_hash = the thread's listing row when last complete).
CRAWL_STATE_THREADS = """
ALTER TABLE crawl_state ADD COLUMN kind VARCHAR DEFAULT 'page';
ALTER TABLE crawl_state ADD COLUMN last_page_url VARCHAR;
"""

# One narrow row per mention with what the dashboard filters and counts by (brand, source, time, countable,
# current scores), kept in step by pipeline.facts at every write that changes them. Filtering 1M rows of it is
# a single column scan; the live joins through `current_scores` cost 0.5-2 s per query at that size.
FACTS_SELECT = """
SELECT m.mention_id, m.doc_id, m.brand_id, d.source_id,
       d.posted_at, CAST(timezone('UTC', d.posted_at) AS DATE) AS day,
       (NOT coalesce(d.spam, FALSE) AND (d.dup_of IS NULL OR d.dup_of = d.doc_id)
        AND NOT coalesce(d.is_official_answer, FALSE)) AS countable,
       cs.sentiment, cs.intent, cs.p_neg, cs.unsure, cs.corrected, cs.model, cs.model_version,
       lower(m.context || chr(10) || coalesce(d.thread_title, '')) AS search_text
FROM mentions m JOIN documents d USING (doc_id) LEFT JOIN current_scores cs USING (mention_id)
"""

MENTION_FACTS = f"""
CREATE TABLE mention_facts (
    mention_id VARCHAR NOT NULL,
    doc_id VARCHAR NOT NULL,
    brand_id VARCHAR NOT NULL,
    source_id VARCHAR,
    posted_at TIMESTAMPTZ,                  -- documents.posted_at
    day DATE,                               -- UTC day of posted_at
    countable BOOLEAN,                      -- not spam, not a copy, not the brand's own answer
    sentiment VARCHAR,                      -- as current_scores: active model, corrections win
    intent VARCHAR,
    p_neg DOUBLE,
    unsure BOOLEAN,
    corrected BOOLEAN,
    model VARCHAR,
    model_version VARCHAR,
    search_text VARCHAR                     -- lower(context + thread title): case folded once, not per search
);
INSERT INTO mention_facts {FACTS_SELECT} ORDER BY posted_at;
"""

# The source's own post id and the id a post answers, so a reply in another thread (a Telegram discussion
# comment under a channel post) finds its parent by (source, post id) when the thread-scoped doc id misses.
DOCUMENT_POST_IDS = """
ALTER TABLE documents ADD COLUMN post_id VARCHAR;
ALTER TABLE documents ADD COLUMN reply_to VARCHAR;
"""

# Notification outbox: one row per (channel, event), so a re-run never sends twice; `sending` is written before the
# message leaves and `sent` after, so a run killed in between is seen and resent with the same idempotency key.
NOTIFICATIONS = """
CREATE TABLE notifications (
    notification_id VARCHAR PRIMARY KEY,    -- hash(channel, event_key): the receivers' idempotency key too
    channel VARCHAR NOT NULL,
    event_key VARCHAR NOT NULL,             -- escalation:<id>:<level> | alert:<id> | digest:<brand>:<period end>
    event_kind VARCHAR NOT NULL,            -- escalation | alert kind | digest
    brand_id VARCHAR,
    level VARCHAR,
    ref_id VARCHAR,                         -- escalation_id / alert_id: checked before a late delivery
    message_json VARCHAR NOT NULL,          -- the rendered message, formatted per channel at send time
    state VARCHAR NOT NULL,                 -- pending | sending | sent | failed | dead | skipped
    attempts INTEGER DEFAULT 0,
    last_error VARCHAR,
    next_attempt_at TIMESTAMPTZ,            -- retry backoff, or the end of quiet hours
    created_at TIMESTAMPTZ,
    last_attempt_at TIMESTAMPTZ,
    sent_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ
);
"""

# Mentions a reply inherits from its thread (pipeline/thread_context.py): where the brand came from,
# 'thread_title' or 'opening_post'; NULL for a mention from the post's own words or its source's `about`.
MENTION_VIA = """
ALTER TABLE mentions ADD COLUMN via VARCHAR;
"""

MIGRATIONS: list[Migration] = [
    Migration("0001_initial", INITIAL),
    Migration("0002_models_current_scores", CURRENT_SCORES),
    Migration("0003_escalate_queue_audit", ESCALATE_QUEUE),
    Migration("0004_ingest_dedup", INGEST_DEDUP),
    Migration("0005_crawl_state_threads", CRAWL_STATE_THREADS),
    Migration("0006_mention_facts", MENTION_FACTS),
    Migration("0007_documents_post_ids", DOCUMENT_POST_IDS),
    Migration("0008_notifications", NOTIFICATIONS),
    Migration("0009_mention_via", MENTION_VIA),
]

# Tables reported by `brandmon db status`, in data-flow order.
TABLES = [
    "sources",
    "crawl_runs",
    "crawl_state",
    "documents",
    "doc_lsh",
    "brands",
    "mentions",
    "mention_facts",
    "models",
    "scores",
    "themes",
    "theme_members",
    "escalations",
    "escalation_events",
    "corrections",
    "alerts",
    "authors",
    "author_brands",
    "flow_runs",
    "notifications",
]
