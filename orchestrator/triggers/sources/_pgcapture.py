"""Change capture for PostgreSQL: a change-log table and a row trigger that fills it.

`install_change_capture(dsn, "public.orders")` creates (once) the table `rpa_changes`

    id bigserial, "table" text, op text, row jsonb, at timestamptz, xid bigint

and the function `rpa_capture_change()`, then puts an AFTER INSERT OR UPDATE OR DELETE row
trigger on the table that appends the row (the new one; the old one for a DELETE) to the log
and `pg_notify`s the channel with the change id. The database source LISTENs to the channel to
wake up at once, but reads the log itself: a NOTIFY sent while nobody listens is lost, the log
is not. `xid` is the writing transaction, which lets the reader take a change only when no older
transaction can still add one before it (see `_dbpg.py`).

From a shell: `python -m orchestrator.triggers.sources._pgcapture install DSN TABLE [--channel C]`.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys

__all__ = ["CHANGE_LOG", "install_change_capture", "main", "quote_table", "uninstall_change_capture"]

CHANGE_LOG = "rpa_changes"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")

_LOG_SQL = f"""
CREATE TABLE IF NOT EXISTS {CHANGE_LOG} (
    id bigserial PRIMARY KEY,
    "table" text NOT NULL,
    op text NOT NULL,
    row jsonb,
    at timestamptz NOT NULL DEFAULT now(),
    xid bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint)
);
CREATE INDEX IF NOT EXISTS {CHANGE_LOG}_xid_id ON {CHANGE_LOG} (xid, id);
CREATE OR REPLACE FUNCTION rpa_capture_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    change_id bigint;
BEGIN
    INSERT INTO {CHANGE_LOG} ("table", op, row)
    VALUES (TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, TG_OP,
            to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END))
    RETURNING id INTO change_id;
    PERFORM pg_notify(TG_ARGV[0], change_id::text);
    RETURN NULL;
END
$$;
"""


def quote_table(table: str) -> tuple[str, str]:
    """`schema.table` (or `table`, in `public`) as a quoted SQL name and as the log names it.

    Raises:
        ValueError: a name that is not a plain identifier (no quoting games with user input).
    """
    parts = table.split(".")
    if len(parts) == 1:
        parts = ["public", parts[0]]
    if len(parts) != 2 or not all(_NAME.match(part) for part in parts):
        raise ValueError(f"'{table}' is not a table name of the form schema.table (letters, digits, _)")
    return ".".join(f'"{part}"' for part in parts), ".".join(parts)


def check_channel(channel: str) -> str:
    """A NOTIFY channel name: a plain identifier."""
    if not _NAME.match(channel):
        raise ValueError(f"'{channel}' is not a channel name (letters, digits, _; at most 63)")
    return channel


async def install_change_capture(dsn: str, table: str, *, channel: str = CHANGE_LOG) -> None:
    """Create the change log (once) and the capture trigger on `table` (again: replaced).

    Args:
        dsn: A PostgreSQL DSN (`postgresql://user@host:5432/db`) of a role that may create
            tables and triggers there.
        table: `schema.table` or `table` (schema `public`).
        channel: The NOTIFY channel the source LISTENs to.
    """
    import asyncpg

    quoted, _name = quote_table(table)
    check_channel(channel)
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            await connection.execute(_LOG_SQL)
            await connection.execute(f"DROP TRIGGER IF EXISTS rpa_capture ON {quoted}")
            await connection.execute(
                f"CREATE TRIGGER rpa_capture AFTER INSERT OR UPDATE OR DELETE ON {quoted} "
                f"FOR EACH ROW EXECUTE FUNCTION rpa_capture_change('{channel}')"
            )
    finally:
        await connection.close()


async def uninstall_change_capture(dsn: str, table: str) -> None:
    """Remove the capture trigger from `table` (the change log stays: other tables may use it)."""
    import asyncpg

    quoted, _name = quote_table(table)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f"DROP TRIGGER IF EXISTS rpa_capture ON {quoted}")
    finally:
        await connection.close()


def main(argv: list[str] | None = None) -> int:
    """`install|uninstall DSN TABLE [--channel C]`; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m orchestrator.triggers.sources._pgcapture")
    parser.add_argument("action", choices=["install", "uninstall"])
    parser.add_argument("dsn", help="postgresql://user@host:5432/db (the password from PGPASSWORD or ~/.pgpass)")
    parser.add_argument("table", help="schema.table or table")
    parser.add_argument("--channel", default=CHANGE_LOG, help="the NOTIFY channel (default: rpa_changes)")
    args = parser.parse_args(argv)
    try:
        if args.action == "install":
            asyncio.run(install_change_capture(args.dsn, args.table, channel=args.channel))
        else:
            asyncio.run(uninstall_change_capture(args.dsn, args.table))
    except Exception as exc:  # a bad name, no server, a refused role: one line, no traceback
        sys.stderr.write(f"error: {type(exc).__name__}: {exc}\n")
        return 2
    sys.stdout.write(f"{args.action}ed change capture on {args.table}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
