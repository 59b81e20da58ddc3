"""Real local receivers on 127.0.0.1: an SMTP server (aiosmtpd), a chat webhook and a Telegram Bot API stand-in.

Each records what arrived; `fail_with` makes the HTTP ones answer an error status until cleared.
"""

from __future__ import annotations

import json
import socket
import threading
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpReceiver:
    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list = []
        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                receiver.messages.append(message_from_bytes(envelope.content, policy=policy.default))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()


class _HttpReceiver:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.fail_with: int | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, answer = receiver.answer(self.path, dict(self.headers), body)
                raw = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class WebhookReceiver(_HttpReceiver):
    """A Slack/Mattermost incoming webhook: accepts {"text": ...} at /hooks/<token>."""

    def answer(self, path: str, headers: dict, body: bytes) -> tuple[int, dict]:
        if self.fail_with:
            return self.fail_with, {"error": "down"}
        data = json.loads(body)
        assert set(data) == {"text"}, data
        self.requests.append({"path": path, "key": headers.get("Idempotency-Key"), "text": data["text"]})
        return 200, {"ok": True}

    def unique(self) -> dict[str, str]:
        """Deliveries as a receiver that honours Idempotency-Key keeps them."""
        return {r["key"]: r["text"] for r in self.requests}


class BotApi(_HttpReceiver):
    """Answers POST /bot<token>/sendMessage like the Telegram Bot API (401 for a wrong token)."""

    def __init__(self, token: str) -> None:
        self.token = token
        super().__init__()

    def answer(self, path: str, headers: dict, body: bytes) -> tuple[int, dict]:
        if self.fail_with:
            return self.fail_with, {"ok": False, "error_code": self.fail_with, "description": "Internal Server Error"}
        if path != f"/bot{self.token}/sendMessage":
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        data = json.loads(body)
        if not data.get("chat_id") or not data.get("text"):
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"}
        self.requests.append(data)
        return 200, {
            "ok": True,
            "result": {
                "message_id": len(self.requests),
                "chat": {"id": data["chat_id"]},
                "date": 0,
                "text": data["text"],
            },
        }
