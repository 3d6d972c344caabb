"""`make site` builds a static site that works offline: every link and image resolves.

Needs the optional site extra (`pip install -e ".[site]"`); skipped without it. The build
takes about 15 s (six notebooks rendered, none executed), hence the `slow` mark.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest

for _module in ("mkdocs", "material", "mkdocs_jupyter", "latex2mathml"):
    pytest.importorskip(_module, reason='the site extra is not installed: pip install -e ".[site]"')

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("build_site", REPO / "scripts" / "build_site.py")
build_site = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_site)

RESOURCE_TAGS = {"img", "script", "link", "iframe", "source", "video", "audio", "embed"}
SOURCE_URL = "https://example.org/tfpt/blob/main/"


class Page(HTMLParser):
    """The references (tag, attribute, value) and the anchor ids of one HTML page."""

    def __init__(self, text: str):
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.ids: set[str] = set()
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("id", "name") and value:
                self.ids.add(value)
            elif name in ("href", "src"):
                self.refs.append((tag, name, value or ""))


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("site")
    timings = tmp / "timings.json"
    timings.write_text(json.dumps({"00_start_here.ipynb": {"full_s": 12.3, "quick_s": 5.1}}))
    return build_site.build(tmp / "site", timings, SOURCE_URL)


@pytest.fixture(scope="module")
def pages(site) -> dict[Path, Page]:
    return {p: Page(p.read_text(encoding="utf-8")) for p in sorted(site.rglob("*.html"))}


def broken_refs(site: Path, pages: dict[Path, Page]) -> list[str]:
    """Every reference that would not work offline, as 'page: tag attr=value (why)'."""
    problems = []
    for page, parsed in pages.items():
        if page.name == "404.html":
            continue  # only a web server shows it, so it links from the site root on purpose
        for tag, attr, value in parsed.refs:
            where = f"{page.relative_to(site)}: <{tag} {attr}={value!r}>"
            scheme = urlsplit(value).scheme
            if value == "" and tag == "script":
                continue  # nbconvert's unused MathJax slot: an empty src fetches nothing
            if scheme == "data" or (tag == "a" and scheme in ("http", "https", "mailto")):
                continue  # embedded, or a link the reader may follow when online
            if scheme or value.startswith("/"):
                problems.append(f"{where} (needs the network or a web server)")
                continue
            path, _, fragment = value.partition("#")
            target = page if not path else (page.parent / unquote(path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if site.resolve() not in target.resolve().parents or not target.is_file():
                problems.append(f"{where} (no such file in the site)")
            elif fragment and target.suffix == ".html" and fragment not in pages[target].ids:
                problems.append(f"{where} (no id {fragment!r} there)")
    return problems


@pytest.mark.slow
def test_every_link_and_image_resolves_offline(site, pages):
    assert len(pages) >= 9, sorted(p.name for p in pages)
    assert (site / "search" / "search_index.js").is_file(), "offline search index missing"
    problems = broken_refs(site, pages)
    assert not problems, f"{len(problems)} broken:\n" + "\n".join(problems[:30])


@pytest.mark.slow
def test_notebook_pages(site, pages):
    notebooks = build_site.notebooks()
    index = (site / "index.html").read_text(encoding="utf-8")
    positions = [index.find(f'href="notebooks/{nb.stem}.html"') for nb in notebooks]
    assert -1 not in positions and positions == sorted(positions), "navigation out of order"
    for nb_path in notebooks:
        page = site / "notebooks" / f"{nb_path.stem}.html"
        html = page.read_text(encoding="utf-8")
        download = site / "downloads" / nb_path.name
        assert download.read_bytes() == nb_path.read_bytes(), f"{download} differs from source"
        assert f'href="../downloads/{nb_path.name}"' in html
        assert f'href="{SOURCE_URL}notebooks/{nb_path.name}"' in html
        nb = nbformat.read(nb_path, as_version=4)
        figures = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
                      for o in c.outputs)
        assert html.count('src="data:image/png;base64,') >= figures, f"{page.name}: figures"
        assert not re.search(r"(?<![\\$\w])\$[^$\s][^$\n<]*\$(?![\w$])",
                             re.sub(r"<script.*?</script>|<code.*?</code>|<pre.*?</pre>"
                                    r'|<div class="clipboard-copy-txt".*?</div>',  # cell source
                                    "", html, flags=re.DOTALL)), f"{page.name}: TeX left unrendered"


@pytest.mark.slow
def test_landing_page_and_cheat_sheet(site):
    index = (site / "index.html").read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", "", index)
    assert "make lab" in text and "make test" in text
    first = re.search(r"<tr>(?:(?!</tr>).)*?00_start_here\.html.*?</tr>", index, re.DOTALL)[0]
    assert "12 s" in first and "5 s" in first, first
    assert index.count(build_site.NOT_MEASURED) == 2 * (len(build_site.notebooks()) - 1) + 2
    sheet = (site / "cheatsheet.html").read_text(encoding="utf-8")
    assert sheet.count("<tr>") >= 50


def test_timings_are_read_not_invented(tmp_path):
    paths = build_site.notebooks()
    table = build_site.reading_order(paths, build_site.load_timings(tmp_path / "absent.json"))
    assert table.count(build_site.NOT_MEASURED) == 2 * len(paths)
    assert "make run" in table and " s |" not in table
    measured = {p.name: {"full_s": 100.0 + i, "quick_s": 3.0} for i, p in enumerate(paths)}
    table = build_site.reading_order(paths, measured)
    assert build_site.NOT_MEASURED not in table and "1.7 min" in table
    assert f"{3 * len(paths)} s" in table  # the total of the quick runs


def test_timings_file_may_carry_metadata(tmp_path):
    path = tmp_path / "timings.json"
    path.write_text('{"_machine": "laptop", "00_x.ipynb": {"full_s": 3, "date": "today"}}')
    assert build_site.load_timings(path) == {"00_x.ipynb": {"full_s": 3, "date": "today"}}


@pytest.mark.parametrize("content", ['{"00_x.ipynb": {"full_s": "fast"}}', "[1, 2]", "{oops",
                                     '{"00_x.ipynb": {"quick_s": -1}}'])
def test_bad_timings_file_is_one_clear_error(tmp_path, content):
    path = tmp_path / "timings.json"
    path.write_text(content)
    with pytest.raises(SystemExit, match="fix the file or delete it"):
        build_site.load_timings(path)


def test_math_becomes_mathml_outside_code_only():
    text = "For $y = x^2$ at $x = 2$, cost \\$5, code `echo $HOME` and $$\\sqrt{x}$$."
    out = build_site.math_to_mathml(text)
    assert out.count("<math") == 3 and "`echo $HOME`" in out and "\\$5" in out


def test_link_checker_catches_what_breaks_offline(tmp_path):
    (tmp_path / "img.png").write_bytes(b"png")
    page = tmp_path / "page.html"
    page.write_text('<h2 id="here">x</h2><a href="#here">ok</a><img src="img.png">'
                    '<a href="https://example.org">ok online</a>'
                    '<img src="missing.png"><a href="#nowhere">x</a>'
                    '<script src="https://cdn.example.org/x.js"></script>'
                    '<link rel="stylesheet" href="/assets/site.css">')
    problems = broken_refs(tmp_path, {page: Page(page.read_text())})
    assert [p.split(": ", 1)[1].split(">")[0] for p in problems] == [
        "<img src='missing.png'", "<a href='#nowhere'",
        "<script src='https://cdn.example.org/x.js'", "<link href='/assets/site.css'"]


def test_broken_doc_link_fails_the_build(tmp_path):
    root = tmp_path / "repo"
    (root / "notebooks").mkdir(parents=True)
    shutil.copy(REPO / "mkdocs.yml", root)
    (root / "site").mkdir()
    shutil.copy(REPO / "site" / "hooks.py", root / "site")  # mkdocs.yml's hook
    shutil.copytree(REPO / "docs", root / "docs", ignore=shutil.ignore_patterns("timings.json"))
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 00 · Tiny")]),
                   root / "notebooks" / "00_tiny.ipynb")
    (root / "docs" / "broken.md").write_text("# Broken\n\nSee [nothing](missing.md).\n")
    from mkdocs.exceptions import Abort

    with pytest.raises(Abort, match="strict"):
        build_site.build(tmp_path / "site", tmp_path / "none.json", "", root=root)


def test_notebook_page_names_the_versions_it_was_verified_with():
    nb = nbformat.v4.new_notebook()
    assert build_site.verified_with(nb) is None
    nb.metadata["tfpt"] = {"verified_with": {"python": "3.11.7", "torch": "2.14.1",
                                             "tensorflow": "2.21.0", "keras": "3.15.1"}}
    assert build_site.verified_with(nb) == ("Verified with Python 3.11.7, torch 2.14.1, "
                                            "TensorFlow 2.21.0, Keras 3.15.1")


def _hooks():
    spec = importlib.util.spec_from_file_location("site_hooks", REPO / "site" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_marked_cells_become_one_two_column_pair():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("a = tf.ones(2)", metadata={"tfpt": {"pair": "tf", "pair_id": "01-1"}}),
        nbformat.v4.new_code_cell("b = torch.ones(2)",
                                  metadata={"tfpt": {"pair": "torch", "pair_id": "01-1"}}),
        nbformat.v4.new_code_cell("print(a, b)")])
    build_site.pair_tags(nb)
    cell = ('<div class="jp-Cell jp-CodeCell celltag_{0} celltag_tfpt-pairid-01-1">'
            '<div class="jp-Cell">{1}</div></div>')  # mkdocs-jupyter nests a copy of the div
    html = (cell.format("tfpt-pair-tf", "A") + "\n" + cell.format("tfpt-pair-torch", "B")
            + '\n<div class="jp-Cell jp-CodeCell">C</div>')
    assert nb.cells[0].metadata["tags"] == ["tfpt-pair-tf", "tfpt-pairid-01-1"]
    out = _hooks().pair_columns(html)
    assert out.count('class="tfpt-pair"') == 1
    tf_col = out.index("tfpt-col-tf")
    assert tf_col < out.index(">A<") < out.index("tfpt-col-torch") < out.index(">B<") < out.index(">C<")
    assert out.index(">C<") > out.index("</div></div></div></div>")  # C stays outside the pair
