"""`brandmon report` from the command line, the PDF, and the scheduled digest sent through the channels once."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from brandmon.cli import app
from pipeline.report.write import digest_stage

from .conftest import NOW

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "notify"))
runner = CliRunner()


def test_report_command_writes_the_file_and_says_what_is_wrong(demo_store, tmp_path):
    settings, store = demo_store
    base = ["--db", str(store.path), "--data-dir", str(tmp_path / "data"), "report"]
    r = runner.invoke(
        app,
        base + ["--brand", "zerno", "--period", "2w", "--until", "2026-03-10T12:00", "--out", str(tmp_path / "z.html")],
    )
    assert r.exit_code == 0, r.output
    mentions = store.query(
        "SELECT count(*) FROM mention_facts WHERE brand_id = 'zerno' AND countable AND posted_at "
        ">= TIMESTAMPTZ '2026-02-24 12:00+00' AND posted_at < TIMESTAMPTZ '2026-03-10 12:00+00'"
    ).iloc[0, 0]
    assert mentions > 20
    assert f"Кофейня Зерно, {mentions:,} mentions" in r.output
    assert "Кофейня Зерно — brand digest" in (tmp_path / "z.html").read_text(encoding="utf-8")
    r = runner.invoke(app, base + ["--brand", "nope"])
    assert r.exit_code == 2 and "unknown brand 'nope'; known: lastochka, mobiline, posylkin, shopok, zerno" in r.output
    r = runner.invoke(app, base + ["--brand", "zerno", "--period", "week"])
    assert r.exit_code == 2 and "period 'week': expected a number and h, d or w" in r.output
    r = runner.invoke(app, base + ["--brand", "zerno", "--until", "yesterday"])
    assert r.exit_code == 2 and "--until 'yesterday': expected an ISO date or time" in r.output
    r = runner.invoke(app, base + ["--brand", "zerno", "--send", "ops_mail"])
    assert r.exit_code == 2 and "unknown channel(s) ops_mail; defined: none" in r.output


def test_pdf_is_written_offline(demo_store, tmp_path):
    pytest.importorskip("weasyprint", reason="the optional PDF extra (brandmon[pdf]) is not installed")
    from pipeline.report import write_digest
    from pipeline.report.pdf import write_pdf

    settings, store = demo_store
    path, _ = write_digest(settings, store, "posylkin", "7d", out=tmp_path / "d.html", now=NOW)
    pdf = write_pdf(path).read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF") and len(pdf) > 20_000


def test_scheduled_digest_is_sent_once_per_brand_and_period(demo_store, tmp_path):
    from receivers import SmtpReceiver, WebhookReceiver

    from flows.deploy import build_deployments
    from pipeline.config import NotifySettings

    settings, store = demo_store
    smtp, hook = SmtpReceiver(), WebhookReceiver()
    try:
        settings.notify = NotifySettings.model_validate(
            {
                "dashboard_url": "http://dash.example:8501",
                "reports_url": "https://intranet.example/brandmon/reports",
                "channels": {
                    "mail": {
                        "kind": "email",
                        "smtp_host": "127.0.0.1",
                        "smtp_port": smtp.port,
                        "security": "none",
                        "sender": "brandmon@example.org",
                        "to": ["boss@example.org"],
                    },
                    "chat": {"kind": "webhook", "url": hook.url + "/hooks/x"},
                },
                "digest_brands": ["posylkin", "shopok"],
                "digest_channels": ["mail", "chat"],
                "digest_cron": "0 8 * * 1",
            }
        )
        counts = digest_stage(settings, store, now=NOW)
        assert counts == {"digests": 2, "queued": 4, "sent": 4, "failed": 0}
        assert sorted(m["Subject"] for m in smtp.messages) == [
            "[brandmon] 7d digest: Посылкин",
            "[brandmon] 7d digest: ШопОк",
        ]
        mail = next(m for m in smtp.messages if "Посылкин" in m["Subject"])
        files = [(a.get_filename(), a.get_content()) for a in mail.iter_attachments()]
        assert [f for f, _ in files] == ["digest-posylkin-2026-03-10.html"]
        written = (Path(settings.data_dir) / "reports" / "digest-posylkin-2026-03-10.html").read_text(encoding="utf-8")
        assert files[0][1].replace("\r\n", "\n") == written and "Посылкин — brand digest" in written  # MIME text: CRLF
        assert "Mentions: " in mail.get_body(("plain",)).get_content()
        texts = [r["text"] for r in hook.requests]
        assert any("<https://intranet.example/brandmon/reports/digest-shopok-2026-03-10.html|" in t for t in texts)

        again = digest_stage(settings, store, now=NOW + timedelta(minutes=5))  # a re-run the same day: files, no mail
        assert (again["queued"], again["sent"], len(smtp.messages), len(hook.requests)) == (0, 0, 2, 2)

        deps = {d.name: d for d in build_deployments(settings)}
        assert deps["digest"].schedules[0].schedule.cron == "0 8 * * 1" and "notify" not in deps  # no rules
        assert "url" not in deps["digest"].parameters["settings"]["notify"]["channels"]["chat"]  # secrets stay out
    finally:
        smtp.close()
        hook.close()
