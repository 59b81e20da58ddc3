"""What may be announced: open queue items that entered the queue recently, and unacknowledged recent alerts.

An escalation's event key carries its level, so an item that climbs from high to critical is announced again at the
new level, and never twice at one level; an alert's key is its alert_id (one per kind, scope and 24 h slot).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pipeline.store import Store

ESCALATIONS_SQL = """
SELECT e.escalation_id, e.brand_id, b.name AS brand_name, e.level, e.priority, e.state, e.reasons_json,
       e.sla_due_at, e.created_at, d.source_id, d.url, d.thread_title, d.author, d.posted_at, m.context
FROM escalations e
JOIN mentions m USING (mention_id)
LEFT JOIN documents d ON d.doc_id = m.doc_id
LEFT JOIN brands b ON b.brand_id = e.brand_id
WHERE e.state IN ('new', 'assigned', 'in_progress') AND e.created_at >= ?
ORDER BY e.priority DESC, e.escalation_id
"""

ALERTS_SQL = """
SELECT a.alert_id, a.kind, a.brand_id, b.name AS brand_name, a.source_id, a.theme_id, a.z, a.explanation,
       a.created_at
FROM alerts a LEFT JOIN brands b ON b.brand_id = a.brand_id
WHERE a.acknowledged_by IS NULL AND a.created_at >= ?
ORDER BY a.created_at, a.alert_id
"""

# still worth delivering late (after quiet hours, on a retry)? An item closed or an alert acknowledged meanwhile is not.
STILL_RELEVANT_SQL = """
SELECT n.notification_id FROM notifications n
WHERE n.notification_id IN (SELECT * FROM unnest(?))
  AND CASE WHEN n.event_kind = 'escalation'
             THEN EXISTS (SELECT 1 FROM escalations e WHERE e.escalation_id = n.ref_id
                          AND e.state IN ('new', 'assigned', 'in_progress'))
           WHEN n.event_kind = 'digest' THEN TRUE
           ELSE EXISTS (SELECT 1 FROM alerts a WHERE a.alert_id = n.ref_id AND a.acknowledged_by IS NULL)
      END
"""


@dataclass(frozen=True)
class Event:
    key: str
    kind: str  # escalation | <alert kind>
    brand_id: str | None
    level: str | None
    ref_id: str
    row: dict[str, Any]


def recent_events(store: Store, now: datetime, lookback_hours: float) -> list[Event]:
    since = now - timedelta(hours=lookback_hours)
    with store.read() as con:
        esc = con.execute(ESCALATIONS_SQL, [since]).df()
        alerts = con.execute(ALERTS_SQL, [since]).df()
    out = [
        Event(
            f"escalation:{r['escalation_id']}:{r['level']}",
            "escalation",
            r["brand_id"],
            r["level"],
            r["escalation_id"],
            r,
        )
        for r in _records(esc)
    ]
    out += [Event(f"alert:{r['alert_id']}", r["kind"], r["brand_id"], None, r["alert_id"], r) for r in _records(alerts)]
    return out


def _records(df) -> list[dict[str, Any]]:
    df = df.astype(object).where(df.notna(), None)
    return df.to_dict("records")


def still_relevant(con: Any, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    return {r[0] for r in con.execute(STILL_RELEVANT_SQL, [ids]).fetchall()}
