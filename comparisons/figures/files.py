"""The files of a set of figures: PNG and SVG, ``README.md`` (captions, alt text), the data.

:func:`write_files` draws every figure of a table (:mod:`comparisons.figures.kind`)
that the data holds and writes, into one directory, ``<name>.png`` (1920 px
wide) and ``<name>.svg`` per figure (:func:`comparisons.figure_style.save_figure`),
``README.md`` (:func:`readme`: each figure's heading, image, title, caption,
alt text and files) and :data:`DATA_FILE`, the exact data each figure drew
(strict JSON, :func:`data_json`) with the library versions that decide the
files' bytes (:func:`rendered_with`). Every file is written atomically with
:func:`functional_training.runs.write_atomic`, the project's one writer.

Example:
  >>> parse_formats("svg, png")
  ('svg', 'png')
  >>> parse_formats("pdf")
  Traceback (most recent call last):
  ...
  ValueError: unknown figure format 'pdf'; choose from png, svg
  >>> print(data_json({"loss": [1.0, float("inf")]}), end="")
  {
   "loss": [
    1.0,
    "Infinity"
   ]
  }
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

import functional_training.runs as ft_runs
from comparisons import figure_style as style
from comparisons.figures.kind import FigureSpec
from functional_training import json_float

__all__ = [
    "DATA_FILE",
    "README_FILE",
    "RENDERING_PACKAGES",
    "check_output_directory",
    "data_json",
    "parse_formats",
    "readme",
    "rendered_with",
    "write_files",
]

DATA_FILE = "figure-data.json"
README_FILE = "README.md"


def parse_formats(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"png,svg"`` (or a sequence) -> ``("png", "svg")``; one-line ``ValueError`` otherwise."""
    items = text.split(",") if isinstance(text, str) else list(text)
    formats = tuple(item.strip().lower() for item in items if item.strip())
    if not formats:
        raise ValueError(f"no figure format given; choose from {', '.join(style.FORMATS)}")
    for fmt in formats:
        if fmt not in style.FORMATS:
            raise ValueError(
                f"unknown figure format {fmt!r}; choose from {', '.join(style.FORMATS)}")
    return tuple(dict.fromkeys(formats))


def readme(specs: Mapping[str, FigureSpec], data: Mapping, formats: Sequence[str], *,
           title: str, intro: str) -> str:
    """``README.md`` of a figures directory: ``# title``, ``intro``, then every figure of ``data``.

    Each figure of ``specs`` that ``data["figures"]`` holds gets its heading,
    its image (PNG if written, with its alt text), its bold title and caption,
    its alt text and links to its files.
    """
    return "\n".join([f"# {title}", "", intro, "", *_sections(specs, data, formats)])


def _sections(specs: Mapping[str, FigureSpec], data: Mapping, formats: Sequence[str]) -> list:
    """Per figure of ``data``: heading, image, bold title and caption, alt text, files."""
    image = "png" if "png" in formats else formats[0]
    lines = []
    for name, spec in specs.items():
        if name not in data["figures"]:
            continue
        figure = data["figures"][name]
        alt = spec.alt(figure)
        files = " · ".join(f"[{fmt.upper()}]({name}.{fmt})"
                           for fmt in (*formats, *extra_suffixes(spec)))
        lines += [
            f"## {name}",
            "",
            f"![{alt}]({name}.{image})",
            "",
            f"**{spec.title(figure)}.** {spec.caption(figure, data)}",
            "",
            f"*Alt text:* {alt}",
            "",
            f"Files: {files}",
            "",
        ]
    return lines


def extra_suffixes(spec: FigureSpec) -> tuple[str, ...]:
    """The files besides PNG and SVG that a figure's README entry links: its animation's GIF.

    A figure with ``extra_files`` (an animation) writes ``<name>.gif``, and an MP4
    only where ffmpeg is on ``PATH``; the README links the GIF alone, so its text
    does not depend on the machine.
    """
    return () if spec.extra_files is None else ("gif",)


def _jsonable(value):
    if isinstance(value, float):
        return json_float(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def data_json(data: Mapping) -> str:
    """The :data:`DATA_FILE` text: strict JSON, non-finite floats as ``"Infinity"``/``"NaN"``."""
    return json.dumps(_jsonable(data), indent=1, allow_nan=False) + "\n"


RENDERING_PACKAGES = ("matplotlib", "numpy", "jax", "jaxlib", "torch", "pillow")
"""The libraries whose versions decide the bytes of a rendered figure."""


def rendered_with() -> dict[str, str]:
    """Versions of :data:`RENDERING_PACKAGES` (``"not installed"`` for a missing one).

    Read with ``functional_training.runs.package_versions``, the project's one
    version reader.
    """
    versions = ft_runs.package_versions(RENDERING_PACKAGES)
    return {name: versions[name] or "not installed" for name in RENDERING_PACKAGES}


def write_files(specs: Mapping[str, FigureSpec], data: Mapping, out_dir: Path,
                formats: Sequence[str], readme_text: str) -> list[Path]:
    """Draw and write every figure of ``specs`` that ``data`` holds, ``readme_text`` and the data.

    Args:
      specs: the figures' table, in the order they are written.
      data: ``{"figures": {name: what it draws}, ...}``; the whole of it, with
        :func:`rendered_with` added, is written to :data:`DATA_FILE`.
      out_dir: the directory (created if missing).
      formats: a subset of ``("png", "svg")``.
      readme_text: the text of :data:`README_FILE` (:func:`readme`).

    Returns:
      Every path written: figures in ``specs`` order (each figure's PNG/SVG, then its
      ``extra_files``), then README and data.
    """
    formats = parse_formats(formats)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in (n for n in specs if n in data["figures"]):
        fig = specs[name].render(data["figures"][name])
        with matplotlib.rc_context(style.STYLE):
            written += style.save_figure(fig, out_dir / name, formats)
        if specs[name].extra_files is not None:
            for suffix, payload in specs[name].extra_files(data["figures"][name]).items():
                ft_runs.write_atomic(out_dir / f"{name}.{suffix}", payload)
                written.append(out_dir / f"{name}.{suffix}")
    record = {**data, "rendered_with": rendered_with()}
    for filename, text in ((README_FILE, readme_text), (DATA_FILE, data_json(record))):
        path = out_dir / filename
        ft_runs.write_atomic(path, text.encode("utf-8"))
        written.append(path)
    return written


def check_output_directory(out_dir: str | Path, *, option: str = "--out") -> Path:
    """``out_dir`` if the figures can be written there, else ``ValueError`` naming ``option``.

    Checked before any trajectory is computed. ``out_dir`` need not exist
    (:func:`write_files` creates it): it must not be a file, and its nearest
    existing ancestor must be a directory that accepts a new file (probed with
    :func:`functional_training.runs.check_output_path`, which creates and removes a
    temporary file; nothing is left behind and no directory is created).

    Example:
      >>> import tempfile
      >>> with tempfile.NamedTemporaryFile() as handle:
      ...     check_output_directory(Path(handle.name) / "figures")
      Traceback (most recent call last):
      ...
      ValueError: --out: ... is not a directory
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"{option}: {out_dir} is not a directory")
    existing = out_dir.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{option}: {existing} is not a directory")
    ft_runs.check_output_path(existing / README_FILE, option=option)
    return out_dir
