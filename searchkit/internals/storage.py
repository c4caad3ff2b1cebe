"""Reading and tidying an index directory through Whoosh's file storage."""

from __future__ import annotations

import mmap
import os
from pathlib import Path

from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import StructFile
from whoosh.index import TOC, clean_files


class MappedFileStorage(FileStorage):
    """Whoosh's file storage, reading each file through a memory map.

    Reads are then memory reads, not system calls (term lookups and posting
    blocks are many small reads), and nothing is copied: the pages are the
    operating system's file cache, read as they are needed.
    """

    def open_file(self, name, **kwargs):
        with open(self._fpath(name), "rb") as file:
            if os.fstat(file.fileno()).st_size == 0:  # an empty file cannot be mapped
                return super().open_file(name, **kwargs)
            mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        return StructFile(mapped, name=name, **kwargs)



def remove_unused_files(index_dir: Path, generation: str) -> None:
    """Remove the files of generation that its latest table of contents does not name.

    Whoosh's own clean-up, run on an index directory: what a run killed before
    it could clean up left. Without a readable table of contents nothing is
    touched.
    """
    files = FileStorage(str(index_dir))
    try:
        toc = TOC.read(files, generation)
    except Exception:  # noqa: BLE001 - no readable TOC: leave the generation alone
        return
    clean_files(files, generation, toc.generation, toc.segments)
