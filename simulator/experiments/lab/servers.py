"""The lab's two HTTP servers on 127.0.0.1: the page server and the collector.

* The **page server** serves the trial page (:data:`TRIAL_PAGE`), the page a trial navigates
  to, a blank page that opens trials it can then close, and receives the page's own report (a
  beacon sent from its page-hide handler: when the page was torn down, whether it saw the
  response). Its packets are never delayed.
* The **collector** is another origin (another port), so every tracking request is a
  cross-origin request, and a ``Content-Type`` of ``application/json`` needs a CORS preflight
  where ``text/plain`` does not. It logs an event only once it has read the whole body, with
  whether it came on a connection that had already served the page's warm-up request.

Both speak HTTP/1.1 with keep-alive, without TLS, one thread per connection.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from simulator.experiments.lab.trial_page import TRIAL_PAGE

SIMPLE_PAGE = "<!doctype html><meta charset=utf-8><title>{}</title><p>{}</p>"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes: without this, Nagle's algorithm holds the body
    # until the headers are acknowledged, a whole extra round trip under emulated latency.
    disable_nagle_algorithm = True
    server: LabServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        """Stay quiet: the lab counts requests, it does not log them."""

    def _reply(self, status: int, body: bytes = b"", kind: str = "text/plain") -> None:
        self.send_response(status)
        origin = self.headers.get("Origin")
        if origin:
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Access-Control-Allow-Credentials", "true")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _trial(self) -> str:
        return parse_qs(urlsplit(self.path).query).get("trial", [""])[0]


class _CollectorHandler(_Handler):
    warmed = False

    def do_OPTIONS(self) -> None:  # noqa: N802 - the base's naming
        """Answer a CORS preflight: any origin may POST JSON."""
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin") or "*")
        self.send_header("Access-Control-Allow-Credentials", "true")
        self.send_header("Access-Control-Allow-Methods", "POST, GET")
        self.send_header("Access-Control-Allow-Headers", "content-type")
        self.send_header("Access-Control-Max-Age", "0")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        """The warm-up request: it opens the connection a warm trial then sends on."""
        self.warmed = True
        self._reply(200, b"ok")

    def do_POST(self) -> None:  # noqa: N802
        """A tracking event: logged once its whole body has been read."""
        self._body()
        self.server.record(self._trial(), {"at": time.monotonic(), "warm": self.warmed})
        self._reply(200, b"ok")


class _PageHandler(_Handler):
    def do_GET(self) -> None:  # noqa: N802
        """The trial page, the next page, or the blank opener."""
        path = urlsplit(self.path).path
        if path == "/trial":
            self._reply(200, TRIAL_PAGE.encode(), "text/html; charset=utf-8")
        else:
            name = path.strip("/") or "blank"
            page = SIMPLE_PAGE.format(name, name)
            self._reply(200, page.encode(), "text/html; charset=utf-8")

    def do_POST(self) -> None:  # noqa: N802
        """The trial page's report, sent from its page-hide handler."""
        try:
            report = json.loads(self._body() or b"{}")
        except ValueError:
            report = {}
        if isinstance(report, dict) and report.get("trial"):
            self.server.record(str(report["trial"]), report)
        self._reply(204)


class LabServer(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 that keeps what it received, by trial.

    Parameters
    ----------
    handler : type
        The request handler class.
    """

    daemon_threads = True

    def __init__(self, handler: type[_Handler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self._lock = threading.Lock()
        self.received: dict[str, dict] = {}
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def handle_error(self, request: object, client_address: object) -> None:
        """Stay quiet when a page goes away mid-answer: that is what the lab provokes."""

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self.server_address[1])

    def record(self, trial: str, what: dict) -> None:
        """Keep the first thing received for ``trial``."""
        with self._lock:
            self.received.setdefault(trial, what)

    def get(self, trial: str) -> dict | None:
        """What was received for ``trial``, if anything."""
        with self._lock:
            return self.received.get(trial)

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.shutdown()
        self.server_close()


def collector() -> LabServer:
    """Start the collector on a free port of 127.0.0.1."""
    return LabServer(_CollectorHandler)


def page_server() -> LabServer:
    """Start the page server on a free port of 127.0.0.1."""
    return LabServer(_PageHandler)
