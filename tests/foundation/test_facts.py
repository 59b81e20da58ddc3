"""mention_facts refresh: the ids callers pass come as lists, sets or pandas columns."""

import pandas as pd
import pytest

from pipeline import facts


@pytest.mark.parametrize("ids", [["m1", "m2"], pd.Series(["m1", "m2"]), ("m1",), pd.Series([], dtype=object)])
def test_refresh_takes_any_iterable_of_ids(store, ids):
    # scoring passes a DataFrame column: a Series has no truth value, so `ids or ()` raised
    with store.write() as con:
        assert facts.refresh(con, mention_ids=ids) == 0
        assert facts.refresh(con, doc_ids=ids) == 0
