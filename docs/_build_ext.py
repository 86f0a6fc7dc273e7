"""Sphinx extension: the parts of the docs that are generated at build time.

- **The command line.** The quick start shows a real ``fairif demo`` run (its
  terminal output and the report's two plots) and the real ``--help`` texts,
  so the pages cannot drift from the command.
- **Benchmark results.** Every ``benchmarks/results/*.md`` is rendered into
  ``generated/benchmark_results.rst`` (a small Markdown subset: headings,
  paragraphs, bullet lists, pipe tables, images, inline code and bold), which
  ``benchmarks.rst`` includes under its hand-written summary; a new result
  file appears without editing the docs.
- **API coverage.** Every public name of the package must appear in
  ``api.rst``; a missing one is a warning, so an error under ``-W``.
- **Shapes in docstrings.** ``of shape (n_features_in_,)`` would make
  docutils read ``n_features_in_`` as a link target; such fitted-attribute
  names inside a shape are quoted before numpydoc parses the docstring.

Everything is written under ``docs/generated/``.
"""

import contextlib
import importlib
import io
import os
import re
import time
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

PUBLIC_MODULES = ["sklearn_fairif", "sklearn_fairif.metrics",
                  "sklearn_fairif.datasets", "sklearn_fairif.influence"]


# ------------------------------------------------------------- command line
def _run(argv):
    from sklearn_fairif._cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = main(argv)
    if status:
        raise RuntimeError(f"fairif {' '.join(argv)} failed: {stderr.getvalue()}")
    return stdout.getvalue()


def run_cli(app):
    out = Path(app.srcdir) / "generated" / "cli"
    out.mkdir(parents=True, exist_ok=True)
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "88"  # argparse wraps --help to the terminal width
    try:
        for name, argv in [("help", ["--help"]), ("demo_help", ["demo", "--help"]),
                           ("fit_help", ["fit", "--help"])]:
            (out / f"{name}.txt").write_text(_run(argv))
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns
    start = time.perf_counter()
    report = out / "fairif_report"
    text = _run(["demo", "--out", str(report)])
    # Show the report folder as a user running the command would see it.
    (out / "demo_output.txt").write_text(text.replace(str(report), "fairif_report"))
    logger.info(f"fairif demo ran in {time.perf_counter() - start:.1f}s")


# -------------------------------------------------------- benchmark results
def _inline(text):
    """Markdown inline markup to reStructuredText."""
    parts = re.split(r"(`[^`]+`)", text)
    out = []
    for i, part in enumerate(parts):
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            literal = f"``{part[1:-1]}``"
            # rst inline markup may not touch word characters: escape a space.
            if i and re.search(r"\w$", parts[i - 1]):
                literal = "\\ " + literal
            if i + 1 < len(parts) and re.match(r"\w", parts[i + 1]):
                literal += "\\ "
            out.append(literal)
            continue
        # A word ending in "_" would be a reference in rst; a lone "*" a stray
        # emphasis. Markdown's *emphasis* pairs are the same in rst: kept.
        part = re.sub(r"(\w)_(?=\W|$)", r"\1\\_", part)
        part = re.sub(r"(?<![*\w])\*(?=\S)([^*]+?)(?<=\S)\*(?![*\w])",
                      "\x00\\1\x01", part)
        part = re.sub(r"(?<!\*)\*(?!\*)", r"\\*", part)
        part = part.replace("\x00", "*").replace("\x01", "*")
        out.append(part)
    return "".join(out)


def _table_cells(line):
    cells = line.strip().strip("|").split("|")
    return [c.strip() for c in cells]


def _merge_cells(cells, n):
    """Undo splits at '|' used inside a cell (e.g. ``|mean w - 1|``)."""
    cells = list(cells)
    while len(cells) > n:
        for i in range(len(cells) - 2):
            if cells[i] == "" and cells[i + 2] == "":
                cells[i:i + 3] = [f"\\|{cells[i + 1]}\\|"]
                break
        else:
            cells = cells[:n - 1] + [" | ".join(cells[n - 1:])]
    return cells


def _table(lines):
    rows = [_table_cells(line) for line in lines]
    separator = next((i for i, r in enumerate(rows)
                      if all(re.fullmatch(r":?-+:?", c) for c in r if c)), None)
    n = len(rows[separator]) if separator is not None else len(rows[-1])
    body = [r for i, r in enumerate(rows) if i != separator]
    out = [".. list-table::", "   :header-rows: 1", ""]
    for row in body:
        row = _merge_cells(row, n)
        row += [""] * (n - len(row))
        for j, cell in enumerate(row):
            out.append(("   * - " if j == 0 else "     - ") + (_inline(cell) or ""))
    return out + [""]


def markdown_to_rst(text, levels, base):
    """Convert one results file; ``levels`` underline '#', '##', '###'.

    ``base`` is the results folder relative to the including page, for images
    (``"/"``: the image paths are relative to the docs source folder).
    """
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        heading = re.match(r"^(#{1,3})\s+(.*)", line)
        image = re.match(r"^!\[([^\]]*)\]\(([^)\s]+)\)\s*$", line.strip())
        if image:
            src = f"{base.rstrip('/')}/{image.group(2)}"
            out += ["", f".. image:: {src}",
                    f"   :alt: {image.group(1) or image.group(2)}",
                    "   :width: 100%", ""]
            i += 1
        elif heading:
            title = _inline(heading.group(2).strip())
            char = levels[len(heading.group(1)) - 1]
            out += ["", title, char * max(len(title), 3), ""]
            i += 1
        elif line.lstrip().startswith("|"):
            block = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                block.append(lines[i])
                i += 1
            out += [""] + _table(block)
        elif re.match(r"^\s*[-*] ", line):
            item = [re.sub(r"^\s*[-*]\s+", "", line)]
            i += 1
            while i < len(lines) and lines[i].startswith("  ") and lines[i].strip():
                item.append(lines[i].strip())
                i += 1
            if not out or not out[-1].startswith("- "):
                out.append("")
            out.append("- " + _inline(" ".join(item)))
        elif not line.strip():
            out.append("")
            i += 1
        else:
            paragraph = []
            while (i < len(lines) and lines[i].strip()
                   and not re.match(r"^(#|!\[|\s*\||\s*[-*] )", lines[i])):
                paragraph.append(lines[i].strip())
                i += 1
            out += ["", _inline(" ".join(paragraph)), ""]
    return "\n".join(out) + "\n"


def render_benchmarks(app):
    results = Path(app.srcdir).parent / "benchmarks" / "results"
    parts = []
    for path in sorted(results.glob("*.md")):
        rel = os.path.relpath(path, app.srcdir)
        parts.append(f".. _benchmark_{path.stem}:\n")
        body = markdown_to_rst(path.read_text(encoding="utf-8"), "-~^",
                               os.path.dirname(rel))
        # The file's own title becomes the section title; then the link.
        first, _, rest = body.lstrip("\n").partition("\n")
        underline, _, rest = rest.partition("\n")
        parts.append(f"{first}\n{underline}\n\n:download:`{path.name} <{rel}>` "
                     f"(``benchmarks/results/{path.name}``)\n{rest}")
    out = Path(app.srcdir) / "generated" / "benchmark_results.rst"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(parts), encoding="utf-8")
    # The plain-words comparison with the alternatives (docs/benchmarks.md);
    # its image paths are relative to docs/ already.
    comparison = Path(app.srcdir) / "benchmarks.md"
    (out.parent / "benchmark_comparison.rst").write_text(
        markdown_to_rst(comparison.read_text(encoding="utf-8"), "=-~", "/"),
        encoding="utf-8",
    )


# ------------------------------------------------------------------ shapes
_SHAPE = re.compile(r"of shape \([^)]*\)")
_TRAILING_UNDERSCORE = re.compile(r"(?<![`\w])([A-Za-z]\w*_)(?![`\w])")


def quote_shape_names(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        lines[i] = _SHAPE.sub(
            lambda m: _TRAILING_UNDERSCORE.sub(r"`\1`", m.group(0)), line)


# ---------------------------------------------------------------- API check
def check_api_coverage(app):
    api = (Path(app.srcdir) / "api.rst").read_text()
    documented = set(re.findall(r"^\s+([A-Za-z_]\w*)\s*$", api, flags=re.M))
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            if not name.startswith("__") and name not in documented:
                logger.warning(f"{module_name}.{name} is public (in __all__) but "
                               "not listed in docs/api.rst")


def setup(app):
    # Before numpydoc (priority 500) turns the sections into rst.
    app.connect("autodoc-process-docstring", quote_shape_names, priority=400)
    app.connect("builder-inited", check_api_coverage)
    app.connect("builder-inited", render_benchmarks)
    app.connect("builder-inited", run_cli)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
