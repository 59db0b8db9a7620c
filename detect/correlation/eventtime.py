"""Event time per input: watermarks, idle release, late events and the clock-skew guard.

An *input* is one ordered stream of events: a Kafka topic partition, or a file in replay.
Each input has its own watermark, the latest event time it delivered. The *combined*
watermark is the minimum over the active inputs minus the allowed lateness: no input
still to deliver anything older is waited for beyond it, so windows that end before it
are final. How the inputs' records interleave in batches does not move it.

Rules (all times in microseconds since the epoch):

- **Late** is decided per input, in that input's own order: an event is late when it is
  older than the latest earlier event *of the same input* minus the allowed lateness, or
  older than the watermark already evaluated (only possible for an input that was released
  as idle and came back). Other inputs' progress never makes an event late, so the late
  set does not depend on interleaving, batch sizes or backlog.
- **Expected inputs** (files not yet opened, partitions just assigned) hold the combined
  watermark until they deliver, go idle, or finish.
- **Idle**: an input that delivered nothing for ``idle_s`` seconds of processing time is
  left out of the minimum; when every input is idle or finished, every window up to the
  latest event seen is evaluated (as at the end of a replay). Without a processing clock
  (replay) nothing goes idle: inputs finish instead.
- **Skewed clocks**: an event stamped beyond the reference clock plus ``max_skew`` *and*
  beyond its own input's recent range (the median of its neighbours in that input) plus
  ``max_skew`` does not move the watermark. An input's range needs five events; before
  that, the processing clock alone decides (in replay, nothing is judged yet). The
  reference clock is the processing clock when there is one (Kafka); in replay it is the
  data's own clock, the latest accepted event time over all inputs. Such events are still
  seen by single-event rules; here they are only counted, per input.

:class:`EventTime` holds this state for one correlator; :meth:`EventTime.observe` is the
per-batch step, vectorized over the batch.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final

import polars as pl

from detect.correlation.errors import CorrelationStateError

__all__ = ["DEFAULT_INPUT", "EventTime", "InputClock", "Observation"]

DEFAULT_INPUT: Final = ""
"""The input of events that do not name one."""

_RECENT: Final = 25
"""Accepted event times kept per input, the left half of its neighbourhood window."""

_MIN_RANGE: Final = 5
"""Events a neighbourhood needs before an event can be judged outside its range."""


@dataclass(slots=True)
class InputClock:
    """The event-time state of one input.

    Attributes
    ----------
    watermark
        Latest accepted event time; None before its first event.
    recent
        The last few accepted event times, in arrival order.
    seen_at
        Processing time (seconds) of its last record or of its registration.
    finished
        The input ended (end of file); it no longer holds the combined watermark.
    """

    watermark: int | None = None
    recent: list[int] = field(default_factory=list)
    seen_at: float | None = None
    finished: bool = False


@dataclass(frozen=True, slots=True)
class Observation:
    """Per row of a batch: its input, the late floor, and whether its clock is skewed.

    ``floor`` is the time below which the row is late (null: nothing before it);
    ``skewed`` rows must not be counted in windows (they did not move any watermark).
    """

    ts: pl.Series
    floor: pl.Series
    skewed: pl.Series


class EventTime:
    """Watermarks of the inputs of one correlator.

    Parameters
    ----------
    lateness_us
        Allowed lateness.
    max_skew_us
        How far ahead of the reference clock (and of its own input) an event may be and
        still move the watermark.
    idle_s
        Processing seconds without a record after which an input no longer holds the
        combined watermark; None: never.

    Examples
    --------
    >>> clock = EventTime(lateness_us=0, max_skew_us=3_600_000_000)
    >>> clock.expect(["a", "b"])
    >>> seen = clock.observe(pl.Series(["a", "a"]), pl.Series([10, 20]))
    >>> clock.combined() is None   # "b" has delivered nothing yet
    True
    >>> seen = clock.observe(pl.Series(["b"]), pl.Series([15]))
    >>> clock.combined()
    15
    """

    def __init__(self, *, lateness_us: int, max_skew_us: int, idle_s: float | None = None) -> None:
        self.lateness_us = lateness_us
        self.max_skew_us = max_skew_us
        self.idle_s = idle_s
        self.inputs: dict[str, InputClock] = {}
        self.evaluated: int | None = None
        self.skewed: Counter[str] = Counter()

    # Inputs ---------------------------------------------------------------------------

    def expect(self, names: list[str], *, now_s: float | None = None) -> None:
        """Register inputs that will deliver: they hold the combined watermark."""
        for name in names:
            state = self.inputs.setdefault(name, InputClock())
            state.finished = False
            state.seen_at = now_s

    def touch(self, names: list[str], *, now_s: float) -> None:
        """Inputs known to hold records not read yet: not idle, however silent."""
        for name in names:
            state = self.inputs.get(name)
            if state is not None and not state.finished:
                state.seen_at = now_s

    def finish(self, name: str) -> None:
        """The input ended; it no longer holds the combined watermark."""
        self.inputs.setdefault(name, InputClock()).finished = True

    def forget(self, names: list[str]) -> None:
        """Drop inputs (revoked partitions): another correlator owns them now."""
        for name in names:
            self.inputs.pop(name, None)

    # Watermarks ---------------------------------------------------------------------

    def latest(self) -> int | None:
        """The latest accepted event time over all inputs."""
        marks = [s.watermark for s in self.inputs.values() if s.watermark is not None]
        return max(marks) if marks else None

    def _active(self, state: InputClock, now_s: float | None) -> bool:
        if state.finished:
            return False
        if self.idle_s is None or now_s is None or state.seen_at is None:
            return True
        return now_s - state.seen_at < self.idle_s

    def idle(self, now_s: float | None = None) -> bool:
        """Every input is idle or finished: none holds the combined watermark back."""
        return not any(self._active(state, now_s) for state in self.inputs.values())

    def combined(self, now_s: float | None = None) -> int | None:
        """Event time before which every window is final; None: not yet known.

        The minimum over active inputs of their watermark minus the lateness; an active
        input with no event yet holds it (None). With no active input left, everything
        seen is final: the latest event time plus one.
        """
        active = [s for s in self.inputs.values() if self._active(s, now_s)]
        if not active:
            latest = self.latest()
            return None if latest is None else latest + 1
        marks = [s.watermark for s in active]
        if any(m is None for m in marks):
            return None
        return min(m for m in marks if m is not None) - self.lateness_us

    # One batch ----------------------------------------------------------------------

    def observe(
        self, inputs: pl.Series, ts: pl.Series, *, now_s: float | None = None
    ) -> Observation:
        """Take one batch's event times (µs, null where unknown) and their inputs.

        Returns, per row, the late floor and the skew flag, and moves each input's
        watermark to its latest accepted event. ``now_s`` is the processing clock
        (seconds since the epoch); None in replay, where the data's clock stands in.
        """
        frame = pl.DataFrame(
            {"input": inputs.cast(pl.String).fill_null(DEFAULT_INPUT), "ts": ts.cast(pl.Int64)}
        ).with_row_index("_row")
        for name in frame.get_column("input").unique(maintain_order=True).to_list():
            state = self.inputs.setdefault(name, InputClock())
            state.finished = False
            state.seen_at = now_s
        skewed = self._skewed(frame, now_s)
        accepted = pl.when(~skewed).then(pl.col("ts"))
        stored = self._stored()
        prior = (
            frame.with_columns(accepted.alias("_ok"))
            .join(stored, on="input", how="left")
            .sort("_row")
            .select(
                pl.max_horizontal(
                    pl.col("_ok").cum_max().forward_fill().shift(1).over("input"), pl.col("_mark")
                ).alias("prior"),
                pl.col("_ok"),
                pl.col("input"),
            )
        )
        floor = pl.col("prior") - self.lateness_us
        if self.evaluated is not None:
            floor = pl.max_horizontal(floor, pl.lit(self.evaluated))
        result = prior.select(floor.alias("floor"))
        self._advance_inputs(prior)
        for name, count in (
            frame.filter(skewed).group_by("input").len().iter_rows() if skewed.any() else []
        ):
            self.skewed[name] += count
        return Observation(frame.get_column("ts"), result.get_column("floor"), skewed)

    def _stored(self) -> pl.DataFrame:
        names = list(self.inputs)
        return pl.DataFrame(
            {"input": names, "_mark": [self.inputs[n].watermark for n in names]},
            schema={"input": pl.String, "_mark": pl.Int64},
        )

    def _skewed(self, frame: pl.DataFrame, now_s: float | None) -> pl.Series:
        """Rows beyond the reference clock and beyond their input's neighbours (+ skew)."""
        if now_s is not None:
            reference: int | None = int(now_s * 1_000_000)
        else:
            reference = self.latest()
        if reference is None:
            # Replay's first batch: the batch's own median is the data clock.
            median = frame.get_column("ts").median()
            reference = None if median is None else int(median)  # type: ignore[arg-type]
        if reference is None:
            return pl.repeat(False, frame.height, eager=True)
        limit = reference + self.max_skew_us
        ahead = frame.get_column("ts") > limit
        if not ahead.fill_null(False).any():
            return ahead.fill_null(False).alias("skewed")
        # Only now pay for the neighbourhood: the input's recent accepted times, then the
        # batch's rows, a centred rolling median over each input.
        history = pl.DataFrame(
            [(name, value) for name, state in self.inputs.items() for value in state.recent],
            schema={"input": pl.String, "ts": pl.Int64},
            orient="row",
        ).with_columns(pl.lit(None, dtype=pl.UInt32).alias("_row"))
        window = 2 * _RECENT + 1
        around = (
            pl.concat([history, frame.select("input", "ts", "_row")])
            .with_columns(
                pl.col("ts")
                .rolling_median(window, min_samples=1, center=True)
                .over("input")
                .alias("_median"),
                pl.col("ts")
                .is_not_null()
                .cast(pl.Int32)
                .rolling_sum(window, min_samples=1, center=True)
                .over("input")
                .alias("_known"),
            )
            .filter(pl.col("_row").is_not_null())
            .sort("_row")
        )
        beyond = around.get_column("ts") > around.get_column("_median") + self.max_skew_us
        # A range needs a few events to be one: two events a day apart are not a forgery.
        # Against a processing clock, an input without a range yet is judged by the clock.
        ranged = around.get_column("_known") >= _MIN_RANGE
        outside = (beyond | ~ranged) if now_s is not None else (beyond & ranged)
        return (ahead & outside).fill_null(False).alias("skewed")

    def _advance_inputs(self, prior: pl.DataFrame) -> None:
        accepted = prior.filter(pl.col("_ok").is_not_null())
        if accepted.height == 0:
            return
        per_input = accepted.group_by("input", maintain_order=True).agg(
            pl.col("_ok").max().alias("max"), pl.col("_ok").tail(_RECENT).alias("tail")
        )
        for name, latest, tail in per_input.iter_rows():
            state = self.inputs[name]
            state.watermark = latest if state.watermark is None else max(state.watermark, latest)
            state.recent = [*state.recent, *tail][-_RECENT:]

    # Snapshots ------------------------------------------------------------------------

    def to_header(self) -> dict[str, Any]:
        """The state as JSON-ready values (processing times are not kept)."""
        return {
            "evaluated": self.evaluated,
            "inputs": {
                name: {"watermark": s.watermark, "recent": s.recent, "finished": s.finished}
                for name, s in self.inputs.items()
            },
            "skewed": dict(self.skewed),
        }

    def load_header(self, header: dict[str, Any], *, now_s: float | None = None) -> None:
        """Replace the state by one written by :meth:`to_header`."""
        try:
            inputs = {
                str(name): InputClock(
                    watermark=None if s["watermark"] is None else int(s["watermark"]),
                    recent=[int(v) for v in s["recent"]],
                    seen_at=now_s,
                    finished=bool(s["finished"]),
                )
                for name, s in header["inputs"].items()
            }
            evaluated = header["evaluated"]
            skewed = Counter({str(k): int(v) for k, v in header["skewed"].items()})
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise CorrelationStateError(f"unreadable event-time state: {error}") from error
        self.inputs = inputs
        self.evaluated = None if evaluated is None else int(evaluated)
        self.skewed = skewed
