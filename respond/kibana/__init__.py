"""Kibana: the saved objects analysts start from, and importing them."""

from respond.kibana.importer import ImportResult, import_saved_objects
from respond.kibana.objects import load_ndjson, render_ndjson, saved_objects

__all__ = ["ImportResult", "import_saved_objects", "load_ndjson", "render_ndjson", "saved_objects"]
