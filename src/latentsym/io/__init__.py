"""Reading and writing event files (LHE through pylhe, ROOT through uproot)."""

from latentsym.io.lhe import iterate_lhe, read_lhe
from latentsym.io.lhe_write import write_lhe
from latentsym.io.read import detect_format, iterate_events, read_events
from latentsym.io.root import iterate_root, read_root, write_root
from latentsym.io.schema import EventFile, RunInfo, check_finite, make_events

__all__ = [
    "EventFile",
    "RunInfo",
    "check_finite",
    "detect_format",
    "iterate_events",
    "iterate_lhe",
    "iterate_root",
    "make_events",
    "read_events",
    "read_lhe",
    "read_root",
    "write_lhe",
    "write_root",
]
