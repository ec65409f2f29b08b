"""Schemathesis hooks for kuota (loaded through SCHEMATHESIS_HOOKS by
scripts/schemathesis).

- A serializer for `application/pdf`, the body of PUT /api/v1/attachments/{name}:
  schemathesis has none built in; the generated value goes on the wire as bytes.
- A new Idempotency-Key per request (see before_call).
- Request lines name each product at most once. JSON Schema cannot say "unique
  by one property" (`uniqueItems` compares whole objects), so the document says
  it in words and this filter keeps generated positive bodies to it.
"""

import re
import uuid

import schemathesis


@schemathesis.serializer("application/pdf")
def pdf(ctx, value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return str(value).encode("utf-8")


def _has_duplicate_products(body):
    if not isinstance(body, dict) or not isinstance(body.get("lines"), list):
        return False
    products = [line.get("product") for line in body["lines"] if isinstance(line, dict)]
    return len(products) != len(set(map(str, products)))


@schemathesis.hook
def filter_body(context, body):
    operation = context.operation
    if operation is None or operation.method.upper() != "POST":
        return True
    if not (operation.path == "/api/v1/quota-requests" or operation.path.endswith("/info-responses")):
        return True
    return not _has_duplicate_products(body)


_IDEMPOTENCY_KEY = re.compile(r"[!-~](?:[ -~]{0,253}[!-~])?")


@schemathesis.hook
def before_call(context, case, kwargs):
    """A client sends a new Idempotency-Key with each new request (the same
    key with another body is refused with 422, as the IETF draft says). A
    well-formed generated key is made unique; a malformed one is sent as
    generated, so the server's refusal of it is still tested."""
    phase = getattr(getattr(case, "meta", None), "phase", None)
    scenario = str(getattr(getattr(phase, "data", None), "scenario", "")).lower()
    if "missing" in scenario:
        return
    headers = case.headers or {}
    key = headers.get("Idempotency-Key")
    if isinstance(key, str) and _IDEMPOTENCY_KEY.fullmatch(key):
        headers["Idempotency-Key"] = f"st-{uuid.uuid4()}"
        case.headers = headers
