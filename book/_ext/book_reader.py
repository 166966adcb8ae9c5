"""Local Sphinx extension: what every chapter page of the book gives its reader.

* A "Run this chapter" note (folded to its title) right under the title of every page built
  from a notebook: how to run it locally with ``make lab``. (The book promises no hosted launcher: no Binder, Colab or
  Thebe buttons; ``_config.yml`` drops sphinx_thebe.)

Loaded from ``_config.yml`` (``sphinx.local_extensions``); tested by ``tests/test_html.py``.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx

RUN_CLASS = "nbcode-run"


def run_note(notebook: str) -> nodes.admonition:
    """The "Run this chapter" admonition for the notebook at ``notebook`` (repository path)."""
    # "dropdown": sphinx-togglebutton folds it to its title until the reader opens it
    note = nodes.admonition(classes=["tip", "dropdown", RUN_CLASS])
    note += nodes.title(text="Run this chapter")
    para = nodes.paragraph()
    para += nodes.Text("This page is a Jupyter notebook. To run it: clone the book's repository, run ")
    para += nodes.literal(text="make lab")
    para += nodes.Text(" in it (this installs everything into a local environment and opens JupyterLab), and open ")
    para += nodes.literal(text=notebook)
    para += nodes.Text(
        ". There every cell can be changed, the sliders recompute from the code and the exercises"
        " check your answers. The download button at the top of this page gives the notebook itself."
    )
    note += para
    return note


def add_run_note(app: Sphinx, doctree: nodes.document) -> None:
    """Insert the note after the first title of a document whose source is a notebook."""
    env = app.env
    source = PurePosixPath(str(env.doc2path(env.docname, base=False)).replace("\\", "/"))
    if source.suffix != ".ipynb":
        return
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None or not section.children or not isinstance(section[0], nodes.title):
        return
    section.insert(1, run_note(str(source)))


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("doctree-read", add_run_note)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
