"""neakta keeps freed memory for the next batch, unless the operator chose another decay.

Polars tells its allocator to give freed pages back after half a second; a process that
imports neakta first asks for a minute instead (``neakta.allocator``). Checked in a fresh
interpreter, where Polars is not imported yet, as in the ``neakta`` command.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from neakta.allocator import ALLOCATOR_SETTING, DECAY_MS, POLARS_DEFAULT

PROBE = (
    "import os, sys\n"
    "import neakta.cli\n"
    "assert 'polars' in sys.modules\n"
    f"print(os.environ[{ALLOCATOR_SETTING!r}])\n"
)


def allocator_options(**environ: str) -> list[str]:
    """The allocator options Polars was given once ``neakta.cli`` was imported."""
    env = {k: v for k, v in os.environ.items() if k != ALLOCATOR_SETTING} | environ
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, env=env
    )
    return result.stdout.strip().split(",")


def test_the_command_keeps_freed_pages_a_minute_overriding_polars_half_second() -> None:
    options = allocator_options()
    # Polars puts its own choice first and the environment's after it: the last one counts.
    assert "dirty_decay_ms:500" in options
    assert options[-1] == f"dirty_decay_ms:{DECAY_MS}"


def test_an_operators_other_allocator_options_are_kept_and_the_decay_added() -> None:
    options = allocator_options(**{ALLOCATOR_SETTING: "narenas:4"})
    assert options[-2:] == ["narenas:4", f"dirty_decay_ms:{DECAY_MS}"]


@pytest.mark.parametrize("decay", ["dirty_decay_ms:2000", "dirty_decay_ms:500"])
def test_an_operators_own_decay_is_kept_as_given(decay: str) -> None:
    options = allocator_options(**{ALLOCATOR_SETTING: decay})
    assert options[-1] == decay
    assert f"dirty_decay_ms:{DECAY_MS}" not in options


def test_a_command_started_by_a_process_that_imported_polars_still_keeps_freed_pages() -> None:
    # Polars wrote its own options to the parent's environment (a benchmark, a supervisor).
    options = allocator_options(**{ALLOCATOR_SETTING: POLARS_DEFAULT})
    assert options[-1] == f"dirty_decay_ms:{DECAY_MS}"


def test_nothing_changes_once_polars_was_imported_before_neakta() -> None:
    probe = f"import os, polars, neakta\nprint(os.environ[{ALLOCATOR_SETTING!r}])\n"
    env = {k: v for k, v in os.environ.items() if k != ALLOCATOR_SETTING}
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    )
    assert f"dirty_decay_ms:{DECAY_MS}" not in result.stdout
