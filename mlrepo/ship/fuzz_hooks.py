"""The project's own Schemathesis check, loaded by `st run` through `SCHEMATHESIS_HOOKS` (set by
`mlrepo/ship/fuzz.py`): importing this file registers it, which is all it is for."""

import json

import schemathesis


@schemathesis.check
def error_body(ctx, response, case) -> bool | None:
    """Every 4xx answer is JSON `{"error": "<a message>"}`, so a client can always read why
    (the contract in `mlrepo/ship/serving.py`: input errors name the record and column)."""
    if not 400 <= response.status_code < 500:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("error"), str) or not body["error"].strip():
        text = response.content[:120].decode("utf-8", "replace")
        raise AssertionError(
            f'A {response.status_code} answer without a JSON {{"error": "..."}} body: {text!r}'
        )
    return True
