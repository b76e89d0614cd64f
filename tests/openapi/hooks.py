"""schemathesis hooks for this API, loaded by check.py: how to send a body
of a media type schemathesis has no serializer for."""

import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    """A generated NDJSON file (the document says: a string) as it is;
    anything else generated for it as one JSON line."""
    if isinstance(value, bytes):
        return {"data": value}
    if isinstance(value, str):
        return {"data": value.encode("utf-8")}
    return {"data": (json.dumps(value) + "\n").encode("utf-8")}
