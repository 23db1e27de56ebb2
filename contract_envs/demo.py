"""Main demo: solve a principal-agent MDP exactly, then play it through the environment.

Run ``python -m contract_envs.demo``. It builds one of PARL's random binary game trees, solves its
subgame-perfect equilibrium (SPE), prints the equilibrium contracts, and plays one episode of
``contract_envs/principal_agent_mdp-v1`` with the solved principal against a best-responding agent,
printing each round's contract, action, outcome and payment. Finally it plays many episodes through the batched
API and compares the average returns with the exact equilibrium values.
"""

from __future__ import annotations

import argparse

import numpy as np

import contract_envs
from contract_envs import vector
from contract_envs.games.principal_agent_mdp import random_binary_tree
from contract_envs.solvers import solve_spe

ENV_ID = "contract_envs/principal_agent_mdp-v1"

LEGEND = """How to read this: each round the principal (who cannot see the agent's action) offers a contract,
a payment for each observable outcome: b(bad) if the outcome is 0 = bad, b(good) if it is 1 = good.
The agent then picks action 0 = low effort (free) or 1 = high effort (costly; the good outcome
becomes likely). SPE = subgame-perfect equilibrium: the principal's best contracts, the agent
best-responding in every state. "recommend" is the action the SPE contract makes the agent's best
response; "E[payment]" is what the principal expects to pay for it, "principal q" its value of
recommending that action (its own reward minus payments, now and later), "agent value" the agent's
value of the state. Rewards: the agent gets its own reward (minus the effort's cost) plus the
payment, the principal its own reward minus the payment. Money is conserved: what the principal
pays, the agent receives."""


def best_response(sol, state: int, contract: np.ndarray, outcome_probs: np.ndarray) -> int:
    """The agent's best response to a contract given its equilibrium continuation values
    (ties, up to float32 rounding of the offer, go to the principal's recommended action)."""
    value = sol.agent_truncated_q[state] + outcome_probs[state] @ contract
    best = np.flatnonzero(value >= value.max() - 1e-6)  # float32 offers round the indifference point
    rec = sol.recommended_action[state]
    return int(rec) if rec in best else int(best[0])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=4, help="depth of the random binary tree")
    parser.add_argument("--tree-seed", type=int, default=0, help="seed of the tree instance")
    parser.add_argument("--seed", type=int, default=1, help="seed of the played episode")
    parser.add_argument("--episodes", type=int, default=20000, help="episodes for the batched average")
    args = parser.parse_args(argv)

    spec = random_binary_tree(args.depth, seed=args.tree_seed)
    sol = solve_spe(spec)
    n_dec = 2**args.depth - 1
    print(f"Random binary tree, depth {args.depth}: {n_dec} decision states, gamma = {spec.gamma}")
    print(
        f"Exact subgame-perfect equilibrium (SPE, by {sol.method.replace('_', ' ')}): principal value "
        f"{sol.principal_value:.4f}, agent value {sol.agent_value:.4f}"
    )
    print(f"High effort incentivised in {np.mean(sol.recommended_action[:n_dec] == 1):.1%} of decision states\n")
    print(LEGEND + "\n")
    print("state  recommend  b(bad)  b(good)  E[payment]  principal q  agent value")
    for s in range(min(n_dec, 15)):
        a = sol.recommended_action[s]
        pay = spec.outcome_probs[s, a] @ sol.contract[s]
        print(
            f"{s:>5}  {a:>9}  {sol.contract[s, 0]:>6.3f}  {sol.contract[s, 1]:>7.3f}  {pay:>10.3f}"
            f"  {sol.principal_q[s, a]:>11.3f}  {sol.agent_values[s]:>11.3f}"
        )
    if n_dec > 15:
        print(f"  ... ({n_dec - 15} more states)")

    env = contract_envs.make("parallel", ENV_ID, spec=spec, render_mode="ansi")
    obs, _ = env.reset(seed=args.seed)
    print("\nOne episode (solved principal vs best-responding agent):")
    print("round  state  contract [bad, good]  action  outcome  payment  agent reward  principal reward")
    print("                                      (0 low / 1 high effort; outcome 0 bad / 1 good)")
    round_ = 0
    while env.agents:
        s = int(obs["principal_0"])
        offer = sol.contract[s][None].astype(np.float32)
        obs, *_ = env.step({"principal_0": offer})  # offer stage: the principal's move counts
        action = best_response(sol, s, obs["agent_0"]["contract"].astype(np.float64), spec.outcome_probs)
        obs, rew, _, _, infos = env.step({"agent_0": action})  # act stage: the agent's move counts
        outcome = infos["agent_0"]["outcome"]
        print(
            f"{round_:>5}  {s:>5}  [{offer[0, 0]:6.3f}, {offer[0, 1]:6.3f}]      {action:>6}  {outcome:>7}"
            f"  {infos['agent_0']['payment']:>7.3f}  {rew['agent_0']:>12.3f}  {rew['principal_0']:>16.3f}"
        )
        round_ += 1
    print(
        f"Episode return: principal {infos['principal_0']['episode_utility']:.4f} (exact expected "
        f"{sol.principal_value:.4f}), agent {infos['agent_0']['episode_utility']:.4f} (exact expected "
        f"{sol.agent_value:.4f}); paid {infos['principal_0']['episode_payment']:.4f}, "
        f"received {infos['agent_0']['episode_payment']:.4f}"
    )

    vec = vector.make(ENV_ID, args.episodes, spec=spec, autoreset=False)
    obs, _ = vec.reset(seed=args.seed)
    totals = np.zeros((args.episodes, 2))
    alive = np.ones(args.episodes, dtype=bool)
    while alive.any():
        s = obs["principal_0"]
        vec.step({"principal_0": sol.contract[s][:, None, :]})
        obs, rew, term, trunc, _ = vec.step({"agent_0": sol.recommended_action[s]})
        totals[alive] += np.stack([rew["principal_0"], rew["agent_0"]], 1)[alive]
        alive &= ~(term["agent_0"] | trunc["agent_0"])
    mean, sem = totals.mean(0), totals.std(0) / np.sqrt(args.episodes)
    print(
        f"\nAverage over {args.episodes} episodes (batched API): principal {mean[0]:.4f} +- {sem[0]:.4f} "
        f"(exact {sol.principal_value:.4f}), agent {mean[1]:.4f} +- {sem[1]:.4f} (exact {sol.agent_value:.4f})"
    )


if __name__ == "__main__":
    main()
