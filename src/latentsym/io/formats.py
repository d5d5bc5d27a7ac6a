"""Which event-file format a path holds, from its first bytes (no reader imported)."""

from __future__ import annotations

import os
from pathlib import Path

from latentsym.errors import EventFileError
from latentsym.io import _gunzip

__all__ = ["FORMATS", "check_path", "detect_format"]

FORMATS = ("lhe", "lhe.gz", "root", "hepmc3", "hepmc3.gz")
"""Formats :func:`detect_format` recognises."""


def _hepmc(text: bytes, p: Path) -> bool:
    """Whether ``text`` (a file's first bytes) starts a HepMC3 ASCII file; refuses HepMC2."""
    if b"HepMC::IO_GenEvent-START_EVENT_LISTING" in text:
        raise EventFileError(
            f"{p}: a HepMC2 ASCII file; latentsym reads HepMC3 ASCII. Convert it with HepMC3's "
            "convert tools, or read and rewrite it with pyhepmc (pyhepmc.open)."
        )
    return b"HepMC::Asciiv3-START_EVENT_LISTING" in text or text.lstrip().startswith(
        b"HepMC::Version 3"
    )


def check_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as a :class:`~pathlib.Path` of a readable file.

    Raises:
        EventFileError: the file is missing, a directory, or not readable.
    """
    p = Path(path)
    try:
        exists = p.exists()
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte in it
        raise EventFileError(f"{p}: not a usable path ({exc}). Check the file name.") from exc
    if not exists:
        raise EventFileError(
            f"{p}: no such file. Check the path (relative paths start at {Path.cwd()})."
        )
    if p.is_dir():
        raise EventFileError(
            f"{p}: is a directory, not an event file. Give the file itself, e.g. {p}/events.lhe.gz "
            "(a shell glob such as dir/*.root passes several files)."
        )
    if not os.access(p, os.R_OK):
        raise EventFileError(f"{p}: permission denied. Make the file readable (chmod u+r).")
    return p


def detect_format(path: str | os.PathLike[str]) -> str:
    """Detect the format of an event file from its first bytes.

    Returns:
        ``"lhe"``, ``"lhe.gz"``, ``"root"``, ``"hepmc3"`` or ``"hepmc3.gz"``.

    Raises:
        EventFileError: when the file is missing, a directory, empty, or neither LHE
            (plain or gzip) nor ROOT.
    """
    p = check_path(path)
    try:
        with p.open("rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise EventFileError(
            f"{p}: the file cannot be read ({exc.strerror or exc}). Check that it is a regular "
            "file on a working disk, and copy it again if it is."
        ) from exc
    if not head:
        raise EventFileError(
            f"{p}: the file is empty. Expected an LHE (.lhe, .lhe.gz) or ROOT file."
        )
    if head[:4] == b"root":
        return "root"
    if head[:2] == _gunzip.MAGIC:
        try:
            with _gunzip.open_gzip(p) as gz:
                text = gz.read(4096)
        except _gunzip.ERRORS as exc:
            raise EventFileError(
                f"{p}: corrupt gzip stream at the start of the file ({exc}). "
                "Re-download or re-generate the file; `gzip -t` checks it."
            ) from exc
        if b"<LesHouchesEvents" in text:
            return "lhe.gz"
        if _hepmc(text, p):
            return "hepmc3.gz"
        raise EventFileError(
            f"{p}: a gzip file whose content is not LHE (no <LesHouchesEvents> tag in the first "
            "4 kB). latentsym reads .lhe, .lhe.gz, HepMC3 ASCII and ROOT files."
        )
    if b"<LesHouchesEvents" in head:
        return "lhe"
    if _hepmc(head, p):
        return "hepmc3"
    raise EventFileError(
        f"{p}: not an LHE or ROOT file (no <LesHouchesEvents> tag in the first 4 kB and no ROOT "
        "header). latentsym reads .lhe, .lhe.gz, HepMC3 ASCII (.hepmc, gzip too) and ROOT files "
        "(TTree or RNTuple)."
    )
