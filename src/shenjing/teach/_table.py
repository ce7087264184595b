"""Tables and numbers for the teaching tools: one table, three renderings (terminal, Markdown, HTML)."""

from __future__ import annotations

import html
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

__all__ = ["Table", "format_number", "format_array", "render_tables"]

FORMATS = ("text", "markdown", "html")


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: wide characters (Chinese) count twice."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def _pad(text: str, width: int, right: bool) -> str:
    fill = " " * max(0, width - display_width(text))
    return fill + text if right else text + fill


def format_number(x: float, digits: int = 4) -> str:
    """``x`` with ``digits`` significant digits; never prints ``-0``."""
    x = float(x)
    if x == 0:
        return "0"
    text = f"{x:.{digits}g}"
    if "e" in text:  # 1e-05 -> 1e-5: shorter and what people write
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text


def format_array(value: Any, digits: int = 4, max_items: int = 16) -> str:
    """A scalar as a number, a small array as a nested list, a big one as its shape and a short description."""
    array = np.asarray(value)
    if array.size == 1 and array.ndim == 0:
        return format_number(array.item(), digits)
    if array.size > max_items:
        return (f"shape {list(array.shape)}: mean {format_number(array.mean(), digits)}, "
                f"min {format_number(array.min(), digits)}, max {format_number(array.max(), digits)}")
    if array.ndim == 0:
        return format_number(array.item(), digits)

    def nested(a: np.ndarray) -> str:
        if a.ndim == 1:
            return "[" + ", ".join(format_number(v, digits) for v in a) + "]"
        return "[" + ", ".join(nested(row) for row in a) + "]"

    return nested(array)


@dataclass
class Table:
    """Rows of strings under headers, with an optional title and notes printed under the table."""

    headers: Sequence[str]
    rows: list[Sequence[str]] = field(default_factory=list)
    title: str = ""
    notes: list[str] = field(default_factory=list)
    align_right: Sequence[int] = ()  # column indices holding numbers

    def add(self, *cells: Any) -> None:
        self.rows.append([str(c) for c in cells])

    def text(self) -> str:
        widths = [display_width(h) for h in self.headers]
        for row in self.rows:
            for i, cell in enumerate(row):
                widths[i] = max(widths[i], display_width(cell))

        def line(cells: Sequence[str]) -> str:
            parts = [_pad(c, w, i in self.align_right) for i, (c, w) in enumerate(zip(cells, widths))]
            return ("  ".join(parts)).rstrip()

        rule = "  ".join("-" * w for w in widths)
        out = []
        if self.title:
            out += [self.title, "=" * display_width(self.title)]
        out += [line(self.headers), rule] + [line(row) for row in self.rows]
        out += self.notes
        return "\n".join(out)

    def markdown(self) -> str:
        def cell(text: str) -> str:
            return text.replace("|", "\\|") or " "

        out = []
        if self.title:
            out += [f"### {self.title}", ""]
        out.append("| " + " | ".join(cell(h) for h in self.headers) + " |")
        out.append("|" + "|".join("---:" if i in self.align_right else "---" for i in range(len(self.headers))) + "|")
        out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in self.rows]
        if self.notes:
            out += [""] + [f"{n}  " for n in self.notes]
        return "\n".join(out)

    def html(self) -> str:
        out = []
        if self.title:
            out.append(f"<h3>{html.escape(self.title)}</h3>")
        out.append("<table>")
        out.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in self.headers) + "</tr>")
        for row in self.rows:
            cells = "".join(f'<td class="num">{html.escape(c)}</td>' if i in self.align_right
                            else f"<td>{html.escape(c)}</td>" for i, c in enumerate(row))
            out.append(f"<tr>{cells}</tr>")
        out.append("</table>")
        out += [f"<p>{html.escape(n)}</p>" for n in self.notes]
        return "\n".join(out)

    def render(self, format: str = "text") -> str:
        if format not in FORMATS:
            raise ValueError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
        return getattr(self, format)()

    def __str__(self) -> str:
        return self.text()


_HTML_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; margin-bottom: 1em; }}
th, td {{ border: 1px solid #bbb; padding: 0.2em 0.6em; }}
th {{ background: #eee; }}
td.num {{ text-align: right; font-family: monospace; }}
</style></head>
<body>
<h2>{title}</h2>
{body}
</body></html>
"""


def render_tables(title: str, tables: Sequence[Table], format: str = "text", lead: Sequence[str] = (),
                  tail: Sequence[str] = ()) -> str:
    """Several tables as one document: text (blank lines between), Markdown, or a standalone HTML page."""
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
    if format == "html":
        parts = [f"<p>{html.escape(line)}</p>" for line in lead] + [t.html() for t in tables]
        parts += [f"<p>{html.escape(line)}</p>" for line in tail]
        return _HTML_PAGE.format(title=html.escape(title), body="\n".join(parts))
    if format == "markdown":
        parts = [f"## {title}"] if title else []
        if lead:
            parts.append("\n".join(f"{line}  " for line in lead))
        parts += [t.markdown() for t in tables]
        if tail:
            parts.append("\n".join(f"{line}  " for line in tail))
        return "\n\n".join(parts)
    parts = [title, "#" * display_width(title)] if title else []
    parts += list(lead)
    text = "\n".join(parts)
    body = "\n\n".join(t.text() for t in tables)
    end = "\n".join(tail)
    return "\n\n".join(p for p in (text, body, end) if p)
