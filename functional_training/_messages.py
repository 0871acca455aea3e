"""Text made one line of a message: one owner for each way of doing it.

A message the project prints or raises is one line (docs/design.md: bad input is one
line, never a traceback). Text from elsewhere (a library's exception, a TOML parser's
report, a plug-in's import error) may span lines; there are three ways to make it one,
each with its own name:

- :func:`one_line`: every run of whitespace, newlines included, becomes one space;
  nothing is dropped (the command lines' error messages, the spec reader's).
- :func:`first_line`: only the first line, stripped (a backend's reason for not
  running: the headline of an import error, without the detail that follows).
- :func:`clipped_line`: :func:`one_line`, cut to a length with ``...`` (a data file
  library's message, which can quote a whole row of the file).

Standard library only.

Example:
  >>> text = "bad value\\n  at row 3\\tcolumn 2 "
  >>> one_line(text), first_line(text), clipped_line(text, 12)
  ('bad value at row 3 column 2', 'bad value', 'bad value...')
"""

from __future__ import annotations


def one_line(message: object) -> str:
    """``message`` with every run of whitespace (newlines included) squashed to one space.

    Example:
      >>> one_line("first line\\n  second\\tline ")
      'first line second line'
    """
    return " ".join(str(message).split())


def first_line(text: object) -> str:
    """The first line of ``text`` (leading and trailing whitespace stripped), or ``""``.

    Example:
      >>> first_line("  No module named 'torch'\\nTraceback: ...")
      "No module named 'torch'"
    """
    lines = str(text).strip().splitlines()
    return lines[0].strip() if lines else ""


def clipped_line(text: object, limit: int) -> str:
    """:func:`one_line` of ``text``, at most ``limit`` characters: a longer one ends in ``...``.

    Example:
      >>> clipped_line("a b c d e f", 8)
      'a b c...'
    """
    line = one_line(text)
    return line if len(line) <= limit else line[: limit - 3] + "..."
