"""The fingerprint of an error message: what is left when the values that vary are taken out.

"Tool timed out after 3012 ms" and "Tool timed out after 2950 ms" are one problem; so are
"unknown field 'colour'" and "unknown field 'size'". Quoted values, ids (UUIDs, long hex or
digit-bearing tokens) and numbers are replaced by placeholders; the fingerprint is a short hash
of the result, so that it fits an index and a URL.
"""

import hashlib
import re

QUOTED = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`[^`]*`""")
UUID = re.compile(
    r"\b[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\b"
)
# Tokens that mix letters and digits and are long enough to be ids: 5f3a9c1e, req_8Hx2kq91, ...
TOKEN_ID = re.compile(r"\b(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[\w-]{8,}\b")
HEX = re.compile(r"\b0x[0-9a-fA-F]+\b")
NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)*(?:[eE][-+]?\d+)?")
SPACES = re.compile(r"\s+")
MAX_LENGTH = 2000  # messages are compared by their beginning


def normalise(message: str | None) -> str:
    """The message with quoted values, ids and numbers replaced by placeholders."""
    text = (message or "")[:MAX_LENGTH]
    text = QUOTED.sub("'?'", text)
    text = UUID.sub("<id>", text)
    text = HEX.sub("<id>", text)
    text = TOKEN_ID.sub("<id>", text)
    text = NUMBER.sub("<n>", text)
    return SPACES.sub(" ", text).strip()


def fingerprint(message: str | None) -> str:
    """16 hex characters that stand for the normalised message."""
    return hashlib.sha256(normalise(message).encode("utf-8", "backslashreplace")).hexdigest()[:16]
