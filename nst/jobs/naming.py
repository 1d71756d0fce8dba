"""Output names, without torch: the name template's fields ({content}, {style}, {ext}, {index},
{parent}, {dir}) checked and filled in, and an output extension checked.
"""

from __future__ import annotations

import string
from pathlib import Path

from ..errors import InputError
from ..pixels.images import FORMATS
from .styles import Style

# The fields of a name template (see output_name).
NAME_FIELDS = ("content", "style", "ext", "index", "parent", "dir")


def normalize_ext(ext: str) -> str:
    """'png', '.PNG' -> '.png'; InputError unless it is an output format."""
    e = ext.lower() if ext.startswith(".") else "." + ext.lower()
    if e not in FORMATS:
        raise InputError(f"extension {ext!r} is not allowed; expected one of {', '.join(sorted(FORMATS))}")
    return e


def check_template(template: str) -> None:
    """InputError unless ``template`` is a format string over NAME_FIELDS only."""
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as e:
        raise InputError(f"name template {template!r}: {e}") from None
    for name in names:
        if name not in NAME_FIELDS:
            raise InputError(f"name template {template!r}: unknown field {{{name}}}; allowed: "
                             + " ".join(f"{{{f}}}" for f in NAME_FIELDS))


def name_fields(content: Path, style: Style, index: int = 0, folder: str = ".") -> dict[str, object]:
    """A job's template fields but {ext}, for output names and regions' mask templates alike:
    {content} the content's stem, {style} the style's stem (a blend's joined with '+'), {index},
    {parent} the content's folder name, {dir} its folder within the CONTENT directory."""
    return dict(content=content.stem, style="+".join(p.stem for p, _ in style), index=index,
                parent=content.absolute().parent.name, dir=folder)


def output_name(template: str, content: Path, style: Style, ext: str, index: int = 0, folder: str = ".") -> str:
    """A relative output path from the template.

    Fields: {content} the content's stem, {style} the style's stem (a blend's joined with '+'),
    {ext} the output extension with its dot, {index} the job's position in the whole job list
    (format specs work: {index:04d}), {parent} the content's folder name, {dir} the content's
    folder relative to the CONTENT directory it was found in ('.' at its top).
    """
    check_template(template)
    values = dict(name_fields(content, style, index, folder), ext=ext)
    try:
        name = template.format(**values)
    except (ValueError, TypeError) as e:
        raise InputError(f"name template {template!r}: {e}") from None
    rel = Path(name)
    if not name or rel.is_absolute() or ".." in rel.parts:
        raise InputError(f"name template {template!r} gives {name!r}; names must stay inside OUT")
    return name
