"""The byte format of a correlation state snapshot: a JSON header and Arrow IPC frames.

Layout: a magic line, the header length (4 bytes, big-endian), the JSON header (the
scalars, and the byte size of each frame), then each frame as zstd-compressed Arrow IPC.
Frames carry rule ids, not positions, so a snapshot survives a changed rule set.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Sequence
from typing import Any

import polars as pl

from detect.correlation.errors import CorrelationStateError

__all__ = ["decode_state", "encode_state"]

_MAGIC = b"NEAKTA-CORRELATION-STATE-1\n"


def encode_state(header: dict[str, Any], frames: Sequence[pl.DataFrame]) -> bytes:
    """Header scalars and frames as one byte string.

    >>> blob = encode_state({"watermark": 5}, [pl.DataFrame({"ts": [1, 2]})])
    >>> header, frames = decode_state(blob)
    >>> header["watermark"], frames[0]["ts"].to_list()
    (5, [1, 2])
    """
    blobs = []
    for frame in frames:
        buffer = io.BytesIO()
        frame.write_ipc(buffer, compression="zstd")
        blobs.append(buffer.getvalue())
    text = json.dumps({**header, "sizes": [len(b) for b in blobs]}).encode()
    return _MAGIC + struct.pack(">I", len(text)) + text + b"".join(blobs)


def decode_state(blob: bytes) -> tuple[dict[str, Any], list[pl.DataFrame]]:
    """The header and frames of a snapshot; ``CorrelationStateError`` if it is not one."""
    if not blob.startswith(_MAGIC):
        raise CorrelationStateError("not a correlation state snapshot")
    try:
        start = len(_MAGIC)
        (size,) = struct.unpack(">I", blob[start : start + 4])
        header: dict[str, Any] = json.loads(blob[start + 4 : start + 4 + size])
        offset = start + 4 + size
        frames = []
        for length in header["sizes"]:
            frames.append(pl.read_ipc(io.BytesIO(blob[offset : offset + length])))
            offset += length
    except (struct.error, ValueError, KeyError, TypeError, pl.exceptions.PolarsError) as error:
        raise CorrelationStateError(f"unreadable correlation state: {error}") from error
    return header, frames
