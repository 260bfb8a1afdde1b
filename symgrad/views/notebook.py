"""A Jupyter notebook of a worked example: the solution in Markdown, then code that
recomputes every number (the ``py`` format's standard-library script), so a learner
can change a number and run it again.  Needs the optional extra ``symgrad[notebook]``
(nbformat).
"""

from __future__ import annotations

from ..errors import SymgradError

__all__ = ["notebook"]


def notebook(example) -> str:
    """The ``.ipynb`` text of a :class:`~symgrad.views.render.WorkedExample`.

    >>> import json, symgrad
    >>> cells = json.loads(notebook(symgrad.worked_example()))["cells"]
    >>> [cell["cell_type"] for cell in cells]
    ['markdown', 'markdown', 'code']
    """
    try:
        import nbformat
        from nbformat import v4
    except ImportError:
        raise SymgradError("notebooks need nbformat, an optional extra: "
                           "pip install 'symgrad[notebook]'") from None
    script = example.to_python()
    # A shebang means nothing in a cell.
    body = script.partition("\n")[2] if script.startswith("#!") else script
    # Cell ids named, not nbformat's random ones: the same example gives the same file.
    book = v4.new_notebook(cells=[
        v4.new_markdown_cell(example._repr_markdown_(), id="worked-example"),
        v4.new_markdown_cell("## Recompute every number\n\nThe cell below recomputes the "
                             "worked example in plain Python with exact fractions. Change "
                             "a number and run it again.", id="recompute-heading"),
        v4.new_code_cell(body, id="recompute"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"},
                 "language_info": {"name": "python"}})
    nbformat.validate(book)
    return nbformat.writes(book)
