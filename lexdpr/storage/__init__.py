"""Paths that are either local files or `s3://bucket/key` objects (docs/design.md, 'Storage').

Every stage reads and writes through `lexdpr.storage.files`, so an `s3://` URI works wherever a path does.
"""

from lexdpr.storage.files import (
    exists,
    is_s3,
    join,
    list_files,
    local_copy,
    local_path_under,
    read_bytes,
    read_many,
    read_text,
    write_bytes,
    write_file,
    write_text,
)
from lexdpr.storage.jsonl import read_jsonl, write_jsonl

__all__ = [
    "exists",
    "is_s3",
    "join",
    "list_files",
    "local_copy",
    "local_path_under",
    "read_bytes",
    "read_jsonl",
    "read_many",
    "read_text",
    "write_bytes",
    "write_file",
    "write_jsonl",
    "write_text",
]
