"""The ``application/vnd.amazon.eventstream`` framing that Bedrock's ConverseStream uses.

A frame is: total length (4 bytes), headers length (4), CRC32 of those 8 bytes (4), the
headers, the payload, then a CRC32 of everything before it. All integers big-endian.
boto3 checks both CRCs, which is what lets the ``malformed`` fault produce a bad frame.
"""

from __future__ import annotations

import json
import struct
import zlib

_STRING = 7  # header value type: string with a 2-byte length


def _headers(headers: dict[str, str]) -> bytes:
    out = bytearray()
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        out += struct.pack(">B", len(raw_name)) + raw_name
        out += struct.pack(">BH", _STRING, len(raw_value)) + raw_value
    return bytes(out)


def encode_frame(headers: dict[str, str], payload: bytes) -> bytes:
    encoded = _headers(headers)
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message))


def event(event_type: str, body: dict) -> bytes:
    return encode_frame(
        {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"},
        json.dumps(body, separators=(",", ":")).encode(),
    )


def exception(exception_type: str, message: str) -> bytes:
    """An in-stream error, e.g. ``throttlingException``; boto3 raises it as EventStreamError."""
    return encode_frame(
        {":exception-type": exception_type, ":content-type": "application/json",
         ":message-type": "exception"},
        json.dumps({"message": message}).encode(),
    )


def corrupt(frame: bytes) -> bytes:
    """The same frame with its message CRC flipped: a reader must refuse it."""
    crc = struct.unpack(">I", frame[-4:])[0] ^ 0xFFFFFFFF
    return frame[:-4] + struct.pack(">I", crc)
