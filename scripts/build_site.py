"""Build the series' static site into build/site, offline, from the committed notebooks.

`make site` calls this. It stages docs/ and notebooks/NN_*.ipynb into a folder beside the
output (build/site-src), fills the landing page's reading-order table from the notebooks
and docs/timings.json (written by `make run`; "not measured yet" without it), turns the
notebooks' $…$ formulas into MathML so that no page needs MathJax from a CDN, adds a
download link (and, if configured, a source link) to each notebook page, and runs mkdocs
with mkdocs.yml. Notebooks are never executed: the pages show the committed outputs.

    python scripts/build_site.py [--out build/site] [--timings docs/timings.json]
                                 [--source-url https://github.com/OWNER/tfpt/blob/main/]
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
import sys
from pathlib import Path

import nbformat

try:
    import yaml
    from latex2mathml.converter import convert as tex_to_mathml
    from mkdocs.exceptions import MkDocsException
except ImportError as err:
    raise SystemExit(f"error: {err.name} is missing: install the site extra with "
                     "`.venv/bin/pip install -e '.[site]'` (make site does it)") from None

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("build_site")
MARKER = "<!-- tfpt:reading-order -->"
NOT_MEASURED = "not measured yet"
CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.DOTALL)  # fenced blocks and code spans
MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$\w])\$(?=\S)([^$\n]+?)(?<=\S)\$(?![\w$])",
                  re.DOTALL)


def notebooks(root: Path = ROOT) -> list[Path]:
    """The series, in reading order."""
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def title(nb: nbformat.NotebookNode, fallback: str) -> str:
    """The notebook's first level-1 heading, without its "NN · " prefix."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return re.sub(r"^\d+\s*·\s*", "", line[2:]).strip()
    return fallback


# --- timings ----------------------------------------------------------------------------

TIMING_KEYS = ("full_s", "quick_s")


def _timings_problem(data) -> str | None:
    """What is wrong with parsed timings, or None (other keys in an entry are allowed)."""
    if not isinstance(data, dict):
        return "the top level is not an object"
    for name, entry in data.items():
        if name.startswith("_"):
            continue  # room for metadata such as "_machine"
        if not isinstance(entry, dict) or not all(
                isinstance(entry[k], (int, float)) and not isinstance(entry[k], bool)
                and entry[k] >= 0 for k in TIMING_KEYS if k in entry):
            return f'entry {name!r} is not {{"full_s": seconds, "quick_s": seconds}}'
    return None


def load_timings(path: Path) -> dict[str, dict[str, float]]:
    """{notebook file name: {"full_s": s, "quick_s": s}}; {} when the file is absent."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        problem = _timings_problem(data)
    except ValueError as err:  # json.JSONDecodeError
        problem = f"not JSON ({err})"
    if problem:
        raise SystemExit(f"error: {path}: {problem}: fix the file or delete it (`make run` "
                         "writes it again)")
    return {k: v for k, v in data.items() if not k.startswith("_")}


def seconds(value: float | None) -> str:
    """12 s, 3.4 min; "not measured yet" for None."""
    if value is None:
        return NOT_MEASURED
    return f"{value:.0f} s" if value < 90 else f"{value / 60:.1f} min"


def reading_order(paths: list[Path], timings: dict) -> str:
    """The landing page's table: notebook, link, and measured times (never invented)."""
    lines = ["| # | notebook | full run | quick run |", "|---|---|---|---|"]
    totals: dict[str, float | None] = dict.fromkeys(TIMING_KEYS, 0.0)
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        entry = timings.get(path.name, {})
        totals = {key: None if total is None or key not in entry else total + entry[key]
                  for key, total in totals.items()}
        lines.append(f"| {path.name[:2]} | [{title(nb, path.stem)}](notebooks/{path.name}) | "
                     f"{seconds(entry.get('full_s'))} | {seconds(entry.get('quick_s'))} |")
    if paths and timings:
        lines.append(f"| | **all {len(paths)}** | {seconds(totals['full_s'])} | "
                     f"{seconds(totals['quick_s'])} |")
    unknown = sorted(set(timings) - {p.name for p in paths})
    if unknown:
        log.warning("timings for notebooks that do not exist (renamed?): %s",
                    ", ".join(unknown))
    if not timings:
        lines += ["", "No times yet: `make run` measures them into `docs/timings.json`."]
    return "\n".join(lines)


# --- notebooks --------------------------------------------------------------------------

def _mathml(match: re.Match) -> str:
    display, inline = match.group(1), match.group(2)
    tex = re.sub(r"\\text\{([^}]*)\}", lambda m: r"\text{" + m[1].replace(r"\_", "_") + "}",
                 display or inline)
    try:
        return tex_to_mathml(tex, display="block" if display else "inline")
    except Exception:  # noqa: BLE001  (its errors subclass Exception): show the TeX instead
        return f"`{tex}`"


def math_to_mathml(markdown: str) -> str:
    """Replace $…$ and $$…$$ outside code with MathML, which browsers render natively."""
    parts = CODE.split(markdown)
    return "".join(p if i % 2 else MATH.sub(_mathml, p) for i, p in enumerate(parts))


def pair_tags(nb: nbformat.NotebookNode) -> None:
    """Turn scripts/mark_pairs.py's metadata into tags, which nbconvert writes as classes."""
    for cell in nb.cells:
        meta = cell.metadata.get("tfpt") or {}
        if meta.get("pair") in ("tf", "torch") and meta.get("pair_id"):
            cell.metadata["tags"] = [*cell.metadata.get("tags", []), f"tfpt-pair-{meta['pair']}",
                                     f"tfpt-pairid-{meta['pair_id']}"]


def verified_with(nb: nbformat.NotebookNode) -> str | None:
    """"Verified with Python 3.11.7, torch 2.14.1, …" from run_series.py's stamp, if any."""
    stamp = (nb.metadata.get("tfpt") or {}).get("verified_with") or {}
    names = {"python": "Python", "torch": "torch", "tensorflow": "TensorFlow", "keras": "Keras"}
    parts = [f"{label} {stamp[key]}" for key, label in names.items() if stamp.get(key)]
    return "Verified with " + ", ".join(parts) if parts else None


def stage_notebook(source: Path, target: Path, source_url: str) -> None:
    """Copy a notebook for rendering: formulas as MathML, pairs tagged, links on top."""
    nb = nbformat.read(source, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = math_to_mathml(cell.source)
    pair_tags(nb)
    links = [f"[Download this notebook](../downloads/{source.name}) (with its outputs)"]
    if source_url:
        links.append(f"[view its source]({source_url.rstrip('/')}/notebooks/{source.name})")
    stamp = verified_with(nb)
    if stamp:
        links.append(stamp)
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(" · ".join(links)))
    nbformat.write(nb, target)


ORT_FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
ORT_MISSING = ('throw new Error("onnxruntime-web is not installed: run `npm ci --prefix site`, '
               'then make site");\n')


def stage_site_assets(stage_dir: Path) -> None:
    """The pairs' CSS/JS, and onnxruntime-web for the demo (installed by `npm ci`, not fetched)."""
    shutil.copytree(ROOT / "site" / "assets", stage_dir / "assets" / "tfpt", dirs_exist_ok=True)
    if not (stage_dir / "demo").is_dir():
        return
    ort_dir = stage_dir / "demo" / "ort"
    ort_dir.mkdir(exist_ok=True)
    dist = ROOT / "site" / "node_modules" / "onnxruntime-web" / "dist"
    if all((dist / name).is_file() for name in ORT_FILES):
        for name in ORT_FILES:
            shutil.copy2(dist / name, ort_dir / name)
    else:
        log.warning("onnxruntime-web is missing (%s): the demo page will not run; "
                    "install it with `npm ci --prefix site`", dist)
        (ort_dir / ORT_FILES[0]).write_text(ORT_MISSING, encoding="utf-8")


def stage(stage_dir: Path, timings_path: Path, source_url: str, root: Path = ROOT) -> list:
    """Fill ``stage_dir`` with the site's sources; return the mkdocs nav."""
    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    shutil.copytree(root / "docs", stage_dir, ignore=shutil.ignore_patterns("timings.json"))
    paths = notebooks(root)
    if not paths:
        raise SystemExit(f"error: no notebooks/NN_*.ipynb under {root}: run from the repository")
    index = stage_dir / "index.md"
    text = index.read_text(encoding="utf-8")
    if MARKER not in text:
        raise SystemExit(f"error: docs/index.md lacks the line {MARKER}: put it back where "
                         "the reading-order table belongs")
    index.write_text(text.replace(MARKER, reading_order(paths, load_timings(timings_path))),
                     encoding="utf-8")
    stage_site_assets(stage_dir)
    (stage_dir / "notebooks").mkdir()
    (stage_dir / "downloads").mkdir()
    nav_notebooks = []
    for path in paths:
        stage_notebook(path, stage_dir / "notebooks" / path.name, source_url)
        shutil.copy2(path, stage_dir / "downloads" / path.name)
        nb_title = title(nbformat.read(path, as_version=4), path.stem)
        nav_notebooks.append({f"{path.name[:2]} · {nb_title}": f"notebooks/{path.name}"})
    nav = [{"Home": "index.md"}, {"Notebooks": nav_notebooks}]
    if (stage_dir / "cheatsheet.md").exists():
        nav.append({"Cheat sheet": "cheatsheet.md"})
    for md in sorted(stage_dir.glob("*.md")):
        if md.name not in ("index.md", "cheatsheet.md", "demo.md"):
            heading = next((ln[2:].strip() for ln in md.read_text(encoding="utf-8").splitlines()
                            if ln.startswith("# ")), md.stem)
            nav.append({heading: md.name})
    if (stage_dir / "demo.md").exists():
        nav.append({"Try it: both models in your browser": "demo.md"})
    return nav


def _toc_tokens(path: str, toc_depth: int) -> tuple[list, str | None]:
    """A notebook's table of contents, read from its markdown cells.

    Replaces mkdocs-jupyter 0.26's version, which drops `code` from headings, so that the
    sidebar's links ("#comes-first") missed the headings' ids ("#import-tfpt-comes-first").
    """
    from mkdocs_jupyter.plugin import _get_markdown_toc

    nb = nbformat.read(path, as_version=4)
    source = "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    tokens = _get_markdown_toc(source, toc_depth)
    return tokens, next((t["name"] for t in tokens if t["level"] == 1), None)


def build(out: Path, timings_path: Path, source_url: str | None = None,
          root: Path = ROOT) -> Path:
    """Stage ``root``'s docs and notebooks, build the site into ``out``; return ``out``."""
    import mkdocs_jupyter.plugin
    from mkdocs.commands.build import build as mkdocs_build
    from mkdocs.config import load_config

    mkdocs_jupyter.plugin._get_nb_toc_tokens = _toc_tokens

    out = out.resolve()
    stage_dir = out.with_name(out.name + "-src")
    config_file = root / "mkdocs.yml"
    if source_url is None:
        extra = yaml.safe_load(config_file.read_text(encoding="utf-8")).get("extra") or {}
        source_url = extra.get("source_url") or ""
    nav = stage(stage_dir, timings_path, source_url, root)
    config = load_config(str(config_file), docs_dir=str(stage_dir), site_dir=str(out), nav=nav,
                         strict=True)
    mkdocs_build(config)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site",
                        help="output folder (default: build/site); sources are staged "
                             "beside it in OUT-src")
    parser.add_argument("--timings", type=Path, default=ROOT / "docs" / "timings.json",
                        help="measured notebook times (default: docs/timings.json)")
    parser.add_argument("--source-url", default=None,
                        help="repository blob URL for 'view source' links "
                             "(default: extra.source_url in mkdocs.yml)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        out = build(args.out, args.timings, args.source_url)
    except MkDocsException as err:  # e.g. a plugin missing, or a warning in strict mode
        print(f"error: mkdocs: {err.format_message()}: fix what the lines above name "
              "(missing plugin: pip install -e '.[site]')", file=sys.stderr)
        return 1
    print(f"site built: {out}/index.html (open it in a browser; no network needed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
