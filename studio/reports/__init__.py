"""Reports: a filtered execution list and the dashboard's figures as CSV, Excel and PDF.

Tables are built without Qt (`_tables.py`); the writers (`_writers.py`) use the stdlib for CSV,
openpyxl for Excel and Qt's PDF writer for PDF.
"""

from studio.reports._tables import (
    EXECUTION_COLUMNS,
    WORKFLOW_COLUMNS,
    Table,
    breached,
    dashboard_tables,
    executions_table,
    percent,
    workflow_rows,
)
from studio.reports._writers import FORMATS, ReportError, export_report, tables_html, write_csv, write_pdf, write_xlsx

__all__ = [
    "EXECUTION_COLUMNS",
    "FORMATS",
    "WORKFLOW_COLUMNS",
    "ReportError",
    "Table",
    "breached",
    "dashboard_tables",
    "executions_table",
    "export_report",
    "percent",
    "tables_html",
    "workflow_rows",
    "write_csv",
    "write_pdf",
    "write_xlsx",
]
