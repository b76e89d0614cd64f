"""Checks the running server's OpenAPI document: it must be valid OpenAPI
(openapi-spec-validator), and schemathesis, generating requests for every
documented operation from the document itself (as an admin, with a bearer
token), must find no server error and no response that contradicts the
document (status code, content type, headers, body schema).

Usage: python tests/openapi/check.py http://127.0.0.1:PORT
(the server's first admin password in ITEMSERVE_ADMIN_PASSWORD;
SCHEMATHESIS_EXAMPLES sets the examples per operation, default 50;
SCHEMATHESIS_SEED the seed, default fixed so that runs repeat).
"""

import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

from openapi_spec_validator import validate

CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
])


def main() -> int:
    base = sys.argv[1].rstrip("/")
    with urllib.request.urlopen(f"{base}/openapi.json") as response:
        document = json.load(response)
    validate(document)
    print(f"openapi.json is valid OpenAPI {document['openapi']} "
          f"({len(document['paths'])} paths)")

    form = urllib.parse.urlencode({
        "username": "admin",
        "password": os.environ["ITEMSERVE_ADMIN_PASSWORD"],
    }).encode()
    with urllib.request.urlopen(urllib.request.Request(f"{base}/auth/token", data=form)) as response:
        token = json.load(response)["access_token"]

    st = Path(sys.executable).with_name("st")
    command = [
        str(st), "run", f"{base}/openapi.json",
        "--header", f"Authorization: Bearer {token}",
        "--checks", CHECKS,
        "--max-examples", os.environ.get("SCHEMATHESIS_EXAMPLES", "50"),
        "--seed", os.environ.get("SCHEMATHESIS_SEED", "20261125"),
        # The event stream never ends, so no generated request to it can be
        # answered; tests/api/events.rs checks it.
        "--exclude-path", "/items/events",
        # Unloading a model takes it out of service for the rest of the run,
        # and every later prediction with it answers 503 as documented,
        # which schemathesis counts as a server error; tests/api/repository.rs
        # and tests/triton check the unload.
        "--exclude-path", "/v2/repository/models/{name}/unload",
        "--no-color",
    ]
    # hooks.py: serializers for the media types schemathesis lacks.
    here = Path(__file__).resolve().parent
    env = dict(os.environ, SCHEMATHESIS_HOOKS="hooks",
               PYTHONPATH=os.pathsep.join(filter(None, [str(here), os.environ.get("PYTHONPATH")])))
    return subprocess.run(command, check=False, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
