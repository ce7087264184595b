"""``shenjing playground [--host 127.0.0.1] [--port 8000] [--no-browser]``: the page in a browser."""

from __future__ import annotations

import argparse
import errno
import webbrowser

__all__ = ["add_commands"]


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got '{text}'") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535 (0: any free port), got {text}")
    return value


def _run(args: argparse.Namespace) -> int:
    from shenjing.cli_base import UserError
    from shenjing.teach.playground.server import make_server

    try:
        server = make_server(args.host, args.port)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise UserError(f"port {args.port} is in use on {args.host}; try --port {args.port + 1} "
                            f"(or --port 0 for any free port)") from None
        raise UserError(f"cannot listen on {args.host}:{args.port} ({error.strerror or error})") from None
    host, port = server.server_address[:2]
    url = f"http://{'localhost' if host in ('127.0.0.1', '::1') else host}:{port}/"
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {host}, so other machines can reach the playground")
    print(f"shenjing playground at {url}  (Ctrl-C to stop)", flush=True)
    if not args.no_browser:
        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nplayground stopped")
    finally:
        server.trainer.stop()
        server.server_close()
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    playground = commands.add_parser(
        "playground", help="a TensorFlow-Playground-like page in your browser, trained by shenjing",
        description="Serve the playground page on this machine and open it: data sets, features, layers, "
                    "activations, regularisation and optimisers, trained live by a shenjing nn.Module.")
    playground.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: "
                                                                 "this machine only)")
    playground.add_argument("--port", type=_port, default=8000, help="port (default 8000; 0: any free port)")
    playground.add_argument("--no-browser", action="store_true", help="do not open a browser")
    playground.set_defaults(run=_run)
