"""The built site in a real browser: headless Chromium (Debian's package) through Playwright.

Builds the site, serves it on 127.0.0.1 (scripts/serve_site.py) and checks what a reader
sees: pages load without console errors and with their images, pairs sit side by side at
1400 px and turn into tabs at 600 px, the one-framework switch hides the other side and
survives a page change, search finds GradientTape, and the demo's in-browser scores equal
onnxruntime's in Python. Screenshots go to build/site-shots/.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

for _module in ("mkdocs", "material", "mkdocs_jupyter", "playwright", "onnxruntime", "PIL"):
    pytest.importorskip(_module, reason=f"{_module} is missing: pip install -e '.[test,site]'")

REPO = Path(__file__).resolve().parents[1]
SHOTS = REPO / "build" / "site-shots"
CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"),
                             "/usr/bin/chromium") if p and Path(p).is_file()), None)
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
TOLERANCE = 1e-4  # two builds of onnxruntime (WebAssembly, native) on float32 logits: ~1e-6 apart
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium found: install one with `sudo apt-get install chromium`")]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def base_url(tmp_path_factory) -> str:
    """The site served on 127.0.0.1: built afresh, or TFPT_SITE_DIR's (e.g. build/site)."""
    prebuilt = os.environ.get("TFPT_SITE_DIR")
    site = Path(prebuilt) if prebuilt else _load("build_site").build(
        tmp_path_factory.mktemp("site") / "site", REPO / "docs" / "timings.json", "")
    httpd = _load("serve_site").server(site)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}/"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield chromium
        chromium.close()


def open_page(browser, url: str, width: int = 1400):
    """A fresh page at ``url``, with the console errors and page errors it produced."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_load_state("networkidle")
    return page, errors


def notebook_pages() -> list[str]:
    site = os.environ.get("TFPT_SITE_DIR")
    folder = Path(site) / "notebooks" if site else REPO / "notebooks"
    return [f"notebooks/{p.stem}.html" for p in sorted(folder.glob("[0-9][0-9]_*.*"))]


def test_every_notebook_page_loads_clean_with_its_images(browser, base_url):
    for name in notebook_pages() + ["index.html", "demo.html"]:
        page, errors = open_page(browser, base_url + name)
        broken = page.evaluate("[...document.images].filter(i => !(i.complete && i.naturalWidth))"
                               ".map(i => i.src.slice(0, 80))")
        assert not errors and not broken, f"{name}: console errors {errors}, broken images {broken}"
        page.close()


def _page_with_pairs() -> str:
    return next((p for p in notebook_pages() if "04_" in p), notebook_pages()[0])


def test_pairs_side_by_side_when_wide_tabs_when_narrow(browser, base_url):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page, _ = open_page(browser, base_url + _page_with_pairs())
    pair = page.locator(".tfpt-pair").first
    assert pair.count(), "no marked pair on the page: run scripts/mark_pairs.py"
    pair.scroll_into_view_if_needed()
    tf, torch = (pair.locator(f".tfpt-col-{s}").bounding_box() for s in ("tf", "torch"))
    assert abs(tf["y"] - torch["y"]) < 2 and torch["x"] >= tf["x"] + tf["width"], (tf, torch)
    assert not pair.locator(".tfpt-tabs").is_visible()
    page.screenshot(path=str(SHOTS / "04-wide.png"))
    page.set_viewport_size({"width": 600, "height": 900})
    pair.scroll_into_view_if_needed()
    assert pair.locator(".tfpt-tabs").is_visible()
    assert pair.locator(".tfpt-col-tf").is_visible() and not pair.locator(".tfpt-col-torch").is_visible()
    pair.locator(".tfpt-tab[data-tab=torch]").click()
    assert pair.locator(".tfpt-col-torch").is_visible() and not pair.locator(".tfpt-col-tf").is_visible()
    page.screenshot(path=str(SHOTS / "04-narrow.png"))
    page.close()


def test_switch_hides_the_other_framework_across_pages(browser, base_url):
    first = next(p for p in notebook_pages() if "02_" in p)  # GradientTape's notebook
    second = _page_with_pairs()
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(base_url + first)
    page.locator(".tfpt-switch button[data-show=torch]").click()
    assert page.locator(".tfpt-col-torch").first.is_visible()
    assert not any(c.is_visible() for c in page.locator(".tfpt-col-tf").all())
    page.goto(base_url + second)
    page.wait_for_load_state("networkidle")
    assert page.locator("html").get_attribute("data-tfpt-show") == "torch"
    assert not any(c.is_visible() for c in page.locator(".tfpt-col-tf").all())
    assert page.locator(".tfpt-switch button[data-show=torch]").get_attribute("aria-pressed") == "true"
    page.locator(".tfpt-switch button[data-show=both]").click()
    assert page.locator(".tfpt-col-tf").first.is_visible()
    context.close()


def test_search_finds_gradient_tape(browser, base_url):
    page, _ = open_page(browser, base_url + "index.html")
    page.locator(".md-search__input").click()
    page.keyboard.type("GradientTape", delay=20)  # the search listens to key presses
    result = page.locator(".md-search-result__item").first
    result.wait_for(timeout=20_000)
    assert "GradientTape" in page.locator(".md-search-result").inner_text()
    page.close()


def python_scores(sample: Path) -> dict[str, list[float]]:
    """Both ONNX files' logits in Python for one shipped 28×28 test image (2×2 means / 255)."""
    import onnxruntime as ort
    from PIL import Image

    grey = np.asarray(Image.open(sample).convert("L"), dtype=np.float32)
    x = (grey.reshape(14, 2, 14, 2).mean(axis=(1, 3)) / np.float32(255))[None, :, :, None]
    scores = {}
    for name in ("keras", "torch"):
        session = ort.InferenceSession(str(REPO / "docs" / "demo" / f"{name}.onnx"),
                                       providers=["CPUExecutionProvider"])
        inp = session.get_inputs()[0]
        feed = x if name == "keras" else x.transpose(0, 3, 1, 2)
        scores[name] = session.run(None, {inp.name: np.ascontiguousarray(feed)})[0][0].tolist()
    return scores


def test_demo_scores_equal_python_onnxruntime(browser, base_url):
    if not (REPO / "site" / "node_modules" / "onnxruntime-web").is_dir():
        pytest.fail("onnxruntime-web is not installed: run `npm ci --prefix site` (make setup does)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page, errors = open_page(browser, base_url + "demo.html")
    page.evaluate("window.tfptDemo.ready")
    samples = sorted((REPO / "docs" / "demo").glob("digit-*.png"))
    assert len(samples) == 3, samples
    report = {}
    for sample in samples:
        browser_scores = page.evaluate(f"window.tfptDemo.sample('demo/{sample.name}')")
        expected = python_scores(sample)
        for name in ("keras", "torch"):
            diff = float(np.max(np.abs(np.array(browser_scores[name]) - expected[name])))
            report[f"{sample.name} {name}: browser vs Python max |diff|"] = diff
            assert diff <= TOLERANCE, f"{sample.name}, {name}: browser vs Python max |diff| {diff}"
        digit = int(sample.stem.split("-")[1])
        assert int(np.argmax(expected["torch"])) == digit, f"{sample.name}: {expected['torch']}"
    assert not errors, errors
    assert "largest difference" in page.locator("#tfpt-diff").inner_text()
    page.screenshot(path=str(SHOTS / "demo.png"), full_page=True)
    (SHOTS / "demo-scores.json").write_text(json.dumps(report, indent=1))
    page.close()
