#!/usr/bin/python3
"""A stand-in for the platform's NestJS services, for native runs (the end-to-end test, `make run`).

One process plays one service: the API gateway behind gateway-sidecar, or a scrape target such
as user-service / interview-service (it answers /metrics). Python 3 standard library only.

Routes (what the sidecar's built-in routes.yml measures):
  POST /auth/login     200 + `session` cookie; 401 when the JSON body's password is "wrong"
  POST /auth/refresh   200 + a new `session` cookie (rotation); 401 without a cookie
  POST /auth/logout    200, clears the cookie with Max-Age=0
  GET|POST /auth/callback  302 to / + `session` cookie; 400 without ?code=
  GET /users           200 list;  POST /users 201;  GET /users/:id 200 or 404
  PUT|PATCH /users/:id 200 or 404;  DELETE /users/:id 204 or 404
  GET /health          200;  GET /metrics  Prometheus text format (stub_* families only, so
                       nothing mixes into the sidecar's http_* / auth_* families)
Anything else is 404.
"""

import argparse
import json
import re
import secrets
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

USER_ID = re.compile(r"^/users/([^/]+)$")


class State:
    def __init__(self, name):
        self.name = name
        self.lock = threading.Lock()
        self.requests = {}  # (method, status) -> count
        self.users = {"1": {"id": "1", "name": "seed"}}
        self.next_id = 2


class Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 with Content-Length on every answer, so that the sidecar's pooled keep-alive
    # upstream connections are exercised like with Node.
    protocol_version = "HTTP/1.1"
    server_version = "stub-upstream"
    state: State = None  # set by main()

    def log_message(self, fmt, *args):  # quiet: the driver sends hundreds of requests
        pass

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n > 0 else b""
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            return {}

    def _cookie(self, name):
        for part in (self.headers.get("Cookie") or "").split(";"):
            k, _, v = part.strip().partition("=")
            if k == name and v:
                return v
        return None

    def _send(self, status, body=b"", ctype="application/json", headers=()):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if status != 204:
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 204 and self.command != "HEAD":
            self.wfile.write(body)
        with self.state.lock:
            key = (self.command, status)
            self.state.requests[key] = self.state.requests.get(key, 0) + 1

    @staticmethod
    def _new_session():
        return ("Set-Cookie", f"session={secrets.token_urlsafe(24)}; Path=/; HttpOnly; SameSite=Lax")

    def _route(self):
        url = urlsplit(self.path)
        path, m = url.path, self.command
        body = self._body() if m in ("POST", "PUT", "PATCH", "DELETE") else {}
        st = self.state

        if path == "/metrics" and m == "GET":
            return self._send(200, self._metrics(), "text/plain; version=0.0.4; charset=utf-8")
        if path == "/health" and m in ("GET", "HEAD"):
            return self._send(200, {"status": "ok"})

        if path == "/auth/login" and m == "POST":
            if body.get("password") == "wrong":
                return self._send(401, {"message": "Unauthorized"})
            return self._send(200, {"ok": True}, headers=[self._new_session()])
        if path == "/auth/refresh" and m == "POST":
            if not self._cookie("session"):
                return self._send(401, {"message": "Unauthorized"})
            return self._send(200, {"ok": True}, headers=[self._new_session()])
        if path == "/auth/logout" and m == "POST":
            return self._send(
                200, {"ok": True}, headers=[("Set-Cookie", "session=; Path=/; Max-Age=0")]
            )
        if path == "/auth/callback" and m in ("GET", "POST"):
            if not parse_qs(url.query).get("code"):
                return self._send(400, {"message": "missing code"})
            return self._send(302, b"", headers=[("Location", "/"), self._new_session()])

        if path == "/users":
            # Never call _send under st.lock: it takes the lock to count the request.
            if m == "GET":
                with st.lock:
                    users = list(st.users.values())
                return self._send(200, users)
            if m == "POST":
                with st.lock:
                    uid = str(st.next_id)
                    st.next_id += 1
                    user = st.users[uid] = {"id": uid, "name": str(body.get("name", "user"))}
                return self._send(201, user)
        um = USER_ID.match(path)
        if um:
            uid = um.group(1)
            with st.lock:
                user = st.users.get(uid)
                if user is not None and m in ("PUT", "PATCH"):
                    user["name"] = str(body.get("name", user["name"]))
                    user = dict(user)
                if user is not None and m == "DELETE":
                    del st.users[uid]
            if m in ("GET", "PUT", "PATCH", "DELETE"):
                if user is None:
                    return self._send(404, {"message": "Not Found"})
                return self._send(204 if m == "DELETE" else 200, b"" if m == "DELETE" else user)
        return self._send(404, {"message": "Not Found"})

    def _metrics(self):
        with self.state.lock:
            reqs = sorted(self.state.requests.items())
            users = len(self.state.users)
        lines = [
            "# HELP stub_up Always 1: the stub upstream answers.",
            "# TYPE stub_up gauge",
            f'stub_up{{service="{self.state.name}"}} 1',
            "# HELP stub_users Users held by the stub.",
            "# TYPE stub_users gauge",
            f"stub_users {users}",
            "# HELP stub_requests_total Requests answered by the stub.",
            "# TYPE stub_requests_total counter",
        ]
        lines += [f'stub_requests_total{{method="{k[0]}",status="{k[1]}"}} {v}' for k, v in reqs]
        return "\n".join(lines) + "\n"

    def do_GET(self):
        self._route()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listen", default="127.0.0.1:3000", help="HOST:PORT (default 127.0.0.1:3000)")
    ap.add_argument("--name", default="api-gateway", help="service name shown in /metrics")
    args = ap.parse_args()
    host, _, port = args.listen.rpartition(":")
    Handler.state = State(args.name)
    ThreadingHTTPServer.daemon_threads = True
    try:
        srv = ThreadingHTTPServer((host or "127.0.0.1", int(port)), Handler)
    except OSError as e:
        print(f"stub_upstream: cannot listen on {args.listen}: {e}", file=sys.stderr)
        return 1
    print(f"stub_upstream: {args.name} on http://{args.listen}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
