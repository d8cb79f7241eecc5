"""Wire protocol v1 (protocol/SPEC.md): typed messages and a sans-IO codec."""

from avbridge.protocol.codec import Message, ProtocolError, decode, encode
from avbridge.protocol.schema import (
    FRAME_LAYOUT,
    MAX_BULK_BYTES,
    MAX_HEADER_BYTES,
    SUPPORTED_VERSIONS,
    TYPES,
    VERSION,
)

__all__ = ["Message", "ProtocolError", "decode", "encode", "FRAME_LAYOUT", "MAX_BULK_BYTES",
           "MAX_HEADER_BYTES", "SUPPORTED_VERSIONS", "TYPES", "VERSION", "ERROR_CODES"]

ERROR_CODES: dict[str, str] = {
    "malformed": "the header is not one msgpack map with string keys",
    "bad_utf8": "a string in the header is not valid UTF-8",
    "too_large": "a frame is over its size limit",
    "bad_version": "the protocol version is not supported",
    "unknown_type": "the message type is not known",
    "missing_field": "a required field is absent",
    "bad_field": "a field has the wrong type or an invalid value",
    "bad_frames": "the number or size of the bulk frames is wrong for the type",
    "unexpected_type": "the type exists but may not be sent in this direction",
    "hello_required": "the first message on a connection must be hello",
    "empty_text": "say carried no speakable text",
    "text_too_long": "say carried more text than the server accepts",
    "unknown_session": "no session has this id",
    "session_closed": "the session was closed",
    "busy": "the server has no room for this request (too many sessions, queue full)",
    "internal": "the server failed; the request may be retried",
}
"""Every error code with its meaning; SPEC.md section 7 lists the same."""
