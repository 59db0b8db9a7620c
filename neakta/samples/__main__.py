"""Run :func:`neakta.samples.cli.main`."""

from neakta.samples.cli import main

raise SystemExit(main())
