"""Live reload of a running pipeline's rules: on SIGHUP and when rule files change.

:class:`RuleReload` compiles the new rule set in a worker thread, beside the running one,
as soon as a reload is asked for (:meth:`RuleReload.request`, which ``neakta run`` calls on
SIGHUP and when its poll of the rule files' modification times sees a change). The
pipeline calls :meth:`RuleReload.before_batch` before each batch: it waits for a compile
in flight and then swaps the rule sets, so every batch is evaluated whole by one rule set
and no event is skipped or evaluated twice. A reload whose rules fail (a rule that does
not load or compile and did not fail in the running set already) is refused: the running
rules stay, and each failure is logged by path and line. Correlation rules whose
definition did not change keep their open windows (:mod:`detect.correlation.carry`).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from detect import CompiledRuleSet, RuleProblem
from detect.correlation import CorrelationSet
from detect.correlation.carry import carry_over, definitions, unchanged
from detect.watch import RuleWatcher
from neakta.alerting import AlertStage
from neakta.pipeline import Pipeline
from neakta.rulesets import compile_correlations, compile_rulesets

__all__ = ["RuleGeneration", "RuleReload", "compile_generation"]

_log = logging.getLogger("neakta.reload")


@dataclass(frozen=True, slots=True)
class RuleGeneration:
    """One compiled set of rules: per family, the correlations, and what failed."""

    rulesets: dict[str, CompiledRuleSet]
    correlations: CorrelationSet
    problems: tuple[RuleProblem, ...]

    @property
    def base(self) -> CompiledRuleSet:
        """The rule set the correlations reference (every family's holds the same rules)."""
        return next(iter(self.rulesets.values()))


def compile_generation(
    paths: Sequence[str | Path], placeholders: Mapping[str, list[str]] | None = None
) -> RuleGeneration:
    """Load and compile the rules at ``paths`` as ``neakta run`` does."""
    rulesets = compile_rulesets(paths, placeholders=placeholders)
    base = next(iter(rulesets.values()))
    correlations = compile_correlations(paths, base)
    return RuleGeneration(rulesets, correlations, base.rejected + correlations.rejected)


class RuleReload:
    """Reloads the rules of one pipeline between its batches.

    Parameters
    ----------
    paths
        The rule files and folders the running rules came from.
    current
        The running generation.
    placeholders
        Placeholder values, as the running rules were compiled with.
    """

    def __init__(
        self,
        paths: Sequence[str | Path],
        current: RuleGeneration,
        *,
        placeholders: Mapping[str, list[str]] | None = None,
    ) -> None:
        self.paths = list(paths)
        self.current = current
        self.placeholders = dict(placeholders or {})
        self.watcher = RuleWatcher(self.paths)
        self.reloads = 0
        self.refused = 0
        self._task: asyncio.Future[RuleGeneration] | None = None
        self._again = False
        self._poller: asyncio.Task[None] | None = None

    @classmethod
    def of(
        cls,
        paths: Sequence[str | Path],
        rulesets: Mapping[str, CompiledRuleSet],
        correlations: CorrelationSet,
        *,
        placeholders: Mapping[str, list[str]] | None = None,
    ) -> RuleReload:
        """The reloader of rules already compiled from ``paths``."""
        base = next(iter(rulesets.values()))
        problems = base.rejected + correlations.rejected
        current = RuleGeneration(dict(rulesets), correlations, problems)
        return cls(paths, current, placeholders=placeholders)

    def attach(self, pipeline: Pipeline, *, interval_s: float) -> None:
        """Reload ``pipeline``'s rules on SIGHUP, and on changed files (``interval_s`` > 0)."""
        pipeline.before_batch = self.before_batch
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, self.request, "on SIGHUP")
        if interval_s > 0:
            self._poller = asyncio.create_task(self.watch(interval_s, pipeline.stop))

    def detach(self) -> None:
        """Stop reacting to SIGHUP, polling, and waiting for a compile in flight."""
        asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        for pending in (self._poller, self._task):
            if pending is not None:
                pending.cancel()

    def request(self, why: str = "requested") -> None:
        """Start compiling the rule files now (again once done, if one is in flight)."""
        _log.info("rule reload %s: compiling %s", why, " ".join(map(str, self.paths)))
        if self._task is not None:
            self._again = True
            return
        self.watcher.changed()  # what is compiled now is what the watcher has seen
        self._task = asyncio.ensure_future(
            asyncio.to_thread(compile_generation, self.paths, self.placeholders)
        )

    async def watch(self, interval_s: float, stop: asyncio.Event) -> None:
        """Poll the rule files every ``interval_s`` seconds until ``stop``; reload on change."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), interval_s)
            except TimeoutError:
                if await asyncio.to_thread(self.watcher.changed):
                    self.request("on changed rule files")

    async def before_batch(self, pipeline: Pipeline) -> None:
        """Swap in the rules a finished (or awaited) compile produced."""
        if self._task is None:
            return
        task, self._task = self._task, None
        try:
            candidate = await task
        except Exception:
            _log.exception("rule reload failed; the running rules stay")
            self.refused += 1
            return
        # The batch before is committed first: its state is saved as its rules left it.
        await pipeline.settle()
        self._apply(pipeline, candidate)
        if self._again:
            self._again = False
            self.request("again (files changed while compiling)")

    def _apply(self, pipeline: Pipeline, candidate: RuleGeneration) -> None:
        known = {str(problem) for problem in self.current.problems}
        failed = [problem for problem in candidate.problems if str(problem) not in known]
        if failed:
            for problem in failed:
                _log.warning("rule reload refused, the running rules stay: %s", problem)
            self.refused += 1
            return
        keep = unchanged(
            definitions(self.current.correlations, self.current.base),
            definitions(candidate.correlations, candidate.base),
        )
        stage = pipeline.make_alerts
        slots = stage.slots if isinstance(stage, AlertStage) else None
        if slots is not None:
            old_file = slots.correlator
            new_file = carry_over(old_file, candidate.correlations, keep)
            slots.slots = {
                slot: new_file
                if correlator is old_file
                else carry_over(correlator, candidate.correlations, keep)
                for slot, correlator in slots.slots.items()
            }
            slots.correlator = new_file
        elif candidate.correlations.rules:
            _log.warning("correlation rules run from the next start: this run began without any")
        pipeline.rulesets = dict(candidate.rulesets)
        self.current = candidate
        self.reloads += 1
        _log.info(
            "rules reloaded: %d rules, %d correlation rules (%d kept their state)",
            len(candidate.base.rules),
            len(candidate.correlations.rules),
            len(keep),
        )
