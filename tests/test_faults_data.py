"""Bad data, manifests, special files and malicious files end in one line, never a traceback
(issue 17: the data rows of the reliability sweep, ../shared/reviews/reliability.md).

Each case builds a broken copy of the offline sample in ``tmp_path`` (untouched files are
hard links, so a case writes new files and never edits one in place) and runs ``tfpt doctor``
and ``tfpt train`` through :func:`tfpt.cli.main`, in this process: a ``python -m tfpt``
start costs 10-30 s of CPU here, so two tests at the end run the real command line as
a subprocess. Doctor must say broken (exit 1, one PROBLEM line) exactly when train refuses
(exit 2, one ``tfpt train: error:`` line naming the file).
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tfpt import cli

M, C = "MNIST/raw", "cifar-10-batches-py"
TRAIN = ["train", "--epochs", "1", "--limit", "256", "--val-limit", "256", "--test-limit", "256"]


class Payload:
    """A pickle that touches ``marker`` when (and only when) it is unpickled without a guard."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _link_tree(src: Path, dst: Path) -> None:
    def link(a, b):
        try:
            os.link(a, b)
        except OSError:  # another file system
            shutil.copy2(a, b)
    shutil.copytree(src, dst, copy_function=link)


def _write(path: Path, data: bytes) -> None:
    """Replace a (possibly hard-linked) file by a new one: the sample is never changed."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.is_symlink() or path.exists():
        path.unlink()
    path.write_bytes(data)


def _drop_sums(root: Path) -> None:
    (root / "SHA256SUMS").unlink()


def _cifar_edit(root: Path, name: str, edit) -> None:
    path = root / C / name
    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="bytes")  # the sample itself: trusted
    _write(path, pickle.dumps(edit(batch), protocol=2))


def _key(batch: dict, key: str):
    return key if key in batch else key.encode()


def _rehash(root: Path) -> None:
    """A manifest that matches the tampered files (an attacker can rewrite it too)."""
    import hashlib
    lines = []
    for line in (root / "SHA256SUMS").read_text().splitlines():
        name = line.split(maxsplit=1)[1]
        lines.append(f"{hashlib.sha256((root / name).read_bytes()).hexdigest()}  {name}")
    _write(root / "SHA256SUMS", ("\n".join(lines) + "\n").encode())


def _labels_to(value):
    return lambda b: {**b, _key(b, "labels"): [value] * len(b[_key(b, "labels")])}


def _mnist_labels_200(root):
    path = root / M / "train-labels-idx1-ubyte"
    raw = bytearray(path.read_bytes())
    raw[8:108] = bytes([200]) * 100
    _write(path, bytes(raw))
    _drop_sums(root)


def _flip(root):
    path = root / M / "train-images-idx3-ubyte"
    raw = bytearray(path.read_bytes())
    raw[100_000:100_016] = bytes(b ^ 0xFF for b in raw[100_000:100_016])
    _write(path, bytes(raw))


def _truncate_nosums(root):
    path = root / M / "train-images-idx3-ubyte"
    _write(path, path.read_bytes()[:-1000])
    _drop_sums(root)


def _fifo(root):
    path = root / M / "t10k-labels-idx1-ubyte"
    path.unlink()
    os.mkfifo(path)


def _folder(root):
    path = root / M / "train-images-idx3-ubyte"
    path.unlink()
    path.mkdir()


def _dangling(root):
    path = root / M / "train-images-idx3-ubyte"
    path.unlink()
    path.symlink_to(root / "nowhere")


def _evil_batch(root):
    _cifar_edit(root, "data_batch_1", lambda b: {**b, "x": Payload(root / "PWNED")})
    _rehash(root)


# id -> (break the copy, which dataset train uses, what the one line must name)
CASES = {
    "mnist_truncated_nosums": (_truncate_nosums, "mnist", "header promises"),
    "mnist_flipped": (_flip, "mnist", "is corrupted or incomplete: SHA-256"),
    "mnist_labels_200": (_mnist_labels_200, "mnist", "label(s) outside 0..9 (label 200"),
    "cifar_reshaped": (lambda r: (_cifar_edit(r, "data_batch_2", lambda b: {
        **b, _key(b, "data"): b[_key(b, "data")][:, :3000].copy()}), _drop_sums(r)),
        "cifar10", "not uint8 rows of 3072 pixels"),
    "cifar_labels_99": (lambda r: (_cifar_edit(r, "data_batch_2", _labels_to(99)), _drop_sums(r)),
                        "cifar10", "label(s) outside 0..9 (label 99"),
    "cifar_float_data": (lambda r: (_cifar_edit(r, "data_batch_2", lambda b: {
        **b, _key(b, "data"): b[_key(b, "data")].astype(np.float32) * 7.3}), _drop_sums(r)),
        "cifar10", "'data' is a float32 array"),
    "cifar_meta_3_names": (lambda r: (_cifar_edit(r, "batches.meta", lambda b: {
        **b, _key(b, "label_names"): list(b[_key(b, "label_names")])[:3]}), _drop_sums(r)),
        "cifar10", "not a list of 10 names"),
    "sums_malformed": (lambda r: _write(r / "SHA256SUMS", (
        (r / "SHA256SUMS").read_text().rstrip("\n") + "\njustonetoken\n").encode()),
        "mnist", "line 12 is not `<sha256>  <file>` ('justonetoken')"),
    "sums_binary": (lambda r: _write(r / "SHA256SUMS", b"\xf9" + bytes(range(256)) * 2),
                    "mnist", "SHA256SUMS is not a text file"),
    "file_missing": (lambda r: (r / M / "t10k-labels-idx1-ubyte").unlink(), "mnist",
                     "missing: t10k-labels-idx1-ubyte"),
    "fifo": (_fifo, "mnist", "t10k-labels-idx1-ubyte is a named pipe (FIFO), not a data file"),
    "folder_for_file": (_folder, "mnist", "train-images-idx3-ubyte is a folder, not a data file"),
    "dangling_link": (_dangling, "mnist", "missing: train-images-idx3-ubyte"),
    "cifar_pickle_payload": (_evil_batch, "cifar10", "refusing to load posix.system"),
}


@contextlib.contextmanager
def _deadline(seconds: int):
    """Fail instead of hanging (a FIFO blocks ``open`` for ever): SIGALRM interrupts the call."""
    def hung(signum, frame):
        raise TimeoutError(f"still running after {seconds} s: it hangs")
    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _main(argv: list[str], capsys) -> tuple[int, str, str]:
    """``tfpt ARGV`` in this process: exit status, stdout, stderr. An exception escaping
    main() (what would be a traceback) fails the test that called it."""
    capsys.readouterr()
    with _deadline(120):
        try:
            rc = cli.main(argv)
        except SystemExit as done:  # argparse
            rc = done.code
    out, err = capsys.readouterr()
    return rc, out, err


def _assert_doctor_broken(root: Path, monkeypatch, capsys, names: str) -> str:
    monkeypatch.setenv("TFPT_DATA_DIR", str(root))
    rc, out, err = _main(["doctor"], capsys)
    problems = [line for line in out.splitlines() if line.startswith("PROBLEM: ")]
    assert rc == 1 and len(problems) == 1, out + err
    assert names in problems[0] and "status: 1 problem(s)" in out
    assert "Traceback" not in out + err
    return problems[0]


def _assert_train_refused(argv: list[str], capsys, names: str) -> str:
    rc, out, err = _main(argv, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2, out + err
    assert len(lines) == 1 and lines[0].startswith("tfpt train: error: "), err
    assert names in lines[0] and "Traceback" not in out + err
    return lines[0]


@pytest.fixture
def broken_copy(sample_root, tmp_path):
    """A factory: the sample hard-linked into tmp_path/data, then broken by a case."""
    def make(case: str) -> Path:
        root = tmp_path / "data"
        _link_tree(sample_root, root)
        CASES[case][0](root)
        return root
    return make


@pytest.mark.parametrize("case", list(CASES))
def test_bad_data_is_one_line_and_doctor_agrees(case, broken_copy, tmp_path, monkeypatch, capsys):
    root = broken_copy(case)
    _, dataset, names = CASES[case]
    _assert_doctor_broken(root, monkeypatch, capsys, names)
    extra = ["--dataset", "cifar10", "--width", "4"] if dataset == "cifar10" else []
    _assert_train_refused([*TRAIN, *extra, "--out", str(tmp_path / "out")], capsys, names)
    assert not (root / "PWNED").exists()  # the payload never ran


def test_h2_cifar_labels_must_match_images(sample_root, tmp_path, monkeypatch, capsys):
    """H2: 990 labels for 1,000 images used to pass doctor and train with exit 0."""
    from tfpt import data
    from tfpt.data.readers import read_cifar10

    root = tmp_path / "data"
    _link_tree(sample_root, root)
    _cifar_edit(root, "data_batch_2", lambda b: {
        **b, _key(b, "labels"): list(b[_key(b, "labels")])[:-10]})
    _drop_sums(root)
    with pytest.raises(data.DataFormatError, match=r"data_batch_2: 1000 images but 990 labels"):
        read_cifar10(root / C, train=True)
    names = "data_batch_2: 1000 images but 990 labels"
    _assert_doctor_broken(root, monkeypatch, capsys, names)
    _assert_train_refused([*TRAIN, "--dataset", "cifar10", "--width", "4",
                           "--out", str(tmp_path / "out")], capsys, names)
    intact_images, intact_labels = read_cifar10(sample_root / C, train=True)  # the control
    assert len(intact_images) == len(intact_labels)


def test_h2_label_range_both_readers(mnist, cifar10, tmp_path):
    """Both readers check that each label is a class (0..9), not only that the counts match."""
    from tfpt.data.readers import DataFormatError, check_labels

    for ds in (mnist, cifar10):  # the real data passes
        check_labels(Path("x"), ds.y_train)
        assert ds.y_train.min() == 0 and ds.y_train.max() == 9
    for bad in (np.array([0, 10]), np.array([-1, 3])):
        with pytest.raises(DataFormatError, match="outside 0..9"):
            check_labels(Path("x"), bad)


def test_a_failed_download_is_one_line(tmp_path, monkeypatch):
    """Sweep row nodata: torchvision's error (one line per mirror) made a multi-line message."""
    from tfpt import data
    from tfpt.data import fetch

    def offline(spec, into):
        raise OSError("Error downloading train-images-idx3-ubyte.gz:\nTried https://a/, got:\n"
                      "<urlopen error [Errno -3] Temporary failure in name resolution>\n")

    monkeypatch.setattr(fetch, "_fetch_with_torchvision", offline)
    with pytest.raises(data.MissingDataError) as err:
        data.load("mnist", tmp_path)
    assert "\n" not in str(err.value)
    assert "could not download MNIST: Error downloading train-images-idx3-ubyte.gz: Tried" in str(err.value)


@pytest.mark.parametrize("where", ["nowhere", "a_file"])
def test_data_root_pointing_nowhere_is_broken(where, tmp_path, monkeypatch, capsys):
    target = tmp_path / where
    if where == "a_file":
        target.write_text("not a folder")
    names = "does not exist" if where == "nowhere" else "is a file, not a folder"
    _assert_doctor_broken(target, monkeypatch, capsys, names)
    _assert_train_refused([*TRAIN, "--out", str(tmp_path / "out")], capsys, names)
    assert not (tmp_path / "nowhere").exists()  # nothing created for a typo


def test_a_manifest_without_some_files_is_reported_unverified_not_broken(
        sample_root, tmp_path, monkeypatch, capsys):
    """Files left out of SHA256SUMS are used and shown as unverified (review L7: expected)."""
    root = tmp_path / "data"
    _link_tree(sample_root, root)
    text = "".join(line + "\n" for line in (root / "SHA256SUMS").read_text().splitlines()
                   if "train-images" not in line)
    _write(root / "SHA256SUMS", text.encode())
    monkeypatch.setenv("TFPT_DATA_DIR", str(root))
    rc, out, err = _main(["doctor"], capsys)
    assert rc == 0 and "(unverified)" in out and "PROBLEM" not in out, out + err


def _evil_pt(path: Path, marker: Path) -> None:
    import torch
    torch.save({"format": "tfpt-checkpoint", "x": Payload(marker)}, path)


def _poison_activation(node) -> bool:
    """Point the first ``activation`` in a Keras config at ``os.system``; True if found."""
    if isinstance(node, dict):
        if "activation" in node:
            node["activation"] = {"module": "os", "class_name": "function", "config": "system",
                                  "registered_name": "function"}
            return True
        return any(_poison_activation(v) for v in node.values())
    return isinstance(node, list) and any(_poison_activation(v) for v in node)


def _evil_keras(path: Path, marker: Path) -> None:
    """A real .keras file whose Dense activation is rewritten to ``os.system``."""
    from tfpt.checkpoint import keras as ckpt
    from tfpt.models import build

    model = build("tf", "MnistCNN", image_shape=(28, 28, 1))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    ckpt.save(path, model, model.optimizer, epoch=1)
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    config = json.loads(members["config.json"])
    assert _poison_activation(config), "no activation in the saved config"
    members["config.json"] = json.dumps(config).encode()
    path.unlink()
    with zipfile.ZipFile(path, "w") as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)


@pytest.mark.parametrize("framework", ["torch", "tf"])
def test_malicious_checkpoint_is_refused_in_one_line_and_never_runs(
        framework, sample_root, tmp_path, monkeypatch, capsys):
    out, marker = tmp_path / "out", tmp_path / "PWNED"
    out.mkdir()
    if framework == "torch":
        _evil_pt(out / "last.pt", marker)
        names = "(posix.system); tfpt loads checkpoints with weights_only=True"
    else:
        _evil_keras(out / "last.keras", marker)
        names = "cannot be loaded in Keras safe mode"
    monkeypatch.setenv("TFPT_DATA_DIR", str(sample_root))
    line = _assert_train_refused([*TRAIN, "--framework", framework, "--resume",
                                  "--out", str(out)], capsys, names)
    assert "--resume: " in line and not marker.exists()
    if framework == "tf":
        from keras.src.saving.serialization_lib import in_safe_mode
        assert in_safe_mode() is not False  # not switched off by the file


def _subprocess(argv: list[str], root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TFPT_DATA_DIR": str(root), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "tfpt", *argv], capture_output=True,
                          text=True, timeout=300, env=env)


@pytest.mark.slow
def test_command_line_doctor_on_a_fifo_ends_instead_of_hanging(broken_copy):
    """The real command line: a FIFO used to hang doctor (and train) for ever."""
    result = _subprocess(["doctor"], broken_copy("fifo"))
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    assert "is a named pipe (FIFO), not a data file" in result.stdout


@pytest.mark.slow
def test_command_line_train_refuses_mismatched_cifar_labels(sample_root, tmp_path):
    """H2 through ``python -m tfpt train``: exit 2, one line, nothing trained."""
    root = tmp_path / "data"
    _link_tree(sample_root, root)
    _cifar_edit(root, "data_batch_2", lambda b: {
        **b, _key(b, "labels"): list(b[_key(b, "labels")])[:-10]})
    _drop_sums(root)
    result = _subprocess([*TRAIN, "--dataset", "cifar10", "--width", "4",
                          "--out", str(tmp_path / "out")], root)
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert result.returncode == 2 and "Traceback" not in result.stdout + result.stderr
    assert errors == [line for line in errors if line.startswith("tfpt train: error: ")]
    assert len(errors) == 1 and "1000 images but 990 labels" in errors[0]
    assert not (tmp_path / "out" / "metrics.json").exists()
