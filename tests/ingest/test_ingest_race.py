"""New documents go in by plain INSERT; when another writer stores them between the batch's read and its write
transaction, the batch is read and written again instead of failing (real DuckDB file, two ingests racing)."""

from __future__ import annotations

from contextlib import contextmanager

from pipeline.ingest import ingest_pending
from pipeline.store import Store


class _RacedStore(Store):
    """A store where, right after the batch's read of what is stored, another writer ingests `run_id`."""

    def __init__(self, path, settings, run_id):
        super().__init__(path)
        self.settings, self.run_id, self.raced, self.reads = settings, run_id, 0, 0

    @contextmanager
    def read(self):
        with super().read() as con:
            yield con
        self.reads += 1
        if self.reads == 2:  # 1: the run list (runs_to_ingest), 2: the batch's stored documents
            self.raced = 1
            ingest_pending(self.settings, Store(self.path), run_id=self.run_id)


def _snapshot(store):
    return {
        "documents": store.query(
            "SELECT * EXCLUDE (updated_at, ingested_at, raw_path) FROM documents ORDER BY ALL"
        ).to_csv(index=False),
        "mentions": store.query("SELECT * EXCLUDE (updated_at, created_at) FROM mentions ORDER BY ALL").to_csv(
            index=False
        ),
    } | {
        "authors": store.query("SELECT author_key, posts FROM authors ORDER BY ALL").to_csv(index=False),
        "doc_lsh": store.query("SELECT * FROM doc_lsh ORDER BY ALL").to_csv(index=False),
    }


def test_batch_raced_by_another_writer_is_redone_with_upserts(settings, store, make_post, make_run, tmp_path):
    texts = [
        "Посылкин потерял мою посылку, поддержка молчит уже неделю, верните деньги за доставку",
        "ШопОк вернул деньги за два дня, спасибо",
        "Мобилайн опять поднял цены на тариф",
        "Посылкин потерял мою посылку, поддержка молчит уже неделю, верните деньги за доставку!",
    ]
    items = [make_post(i, t, author=f"u{i}") for i, t in enumerate(texts)]
    make_run(settings, "run-1", items)

    # the reference: one plain ingest into its own database
    ref_settings = settings.model_copy(update={"db_path": tmp_path / "ref.duckdb"})
    ref = Store.from_settings(ref_settings)
    ref.upgrade()
    ingest_pending(ref_settings, ref, run_id="run-1")

    raced = _RacedStore(settings.db_path, settings, "run-1")
    r = ingest_pending(settings, raced, run_id="run-1")
    assert raced.raced == 1
    # the batch lost the race, read again and found every document stored already; it did not fail
    assert r["documents_unchanged"] == 4 and r.get("documents_new", 0) == 0 and r.get("mentions", 0) == 0
    assert _snapshot(store) == _snapshot(ref)
