"""Render sections of tables and figures as Markdown and as one self-contained HTML page, and write them with
the JSON summary."""

from __future__ import annotations

import base64
import contextlib
import html
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPORT_FILES = ("report.html", "report.md", "report.json")


def number(value: Any) -> str:
    """Format a metric for a table: 4 decimals, integers as they are, ``None`` (undefined) as "undefined".

    Examples
    --------
    >>> number(0.123456), number(None), number(12)
    ('0.1235', 'undefined', '12')
    """
    if value is None:
        return "undefined"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def measured(value: float | None) -> str:
    """Format a sweep metric as its trials logged it, whatever its scale (an accuracy, a parameter count): 6
    significant digits, ``None`` (not measured) as "undefined".

    Examples
    --------
    >>> measured(0.9871234), measured(101770.0), measured(0.000123456789), measured(None)
    ('0.987123', '101770', '0.000123457', 'undefined')
    """
    return "undefined" if value is None else f"{value:.6g}"


def interval(values: list[float | None] | None) -> str:
    """A confidence interval as ``[low, high]``; empty when there is none.

    Examples
    --------
    >>> interval([0.91234, 0.95]), interval(None), interval([None, None])
    ('[0.9123, 0.9500]', '', 'undefined')
    """
    if values is None:
        return ""
    low, high = values
    return "undefined" if low is None or high is None else f"[{number(low)}, {number(high)}]"


@dataclass(frozen=True)
class Section:
    """One part of a report: a title, one line saying what it shows, a table, and figures ``(name, caption)``."""

    title: str
    intro: str
    header: list[str]
    rows: list[list[str]]
    figures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        """The section's HTML id.

        >>> Section("Per class", "", [], []).anchor
        'per-class'
        """
        return re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")


# CommonMark's inline markup, backslash-escaped so that a value shows as written. Brackets make a link or image
# only as "](" or "][" (this document defines no references, and a "[" that starts it could define one), and an
# underscore inside a word (learning_rate) opens no emphasis: escaping only those keeps "[0.91, 0.95]" readable.
_MARKUP = re.compile(r"[\\`*|~]|\](?=[(\[])|^\[|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def markdown_text(text: str) -> str:
    """``text`` as Markdown that shows it as written: markup characters escaped, ``&``, ``<`` and ``>`` as entities
    (Markdown previewers render inline HTML), line breaks as spaces (a table row is one line).

    Examples
    --------
    >>> print(markdown_text('<img src=x onerror="alert(1)"> a|b *c* _d_ learning_rate λ'))
    &lt;img src=x onerror="alert(1)"&gt; a\\|b \\*c\\* \\_d\\_ learning_rate λ
    >>> print(markdown_text("![i](http://t/p.png) [0.91, 0.95] recall[2]"))
    ![i\\](http://t/p.png) [0.91, 0.95] recall[2]
    """
    escaped = _MARKUP.sub(lambda match: "\\" + match.group(0), " ".join(text.splitlines()))
    return html.escape(escaped, quote=False)


def render_markdown(title: str, sections: list[Section], image_files: dict[str, str]) -> str:
    """The report as Markdown, with images referenced by their file names.

    Examples
    --------
    >>> print(render_markdown("T", [Section("S", "Why.", ["a", "b"], [["1", "x|y"]], [("f", "F")])], {"f": "f.png"}))
    # T
    <BLANKLINE>
    ## S
    <BLANKLINE>
    Why.
    <BLANKLINE>
    | a | b |
    |---|---|
    | 1 | x\\|y |
    <BLANKLINE>
    ![F](f.png)
    <BLANKLINE>
    """
    lines = [f"# {markdown_text(title)}", ""]
    for section in sections:
        lines += [f"## {markdown_text(section.title)}", ""]
        lines += [markdown_text(section.intro), ""] if section.intro else []
        if section.rows:
            lines += ["| " + " | ".join(map(markdown_text, section.header)) + " |", "|" + "---|" * len(section.header)]
            lines += ["| " + " | ".join(map(markdown_text, row)) + " |" for row in section.rows]
            lines.append("")
        lines += [
            f"![{markdown_text(caption)}]({image_files[name]})\n"
            for name, caption in section.figures
            if name in image_files
        ]
    return "\n".join(lines)


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;color:#222}"
    "h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}p.intro{color:#555;margin:.3em 0 .8em}"
    "table{border-collapse:collapse;margin-bottom:1em}td,th{border:1px solid #ccc;padding:2px 8px;"
    "text-align:left;font-size:13px;overflow-wrap:anywhere}td.n{text-align:right}"
    "td:first-child{white-space:nowrap}"
    "th{background:#f4f4f4}img{max-width:100%}figure{margin:1em 0}figcaption{color:#555;font-size:13px}"
    "nav ol{columns:2;font-size:14px}"
)


_NUMERIC = re.compile(r"^[-+]?(\d[\d.,e+-]*|undefined)( \[.*\])?$|^\[.*\]$")


def _cell(text: str) -> str:
    """A table cell; numbers (with or without an interval) right-aligned."""
    numeric = ' class="n"' if _NUMERIC.match(text) else ""
    return f"<td{numeric}>{html.escape(text)}</td>"


def render_html(title: str, sections: list[Section], images: dict[str, bytes]) -> str:
    """The report as one HTML page: a contents list, then each section; images embedded as ``data:`` URIs.

    Examples
    --------
    >>> page = render_html("T", [Section("Per class", "", ["a"], [["0.5"]], [("f", "F")])], {"f": b"png"})
    >>> '<a href="#per-class">' in page, '<td class="n">0.5</td>' in page, 'src="data:image/png;base64,cG5n"' in page
    (True, True, True)
    """
    contents = "".join(f'<li><a href="#{s.anchor}">{html.escape(s.title)}</a></li>' for s in sections)
    body = [f"<h1>{html.escape(title)}</h1>", f"<nav><ol>{contents}</ol></nav>"]
    for section in sections:
        body.append(f'<section id="{section.anchor}">\n<h2>{html.escape(section.title)}</h2>')
        if section.intro:
            body.append(f'<p class="intro">{html.escape(section.intro)}</p>')
        if section.rows:
            body.append("<table>")
            if any(section.header):
                body.append("<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in section.header) + "</tr>")
            body += ["<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in section.rows]
            body.append("</table>")
        for name, caption in section.figures:
            if name in images:
                data = base64.b64encode(images[name]).decode("ascii")
                body.append(
                    f'<figure id="{name}"><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
                    f"<figcaption>{html.escape(caption)}</figcaption></figure>"
                )
        body.append("</section>")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _unwritable(directory: Path, why: str) -> ValueError:
    return ValueError(
        f"the report's folder --out must be a writable directory, but {directory}: {why}; fix: pass --out a new "
        f"folder, or a directory you can write to"
    )


def check_output(directory: Path, files: Iterable[str] = REPORT_FILES) -> None:
    """Refuse an output folder the report's ``files`` cannot be written into, before any work is done: a file
    where the folder (or a folder above it) should be, a folder where a report file should be, or a folder this
    user cannot write.

    Raises
    ------
    ValueError
        Naming the folder, why, and the fix.

    Examples
    --------
    >>> import tempfile
    >>> taken = Path(tempfile.mkdtemp()) / "taken"
    >>> _ = taken.write_text("")
    >>> check_output(taken / "sub")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: the report's folder --out must be a writable directory, but .../taken/sub: .../taken is a file; \
fix: pass --out a new folder, or a directory you can write to
    """
    existing = next(path for path in (directory, *directory.parents) if path.exists() or path == path.parent)
    if not existing.is_dir():
        raise _unwritable(directory, f"{existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise _unwritable(directory, f"{existing} is not writable by this user")
    blocked = [directory / name for name in files if (directory / name).is_dir()]
    if blocked:
        raise _unwritable(directory, f"{blocked[0]} is a directory")


def write_report(
    directory: Path, title: str, sections: list[Section], summary: dict[str, Any], images: dict[str, bytes]
) -> dict[str, Path]:
    """Write ``report.html``, ``report.md``, ``report.json`` and the PNGs into ``directory``; return the paths.

    Every file is first written into a staging folder inside ``directory``, then moved into place: a failure
    (a full disk, a file where the folder should be) leaves no new or changed file, nor a folder this call made.

    Raises
    ------
    ValueError
        If ``directory`` cannot be written (``check_output``), or a write fails; naming the folder and why.
    """
    image_files = {name: f"{re.sub(r'[^a-z0-9_]', '_', name)}.png" for name in images}
    contents = {file: images[name] for name, file in image_files.items()}
    contents |= {
        "report.html": render_html(title, sections, images).encode("utf-8"),
        "report.md": render_markdown(title, sections, image_files).encode("utf-8"),
        "report.json": (json.dumps(summary, indent=1, allow_nan=False) + "\n").encode("utf-8"),
    }
    check_output(directory, contents)
    created = [path for path in (directory, *directory.parents) if not path.exists()]
    try:
        directory.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".report-", dir=directory))
        try:
            for file, data in contents.items():
                (staging / file).write_bytes(data)
            for file in contents:  # renames within one folder: each file appears whole
                os.replace(staging / file, directory / file)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except OSError as error:
        for path in created:  # innermost first; only the folders this call made, empty again
            with contextlib.suppress(OSError):
                path.rmdir()
        raise _unwritable(directory, f"cannot write {error.filename or directory}: {error.strerror}") from None
    return {kind: directory / f"report.{kind}" for kind in ("html", "md", "json")}
