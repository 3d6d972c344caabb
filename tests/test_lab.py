"""`make lab` works as root and without a display: the server starts and answers HTTP."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("lab", REPO / "scripts" / "lab.py")
lab = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lab)


def test_headless_detection():
    assert lab.headless({}, "linux")  # a server or container: no display
    assert not lab.headless({"DISPLAY": ":0"}, "linux")  # a Linux desktop
    assert lab.headless({"DISPLAY": ":0", "SSH_CONNECTION": "1.2.3.4 5 6.7.8.9 22"}, "linux")
    assert not lab.headless({}, "darwin")  # a Mac laptop opens its browser


def test_command_line_for_each_case():
    laptop = lab.lab_command([], root=False, no_display=False)
    assert laptop[-1].endswith("notebooks") and "--allow-root" not in laptop
    assert "--no-browser" not in laptop  # a laptop user's experience is unchanged
    server = lab.lab_command(["--port", "9999"], root=True, no_display=True)
    assert "--allow-root" in server and "--no-browser" in server and server[-2:] == ["--port", "9999"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_lab_serves_as_root_and_headless(tmp_path):
    port, token = _free_port(), "tfpt-test-token"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"))
    server = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "lab.py"), "--port", str(port),
         f"--IdentityProvider.token={token}", "--ServerApp.ip=127.0.0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        answer = None
        for _ in range(120):  # up to 60 s for the server to come up
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}",
                                            timeout=2) as response:
                    answer = json.loads(response.read())
                    break
            except OSError:
                if server.poll() is not None:
                    break
                time.sleep(0.5)
        assert answer is not None, f"no HTTP answer; server said:\n{server.stdout.read()[-3000:]}"
        assert "started" in answer
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=30)
    if lab.is_root():
        assert "--allow-root" in out or "running as root" in out
    assert "no display here" in out
