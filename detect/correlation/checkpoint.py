"""Checkpoints: Kafka offsets and the correlation state saved together, in one transaction.

A *slot* is what one :class:`~detect.correlation.Correlator` covers: usually a partition
number fed by that partition of every co-partitioned topic (see :mod:`detect.correlation`
for the protocol). A checkpoint is the offsets (next offset to read, per topic and
partition of the slot) and the state snapshot taken right after the batches before those
offsets. The store keeps the last ``keep`` checkpoints per consumer group and slot, so the
one matching Kafka's committed offsets is still there after a crash between saving the
checkpoint and committing the offsets.
"""

from __future__ import annotations

import json
import sqlite3
import struct
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from detect.correlation.errors import CheckpointError

__all__ = [
    "Changelog",
    "ChangelogCheckpointStore",
    "Checkpoint",
    "CheckpointStore",
    "SQLiteCheckpointStore",
    "TopicPartition",
]

TopicPartition = tuple[str, int]

PAGE_SIZE = 16_384
"""Page size of a new SQLite checkpoint file (SQLite's default is 4,096)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoint (
    group_id TEXT NOT NULL,
    slot TEXT NOT NULL,
    seq INTEGER NOT NULL,
    state BLOB NOT NULL,
    PRIMARY KEY (group_id, slot, seq)
);
CREATE TABLE IF NOT EXISTS checkpoint_offset (
    group_id TEXT NOT NULL,
    slot TEXT NOT NULL,
    seq INTEGER NOT NULL,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (group_id, slot, seq, topic, partition)
);
"""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Offsets (next offset to read per topic-partition) and the state saved with them."""

    seq: int
    offsets: dict[TopicPartition, int]
    state: bytes


class CheckpointStore(Protocol):
    """Where checkpoints live (SQLite by default)."""

    def save(
        self, group_id: str, slot: str, offsets: Mapping[TopicPartition, int], state: bytes
    ) -> int:
        """Save offsets and state atomically; return the checkpoint's sequence number."""
        ...

    def restore_point(
        self, group_id: str, slot: str, committed: Mapping[TopicPartition, int | None]
    ) -> Checkpoint | None:
        """The newest checkpoint whose offsets are at or before ``committed``."""
        ...

    def close(self) -> None:
        """Release what the store holds."""
        ...


class SQLiteCheckpointStore:
    """Checkpoints in one SQLite file, its folder created if needed (``":memory:"`` too).

    >>> store = SQLiteCheckpointStore(":memory:")
    >>> store.save("neakta", "0", {("logs.web", 0): 120}, b"state-a")
    1
    >>> store.save("neakta", "0", {("logs.web", 0): 180}, b"state-b")
    2
    >>> store.restore_point("neakta", "0", {("logs.web", 0): 120}).state  # crash before commit
    b'state-a'
    """

    def __init__(self, path: str | Path, *, keep: int = 3) -> None:
        if keep < 2:
            raise ValueError("keep at least 2 checkpoints (a crash may fall between the steps)")
        self.keep = keep
        try:
            if str(path) != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            # check_same_thread off: the pipeline may call from a worker thread (one at a time).
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            # A slot's state is megabytes where it holds thousands of open incidents, all on
            # overflow pages: larger pages write it in fewer pieces. Not larger still: most
            # saves are small, and each writes a few whole pages. A new file only.
            self._db.execute(f"PRAGMA page_size={PAGE_SIZE}")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise CheckpointError(f"cannot open checkpoint store {path}: {error}") from error

    def save(
        self, group_id: str, slot: str, offsets: Mapping[TopicPartition, int], state: bytes
    ) -> int:
        """Save offsets and state in one transaction; older checkpoints beyond ``keep`` go."""
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            (last,) = db.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM checkpoint WHERE group_id = ? AND slot = ?",
                (group_id, slot),
            ).fetchone()
            seq = int(last) + 1
            db.execute(
                "INSERT INTO checkpoint (group_id, slot, seq, state) VALUES (?, ?, ?, ?)",
                (group_id, slot, seq, state),
            )
            db.executemany(
                "INSERT INTO checkpoint_offset VALUES (?, ?, ?, ?, ?, ?)",
                [(group_id, slot, seq, t, p, o) for (t, p), o in offsets.items()],
            )
            for table in ("checkpoint", "checkpoint_offset"):
                db.execute(
                    f"DELETE FROM {table} WHERE group_id = ? AND slot = ? AND seq <= ?",
                    (group_id, slot, seq - self.keep),
                )
            db.execute("COMMIT")
        except sqlite3.Error as error:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise CheckpointError(f"cannot save checkpoint: {error}") from error
        return seq

    def checkpoints(self, group_id: str, slot: str) -> list[Checkpoint]:
        """The kept checkpoints of a slot, newest first."""
        try:
            rows = self._db.execute(
                "SELECT seq, state FROM checkpoint WHERE group_id = ? AND slot = ? "
                "ORDER BY seq DESC",
                (group_id, slot),
            ).fetchall()
            found = []
            for seq, state in rows:
                offsets = self._db.execute(
                    "SELECT topic, partition, next_offset FROM checkpoint_offset "
                    "WHERE group_id = ? AND slot = ? AND seq = ?",
                    (group_id, slot, seq),
                ).fetchall()
                found.append(Checkpoint(seq, {(t, p): o for t, p, o in offsets}, bytes(state)))
        except sqlite3.Error as error:
            raise CheckpointError(f"cannot read checkpoints: {error}") from error
        return found

    def restore_point(
        self, group_id: str, slot: str, committed: Mapping[TopicPartition, int | None]
    ) -> Checkpoint | None:
        """The checkpoint to resume from, given Kafka's committed offsets.

        The newest checkpoint none of whose offsets is ahead of Kafka's (a topic-partition
        Kafka has no offset for counts as ahead). Restore its state and seek the consumer
        to its offsets: equal offsets mean no replay; lower ones replay already-acknowledged
        batches, whose alerts carry the same ids. None: start with an empty state.
        """
        for checkpoint in self.checkpoints(group_id, slot):
            if all(
                (done := committed.get(tp)) is not None and offset <= done
                for tp, offset in checkpoint.offsets.items()
            ):
                return checkpoint
        return None

    def close(self) -> None:
        """Close the database."""
        self._db.close()


class Changelog(Protocol):
    """Keyed values kept by the broker, last value per key (a compacted Kafka topic)."""

    async def write(self, values: Mapping[str, bytes]) -> None:
        """Write the values and wait for the broker's acknowledgement."""
        ...

    async def read(self, keys: Collection[str] | None = None) -> dict[str, bytes]:
        """The last value of each of ``keys`` that has one (None: of every key)."""
        ...


def _encode(checkpoint: Checkpoint) -> bytes:
    offsets = [[t, p, o] for (t, p), o in sorted(checkpoint.offsets.items())]
    header = json.dumps({"seq": checkpoint.seq, "offsets": offsets}).encode()
    return struct.pack(">I", len(header)) + header + checkpoint.state


def _decode(blob: bytes) -> Checkpoint:
    try:
        (size,) = struct.unpack(">I", blob[:4])
        header = json.loads(blob[4 : 4 + size])
        offsets = {(str(t), int(p)): int(o) for t, p, o in header["offsets"]}
        return Checkpoint(int(header["seq"]), offsets, blob[4 + size :])
    except (struct.error, ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"unreadable changelog checkpoint: {error}") from error


class ChangelogCheckpointStore:
    """Checkpoints kept in the broker's changelog, so group members share no disk.

    :meth:`save` keeps the checkpoint and queues it; :meth:`flush` writes what is queued
    and waits for the broker (the pipeline awaits it before committing offsets: sinks ->
    state -> offsets). :meth:`load` reads the changelog back (on assignment). Only the
    last checkpoint of a slot survives compaction, and that is the one to resume from:
    it was written after the sinks acknowledged its batches, so when Kafka's committed
    offsets are behind it (a crash before the commit) the consumer seeks forward to its
    offsets; when they are ahead (a lost write), it seeks back and replays, and the
    replayed alerts carry the ids the sinks already hold.

    >>> import asyncio
    >>> class Memory:
    ...     def __init__(self): self.kept = {}
    ...     async def write(self, values): self.kept.update(values)
    ...     async def read(self, keys=None): return dict(self.kept)
    >>> log = Memory()
    >>> store = ChangelogCheckpointStore(log)
    >>> store.save("g", "0", {("logs.web", 0): 120}, b"state-a")
    1
    >>> asyncio.run(store.flush())
    >>> other = ChangelogCheckpointStore(log)
    >>> asyncio.run(other.load())
    >>> other.restore_point("g", "0", {("logs.web", 0): 100}).state
    b'state-a'
    """

    def __init__(self, changelog: Changelog) -> None:
        self.changelog = changelog
        self._latest: dict[str, Checkpoint] = {}
        self._pending: dict[str, bytes] = {}

    @staticmethod
    def _key(group_id: str, slot: str) -> str:
        return f"{group_id}/{slot}"

    def save(
        self, group_id: str, slot: str, offsets: Mapping[TopicPartition, int], state: bytes
    ) -> int:
        """Keep the checkpoint and queue it for :meth:`flush`; its sequence number."""
        key = self._key(group_id, slot)
        previous = self._latest.get(key)
        checkpoint = Checkpoint(1 if previous is None else previous.seq + 1, dict(offsets), state)
        self._latest[key] = checkpoint
        self._pending[key] = _encode(checkpoint)
        return checkpoint.seq

    async def flush(self) -> None:
        """Write the queued checkpoints and wait until the broker has them."""
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        try:
            await self.changelog.write(pending)
        except BaseException:
            # Not written: written again with the next flush (newer values win).
            self._pending = {**pending, **self._pending}
            raise

    async def load(self, group_id: str | None = None, slots: Iterable[str] = ()) -> None:
        """Read slots' last checkpoints back from the changelog.

        With ``group_id``, only those of ``slots`` (the assigned ones: the read stays short
        however long the changelog grew); without, every slot's.
        """
        if group_id is None:
            values = await self.changelog.read()
            self._latest = {key: _decode(value) for key, value in values.items()}
            return
        keys = sorted({self._key(group_id, slot) for slot in slots})
        values = await self.changelog.read(keys)
        for key in keys:
            if key in values:
                self._latest[key] = _decode(values[key])
            else:
                self._latest.pop(key, None)

    def restore_point(
        self, group_id: str, slot: str, committed: Mapping[TopicPartition, int | None]
    ) -> Checkpoint | None:
        """The slot's last checkpoint (see the class notes on ``committed``)."""
        return self._latest.get(self._key(group_id, slot))

    def close(self) -> None:
        """Nothing to release here: the changelog client is closed by its owner."""
