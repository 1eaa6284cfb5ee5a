#!/usr/bin/python3
"""Traffic for the platform's NestJS apps (apps/): logins (some failing), refreshes, OIDC
callbacks, user CRUD and logouts through the gateway sidecar, and interview events straight to
interview-service. Python 3 standard library only.

As a module (monitoring/tools/e2e.py):
    t = Traffic("127.0.0.1:8000", "127.0.0.1:8002")
    t.round(i)          # one round of the mix; t.tally counts what the client saw
    t.tally.auth        # {(type, "success"|"failure"): n}, as the sidecar should count them
    t.tally.user_ops    # {operation: n}, successful user operations
    t.tally.http        # {(method, route, status_code): n}, by the gateway's Nest routes
As a command (`make run`): sends rounds until SIGTERM / Ctrl-C (or --duration seconds).
    traffic.py --gateway 127.0.0.1:8000 --interviews 127.0.0.1:8002 [--pause 0.2]
"""

import argparse
import http.client
import json
import signal
import sys
import threading
import time


class Tally:
    def __init__(self):
        self.auth = {}
        self.user_ops = {}
        self.http = {}
        self.statuses = {}
        self.sent = 0
        self.errors = 0
        self.interviews = 0

    @staticmethod
    def _inc(d, k, n=1):
        d[k] = d.get(k, 0) + n


AUTH = {"/auth/login": "login", "/auth/logout": "logout", "/auth/refresh": "refresh",
        "/auth/callback": "callback"}
USER_OPS = {("POST", "/users", 201): "create", ("PUT", "/users/:id", 200): "update",
            ("PATCH", "/users/:id", 200): "update", ("DELETE", "/users/:id", 204): "delete"}


class Traffic:
    def __init__(self, gateway, interviews=None, timeout=10):
        self.gateway = gateway
        self.interviews = interviews
        self.timeout = timeout
        self.tally = Tally()
        self.lock = threading.Lock()

    def req(self, method, path, route, body=None, token=None, refresh=None, host=None):
        """One request on a fresh connection; returns (status, headers, body bytes) or
        (None, [], b"") on a transport error. `route` is the Nest route it should match."""
        h, _, p = (host or self.gateway).rpartition(":")
        c = http.client.HTTPConnection(h, int(p), timeout=self.timeout)
        headers = {}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if refresh:
            headers["Cookie"] = f"refresh_token={refresh}"
        try:
            c.request(method, path, body=json.dumps(body) if body is not None else None,
                      headers=headers)
            r = c.getresponse()
            data = r.read()
            status, hdrs = r.status, r.getheaders()
        except (OSError, http.client.HTTPException):
            with self.lock:
                self.tally.errors += 1
            return None, [], b""
        finally:
            c.close()
        if host is None:
            t = self.tally
            with self.lock:
                t.sent += 1
                t._inc(t.statuses, status)
                t._inc(t.http, (method, route, str(status)))
                kind = AUTH.get(route)
                if kind:
                    t._inc(t.auth, (kind, "success" if status < 400 else "failure"))
                    if kind in ("login", "callback") and status < 400:
                        t._inc(t.user_ops, "authenticate")
                op = USER_OPS.get((method, route, status))
                if op:
                    t._inc(t.user_ops, op)
        return status, hdrs, data

    @staticmethod
    def refresh_cookie(headers):
        for k, v in headers:
            if k.lower() == "set-cookie" and v.startswith("refresh_token="):
                return v.split(";", 1)[0].split("=", 1)[1] or None
        return None

    @staticmethod
    def token(data):
        try:
            return json.loads(data).get("access_token")
        except (ValueError, AttributeError):
            return None

    def round(self, i):
        st, hd, data = self.req("POST", "/auth/login", "/auth/login",
                                {"username": f"u{i}", "password": "secret"})
        tok, rt = self.token(data), self.refresh_cookie(hd)
        if i % 4 == 0:
            self.req("POST", "/auth/login", "/auth/login", {"username": f"u{i}", "password": "wrong"})
        self.req("GET", "/users", "/users", token=tok)
        st, _, data = self.req("POST", "/users", "/users", {"name": f"user{i}"}, token=tok)
        try:
            uid = str(json.loads(data)["id"])
        except (ValueError, KeyError, TypeError):
            uid = "missing"
        self.req("PUT", f"/users/{uid}", "/users/:id", {"name": f"renamed{i}"}, token=tok)
        if i % 3 == 1:
            self.req("PATCH", f"/users/{uid}", "/users/:id", {"name": f"patched{i}"}, token=tok)
        self.req("GET", f"/users/{uid}", "/users/:id", token=tok)
        st, hd, data = self.req("POST", "/auth/refresh", "/auth/refresh", refresh=rt)
        rt, tok = self.refresh_cookie(hd) or rt, self.token(data) or tok
        if i % 3 == 0:
            self.req("DELETE", f"/users/{uid}", "/users/:id", token=tok)
            self.req("GET", f"/users/{uid}", "/users/:id", token=tok)  # 404 from user-service
            self.req("GET", "/nope", "unmatched")  # no Nest route: 404
        if i % 5 == 0:
            _, hd, _ = self.req("GET", "/auth/callback?code=abc", "/auth/callback")
            self.req("POST", "/auth/logout", "/auth/logout", refresh=self.refresh_cookie(hd))
            self.req("GET", "/auth/callback", "/auth/callback")  # no code: 400
        if i % 7 == 0:
            self.req("POST", "/auth/refresh", "/auth/refresh")  # no cookie: 401
            self.req("GET", "/users", "/users")  # no token: 401
        if i % 2 == 0:  # half the sessions stay open: auth_active_sessions > 0
            self.req("POST", "/auth/logout", "/auth/logout", refresh=rt)
        if self.interviews:
            st, _, _ = self.req("POST", "/interviews", None, {"candidate": f"c{i}"}, host=self.interviews)
            if st == 202:
                with self.lock:
                    self.tally.interviews += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gateway", default="127.0.0.1:8000", help="the sidecar's proxy HOST:PORT")
    ap.add_argument("--interviews", default="127.0.0.1:8002", help="interview-service HOST:PORT ('' for none)")
    ap.add_argument("--pause", type=float, default=0.2, help="seconds between rounds")
    ap.add_argument("--duration", type=float, default=0, help="stop after this many seconds (0: never)")
    try:
        args = ap.parse_args()
    except SystemExit as e:
        sys.exit(64 if e.code else 0)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    t = Traffic(args.gateway, args.interviews or None)
    t0, i = time.monotonic(), 0
    try:
        while not stop.is_set() and (not args.duration or time.monotonic() - t0 < args.duration):
            t.round(i)
            i += 1
            if i % 50 == 0:
                print(f"traffic: {i} rounds, {t.tally.sent} requests, statuses "
                      f"{dict(sorted(t.tally.statuses.items()))}, {t.tally.errors} transport errors, "
                      f"{t.tally.interviews} interview events", flush=True)
            stop.wait(args.pause)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
