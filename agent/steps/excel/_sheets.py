"""Sheets of a workbook: create, rename, delete and copy (listing is `excel.sheets`)."""

from __future__ import annotations

from pydantic import Field

from agent.steps._storage_io import storage_credential_field, storage_path
from shared.errors import BusinessError
from shared.steps import step

from ._book import editing, save, worksheet, writable_path
from ._common import Params, map_excel_errors, openpyxl

_PATH = "The .xlsx or .xlsm file: a local path or a storage URL (s3://, sftp://, ...)."


def _free(book: object, path: str, name: str) -> None:
    names: list[str] = getattr(book, "sheetnames")  # noqa: B009 - openpyxl is untyped here
    if name in names:
        raise BusinessError(f"{path} already has a sheet '{name}'", kind="validation")


class CreateSheetParams(Params):
    path: str = Field(min_length=1, description=_PATH + " Created when it does not exist.")
    storage_credential: str | None = storage_credential_field()
    name: str = Field(min_length=1, max_length=31, description="The new sheet's name.")
    index: int | None = Field(default=None, ge=0, description="Position (0 = first); empty for the end.")


@step("excel.create_sheet", params=CreateSheetParams, output="The sheet names afterwards.", capability="office")
@storage_path("write")
def excel_create_sheet(params: CreateSheetParams) -> list[str]:
    """Add an empty sheet (creating the workbook when needed).

    Example node: `{"type": "excel.create_sheet", "params": {"path": "out/report.xlsx", "name": "Summary"}}`.
    """
    file = writable_path(params.path)
    if not file.exists():
        with map_excel_errors(file):
            book = openpyxl().Workbook()
            book.active.title = params.name
            save(book, file)
            return [params.name]
    with editing(params.path) as book:
        _free(book, params.path, params.name)
        book.create_sheet(params.name, params.index)
        return list(book.sheetnames)


class RenameSheetParams(Params):
    path: str = Field(min_length=1, description=_PATH)
    storage_credential: str | None = storage_credential_field()
    name: str = Field(min_length=1, description="The sheet to rename.")
    new_name: str = Field(min_length=1, max_length=31, description="Its new name.")


@step("excel.rename_sheet", params=RenameSheetParams, output="The sheet names afterwards.", capability="office")
@storage_path("write")
def excel_rename_sheet(params: RenameSheetParams) -> list[str]:
    """Rename a sheet.

    Example node: `{"type": "excel.rename_sheet", "params": {"path": "out/report.xlsx", "name": "Sheet1",
    "new_name": "Orders"}}`.
    """
    with editing(params.path) as book:
        sheet = worksheet(book, params.path, params.name)
        if params.new_name != params.name:
            _free(book, params.path, params.new_name)
        sheet.title = params.new_name
        return list(book.sheetnames)


class DeleteSheetParams(Params):
    path: str = Field(min_length=1, description=_PATH)
    storage_credential: str | None = storage_credential_field()
    name: str = Field(min_length=1, description="The sheet to delete.")


@step("excel.delete_sheet", params=DeleteSheetParams, output="The sheet names afterwards.", capability="office")
@storage_path("write")
def excel_delete_sheet(params: DeleteSheetParams) -> list[str]:
    """Delete a sheet (a workbook keeps at least one).

    Example node: `{"type": "excel.delete_sheet", "params": {"path": "out/report.xlsx", "name": "Draft"}}`.
    """
    with editing(params.path) as book:
        sheet = worksheet(book, params.path, params.name)
        if len(book.sheetnames) == 1:
            raise BusinessError(
                f"{params.path}: '{params.name}' is the only sheet and cannot be deleted", kind="validation"
            )
        book.remove(sheet)
        return list(book.sheetnames)


class CopySheetParams(Params):
    path: str = Field(min_length=1, description=_PATH)
    storage_credential: str | None = storage_credential_field()
    name: str = Field(min_length=1, description="The sheet to copy.")
    new_name: str = Field(min_length=1, max_length=31, description="The copy's name.")


@step("excel.copy_sheet", params=CopySheetParams, output="The sheet names afterwards.", capability="office")
@storage_path("write")
def excel_copy_sheet(params: CopySheetParams) -> list[str]:
    """Copy a sheet (values, styles, widths, merged cells) within its workbook; the copy goes last.

    Example node: `{"type": "excel.copy_sheet", "params": {"path": "out/report.xlsx", "name": "Template",
    "new_name": "December"}}`.
    """
    with editing(params.path) as book:
        sheet = worksheet(book, params.path, params.name)
        _free(book, params.path, params.new_name)
        copy = book.copy_worksheet(sheet)
        copy.title = params.new_name
        return list(book.sheetnames)
