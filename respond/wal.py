"""A SQLite WAL file copied back into its database in a thread of its own.

In WAL mode SQLite appends each committed transaction to the ``-wal`` file and, by default,
the connection whose commit takes the file past 1,000 pages copies the pages back into the
database before its commit returns (a checkpoint). For a store that takes 45 MB of alerts
a batch, that copy is a tenth of a second on the path every batch waits for.

:class:`WalCheckpointer` does it on a connection and a thread of its own after each commit
(:meth:`WalCheckpointer.committed`), as a passive checkpoint: it waits for no reader nor
writer, and the writer goes on appending meanwhile. The writer keeps a checkpoint of its
own past :data:`WRITER_CHECKPOINT_PAGES` pages, so the file stays bounded should this
thread fall behind or fail. Closing the last connection checkpoints the rest and removes
the ``-wal`` file, as SQLite always does.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import Final

__all__ = ["WRITER_CHECKPOINT_PAGES", "WalCheckpointer"]

_log = logging.getLogger("neakta.store")

WRITER_CHECKPOINT_PAGES: Final = 16_384
"""Pages of WAL past which the writer's own commit checkpoints (256 MiB at 16 KiB pages)."""


class WalCheckpointer:
    """Checkpoints the WAL database at ``path`` after each commit, off the writer's thread.

    The thread and its connection start at the first :meth:`committed`: a store that is
    only read starts none.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "n.db"
    >>> db = sqlite3.connect(path, isolation_level=None)
    >>> db.execute("PRAGMA journal_mode=WAL").fetchone()
    ('wal',)
    >>> _ = db.execute("CREATE TABLE t (x)")
    >>> checkpointer = WalCheckpointer(path)
    >>> checkpointer.committed()
    >>> checkpointer.close()
    >>> checkpointer.checkpoints >= 1
    True
    >>> db.close()
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.checkpoints = 0
        self._wake = threading.Event()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._warned = False

    def committed(self) -> None:
        """A transaction was committed: checkpoint it soon (now, unless one is running)."""
        if self._closing:
            return
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="neakta-wal-checkpoint", daemon=True
            )
            self._thread.start()
        self._wake.set()

    def close(self) -> None:
        """Finish the checkpoint under way, if any, and stop the thread."""
        self._closing = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        try:
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as error:
            self._warn(error)
            return
        try:
            db.execute("PRAGMA busy_timeout=5000")
            while True:
                self._wake.wait()
                self._wake.clear()
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                except sqlite3.Error as error:
                    self._warn(error)
                if self._closing:
                    return
        finally:
            db.close()

    def _warn(self, error: sqlite3.Error) -> None:
        if not self._warned:
            self._warned = True
            _log.warning(
                "%s: WAL checkpoint failed (%s); the writer checkpoints past %d pages instead",
                self.path,
                error,
                WRITER_CHECKPOINT_PAGES,
            )
