"""A webhook receiver on 127.0.0.1: records the JSON bodies POSTed to it, answers a chosen status."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Webhook:
    url: str
    status: int = 200
    bodies: list[dict] = field(default_factory=list)
    received: threading.Event = field(default_factory=threading.Event)


@contextlib.contextmanager
def webhook_receiver(status: int = 200, path: str = "/hooks/secret-token") -> Iterator[Webhook]:
    webhook = Webhook(url="", status=status)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            webhook.bodies.append({"path": self.path, "content_type": self.headers.get("Content-Type"), **json.loads(body)})
            self.send_response(webhook.status)
            self.end_headers()
            webhook.received.set()

        def log_message(self, *args):  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    webhook.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield webhook
    finally:
        server.shutdown()
        server.server_close()
