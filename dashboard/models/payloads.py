"""What tool_logs keeps of a call's input and output: the payload itself while its JSON fits
in LOG_PAYLOAD_MAX_BYTES, else a marker that is still a JSON object:

    {"truncated": true, "bytes": <size of the whole payload's JSON>, "preview": "<its start>"}

so one call can never store more than the cap per payload column, whatever a tool answered.
The log is a record of the call, not an archive of what it carried.
"""

import json
from dataclasses import dataclass

# Room the marker's own keys and the preview's quotes take, within the cap.
MARKER_OVERHEAD = 64
# Below this, a preview is not worth storing (and the marker alone fits any sensible cap).
MIN_PREVIEW_BYTES = 16


@dataclass(frozen=True)
class Truncation:
    """A payload that was too large to keep: its full size and the start that was kept."""

    total_bytes: int
    preview: str


def kept_payload(text: str, cap: int) -> tuple[str, bool]:
    """The JSON text to store for a payload whose JSON is `text`, and whether it was cut: the
    text itself when it fits in `cap` bytes of UTF-8, else the marker (at most `cap` bytes)."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size <= cap:
        return text, False
    budget = max(MIN_PREVIEW_BYTES, cap - MARKER_OVERHEAD)
    preview = text[:budget]
    encoded = json.dumps(preview, ensure_ascii=False)
    while len(encoded.encode("utf-8", "surrogatepass")) > budget and preview:
        # Escaping (\" and \\) or multi-byte characters made it longer: shrink in proportion.
        ratio = budget / len(encoded.encode("utf-8", "surrogatepass"))
        preview = preview[: int(len(preview) * ratio) - 1]
        encoded = json.dumps(preview, ensure_ascii=False)
    marker = f'{{"bytes":{size},"preview":{encoded},"truncated":true}}'
    return marker, True


def truncation_of(payload) -> Truncation | None:
    """The Truncation a stored payload is a marker of, or None for a payload kept whole."""
    if (
        isinstance(payload, dict)
        and set(payload) == {"truncated", "bytes", "preview"}
        and payload["truncated"] is True
        and isinstance(payload["bytes"], int)
        and isinstance(payload["preview"], str)
    ):
        return Truncation(payload["bytes"], payload["preview"])
    return None
