"""The raw layer keeps personal data only when `crawl.keep_original_text` says so."""

from __future__ import annotations

from datetime import UTC

import pytest

from crawlers.run import crawl_sources
from demo.web.corpus import add_post
from pipeline.store import Store

from ..helpers import NOW, read_items
from .conftest import crawl_settings

PII = "Пишите на anna.k@example.ru или звоните +7 (912) 345-67-89, карта 4276 3800 1234 5679, стоила 1 490 ₽"


@pytest.mark.parametrize("keep", [False, True])
def test_raw_layer_masks_pii_unless_told_to_keep_it(tmp_path, demo, demo_dir, keep):
    pid = add_post(demo_dir, "xf", 101, "Анна", PII, minutes_ago=5)
    s = crawl_settings(tmp_path, demo.url, keep_original_text=keep)
    store = Store.from_settings(s)
    store.upgrade()
    run = crawl_sources(s, store, ["demo-xf"], now=NOW)["sources"]["demo-xf"]
    text = next(i["text"] for i in read_items(run["raw_path"]) if i["post_id"] == pid)
    if keep:
        assert text == PII
    else:
        assert "anna.k@example.ru" not in text and "345-67-89" not in text and "4276 3800" not in text
        assert "[EMAIL]" in text and "[PHONE]" in text and "[CARD]" in text
        assert "1 490 ₽" in text  # prices are not personal data


def test_writer_masks_quotes_in_the_line_not_in_the_item(tmp_path):
    from scrapy.utils.test import get_crawler

    from crawlers.items import PostItem
    from crawlers.pipelines import RawWriterPipeline

    crawler = get_crawler(
        settings_dict={"BRANDMON_RUN_DIR": str(tmp_path / "run"), "BRANDMON_KEEP_ORIGINAL_TEXT": False}
    )
    writer = RawWriterPipeline.from_crawler(crawler)
    writer.spider_opened(None)
    quote = {"author": "Анна", "post_id": "1", "text": "мой номер +7 (912) 345-67-89"}
    item = PostItem(source="s", kind="forum", post_id="2", url="http://a.test/t#2", text="ответ", quoted=[quote])
    writer.process_item(item)
    writer.close_file()
    line = read_items(tmp_path / "run")[0]
    assert "[PHONE]" in line["quoted"][0]["text"] and "345-67-89" not in line["quoted"][0]["text"]
    assert item.quoted[0]["text"] == "мой номер +7 (912) 345-67-89"  # the item itself is left as parsed
    assert line == {**item.to_dict(), "quoted": line["quoted"]}  # every field written, nothing else changed


def test_sources_are_dealt_over_processes():
    from crawlers.run import split_jobs

    jobs = [{"n": i} for i in range(5)]
    assert split_jobs(jobs, 2) == [[jobs[0], jobs[2], jobs[4]], [jobs[1], jobs[3]]]
    assert split_jobs(jobs[:1], 4) == [[jobs[0]]]  # never an empty process
    assert split_jobs(jobs, 0) == [jobs]
    # weighted: heaviest first to the least loaded process (110 vs 105 pages; round-robin would give 115 vs 100)
    assert split_jobs(jobs, 2, [100, 90, 10, 10, 5]) == [[jobs[0], jobs[3]], [jobs[1], jobs[2], jobs[4]]]
    assert split_jobs(jobs, 2, [1.0] * 5) == split_jobs(jobs, 2)  # equal weights: round-robin


def test_job_weights_come_from_each_sources_last_finished_run(store, tmp_path):
    """A source weighs what its latest finished run cost the crawler: pages at Scrapy's per-page cost plus the
    run's parse time (meta.json), so equal page counts with slower parsing weigh more."""
    import json
    from datetime import datetime, timedelta
    from types import SimpleNamespace

    from crawlers.run import SCRAPY_SECONDS_PER_PAGE as S
    from crawlers.run import job_weights

    t = datetime(2026, 11, 1, tzinfo=UTC)
    parse = {"r2": 2.0, "r5": 0.2, "r6": 0.5}  # big parses at 5 ms a page, mid at 2 ms, slow (pages as mid) 5 ms
    with store.write() as con:
        for run, src, hours, fin, pages in [
            ("r1", "big", 0, True, 40),
            ("r2", "big", 5, True, 400),
            ("r3", "big", 9, False, 3),
            ("r4", "small", 1, True, 0),
            ("r5", "mid", 2, True, 100),
            ("r6", "slow", 3, True, 100),
            ("r7", "gone", 4, True, 100),
        ]:
            raw = tmp_path / run
            raw.mkdir()
            if run in parse:
                (raw / "meta.json").write_text(json.dumps({"pages": pages, "parse_seconds": parse[run]}))
            con.execute(
                "INSERT INTO crawl_runs (run_id, source_id, started_at, finished_at, status, pages, raw_path) "
                "VALUES (?, ?, ?, ?, 'ok', ?, ?)",
                [
                    run,
                    src,
                    t + timedelta(hours=hours),
                    t + timedelta(hours=hours, minutes=9) if fin else None,
                    pages,
                    str(raw),
                ],
            )
    jobs = [{"source": SimpleNamespace(name=n)} for n in ("big", "small", "mid", "slow", "gone", "new")]
    w = job_weights(store, jobs)
    # big: its latest finished run (the unfinished one does not count); small: 0 pages -> one page's cost;
    # gone (no meta.json): its pages at the median parse rate (5 ms); new: the mean of the known ones
    known = [400 * S + 2.0, S, 100 * S + 0.2, 100 * S + 0.5, 100 * S + 100 * 0.005]
    assert w[:5] == pytest.approx(known)
    assert w[5] == pytest.approx((known[0] + 0 + known[2] + known[3] + known[4]) / 5)  # small's run cost 0
    assert w[3] > w[2]  # same pages, slower parsing


def test_a_runs_item_count_comes_from_its_files_when_an_attempt_left_no_summary(tmp_path):
    """Each attempt that finished reports the posts it wrote, and those add up; an attempt killed hard reports
    nothing, yet may have written lines: then the run's files are counted."""
    import gzip
    import json

    from crawlers.run import _outcome

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with gzip.open(run_dir / "items-000.jsonl.gz", "wt", encoding="utf-8") as f:
        for n in range(5):
            f.write(json.dumps({"post_id": str(n), "text": "t"}) + "\n")
    session = {"pages": 2, "errors": 0, "items": 3, "finish_reason": "shutdown", "error_kinds": {}}
    (run_dir / "session-000.json").write_text(json.dumps(session))
    for n in range(2):  # the second attempt (a resume) was killed before its summary
        (run_dir / f"job-{n:03d}.json").write_text("{}")
    job = {"run_dir": run_dir, "sessions_before": 1}
    assert _outcome(job, -9)["items"] == 5
    (run_dir / "session-001.json").write_text(json.dumps({**session, "items": 2, "finish_reason": "finished"}))
    assert _outcome(job, 0)["items"] == 5 and _outcome(job, 0)["status"] == "ok"
