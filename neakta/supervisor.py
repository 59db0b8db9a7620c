"""``neakta run --processes N``: N ``neakta run`` processes in one consumer group, one command.

One ``neakta run`` keeps about 1.3-1.5 cores busy (its stages take turns on each batch);
processes in one consumer group split the partitions between them. The supervisor starts
N such *workers*, each with the run's own options, and watches them:

- What the operator gave is checked once, before any worker starts (one error line, exit
  status 2). Each worker loads the rule sets itself, from the cache when it is warm (on a
  cold one each compiles them, as each does on a rule change); the first one logs the
  rules rejected.
- Alerts (``--alerts``, a file or standard output) are shared: a worker appends each batch
  under a POSIX lock (:class:`respond.ndjson.NdjsonAlertWriter`), so no two workers' lines
  interleave. Correlation state is shared as a single run's is: the checkpoint file (one
  host) or the group's changelog topic.
- Each worker keeps its own embedded store and NDJSON export, ``<name>.<k><suffix>``
  (``neakta.2.db``): a store holds the incident tracker and source counters of the one
  process that writes it. The commands that read the store read them all
  (:mod:`neakta.stores`).
- Each worker gets ``POLARS_MAX_THREADS`` of the cores divided by N (at least 1), unless
  the variable is set.
- SIGTERM and SIGINT are passed on to every worker; each ends after its batch in hand,
  committed. SIGHUP is passed on too: each worker reloads its rules. A worker whose
  supervisor is gone (killed) stops as if it had been sent SIGTERM.
- A worker that fails is started again after a pause (1 s, doubling while it keeps failing
  within a minute of its start, at most 60 s); meanwhile the group hands its partitions to
  the others. A worker that stops on an operator error (exit status 2: a bad setting, an
  unreachable broker) stops them all: starting it again would fail the same way.
- Each worker sends its totals and lag on a pipe of its own (:class:`neakta.status.
  StatusReport`, about once a second and when it ends); the supervisor adds them up into
  one status line (:meth:`Supervisor.totals`, :meth:`Supervisor.lag`), and the command
  prints their summary after the workers' own. A worker started again counts on from what
  its earlier runs reported; one that was killed counts up to its last report.

The run ends when every worker has ended, with status 0, or the first failure's.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Final

from neakta.preflight import OPERATOR_EXIT
from neakta.status import STATUS_FD_ENV, RunStats, Status, combined, from_snapshot

__all__ = [
    "WORKER_ENV",
    "Supervisor",
    "stop_when_orphaned",
    "worker_arguments",
    "worker_environment",
    "worker_path",
]

WORKER_ENV: Final = "NEAKTA_RUN__WORKER"
"""The variable that tells a worker its number (1 to N)."""

FIRST_PAUSE_S: Final = 1.0
LAST_PAUSE_S: Final = 60.0
# A worker that ran this long before failing starts again after the first pause.
HEALTHY_S: Final = 60.0
POLL_S: Final = 0.2

_log = logging.getLogger("neakta.supervisor")

WorkerCommand = Callable[[int], tuple[list[str], dict[str, str]]]
"""The command line and environment of worker ``k``."""


def worker_path(path: Path, number: int) -> Path:
    """Worker ``number``'s own copy of the local file ``path``.

    >>> worker_path(Path(".neakta/neakta.db"), 2).as_posix()
    '.neakta/neakta.2.db'
    >>> worker_path(Path("alerts"), 1).as_posix()
    'alerts.1'
    """
    return path.with_name(f"{path.stem}.{number}{path.suffix}")


def worker_arguments(args: argparse.Namespace, number: int) -> list[str]:
    """The ``neakta run`` arguments of worker ``number``: the run's own, resolved.

    Every option of ``run`` that applies in Kafka mode is passed on (``--input``,
    ``--family``, ``--follow``, ``--dead-letters`` and ``--batch-size`` are file mode's);
    the worker's store is its own (:func:`worker_path`), its status line is off.
    """
    argv = [
        "run",
        "--processes", "1",
        "--no-status",
        "--bootstrap-servers", str(args.bootstrap_servers),
        "--group-id", str(args.group_id),
        "--topics", *map(str, args.topics),
        "--rules", *map(str, args.rules),
        "--alerts", str(args.alerts),
        "--max-record-bytes", str(args.max_record_bytes),
        "--log-format", str(args.log_format),
    ]  # fmt: skip
    if args.checkpoints is not None:
        argv += ["--checkpoints", str(args.checkpoints)]
    if args.store is not None:
        argv += ["--db", str(worker_path(Path(args.store), number))]
    if args.archive is not None:
        argv += ["--archive", str(args.archive)]
    if args.idle_exit:
        argv += ["--idle-exit", str(args.idle_exit)]
    return argv


def worker_environment(
    environ: Mapping[str, str],
    number: int,
    processes: int,
    *,
    cores: int,
    ndjson_path: Path | None,
) -> dict[str, str]:
    """The environment of worker ``number`` of ``processes``.

    >>> env = worker_environment({}, 2, 2, cores=16, ndjson_path=Path("out/bulk.ndjson"))
    >>> env["NEAKTA_RUN__WORKER"], env["POLARS_MAX_THREADS"], env["NEAKTA_RESPOND__NDJSON_PATH"]
    ('2', '8', 'out/bulk.2.ndjson')
    >>> worker_environment({"POLARS_MAX_THREADS": "3"}, 1, 4, cores=2, ndjson_path=None)
    {'POLARS_MAX_THREADS': '3', 'NEAKTA_RUN__WORKER': '1'}
    """
    env = dict(environ)
    env.pop("NEAKTA_RUN__PROCESSES", None)
    env[WORKER_ENV] = str(number)
    env.setdefault("POLARS_MAX_THREADS", str(max(1, cores // processes)))
    if ndjson_path is not None:
        env["NEAKTA_RESPOND__NDJSON_PATH"] = worker_path(ndjson_path, number).as_posix()
    return env


def _ending(status: int) -> str:
    """How a worker ended, in words.

    >>> _ending(1), _ending(-9)
    ('exit status 1', 'signal SIGKILL')
    """
    if status < 0:
        try:
            return f"signal {signal.Signals(-status).name}"
        except ValueError:
            return f"signal {-status}"
    return f"exit status {status}"


@dataclass
class _Worker:
    number: int
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    pause_s: float = 0.0
    restart_at: float | None = None
    done: bool = False
    reports: int | None = None
    """The read end of the pipe its running process reports on."""
    unread: bytes = b""
    earlier: RunStats = field(default_factory=RunStats)
    """The totals of its runs before this one."""
    current: RunStats = field(default_factory=RunStats)
    lag: dict[str, int] = field(default_factory=dict)
    reported: float = 0.0


class Supervisor:
    """Start ``processes`` workers, pass signals on, start failed ones again; see the module.

    ``command(k)`` gives worker ``k``'s command line and environment; ``clock`` and
    ``sleep`` pace the restarts; ``status`` shows the workers' totals as they come.
    """

    def __init__(
        self,
        command: WorkerCommand,
        processes: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        status: Status | None = None,
    ) -> None:
        self.command = command
        self.workers = [_Worker(number) for number in range(1, processes + 1)]
        self.clock = clock
        self.sleep = sleep
        self.status = status
        self.restarts = 0
        self.started = time.monotonic()
        self._stopping = False
        self._passed_on = False
        self._status = 0

    def totals(self) -> RunStats:
        """What every worker reported so far, added up (timed from the supervisor's start)."""
        parts = [part for w in self.workers for part in (w.earlier, w.current)]
        return combined(parts, self.started)

    def lag(self) -> dict[str, int]:
        """Each partition's lag as the worker that reported it last saw it."""
        lag: dict[str, int] = {}
        for worker in sorted(self.workers, key=lambda w: w.reported):
            lag.update(worker.lag)
        return lag

    def stop(self, signum: int = signal.SIGTERM, _frame: FrameType | None = None) -> None:
        """End the run: every worker is sent SIGTERM (from a signal handler too)."""
        self._stopping = True

    def run(self) -> int:
        """Start the workers and watch them until every one has ended; the exit status."""
        previous = {
            signal.SIGTERM: signal.signal(signal.SIGTERM, self.stop),
            signal.SIGINT: signal.signal(signal.SIGINT, self.stop),
            signal.SIGHUP: signal.signal(signal.SIGHUP, self._reload),
        }
        self.started = time.monotonic()
        try:
            for worker in self.workers:
                self._start(worker)
            _log.info(
                "started %d workers: pids %s",
                len(self.workers),
                " ".join(str(w.process.pid) for w in self.workers if w.process is not None),
            )
            while not all(worker.done for worker in self.workers):
                if self._stopping and not self._passed_on:
                    self._pass_on()
                for worker in self.workers:
                    self._read(worker)
                    self._watch(worker)
                if self.status is not None:
                    self.status.update(self.totals(), self.lag())
                self.sleep(POLL_S)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            for worker in self.workers:
                if worker.process is not None and worker.process.poll() is None:
                    worker.process.kill()
                    worker.process.wait()
                self._ended(worker)
            if self.status is not None:
                self.status.update(self.totals(), {})
                self.status.finish()
        return self._status

    def _reload(self, signum: int, _frame: FrameType | None) -> None:
        """Pass SIGHUP on: every worker reloads its rules."""
        for worker in self.workers:
            if worker.process is not None and worker.process.poll() is None:
                worker.process.send_signal(signum)

    def _start(self, worker: _Worker) -> None:
        argv, env = self.command(worker.number)
        reports, sends = os.pipe()
        try:
            worker.process = subprocess.Popen(
                argv, env={**env, STATUS_FD_ENV: str(sends)}, pass_fds=(sends,)
            )
        except BaseException:
            os.close(reports)
            raise
        finally:
            os.close(sends)
        os.set_blocking(reports, False)
        worker.reports = reports
        worker.started = self.clock()
        worker.restart_at = None

    def _read(self, worker: _Worker) -> None:
        """Take in what the worker reported since; its latest totals replace the ones before."""
        if worker.reports is None:
            return
        while True:
            try:
                data = os.read(worker.reports, 1 << 16)
            except BlockingIOError:
                break
            if not data:  # the worker ended: nothing more will come
                os.close(worker.reports)
                worker.reports = None
                break
            worker.unread += data
        *lines, worker.unread = worker.unread.split(b"\n")
        for line in reversed(lines):
            try:
                worker.current, worker.lag = from_snapshot(line)
            except ValueError as error:
                _log.warning("worker %d: a status report not read: %s", worker.number, error)
                continue
            worker.reported = self.clock()
            break

    def _ended(self, worker: _Worker) -> None:
        """The worker's process ended: its last report counts as an earlier run's."""
        if worker.reports is not None:
            os.set_blocking(worker.reports, True)
            self._read(worker)
        worker.earlier = combined([worker.earlier, worker.current], 0.0)
        worker.current, worker.lag, worker.unread = RunStats(), {}, b""

    def _pass_on(self) -> None:
        self._passed_on = True
        for worker in self.workers:
            if worker.process is not None and worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)
            elif worker.process is None:
                worker.done = True  # waiting to be started again: not any more

    def _watch(self, worker: _Worker) -> None:
        if worker.done:
            return
        if worker.process is None:
            if self._stopping:
                worker.done = True
            elif worker.restart_at is not None and self.clock() >= worker.restart_at:
                self.restarts += 1
                self._start(worker)
                assert worker.process is not None
                _log.info("worker %d started again: pid %d", worker.number, worker.process.pid)
            return
        status = worker.process.poll()
        if status is None:
            return
        worker.process = None
        self._ended(worker)
        if status == 0 or self._stopping:
            worker.done = True
            if status != 0 and self._status == 0:
                self._status = status if status > 0 else 1
            return
        if status == OPERATOR_EXIT:
            _log.error("worker %d stopped on an operator error: stopping them all", worker.number)
            worker.done = True
            self._status = OPERATOR_EXIT
            self.stop()
            return
        ran = self.clock() - worker.started
        if ran >= HEALTHY_S or not worker.pause_s:
            worker.pause_s = FIRST_PAUSE_S
        else:
            worker.pause_s = min(worker.pause_s * 2, LAST_PAUSE_S)
        worker.restart_at = self.clock() + worker.pause_s
        _log.warning(
            "worker %d ended with %s after %.1f s; starting it again in %.0f s "
            "(its partitions go to the others meanwhile)",
            worker.number,
            _ending(status),
            ran,
            worker.pause_s,
        )


async def stop_when_orphaned(stop: asyncio.Event, parent: int, every_s: float = 1.0) -> None:
    """Set ``stop`` once this process's parent is no longer ``parent``.

    A worker whose supervisor was killed ends after its batch in hand, as on SIGTERM.
    """
    while not stop.is_set():
        if os.getppid() != parent:
            _log.warning("the supervisor (pid %d) is gone: stopping", parent)
            stop.set()
            return
        await asyncio.sleep(every_s)


def command_for(args: argparse.Namespace, ndjson_path: Path | None) -> WorkerCommand:
    """``neakta run`` worker ``k`` of ``args.processes``, as this interpreter runs it."""
    cores = os.cpu_count() or 1

    def command(number: int) -> tuple[list[str], dict[str, str]]:
        argv = [sys.executable, "-m", "neakta", *worker_arguments(args, number)]
        env = worker_environment(
            os.environ, number, args.processes, cores=cores, ndjson_path=ndjson_path
        )
        return argv, env

    return command
