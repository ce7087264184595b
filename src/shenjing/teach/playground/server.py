"""The playground's web server (the standard library's ``ThreadingHTTPServer``): the page, a JSON API
over one ``Session``, and a training thread.

Requests not from the page are refused: the ``Host`` header must name this server (so a web site that
points its own name at 127.0.0.1 gets nothing), an ``Origin`` or ``Sec-Fetch-Site`` header must say the
request comes from the page itself (a link from another site may open the page, as a shared link does,
but not call the API; the page may not be framed), and every ``POST`` must carry JSON (which another site's page can
only send after a CORS preflight this server never grants). The server serves the files of its
``static`` folder by name and nothing else.

API (JSON in and out; errors are ``{"error": "..."}`` with status 400, 403, 404 or 413):

====================================  ===========================================================
``GET /api/state?data=N``              the snapshot (``Session.snapshot``) plus ``playing``
``POST /api/settings``                 new settings (a dict of URL-hash values): new data and model
``POST /api/control``                  ``{"action": "play" | "pause" | "step" | "reset"}``
``POST /api/point``                    ``{"x1", "x2", "label"}``: add a training point
``POST /api/clear``                    remove every point (then click your own)
``POST /api/csv``                      ``{"text": "x1,x2,label\\n..."}``: your data
``POST /api/parameter``                ``{"layer", "neuron", "source" (null: the bias), "value"}``
``POST /api/backprop``                 ``{"x1", "x2", "label"}``: one example's numbers
``POST /api/linear``                   the perceptron's and the linear SVM's lines
``GET /api/export/playground_model.py`` and ``.../playground_model.shenjing``: the export
====================================  ===========================================================
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from shenjing.teach.playground import export, lessons
from shenjing.teach.playground.session import Session
from shenjing.teach.playground.settings import Settings

__all__ = ["Trainer", "make_server", "MAX_BODY", "STATIC_FILES"]

MAX_BODY = 2 * 1024 * 1024
"""The largest request body (a CSV upload) in bytes."""

STATIC_FILES = {"/": ("index.html", "text/html; charset=utf-8"),
                "/index.html": ("index.html", "text/html; charset=utf-8"),
                "/playground.js": ("playground.js", "text/javascript; charset=utf-8"),
                "/network.js": ("network.js", "text/javascript; charset=utf-8"),
                "/plane.js": ("plane.js", "text/javascript; charset=utf-8"),
                "/playground.css": ("playground.css", "text/css; charset=utf-8")}
"""The page's files, by URL: the only files the server reads."""

_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
                               "frame-ancestors 'none'",
}


class Trainer:
    """A ``Session`` and the thread that trains it while the page says "play".

    The thread trains one epoch, then sleeps at least as long as the epoch took (the machine is shared),
    and pauses by itself when the page has not asked for the state for ``idle_pause`` seconds (a closed tab).
    """

    def __init__(self, session: Session | None = None, idle_pause: float = 20.0) -> None:
        self.session = session or Session()
        self.playing = False
        self.idle_pause = idle_pause
        self.last_seen = time.monotonic()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.thread = threading.Thread(target=self._run, name="playground-trainer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.playing:
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            if time.monotonic() - self.last_seen > self.idle_pause:
                self.playing = False
                continue
            if self.session.diverged:
                self.playing = False
                continue
            started = time.monotonic()
            self.session.train_epoch()
            self._stop.wait(max(0.01, time.monotonic() - started))

    def play(self) -> None:
        self.last_seen = time.monotonic()
        self.playing = True
        self._wake.set()

    def pause(self) -> None:
        self.playing = False

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self.thread.join(timeout=5)


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _number(body: dict, key: str, optional: bool = False) -> Any:
    value = body.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Refused(400, f"'{key}' must be a number, got {json.dumps(value)}")
    return value


def make_server(host: str = "127.0.0.1", port: int = 8000, trainer: Trainer | None = None) -> ThreadingHTTPServer:
    """The playground's server on ``host:port`` (port 0: any free port; see ``server.server_address``);
    ``server.trainer`` holds the session. Serve with ``server.serve_forever()``."""
    trainer = trainer or Trainer()
    session = trainer.session

    class Handler(BaseHTTPRequestHandler):
        server_version = "shenjing-playground"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the terminal shows only the address
            pass

        # -- who is asking ------------------------------------------------------------------

        def _allowed_hosts(self) -> set[str]:
            bound_port = self.server.server_address[1]
            names = {host, "127.0.0.1", "localhost", "[::1]"}
            return {f"{name}:{bound_port}" for name in names}

        def _check_origin(self) -> None:
            given_host = self.headers.get("Host", "")
            if given_host not in self._allowed_hosts():
                raise _Refused(403, f"refused: the Host header '{given_host}' is not this playground's "
                                    f"address; open http://{host}:{self.server.server_address[1]}/")
            origin = self.headers.get("Origin")
            if origin is not None and origin != f"http://{given_host}":
                raise _Refused(403, f"refused: a request from another origin ({origin}); the playground "
                                    f"answers only its own page")
            opening_the_page = self.command in ("GET", "HEAD") and urlsplit(self.path).path in STATIC_FILES \
                and self.headers.get("Sec-Fetch-Mode", "navigate") == "navigate"
            if self.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none") \
                    and not opening_the_page:  # a link from a course page may open the page, nothing more
                raise _Refused(403, "refused: a cross-site request; the playground answers only its own page")

        # -- answering ----------------------------------------------------------------------

        def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in {**_SECURITY_HEADERS, **(extra or {})}.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, value: Any, status: int = 200) -> None:
            # after a refusal the request's body may be unread: close the connection rather than read it
            extra = {"Connection": "close"} if status >= 400 else None
            self._send(status, json.dumps(value, allow_nan=False).encode(), "application/json", extra)

        def _answer(self, action: Callable[[], None]) -> None:
            try:
                self._check_origin()
                action()
            except _Refused as refused:
                self._discard_body()
                self._json({"error": str(refused)}, refused.status)
            except ValueError as error:  # DataError, SettingsError: the user's input
                self._json({"error": str(error)}, 400)
            except Exception as error:  # a bug: say so on the page and in the terminal, keep serving
                traceback.print_exc()
                self._json({"error": f"internal error: {type(error).__name__}: {error}"}, 500)

        def _state(self, data_version: int | None = None) -> dict[str, Any]:
            trainer.last_seen = time.monotonic()
            state = session.snapshot(data_version)
            return {**state, "playing": trainer.playing and not state["warning"]}

        def do_GET(self) -> None:
            self._answer(self._get)

        def do_HEAD(self) -> None:
            self._answer(self._get)

        def do_POST(self) -> None:
            self.body_read = False  # one handler serves every request of a kept-alive connection
            self._answer(self._post)

        def _get(self) -> None:
            url = urlsplit(self.path)
            if url.path in STATIC_FILES:
                name, content_type = STATIC_FILES[url.path]
                body = resources.files("shenjing.teach.playground").joinpath("static", name).read_bytes()
                self._send(200, body, content_type)
            elif url.path == "/favicon.ico":
                self._send(204, b"", "image/x-icon")
            elif url.path == "/api/state":
                query = parse_qs(url.query)
                given = query.get("data", [""])[0]
                self._json(self._state(int(given) if given.isdigit() else None))
            elif url.path == f"/api/export/{export.SCRIPT_NAME}":
                self._send(200, export.python_source(session).encode(), "text/x-python; charset=utf-8",
                           {"Content-Disposition": f'attachment; filename="{export.SCRIPT_NAME}"'})
            elif url.path == f"/api/export/{export.WEIGHTS_NAME}":
                self._send(200, export.weights_bytes(session), "application/octet-stream",
                           {"Content-Disposition": f'attachment; filename="{export.WEIGHTS_NAME}"'})
            else:
                raise _Refused(404, f"not found: {url.path} (the playground serves its page and /api/ only)")

        def _discard_body(self) -> None:
            """Read (and drop) a refused request's body, up to 8 times the limit, so that the client can
            finish sending it and read the answer; the connection is closed afterwards."""
            length = self.headers.get("Content-Length", "")
            if self.command == "POST" and not self.body_read and length.isdigit():
                left = min(int(length), 8 * MAX_BODY)
                while left > 0:
                    chunk = self.rfile.read(min(left, 65536))
                    if not chunk:
                        break
                    left -= len(chunk)

        def _body(self) -> dict[str, Any]:
            if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
                raise _Refused(400, "a POST must carry JSON (Content-Type: application/json)")
            length = self.headers.get("Content-Length", "")
            if not length.isdigit():
                raise _Refused(400, "a POST needs a Content-Length")
            if int(length) > MAX_BODY:
                raise _Refused(413, f"the request holds {int(length):,} bytes; the limit is {MAX_BODY:,} bytes "
                                    f"({MAX_BODY // 2 ** 20} MB)")
            raw = self.rfile.read(int(length))
            self.body_read = True
            try:
                body = json.loads(raw or b"{}")
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise _Refused(400, f"the request is not valid JSON ({error})") from None
            if not isinstance(body, dict):
                raise _Refused(400, "the request must be a JSON object")
            return body

        def _post(self) -> None:
            path = urlsplit(self.path).path
            body = self._body()
            if path == "/api/settings":
                trainer.pause()
                session.configure(Settings.from_dict(body.get("settings", body)))
            elif path == "/api/control":
                action = body.get("action")
                if action == "play":
                    trainer.play()
                elif action == "pause":
                    trainer.pause()
                elif action == "step":
                    trainer.pause()
                    session.train_epoch()
                elif action == "reset":
                    trainer.pause()
                    session.reset()
                else:
                    raise _Refused(400, f"action must be play, pause, step or reset, got {json.dumps(action)}")
            elif path == "/api/point":
                session.add_point(_number(body, "x1"), _number(body, "x2"), _number(body, "label"))
            elif path == "/api/clear":
                trainer.pause()
                session.clear_points()
            elif path == "/api/csv":
                if not isinstance(body.get("text"), str):
                    raise _Refused(400, "'text' must hold the CSV file's text")
                trainer.pause()
                session.load_csv(body["text"])
            elif path == "/api/parameter":
                source = _number(body, "source", optional=True)
                session.set_parameter(int(_number(body, "layer")), int(_number(body, "neuron")),
                                      None if source is None else int(source), float(_number(body, "value")))
            elif path == "/api/backprop":
                self._json(lessons.backprop_example(session, _number(body, "x1"), _number(body, "x2"),
                                                    _number(body, "label")))
                return
            elif path == "/api/linear":
                self._json(lessons.linear_boundaries(session))
                return
            else:
                raise _Refused(404, f"not found: POST {path}")
            self._json(self._state(body.get("data") if isinstance(body.get("data"), int) else None))

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    server.trainer = trainer  # type: ignore[attr-defined]
    return server
