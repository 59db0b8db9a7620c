"""neakta: the composition root (command line, settings, pipeline wiring)."""

from neakta.allocator import keep_freed_memory

keep_freed_memory()  # before anything imports Polars: see neakta.allocator

__all__: list[str] = []
