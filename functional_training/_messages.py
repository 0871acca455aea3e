"""Text made one line of a message, and sizes in words: one owner for each way of doing it.

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

And one way to say a size in a message: :func:`size_text` (``4.9 KiB``, ``75 GiB``).

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


def size_text(size: float) -> str:
    """Bytes in the largest binary unit that keeps the number >= 1 (``4.9 KiB``, ``16 GiB``).

    Example:
      >>> size_text(500), size_text(4968), size_text(2**34)
      ('500 B', '4.9 KiB', '16 GiB')
    """
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.1f} {unit}" if size < 10 and unit != "B" else f"{size:.0f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
