"""Serve the built site on 127.0.0.1 (`make site-serve`): the demo page needs a web server.

A page opened from file:// cannot fetch the demo's model files or import onnxruntime-web's
WebAssembly module (Chromium refuses both), so the demo needs a server; every other page
works from file:// too. The server
listens on the loopback address only and names .mjs and .wasm files with the types that
browsers require for them, whatever the system's MIME table says.

    python scripts/serve_site.py [--dir build/site] [--port 8000]
"""

from __future__ import annotations

import argparse
import functools
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TYPES = {".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm",
         ".onnx": "application/octet-stream"}


class Handler(SimpleHTTPRequestHandler):
    """Static files with the module and WebAssembly MIME types; one quiet line per error."""

    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, **TYPES}

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if str(code).startswith(("4", "5")):  # only failed requests
            super().log_request(code, size)


def server(directory: Path, port: int = 0) -> ThreadingHTTPServer:
    """A server for ``directory`` on 127.0.0.1 (port 0: any free port), not yet started."""
    return ThreadingHTTPServer(("127.0.0.1", port),
                               functools.partial(Handler, directory=str(directory)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=ROOT / "build" / "site")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    if not (args.dir / "index.html").is_file():
        print(f"serve_site: error: no site in {args.dir}: build it first with `make site`",
              file=sys.stderr)
        return 2
    try:
        httpd = server(args.dir, args.port)
    except OSError as err:
        print(f"serve_site: error: port {args.port}: {err.strerror}: pick another with --port",
              file=sys.stderr)
        return 2
    print(f"serving {args.dir} at http://127.0.0.1:{httpd.server_port}/ "
          f"(demo: http://127.0.0.1:{httpd.server_port}/demo.html); Ctrl-C stops")
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
