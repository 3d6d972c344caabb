"""`make run` / `make notebooks` execute notebooks headless, time them, and check their outputs."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import nbhygiene  # noqa: E402

spec = importlib.util.spec_from_file_location("run_series", REPO / "scripts" / "run_series.py")
run_series = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_series)


def _notebook(path: Path, *sources: str) -> Path:
    cells = [nbformat.v4.new_markdown_cell("# A tiny notebook")]
    cells += [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return path


def test_inplace_run_writes_outputs_stamps_the_mode_and_records_the_time(tmp_path, monkeypatch,
                                                                          capsys):
    monkeypatch.delenv("TFPT_QUICK", raising=False)
    source = _notebook(tmp_path / "01_tiny.ipynb", "print(6 * 7)")
    timings = tmp_path / "timings.json"
    assert run_series.main(["--inplace", str(source), "--timings", str(timings)]) == 0
    executed = nbformat.read(source, as_version=4)
    assert executed.cells[1].outputs[0]["text"] == "42\n"
    stamp = executed.metadata["tfpt"]
    assert stamp["quick"] is False and set(stamp["verified_with"]) == {"python", "torch", "tensorflow",
                                                                      "keras"}
    assert stamp["verified_with"]["torch"] == importlib.metadata.version("torch")
    assert json.loads(timings.read_text())["01_tiny.ipynb"]["full_s"] > 0
    assert "01_tiny.ipynb" in capsys.readouterr().out and nbhygiene.problems(source) == []


def test_a_dirty_output_fails_the_run(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TFPT_QUICK", raising=False)
    source = _notebook(tmp_path / "02_dirty.ipynb", "import os; print(os.getcwd())")
    assert run_series.main(["--inplace", str(source), "--timings", str(tmp_path / "t.json")]) == 1
    assert "a machine path" in capsys.readouterr().out


@pytest.mark.parametrize("output, problem", [
    ({"output_type": "stream", "name": "stdout", "text": "loaded /home/me/data\n"},
     "a machine path"),
    ({"output_type": "stream", "name": "stderr",
      "text": "I0000 00:00:1795.1 12 cudart_stub.cc:31] Could not find cuda drivers\n"},
     "TF/absl/CUDA log lines"),
    ({"output_type": "stream", "name": "stderr", "text": "epoch 1:  40%|████ | 4/10\r"},
     "stderr progress fragments"),
    ({"output_type": "stream", "name": "stdout", "text": "\x1b[1mModel\x1b[0m\n"}, "ANSI escapes"),
    ({"output_type": "stream", "name": "stdout", "text": "PASS x: ok\nPASS x: ok\n"},
     "printed twice"),
    ({"output_type": "error", "ename": "ValueError", "evalue": "", "traceback": []},
     "an error output"),
    ({"output_type": "stream", "name": "stdout", "text": "trained for 1 epochs\n"}, "'1 epochs'"),
])
def test_hygiene_catches_each_kind_of_noise(tmp_path, output, problem):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", execution_count=1)])
    nb.cells[0].outputs = [nbformat.from_dict(output)]
    nb.metadata["tfpt"] = {"quick": False}
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    found = nbhygiene.problems(path)
    assert any(problem in p for p in found), found


def test_hygiene_catches_prose_about_the_machine(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("On this machine, with 2 CPUs, it takes a minute.")])
    nb.metadata["tfpt"] = {"quick": False}
    nbformat.write(nb, tmp_path / "nb.ipynb")
    found = nbhygiene.problems(tmp_path / "nb.ipynb")
    assert any("machine it ran on" in p for p in found) and any("CPU count" in p for p in found)


def test_timings_table_fills_the_marked_block(tmp_path):
    import timings_table

    guide = tmp_path / "workshop.md"
    guide.write_text("# Guide\n\n<!-- tfpt:timings -->\nold table\n\nReading time is on top.\n")
    timings = tmp_path / "timings.json"
    timings.write_text(json.dumps({"01_tensors.ipynb": {"full_s": 12.0, "quick_s": 9.4},
                                   "04_mnist.ipynb": {"full_s": 600.0}}))
    timings_table.update(guide, timings)
    text = guide.read_text()
    assert "| 01_tensors | 12 s | 9 s |" in text and "| 04_mnist | 10.0 min | not measured yet |" in text
    assert "old table" not in text and text.endswith("Reading time is on top.\n")


def test_pngs_are_reencoded_with_the_same_pixels():
    import base64
    import io

    import numpy as np
    from PIL import Image

    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[..., :3] = np.arange(30, dtype=np.uint8)[None, :, None] * 8
    rgba[..., 3] = 255  # opaque everywhere, as matplotlib's figures are
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, "PNG", compress_level=0)
    cell = nbformat.v4.new_code_cell("plot", outputs=[nbformat.v4.new_output(
        "display_data", data={"image/png": base64.b64encode(buffer.getvalue()).decode()})])
    nb = nbformat.v4.new_notebook(cells=[cell])
    assert run_series.shrink_pngs(nb) > 0
    png = base64.b64decode(nb.cells[0].outputs[0]["data"]["image/png"])
    again = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
    np.testing.assert_array_equal(again, rgba)
    rgba[0, 0, 3] = 128  # a translucent pixel: the alpha channel stays
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, "PNG", compress_level=0)
    nb.cells[0].outputs[0]["data"]["image/png"] = base64.b64encode(buffer.getvalue()).decode()
    run_series.shrink_pngs(nb)
    png = base64.b64decode(nb.cells[0].outputs[0]["data"]["image/png"])
    assert Image.open(io.BytesIO(png)).mode == "RGBA"


def test_coalesce_streams_joins_one_print_split_in_two_messages():
    out = nbformat.v4.new_output
    cell = nbformat.v4.new_code_cell("print", outputs=[
        out("stream", name="stdout", text="TensorFlow NHWC:"),
        out("stream", name="stdout", text=" (2, 6, 6, 4)\n"),
        out("stream", name="stderr", text="a warning\n"), out("stream", name="stdout", text="after\n")])
    nb = nbformat.v4.new_notebook(cells=[cell, nbformat.v4.new_markdown_cell("text")])
    assert run_series.coalesce_streams(nb) == 1
    assert [(o["name"], o["text"]) for o in nb.cells[0].outputs] == [
        ("stdout", "TensorFlow NHWC: (2, 6, 6, 4)\n"), ("stderr", "a warning\n"), ("stdout", "after\n")]
