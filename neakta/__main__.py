"""``python -m neakta``: the command line, as the ``neakta`` script runs it."""

from neakta.cli import main

raise SystemExit(main())
