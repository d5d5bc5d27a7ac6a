"""``python -m latentsym``: the command line, also as ``torchrun ... -m latentsym run ...``.

Example:
    ``torchrun --standalone --nproc-per-node 2 -m latentsym run samples/ee_mumu_91GeV.lhe.gz
    --out out/ddp`` trains one model on two processes (see :mod:`latentsym.models.distributed`).
"""

from __future__ import annotations

import sys

from latentsym.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
