"""`make lab`: open the series in JupyterLab on a laptop, a container, a server or over SSH.

- On a laptop (a desktop session, not root): `jupyter lab notebooks/`, which opens the
  browser, exactly as before.
- As root (Docker containers, many cloud VMs), JupyterLab refuses to start unless it is
  told `--allow-root`; this adds it.
- Without a display (a server, a container, an SSH session) there is no browser to open:
  this adds `--no-browser`, and JupyterLab prints the URL with its token. Over SSH,
  forward the port first: `ssh -N -L 8888:localhost:8888 you@server`, then open the
  printed http://127.0.0.1:8888/lab?token=... URL on your laptop.

Extra arguments go to JupyterLab as they are: `make lab ARGS="--port 9999"`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def headless(environ: dict[str, str] | None = None, platform: str = sys.platform) -> bool:
    """True where no browser can open here: no display on Linux, or an SSH session."""
    env = os.environ if environ is None else environ
    if env.get("SSH_CONNECTION") or env.get("SSH_TTY"):
        return True
    if platform.startswith("linux"):
        return not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
    return False  # macOS and Windows have a desktop


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def lab_command(extra: list[str], root: bool, no_display: bool) -> list[str]:
    """The `jupyter lab` command line for this machine."""
    command = [sys.executable, "-m", "jupyter", "lab", str(ROOT / "notebooks")]
    if root:
        command.append("--allow-root")
    if no_display:
        command.append("--no-browser")
    return command + extra


def main(argv: list[str] | None = None) -> int:
    extra = sys.argv[1:] if argv is None else argv
    root, no_display = is_root(), headless()
    command = lab_command(extra, root, no_display)
    if root:
        print("make lab: running as root (a container?): starting JupyterLab with --allow-root")
    if no_display:
        print("make lab: no display here: open the http://127.0.0.1:...?token=... URL printed "
              "below in a browser; over SSH, first run on your laptop: "
              "ssh -N -L 8888:localhost:8888 you@this-machine")
    sys.stdout.flush()
    os.execv(command[0], command)  # JupyterLab takes over this process (Ctrl-C stops it)


if __name__ == "__main__":
    sys.exit(main())
