"""A realistic synthetic brandmon database for dashboard tests, screenshots and benchmarks.

`make_synthetic_db(path, n_mentions, seed)` fills every table the dashboard reads (sources, crawl runs,
documents, brands, mentions, an active scoring model with scores, themes with members, escalations with
their audit trail, alerts, authors) with Russian forum/review talk about the five demo brands. Everything is
built column-wise with numpy/pandas and inserted as whole frames, so 1M mentions take well under a minute.
`hostile=N` adds N posts whose text, titles, author names and URLs try script/HTML/markdown injection.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import facts
from pipeline.store import Store, stable_id

BRANDS = [
    ("posylkin", "Посылкин", ["Посылкин", "Posylkin"]),
    ("shopok", "ШопОк", ["ШопОк", "Шопок", "ShopOk"]),
    ("lastochka", "Ласточка Банк", ["Ласточка Банк", "Ласточка"]),
    ("mobiline", "Мобилайн", ["Мобилайн", "Mobiline"]),
    ("zerno", "Кофейня Зерно", ["Кофейня Зерно", "Зерно"]),
]

SOURCES = [
    # source_id, kind, name, base_url, engine, expected interval hours, silent (stopped) days ago
    ("forum-mnogo", "forum", "Форум «Много вопросов»", "https://forum.mnogo.example", "phpbb", 6, 0),
    ("otzyvy-pro", "reviews", "Отзывы.про", "https://otzyvy.example", None, 6, 0),
    ("tg-pokupki", "telegram", "Telegram: Покупки и доставка", "https://t.me/s/pokupki_example", None, 6, 0),
    ("news-comments", "comments", "Комментарии к новостям", "https://news.example", None, 6, 0),
    ("vk-gorod", "vk", "VK: Городской паблик", "https://vk.com/gorod_example", None, 6, 4),
    ("rss-tech", "feed", "RSS: Технологии", "https://tech.example/rss", None, 12, 0),
]

# (sentiment, intent, theme key or "", template with {b} for the brand name)
TEMPLATES = [
    ("negative", "complaint", "delay", "Уже третью неделю жду заказ от {b}, трек не обновляется, поддержка молчит."),
    ("negative", "complaint", "delay", "{b} снова сорвали срок доставки, курьер перенёс на завтра уже пятый раз."),
    (
        "negative",
        "complaint",
        "refund",
        "{b} списали деньги дважды, возврат обещают через 30 дней. Это издевательство.",
    ),
    (
        "negative",
        "complaint",
        "refund",
        "Буду писать жалобу в Роспотребнадзор и подавать в суд на {b}: деньги так и не вернули.",
    ),
    ("negative", "failure", "app", "Приложение {b} вылетает при оплате, второй день ничего не могу сделать."),
    ("negative", "failure", "app", "После обновления {b} не приходит код по СМС, войти в личный кабинет невозможно."),
    ("negative", "complaint", "rude", "Оператор {b} нахамил и бросил трубку, больше никогда к ним не обращусь."),
    ("negative", "complaint", "fees", "В {b} опять подняли цены и подключили платную подписку без предупреждения."),
    ("negative", "complaint", "fees", "Откуда в {b} взялась комиссия 199 рублей? В договоре ничего такого не было."),
    ("neutral", "question", "", "Подскажите, у {b} есть доставка в выходные? Не нашёл на сайте."),
    ("neutral", "question", "", "Кто-нибудь знает, как в {b} поменять номер телефона в профиле?"),
    ("neutral", "question", "", "Сколько сейчас стоит обслуживание в {b}, у кого какой тариф?"),
    ("neutral", "other", "", "Видел рекламу {b} в метро, интересно, что у них за акция."),
    ("neutral", "other", "", "В новостях писали, что {b} открывает новый офис в Казани."),
    ("positive", "praise", "", "Спасибо {b}, всё привезли вовремя и курьер был очень вежливый!"),
    ("positive", "praise", "", "Пользуюсь {b} уже два года, ни одной проблемы, всем рекомендую."),
    ("positive", "praise", "", "Поддержка {b} решила мой вопрос за 10 минут, приятно удивлён."),
    ("positive", "other", "", "Зашёл в {b} после работы, атмосфера отличная, обязательно вернусь."),
]
TEMPLATE_WEIGHTS = np.array([6, 4, 5, 2, 4, 3, 3, 3, 2, 5, 4, 3, 4, 3, 5, 4, 3, 3], dtype=float)

THEMES = {
    "delay": ("Задержки доставки", ["задержка", "доставка", "трек", "курьер", "срок"]),
    "refund": ("Возврат денег", ["возврат", "деньги", "списать", "жалоба", "суд"]),
    "app": ("Сбои приложения", ["приложение", "вылетать", "код", "смс", "вход"]),
    "rude": ("Грубость поддержки", ["оператор", "нахамить", "поддержка", "трубка"]),
    "fees": ("Скрытые платежи", ["комиссия", "подписка", "цена", "договор"]),
}

NICKS = [
    "Иван",
    "Мария",
    "kot_begemot",
    "Dimon",
    "Ольга",
    "serg",
    "Наталья",
    "mr.petrov",
    "Алёна",
    "vovan",
    "Татьяна",
    "alex",
    "Марина",
    "pavel_k",
    "Екатерина",
    "student",
    "Анна",
    "nikita",
    "Светлана",
    "den",
]

HOSTILE = [
    '<script>alert("xss-{i}")</script> {b} украли мои деньги',
    '<img src=x onerror="alert({i})"> {b} не отвечает',
    "[нажми сюда](javascript:alert({i})) {b} — жулики",
    '<a href="javascript:alert({i})">жалоба на {b}</a>',
    "**жирный** _курсив_ # Заголовок {b} `код` <b>bold</b> ~~зачёркнуто~~",
    '![картинка](https://evil.example/{i}.png) {b} <iframe src="https://evil.example"></iframe>',
    "<svg onload=alert({i})> {b} :red[цвет] $x^2$ <style>body{{display:none}}</style>",
    '{b} [поддельная ссылка](https://bank.example.evil/{i}) <div onclick="alert({i})">жми</div>',
]
HOSTILE_URLS = [
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "https://ok.example/p/{i}",
    "vbscript:msgbox(1)",
    "//evil.example/x",
    "http://ok.example/t/{i}",
]

SLA_HOURS = {"critical": 2, "high": 8, "medium": 24, "low": 72}


def _insert(con, table: str, df: pd.DataFrame) -> None:
    con.register("__synth_df", df)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM __synth_df")
    finally:
        con.unregister("__synth_df")


def _ids(prefix: str, n: int, start: int = 0) -> np.ndarray:
    return np.char.add(prefix, np.arange(start, start + n).astype(str)).astype(object)


def make_synthetic_db(
    path: str | Path,
    n_mentions: int = 2000,
    seed: int = 0,
    *,
    hostile: int = 0,
    now: datetime | None = None,
    days: int = 30,
) -> dict:
    """Create (or extend) a DuckDB file at `path` with synthetic data; returns row counts per table."""
    rng = np.random.default_rng(seed)
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    now_ts = pd.Timestamp(now)
    store = Store(path)
    store.upgrade()
    n = int(n_mentions)
    counts: dict[str, int] = {}

    # ------------------------------------------------------------------ brands and sources
    brands = pd.DataFrame(
        {
            "brand_id": [b[0] for b in BRANDS],
            "name": [b[1] for b in BRANDS],
            "aliases_json": [json.dumps(b[2], ensure_ascii=False) for b in BRANDS],
            "updated_at": now_ts,
        }
    )
    sources = pd.DataFrame(
        {
            "source_id": [s[0] for s in SOURCES],
            "kind": [s[1] for s in SOURCES],
            "name": [s[2] for s in SOURCES],
            "base_url": [s[3] for s in SOURCES],
            "engine": [s[4] for s in SOURCES],
            "config_json": [json.dumps({"expected_interval_hours": s[5]}) for s in SOURCES],
            "enabled": True,
            "updated_at": now_ts,
        }
    )

    # ------------------------------------------------------------------ crawl runs (every interval, per source)
    runs = []
    for sid, _k, _n, _u, _e, every, silent in SOURCES:
        starts = pd.date_range(end=now_ts - pd.Timedelta(days=silent), periods=days * 24 // every, freq=f"{every}h")
        k = len(starts)
        status = rng.choice(["ok", "ok", "ok", "ok", "ok", "ok", "partial", "failed"], size=k)
        errors = np.where(status == "ok", 0, rng.integers(1, 25, size=k))
        runs.append(
            pd.DataFrame(
                {
                    "run_id": [f"{sid}-{t:%Y%m%dT%H%M}" for t in starts],
                    "source_id": sid,
                    "started_at": starts,
                    "finished_at": starts + pd.to_timedelta(rng.integers(30, 900, size=k), unit="s"),
                    "status": status,
                    "pages": rng.integers(5, 200, size=k),
                    "items": np.where(status == "failed", 0, rng.integers(10, 400, size=k)),
                    "errors": errors,
                    "ingested_at": starts + pd.Timedelta(minutes=20),
                }
            )
        )
    crawl_runs = pd.concat(runs, ignore_index=True)

    # ------------------------------------------------------------------ documents and mentions
    b_idx = rng.choice(len(BRANDS), size=n, p=[0.28, 0.26, 0.18, 0.16, 0.12])
    t_idx = rng.choice(len(TEMPLATES), size=n, p=TEMPLATE_WEIGHTS / TEMPLATE_WEIGHTS.sum())
    s_idx = rng.choice(len(SOURCES), size=n, p=[0.3, 0.2, 0.2, 0.12, 0.1, 0.08])
    # Recent days are busier, and brand 0's "delay" theme grows in the last three days (a visible spike).
    age_h = rng.random(n) ** 1.15 * days * 24  # slightly busier recently
    spike = (b_idx == 0) & (rng.random(n) < 0.25)
    t_idx = np.where(spike, 0, t_idx)
    age_h = np.where(spike, rng.random(n) * 72, age_h)
    silent_days = np.array([s[6] for s in SOURCES])[s_idx]
    age_h = age_h + silent_days * 24
    posted = now_ts - pd.to_timedelta(age_h * 3600, unit="s").round("s")

    brand_names = np.array([b[1] for b in BRANDS], dtype=object)
    tmpl = [t[3].split("{b}") for t in TEMPLATES]
    pre = np.array([p[0] for p in tmpl], dtype=object)[t_idx]
    post = np.array([p[1] for p in tmpl], dtype=object)[t_idx]
    bname = brand_names[b_idx]
    tails = np.array(
        [
            "",
            "",
            " Кто сталкивался?",
            " Уже не первый раз.",
            " Напишите, если у вас так же.",
            " Оценка по пятибалльной шкале — сами понимаете.",
            " Это было вчера в 17:16.",
            " Поделитесь опытом в комментариях.",
            " P.S. писал в чат, ответа нет.",
            " Обновлю пост, если что-то изменится.",
        ],
        dtype=object,
    )
    # a per-post detail (order number, where, when) makes every text distinct, as real posts are; repeated
    # strings would let DuckDB's dictionary compression flatter text-search timings
    where = np.array(
        [
            "в Казани",
            "в Самаре",
            "под Тверью",
            "в пункте выдачи",
            "на Ленина",
            "у метро",
            "в ТЦ",
            "дома",
            "на работе",
            "в области",
        ],
        dtype=object,
    )
    detail = (
        " (заказ "
        + pd.Series(rng.integers(10**6, 10**8, size=n).astype(str))
        + ", "
        + pd.Series(where[rng.integers(0, len(where), size=n)])
        + ", "
        + pd.Series(rng.integers(1, 29, size=n).astype(str))
        + "."
        + pd.Series(rng.integers(1, 13, size=n).astype(str)).str.zfill(2)
        + ")"
    )
    text = (
        pd.Series(pre)
        + pd.Series(bname)
        + pd.Series(post)
        + detail
        + pd.Series(tails[rng.integers(0, len(tails), size=n)])
    )
    span_start = pd.Series(pre).str.len().to_numpy().copy()
    span_end = span_start + pd.Series(bname).str.len().to_numpy()
    sent = np.array([t[0] for t in TEMPLATES], dtype=object)[t_idx].copy()
    intent = np.array([t[1] for t in TEMPLATES], dtype=object)[t_idx]
    theme_key = np.array([t[2] for t in TEMPLATES], dtype=object)[t_idx]

    n_auth = max(50, n // 8)
    a_idx = (rng.zipf(1.6, size=n) - 1) % n_auth  # a few loud authors, a long tail
    nick = np.array(NICKS, dtype=object)[np.arange(n_auth) % len(NICKS)]
    author_names = (pd.Series(nick) + "_" + pd.Series(np.arange(n_auth).astype(str))).to_numpy(dtype=object)
    author = author_names[a_idx]
    src_ids = np.array([s[0] for s in SOURCES], dtype=object)
    src_url = np.array([s[3] for s in SOURCES], dtype=object)
    doc_id = _ids("d", n)
    thread_no = rng.integers(1, max(2, n // 20), size=n)
    thread_url = pd.Series(src_url[s_idx]) + "/t/" + pd.Series(thread_no.astype(str))
    url = thread_url + "#p" + pd.Series(np.arange(n).astype(str))
    titles = np.array(
        [
            "Проблемы с доставкой",
            "Отзывы о сервисе",
            "Вопрос по тарифам",
            "Обсуждение новостей",
            "Помогите разобраться",
            "Кто чем пользуется?",
        ],
        dtype=object,
    )
    thread_title = pd.Series(bname) + ": " + pd.Series(titles[thread_no % len(titles)])
    reach = rng.integers(10, 5000, size=n)

    if hostile:
        h = min(hostile, n)
        hi = rng.choice(n, size=h, replace=False)
        hostile_text = [HOSTILE[k % len(HOSTILE)].format(i=k, b=bname[j]) for k, j in enumerate(hi)]
        text = text.copy()
        text.iloc[hi] = hostile_text
        ss = np.array([t.find(bname[j]) for t, j in zip(hostile_text, hi)])
        span_start[hi] = ss
        span_end[hi] = ss + np.array([len(bname[j]) for j in hi])
        url = url.copy()
        url.iloc[hi] = [HOSTILE_URLS[k % len(HOSTILE_URLS)].format(i=k) for k in range(h)]
        thread_title = thread_title.copy()
        thread_title.iloc[hi] = [f"<script>alert('title{k}')</script> **{bname[j]}**" for k, j in enumerate(hi)]
        author = author.copy()
        author[hi] = [f"<img src=x onerror=alert({k})>" for k in range(h)]
        sent[hi] = "negative"
        intent[hi] = "complaint"

    documents = pd.DataFrame(
        {
            "doc_id": doc_id,
            "source_id": src_ids[s_idx],
            "url": url.to_numpy(),
            "thread_url": thread_url.to_numpy(),
            "thread_title": thread_title.to_numpy(),
            "author": author,
            "posted_at": posted,
            "fetched_at": posted + pd.Timedelta(minutes=30),
            "text": text.to_numpy(),
            "text_hash": doc_id,
            "lang": "ru",
            "reach": reach,
            "likes": rng.integers(0, 120, size=n),
            "replies": rng.integers(0, 40, size=n),
            "ingested_at": posted + pd.Timedelta(minutes=40),
        }
    )
    mention_id = _ids("m", n)
    mentions = pd.DataFrame(
        {
            "mention_id": mention_id,
            "doc_id": doc_id,
            "brand_id": np.array([b[0] for b in BRANDS], dtype=object)[b_idx],
            "span_start": span_start,
            "span_end": span_end,
            "matched": bname,
            "context": text.to_numpy(),
            "context_hash": doc_id,
            "created_at": posted + pd.Timedelta(minutes=40),
        }
    )

    # ------------------------------------------------------------------ model and scores
    model, version = "brandmon-score", "synthetic-v1"
    models = pd.DataFrame(
        {
            "model": [model],
            "model_version": [version],
            "task": ["score"],
            "active": [True],
            "metrics_json": ['{"macro_f1": 0.71}'],
            "created_at": [now_ts],
        }
    )
    conf = rng.beta(6, 2, size=n)
    rest = (1 - conf) * rng.random(n)
    other = 1 - conf - rest
    p = np.zeros((n, 3))
    col = pd.Series(sent).map({"negative": 0, "neutral": 1, "positive": 2}).to_numpy()
    p[np.arange(n), col] = conf
    p[np.arange(n), (col + 1) % 3] = rest
    p[np.arange(n), (col + 2) % 3] = other
    ip = np.round(0.5 + 0.5 * rng.random(n), 3)
    intent_probs = ('{"' + pd.Series(intent) + '": ' + pd.Series(ip.astype(str)) + "}").to_numpy()
    scores = pd.DataFrame(
        {
            "mention_id": mention_id,
            "model": model,
            "model_version": version,
            "context_hash": doc_id,
            "sentiment": sent,
            "p_neg": p[:, 0],
            "p_neu": p[:, 1],
            "p_pos": p[:, 2],
            "unsure": conf < 0.55,
            "intent": intent,
            "intent_probs_json": intent_probs,
            "scored_at": posted + pd.Timedelta(hours=1),
        }
    )

    # ------------------------------------------------------------------ themes
    brand_ids = np.array([b[0] for b in BRANDS], dtype=object)
    has_theme = theme_key != ""
    tm = pd.DataFrame(
        {
            "brand_id": brand_ids[b_idx][has_theme],
            "key": theme_key[has_theme],
            "mention_id": mention_id[has_theme],
            "posted_at": posted[has_theme],
        }
    )
    tm["theme_id"] = "th-" + tm["brand_id"] + "-" + tm["key"]
    theme_members = pd.DataFrame(
        {"theme_id": tm["theme_id"], "mention_id": tm["mention_id"], "distance": np.round(rng.random(len(tm)) * 0.4, 3)}
    )
    recent = tm["posted_at"] >= now_ts - pd.Timedelta(days=7)
    agg = (
        tm.assign(recent=recent)
        .groupby(["theme_id", "brand_id", "key"], as_index=False)
        .agg(
            size=("mention_id", "size"),
            recent=("recent", "sum"),
            first_seen=("posted_at", "min"),
            last_seen=("posted_at", "max"),
        )
    )
    agg["prev_size"] = (agg["size"] - agg["recent"]).astype(int)
    weekly_before = agg["prev_size"] / max(1.0, (days - 7) / 7)
    growth = agg["recent"] / weekly_before.clip(lower=1)
    agg["status"] = np.where(agg["prev_size"] == 0, "new", np.where(growth > 1.5, "growing", "stable"))
    agg.loc[agg.index[-1], "status"] = "new"  # always show one fresh theme
    agg["label"] = agg["key"].map(lambda k: THEMES[k][0])
    agg["keywords_json"] = agg["key"].map(lambda k: json.dumps(THEMES[k][1], ensure_ascii=False))
    themes = agg[
        ["theme_id", "brand_id", "label", "keywords_json", "first_seen", "last_seen", "size", "prev_size", "status"]
    ].assign(updated_at=now_ts)

    # ------------------------------------------------------------------ escalations and their events
    neg = np.flatnonzero((sent == "negative") & np.isin(intent, ["complaint", "failure"]))
    n_esc = min(len(neg), max(20, n // 25))
    e_idx = np.sort(rng.choice(neg, size=n_esc, replace=False)) if n_esc else np.array([], dtype=int)
    prio = np.round(0.45 + 0.55 * rng.beta(2, 3, size=n_esc), 3)
    level = np.select([prio >= 0.85, prio >= 0.7, prio >= 0.55], ["critical", "high", "medium"], "low")
    created = posted[e_idx] + pd.Timedelta(hours=1)
    sla = pd.Series(level).map(SLA_HOURS).to_numpy()
    state = rng.choice(
        ["new", "assigned", "in_progress", "resolved", "dismissed"], size=n_esc, p=[0.35, 0.2, 0.15, 0.2, 0.1]
    )
    owners = np.array(["Анна (поддержка)", "Игорь (SMM)", "Ольга (юристы)"], dtype=object)
    owner = owners[rng.integers(0, 3, size=n_esc)]  # fancy indexing: a new array, `owners` stays as it is
    owner[state == "new"] = None
    responded = (state != "new") & (rng.random(n_esc) < 0.8)
    resp_at = created + pd.to_timedelta(rng.exponential(6 * 3600, size=n_esc), unit="s").round("s")
    weights = {
        "negativity": 0.35,
        "complaint": 0.20,
        "failure": 0.10,
        "threat": 0.20,
        "reach": 0.10,
        "velocity": 0.05,
        "recency": 0.10,
    }
    fvals = rng.random((n_esc, len(weights))).round(3)
    threat = rng.random(n_esc) < 0.15
    reasons = [
        json.dumps(
            {
                "priority": float(prio[i]),
                "factors": {
                    k: {"value": float(fvals[i, j]), "weight": w, "contribution": round(float(fvals[i, j]) * w, 4)}
                    for j, (k, w) in enumerate(weights.items())
                },
                "threat_terms": [{"found": "суд", "category": "legal"}] if threat[i] else [],
                "sentiment": "negative",
                "intent": str(intent[e_idx[i]]),
            },
            ensure_ascii=False,
        )
        for i in range(n_esc)
    ]
    esc_id = np.array([stable_id(m) for m in mention_id[e_idx]], dtype=object)
    closed = np.isin(state, ["resolved", "dismissed"])
    escalations = pd.DataFrame(
        {
            "escalation_id": esc_id,
            "mention_id": mention_id[e_idx],
            "brand_id": brand_ids[b_idx][e_idx],
            "priority": prio,
            "level": level,
            "reasons_json": reasons,
            "state": state,
            "owner": owner,
            "sla_due_at": created + pd.to_timedelta(sla, unit="h"),
            "first_response_at": pd.Series(resp_at).where(responded),
            "resolved_at": pd.Series(resp_at + pd.Timedelta(hours=2)).where(closed),
            "version": np.where(state == "new", 1, 2),
            "created_at": created,
            "updated_at": created,
        }
    )
    ev_new = pd.DataFrame(
        {
            "event_id": "ev-" + pd.Series(esc_id) + "-0",
            "escalation_id": esc_id,
            "event_at": created,
            "actor": "system",
            "action": "create",
            "from_state": None,
            "to_state": "new",
            "comment": None,
            "owner": None,
            "version": 1,
        }
    )
    moved = state != "new"
    ev_move = pd.DataFrame(
        {
            "event_id": "ev-" + pd.Series(esc_id[moved]) + "-1",
            "escalation_id": esc_id[moved],
            "event_at": pd.Series(resp_at[moved]),
            "actor": owner[moved],
            "action": "transition",
            "from_state": "new",
            "to_state": state[moved],
            "comment": "Взято в работу",
            "owner": owner[moved],
            "version": 2,
        }
    )
    events = pd.concat([ev_new, ev_move], ignore_index=True)

    # ------------------------------------------------------------------ alerts
    kinds = ["volume_spike", "negativity_spike", "new_theme", "growing_theme"]
    k_alerts = 12
    a_brand = brand_ids[np.arange(k_alerts) % len(BRANDS)]
    a_kind = np.array(kinds, dtype=object)[np.arange(k_alerts) % 4]
    obs = rng.integers(20, 80, size=k_alerts).astype(float)
    exp = rng.integers(3, 10, size=k_alerts).astype(float)
    alerts = pd.DataFrame(
        {
            "alert_id": _ids("al", k_alerts),
            "kind": a_kind,
            "brand_id": a_brand,
            "theme_id": [f"th-{b}-delay" for b in a_brand],
            "window_start": [now_ts - pd.Timedelta(hours=24 + 24 * i) for i in range(k_alerts)],
            "window_end": [now_ts - pd.Timedelta(hours=24 * i) for i in range(k_alerts)],
            "observed": obs,
            "expected": exp,
            "z": np.round((obs - exp) / np.sqrt(exp), 1),
            "explanation": [
                f"{k}: {int(o)} упоминаний за 24 ч при норме {int(e)}±{int(np.sqrt(e))} в день за 14 дней"
                for k, o, e in zip(a_kind, obs, exp)
            ],
            "created_at": [now_ts - pd.Timedelta(hours=2 + 24 * i) for i in range(k_alerts)],
            "source_id": [src_ids[i % len(SOURCES)] for i in range(k_alerts)],
            "acknowledged_by": [None if i < 6 else "Анна (поддержка)" for i in range(k_alerts)],
            "acknowledged_at": [pd.NaT if i < 6 else now_ts - pd.Timedelta(hours=1) for i in range(k_alerts)],
        }
    )

    if hostile:
        alerts["explanation"] = [
            HOSTILE[i % len(HOSTILE)].format(i=i, b=brand_names[i % len(BRANDS)]) for i in range(k_alerts)
        ]

    # ------------------------------------------------------------------ authors (aggregated from documents)
    ad = pd.DataFrame(
        {
            "name": author,
            "source_id": src_ids[s_idx],
            "neg": sent == "negative",
            "pos": sent == "positive",
            "reach": reach,
            "url": thread_url.to_numpy(),
        }
    )
    authors = ad.groupby(["source_id", "name"], as_index=False).agg(
        posts=("neg", "size"), neg=("neg", "sum"), pos=("pos", "sum"), reach=("reach", "sum"), url=("url", "first")
    )
    authors["author_key"] = "a-" + authors["source_id"] + "-" + authors.index.astype(str)
    authors["advocate_score"] = np.round((authors["pos"] - authors["neg"]).clip(lower=0) / np.sqrt(authors["posts"]), 3)
    authors["influence_score"] = np.round(np.log1p(authors["reach"]) * np.log1p(authors["posts"]) / 10, 3)
    authors["explanation"] = (
        "позитивных "
        + authors["pos"].astype(str)
        + " из "
        + authors["posts"].astype(str)
        + " постов, охват "
        + authors["reach"].astype(str)
    )
    authors = authors.drop(columns=["reach"]).assign(updated_at=now_ts)

    tables = [
        ("brands", brands),
        ("sources", sources),
        ("crawl_runs", crawl_runs),
        ("documents", documents),
        ("mentions", mentions),
        ("models", models),
        ("scores", scores),
        ("themes", themes),
        ("theme_members", theme_members),
        ("escalations", escalations),
        ("escalation_events", events),
        ("alerts", alerts),
        ("authors", authors),
    ]
    with store.write() as con:
        for name, df in tables:
            _insert(con, name, df)
            counts[name] = len(df)
        counts["mention_facts"] = facts.refresh(con)
    return counts


if __name__ == "__main__":  # python -m demo.synthetic out.duckdb 100000
    import sys

    print(make_synthetic_db(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 2000))
