"""schemathesis hooks for this API, loaded by check.py: how to send a body
of a media type schemathesis has no serializer for, and which generated
requests cannot reach the server at all."""

import json
import urllib.parse

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


# Past 64 KiB the HTTP library refuses a request line itself (414 or 431,
# with no body), before the server sees the request; the server's own 414
# (a JSON body) covers the 8 KiB it allows up to there. Generated queries
# that long test the library, not this API.
MAX_QUERY_BYTES = 32 * 1024


@schemathesis.hook
def filter_query(ctx, query):
    """Leave out generated queries too long to reach the server."""
    if not query:
        return True
    try:
        encoded = urllib.parse.urlencode(query, doseq=True)
    except (TypeError, ValueError):
        return True
    return len(encoded) < MAX_QUERY_BYTES
