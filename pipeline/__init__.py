"""brandmon pipeline: settings, store, ingest, brand matching, escalation, KPIs, alerts, CLI."""
