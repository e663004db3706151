"""Read an .xlsx sheet as a table with rpaframework's `RPA.Excel.Files`.

Run with the peers' interpreter (see bench/requirements-peers.txt):

    python bench/peers/rpaframework_excel.py --file rows.xlsx

Opens the workbook (normal mode: rpaframework's read-only mode fails on files without a
`<dimension>` record, such as openpyxl write-only output) and reads the active sheet with a
header row. Exactly one JSON line goes to stdout: rows, cpu_s, wall_s, peak_mb.
"""

from __future__ import annotations

import argparse
import json
import resource
import time


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--file", required=True)
    args = parser.parse_args()
    from RPA.Excel.Files import Files

    cpu, wall = _cpu(), time.perf_counter()
    library = Files()
    library.open_workbook(args.file)
    table = library.read_worksheet_as_table(header=True)
    rows = len(table)
    library.close_workbook()
    result = {
        "rows": rows,
        "cpu_s": _cpu() - cpu,
        "wall_s": time.perf_counter() - wall,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
