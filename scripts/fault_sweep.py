"""Re-run the reliability review's Table A (213 ``tfpt`` command-line cases) against this checkout.

The review (``../shared/reviews/reliability.md``, "Table A") ran every case below once
and recorded the exit code, whether a Python traceback appeared and the last line
printed. This script defines the same rows, with the same ids, grouped in categories;
builds the faults they need under a temporary folder (broken copies of the offline
sample, tmpfs mounts, ``chattr +i``, ``unshare --user``, crafted checkpoints and
pickles); runs each command in a subprocess with a timeout; and classifies it:

- ``ok``: the expected exit code and outcome;
- ``traceback``: "Traceback (most recent call last)" appeared in the output;
- ``hang``: still running at the timeout (then killed; shown as rc 124, like ``timeout``);
- ``wrong``: another exit code, or a wrong outcome (an error message that is not one
  ``tfpt <command>: error:`` line, metrics that do not match the checkpoints, a payload
  that ran, a file changed or lost, a resumed run that differs from the uninterrupted one);
- ``skip``: the harness could not set the case up (not root, no tmpfs, a signal never sent).

Expectations: bad input exits 2 with exactly one line ``tfpt <command>: error: ...``,
the last line printed; ``tfpt doctor`` exits 1 on broken data and 0 on good data;
SIGINT exits 130, SIGTERM 143 and SIGKILL 137; controls and valid runs exit 0. A row's
``note`` says where the expectation differs from what the review accepted. Each row
also carries what the review recorded (:class:`Review`), judged by the same rules, so
the report gives before/after counts per category.

Stdlib only: the ``tfpt`` commands, and a few helpers that need numpy, torch or keras
to craft files or to load checkpoints, run in subprocesses of the interpreter that
runs this script (use the project's). Linux, as root (mount, chattr, unshare), one
case at a time: each command loads torch and TensorFlow (10-20 s of CPU)::

    .venv/bin/python scripts/fault_sweep.py                 # all rows, about an hour
    .venv/bin/python scripts/fault_sweep.py --only resume,bench
    .venv/bin/python scripts/fault_sweep.py --ids int_sigint_resume   # pulls in int_sigint, ref3
    .venv/bin/python scripts/fault_sweep.py --ids dd_cifar_badshape --merge /tmp/fault_sweep.json

The sample in ``$TFPT_DATA_DIR`` (default ``../shared/datasets``) is only read: every
broken copy is a copy, and the sample is checked against its SHA256SUMS at the end.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime
import hashlib
import json
import marshal
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import types
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable  # runs tfpt and the helpers: the project's interpreter
TRACEBACK = "Traceback (most recent call last)"
COMMANDS = ("doctor", "bench", "train", "export")
VERDICTS = ("ok", "traceback", "hang", "wrong", "skip")
CATEGORIES = ("cli/numbers", "huge values", "nan", "outputs", "resume", "interrupts", "disk full",
              "data files", "manifests", "special files", "malicious files", "env vars",
              "concurrency", "bench", "ddp")
# Inherited variables that would change what a case tests.
SCRUB = ("TF_CONFIG", "WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR",
         "MASTER_PORT", "TFPT_QUICK", "TFPT_OUT_LOCKED", "TFPT_DATA_DIR")

M, C = "MNIST/raw", "cifar-10-batches-py"
TRAIN_IMAGES, TRAIN_LABELS = f"{M}/train-images-idx3-ubyte", f"{M}/train-labels-idx1-ubyte"
TEST_LABELS = f"{M}/t10k-labels-idx1-ubyte"

S = ["--limit", "256", "--val-limit", "256", "--test-limit", "256"]
E1 = ["--epochs", "1", *S]  # the review's "-e1"
BASE = ["--epochs", "2", *S]  # base_torch / base_tf: what the resume rows start from
INTR = ["--epochs", "3", "--limit", "2048", "--val-limit", "512", "--test-limit", "512",
        "--log-every", "4"]  # ref3 and the interrupted runs: 16 steps per epoch
CIFAR = ["--dataset", "cifar10", "--width", "4"]
BENCH = ["bench", "--steps", "2", "--repeats", "1", "--batch-size", "32", "--framework", "torch",
         "--sections", "loops"]


class Skip(Exception):
    """The harness could not set a case up or run it as the review did."""


# --- rows ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Review:
    """What the review recorded: exit code, traceback, and a wrong outcome it noted in its
    "files lost / corrupted" column or findings (judged by this script's rules)."""

    rc: int = 0
    tb: bool = False
    wrong: str = ""


@dataclass(frozen=True)
class Trigger:
    """Send ``sig`` once ``after`` was printed (plus ``delay`` s); with ``staging``, once
    ``after`` was printed and then a staging folder ``OUT/.last.*`` of a save appeared."""

    sig: int
    after: str
    delay: float = 0.0
    staging: bool = False


@dataclass
class Case:
    id: str
    category: str
    what: str
    argv: list[str]  # after ``tfpt``; {dir}, {out}, {cwd} and {data} are filled in
    expect: tuple[int, ...] = (0,)
    review: Review = Review()
    env: dict = field(default_factory=dict)  # None unsets a variable
    data: str = ""  # a broken copy of the sample (BROKEN) as TFPT_DATA_DIR; "" = the sample
    out: str = "{dir}/out"  # what {out} is; checks look there
    out_from: str = ""  # continue the output folder of this earlier row (resume rows)
    setup: Callable | None = None  # setup(ctx) before the command
    check: Callable | None = None  # check(ctx, result) -> a problem, or ""
    trigger: Trigger | None = None
    needs: tuple[str, ...] = ()
    timeout: float = 180
    wrap: tuple[str, ...] = ()  # e.g. unshare --user
    note: str = ""  # where the expectation differs from the review's
    runner: Callable | None = None  # runner(ctx) -> Result, for a case of two commands

    def __post_init__(self):
        if self.out_from and self.out_from not in self.needs:
            self.needs = (*self.needs, self.out_from)

    def before(self) -> str:
        """The review's result under this script's rules."""
        r = self.review
        if r.rc == 124:
            return "hang"
        if r.tb:
            return "traceback"
        return "wrong" if r.wrong or r.rc not in self.expect else "ok"


@dataclass
class Result:
    rc: int
    output: str
    seconds: float
    timed_out: bool = False
    signalled: bool = True  # False: the case's trigger never fired
    leftover: list[int] = field(default_factory=list)  # its processes alive after it ended
    extra: dict = field(default_factory=dict)

    @property
    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.output.splitlines() if line.strip()]

    @property
    def traceback(self) -> bool:
        return TRACEBACK in self.output

    @property
    def last_line(self) -> str:
        return self.lines[-1] if self.lines else ""


# --- running one command ----------------------------------------------------------------------

def session_members(sid: int) -> list[int]:
    """Live processes of session ``sid`` (every case runs in a session of its own)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


class Running:
    """One command in its own session; threads collect its output and send the trigger."""

    def __init__(self, cmd: list[str], cwd: Path, env: dict, trigger: Trigger | None, out: Path):
        self.trigger, self.out, self.chunks = trigger, out, []
        self.sent = False
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        armed = False
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode(errors="replace")
            self.chunks.append(line)
            t = self.trigger
            if t is not None and not armed and t.after in line:
                armed = True
                target = self._watch_staging if t.staging else self._send
                threading.Timer(t.delay, target).start()

    def _send(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(self.trigger.sig)
                self.sent = True

    def _watch_staging(self) -> None:
        """Signal the moment a staging folder of an atomic save (``.last.pt.*``) exists."""
        while self.proc.poll() is None:
            with contextlib.suppress(OSError):
                if any(e.name.startswith(".last.") and e.is_dir() for e in os.scandir(self.out)):
                    self._send()
                    return
            time.sleep(0.002)

    def _kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def finish(self, timeout: float) -> Result:
        timed_out = False
        try:
            self.proc.wait(timeout=max(1.0, timeout - (time.monotonic() - self.started)))
        except subprocess.TimeoutExpired:
            timed_out = True
            self._kill_group()
            self.proc.wait()
        seconds = time.monotonic() - self.started
        deadline = time.monotonic() + 10  # workers die with their launcher (PDEATHSIG)
        while (leftover := session_members(self.proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.2)
        if leftover:
            self._kill_group()
        self.reader.join(timeout=10)
        rc = 124 if timed_out else self.proc.returncode
        rc = 128 - rc if rc < 0 else rc  # killed by signal N: 128 + N, as a shell shows it
        return Result(rc, "".join(self.chunks), seconds, timed_out,
                      self.trigger is None or self.sent, leftover)


# --- the sweep --------------------------------------------------------------------------------

@dataclass
class Ctx:
    """One case's folders and what its setup recorded."""

    sweep: Sweep
    case: Case
    dir: Path
    data: Path
    cleanups: list = field(default_factory=list)
    hashes: dict = field(default_factory=dict)

    @property
    def out(self) -> Path:
        if self.case.out_from:
            return self.sweep.out_of(self.case.out_from)
        return Path(self.fill(self.case.out, out=""))

    @property
    def cwd(self) -> Path:
        return self.dir / "cwd"

    def fill(self, text: str, **more) -> str:
        values = {"dir": self.dir, "cwd": self.cwd, "data": self.data, **more}
        if "out" not in more:
            values["out"] = self.out
        return text.format(**values)


def helper(*args: str) -> str:
    """Run :data:`HELPER` (numpy/torch/keras work) in a subprocess; its stdout."""
    done = subprocess.run([PYTHON, "-c", HELPER, *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if done.returncode != 0:
        raise Skip(f"helper {args[0]} failed: {done.stderr.strip().splitlines()[-1:]}")
    return done.stdout


class Sweep:
    def __init__(self, work: Path, sample: Path, logs: Path):
        self.work, self.sample, self.logs = work, sample, logs
        self.ctxs: dict[str, Ctx] = {}
        self.copies: dict[str, Path] = {}
        self.fixtures: dict[str, Path] = {}
        self.stash: dict[str, Result] = {}

    def dataset(self, name: str) -> Path:
        """A copy of the sample broken as BROKEN[name] says (built once, shared by dd_/dt_ rows)."""
        if name not in self.copies:
            root = self.work / "data" / name
            shutil.copytree(self.sample, root)
            for path in [root, *root.rglob("*")]:
                path.chmod(0o755 if path.is_dir() else 0o644)
            for edit in BROKEN[name]:
                edit(root)
            self.copies[name] = root
        return self.copies[name]

    def out_of(self, source: str) -> Path:
        """The output folder of an earlier row, or of a fixture run (``@name``)."""
        if source.startswith("@"):
            return self.fixture(source[1:])
        if source not in self.ctxs:
            raise Skip(f"needs {source}, which did not run")
        return self.ctxs[source].out

    def fixture(self, name: str) -> Path:
        """A training run that some rows start from but that is no row of the review."""
        if name not in self.fixtures:
            out = self.work / "fixtures" / name
            out.parent.mkdir(parents=True, exist_ok=True)
            done = subprocess.run([PYTHON, "-m", "tfpt", *FIXTURES[name], "--out", str(out)],
                                  cwd=out.parent, env=self.env(), capture_output=True, timeout=600)
            if done.returncode != 0:
                raise Skip(f"fixture {name} exited {done.returncode}")
            self.fixtures[name] = out
        return self.fixtures[name]

    def env(self, ctx: Ctx | None = None, extra: dict | None = None) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in SCRUB}
        env.update(TFPT_DATA_DIR=str(ctx.data if ctx else self.sample), TF_CPP_MIN_LOG_LEVEL="3",
                   PYTHONUNBUFFERED="1")
        for key, value in {**(ctx.case.env if ctx else {}), **(extra or {})}.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = ctx.fill(value)
        return env

    def start(self, ctx: Ctx, argv: list[str], trigger: Trigger | None = None) -> Running:
        cmd = [*ctx.case.wrap, PYTHON, "-m", "tfpt", *(ctx.fill(a) for a in argv)]
        return Running(cmd, ctx.cwd, self.env(ctx), trigger, ctx.out)

    def run(self, case: Case) -> dict:
        """Set up, run and classify one case; always undo its mounts and chattr."""
        ctx = Ctx(self, case, self.work / case.id, self.sample)
        self.ctxs[case.id] = ctx
        result = None
        try:
            ctx.cwd.mkdir(parents=True)
            if case.data:
                ctx.data = self.dataset(case.data)
            if case.setup:
                case.setup(ctx)
            if case.runner:
                result = case.runner(ctx)
            else:
                result = self.start(ctx, case.argv, case.trigger).finish(case.timeout)
            (self.logs / f"{case.id}.log").write_text(result.output)
            verdict, reason = classify(ctx, result)
        except Skip as why:
            verdict, reason = "skip", f"harness: {why}"
        finally:
            for undo in reversed(ctx.cleanups):
                with contextlib.suppress(Exception):
                    undo()
        return {"id": case.id, "category": case.category, "what": case.what,
                "rc": None if result is None else result.rc,
                "traceback": bool(result and result.traceback),
                "last_line": "" if result is None else result.last_line,
                "seconds": None if result is None else round(result.seconds, 1),
                "verdict": verdict, "reason": reason, "before": case.before(),
                "review_rc": case.review.rc, "review_tb": case.review.tb,
                "review_wrong": case.review.wrong, "note": case.note}


def classify(ctx: Ctx, res: Result) -> tuple[str, str]:
    case = ctx.case
    if not res.signalled:
        raise Skip(f"the signal was never sent ({case.trigger.after!r} not seen; exit {res.rc})")
    if res.timed_out:
        return "hang", f"still running after {case.timeout:.0f} s"
    if res.traceback:
        return "traceback", ""
    if res.rc not in case.expect:
        return "wrong", f"exit {res.rc}, expected {' or '.join(map(str, case.expect))}"
    problem = one_line_problem(case, res) if res.rc == 2 else ""
    if not problem and case.argv[:1] == ["doctor"] and res.rc == 1:
        problem = "" if res.last_line.startswith("status: ") else "no status line"
    if not problem and case.check:
        problem = case.check(ctx, res)
    return ("wrong", problem) if problem else ("ok", "")


def one_line_problem(case: Case, res: Result) -> str:
    """Bad input: exactly one ``tfpt <command>: error: ...`` line, and it is the last line."""
    command = case.argv[0] if case.argv and case.argv[0] in COMMANDS else ""
    prefix = f"tfpt {command}: error: " if command else "tfpt: error: "
    errors = [line for line in res.lines if re.match(r"tfpt( \w+)?: error: ", line)]
    if len(errors) != 1:
        return f"{len(errors)} error lines, expected one"
    if not errors[0].startswith(prefix):
        return f"the error line starts {errors[0].split(' error:')[0] + ' error:'!r}, not {prefix!r}"
    if res.last_line != errors[0]:
        return "the error message runs over several lines"
    return ""


# --- set-ups and checks (combined per row) -----------------------------------------------------

def steps(*fns: Callable) -> Callable:
    def run_all(ctx, *result):
        for fn in fns:
            problem = fn(ctx, *result)
            if problem:
                return problem
        return ""
    return run_all


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def copy_run(source: str) -> Callable:
    """Setup: the output folder of ``source`` (a row, or ``@fixture``) copied to OUT."""
    def setup(ctx):
        shutil.copytree(ctx.sweep.out_of(source), ctx.out, symlinks=True)
    return setup


def replace(path: Path, data: bytes) -> None:
    """A new file at ``path`` (whatever was there is removed first: never written through)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    path.write_bytes(data)


def edit_out(name: str, fn: Callable[[bytes], bytes]) -> Callable:
    def setup(ctx):
        replace(ctx.out / name, fn((ctx.out / name).read_bytes()))
    return setup


def rename_out(src: str, dst: str) -> Callable:
    def setup(ctx):
        (ctx.out / src).rename(ctx.out / dst)
    return setup


def snapshot(*names: str) -> Callable:
    """Setup: remember the SHA-256 of these OUT files; :func:`unchanged` compares."""
    def setup(ctx):
        ctx.hashes.update({name: sha256(ctx.out / name) for name in names})
    return setup


def unchanged(ctx, res) -> str:
    for name, digest in ctx.hashes.items():
        path = ctx.out / name
        if not path.exists():
            return f"{name} was removed"
        if sha256(path) != digest:
            return f"{name} was changed"
    return ""


def write_file(template: str, text: str = "precious\n") -> Callable:
    def setup(ctx):
        Path(ctx.fill(template)).write_text(text)
    return setup


def mkdir(template: str, mode: int = 0o755) -> Callable:
    def setup(ctx):
        path = Path(ctx.fill(template))
        path.mkdir(parents=True)
        path.chmod(mode)
    return setup


def root_command(*cmd: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise Skip(f"{' '.join(cmd[:3])} failed: {done.stderr.strip()}")


def tmpfs(template: str, size: str, readonly: bool = False) -> Callable:
    """Setup: a tmpfs of ``size`` mounted there (unmounted after the case)."""
    def setup(ctx):
        path = Path(ctx.fill(template))
        path.mkdir(parents=True, exist_ok=True)
        root_command("mount", "-t", "tmpfs", "-o", f"size={size}" + (",ro" if readonly else ""),
                     "tmpfs", str(path))
        ctx.cleanups.append(lambda: root_command("umount", str(path)))
    return setup


def immutable(template: str) -> Callable:
    """Setup: ``chattr +i`` (undone after the case)."""
    def setup(ctx):
        path = Path(ctx.fill(template))
        root_command("chattr", "+i", str(path))
        ctx.cleanups.append(lambda: root_command("chattr", "-i", str(path)))
    return setup


def fill_disk(template: str) -> Callable:
    """Setup: fill the file system of that folder until not one byte fits."""
    def setup(ctx):
        fd = os.open(Path(ctx.fill(template)) / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            for chunk in (2**20, 4096, 1):
                with contextlib.suppress(OSError):
                    while os.write(fd, b"\0" * chunk):
                        pass
        finally:
            os.close(fd)
    return setup


def says(text: str) -> Callable:
    return lambda ctx, res: "" if text in res.output else f"the output does not say {text!r}"


def never_says(text: str) -> Callable:
    return lambda ctx, res: f"the output says {text!r}" if text in res.output else ""


def no_marker(where: str = "{dir}") -> Callable:
    def check(ctx, res):
        marker = Path(ctx.fill(where)) / "PWNED"
        return f"the payload ran: {marker.name} was created" if marker.exists() else ""
    return check


def exists(template: str) -> Callable:
    def check(ctx, res):
        return "" if Path(ctx.fill(template)).exists() else f"{ctx.fill(template)} was not written"
    return check


def no_staging(ctx, res) -> str:
    stale = [p.name for p in ctx.out.glob(".*.*")
             if p.is_dir() and p.name.split(".")[1] in ("last", "best", "metrics")]
    return f"staging folder(s) left: {', '.join(stale)}" if stale else ""


def no_workers_left(ctx, res) -> str:
    return f"{len(res.leftover)} worker process(es) left running" if res.leftover else ""


def metrics(ctx) -> dict:
    path = ctx.out / "metrics.json"
    return json.loads(path.read_text()) if path.exists() else {}


def metrics_say(**want) -> Callable:
    def check(ctx, res):
        got = metrics(ctx)
        if not got:
            return "no metrics.json"
        flat = {**got, **{f"config_{k}": v for k, v in got.get("config", {}).items()}}
        wrong = [f"{k} {flat.get(k)!r} (expected {v!r})" for k, v in want.items() if flat.get(k) != v]
        return "metrics.json: " + ", ".join(wrong) if wrong else ""
    return check


def no_metrics(ctx, res) -> str:
    return "metrics.json was written" if (ctx.out / "metrics.json").exists() else ""


def checkpoint_epochs(ctx) -> dict:
    """{"last": {"epoch": N} or {"error": ...}, "best": ...}, loaded through tfpt."""
    return json.loads(helper("checkpoints", str(ctx.out)).strip().splitlines()[-1])


def checkpoints(last: int | None = None, best: int | None = None) -> Callable:
    """Check: last.* / best.* load through tfpt and hold these epochs."""
    def check(ctx, res):
        info = checkpoint_epochs(ctx)
        for name, want in (("last", last), ("best", best)):
            got = info.get(name)
            if want is None:
                continue
            if got is None:
                return f"no {name} checkpoint"
            if "error" in got:
                return f"{name} does not load: {got['error']}"
            if got["epoch"] != want:
                return f"{name} holds epoch {got['epoch']}, expected {want}"
        return ""
    return check


def metrics_fit_checkpoints(required: bool = True) -> Callable:
    """Check (H3): metrics.json's epochs and best epoch are those last.* and best.* hold."""
    def check(ctx, res):
        got = metrics(ctx)
        if not got:
            return "no metrics.json" if required else ""
        info = checkpoint_epochs(ctx)
        if any("error" in v for v in info.values()) or set(info) != {"last", "best"}:
            return f"checkpoints: {info}"
        if got["epochs"] != info["last"]["epoch"]:
            return f"metrics.json says {got['epochs']} epochs, last holds epoch {info['last']['epoch']}"
        if got["best_epoch"] != info["best"]["epoch"]:
            return (f"metrics.json says best epoch {got['best_epoch']}, best holds epoch "
                    f"{info['best']['epoch']}")
        if got["val_loss"] != min(got["history"]["val_loss"][:got["epochs"]]):
            return "metrics.json's val_loss is not its best epoch's"
        return "" if got["interrupted"] else "metrics.json does not say interrupted"
    return check


SAME_KEYS = ("epochs", "best_epoch", "val_loss", "val_accuracy", "test_loss", "test_accuracy")
SAME_HISTORY = ("loss", "accuracy", "val_loss", "val_accuracy", "lr")


def identical_to(reference: str) -> Callable:
    """Check: metrics.json and its whole history equal the uninterrupted reference run's."""
    def check(ctx, res):
        ref = json.loads((ctx.sweep.out_of(reference) / "metrics.json").read_text())
        got = metrics(ctx)
        if not got:
            return "no metrics.json"
        diff = [k for k in SAME_KEYS if got[k] != ref[k]]
        diff += [f"history.{k}" for k in SAME_HISTORY if got["history"][k] != ref["history"][k]]
        return f"differs from {reference} in {', '.join(diff)}" if diff else ""
    return check


def keras_spec(name: str, **kwargs) -> Callable:
    """Check: last.keras still names the model it holds (H1: the spec used to become {})."""
    def check(ctx, res):
        with zipfile.ZipFile(ctx.out / "last.keras") as zf:
            spec = json.loads(zf.read("tfpt.json")).get("model") or {}
        got = {"name": spec.get("name"), **{k: spec.get("kwargs", {}).get(k) for k in kwargs}}
        want = {"name": name, **kwargs}
        return "" if got == want else f"last.keras's model spec is {spec}"
    return check


def repo_data_unchanged(ctx, res) -> str:
    now = sorted(str(p.relative_to(REPO / "data")) for p in (REPO / "data").rglob("*"))
    added = sorted(set(now) - set(ctx.hashes["repo_data"]))
    return f"left in the repository's data/: {', '.join(added)}" if added else ""


def remember_repo_data(ctx) -> None:
    before = {str(p.relative_to(REPO / "data")) for p in (REPO / "data").rglob("*")}
    ctx.hashes["repo_data"] = sorted(before)

    def remove_added():
        for path in sorted((REPO / "data").rglob("*"), reverse=True):
            if str(path.relative_to(REPO / "data")) not in before:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
    ctx.cleanups.append(remove_added)


def cwd_empty(ctx, res) -> str:
    left = sorted(p.name for p in ctx.cwd.iterdir())
    return f"wrote into the current folder: {', '.join(left)}" if left else ""


# --- crafted files ---------------------------------------------------------------------------

HELPER = r'''
import json, os, pickle, sys
from pathlib import Path


class Payload:
    """Runs call(arg) when unpickled without a guard."""

    def __init__(self, call, arg):
        self.call, self.arg = call, arg

    def __reduce__(self):
        return (self.call, (self.arg,))


def checkpoints(out):
    import tfpt  # noqa: F401 (the import-order guard first)
    info = {}
    for name in ("last", "best"):
        for suffix in (".pt", ".keras"):
            path = Path(out) / (name + suffix)
            if not path.exists():
                continue
            try:
                if suffix == ".pt":
                    from tfpt.checkpoint import torch as ckpt
                else:
                    from tfpt.checkpoint import keras as ckpt
                info[name] = {"epoch": ckpt.load(path).extra.get("epoch")}
            except Exception as err:
                info[name] = {"error": f"{type(err).__name__}: {err}"[:300]}
    print(json.dumps(info))


def cifar(root, edit):
    import numpy as np
    folder = Path(root) / "cifar-10-batches-py"
    name = ("batches.meta" if edit in ("meta_short", "evil_meta")
            else "data_batch_1" if edit.startswith("evil") else "data_batch_2")
    with open(folder / name, "rb") as f:
        b = pickle.load(f, encoding="bytes")  # the sample itself: trusted
    key = lambda k: k if k in b else k.encode()  # noqa: E731
    marker = str(Path(root) / "PWNED")
    if edit == "badshape":
        b[key("data")] = b[key("data")][:, :3000].copy()
    elif edit == "badlabels":
        b[key("labels")] = [99] * len(b[key("labels")])
    elif edit == "labelcount":
        b[key("labels")] = list(b[key("labels")])[:-10]
    elif edit == "nodata_key":
        del b[key("data")]
    elif edit == "notdict":
        b = [1, 2, 3]
    elif edit == "meta_short":
        b[key("label_names")] = list(b[key("label_names")])[:3]
    elif edit == "float_data":
        b[key("data")] = b[key("data")].astype(np.float32) * 7.3
    elif edit in ("evil_system", "evil_meta"):
        b["x"] = Payload(os.system, f"touch {marker}")
    elif edit == "evil_eval":
        b["x"] = Payload(eval, f"open({marker!r}, 'w').close()")
    (folder / name).unlink()
    (folder / name).write_bytes(pickle.dumps(b, protocol=2))


def evil_pt(kind, path, marker, base=""):
    import torch
    evil = Payload(os.system, f"touch {marker}")
    if kind == "plain":
        torch.save({"x": evil}, path)
    elif kind == "legacy":
        torch.save({"x": evil}, path, _use_new_zipfile_serialization=False)
    else:  # a real tfpt checkpoint with the payload inside "extra"
        checkpoint = torch.load(base, weights_only=True)
        checkpoint["extra"]["x"] = evil
        torch.save(checkpoint, path)


def noextra(path):
    import tfpt  # noqa: F401
    import torch
    from tfpt.checkpoint import torch as ckpt
    from tfpt.models import build
    model = build("torch", "MnistCNN", image_shape=(28, 28, 1))
    ckpt.save(path, model, torch.optim.Adam(model.parameters()))  # as notebook 05 teaches


globals()[sys.argv[1]](*sys.argv[2:])
'''


def evil_pt(kind: str) -> Callable:
    def setup(ctx):
        ctx.out.mkdir()
        base = str(ctx.sweep.out_of("base_torch") / "last.pt") if kind == "tfpt" else ""
        helper("evil_pt", kind, str(ctx.out / "last.pt"), str(ctx.dir / "PWNED"), base)
    return setup


def _keras_function(module: str, name: str) -> dict:
    return {"module": module, "class_name": "function", "config": name, "registered_name": "function"}


def _lambda_layer(marker: Path) -> dict:
    """A Keras Lambda layer whose (marshalled) function would create ``marker``."""
    top = compile(f"lambda t: (open({str(marker)!r}, 'w').close(), t)[1]", "<payload>", "eval")
    code = next(c for c in top.co_consts if isinstance(c, types.CodeType))
    function = {"class_name": "__lambda__", "config": {
        "code": base64.b64encode(marshal.dumps(code)).decode(), "defaults": None, "closure": None}}
    return {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
            "config": {"name": "evil", "trainable": True, "dtype": "float32", "function": function,
                       "arguments": {}, "output_shape": None, "mask": None}}


def evil_keras(kind: str) -> Callable:
    """Setup: base_tf's last.keras with its config.json rewritten to carry a payload."""
    def setup(ctx):
        with zipfile.ZipFile(ctx.sweep.out_of("base_tf") / "last.keras") as zf:
            members = {name: zf.read(name) for name in zf.namelist()}
        config = json.loads(members["config.json"])
        layers, marker = config["config"]["layers"], ctx.dir / "PWNED"
        if kind == "lambda":
            layers.insert(1, _lambda_layer(marker))
        elif kind == "ossystem":
            layers[1]["config"]["activation"] = _keras_function("os", "system")
        elif kind == "enable_unsafe":
            layers[1]["config"]["activation"] = _keras_function("keras.config",
                                                                "enable_unsafe_deserialization")
        else:  # a layer that is subprocess.Popen(["touch", marker])
            layers[4] = {"module": "subprocess", "class_name": "Popen", "registered_name": None,
                         "config": {"args": ["touch", str(marker)]}}
        members["config.json"] = json.dumps(config).encode()
        ctx.out.mkdir()
        with zipfile.ZipFile(ctx.out / "last.keras", "w") as zf:
            for name, blob in members.items():
                zf.writestr(name, blob)
    return setup


def noextra_checkpoint(ctx) -> None:
    ctx.out.mkdir()
    helper("noextra", str(ctx.out / "last.pt"))


# --- broken copies of the sample --------------------------------------------------------------

def truncate(rel: str, by: int) -> Callable:
    return lambda root: replace(root / rel, (root / rel).read_bytes()[:-by])


def flip(rel: str, at: int = 100_000, n: int = 16) -> Callable:
    def edit(root):
        raw = bytearray((root / rel).read_bytes())
        raw[at:at + n] = bytes(b ^ 0xFF for b in raw[at:at + n])
        replace(root / rel, bytes(raw))
    return edit


def patch(rel: str, at: int, data: bytes) -> Callable:
    def edit(root):
        raw = bytearray((root / rel).read_bytes())
        raw[at:at + len(data)] = data
        replace(root / rel, bytes(raw))
    return edit


def randomize(rel: str) -> Callable:
    return lambda root: replace(root / rel, random.Random(rel).randbytes((root / rel).stat().st_size))


def zero(rel: str) -> Callable:
    return lambda root: replace(root / rel, b"")


def remove(rel: str) -> Callable:
    return lambda root: (root / rel).unlink()


def labels_14999(root: Path) -> None:
    """A consistent labels file for 14,999 images (header and length agree)."""
    raw = (root / TRAIN_LABELS).read_bytes()
    replace(root / TRAIN_LABELS, raw[:4] + (14999).to_bytes(4, "big") + raw[8:-1])


def folder(rel: str) -> Callable:
    def edit(root):
        (root / rel).unlink()
        (root / rel).mkdir()
    return edit


def dangling(rel: str) -> Callable:
    def edit(root):
        (root / rel).unlink()
        (root / rel).symlink_to(root / "nowhere")
    return edit


def fifo(rel: str) -> Callable:
    def edit(root):
        (root / rel).unlink()
        os.mkfifo(root / rel)
    return edit


def chmod000(rel: str) -> Callable:
    return lambda root: (root / rel).chmod(0)  # a copy: the sample's own file is never touched


def sums(edit: Callable[[str], str]) -> Callable:
    return lambda root: replace(root / "SHA256SUMS", edit((root / "SHA256SUMS").read_text()).encode())


def rehash(root: Path) -> None:
    """A manifest rewritten to match tampered files (an attacker can do that too)."""
    lines = []
    for line in (root / "SHA256SUMS").read_text().splitlines():
        name = line.split(maxsplit=1)[1].strip()
        lines.append(f"{sha256(root / name)}  {name}")
    replace(root / "SHA256SUMS", ("\n".join(lines) + "\n").encode())


def extra_files(root: Path) -> None:
    (root / M / "unknown.bin").write_bytes(random.Random(1).randbytes(1000))
    (root / "stray.txt").write_text("not data\n")
    (root / C / "data_batch_6").write_bytes(random.Random(2).randbytes(1000))


def cifar(edit: str) -> Callable:
    return lambda root: helper("cifar", str(root), edit)


def _wrong_hash(text: str) -> str:
    out = []
    for line in text.splitlines():
        if "train-images" in line:
            line = ("0" if line[0] != "0" else "1") + line[1:]
        out.append(line)
    return "\n".join(out) + "\n"


NOSUMS = remove("SHA256SUMS")
TI, DB2, DB3 = TRAIN_IMAGES, f"{C}/data_batch_2", f"{C}/data_batch_3"
BROKEN: dict[str, list[Callable]] = {
    "base": [],
    "mnist_trunc": [truncate(TI, 1000)],
    "mnist_trunc_nosums": [truncate(TI, 1000), NOSUMS],
    "mnist_flip": [flip(TI)],
    "mnist_flip_nosums": [flip(TI), NOSUMS],
    "mnist_missing": [remove(TEST_LABELS)],
    "mnist_missing_nosums": [remove(TEST_LABELS), NOSUMS],
    "mnist_zero": [zero(TRAIN_LABELS)],
    "mnist_zero_nosums": [zero(TRAIN_LABELS), NOSUMS],
    "mnist_badlabels": [patch(TRAIN_LABELS, 8, bytes([200]) * 100), NOSUMS],
    "mnist_countmismatch": [labels_14999, NOSUMS],
    "mnist_hugedims": [patch(TI, 4, b"\xff\xff\xff\xff"), NOSUMS],
    "cifar_trunc": [truncate(DB3, 100_000)],
    "cifar_trunc_nosums": [truncate(DB3, 100_000), NOSUMS],
    "cifar_flip": [flip(DB3)],
    "cifar_flip_nosums": [flip(DB3), NOSUMS],
    "cifar_random": [randomize(DB3)],
    "cifar_random_nosums": [randomize(DB3), NOSUMS],
    "cifar_badshape": [cifar("badshape"), NOSUMS],
    "cifar_badlabels": [cifar("badlabels"), NOSUMS],
    "cifar_labelcount": [cifar("labelcount"), NOSUMS],
    "cifar_nodata_key": [cifar("nodata_key"), NOSUMS],
    "cifar_notdict": [cifar("notdict"), NOSUMS],
    "cifar_meta_short": [cifar("meta_short"), NOSUMS],
    "cifar_float_data": [cifar("float_data"), NOSUMS],
    "sums_removed": [NOSUMS],
    "sums_malformed": [sums(lambda t: t.rstrip("\n") + "\njustonetoken\n")],
    "sums_wronghash": [sums(_wrong_hash)],
    "sums_partial": [sums(lambda t: "".join(line + "\n" for line in t.splitlines()
                                            if "train-images" not in line))],
    "sums_empty": [sums(lambda t: "")],
    "sums_binary": [lambda root: replace(root / "SHA256SUMS", b"\xf9" + random.Random(3).randbytes(499))],
    "extra_files": [extra_files],
    "unreadable_chmod": [chmod000(TI)],
    "unreadable_dir": [folder(TI)],
    "unreadable_symlink": [dangling(TI)],
    "unreadable_fifo": [fifo(TEST_LABELS)],
    "cifar_evil_system": [cifar("evil_system"), rehash],
    "cifar_evil_eval": [cifar("evil_eval"), rehash],
    "cifar_evil_meta": [cifar("evil_meta"), NOSUMS],
}

FIXTURES = {"torch_half": ["train", "--epochs", "2", "--stop-after", "1", *S]}  # epoch 1 of 2


# --- Table A ----------------------------------------------------------------------------------

R = Review
TB = True
SIGINT, SIGKILL, SIGTERM = signal.SIGINT, signal.SIGKILL, signal.SIGTERM
NODAC = ("unshare", "--user")  # root without CAP_DAC_OVERRIDE: mode bits apply again
PREFIX = "error line 'tfpt: error:', not 'tfpt {}: error:' (L5)"


def cli_rows() -> list[Case]:
    out = ["--out", "{out}"]
    table = [
        ("cli01", ["train", "--bogus"], R(2, wrong=PREFIX.format("train"))),
        ("cli02", ["train", "--epochs", "abc", *out], R(2)),
        ("cli03", ["train", "--epochs", "0", *out], R(2)),
        ("cli04", ["train", "--epochs", "-3", *out], R(2)),
        ("cli05", ["train", "--epochs", "1.5", *out], R(2)),
        ("cli06", ["train", "--epochs", "99999999999999999999999", "--limit", "256", *out,
                   "--stop-after", "0"], R(2)),
        ("cli07", ["train", "--batch-size", "0"], R(2)),
        ("cli08", ["train", "--batch-size", "-1"], R(2)),
        ("cli09", ["train", "--lr", "0"], R(2)),
        ("cli10", ["train", "--lr", "-1"], R(2)),
        ("cli11", ["train", "--lr", "nan"], R(2)),
        ("cli12", ["train", "--lr", "inf"], R(2)),
        ("cli13", ["train", "--lr", "abc"], R(2)),
        ("cli14", ["train", "--lr", "1e400"], R(2)),
        ("cli15", ["train", "--width", "0"], R(2)),
        ("cli16", ["train", "--width", "8"], R(2)),
        ("cli17", ["train", "--limit", "0"], R(2)),
        ("cli18", ["train", "--limit", "-5"], R(2)),
        ("cli19", ["train", "--nproc", "0"], R(2)),
        ("cli20", ["train", "--nproc", "-2"], R(2)),
        ("cli21", ["train", "--timeout", "0"], R(2)),
        ("cli22", ["train", "--timeout", "-1"], R(2)),
        ("cli23", ["train", "--timeout", "nan"], R(2)),
        ("cli24", ["train", "--dataset", "imagenet"], R(2)),
        ("cli25", ["train", "--framework", "jax"], R(2)),
        ("cli26", ["train", "--model", "ResNet50"], R(2)),
        ("cli27", ["train", "--device", "tpu"], R(2)),
        ("cli28", ["train", "--device", "mps"], R(2)),
        ("cli29", ["train", "--seed", "-1"], R(2)),
        ("cli30", ["train", "--seed", "abc"], R(2)),
        ("cli31", ["train", "--log-every", "0"], R(2)),
        ("cli32", ["train", "--stop-after", "0"], R(2)),
        ("cli33", ["bench", "--steps", "0"], R(2)),
        ("cli34", ["bench", "--batch-size", "-1"], R(2)),
        ("cli35", ["bench", "--repeats", "abc"], R(2)),
        ("cli36", ["bench", "--framework", "jax"], R(2)),
        ("cli37", ["bench", "--sections", "foo"], R(2)),
        ("cli38", ["bench", "--models", "Foo"], R(2)),
        ("cli39", ["bench", "--width", "0"], R(2)),
        ("cli40", ["bench", "--bogus"], R(2, wrong=PREFIX.format("bench"))),
        ("cli41", ["doctor", "--bogus"], R(2, wrong=PREFIX.format("doctor"))),
        ("cli42", ["doctor", "extra"], R(2, wrong=PREFIX.format("doctor"))),
        ("cli43", ["frobnicate"], R(2)),
    ]
    rows = [Case("base_torch", "cli/numbers", "train --epochs 2 (control)", ["train", *BASE, *out])]
    rows += [Case(i, "cli/numbers", "tfpt " + " ".join(a), a, (2,), r, check=cwd_empty)
             for i, a, r in table]
    for row in rows[1:]:
        if row.id in ("cli01", "cli40", "cli41", "cli42"):
            row.note = "the README promises `tfpt <command>: error:`; the review let `tfpt: error:` pass (L5)"
    return rows


def number_rows() -> list[Case]:
    out = ["--out", "{out}"]
    return [
        Case("huge01", "huge values", "--epochs 1e23 --stop-after 1",
             ["train", "--epochs", "99999999999999999999999", "--stop-after", "1", *S, *out]),
        Case("huge02", "huge values", "--seed 2**32", ["train", "--seed", "4294967296", *E1, *out],
             (2,), R(1, TB)),
        Case("huge03", "huge values", "--seed 1e23",
             ["train", "--seed", "99999999999999999999999", *E1, *out], (2,), R(1, TB)),
        Case("huge04", "huge values", "--lr 1e300", ["train", "--lr", "1e300", *E1, *out], (2,), R(1, TB)),
        Case("huge05", "huge values", "--batch-size 99999999 over the whole sample (one batch)",
             ["train", "--batch-size", "99999999", "--epochs", "1", *out], timeout=900,
             note="kept at full size (13,500 images in one batch, 147 s in the review): 900 s allowed"),
        Case("huge06", "huge values", "--limit 1e11 --batch-size 4096 --stop-after 1",
             ["train", "--limit", "99999999999", "--batch-size", "4096", "--epochs", "1", "--stop-after",
              "1", "--val-limit", "256", "--test-limit", "256", *out]),
        Case("huge07", "huge values", "--log-every 1e20",
             ["train", "--log-every", "99999999999999999999", *E1, *out]),
        Case("huge_lr_tf", "huge values", "tf --lr 1e300",
             ["train", *E1, "--framework", "tf", "--lr", "1e300", *out], (2,), R(1, TB)),
        Case("nan01", "nan", "--lr 1e10 (diverges to NaN)", ["train", *E1, "--lr", "1e10", *out], (2,),
             R(1, TB, "no last.pt/best.pt written"), check=steps(says("lower --lr"), no_metrics)),
        Case("nan02", "nan", "--lr 30 --epochs 2", ["train", "--lr", "30", *BASE, *out], (0, 2),
             note="exit 2 is fine too: a loss that becomes NaN now stops the run in one line"),
        Case("nan_tf", "nan", "tf --lr 1e10", ["train", *E1, "--framework", "tf", "--lr", "1e10", *out],
             (2,), R(1, TB), check=says("lower --lr")),
    ]


def output_rows() -> list[Case]:
    def train_into(out):
        return ["train", *E1, "--out", out]
    cat = "outputs"
    return [
        Case("out01", cat, "--out a regular file", train_into("{dir}/afile"), (2,), R(2),
             setup=write_file("{dir}/afile"),
             check=lambda ctx, res: "" if (ctx.dir / "afile").read_text() == "precious\n"
             else "afile changed"),
        Case("out02", cat, "--out afile/sub", train_into("{dir}/afile/sub"), (2,), R(2),
             setup=write_file("{dir}/afile")),
        Case("out03", cat, "--out under a chmod 555 folder, as root (mode bits do not apply)",
             train_into("{dir}/ro555/run"), setup=mkdir("{dir}/ro555", 0o555),
             check=exists("{dir}/ro555/run/metrics.json")),
        Case("out04", cat, "--out on a read-only tmpfs", train_into("{dir}/romnt/run"), (2,), R(1, TB),
             setup=tmpfs("{dir}/romnt", "2m", readonly=True)),
        Case("out05", cat, "--out /proc/tfpt_run", train_into("/proc/tfpt_run"), (2,), R(1, TB)),
        Case("out06", cat, "--out /sys/tfpt_run", train_into("/sys/tfpt_run"), (2,), R(1, TB)),
        Case("out07", cat, "--out with spaces and unicode", train_into("{dir}/out/with space/ünïcødé 日本"),
             check=exists("{dir}/out/with space/ünïcødé 日本/metrics.json")),
        Case("out08", cat, "--out ''", train_into(""), (2,),
             R(0, wrong="last.pt, best.pt, metrics.json, runs/ written into the cwd"), check=cwd_empty),
        Case("out09", cat, "--out /dev/null", train_into("/dev/null"), (2,), R(2)),
        Case("out11", cat, "--out under a chattr +i folder", train_into("{dir}/immut/run"), (2,), R(1, TB),
             setup=steps(mkdir("{dir}/immut"), immutable("{dir}/immut"))),
        Case("out12", cat, "epoch 1 of 2 done, then chattr +i OUT; --resume",
             ["train", *BASE, "--resume", "--out", "{out}"], (2,), R(1, TB),
             setup=steps(copy_run("@torch_half"), snapshot("last.pt", "best.pt", "metrics.json"),
                         immutable("{out}")), check=unchanged),
        Case("out03_nodac", cat, "--out under a chmod 555 folder, unshare --user (no DAC override)",
             train_into("{dir}/ro555c/run"), (2,), R(1, TB), setup=mkdir("{dir}/ro555c", 0o555),
             wrap=NODAC),
    ]


def resume_rows() -> list[Case]:
    cat, out = "resume", ["--out", "{out}"]
    resume = ["train", *BASE, "--resume", *out]
    kept = snapshot("last.pt", "best.pt")

    def from_base(*edits, base="base_torch"):
        return steps(copy_run(base), *edits)

    def broken(fn):
        return from_base(edit_out("last.pt", fn), kept)

    fallback = "the fallback message names best.pt only when it is not empty (L5)"
    return [
        Case("res_r_trunc", cat, "last.pt truncated to 5 MB; --resume", resume, (2,), R(2),
             setup=broken(lambda b: b[:5_000_000]), check=unchanged, needs=("base_torch",)),
        Case("res_r_zero", cat, "last.pt zero bytes; --resume", resume, (2,), R(2),
             setup=broken(lambda b: b""), check=unchanged, needs=("base_torch",)),
        Case("res_r_rand", cat, "last.pt = 1 MB random; --resume", resume, (2,), R(2),
             setup=broken(lambda b: random.Random(4).randbytes(2**20)), check=unchanged,
             needs=("base_torch",)),
        Case("res_r_flip", cat, "4 bytes flipped inside last.pt; --resume", resume, (2,), R(2),
             setup=broken(lambda b: b[:len(b) // 2] + bytes(x ^ 0xFF for x in b[len(b) // 2:len(b) // 2 + 4])
                          + b[len(b) // 2 + 4:]), check=unchanged, needs=("base_torch",)),
        Case("res_r_zeroboth", cat, "last.pt and best.pt zero bytes; --resume", resume, (2,),
             R(2, wrong="message says the 0-byte best.pt 'is intact'"),
             setup=from_base(edit_out("last.pt", lambda b: b""), edit_out("best.pt", lambda b: b""), kept),
             check=steps(unchanged, never_says("intact")), needs=("base_torch",), note=fallback),
        Case("res_none", cat, "--resume, OUT does not exist", resume, check=says("starting from scratch")),
        Case("base_tf", cat, "tf --epochs 2 (control)", ["train", "--framework", "tf", *BASE, *out]),
        Case("res_k2t", cat, "a last.keras renamed last.pt; torch --resume", resume, (2,), R(2),
             setup=steps(copy_run("base_tf"), rename_out("last.keras", "last.pt"), snapshot("last.pt")),
             check=unchanged, needs=("base_tf",)),
        Case("res_t2k", cat, "a last.pt renamed last.keras; tf --resume",
             ["train", "--framework", "tf", *BASE, "--resume", *out], (2,), R(2),
             setup=from_base(rename_out("last.pt", "last.keras"), snapshot("last.keras")),
             check=unchanged, needs=("base_torch",)),
        Case("res_mix", cat, "torch run folder, then tf --resume into it",
             ["train", "--framework", "tf", *BASE, "--resume", *out], (2,),
             R(0, wrong="'no last.keras yet, starting from scratch'; the torch run's metrics.json replaced"),
             setup=from_base(snapshot("last.pt", "metrics.json")), check=unchanged, needs=("base_torch",),
             note="now refused: --resume into a folder that holds the other framework's last.* (M4)"),
        Case("res_model", cat, "MnistCNN last.pt; --model MLP --resume",
             ["train", "--model", "MLP", *BASE, "--resume", *out], (2,), R(2),
             setup=from_base(kept), check=unchanged, needs=("base_torch",)),
        Case("res_modelk", cat, "MnistCNN last.keras; tf --model MLP --epochs 3 --resume",
             ["train", "--framework", "tf", "--model", "MLP", "--epochs", "3", *S, "--resume", *out], (2,),
             R(0, wrong="trained the MnistCNN anyway; metrics.json says MLP; last.keras spec {}"),
             setup=from_base(snapshot("last.keras", "metrics.json"), base="base_tf"),
             check=steps(unchanged, keras_spec("MnistCNN")), needs=("base_tf",),
             note="H1: refused in one line (the torch twin's behaviour)"),
        Case("res_ep3", cat, "finished 2-epoch run; --epochs 3 --resume",
             ["train", "--epochs", "3", *S, "--resume", *out], (0,), R(1, TB),
             setup=from_base(), check=metrics_say(epochs=3), needs=("base_torch",),
             note="M1: a larger --epochs now re-plans the one-cycle schedule and trains on (exit 0)"),
        Case("res_bs", cat, "epoch 1 of 2 done; --batch-size 64 --resume",
             ["train", *BASE, "--batch-size", "64", "--resume", *out], (2,), R(1, TB),
             setup=steps(copy_run("@torch_half"), kept), check=steps(unchanged, says("--batch-size 128")),
             note="M1: refused in one line naming the saved --batch-size (it fixes the data order)"),
        Case("res_ds", cat, "mnist last.pt; --dataset cifar10 --model MnistCNN --resume",
             ["train", "--dataset", "cifar10", "--model", "MnistCNN", *BASE, "--resume", *out], (2,), R(2),
             setup=from_base(kept), check=unchanged, needs=("base_torch",)),
        Case("res_epless", cat, "epoch 1 of 2 done; --epochs 1 --resume",
             ["train", "--epochs", "1", *S, "--resume", *out], setup=copy_run("@torch_half"),
             check=metrics_say(epochs=1)),
        Case("base_cifar_w4", cat, "cifar10 --width 4 --epochs 2 --stop-after 1 (control)",
             ["train", *CIFAR, *BASE, "--stop-after", "1", *out]),
        Case("res_width", cat, "width-4 last.pt; --width 8 --resume",
             ["train", "--dataset", "cifar10", "--width", "8", *BASE, "--resume", *out], (2,), R(2),
             setup=from_base(kept, base="base_cifar_w4"), check=unchanged, needs=("base_cifar_w4",)),
        Case("res_width_default", cat, "width-4 last.pt; --resume without --width",
             ["train", "--dataset", "cifar10", *BASE, "--resume", *out], (2,), R(2),
             setup=from_base(kept, base="base_cifar_w4"), check=unchanged, needs=("base_cifar_w4",)),
        Case("res_noextra", cat, "last.pt from tfpt.checkpoint.torch.save(path, model, opt); --resume",
             resume, (2,), R(1, TB), setup=noextra_checkpoint),
        Case("base_cifar_w4_tf", cat, "tf cifar10 --width 4 --epochs 2 --stop-after 1 (control)",
             ["train", "--framework", "tf", *CIFAR, *BASE, "--stop-after", "1", *out]),
        Case("res_width_tf", cat, "tf --width 8 --resume on the width-4 run",
             ["train", "--framework", "tf", "--dataset", "cifar10", "--width", "8", *BASE, "--resume", *out],
             (2,), R(0, wrong="trained the width-4 model; metrics.json says width 8"),
             setup=from_base(snapshot("last.keras", "metrics.json"), base="base_cifar_w4_tf"),
             check=steps(unchanged, keras_spec("FastResNet", width=4)), needs=("base_cifar_w4_tf",),
             note="H1: refused in one line"),
    ]


def interrupt_rows() -> list[Case]:
    cat, out = "interrupts", ["--out", "{out}"]
    run, tf = ["train", *INTR, *out], ["train", *INTR, "--framework", "tf", *out]

    def resumed(id_, source, reference, argv, before=None):
        return Case(id_, cat, f"--resume after {source}", [*argv, "--resume"], review=before or R(),
                    out_from=source, needs=(reference,),
                    check=steps(identical_to(reference), no_staging))

    interrupted = steps(checkpoints(last=1), metrics_fit_checkpoints())
    killed = steps(checkpoints(last=1), no_metrics)
    return [
        Case("ref3", cat, "--epochs 3 --limit 2048 (uninterrupted reference)", run),
        Case("int_sigint", cat, "SIGINT 0.5 s after 'epoch 1/3:'", run, (130,), R(130),
             trigger=Trigger(SIGINT, "epoch 1/3:", 0.5), check=interrupted),
        resumed("int_sigint_resume", "int_sigint", "ref3", run),
        Case("int_sigkill", cat, "SIGKILL at 'epoch 2/3 step 8/16'", run, (137,), R(137),
             trigger=Trigger(SIGKILL, "epoch 2/3 step 8/16"), check=killed),
        resumed("int_sigkill_resume", "int_sigkill", "ref3", run),
        Case("int_sigterm", cat, "SIGTERM at 'epoch 2/3 step 4/16'", run, (143,), R(143),
             trigger=Trigger(SIGTERM, "epoch 2/3 step 4/16"), check=killed),
        resumed("int_sigterm_resume", "int_sigterm", "ref3", run),
        Case("int_kill_in_save", cat, "SIGKILL while epoch 2's OUT/.last.pt.* staging exists", run,
             (137,), R(137), trigger=Trigger(SIGKILL, "epoch 2/3:", staging=True), check=killed),
        resumed("int_kill_in_save_resume", "int_kill_in_save", "ref3", run,
                R(0, wrong="stray staging dir still there (L2)")),
        Case("int_sigint_in_save", cat, "SIGINT while epoch 2's save is staging", run, (130,),
             R(130, wrong="metrics.json best_epoch 2 with the epoch-1 model's test numbers (H3)"),
             trigger=Trigger(SIGINT, "epoch 2/3:", staging=True), check=metrics_fit_checkpoints()),
        resumed("int_sigint_in_save_resume", "int_sigint_in_save", "ref3", run),
        Case("ref3_tf", cat, "tf --epochs 3 --limit 2048 (reference)", tf),
        Case("int_sigint_tf", cat, "tf: SIGINT 0.5 s after 'epoch 1/3:'", tf, (130,), R(130),
             trigger=Trigger(SIGINT, "epoch 1/3:", 0.5), check=interrupted),
        resumed("int_sigint_tf_resume", "int_sigint_tf", "ref3_tf", tf),
        Case("int_sigkill_tf", cat, "tf: SIGKILL at 'epoch 2/3 step 8/16'", tf, (137,), R(137),
             trigger=Trigger(SIGKILL, "epoch 2/3 step 8/16"), check=killed),
        resumed("int_sigkill_tf_resume", "int_sigkill_tf", "ref3_tf", tf),
        Case("int_sigint_startup", cat, "SIGINT right after the NOTE line (before epoch 1)", run, (130,),
             R(2), trigger=Trigger(SIGINT, "NOTE:"),
             check=steps(never_says("no epoch finished"), never_says("intact"), lambda ctx, res: "" if not (
                 ctx.out / "last.pt").exists() else "a last.pt was written"),
             note="L3: Ctrl-C before the first epoch is an interrupt (130), not bad input (2), and "
                  "no message calls checkpoints that do not exist intact"),
        Case("int_sigint_final", cat, "SIGINT right after 'epoch 3/3:'",
             ["train", "--epochs", "3", "--limit", "2048", "--val-limit", "512", *out], (130,),
             R(130, wrong="metrics.json says best epoch 3, the checkpoints hold epoch 2 (H3)"),
             trigger=Trigger(SIGINT, "epoch 3/3:"), check=metrics_fit_checkpoints(required=False)),
    ]


def disk_rows() -> list[Case]:
    cat, full = "disk full", "{dir}/full"
    space = says("no space left")
    return [
        Case("disk2m", cat, "--out on a 2 MB tmpfs", ["train", *E1, "--out", "{out}"], (2,), R(1, TB),
             out=f"{full}/run", setup=tmpfs(full, "2m"), check=steps(space, no_staging)),
        Case("disk40m", cat, "--epochs 3 --out on a 40 MB tmpfs (full at the 2nd save)",
             ["train", "--epochs", "3", *S, "--out", "{out}"], (2,), R(1, TB), out=f"{full}/run",
             setup=tmpfs(full, "40m"), check=steps(space, checkpoints(last=1, best=1), no_staging)),
        Case("disk40m_tf", cat, "the same, --framework tf",
             ["train", "--framework", "tf", "--epochs", "3", *S, "--out", "{out}"], (2,), R(1, TB),
             out=f"{full}/run", setup=tmpfs(full, "40m"),
             check=steps(space, checkpoints(last=1, best=1), no_staging)),
        Case("disk_metrics", cat, "a finished run on a full 40 MB tmpfs (0 bytes free); --resume",
             ["train", *BASE, "--resume", "--out", "{out}"], (2,), R(1, TB), out=f"{full}/run",
             setup=steps(tmpfs(full, "40m"), copy_run("base_torch"), fill_disk(full),
                         snapshot("metrics.json", "last.pt")),
             check=unchanged, needs=("base_torch",)),
    ]


def data_pair(name: str, category: str, what: str, cifar10: bool = False, doctor: int = 1,
              train: int = 2, dd: Review | None = None, dt: Review | None = None, note: str = "",
              **more) -> list[Case]:
    """The review's two rows for one broken copy: dd_<name> (doctor) and dt_<name> (train);
    ``dd``/``dt`` are what the review recorded (default: doctor exit 1, train exit 2)."""
    dd, dt = dd or R(1), dt or R(2)
    train_argv = ["train", *(CIFAR if cifar10 else []), *E1, "--out", "{out}"]
    data = more.pop("data", name)
    return [Case(f"dd_{name}", category, f"{what}: doctor", ["doctor"], (doctor,), dd, data=data,
                 note=note, **more),
            Case(f"dt_{name}", category, f"{what}: train", train_argv, (train,), dt, data=data, note=note,
                 **more)]


def data_rows() -> list[Case]:
    cat = "data files"
    unverified = "undetectable without SHA256SUMS: used, and doctor says 'unverified' (L7: expected)"
    refused = "now refused on purpose (issue 17, H2); the review saw it used silently"
    rows = [Case("doctor_base", cat, "an intact copy of the sample: doctor (control)", ["doctor"],
                 data="base")]
    for name, what, kw in [
        ("mnist_trunc", "train-images truncated by 1000 B", {}),
        ("mnist_trunc_nosums", "the same, SHA256SUMS removed", {}),
        ("mnist_flip", "16 bytes flipped in train-images", {}),
        ("mnist_flip_nosums", "the same, SHA256SUMS removed",
         dict(doctor=0, train=0, dd=R(0), dt=R(0), note=unverified)),
        ("mnist_missing", "t10k-labels deleted", dict(dd=R(0, wrong="missing file listed, status OK"))),
        ("mnist_missing_nosums", "the same, SHA256SUMS removed",
         dict(dd=R(0, wrong="missing file listed, status OK"))),
        ("mnist_zero", "train-labels zero bytes", {}),
        ("mnist_zero_nosums", "the same, SHA256SUMS removed", {}),
        ("mnist_badlabels", "100 labels set to 200, no SHA256SUMS",
         dict(dd=R(0, wrong="reported OK"), dt=R(1, TB))),
        ("mnist_countmismatch", "labels header 14999 (consistent), no SHA256SUMS", {}),
        ("mnist_hugedims", "images header N=0xFFFFFFFF, no SHA256SUMS", {}),
    ]:
        rows += data_pair(name, cat, what, **kw)
    for name, what, kw in [
        ("cifar_trunc", "data_batch_3 truncated by 100 kB", {}),
        ("cifar_trunc_nosums", "the same, SHA256SUMS removed", {}),
        ("cifar_flip", "16 bytes flipped in data_batch_3", {}),
        ("cifar_flip_nosums", "the same, SHA256SUMS removed",
         dict(doctor=0, train=0, dd=R(0), dt=R(0), note=unverified)),
        ("cifar_random", "data_batch_3 = random bytes", {}),
        ("cifar_random_nosums", "the same, SHA256SUMS removed", {}),
        ("cifar_badshape", "data_batch_2 'data' is N x 3000, no SHA256SUMS",
         dict(dd=R(1, TB), dt=R(1, TB))),
        ("cifar_badlabels", "data_batch_2 labels all 99, no SHA256SUMS",
         dict(dd=R(0, wrong="reported OK"), dt=R(1, TB))),
        ("cifar_labelcount", "data_batch_2 has 990 labels for 1000 images, no SHA256SUMS",
         dict(dd=R(0, wrong="reported OK"), dt=R(0, wrong="trained: 2702 labels on the wrong image"))),
        ("cifar_nodata_key", "data_batch_2 without 'data', no SHA256SUMS", {}),
        ("cifar_notdict", "data_batch_2 = a pickled list, no SHA256SUMS", {}),
        ("cifar_meta_short", "batches.meta with 3 class names, no SHA256SUMS",
         dict(dd=R(0), dt=R(0, wrong="used: 3 names for 10 labels"), note=refused)),
        ("cifar_float_data", "data_batch_2 'data' float32*7.3, no SHA256SUMS",
         dict(dd=R(0), dt=R(0, wrong="used: floats cast to uint8"), note=refused)),
    ]:
        rows += data_pair(name, cat, what, cifar10=True, **kw)
    rows += data_pair("extra_files", cat, "unknown files added (unknown.bin, stray.txt, data_batch_6)",
                      doctor=0, train=0, dd=R(0), dt=R(0))
    return rows


def manifest_rows() -> list[Case]:
    cat, ok = "manifests", dict(doctor=0, train=0, dd=R(0), dt=R(0))
    rows = data_pair("sums_removed", cat, "SHA256SUMS deleted", **ok)
    rows += data_pair("sums_malformed", cat, "SHA256SUMS + a line 'justonetoken'", dd=R(1, TB), dt=R(1, TB))
    rows += data_pair("sums_wronghash", cat, "the train-images hash altered in SHA256SUMS")
    rows += data_pair("sums_partial", cat, "the train-images line removed from SHA256SUMS", **ok,
                      note="files left out of SHA256SUMS are used and shown as unverified (L7: expected)")
    rows += data_pair("sums_empty", cat, "SHA256SUMS empty", **ok)
    rows += data_pair("sums_binary", cat, "SHA256SUMS = 500 random bytes", dd=R(1, TB), dt=R(1, TB))
    return rows


def special_rows() -> list[Case]:
    cat = "special files"
    rows = data_pair("unreadable_chmod", cat, "train-images chmod 000 (as root: still readable)",
                     doctor=0, train=0, dd=R(0), dt=R(0),
                     note="as root mode bits do not apply; the _nodac rows are the real test")
    rows += data_pair("unreadable_dir", cat, "train-images replaced by a folder", dd=R(1, TB), dt=R(1, TB))
    rows += data_pair("unreadable_symlink", cat, "train-images = a dangling symlink",
                      dd=R(0, wrong="'missing (1 of 4)' but status OK"))
    rows += data_pair("unreadable_fifo", cat, "t10k-labels replaced by a FIFO", dd=R(124), dt=R(124),
                      timeout=60)
    rows += data_pair("unreadable_chmod_nodac", cat, "train-images chmod 000, unshare --user",
                      dd=R(1, TB), dt=R(1, TB), data="unreadable_chmod", wrap=NODAC)
    return rows


def malicious_rows() -> list[Case]:
    cat = "malicious files"
    torch_resume = ["train", *BASE, "--resume", "--out", "{out}"]
    tf_resume = ["train", "--framework", "tf", *BASE, "--resume", "--out", "{out}"]
    multiline = "rc 2, but a multi-line error quoting torch's advice to use weights_only=False (L5)"
    rows = [
        Case("sec_resume_pt_plain", cat, "last.pt = torch.save({'x': Evil}) (os.system); --resume",
             torch_resume, (2,), R(2, wrong=multiline), setup=evil_pt("plain"), check=no_marker()),
        Case("sec_resume_pt_tfpt", cat, "a real tfpt last.pt with Evil inside extra; --resume",
             torch_resume, (2,), R(2, wrong=multiline), setup=evil_pt("tfpt"), check=no_marker(),
             needs=("base_torch",)),
        Case("sec_resume_pt_legacy", cat, "last.pt = legacy (non-zip) torch.save with Evil; --resume",
             torch_resume, (2,), R(2), setup=evil_pt("legacy"), check=no_marker()),
    ]
    for kind, what, review in [
        ("lambda", "a Lambda layer that opens a marker", R(2)),
        ("ossystem", "a Dense activation {module: os, config: system}", R(1, TB)),
        ("enable_unsafe", "activation = keras.config.enable_unsafe_deserialization", R(1, TB)),
        ("popen_layer", "a layer {module: subprocess, class_name: Popen}", R(1, TB)),
    ]:
        rows.append(Case(f"sec_resume_keras_{kind}", cat, f"last.keras with {what}; tf --resume", tf_resume,
                         (2,), review, setup=evil_keras(kind), check=no_marker(), needs=("base_tf",)))
    for name, what in [("cifar_evil_system", "data_batch_1 with __reduce__ -> os.system, sums rewritten"),
                       ("cifar_evil_eval", "data_batch_1 with __reduce__ -> eval, sums rewritten"),
                       ("cifar_evil_meta", "batches.meta with __reduce__ -> os.system, no sums")]:
        rows += data_pair(name, cat, what, cifar10=True, check=no_marker("{data}"))
    return rows


def env_rows() -> list[Case]:
    cat, out = "env vars", ["--out", "{out}"]
    return [
        Case("nodata", cat, "TFPT_DATA_DIR unset (the repository's data/ is empty), offline: train",
             ["train", *E1, *out], (2,), R(2, wrong="the error runs over several lines"),
             env={"TFPT_DATA_DIR": None}, wrap=("unshare", "--net"), setup=remember_repo_data,
             check=repo_data_unchanged),
        Case("inj_dashout", cat, "--nproc 2 --out=--resume (a folder named --resume)",
             ["train", "--nproc", "2", *E1, "--out=--resume"], (0,),
             R(2, wrong="workers got '--out --resume'; '--resume/logs' created in the cwd (L6)"),
             timeout=400, check=exists("{cwd}/--resume/metrics.json"),
             note="L6: the workers get --flag=value, so a value that starts with '-' is passed intact"),
        Case("env_tfconfig_badjson", cat, "TF_CONFIG='{bad': tf train",
             ["train", "--framework", "tf", *E1, *out], (2,), R(1, TB),
             env={"TF_CONFIG": "{{bad"}),  # {{ is a brace once the templates are filled
        Case("env_worldsize_abc", cat, "WORLD_SIZE=abc: train", ["train", *E1, *out], (2,), R(1, TB),
             env={"WORLD_SIZE": "abc"}),
        Case("env_quick_weird", cat, "TFPT_QUICK=maybe: doctor", ["doctor"], env={"TFPT_QUICK": "maybe"}),
        Case("env_datadir_file", cat, "TFPT_DATA_DIR = a file: train", ["train", *E1, *out], (2,), R(1, TB),
             env={"TFPT_DATA_DIR": "{dir}/afile"}, setup=write_file("{dir}/afile")),
        Case("env_datadir_missing", cat, "TFPT_DATA_DIR = a folder that does not exist: doctor", ["doctor"],
             (1,), R(0), env={"TFPT_DATA_DIR": "{dir}/nonexistent_dir"},
             check=lambda ctx, res: "it was created" if (ctx.dir / "nonexistent_dir").exists() else ""),
    ]


def run_concurrently(ctx: Ctx) -> Result:
    """conc_A, with conc_B started on the same --out once A holds it; B's result is stashed."""
    common = ["--limit", "2048", "--val-limit", "512", "--test-limit", "512", "--out", "{out}"]
    a = ctx.sweep.start(ctx, ["train", "--epochs", "3", "--seed", "0", *common])
    deadline = time.monotonic() + 120
    while not (ctx.out / ".tfpt.lock").exists() and a.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    b = ctx.sweep.start(ctx, ["train", "--epochs", "2", "--seed", "1", *common]).finish(180)
    b.extra["overlapped"] = a.proc.poll() is None  # A was still running when B ended
    ctx.sweep.stash["conc_B"] = b
    return a.finish(300)


def stashed(ctx: Ctx) -> Result:
    if "conc_B" not in ctx.sweep.stash:
        raise Skip("conc_B runs inside conc_A")
    result = ctx.sweep.stash["conc_B"]
    if not result.extra["overlapped"] and result.rc == 0:
        raise Skip("run A had ended before run B: they did not overlap")
    return result


def other_rows() -> list[Case]:
    cat_b, cat_d = "bench", "ddp"
    ddp = ["train", *INTR, "--nproc", "2", "--out", "{out}"]
    return [
        Case("conc_A", "concurrency", "two runs on one --out at once: A = --epochs 3 --seed 0",
             ["train"], runner=run_concurrently, timeout=300, check=metrics_say(config_seed=0, epochs=3)),
        Case("conc_B", "concurrency", "B = --epochs 2 --seed 1, started once A holds the folder",
             ["train"], (2,), R(0, wrong="B's checkpoints and metrics.json silently replaced by A's"),
             runner=stashed, needs=("conc_A",), check=says("is in use by another tfpt train"),
             note="M4: B is refused while A runs (a lock with A's pid)"),
        Case("bench_ok", cat_b, "bench --out a new file", [*BENCH, "--out", "{dir}/bench.json"],
             timeout=300, check=exists("{dir}/bench.json")),
        Case("bench_out_dir", cat_b, "bench --out a folder", [*BENCH, "--out", "{dir}"], (2,), R(1, TB)),
        Case("bench_out_proc", cat_b, "bench --out /proc/bench.json", [*BENCH, "--out", "/proc/bench.json"],
             (2,), R(1, TB)),
        Case("bench_out_overwrite", cat_b, "bench --out an existing file",
             [*BENCH, "--out", "{dir}/precious.json"], timeout=300, setup=write_file("{dir}/precious.json"),
             check=lambda ctx, res: "" if (ctx.dir / "precious.json").read_text().startswith("{")
             else "not replaced by the results",
             note="replacing the file --out names is intended (atomically); the review only noted it"),
        Case("ddp_sigint", cat_d, "--nproc 2; SIGINT to the launcher after 'epoch 1/3:'", ddp, (130,),
             R(130), trigger=Trigger(SIGINT, "epoch 1/3:", 0.5), timeout=400,
             check=steps(no_workers_left, checkpoints(last=1)),
             note="harness: the signal comes 0.5 s after the epoch line, as for int_sigint; at 0 s the "
                  "launcher SIGKILLs the workers while rank 0 is still saving epoch 1, so that epoch is "
                  "not kept (nothing is corrupted; the next start removes the staging folder)"),
        Case("ddp_resume_n1", cat_d, "resume that DDP run with --nproc 1",
             ["train", *INTR, "--resume", "--out", "{out}"], out_from="ddp_sigint", timeout=300,
             check=metrics_say(epochs=3)),
        Case("ddp_sigkill_launcher", cat_d, "--nproc 2; SIGKILL to the launcher after 'epoch 1/3:'", ddp,
             (137,), R(137), trigger=Trigger(SIGKILL, "epoch 1/3:"), timeout=400, check=no_workers_left),
    ]


def table_a() -> list[Case]:
    rows = [*cli_rows(), *number_rows(), *output_rows(), *resume_rows(), *interrupt_rows(),
            *disk_rows(), *data_rows(), *manifest_rows(), *special_rows(), *malicious_rows(),
            *env_rows(), *other_rows()]
    ids = [row.id for row in rows]
    assert len(ids) == len(set(ids)), "duplicate ids"
    assert all(row.category in CATEGORIES for row in rows)
    return rows


# --- the report -------------------------------------------------------------------------------

def sanitize(text: str, work: Path, sample: Path) -> str:
    for path, name in ((work, "$WORK"), (sample, "$DATA"), (REPO, "<repo>")):
        text = text.replace(str(path), name)
    return text


def cell(text: str, limit: int = 110) -> str:
    text = text if len(text) <= limit else text[:limit - 1] + "…"
    return text.replace("|", "\\|").replace("\n", " ")


def counts_table(results: list[dict]) -> list[str]:
    lines = ["| category | rows | ok | traceback | hang | wrong | skip | before: traceback | hang | wrong |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    total, before_total = Counter(), Counter()
    for category in CATEGORIES:
        rows = [r for r in results if r["category"] == category]
        if not rows:
            continue
        now, before = Counter(r["verdict"] for r in rows), Counter(r["before"] for r in rows)
        total.update(now)
        before_total.update(before)
        lines.append(f"| {category} | {len(rows)} | " + " | ".join(str(now[v]) for v in VERDICTS)
                     + " | " + " | ".join(str(before[v]) for v in ("traceback", "hang", "wrong")) + " |")
    bad = ("traceback", "hang", "wrong")
    lines.append(f"| **total** | **{len(results)}** | " + " | ".join(f"**{total[v]}**" for v in VERDICTS)
                 + " | " + " | ".join(f"**{before_total[v]}**" for v in bad) + " |")
    return lines


def report(results: list[dict], header: list[str]) -> str:
    lines = [*header, "", "## Counts per category", "",
             "\"before\" is the review's Table A judged by the same rules (the review's own summary: "
             "39 tracebacks, 2 hangs, 13 other wrong exit codes or outcomes).", "",
             *counts_table(results), "", "## Results", "",
             "| id | category | rc | traceback | last line (trimmed) | verdict | before (review) |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        verdict = r["verdict"] + (f": {r['reason']}" if r["reason"] else "")
        before = f"{r['before']} (rc {r['review_rc']}{', TB' if r['review_tb'] else ''})"
        rerun = " (re-run)" if r.get("rerun") else ""
        lines.append(f"| {r['id']}{rerun} | {r['category']} | {'-' if r['rc'] is None else r['rc']} | "
                     f"{'yes' if r['traceback'] else 'no'} | {cell(r['last_line'])} | {cell(verdict, 160)} | "
                     f"{before} |")
    notes = [r for r in results if r["note"]]
    if notes:
        lines += ["", "## Where the expectation differs from the review's", ""]
        lines += [f"- **{r['id']}**: {r['note']}" for r in notes]
    return "\n".join(lines) + "\n"


def check_sample(sample: Path) -> str:
    """The sample is only read: it still matches its SHA256SUMS."""
    bad = []
    for line in (sample / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        if sha256(sample / name.strip()) != digest:
            bad.append(name)
    return "unchanged (matches its SHA256SUMS)" if not bad else f"CHANGED: {', '.join(bad)}"


# --- main -------------------------------------------------------------------------------------

def select(rows: list[Case], only: str, ids: str) -> list[Case]:
    by_id = {row.id: row for row in rows}
    wanted = set(by_id) if not (only or ids) else set()
    if only:
        categories = {c.strip() for c in only.split(",")}
        unknown = categories - set(CATEGORIES)
        if unknown:
            sys.exit(f"unknown categories {sorted(unknown)}; choose from {', '.join(CATEGORIES)}")
        wanted |= {row.id for row in rows if row.category in categories}
    if ids:
        asked = {i.strip() for i in ids.split(",")}
        if asked - set(by_id):
            sys.exit(f"unknown ids {sorted(asked - set(by_id))}")
        wanted |= asked
    todo = list(wanted)
    while todo:  # what they need comes along
        for need in by_id[todo.pop()].needs:
            if need not in wanted:
                wanted.add(need)
                todo.append(need)
    return [row for row in rows if row.id in wanted]


def git_head() -> str:
    done = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True)
    return done.stdout.strip() or "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated categories: " + ", ".join(CATEGORIES))
    parser.add_argument("--ids", default="", help="comma-separated row ids")
    parser.add_argument("--report", default="/tmp/fault_sweep.md", help="markdown report (and .json beside)")
    parser.add_argument("--logs", help="folder for each row's output (default: beside the report)")
    parser.add_argument("--merge", help="a previous run's .json: its rows not run now are kept")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--list", action="store_true", help="print the rows and exit")
    args = parser.parse_args()
    rows = select(table_a(), args.only, args.ids)
    if args.list:
        for row in rows:
            print(f"{row.id:32} {row.category:16} {row.what}")
        return 0
    sample = Path(os.environ.get("TFPT_DATA_DIR") or REPO.parent / "shared" / "datasets").resolve()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # a `&` job ignores SIGINT: the runs must not
    work = Path(tempfile.mkdtemp(prefix="tfpt-sweep-"))
    work.chmod(0o755)
    logs = Path(args.logs or Path(args.report).with_suffix(".logs"))
    logs.mkdir(parents=True, exist_ok=True)
    sweep, results, start = Sweep(work, sample, logs), [], time.monotonic()
    report_path, json_path = Path(args.report), Path(args.report).with_suffix(".json")
    previous = json.loads(Path(args.merge).read_text())["results"] if args.merge else []
    print(f"{len(rows)} rows; work folder {work}; outputs in {logs}", flush=True)
    try:
        for n, row in enumerate(rows, 1):
            result = sweep.run(row)
            result["last_line"] = sanitize(result["last_line"], work, sample)
            result["reason"] = sanitize(result["reason"], work, sample)
            result["rerun"] = bool(args.merge)
            results.append(result)
            print(f"[{n}/{len(rows)}] {row.id}: {result['verdict']} rc={result['rc']} "
                  f"({result['seconds']} s) {result['reason']}", flush=True)
            write(results, previous, report_path, json_path, start, sample, args)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    combined = write(results, previous, report_path, json_path, start, sample, args, final=True)
    print("\n".join(counts_table(combined)))
    print(f"report: {report_path}")
    return 0


def write(results, previous, report_path, json_path, start, sample, args, final=False) -> list[dict]:
    order = {row.id: i for i, row in enumerate(table_a())}
    done = {r["id"] for r in results}
    combined = sorted([*(r for r in previous if r["id"] not in done), *results],
                      key=lambda r: (CATEGORIES.index(r["category"]), order[r["id"]]))
    minutes = (time.monotonic() - start) / 60
    header = [f"# Fault sweep: the reliability review's Table A against commit {git_head()}", "",
              f"{datetime.date.today()}: `scripts/fault_sweep.py"
              + (f" --only {args.only}" if args.only else "") + (f" --ids {args.ids}" if args.ids else "")
              + f"`, {len(results)} rows in {minutes:.0f} min"
              + (f"; the other {len(combined) - len(results)} rows from an earlier run (`--merge`)"
                 if previous else "") + ("" if final else " (in progress)") + ".",
              "Paths: `$WORK` is the sweep's temporary folder, `$DATA` the offline sample"
              + (f", which is {check_sample(sample)}." if final else ".")]
    report_path.write_text(report(combined, header))
    json_path.write_text(json.dumps({"results": combined}, indent=1))
    return combined


if __name__ == "__main__":
    sys.exit(main())
