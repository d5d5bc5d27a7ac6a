"""The data's own dimension against scale on the Breit-Wigner toys, measured and predicted.

Usage::

    .venv/bin/python benchmarks/resonance_curves.py [--events 20000] [--beta 0.1]

For each width of the known-answer resonance sets (``latentsym.toys.resonance_decay``,
Gamma/M = 0.1 % ... 30 %) it builds the standardised cartesian features, the geometry of
the pair mass at the resolution of a model with KL weight ``beta`` (a broken pair mass
thinner than ``sqrt(beta / 2)`` is a shell), and prints GRIDE at n1 = 1, 2, 4, ... with
the prediction from the thickness at the same scales (no model involved): the left panel
of ``dimension_scale.png``.
"""

from __future__ import annotations

import argparse
import math

from latentsym import toys
from latentsym.analysis.resolution import dimension_scale
from latentsym.physics.constraints import dimension_ledger
from latentsym.physics.thickness import constraint_geometry

__all__ = ["main"]

WIDTHS = (0.001, 0.01, 0.03, 0.1, 0.3)


def main() -> None:
    """Print one line per width: thickness, then scale: measured / predicted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--beta", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for width in WIDTHS:
        p = toys.resonance_decay(args.events, width, seed=args.seed)
        ledger = dimension_ledger(p, toys.LEPTON_PAIR)
        geo = constraint_geometry(p, toys.LEPTON_PAIR, ledger).at_resolution(
            math.sqrt(args.beta / 2)
        )
        x = p.reshape(len(p), -1)
        z = (x - x.mean(axis=0)) / geo.scale
        ds = dimension_scale(geo, z, max_n2=64, seed=args.seed)
        thick = ", ".join(f"{t:.2g}" for t in geo.thickness) or "no shell"
        points = "  ".join(
            f"{a.scale:.2f}: {a.dim:.2f} / {b:.2f}"
            for a, b in zip(ds.data, ds.data_predicted, strict=True)
        )
        print(f"Gamma/M = {width:g} (thickness {thick})  scale: measured / predicted  {points}")


if __name__ == "__main__":
    main()
