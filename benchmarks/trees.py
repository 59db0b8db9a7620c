"""A benchmark script run again under another checkout's code, for side-by-side figures.

A script that compares this tree with a baseline (``--baseline DIR``) runs itself with
``--child`` in a subprocess whose path starts with one tree or the other, and reads the
figures the child prints as JSON on its last line. Import this from the parent's code
only: a child imports the baseline's packages, where this module may not exist.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["child_figures"]


def child_figures(script: str, tree: Path, args: Sequence[str]) -> Any:
    """Run ``script --child *args`` with ``tree``'s packages; the JSON it printed last."""
    command = [sys.executable, script, "--child", *args]
    env = os.environ | {"PYTHONPATH": str(tree)}
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])
