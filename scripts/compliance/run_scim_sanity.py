"""Run `scim-sanity` (same arguments) while writing every HTTP exchange it makes to a trace file.

Usage: run_scim_sanity.py TRACE_FILE probe URL --token ... [scim-sanity options]

The trace is JSON lines: method, URL, request headers (Authorization left out) and body, status,
response headers and body. scim-sanity itself is not changed: only its HTTP client is wrapped.
"""

import json
import sys

from scim_sanity import http_client
from scim_sanity.cli import main


def _body(text):
    if text is None or text == "":
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def install_trace(path: str) -> None:
    trace = open(path, "w", encoding="utf-8")
    seq = [0]
    original = http_client.SCIMClient._request

    def traced(self, method, path, payload=None, extra_headers=None):
        response = original(self, method, path, payload, extra_headers)
        headers = self._build_headers(extra_headers, method=method)
        seq[0] += 1
        entry = {
            "seq": seq[0],
            "method": method,
            "url": f"{self.base_url}{path}",
            "request_headers": {k: v for k, v in headers.items() if k.lower() != "authorization"},
            "request_body": payload,
            "status": response.status_code,
            "response_headers": dict(response.headers),
            "response_body": _body(response.body),
        }
        trace.write(json.dumps(entry) + "\n")
        trace.flush()
        return response

    http_client.SCIMClient._request = traced


if __name__ == "__main__":
    install_trace(sys.argv[1])
    sys.argv = ["scim-sanity"] + sys.argv[2:]
    main()
