#!/usr/bin/env python3
"""bench/serve: start N sessions on a running `ergon serve` as fast as possible,
wait until every one has ended, and print one line of JSON with the figures.

  sessions.py --url URL --token TOKEN --sessions N --goal GOAL [--timeout S]
              [--serial-reset CLOUD_URL]

With --serial-reset the sessions run one at a time instead, each on a fresh
fleet (POST CLOUD_URL/_control/reset first): the full skill, whose goal cannot
be reached twice on one account.

Session duration is the journal's created_ms -> updated_ms (GET /v1/sessions):
the time a worker ran it, not the time it waited in the queue. Throughput is N
over the wall time from the first POST to the last session's updated_ms.
Exit 1 when a session does not end `done` (or the timeout passes), naming it.
"""
import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

FINAL = {"done", "failed", "aborted"}


def request(url, token, method="GET", body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=60) as res:
            return res.status, json.loads(res.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def percentile(values, p):
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil(n * p / 100)
    return ordered[int(rank) - 1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--sessions", type=int, required=True)
    ap.add_argument("--goal", required=True)
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--serial-reset", metavar="CLOUD_URL")
    args = ap.parse_args()
    if args.sessions < 1:
        ap.error("--sessions must be at least 1")

    def create(_):
        status, body = request(args.url + "/v1/sessions", args.token, "POST", {"goal": args.goal})
        if status != 201 or not isinstance(body, dict) or "id" not in body:
            raise RuntimeError(f"POST /v1/sessions answered {status}: {body}")
        return body["id"]

    def wait(wanted, deadline):
        """Polls GET /v1/sessions until every session in `wanted` has ended."""
        polls = 0
        while True:
            status, body = request(args.url + "/v1/sessions", args.token)
            polls += 1
            if status != 200:
                raise RuntimeError(f"GET /v1/sessions answered {status}: {body}")
            rows = {s["id"]: s for s in body["sessions"] if s["id"] in wanted}
            ended = {
                i: s for i, s in rows.items()
                if not s["busy"] and (s["status"] in FINAL or s["status"] == "waiting")
            }
            if len(ended) == len(wanted):
                return ended, polls
            if time.monotonic() > deadline:
                stuck = sorted(wanted - set(ended))
                states = {i: rows[i]["status"] if i in rows else "queued" for i in stuck}
                sys.stderr.write(f"sessions.py: {len(stuck)} of {len(wanted)} sessions had not "
                                 f"ended after {args.timeout:.0f} s: {json.dumps(states)}\n")
                return None, polls
            time.sleep(0.02)

    t0_ms = time.time() * 1000
    deadline = time.monotonic() + args.timeout
    ended = {}
    polls = 0
    if args.serial_reset:
        for _ in range(args.sessions):
            reset = urllib.request.Request(args.serial_reset + "/_control/reset", data=b"",
                                           method="POST")
            with urllib.request.urlopen(reset, timeout=60):
                pass
            sid = create(0)
            got, n = wait({sid}, deadline)
            polls += n
            if got is None:
                return 1
            ended.update(got)
        posted_ms = t0_ms
    else:
        with ThreadPoolExecutor(max_workers=min(args.sessions, 16)) as pool:
            ids = list(pool.map(create, range(args.sessions)))
        posted_ms = time.time() * 1000
        ended, polls = wait(set(ids), deadline)
        if ended is None:
            return 1

    bad = {i: s["status"] for i, s in ended.items() if s["status"] != "done"}
    if bad:
        sys.stderr.write(f"sessions.py: {len(bad)} of {len(ended)} sessions did not end done:\n")
        for i, st in sorted(bad.items()):
            _, detail = request(args.url + "/v1/sessions/" + i, args.token)
            err = None
            if isinstance(detail, dict):
                report = detail.get("report")
                err = detail.get("error") or (report.get("error") if isinstance(report, dict)
                                              else None)
            sys.stderr.write(f"  {i}: {st}: {err or detail}\n")
        return 1

    durations = [s["updated_ms"] - s["created_ms"] for s in ended.values()]
    last_ms = max(s["updated_ms"] for s in ended.values())
    wall_s = (last_ms - t0_ms) / 1000
    print(json.dumps({
        "sessions": len(ended),
        "post_s": round((posted_ms - t0_ms) / 1000, 3),
        "wall_s": round(wall_s, 3),
        "per_min": round(len(ended) / wall_s * 60, 1),
        "p50_ms": percentile(durations, 50),
        "p99_ms": percentile(durations, 99),
        "max_ms": max(durations),
        "polls": polls,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
