"""Sphinx extension: the parts of the docs that are generated at build time.

- **The command line.** The quick start shows a real ``fairif demo`` run (its
  terminal output and the report's two plots) and the real ``--help`` texts,
  so the pages cannot drift from the command. The command is run as a user
  runs it, ``python -m sklearn_fairif``, in a subprocess.
- **Benchmark results.** Every ``benchmarks/results/*.md`` is included,
  through MyST, in the page ``generated/benchmark_results.md``, which the
  benchmarks page links to; a new result file appears without editing the
  docs. Only the wrapper (a label, the file's own title and a download link
  per file) is written here; MyST parses the Markdown.
- **Gallery figures in pages.** :doc:`choosing_alpha` shows figures of the
  ``plot_alpha_path.py`` example (``auto_examples/images/``). Under
  ``-D plot_gallery=0`` the examples do not run and those files do not exist;
  only then are missing images not warned about.
- **API coverage.** Every public name of the package must appear in
  ``api.rst``; a missing one is a warning, so an error under ``-W``.
- **Shapes in docstrings.** ``of shape (n_features_in_,)`` would make
  docutils read ``n_features_in_`` as a link target; such fitted-attribute
  names inside a shape are quoted before numpydoc parses the docstring.

Everything is written under ``docs/generated/``.
"""

import importlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

PUBLIC_MODULES = ["sklearn_fairif", "sklearn_fairif.metrics",
                  "sklearn_fairif.datasets", "sklearn_fairif.influence",
                  "sklearn_fairif.adapters", "sklearn_fairif.utils"]


# ------------------------------------------------------------- command line
def _run(argv, cwd):
    """``python -m sklearn_fairif *argv``; its standard output."""
    env = dict(os.environ, COLUMNS="88")  # argparse wraps --help to the terminal
    # Document the checkout these pages are built from, not another install.
    checkout = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in [checkout, env.get("PYTHONPATH")] if p)
    result = subprocess.run([sys.executable, "-m", "sklearn_fairif", *argv],
                            cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"fairif {' '.join(argv)} failed "
                           f"(exit {result.returncode}): {result.stderr}")
    return result.stdout


def run_cli(app):
    out = Path(app.srcdir) / "generated" / "cli"
    out.mkdir(parents=True, exist_ok=True)
    for name, argv in [("help", ["--help"]), ("demo_help", ["demo", "--help"]),
                       ("fit_help", ["fit", "--help"])]:
        (out / f"{name}.txt").write_text(_run(argv, out))
    # The command refuses to replace an earlier run's files (without
    # --overwrite, which the page should not show): start from an empty folder.
    shutil.rmtree(out / "fairif_report", ignore_errors=True)
    start = time.perf_counter()
    # Run in generated/cli with a relative --out: the output then names the
    # report folder as a user running the command would see it.
    (out / "demo_output.txt").write_text(
        _run(["demo", "--out", "fairif_report"], out))
    logger.info(f"fairif demo ran in {time.perf_counter() - start:.1f}s")


# -------------------------------------------------------- benchmark results
def _title(path):
    """The file's first line, which must be a level-1 Markdown heading."""
    first = path.read_text(encoding="utf-8").split("\n", 1)[0]
    if not first.startswith("# "):
        raise ValueError(f"{path} must start with a '# ' title line, "
                         f"got {first!r}")
    return first[2:].strip()


def render_benchmarks(app):
    """Write the page ``generated/benchmark_results.md``, a section per file.

    Each section is the file's own title, a download link and the rest of
    the file, included by MyST one heading level down (image paths stay
    relative to the file).
    """
    generated = Path(app.srcdir) / "generated"
    generated.mkdir(parents=True, exist_ok=True)
    results = Path(app.srcdir).parent / "benchmarks" / "results"
    parts = [
        "(benchmark_results)=\n# Benchmark results in full\n\n"
        "Every file of `benchmarks/results/`, as its script last wrote it: "
        "the date, machine, library versions and command first, then the "
        "tables. {ref}`benchmarks` summarises them.\n"]
    for path in sorted(results.glob("*.md")):
        # A leading "/" is the docs source folder.
        src = "/" + Path(os.path.relpath(path, app.srcdir)).as_posix()
        parts.append(
            f"(benchmark_{path.stem})=\n"
            f"## {_title(path)}\n\n"
            f"{{download}}`{path.name} <{src}>` "
            f"(`benchmarks/results/{path.name}`)\n\n"
            f"```{{include}} {src}\n:start-line: 1\n:heading-offset: 1\n"
            ":relative-images:\n```\n")
    text = "\n".join(parts)
    target = generated / "benchmark_results.md"
    # Rewriting an unchanged file would make Sphinx reread the page.
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")


def report_included_errors(app, doctree):
    """Warn for the errors of Markdown parsed by an rst ``include``.

    ``.. include:: benchmarks.md`` with ``:parser:`` parses into a document
    of its own whose reporter prints to stderr, not to Sphinx's log: its
    errors (e.g. a MyST directive's) would otherwise pass ``-W`` silently.
    They stay in the doctree as system messages; report them through Sphinx.
    """
    for node in doctree.findall(nodes.system_message):
        source = node.get("source") or ""
        if source.endswith(".md") and node["level"] >= 2:
            logger.warning(node.astext(), location=node)


# ------------------------------------------------------------------ shapes
_SHAPE = re.compile(r"of shape \([^)]*\)")
_TRAILING_UNDERSCORE = re.compile(r"(?<![`\w])([A-Za-z]\w*_)(?![`\w])")


def quote_shape_names(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        lines[i] = _SHAPE.sub(
            lambda m: _TRAILING_UNDERSCORE.sub(r"`\1`", m.group(0)), line)


# ---------------------------------------------------------- gallery figures
def allow_missing_gallery_figures(app):
    """Suppress "image file not readable" when the examples are not run."""
    plot = app.config.plot_gallery  # a bool, or "0" / "False" from -D
    if isinstance(plot, str):
        plot = plot.strip().lower() not in {"0", "false", "no", "off", ""}
    if not plot:
        app.config.suppress_warnings = [*app.config.suppress_warnings,
                                        "image.not_readable"]


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
    app.connect("builder-inited", allow_missing_gallery_figures)
    app.connect("builder-inited", render_benchmarks)
    app.connect("builder-inited", run_cli)
    app.connect("doctree-read", report_included_errors)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
