"""`files.*`: files and folders on local disks and on storage reached through fsspec.

Paths are local paths or URLs (`s3://`, `ftp://`, `sftp://`, `gs://`, `az://`); credentials come
from the vault by name (`credential` param). Every operation streams in chunks. See
docs/steps/files.md.
"""

from agent.steps.files._archive import unzip, zip_files
from agent.steps.files._basic import (
    exists,
    hash_file,
    list_files,
    make_folder,
    read_bytes,
    read_text,
    write_bytes,
    write_text,
)
from agent.steps.files._errors import map_storage_errors
from agent.steps.files._fs import SUPPORTED_SCHEMES, Location, parse_location
from agent.steps.files._transfer import copy, delete, move, rename
from agent.steps.files._wait import wait_for_file

FILES_STEPS = (
    list_files,
    exists,
    read_text,
    read_bytes,
    write_text,
    write_bytes,
    make_folder,
    hash_file,
    copy,
    move,
    rename,
    delete,
    zip_files,
    unzip,
    wait_for_file,
)

__all__ = [
    "FILES_STEPS",
    "SUPPORTED_SCHEMES",
    "Location",
    "copy",
    "delete",
    "exists",
    "hash_file",
    "list_files",
    "make_folder",
    "map_storage_errors",
    "move",
    "parse_location",
    "read_bytes",
    "read_text",
    "rename",
    "unzip",
    "wait_for_file",
    "write_bytes",
    "write_text",
    "zip_files",
]
