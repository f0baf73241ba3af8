"""Run scim2-tester's check_server against a SCIM server and keep everything it saw.

Usage: run_scim2_tester.py BASE_URL OUT_DIR   (token in the SCIM_TOKEN environment variable)

Writes to OUT_DIR:
  scim2-tester.txt          the results as `scim2 test -v` (scim2-cli) prints them
  scim2-tester.json         the results: status, title, resource type, reason, data, tags
  scim2-tester.trace.jsonl  every HTTP exchange (Authorization header left out), each tagged with
                            the check that sent it, so a failing check's requests can be replayed

This is what scim2-cli's `scim2 test` command does (check_server on an httpx2-backed client), without
its terminal formatting, plus the trace. Exit status 0 when the checks ran, whatever they found.
"""

import functools
import json
import os
import sys
import traceback

import httpx2
import scim2_tester
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status
from scim2_tester import check_server

# The check (checker function) running now, innermost last.
_STACK: list[str] = []


def _instrument_checkers() -> None:
    """Make every @checker function record its name while it runs.

    The checkers call one another through their modules' globals, so rebinding those globals to a
    wrapper is enough; scim2-tester itself is not changed.
    """
    wrappers: dict[int, object] = {}
    for name, module in list(sys.modules.items()):
        if not (name == "scim2_tester" or name.startswith("scim2_tester.")):
            continue
        for attr, value in list(vars(module).items()):
            if not (callable(value) and hasattr(value, "tags") and hasattr(value, "__wrapped__")):
                continue
            if id(value) not in wrappers:

                def make(fn, label):
                    @functools.wraps(fn)
                    def wrapper(*args, **kwargs):
                        _STACK.append(label)
                        try:
                            return fn(*args, **kwargs)
                        finally:
                            _STACK.pop()

                    wrapper.tags = fn.tags
                    return wrapper

                wrappers[id(value)] = make(value, value.__wrapped__.__name__)
            setattr(module, attr, wrappers[id(value)])


def _body(raw: bytes):
    if not raw:
        return None
    text = raw.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _jsonable(value):
    try:
        json.dumps(value)
        return value
    except TypeError:
        if hasattr(value, "model_dump"):
            try:
                return value.model_dump(mode="json", exclude_none=True)
            except Exception:
                pass
        return repr(value)


def main() -> int:
    base_url, out_dir = sys.argv[1], sys.argv[2]
    token = os.environ["SCIM_TOKEN"]
    _instrument_checkers()

    trace = open(os.path.join(out_dir, "scim2-tester.trace.jsonl"), "w", encoding="utf-8")
    seq = [0]

    def on_response(response: httpx2.Response) -> None:
        response.read()
        request = response.request
        seq[0] += 1
        entry = {
            "seq": seq[0],
            "check": _STACK[-1] if _STACK else None,
            "checks": list(_STACK),
            "method": request.method,
            "url": str(request.url),
            "request_headers": {
                k: v for k, v in request.headers.items() if k.lower() != "authorization"
            },
            "request_body": _body(request.content),
            "status": response.status_code,
            "response_headers": dict(response.headers.items()),
            "response_body": _body(response.content),
        }
        trace.write(json.dumps(entry) + "\n")
        trace.flush()

    http = httpx2.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        event_hooks={"response": [on_response]},
        timeout=30,
    )
    client = SyncSCIMClient(http)

    try:
        results = check_server(client)
    except Exception:
        traceback.print_exc()
        return 2

    records = []
    lines = [f"Performing a SCIM compliance check on {base_url} ..."]
    for r in results:
        records.append(
            {
                "status": r.status.name,
                "title": r.title,
                "resource_type": r.resource_type,
                "reason": r.reason,
                "data": _jsonable(r.data),
                "tags": sorted(r.tags),
                "description": r.description,
            }
        )
        rt = f" [{r.resource_type}]" if r.resource_type else ""
        lines.append(f"{r.status.name} {r.title}{rt}")
        if r.reason:
            lines.append(f"  {r.reason}")
            if r.status not in (Status.SUCCESS, Status.COMPLIANT) and r.data is not None:
                lines.append(f"  {_jsonable(r.data)}")

    with open(os.path.join(out_dir, "scim2-tester.json"), "w", encoding="utf-8") as f:
        json.dump(
            {"checker": "scim2-tester", "version": scim2_tester_version(), "results": records},
            f,
            indent=2,
        )
    with open(os.path.join(out_dir, "scim2-tester.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def scim2_tester_version() -> str:
    from importlib.metadata import version

    return version("scim2-tester")


if __name__ == "__main__":
    sys.exit(main())
