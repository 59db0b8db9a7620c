"""Live reload: rules change between batches, whole batches see one rule set, failures refused."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from detect import CorrelationSet
from ingest.testing import ListDeadLetters, MemorySource
from neakta.pipeline import Pipeline
from neakta.reload import RuleReload
from neakta.rulesets import compile_correlations, compile_rulesets
from respond.sinks import Delivery, SinkBatch
from tests.test_neakta.test_pipeline import ATTACK, WHOAMI, sysmon

NOTEPAD = """
title: Notepad Started
id: 7d1f0b9e-5c1a-4d2e-8f3b-2a6c9e0d4b11
logsource: {category: process_creation, product: windows}
detection:
  selection:
    Image|endswith: '\\\\notepad.exe'
  condition: selection
level: low
"""
BROKEN = """
title: Broken
id: 9a9a9a9a-1b1b-4c4c-8d8d-0e0e0e0e0e0e
logsource: {category: process_creation, product: windows}
detection:
  selection:
    Image|endswith: x.exe
  condition: selection and nowhere
level: low
"""


@dataclass
class Editor:
    """A sink that records each batch's alerting rules, then edits the rules as told."""

    folder: Path
    reload: RuleReload | None = None
    edits: list[tuple[str, str]] = field(default_factory=list)
    alerted: list[set[str]] = field(default_factory=list)

    async def write(self, batch: SinkBatch) -> Delivery:
        self.alerted.append(set(batch.alerts["rule.name"].to_list()))
        if self.edits:
            name, text = self.edits.pop(0)
            (self.folder / name).write_text(text)
            assert self.reload is not None
            self.reload.request()
        return Delivery(written=batch.alerts.height)

    async def close(self) -> None:
        return None


async def test_rules_change_between_batches_and_a_failing_reload_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "whoami.yml").write_text(WHOAMI)
    rulesets = compile_rulesets([tmp_path])
    correlations = compile_correlations([tmp_path], rulesets["endpoint"])
    reload = RuleReload.of([tmp_path], rulesets, correlations)
    editor = Editor(tmp_path, reload, [("notepad.yml", NOTEPAD), ("broken.yml", BROKEN)])
    source = MemorySource.of_lines("endpoint", [ATTACK, sysmon("notepad.exe")] * 3, batch_size=2)
    pipeline = Pipeline(
        rulesets, sinks=[editor], dead_letters=ListDeadLetters(), before_batch=reload.before_batch
    )
    with caplog.at_level(logging.INFO, logger="neakta.reload"):
        stats = await pipeline.run(source)

    whoami, notepad = "Whoami From A Web Server", "Notepad Started"
    assert editor.alerted == [{whoami}, {whoami, notepad}, {whoami, notepad}]
    assert stats.events == 6 and len(source.committed) == 3
    assert (reload.reloads, reload.refused) == (1, 1)
    refused = [r.message for r in caplog.records if "refused" in r.message]
    assert len(refused) == 1
    assert f"{tmp_path / 'broken.yml'}:2: SigmaConditionError" in refused[0]


async def test_files_changed_while_idle_are_seen_by_the_poll(tmp_path: Path) -> None:
    (tmp_path / "whoami.yml").write_text(WHOAMI)
    rulesets = compile_rulesets([tmp_path])
    reload = RuleReload.of([tmp_path], rulesets, CorrelationSet(()))
    stop = asyncio.Event()
    poller = asyncio.create_task(reload.watch(0.05, stop))
    (tmp_path / "notepad.yml").write_text(NOTEPAD)
    pipeline = Pipeline(rulesets, dead_letters=ListDeadLetters())
    for _ in range(200):
        await asyncio.sleep(0.02)
        await reload.before_batch(pipeline)
        if reload.reloads:
            break
    stop.set()
    await poller
    titles = {rule.title for rule in pipeline.rulesets["endpoint"].rules}
    assert titles == {"Whoami From A Web Server", "Notepad Started"}
