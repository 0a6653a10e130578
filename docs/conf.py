"""Sphinx configuration of the sslts documentation.

Build with ``./dev.sh docs`` (or ``sphinx-build -W --keep-going -b html docs
docs/_build/html`` in an environment with the ``[docs]`` extra). The build is
offline: no intersphinx inventory is fetched and every example runs on the CPU.
Pages generated at build time (API lists, model cards, benchmark tables) are
written under ``docs/generated/`` by the ``sslts_docs`` extension in ``_ext/``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

# The examples run inside the build: one thread each, a non-interactive backend,
# and no competing thread pools (the build machine may be small and shared).
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import sslts  # imported after the thread settings above

project = "sslts"
author = "sslts developers"
copyright = "sslts developers"
version = release = sslts.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "matplotlib.sphinxext.plot_directive",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "sslts_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = [
    "_build",
    "_templates",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.md5",
    "auto_examples/*.json",
]
templates_path = ["_templates"]

# --------------------------------------------------------------------- MyST
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

# --------------------------------------------------- autodoc / autosummary
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"  # numpydoc's "Parameters" sections carry the types
autodoc_member_order = "groupwise"

# ------------------------------------------------------------------ numpydoc
numpydoc_show_class_members = False  # autodoc lists the members
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False
# Gaps in the public API's docstrings are build warnings (and -W makes them errors):
# a parameter missing from "Parameters" (PR01), one documented that does not exist
# (PR02), or a public class or function without a docstring (GL08).
numpydoc_validation_checks = {"PR01", "PR02", "GL08"}
numpydoc_validation_exclude = {
    r"\.__init__$",
    r"\.forward$",  # torch modules: documented by the class
    r"\.extra_repr$",
    # skorch callback hooks and net overrides: called by skorch, documented there
    r"\.on_[a-z_]+$",
    r"\.initialize$",
    r"^sslts\.training\.PretrainNet\.infer$",
    # a typing.Protocol: its "parameters" are Protocol's own (*args, **kwargs)
    r"^sslts\.data\.sources\.SeriesSource$",
}

# ------------------------------------------------------------ sphinx-gallery
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # every example runs during the build (each well under a minute on one CPU
    # thread) except the sktime benchmark: about 30 s once numba has cached
    # sktime's MiniRocket and DTW kernels, but 1.5-2 min in a fresh environment
    # (measured 100 s), over the 60 s per example that tests/test_docs.py
    # allows; it is shown with its code but not executed.
    "filename_pattern": r"^((?!sktime_benchmark).)*$",
    "ignore_pattern": r"__init__\.py",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "abort_on_example_error": True,
    "show_memory": False,
    "matplotlib_animations": False,
    "plot_gallery": "True",
    "reset_modules": ("matplotlib", "seaborn"),
}

# ------------------------------------------------- matplotlib plot directive
plot_formats = [("png", 100)]
plot_html_show_formats = False
plot_html_show_source_link = False

# --------------------------------------------------------------------- HTML
html_theme = "furo"
html_title = f"sslts {release}"
html_static_path: list[str] = []
html_show_sourcelink = False

nitpicky = False
