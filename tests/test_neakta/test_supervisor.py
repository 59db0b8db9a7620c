"""``neakta run --processes N``: the supervisor, with real worker processes.

The workers here are small Python scripts that exit, fail or wait for a signal as each
test needs; ``tests/integration/test_run_processes.py`` runs real ``neakta run`` workers
on a broker.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import pytest

from neakta.cli import build_parser
from neakta.settings import Settings
from neakta.status import RunStats, Status, StatusReport, from_snapshot
from neakta.supervisor import (
    FIRST_PAUSE_S,
    Supervisor,
    stop_when_orphaned,
    worker_arguments,
    worker_environment,
)


def scripted(folder: Path, scripts: dict[int, str], status: Status | None = None) -> Supervisor:
    """A supervisor of workers running ``scripts[k]`` (Python, ``WORKER`` and ``MARK`` set)."""

    def command(number: int) -> tuple[list[str], dict[str, str]]:
        prelude = f"import os, signal, sys, time\nWORKER = {number}\nMARK = {str(folder)!r}\n"
        code = prelude + textwrap.dedent(scripts[number])
        return [sys.executable, "-c", code], {}

    return Supervisor(command, len(scripts), status=status)


def test_workers_that_end_well_end_the_run_with_status_0(tmp_path: Path) -> None:
    supervisor = scripted(tmp_path, {1: "sys.exit(0)", 2: "time.sleep(0.3)"})
    assert supervisor.run() == 0
    assert supervisor.restarts == 0


def test_a_failed_worker_is_started_again_and_the_run_goes_on(tmp_path: Path) -> None:
    # Worker 1 fails on its first start (SIGKILL, as the OOM killer would) and ends well
    # on its second; worker 2 waits for it.
    once = """
        first = not os.path.exists(os.path.join(MARK, "started"))
        open(os.path.join(MARK, "started"), "a").close()
        if first:
            os.kill(os.getpid(), signal.SIGKILL)
        open(os.path.join(MARK, "second"), "w").close()
    """
    waits = """
        deadline = time.monotonic() + 30
        while not os.path.exists(os.path.join(MARK, "second")) and time.monotonic() < deadline:
            time.sleep(0.05)
    """
    supervisor = scripted(tmp_path, {1: once, 2: waits})
    assert supervisor.run() == 0
    assert supervisor.restarts == 1
    assert (tmp_path / "second").exists()


def test_the_pause_before_a_restart_doubles_while_a_worker_keeps_failing(tmp_path: Path) -> None:
    counting = """
        starts = os.path.join(MARK, "starts")
        with open(starts, "a") as f:
            f.write("x")
        if len(open(starts).read()) < 3:
            sys.exit(1)
    """
    clock = [0.0]

    def tick(seconds: float) -> None:
        # Each poll moves the clock on by the poll's interval; the real wait is shorter.
        clock[0] += seconds
        time.sleep(0.02)

    supervisor = scripted(tmp_path, {1: counting})
    supervisor.clock = lambda: clock[0]
    supervisor.sleep = tick
    assert supervisor.run() == 0
    assert supervisor.restarts == 2
    # Paused 1 s, then 2 s: the run took at least 3 s of its clock.
    assert clock[0] >= FIRST_PAUSE_S * 3


def test_an_operator_error_stops_every_worker_with_status_2(tmp_path: Path) -> None:
    supervisor = scripted(tmp_path, {1: "sys.exit(2)", 2: "time.sleep(600)"})
    assert supervisor.run() == 2
    assert supervisor.restarts == 0


def test_sigterm_is_passed_on_and_each_worker_ends_its_own_way(tmp_path: Path) -> None:
    # Worker 1 sends the supervisor SIGTERM, as an operator would; both workers end well
    # when it reaches them.
    ends_well = """
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        if WORKER == 1:
            os.kill(os.getppid(), signal.SIGTERM)
        time.sleep(600)
        sys.exit(5)
    """
    before = signal.getsignal(signal.SIGTERM)
    supervisor = scripted(tmp_path, {1: ends_well, 2: ends_well})
    assert supervisor.run() == 0
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_worker_failing_while_the_run_stops_gives_its_status(tmp_path: Path) -> None:
    fails_on_stop = """
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
        if WORKER == 1:
            os.kill(os.getppid(), signal.SIGTERM)
        time.sleep(600)
    """
    supervisor = scripted(tmp_path, {1: fails_on_stop})
    assert supervisor.run() == 3
    assert supervisor.restarts == 0


def parsed(settings: Settings, *argv: str) -> argparse.Namespace:
    return build_parser(settings, "run").parse_args(["run", *argv])


def test_every_run_option_reaches_the_workers_or_is_file_modes(tmp_path: Path) -> None:
    settings = Settings()
    args = parsed(
        settings,
        "--bootstrap-servers", "k:9092", "--group-id", "g", "--topics", "a", "b",
        "--rules", "r1", "r2", "--alerts", "out.ndjson", "--db", "s/neakta.db",
        "--checkpoints", "c.db", "--max-record-bytes", "99", "--log-format", "json",
        "--archive", "arch", "--idle-exit", "5", "--processes", "3", "--status",
    )  # fmt: skip
    argv = worker_arguments(args, 2)
    worker = parsed(settings, *argv[1:])
    file_mode = {"inputs", "family", "follow", "dead_letters", "batch_size"}
    own = {"processes": 1, "status": False, "store": Path("s/neakta.2.db")}
    for option, value in vars(args).items():
        if option in file_mode or option == "handler":
            continue
        expected = own.get(option, value)
        assert getattr(worker, option) == expected, option


def test_workers_share_the_cores_unless_told(tmp_path: Path) -> None:
    env = worker_environment({"NEAKTA_RUN__PROCESSES": "4"}, 3, 4, cores=16, ndjson_path=None)
    assert env == {"NEAKTA_RUN__WORKER": "3", "POLARS_MAX_THREADS": "4"}


def test_files_are_read_by_one_process(capsys: pytest.CaptureFixture[str]) -> None:
    from neakta.cli import main

    code = main(["run", "--processes", "2", "--input", "x.log"])
    assert code == 2
    assert "--processes 2 needs Kafka mode" in capsys.readouterr().err


def test_sighup_is_passed_on_to_every_worker(tmp_path: Path) -> None:
    reloads = """
        def reload(*_):
            open(os.path.join(MARK, f"reloaded-{WORKER}"), "w").close()
        signal.signal(signal.SIGHUP, reload)
        deadline = time.monotonic() + 30
        if WORKER == 1:
            while not os.path.exists(os.path.join(MARK, "ready-2")):
                time.sleep(0.02)
            os.kill(os.getppid(), signal.SIGHUP)
        else:
            open(os.path.join(MARK, "ready-2"), "w").close()
        while not os.path.exists(os.path.join(MARK, f"reloaded-{WORKER}")):
            assert time.monotonic() < deadline
            time.sleep(0.02)
    """
    supervisor = scripted(tmp_path, {1: reloads, 2: reloads})
    assert supervisor.run() == 0
    assert (tmp_path / "reloaded-1").exists() and (tmp_path / "reloaded-2").exists()


async def test_a_worker_with_its_supervisor_alive_goes_on() -> None:
    stop = asyncio.Event()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(stop_when_orphaned(stop, os.getppid(), every_s=0.01), 0.1)
    assert not stop.is_set()
    gone = asyncio.Event()
    await asyncio.wait_for(stop_when_orphaned(gone, os.getppid() + 1, every_s=0.01), 1)
    assert gone.is_set()


def test_no_processes_is_an_operator_error(capsys: pytest.CaptureFixture[str]) -> None:
    from neakta.cli import main

    code = main(["run", "--processes", "0", "--bootstrap-servers", "localhost:9092"])
    assert code == 2
    assert "--processes must be a positive number, not 0" in capsys.readouterr().err


# A worker's report through the real StatusReport on the pipe the supervisor gave it.
REPORTS = textwrap.dedent("""
    from collections import Counter
    from neakta.status import STATUS_FD_ENV, RunStats, StatusReport
    report = StatusReport(int(os.environ[STATUS_FD_ENV]), interval=0)

    def send(records, lag={}):
        stats = RunStats(records=records, sources=Counter({"mef/web": records}))
        report.update(stats, lag)
""")


class Seen:
    """A status that keeps every update, and marks the partitions whose lag it was shown."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.records: list[int] = []
        self.finished = False

    def update(self, stats: RunStats, lag: Mapping[str, int]) -> None:
        self.records.append(stats.records)
        for partition, behind in lag.items():
            (self.folder / f"lag-{partition.replace('/', '-')}-{behind}").touch()

    def finish(self) -> None:
        self.finished = True


def test_the_status_adds_up_every_workers_totals_across_restarts(tmp_path: Path) -> None:
    # Worker 1 reports 5 records and is killed; started again, it reports 7 and ends.
    # Worker 2 reports 2, then 3 (its totals so far, not more records) with a lag, and
    # ends once the supervisor has shown that lag.
    killed_then_ends = REPORTS + textwrap.dedent(
        """
        first = not os.path.exists(os.path.join(MARK, "started"))
        open(os.path.join(MARK, "started"), "a").close()
        if first:
            send(5)
            os.kill(os.getpid(), signal.SIGKILL)
        send(7)
        report.finish()
        """
    )
    reports_twice = REPORTS + textwrap.dedent(
        """
        send(2)
        send(3, {"logs.web/1": 4})
        deadline = time.monotonic() + 30
        while not os.path.exists(os.path.join(MARK, "lag-logs.web-1-4")):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        report.finish()
        """
    )
    seen = Seen(tmp_path)
    supervisor = scripted(tmp_path, {1: killed_then_ends, 2: reports_twice}, seen)
    assert supervisor.run() == 0
    assert supervisor.restarts == 1
    totals = supervisor.totals()
    assert (totals.records, totals.sources) == (15, {"mef/web": 15})
    assert seen.records[-1] == 15 and seen.finished
    assert supervisor.lag() == {}  # every worker ended


def test_a_report_the_pipe_has_no_room_for_is_sent_whole_later_the_latest_at_the_end() -> None:
    reads, writes = os.pipe()
    report = StatusReport(writes, interval=0)
    filler = b"x" * 4096
    with contextlib.suppress(BlockingIOError):
        while True:
            os.write(writes, filler)
    many = Counter({f"ministry{n}/web": n for n in range(500)})
    report.update(RunStats(records=1, sources=many), {})  # no room: waits
    report.update(RunStats(records=2, sources=many), {})  # newer, while the first waits
    received = bytearray()

    def drain() -> None:
        while chunk := os.read(reads, 1 << 16):
            received.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    report.finish()
    reader.join(10)
    os.close(reads)
    lines = bytes(received).lstrip(b"x").splitlines()
    assert lines and all(from_snapshot(line)[0].sources == many for line in lines)
    assert from_snapshot(lines[-1])[0].records == 2


def test_reports_stop_quietly_once_the_supervisor_is_gone() -> None:
    reads, writes = os.pipe()
    report = StatusReport(writes, interval=0)
    os.close(reads)
    report.update(RunStats(records=1), {})
    report.update(RunStats(records=2), {})
    report.finish()


def test_a_line_that_is_not_a_report_is_refused() -> None:
    with pytest.raises(ValueError, match="not a status snapshot"):
        from_snapshot(b'{"records": 1}')
    with pytest.raises(ValueError, match="not a status snapshot"):
        from_snapshot(b"Traceback (most recent call last):")
