"""Leak reports (`POST /api/v1/leaks`): secret scanners tell us where they found our secrets,
as GitHub's secret-scanning partner programme does.

The body is a JSON array of `{"token", "type", "url", "source"}`, signed: the
`Github-Public-Key-Signature` header is a base64 DER ECDSA P-256 SHA-256 signature of the raw
body by the key `Github-Public-Key-Identifier` names, one of LEAK_REPORT_PUBLIC_KEYS (a JSON
object {identifier: PEM}). A report without a signature that verifies is refused (401) before
its body is read, and changes nothing; one naming more than LEAK_REPORT_MAX_TOKENS tokens is
refused (413 `too_many_leak_reports`) before any is looked up. Each token is then labelled
`true_positive` (one of our keys: dashboard/keys/leaks.py expires or flags it) or
`false_positive`, in the answer GitHub expects.
"""

import base64
import binascii
import functools
import json
import logging
from typing import Annotated, Literal

import msgspec
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from flask import Blueprint, current_app, request

from dashboard.api.answers import ApiError, json_response
from dashboard.api.codes import ErrorCode
from dashboard.keys.leaks import report_leak

bp = Blueprint("leaks", __name__)
logger = logging.getLogger(__name__)

KEY_ID_HEADER = "Github-Public-Key-Identifier"
SIGNATURE_HEADER = "Github-Public-Key-Signature"

Text = Annotated[str, msgspec.Meta(max_length=10_000)]


class LeakReport(msgspec.Struct):
    """One token a scanner found (fields GitHub may add later are ignored)."""

    token: Text
    type: Text
    url: Text = ""
    source: Text = ""


class LeakLabel(msgspec.Struct, forbid_unknown_fields=True):
    """Whether a reported token was one of our keys."""

    token_raw: str
    token_type: str
    label: Literal["true_positive", "false_positive"]


# A report's items left undecoded: counted before any is read into a LeakReport.
UNREAD_REPORTS = msgspec.json.Decoder(list[msgspec.Raw])
REPORTS = msgspec.json.Decoder(list[LeakReport])


@functools.lru_cache(maxsize=4)
def public_keys(configured: str) -> dict[str, ec.EllipticCurvePublicKey]:
    """The EC public keys of LEAK_REPORT_PUBLIC_KEYS by identifier; a key that cannot be read
    is left out (and logged), so a bad setting refuses reports rather than failing them."""
    try:
        pems = json.loads(configured or "{}")
    except ValueError:
        logger.error("LEAK_REPORT_PUBLIC_KEYS is not a JSON object: every leak report is refused")
        return {}
    if not isinstance(pems, dict):
        logger.error("LEAK_REPORT_PUBLIC_KEYS is not a JSON object: every leak report is refused")
        return {}
    keys = {}
    for identifier, pem in pems.items():
        try:
            key = load_pem_public_key(str(pem).encode())
        except (ValueError, UnsupportedAlgorithm):
            key = None
        if isinstance(key, ec.EllipticCurvePublicKey):
            keys[identifier] = key
        else:
            logger.error("LEAK_REPORT_PUBLIC_KEYS[%r] is no EC public key in PEM", identifier)
    return keys


def verified_body() -> bytes:
    """The raw body, once its signature verifies; else the 401 that says why."""
    key_id = request.headers.get(KEY_ID_HEADER)
    signature = request.headers.get(SIGNATURE_HEADER)
    if not key_id or not signature:
        raise ApiError(
            ErrorCode.MISSING_SIGNATURE,
            f"Sign the report: send {KEY_ID_HEADER} and {SIGNATURE_HEADER}.",
        )
    key = public_keys(current_app.config["LEAK_REPORT_PUBLIC_KEYS"]).get(key_id)
    if key is None:
        raise ApiError(ErrorCode.INVALID_SIGNATURE, "No public key has this identifier.")
    body = request.get_data(cache=True)
    try:
        key.verify(base64.b64decode(signature, validate=True), body, ec.ECDSA(hashes.SHA256()))
    except (binascii.Error, InvalidSignature):
        raise ApiError(
            ErrorCode.INVALID_SIGNATURE, "The signature does not verify for this body."
        ) from None
    return body


def reports_in(body: bytes) -> list[LeakReport]:
    """The reported tokens, or 400/413/422 naming what is wrong with the body. The tokens are
    counted first, without decoding one (msgspec.Raw keeps each as a slice of the body), so an
    oversized batch is refused before any report is built or looked up."""
    limit = current_app.config["LEAK_REPORT_MAX_TOKENS"]
    try:
        if len(UNREAD_REPORTS.decode(body)) > limit:
            raise ApiError(
                ErrorCode.TOO_MANY_LEAK_REPORTS,
                f"A report may name at most {limit} tokens; send smaller batches.",
                limit=limit,
            )
        return REPORTS.decode(body)
    except msgspec.ValidationError as error:
        raise ApiError(
            ErrorCode.INVALID_PARAMETERS,
            str(error),
            errors=[{"path": "/", "message": str(error)}],
        ) from None
    except msgspec.DecodeError as error:
        raise ApiError(ErrorCode.INVALID_JSON, f"The body is not JSON: {error}") from None


@bp.post("/v1/leaks")
def receive_leaks():
    """Label each reported token; expire (or flag) and announce the keys among them."""
    reports = reports_in(verified_body())
    labels = [
        LeakLabel(
            token_raw=report.token,
            token_type=report.type,
            label="true_positive"
            if report_leak(report.token, report.url, report.source)
            else "false_positive",
        )
        for report in reports
    ]
    return json_response(labels)
