"""The event stream's START_SERVICE_TIMEs folded again from the steps whose records changed are the fold of
every step's record anew, or the refold says it cannot tell (then the stream folds them all)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from obcp.api.task_glance import ServiceTimes, fold_service_times, refold_service_times

_times = st.dictionaries(st.sampled_from(["before", "after"]), st.integers(1, 3), max_size=2)
_record = st.dictionaries(st.integers(1, 4), _times, max_size=4)


@settings(max_examples=400, deadline=None)
@given(
    records=st.lists(_record, min_size=1, max_size=8),
    changed=st.lists(st.tuples(st.integers(0, 7), _record), max_size=4),
)
def test_a_refold_is_the_fold_anew(
    records: list[ServiceTimes], changed: list[tuple[int, ServiceTimes]]
) -> None:
    folded = fold_service_times(records)
    after = list(records)
    changes = []
    for index, new in changed:
        i = index % len(after)
        changes.append((after[i], new))
        after[i] = new
    refolded = refold_service_times(folded, changes)
    if refolded is not None:
        assert refolded == fold_service_times(after)
    assert folded == fold_service_times(records)  # the kept fold is not changed in place


def test_records_carried_on_unchanged_need_no_fold() -> None:
    # A rolling restart's steps pass every recorded time on: a step that finishes carries what the fold
    # has, plus at most a time nobody recorded before.
    first: ServiceTimes = {1: {"before": 10}, 2: {"before": 20}}
    folded = fold_service_times([first, first])
    same = refold_service_times(folded, [({}, first)])
    assert same is folded
    grown = refold_service_times(folded, [({}, {1: {"before": 10, "after": 11}, 2: {"before": 20}})])
    assert grown == {1: {"before": 10, "after": 11}, 2: {"before": 20}}
    # A retried step recording another time for a server: only the whole fold tells which wins.
    assert refold_service_times(folded, [({}, {1: {"before": 12}})]) is None
    assert refold_service_times(folded, [(first, {2: {"before": 20}})]) is None  # a record dropped
