"""Sphinx configuration of the sklearn-fairif documentation.

Build with ``make docs`` from the repository root (warnings are errors). The
build is offline: no intersphinx, the gallery examples use bundled or
synthetic data. ``_build_ext.py`` runs ``fairif demo`` for the quick start and
gathers ``benchmarks/results/*.md`` for the benchmarks page; MyST parses the
Markdown.
"""

import os
import sys
from pathlib import Path

# One OpenMP / BLAS thread: the examples' models are small, and on a shared
# machine several threads contend (gradient boosting ran 5x slower with two).
# Set before numpy, scikit-learn or torch load their thread pools.
os.environ.setdefault("OMP_NUM_THREADS", "1")

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))  # document the checkout, not an install
sys.path.insert(0, str(DOCS))  # _gallery_order, _build_ext

import sklearn_fairif  # noqa: E402

DEFAULT_ALPHA = sklearn_fairif.FairIFClassifier().get_params()["alpha"]

project = "sklearn-fairif"
author = "sklearn-fairif developers"
copyright = "2026, sklearn-fairif developers"
version = release = sklearn_fairif.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
    "_build_ext",
]

templates_path = ["_templates"]
# benchmarks.md is included by benchmarks.rst, not a page of its own.
exclude_patterns = ["_build", "generated/cli/**", "benchmarks.md"]
default_role = "literal"
root_doc = "index"
# The default is a string ("auto") or a number; render either as Python would.
_ALPHA_TEXT = (repr(DEFAULT_ALPHA) if isinstance(DEFAULT_ALPHA, str)
               else f"{DEFAULT_ALPHA:g}")
rst_prolog = f".. |default_alpha| replace:: ``alpha={_ALPHA_TEXT}``\n"

# -- Markdown (benchmarks.md and benchmarks/results/*.md) ------------------
# Only what those files use: CommonMark, pipe tables and images. Headings get
# no anchors of their own (the result files are linked by label).
myst_enable_extensions = []
myst_heading_anchors = 0

# -- API reference -------------------------------------------------------------
autosummary_generate = True
autodoc_typehints = "none"
numpydoc_show_class_members = False  # methods are listed by the class template
numpydoc_xref_param_type = False

# -- Gallery ------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/plot_",
    "plot_gallery": "True",
    "abort_on_example_error": True,
    "within_subsection_order": "_gallery_order.ExampleOrder",
    "doc_module": ("sklearn_fairif",),
    "reference_url": {"sklearn_fairif": None},
    "backreferences_dir": "generated/backreferences",
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "default_thumb_file": None,
}

# -- Maths --------------------------------------------------------------------
# Readers' browsers load MathJax from its CDN. To view the pages offline, point
# FAIRIF_DOCS_MATHJAX at a local copy, e.g. Debian's libjs-mathjax:
# file:///usr/share/javascript/mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML
if os.environ.get("FAIRIF_DOCS_MATHJAX"):
    mathjax_path = os.environ["FAIRIF_DOCS_MATHJAX"]

# -- HTML ---------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-fairif {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_prev_next": True,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "quickstart": [], "choosing_alpha": [],
                 "benchmarks": []}
