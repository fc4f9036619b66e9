"""Data Docs that work where the pipeline runs: one site, assets stored once, nothing from a CDN.

Great Expectations 1.x writes pages that load Bootstrap, jQuery, bootstrap-table, Font Awesome
and Vega from five CDNs, so on a machine without internet access they open unstyled, and a page
per suite run behind a firewall shows browser errors for every asset. Every validation of this
project writes into one site (``CREDIT_RISK_DATA_DOCS_DIR``): GX's own index lists every page
there, and its static assets (4 MB) exist once instead of once per month and stage.

After each build, :func:`make_offline` rewrites the pages that build wrote (the run's own
validation pages and the index; never a walk over the whole site): the tags that load
anything from another host and the inline scripts that need those libraries are removed, and a
small local stylesheet keeps the tables readable. The content (results, observed values,
expectation configurations) is static HTML and stays; what is lost is sorting and filtering of
the index table and the Vega charts of distribution expectations.
"""

from __future__ import annotations

import ast
import datetime as dt
import html as html_escape
import os
import re
from collections.abc import Iterable
from pathlib import Path

from credit_risk.settings import get_settings

_REMOTE_TAG = re.compile(
    r"<(?:script|link|img)\b[^>]*\b(?:src|href)\s*=\s*[\"']https?://[^>]*>(?:\s*</script>)?",
    re.IGNORECASE,
)
"""A tag that makes the browser fetch from another host (scripts, stylesheets, images)."""
_INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>.*?</script>", re.I | re.S)
"""Inline scripts: they drive the CDN libraries (tables, charts) that are gone."""
_MARK = "<!-- credit-risk: offline -->"
_TABLE_SCRIPT = re.compile(
    r"\$\('#(?P<id>[\w-]+)'\)\.bootstrapTable\(\s*Object\.assign\(\s*\{\s*"
    r"columns: (?P<columns>.*?),\n\s*data: (?P<data>.*?),\n",
    re.S,
)
"""GX's index fills its tables in the browser (bootstrap-table) from literals in a script."""

STYLESHEET = "static/credit-risk-offline.css"
"""Path of the local stylesheet, relative to the site's root."""

_CSS = """\
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 16px 24px;
  color: #1f2933; }
a { color: #1d4ed8; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border: 1px solid #d5dbe1; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #eef2f6; }
.text-danger, .ge-failed, .fa-times { color: #b91c1c; }
.text-success, .fa-check-circle { color: #15803d; }
.d-none, .modal, .collapse:not(.show) { display: none; }
img { max-width: 100%; }
pre, code { background: #f5f7f9; }
"""


def make_offline(site: Path, pages: Iterable[Path]) -> list[Path]:
    """Rewrite ``pages`` of the site (those a build just wrote); returns the rewritten ones.

    Idempotent: a page already rewritten, or missing, is left as it is.
    """
    stylesheet = site / STYLESHEET
    stylesheet.parent.mkdir(parents=True, exist_ok=True)
    if not stylesheet.is_file() or stylesheet.read_text(encoding="utf-8") != _CSS:
        stylesheet.write_text(_CSS, encoding="utf-8")
    rewritten = []
    for page in pages:
        if not page.is_file():
            continue
        html = page.read_text(encoding="utf-8")
        if _MARK in html:
            continue
        href = os.path.relpath(stylesheet, page.parent).replace(os.sep, "/")
        html = _INLINE_SCRIPT.sub("", _REMOTE_TAG.sub("", _static_tables(html)))
        link = f'{_MARK}<link rel="stylesheet" href="{href}">'
        html = html.replace("</head>", f"{link}</head>", 1) if "</head>" in html else link + html
        page.write_text(html, encoding="utf-8")
        rewritten.append(page)
    return rewritten


def _static_tables(html: str) -> str:
    """The index's script-filled tables as plain HTML rows, each row linking its page."""
    for match in _TABLE_SCRIPT.finditer(html):
        try:
            columns = ast.literal_eval(match["columns"])
            rows = ast.literal_eval(match["data"])
        except (ValueError, SyntaxError):
            continue  # another GX version's page: leave it as it is
        head = "".join(f"<th>{html_escape.escape(str(c.get('title', '')))}</th>" for c in columns)
        body = []
        for row in rows:
            link = row.get("_table_row_link_path")
            cells = []
            for column in columns:
                value = str(row.get(column["field"], ""))
                if link and column["field"] in ("run_time", "asset_name"):
                    value = f'<a href="{html_escape.escape(link)}">{value}</a>'
                elif link and "<a " not in value and len(columns) == 1:
                    value = f'<a href="{html_escape.escape(link)}">{html_escape.escape(value)}</a>'
                cells.append(f"<td>{value}</td>")
            body.append(f"<tr>{''.join(cells)}</tr>")
        table = re.compile(rf'<table\s+id="{re.escape(match["id"])}"[^>]*>\s*</table>')
        filled = (
            f'<table id="{match["id"]}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>"
        )
        html = table.sub(lambda _, filled=filled: filled, html, count=1)
    return html


RUN_TIME_FORMAT = "%Y%m%dT%H%M%S.%fZ"
"""How GX names a result's run-time folder (``.../<run name>/<run time>/<batch>.json``)."""


def prune_results(site: Path, results: Path, keep_days: float, now: dt.datetime) -> list[Path]:
    """Delete the results older than ``keep_days`` and their pages, so the site (and the
    index GX rebuilds from the results) stops growing by one page per validation forever.

    Returns the result files removed. Folders left empty are removed too; anything that is not
    a result (GX's store id, the static assets) is never touched.
    """
    if keep_days <= 0 or not results.is_dir():
        return []
    cutoff = now - dt.timedelta(days=keep_days)
    removed = []
    for result in sorted(results.rglob("*.json")):  # listed first: folders go below
        try:
            ran = dt.datetime.strptime(result.parent.name, RUN_TIME_FORMAT).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
        if ran >= cutoff:
            continue
        relative = result.relative_to(results)
        page = site.joinpath("validations", relative).with_suffix(".html")
        result.unlink()
        page.unlink(missing_ok=True)
        removed.append(result)
        for folder in (result.parent, page.parent):
            while folder not in (results, site / "validations", site) and folder.is_dir():
                if any(folder.iterdir()):
                    break
                folder.rmdir()
                folder = folder.parent
    return removed


def site_path(path: str | None) -> str | None:
    """``path`` relative to the site (``CREDIT_RISK_DATA_DOCS_DIR``), POSIX style, or None when
    it is empty or lies outside the site (another machine's path, an earlier layout)."""
    if not path:
        return None
    try:
        relative = Path(path).resolve().relative_to(get_settings().data_docs_dir.resolve())
    except (ValueError, OSError):
        return None
    return relative.as_posix()


def remote_references(html: str) -> list[str]:
    """The URLs a page would still make the browser fetch from another host (for tests)."""
    return [match.group(0) for match in _REMOTE_TAG.finditer(html)]
