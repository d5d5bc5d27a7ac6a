"""Atomic file output: write to a temporary file beside the target, then rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_output"]


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], suffix: str = ".tmp") -> Iterator[str]:
    """Yield a temporary file name in ``path``'s folder; publish it as ``path`` on success.

    On success the file gets the usual permissions (``0666 & ~umask``) and replaces
    ``path`` with :func:`os.replace`, so a reader never sees a half-written file; on any
    error the temporary file is removed and ``path`` is left as it was.

    Example:
        >>> with atomic_output("summary.json") as tmp:
        ...     _ = Path(tmp).write_text("{}")
        >>> try:
        ...     with atomic_output("summary.json") as tmp:
        ...         _ = Path(tmp).write_text('{"half": ')
        ...         raise KeyboardInterrupt
        ... except KeyboardInterrupt:
        ...     pass
        >>> Path("summary.json").read_text(), [p.name for p in Path().iterdir()]
        ('{}', ['summary.json'])
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
