"""Run :func:`samples.cli.main`."""

from samples.cli import main

raise SystemExit(main())
