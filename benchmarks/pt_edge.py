"""How precise must generated muon momenta be for the muon pT of e+e- -> mu+ mu- to pass?

Usage::

    .venv/bin/python benchmarks/pt_edge.py [--events 20000] [--seeds 5]

At fixed sqrt(s) every muon has |p| = sqrt(s) / 2, so its pT = |p| sin(theta) piles up
in a Jacobian peak that ends sharply at sqrt(s) / 2; ``latentsym compare`` bins it
between the input's 0.5 and 99.5 percentiles (the upper one within about 1 MeV of the
edge) plus under/overflow. A generator whose |p| scatters by a few tens of MeV moves
events across that edge. This script measures how much: two independent samples of the
e+e- -> mu+ mu- toy (:func:`latentsym.toys.ee_to_mumu`, the model of the bundled sample,
as many events as it), the second with each muon's |p| scaled by a Gaussian factor of
rms ``sigma / |p|`` (the direction kept), compared as ``latentsym compare`` does
(:func:`~latentsym.analysis.compare.compare_observables` with the bins of
``CompareOptions``, 40). It prints the median and the range over ``--seeds`` pairs of
the mu+ pT chi2/ndf per sigma (GeV).

It is the yardstick for the decoder: chi2/ndf < 2 needs an rms error on |p| of at most
about 20 MeV, 0.04 % of |p| (measured: 1.69 at 20 MeV, 2.35 at 30 MeV; the README,
Generating events, and benchmarks/RESULTS.md).
"""

from __future__ import annotations

import argparse

import numpy as np

from latentsym.analysis.compare import compare_observables
from latentsym.jobs import CompareOptions
from latentsym.toys import ee_to_mumu

__all__ = ["main"]

_SIGMAS = (0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.47)


def _pt(p: np.ndarray) -> np.ndarray:
    """pT of the mu+ ([n, 2, 4] momenta, (E, px, py, pz))."""
    return np.hypot(p[:, 0, 1], p[:, 0, 2])


def main() -> None:
    """Print one line per |p| smearing."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    bins = CompareOptions().bins  # as `latentsym compare` bins
    pairs = [(ee_to_mumu(args.events, seed=2 * k), ee_to_mumu(args.events, seed=2 * k + 1))
             for k in range(args.seeds)]  # fmt: skip
    size = float(np.linalg.norm(pairs[0][0][0, 0, 1:]))  # |p| = sqrt(s) / 2, every event
    print(f"e+e- -> mu+ mu- toy, {args.events} events per sample, mu+ pT chi2/ndf ({bins} bins)")
    print("| rms error on |p| (GeV) | relative | chi2/ndf median | min - max |")
    print("|---|---|---|---|")
    for sigma in _SIGMAS:
        values = []
        for seed, (ref, gen) in enumerate(pairs):
            rng = np.random.default_rng(1000 + seed)
            scale = 1.0 + sigma / size * rng.standard_normal(len(gen))
            comp = compare_observables(
                {"input": {"pt": _pt(ref)}, "generated": {"pt": _pt(gen) * scale}}, bins=bins
            )
            values.append(comp.result("pt", "generated").chi2_ndf)
        v = np.array(values)
        print(f"| {sigma:g} | {sigma / size:.1e} | {np.median(v):.2f} | "
              f"{v.min():.2f} - {v.max():.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
