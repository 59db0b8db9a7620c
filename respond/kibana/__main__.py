"""``python -m respond.kibana``: print the saved objects NDJSON (regenerates the file)."""

from respond.kibana.objects import render_ndjson

__all__: list[str] = []

print(render_ndjson(), end="")
