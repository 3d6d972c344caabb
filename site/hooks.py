"""mkdocs hook (mkdocs.yml `hooks:`): pairs in two columns, and the framework switch.

scripts/build_site.py stages each notebook with the pair markings of scripts/mark_pairs.py
turned into cell tags, which nbconvert writes as ``celltag_tfpt-pair-tf`` (or ``-torch``)
and ``celltag_tfpt-pairid-NN-k`` classes. This hook gathers the cells of each pair into
``<div class="tfpt-pair">`` with one column per framework and a tab bar that the CSS shows
on narrow screens, and puts the switch (both / TensorFlow / PyTorch) on top of every page.
"""

from __future__ import annotations

from bs4 import BeautifulSoup

SWITCH = """<div class="tfpt-switch" role="group" aria-label="Frameworks shown">
<span class="tfpt-switch__label">Show:</span>
<button type="button" data-show="both">Both</button>
<button type="button" data-show="tf">TensorFlow only</button>
<button type="button" data-show="torch">PyTorch only</button>
</div>"""
NAMES = {"tf": "TensorFlow", "torch": "PyTorch"}


def _marking(cell) -> tuple[str, str] | None:
    """(side, pair id) of a rendered notebook cell, from its own or its content's classes."""
    classes = list(cell.get("class", []))
    inner = cell.select_one('[class*="celltag_tfpt-"]')  # markdown cells carry tags inside
    classes += inner.get("class", []) if inner else []
    side = next((c[len("celltag_tfpt-pair-"):] for c in classes
                 if c in ("celltag_tfpt-pair-tf", "celltag_tfpt-pair-torch")), None)
    pair_id = next((c[len("celltag_tfpt-pairid-"):] for c in classes
                    if c.startswith("celltag_tfpt-pairid-")), None)
    return (side, pair_id) if side and pair_id else None


def _wrap(soup: BeautifulSoup, cells: list, pair_id: str) -> None:
    """Move one pair's cells into a two-column block with a tab bar."""
    pair = soup.new_tag("div", attrs={"class": "tfpt-pair", "data-pair": pair_id,
                                      "data-tab": "tf"})
    cells[0][0].insert_before(pair)
    tabs = soup.new_tag("div", attrs={"class": "tfpt-tabs", "role": "tablist"})
    grid = soup.new_tag("div", attrs={"class": "tfpt-cols"})
    pair.append(tabs)
    pair.append(grid)
    columns = {}
    for side, name in NAMES.items():
        button = soup.new_tag("button", attrs={"type": "button", "role": "tab",
                                               "data-tab": side, "class": "tfpt-tab"})
        button.string = name
        tabs.append(button)
        columns[side] = soup.new_tag("div", attrs={"class": f"tfpt-col tfpt-col-{side}",
                                                   "data-fw": side, "aria-label": name})
        grid.append(columns[side])
    for cell, side in cells:
        columns[side].append(cell.extract())


def pair_columns(html: str) -> str:
    """The page with each marked pair's cells gathered into columns."""
    if "celltag_tfpt-pairid-" not in html:
        return html
    soup = BeautifulSoup(html, "html.parser")
    groups: list[tuple[str, list]] = []  # (pair id, [(cell, side)]), found before moving any
    previous = None
    for cell in soup.select("div.jp-Cell"):
        if cell.find_parent("div", class_="jp-Cell") is not None:
            continue  # mkdocs-jupyter nests a code cell's div in a copy of itself
        marking = _marking(cell)
        if marking:
            adjacent = previous is not None and cell.find_previous_sibling() is previous
            if groups and groups[-1][0] == marking[1] and adjacent:
                groups[-1][1].append((cell, marking[0]))
            else:
                groups.append((marking[1], [(cell, marking[0])]))
        previous = cell
    for pair_id, cells in groups:
        _wrap(soup, cells, pair_id)
    for tag in soup.select("span.cell-tag"):  # our tags are for the layout, not for readers
        if tag.get_text().startswith("tfpt-pair"):
            container = tag.find_parent("div", class_="celltoolbar")
            tag.decompose()
            if container is not None and not container.select("span.cell-tag"):
                container.decompose()
    return str(soup)


def on_page_content(html: str, page, config, files) -> str:
    """mkdocs event: columns for pairs, and the switch on top of every page."""
    return SWITCH + pair_columns(html)
