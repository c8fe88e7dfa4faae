"""STAND-IN for the Datadog Agent's trace intake (port 8126). Not the Datadog Agent.

The real Agent cannot be pulled on the hosts this project is tested on (no container
registry is reachable), so this answers the way a tracer expects from the Agent:

  PUT/POST /v0.3/traces, /v0.4/traces, /v0.5/traces, /v0.7/traces
                       -> 200 {"rate_by_service":{}} (the payload is read and discarded)
  PUT/POST to other Agent intake paths (stats, telemetry, evp_proxy, profiling, ...)
                       -> 200 {}
  GET /info            -> what the Agent's /info reports, trimmed to the trace endpoints
  GET /standin/stats   -> counters of what was received (for tests)

Like the real Agent, it refuses to start without an API key: the Agent image's first init
step (cont-init.d/01-check-apikey.sh) exits 1 when neither DD_API_KEY nor DD_API_KEY_FILE
gives one, and s6 then takes the container down, so a pod without the key sees the Agent
exit at once, every time. The key itself is not checked (nothing is sent to Datadog).

Nothing is forwarded anywhere. STANDIN_READY_DELAY (seconds, default 0) delays binding
the port, to test slow starts. SIGTERM and SIGINT stop it at once, also during the delay.
"""

import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("STANDIN_PORT", "8126"))
TRACE_PATHS = ("/v0.3/traces", "/v0.4/traces", "/v0.5/traces", "/v0.7/traces")
OTHER_INTAKE_PREFIXES = (
    "/v0.6/stats", "/v0.1/pipeline_stats", "/telemetry/proxy/", "/evp_proxy/",
    "/profiling/", "/debugger/", "/symdb/", "/dogstatsd/", "/tracer_flare/",
)
INFO = {
    "version": "0.0.0-standin",
    "standin": "podwarden Datadog Agent stand-in; traces are accepted and discarded",
    "endpoints": list(TRACE_PATHS),
    "config": {"receiver_port": PORT},
}

counters = {"trace_payloads": 0, "trace_bytes": 0, "other_payloads": 0, "requests": 0}
lock = threading.Lock()


def stop(signum, _frame):
    # Default handlers do not apply to PID 1, so exit explicitly.
    print(f"datadog-standin: signal {signum}, exiting", flush=True)
    os._exit(0)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer has a Content-Length
    server_version = "datadog-standin"

    def read_body(self) -> int:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return total
                self.rfile.read(size)
                self.rfile.readline()
                total += size
        length = int(self.headers.get("Content-Length") or 0)
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 16))
            if not chunk:
                break
            remaining -= len(chunk)
        return length

    def answer(self, status: int, body: dict) -> None:
        data = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        with lock:
            counters["requests"] += 1
        if path == "/info":
            self.answer(200, INFO)
        elif path == "/standin/stats":
            with lock:
                self.answer(200, dict(counters))
        else:
            self.answer(404, {"error": "not found"})

    do_HEAD = do_GET

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        size = self.read_body()
        with lock:
            counters["requests"] += 1
            if path in TRACE_PATHS:
                counters["trace_payloads"] += 1
                counters["trace_bytes"] += size
            elif path.startswith(OTHER_INTAKE_PREFIXES):
                counters["other_payloads"] += 1
        if path in TRACE_PATHS:
            self.answer(200, {"rate_by_service": {}})
        elif path.startswith(OTHER_INTAKE_PREFIXES):
            self.answer(200, {})
        else:
            self.answer(404, {"error": "not found"})

    do_PUT = do_POST

    def log_request(self, code="-", size="-") -> None:
        # Intake and errors only: probes polling /info every few seconds would flood the log.
        if self.command in ("GET", "HEAD") and str(code) == "200":
            return
        super().log_request(code, size)

    def log_message(self, fmt: str, *args) -> None:
        sys.stdout.write("datadog-standin: %s %s\n" % (self.address_string(), fmt % args))
        sys.stdout.flush()


def api_key_present() -> bool:
    if os.environ.get("DD_API_KEY", "").strip():
        return True
    key_file = os.environ.get("DD_API_KEY_FILE", "")
    try:
        with open(key_file, encoding="utf-8") as f:
            return bool(f.read().strip())
    except OSError:
        return False


def main() -> None:
    if not api_key_present():
        print(
            "datadog-standin: no API key: set DD_API_KEY (or DD_API_KEY_FILE) to run the Agent; "
            "exiting 1 as the real Agent's init does",
            file=sys.stderr,
            flush=True,
        )
        sys.exit(1)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    raw = os.environ.get("STANDIN_READY_DELAY", "0") or "0"
    try:
        delay = float(raw)
    except ValueError:
        sys.exit(f"datadog-standin: STANDIN_READY_DELAY must be a number of seconds, got {raw!r}")
    if delay > 0:
        print(f"datadog-standin: waiting {delay:g}s before listening (STANDIN_READY_DELAY)", flush=True)
        time.sleep(delay)
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
    print(f"datadog-standin: listening on {PORT} (a stand-in, not the Datadog Agent)", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
