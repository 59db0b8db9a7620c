"""Alerts routed by incident key: one owner groups them as a replay would, however they came."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from respond.incident import alert_facts
from respond.incidents import IncidentTracker
from respond.routing import (
    MarkBook,
    SourceMark,
    fact_records,
    incident_partition,
    mark_record,
    read_record,
)
from tests.test_respond.factories import alerts_frame, at
from tests.test_respond.test_incidents_event_time import final

EPOCH_US = 0


def tracker() -> IncidentTracker:
    return IncidentTracker(
        window=timedelta(minutes=30), retention=timedelta(minutes=10), escalate_count=4
    )


def micros(minute: float) -> int:
    return int(at(minute).timestamp() * 1_000_000)


def test_a_partition_waits_for_every_source_then_for_the_slowest_active_one() -> None:
    book = MarkBook()
    book.note(SourceMark(0, 3, micros(10), micros(12), idle=False))
    book.note(SourceMark(2, 3, micros(30), micros(31), idle=False))
    assert book.release_mark() is None  # source 1 has said nothing yet
    book.note(SourceMark(1, 3, None, None, idle=False))
    assert book.release_mark() is None  # source 1 knows no event time yet
    book.note(SourceMark(1, 3, micros(20), micros(25), idle=False))
    assert book.release_mark() == at(10)
    book.note(SourceMark(0, 3, micros(12), micros(12), idle=True))
    assert book.release_mark() == at(20)
    book.note(SourceMark(1, 3, micros(26), micros(25), idle=True))
    book.note(SourceMark(2, 3, micros(32), micros(31), idle=True))
    assert book.release_mark() == at(31) + timedelta(microseconds=1)  # everything seen
    assert MarkBook.from_state(orjson.loads(orjson.dumps(book.state()))) == book


def test_a_record_that_is_neither_facts_nor_mark_is_refused() -> None:
    for value in (
        b"",
        b"[1]",
        b'{"mark": 1}',
        b'{"fact": {"id": "a"}, "source": 0}',
        b'{"facts": {"id": "a"}, "source": 0}',
        b'{"facts": [{"id": "a"}], "source": 0}',
        b'{"facts": [1], "source": 0}',
    ):
        try:
            read_record(value)
        except ValueError as error:
            assert "incident topic" in str(error)
        else:
            raise AssertionError(value)


def test_an_alert_stamped_ahead_of_its_source_is_grouped_without_waiting() -> None:
    owner = tracker()
    owner.watch([0])
    frame = alerts_frame([{"_id": "ahead", "minute": 500, "neakta.partition": "2"}])
    (record,) = fact_records([{**next(alert_facts(frame)), "ahead": True}], 2)
    facts = read_record(record)
    assert isinstance(facts, list)
    (fact,) = facts
    grouped = owner.take([{**fact, "slot": 0}])
    assert grouped["incident.alert_ids"].to_list() == [["ahead"]]
    assert (owner.ahead, owner.held) == (1, 0)


def test_a_batch_of_facts_is_packed_into_records_under_the_limit_and_read_back_in_order() -> None:
    rows = [{"_id": f"a{n:03d}", "minute": n, "neakta.partition": "1"} for n in range(120)]
    facts = list(alert_facts(alerts_frame(rows)))
    one_record = fact_records(facts, 1)
    split = fact_records(facts, 1, limit=2_000)
    assert len(one_record) == 1
    assert len(split) > 5
    assert all(len(record) <= 2_000 for record in split)
    for records in (one_record, split):
        read = [fact for record in records for fact in read_record(record)]  # type: ignore[union-attr]
        assert [(f["id"], f["time"], f["source"]) for f in read] == [
            (f["id"], f["time"], 1) for f in facts
        ]


def test_a_fact_larger_than_the_limit_goes_alone_in_its_record() -> None:
    facts = list(alert_facts(alerts_frame([{"_id": "a", "minute": 1}, {"_id": "b", "minute": 2}])))
    records = fact_records(facts, 0, limit=10)
    assert [[f["id"] for f in read_record(r)] for r in records] == [["a"], ["b"]]  # type: ignore[union-attr]


def test_a_record_of_one_fact_as_earlier_versions_wrote_it_is_still_read() -> None:
    (fact,) = alert_facts(alerts_frame([{"_id": "old", "minute": 3}]))
    state = orjson.loads(fact_records([fact], 4)[0])["facts"][0]
    read = read_record(orjson.dumps({"fact": state, "source": 4}))
    assert isinstance(read, list)
    assert [(f["id"], f["time"], f["key"], f["source"]) for f in read] == [
        ("old", fact["time"], fact["key"], 4)
    ]


ALERT = st.fixed_dictionaries(
    {
        "minute": st.integers(0, 240),
        "host.name": st.sampled_from(["h1", "h2", "h3"]),
        "rule.id": st.sampled_from(["r1", "r2"]),
        "event.severity": st.sampled_from([21, 47, 73, 99]),
        "neakta.partition": st.sampled_from(["0", "1", "2"]),
    }
)
SOURCES = 3


def upstream(rows: list[dict[str, Any]], rng: random.Random, partitions: int) -> list[list[bytes]]:
    """The incident topic as the source slots fill it: facts, then marks, batch by batch.

    Each source slot raises its alerts in batches, in event-time order within the slot as
    its watermark allows; after each batch it sends its mark (the earliest time it has
    still to raise) to every partition, and at its end an idle mark. The slots' records
    interleave at random.
    """
    logs: list[list[bytes]] = [[] for _ in range(partitions)]
    pending = {
        source: sorted(
            (r for r in rows if r["neakta.partition"] == str(source)),
            key=lambda r: r["minute"],
        )
        for source in range(SOURCES)
    }
    latest: dict[int, int | None] = dict.fromkeys(range(SOURCES))
    while any(pending.values()) or latest:
        source = rng.choice(sorted(set(pending) | set(latest)))
        todo = pending.get(source, [])
        size = rng.randint(0, len(todo))
        batch, pending[source] = todo[:size], todo[size:]
        packs: dict[int, list[dict[str, Any]]] = {}
        for fact in alert_facts(alerts_frame(batch)):
            packs.setdefault(incident_partition(fact["key"], partitions), []).append(fact)
        for partition, facts in packs.items():
            # Packed as the route packs them, sometimes split over several records.
            logs[partition].extend(fact_records(facts, source, limit=rng.choice([300, 1 << 18])))
        if batch:
            latest[source] = max(micros(r["minute"]) for r in batch)
        if pending[source]:
            mark = SourceMark(
                source, SOURCES, micros(pending[source][0]["minute"]), latest[source], False
            )
        else:
            mark = SourceMark(source, SOURCES, None, latest.pop(source, None), True)
            pending.pop(source)
        for log in logs:
            log.append(mark_record(mark))
    return logs


@settings(max_examples=80, deadline=None)
@given(
    alerts=st.lists(ALERT, min_size=1, max_size=25),
    partitions=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_routed_alerts_give_the_incidents_of_one_replay(
    alerts: list[dict[str, Any]], partitions: int, seed: int
) -> None:
    rng = random.Random(seed)
    rows = [{"_id": f"a{i:02d}", **alert} for i, alert in enumerate(alerts)]
    # A replay: every alert in event-time order, in one slot.
    replayed = [{k: v for k, v in row.items() if k != "neakta.partition"} for row in rows]
    expected = final([tracker().update(alerts_frame(replayed))])

    logs = upstream(rows, rng, partitions)
    owner = tracker()
    owner.watch(range(partitions))
    books = {partition: MarkBook() for partition in range(partitions)}
    read = dict.fromkeys(range(partitions), 0)
    changes = []
    while any(read[p] < len(logs[p]) for p in read):
        partition = rng.choice([p for p in read if read[p] < len(logs[p])])
        chunk = logs[partition][read[partition] : read[partition] + rng.randint(1, 5)]
        read[partition] += len(chunk)
        if rng.random() < 0.3:
            # Facts sent again by a source slot restarted from its last commit (its marks
            # are sent only after a commit, so they never go back).
            again = [v for v in chunk[: rng.randint(0, len(chunk))] if b'"facts"' in v]
            chunk = chunk + again
        facts: list[dict[str, Any]] = []
        for value in chunk:
            record = read_record(value)
            if isinstance(record, SourceMark):
                books[partition].note(record)
            else:
                facts.extend({**fact, "slot": partition} for fact in record)
        changes.append(owner.take(facts))
        book = books[partition]
        changes.append(owner.release({partition: book.release_mark()}))
        if rng.random() < 0.2:
            # The partition moves to another owner, its state through JSON.
            state = orjson.loads(orjson.dumps(owner.slot_state(partition)))
            owner.forget_slot(partition)
            owner.load_slot(partition, state)
            books[partition] = MarkBook.from_state(orjson.loads(orjson.dumps(book.state())))

    assert owner.held == 0
    assert owner.late == 0
    assert final(changes) == expected
