"""Physics of the event samples: final-state selection, PDG names, truth observables.

The dimension ledger (:func:`~latentsym.physics.constraints.dimension_ledger`: which
constraints hold and the expected dimensions) needs torch; import it from
:mod:`latentsym.physics.constraints`, so that ``import latentsym`` and
``latentsym inspect`` stay free of torch.
"""

from latentsym.physics.observables import (
    FRAMES,
    observable_labels,
    observable_names,
    observables,
)
from latentsym.physics.pdg import name_of, parse_topology, pid_of
from latentsym.physics.selection import (
    FinalState,
    choose_topology,
    dropped_counts,
    final_state_counts,
    select_final_state,
    topology_name,
)

__all__ = [
    "FRAMES",
    "FinalState",
    "choose_topology",
    "dropped_counts",
    "final_state_counts",
    "name_of",
    "observable_labels",
    "observable_names",
    "observables",
    "parse_topology",
    "pid_of",
    "select_final_state",
    "topology_name",
]
