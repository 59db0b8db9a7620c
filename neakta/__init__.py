"""neakta: the composition root (command line, settings, pipeline wiring)."""

__all__: list[str] = []
