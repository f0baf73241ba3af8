"""Show HTTP exchanges from a compliance trace, compactly.

Usage: trace.py TRACE.jsonl [--check NAME] [--method M] [--url SUBSTRING] [--status N] [--seq A-B]
                [--no-delete-404]

Prints each matching exchange: sequence number, check, request line and body, status and body.
"""

import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("trace")
    ap.add_argument("--check")
    ap.add_argument("--method")
    ap.add_argument("--url")
    ap.add_argument("--status", type=int)
    ap.add_argument("--seq")
    ap.add_argument("--no-delete-404", action="store_true", help="hide cleanup DELETEs answered 404")
    args = ap.parse_args()
    lo, hi = 0, sys.maxsize
    if args.seq:
        a, _, b = args.seq.partition("-")
        lo, hi = int(a), int(b or a)
    for line in open(args.trace, encoding="utf-8"):
        e = json.loads(line)
        if args.check and args.check not in (e.get("checks") or []):
            continue
        if args.method and e["method"] != args.method.upper():
            continue
        if args.url and args.url not in e["url"]:
            continue
        if args.status and e["status"] != args.status:
            continue
        if not lo <= e["seq"] <= hi:
            continue
        if args.no_delete_404 and e["method"] == "DELETE" and e["status"] == 404:
            continue
        check = f" [{e['check']}]" if e.get("check") else ""
        print(f"#{e['seq']}{check} {e['method']} {e['url']}")
        if e.get("request_body") is not None:
            print("  > " + json.dumps(e["request_body"], sort_keys=True))
        print(f"  < {e['status']} " + (json.dumps(e["response_body"], sort_keys=True) if e.get("response_body") is not None else ""))


if __name__ == "__main__":
    main()
