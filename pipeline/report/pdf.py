"""The digest as PDF through WeasyPrint (offline: HTML/CSS and inline SVG to PDF, no browser), an optional extra."""

from __future__ import annotations

from pathlib import Path

from pipeline.report.period import ReportError


def write_pdf(html_path: Path) -> Path:
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as e:  # OSError: the Pango libraries it loads are missing
        raise ReportError(
            f"PDF needs WeasyPrint and Pango: pip install 'brandmon[pdf]' ({type(e).__name__}: "
            f"{str(e).splitlines()[0][:120]})"
        ) from None
    import logging

    for name in ("weasyprint", "weasyprint.progress"):  # it logs every layout step at INFO
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    out = html_path.with_suffix(".pdf")
    HTML(filename=str(html_path)).write_pdf(str(out))
    return out
