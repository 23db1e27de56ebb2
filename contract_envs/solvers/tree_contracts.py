"""Exact equilibrium of the tree contract game (``contract_envs.games.tree_contracts``).

Children's utilities never depend on their parent's action, so backward induction applies
(reference ``hierarchical.md`` §1). Subtree welfare

    W_v(a) = max_b [ theta_v(a, b) + sum_{w in C(v)} W_w(b_w) ]        (leaf: W_v(a) = theta_v(a))

and the cheapest transfer that makes child ``w`` take ``b`` is ``tau_w(b) = max W_w - W_w(b)``
(paid only if it complies; an indifferent child takes the recommended action). Every node then
maximises its subtree welfare, so the subgame-perfect profile is the welfare optimum; each non-root
node earns exactly its outside option and the root keeps the efficiency gain. Without transfers,
leaves play ``argmax theta`` and parents best-respond bottom-up.

Ties (possible only in hand-made instances; generated ones have a unique optimum by a margin) go
to the lowest action index / lexicographically lowest children profile. Tolerances are relative to
the instance's welfare scale ``sum_v max |theta_v|``: values within ``1e-9`` of it tie, and reported
transfers / utilities / welfare are rounded to 12 significant digits of it (drops float dust on
theta grids), so scaling every theta by ``c`` scales the answer by ``c``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contract_envs.games.tree_contracts import (
    NodeValues,
    TreeInstance,
    node_id,
    optimality_margin,
    subtree_totals,
    tree_instance,
)

_RTOL = 1e-9  # welfare values within this fraction of the welfare scale tie
_DIGITS = 12  # significant digits (of the welfare scale) kept in reported numbers


def welfare_scale(instance: TreeInstance) -> float:
    """``sum_v max |theta_v|``, a bound on any subtree welfare (1 if every theta is 0)."""
    scale = float(sum(np.abs(t).max() for t in instance.theta))
    return scale if 0.0 < scale < np.inf else 1.0


def _drop_dust(x, scale: float):
    """Round to ``_DIGITS`` significant digits of ``scale`` (12 decimals for a scale in [1, 10))."""
    return np.round(x, int(np.clip(_DIGITS - np.floor(np.log10(scale)), -300, 300)))  # 10**digits must not overflow


@dataclass
class TreeSolution:
    """Subgame-perfect equilibrium with transfers, and the outcome without them.

    Attributes:
        actions: node id -> equilibrium action (also indexable by node index).
        transfers: child id -> transfer its parent pays it in equilibrium (0 if the recommended
            action is the child's favourite).
        utilities: node id -> equilibrium utility (reward + received - paid, in means).
        welfare: optimal welfare ``W* = max W_root``.
        no_transfer_actions, no_transfer_utilities, no_transfer_welfare: the outcome when no
            contract is ever offered.
        subtree_welfare: ``W_v`` per node, an array over its own actions.
        transfer_table: child id -> array over its actions of the minimal transfer ``tau_w(b)``.
        outside_options: node id -> ``max W_v - sum_w max W_w`` (what a node secures by ignoring
            its parent's offer while still contracting with its children).
        margin: welfare gap between the optimal profile and the best other profile.
    """

    actions: NodeValues
    transfers: NodeValues
    utilities: NodeValues
    welfare: float
    no_transfer_actions: NodeValues
    no_transfer_utilities: NodeValues
    no_transfer_welfare: float
    subtree_welfare: list[np.ndarray]
    transfer_table: NodeValues
    outside_options: NodeValues
    margin: float

    def action_profile(self) -> np.ndarray:
        """Equilibrium actions as an int array ``[N]`` in node order."""
        return np.array([self.actions[node_id(v)] for v in range(len(self.actions))], dtype=np.int64)


def _first_argmax(x: np.ndarray, tol: float) -> int:
    flat = np.ravel(x)
    return int(np.flatnonzero(flat >= flat.max() - tol)[0])


def subtree_welfare(instance: TreeInstance) -> list[np.ndarray]:
    """``W_v`` for every node (bottom-up)."""
    w: list[np.ndarray] = [np.empty(0)] * instance.n_nodes
    for v in reversed(range(instance.n_nodes)):
        w[v] = subtree_totals(instance, v, w).reshape(instance.n_actions[v], -1).max(axis=1)
    return w


def best_children_profile(instance: TreeInstance, v: int, action: int, w: list[np.ndarray]) -> tuple[int, ...]:
    """Children's actions maximising ``theta_v(action, b) + sum W_w(b_w)`` (lowest profile on ties)."""
    if not instance.children[v]:
        return ()
    totals = subtree_totals(instance, v, w)[action]
    best = _first_argmax(totals, _RTOL * welfare_scale(instance))
    return tuple(int(i) for i in np.unravel_index(best, totals.shape))


def solve_tree_contracts(instance: TreeInstance | str | int) -> TreeSolution:
    """Exact subgame-perfect equilibrium with transfers and the no-transfer outcome of ``instance``
    (a :class:`TreeInstance`, or a name / seed accepted by ``tree_instance``)."""
    instance = tree_instance(instance)
    n = instance.n_nodes
    w = subtree_welfare(instance)
    scale = welfare_scale(instance)
    actions = np.zeros(n, dtype=np.int64)
    actions[0] = _first_argmax(w[0], _RTOL * scale)
    for v in range(n):  # breadth-first: parents are decided before their children
        for j, c in enumerate(best_children_profile(instance, v, int(actions[v]), w)):
            actions[instance.children[v][j]] = c
    table = NodeValues({node_id(c): w[c].max() - w[c] for c in range(1, n)})
    transfers = np.zeros(n)
    transfers[1:] = [table[node_id(c)][actions[c]] for c in range(1, n)]
    mean = instance.rewards(actions[None])[0]
    paid = np.zeros(n)
    np.add.at(paid, np.asarray(instance.parents[1:]), transfers[1:])
    utilities = mean + transfers - paid
    transfers, utilities = _drop_dust(transfers, scale), _drop_dust(utilities, scale)

    selfish = np.zeros(n, dtype=np.int64)
    for v in reversed(range(n)):
        idx = tuple(int(selfish[c]) for c in instance.children[v])
        selfish[v] = _first_argmax(instance.theta[v][(slice(None), *idx)], _RTOL * scale)
    selfish_mean = instance.rewards(selfish[None])[0]

    outside = [w[v].max() - sum(w[c].max() for c in instance.children[v]) for v in range(n)]
    nodes = [node_id(v) for v in range(n)]
    return TreeSolution(
        actions=NodeValues(zip(nodes, actions.tolist(), strict=True)),
        transfers=NodeValues(zip(nodes[1:], transfers[1:].tolist(), strict=True)),
        utilities=NodeValues(zip(nodes, utilities.tolist(), strict=True)),
        welfare=float(_drop_dust(w[0].max(), scale)),
        no_transfer_actions=NodeValues(zip(nodes, selfish.tolist(), strict=True)),
        no_transfer_utilities=NodeValues(zip(nodes, selfish_mean.tolist(), strict=True)),
        no_transfer_welfare=float(_drop_dust(selfish_mean.sum(), scale)),
        subtree_welfare=w,
        transfer_table=table,
        outside_options=NodeValues(zip(nodes, [float(x) for x in outside], strict=True)),
        margin=optimality_margin(instance),
    )
