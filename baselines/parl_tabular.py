"""PARL's meta-algorithm, model-free and tabular, on a principal-agent MDP (Ivanov et al., arXiv 2407.18074).

Each outer iteration alternates the two halves of Algorithm 1, each learned from samples:

1. *Agent*: with the principal's contract policy ``rho`` fixed, the agent learns its truncated
   Q-function ``Q̄(s, a) = r(s, a) + gamma E[V(s')]`` (the value of an action without the current
   payment) by Q-learning, where ``V(s') = max_a' Q̄(s', a') + E_{o~O(s',a')} rho(s')(o)``.
2. *Principal*: with ``Q̄`` frozen, the principal learns its contractual Q over *recommended*
   actions, ``q(s, a^p) = E[r_p(s, o) - b*(s, a^p)(o) + gamma max q(s', .)]``, where ``b*`` is the
   min-pay contract implementing ``a^p`` against ``Q̄`` (the LP of
   :func:`contract_envs.solvers.min_pay_contracts`); the agent, greedy on ``Q̄`` plus the offered
   payment, takes the recommended action.

Then ``rho(s) = b*(s, argmax q(s, .))``. Transitions and rewards are unknown (only the outcome
function ``O`` is known, as PARL assumes, to compute contracts). By default both players use that
knowledge in their targets too: they learn the value after each (state, outcome),
``U(s, o) = E[V(s') | s, o]``, and own rewards, and form ``Q̄`` and ``q`` by averaging over ``O``
(Q-learning on post-outcome states; every sample updates every action). ``--no-expected-outcomes``
runs textbook Q-learning on sampled targets instead; its estimation noise puts min-pay contracts on
the wrong side of the agent's indifference point (see ``docs/results/parl_tabular.md``). Both
learners are off-policy: behaviour is ``epsilon``-greedy (uniformly random by default, which covers
the whole state space); step sizes are Jin et al.'s (2018) ``(H + 1) / (H + n)``, restarted every
phase; the batched game (a batch of environments in lockstep) collects data.

Scores, against ``solve_spe`` on the true model: the exact value of the learned principal paired
with the learned agent (``principal_value_learned``, the meta-algorithm's equilibrium) and paired
with an exact best-responding oracle agent (``principal_value_oracle``, PARL's validation; a
min-pay contract leaves the agent indifferent, so any estimation error in ``Q̄`` tips the oracle
off the recommendation unless ``--margin`` nudges it), and the share of states where the learned
recommendation is the SPE's.

Fastest meaningful command (depth-6 tree; 23 s at load average 10; 100% of the SPE value against the oracle):
``PYTHONPATH=. python baselines/parl_tabular.py --depth 6``
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import random
import time
from dataclasses import dataclass

import numpy as np
import torch
import tyro
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

import contract_envs
import contract_envs.vector
from contract_envs.games.principal_agent_mdp import (
    PrincipalAgentMDPSpec,
    random_binary_tree,
    random_mdp,
)
from contract_envs.solvers import agent_best_response, evaluate_policies, min_pay_contracts, solve_spe

TIE = 1e-9
ALGORITHM = os.path.basename(__file__)[: -len(".py")]
ENV_ID = "contract_envs/principal_agent_mdp-v1"


@dataclass
class Args:
    seed: int = 1
    """seed of the experiment (learning and environment randomness)"""
    torch_deterministic: bool = True
    """unused (tabular); kept for the common CleanRL interface"""
    cuda: bool = False
    """unused (tabular); kept for the common CleanRL interface"""
    track: bool = False
    """if toggled, this experiment will be tracked with Weights and Biases"""
    wandb_project_name: str = "contract-envs"
    """the wandb's project name"""
    wandb_entity: str | None = None
    """the entity (team) of wandb's project"""
    save_model: bool = False
    """whether to save the learned tables as `model.pt` into the run folder"""
    runs_dir: str = "runs"
    """folder of the run folders `{algorithm}__{env}__{seed}__{time}` (TensorBoard, metrics.json, model.pt)"""
    metrics_path: str | None = None
    """also write metrics.json to this path"""
    eval_checkpoint: str | None = None
    """score this model.pt only (its args override the CLI except the evaluation options) and exit"""

    # Instance
    instance: str = "tree"
    """`tree` (PARL's random binary game tree) or `mdp` (random discounted MDP with cycles)"""
    depth: int = 6
    """tree depth (`2**depth - 1` decision states)"""
    instance_seed: int = 0
    """seed of the random instance"""
    mdp_states: int = 10
    """states of the random MDP"""
    mdp_actions: int = 2
    """agent actions of the random MDP"""
    mdp_outcomes: int = 2
    """outcomes of the random MDP"""
    gamma: float = 0.9
    """discount of the random MDP (trees use gamma = 1)"""
    horizon: int = 100
    """rounds before an episode of the random MDP is truncated (the learners bootstrap through it)"""

    # Algorithm
    meta_iterations: int = 8
    """outer iterations of the meta-algorithm (one agent phase + one principal phase each)"""
    rounds_per_phase: int = 120_000
    """environment rounds (transitions, all environments together) of each phase"""
    expected_outcomes: bool = True
    """average targets over the known outcome function (learn values after each outcome); False: plain
    sampled Q-learning"""
    num_envs: int = 256
    """parallel environments of the batched API"""
    epsilon: float = 1.0
    """behaviour policies' exploration rate (1 = uniformly random actions / recommendations)"""
    margin: float = 0.0
    """PARL's nudge xi: contracts make the recommended action strictly better by this much"""
    payment_cap: float = 1000.0
    """largest payment per outcome the environment accepts"""


def make_spec(args: Args) -> PrincipalAgentMDPSpec:
    if args.instance == "tree":
        return random_binary_tree(args.depth, seed=args.instance_seed)
    if args.instance == "mdp":
        return random_mdp(args.mdp_states, args.mdp_actions, args.mdp_outcomes, args.gamma, seed=args.instance_seed)
    raise ValueError(f"--instance must be 'tree' or 'mdp', got {args.instance!r}")


def agent_choice(qbar: np.ndarray, contract: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Greedy agent actions and values for ``qbar [B, A]``, offered ``contract [B, O]``, ``probs [B, A, O]``.

    An indifferent agent takes the action the contract pays most for in expectation: the one it was
    designed to implement (PARL's tie-break towards the recommendation).
    """
    pay = (probs * contract[:, None, :]).sum(-1)
    total = qbar + pay
    best = total.max(axis=1, keepdims=True)
    action = np.argmax(np.where(total >= best - TIE, pay, -np.inf), axis=1)
    return action, total[np.arange(len(action)), action]


def q_update(table: np.ndarray, counts: np.ndarray, idx: np.ndarray, targets: np.ndarray, horizon: float) -> None:
    """Q-learning step ``Q += alpha_n (y - Q)`` with ``alpha_n = (H + 1) / (H + n)`` at flat indices ``idx``.

    The step size of Jin et al. (2018, "Is Q-learning provably efficient?") for horizon ``H``:
    unlike ``1/n`` it forgets the early targets, whose bootstrapped values were still wrong.
    Repeats of an index within a batch share one step on their mean target.
    """
    flat, cnt = table.reshape(-1), counts.reshape(-1)
    target_sum = np.zeros_like(flat)
    hits = np.zeros_like(cnt)
    np.add.at(target_sum, idx, targets)
    np.add.at(hits, idx, 1)
    seen = np.flatnonzero(hits)
    cnt[seen] += hits[seen]
    alpha = np.minimum(1.0, (horizon + 1) * hits[seen] / (horizon + cnt[seen]))
    flat[seen] += alpha * (target_sum[seen] / hits[seen] - flat[seen])


def all_contracts(spec: PrincipalAgentMDPSpec, qbar: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Min-pay contract of every (state, recommended action): ``[S, A, O]`` and feasibility ``[S, A]``."""
    n_s, n_a = qbar.shape
    probs = np.repeat(spec.outcome_probs, n_a, axis=0)
    contracts, feasible = min_pay_contracts(probs, np.repeat(qbar, n_a, axis=0), np.tile(np.arange(n_a), n_s), margin)
    return contracts.reshape(n_s, n_a, -1), feasible.reshape(n_s, n_a)


class Collector:
    """Plays rounds of a batch of environments with given principal and agent policies."""

    def __init__(self, spec: PrincipalAgentMDPSpec, args: Args, seed: int) -> None:
        horizon = None if spec.acyclic_levels() is not None else args.horizon
        self.env = contract_envs.vector.make(
            ENV_ID, args.num_envs, seed=seed, spec=spec, horizon=horizon, payment_cap=args.payment_cap
        )
        self.spec, self.cap = spec, args.payment_cap
        self.obs, _ = self.env.reset(seed=seed)

    def run(self, rounds: int, principal, agent, on_transition) -> None:
        """``principal(s) -> (rec, contract)``, ``agent(s, contract) -> action``, then
        ``on_transition(s, rec, action, outcome, infos, next_s, terminated)`` each round."""
        env = self.env
        for _ in range(rounds):
            s = self.obs["principal_0"]
            rec, contract = principal(s)
            contract = np.minimum(contract, self.cap)
            env.step({"principal_0": contract[:, None, :]})
            # the agent sees the offer; we pass the float64 copy (the observation is float32, and
            # rounding would break the exact indifference a min-pay contract creates)
            action = agent(s, contract)
            obs, _, terms, truncs, infos = env.step({"agent_0": action})
            next_s = obs["principal_0"].copy()
            done = terms["principal_0"] | truncs["principal_0"]
            if done.any():
                next_s[done] = env.final_observations["principal_0"][done]
            outcome = infos["agent_0"]["outcome"]  # the realised outcome, which both players observe
            on_transition(s, rec, action, outcome, infos, next_s, terms["principal_0"])
            self.obs = obs


class Learner:
    """Tables of one player. With ``expected_outcomes`` it learns the reward of each (state, action)
    or (state, outcome) and the value after each (state, outcome), ``U(s, o) = E[V(s') | s, o]``,
    and forms Q by averaging over the known outcome function; otherwise it runs plain Q-learning on
    sampled targets."""

    def __init__(
        self, spec: PrincipalAgentMDPSpec, expected_outcomes: bool, step_horizon: float, reward_per_outcome: bool
    ) -> None:
        self.spec, self.expected, self.h = spec, expected_outcomes, step_horizon
        self._per_outcome = reward_per_outcome
        n_s, n_a, n_o = spec.n_states, spec.n_actions, spec.n_outcomes
        self.reward = np.zeros((n_s, n_o) if reward_per_outcome else (n_s, n_a))
        self.after = np.zeros((n_s, n_o))
        self.q = np.zeros((n_s, n_a))
        self.restart()

    def restart(self) -> None:
        """New phase: step sizes start afresh (the targets changed), estimates are kept."""
        self.n_reward = np.zeros_like(self.reward)
        self.n_after = np.zeros_like(self.after)
        self.n_q = np.zeros_like(self.q)

    def update(self, s, a, o, reward, next_value) -> None:
        """One batch of transitions: ``reward`` is the own reward (of the action for the agent, of
        the outcome for the principal), ``next_value`` ``V(s')`` (0 when terminated)."""
        n_a, n_o = self.spec.n_actions, self.spec.n_outcomes
        if self.expected:
            key = s * n_o + o if self._per_outcome else s * n_a + a
            q_update(self.reward, self.n_reward, key, reward, 0.0)  # 1/n: rewards are stationary
            q_update(self.after, self.n_after, s * n_o + o, next_value, self.h)
        else:
            q_update(self.q, self.n_q, s * n_a + a, reward + self.spec.gamma * next_value, self.h)

    def expected_q(self, contracts: np.ndarray | None = None) -> np.ndarray:
        """``[S, A]``: agent's truncated Q (``contracts=None``), or the principal's contractual Q
        given the contract implementing each action ``[S, A, O]``."""
        if not self.expected:
            return self.q
        probs, gamma = self.spec.outcome_probs, self.spec.gamma
        if contracts is None:
            return self.reward + gamma * (probs * self.after[:, None, :]).sum(-1)
        return (probs * (self.reward[:, None, :] - contracts + gamma * self.after[:, None, :])).sum(-1)


def evaluate(spec, solution, qbar, q, margin):
    """Exact scores of the learned policies on the true model."""
    contracts, feasible = all_contracts(spec, qbar, margin)
    rec = np.argmax(np.where(feasible, q, -np.inf), axis=1)
    states = np.arange(spec.n_states)
    contract = contracts[states, rec]
    contract[spec.terminal] = 0.0
    learned_policy, _ = agent_choice(qbar, contract, spec.outcome_probs)
    learned = evaluate_policies(spec, contract, learned_policy, rec)
    oracle = agent_best_response(spec, contract, rec)
    live = ~spec.terminal
    opt = solution.principal_value
    return (
        {
            "spe_principal_value": opt,
            "principal_value_learned": learned.principal_value,
            "principal_value_oracle": oracle.principal_value,
            "ratio_learned": learned.principal_value / opt,
            "ratio_oracle": oracle.principal_value / opt,
            "principal_q_estimate": float(q[spec.initial_state, rec[spec.initial_state]]),
            "accuracy": float(np.mean(rec[live] == solution.recommended_action[live])),
            "oracle_follow_rate": oracle.follow_rate,
            "agent_qbar_max_error": float(np.abs(qbar - learned.agent_truncated_q)[live].max()),
        },
        rec,
        contract,
    )


def explore(rng: np.random.Generator, epsilon: float, greedy: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """``epsilon``-greedy over the ``allowed [B, A]`` actions."""
    random_choice = np.argmax(rng.random(allowed.shape) * allowed, axis=1)
    return np.where(rng.random(len(greedy)) < epsilon, random_choice, greedy)


def agent_phase(args, spec, collector, rng, agent: Learner, rec, contract, rounds) -> np.ndarray:
    """Algorithm 1, line 3: the agent learns its truncated Q against the fixed contract policy."""
    agent.restart()
    probs, everything = spec.outcome_probs, np.ones((args.num_envs, spec.n_actions), dtype=bool)
    qbar = agent.expected_q().copy()

    def act(s, offered):
        return explore(rng, args.epsilon, agent_choice(qbar[s], offered, probs[s])[0], everything)

    def learn(s, rec_b, a, o, infos, s2, terminated):
        _, v_next = agent_choice(qbar[s2], contract[s2], probs[s2])
        agent.update(s, a, o, infos["agent_0"]["own_reward"], np.where(terminated, 0.0, v_next))
        qbar[:] = agent.expected_q()

    collector.run(rounds, principal=lambda s: (rec[s], contract[s]), agent=act, on_transition=learn)
    return qbar


def principal_phase(args, spec, collector, rng, principal: Learner, qbar, rounds):
    """Algorithm 1, line 4: the principal learns its contractual Q over recommended actions, each
    implemented by its min-pay contract against the agent's (frozen) truncated Q."""
    contracts, feasible = all_contracts(spec, qbar, args.margin)
    principal.restart()
    if not args.expected_outcomes:
        principal.q[:] = 0.0

    def contractual_q():
        q = np.where(feasible, principal.expected_q(contracts), -np.inf)
        q[spec.terminal] = 0.0
        return q

    q = contractual_q()
    followed = []

    def offer(s):
        r = explore(rng, args.epsilon, np.argmax(q[s], axis=1), feasible[s])
        return r, contracts[s, r]

    def learn(s, rec_b, a, o, infos, s2, terminated):
        followed.append(np.mean(a == rec_b))
        v_next = np.where(terminated, 0.0, q[s2].max(axis=1))
        own = infos["principal_0"]["own_reward"]
        if not args.expected_outcomes:  # sampled target: the utility actually received
            own = own - infos["principal_0"]["payment"]
        principal.update(s, rec_b, o, own, v_next)
        q[:] = contractual_q()

    def act(s, offered):
        return agent_choice(qbar[s], offered, spec.outcome_probs[s])[0]

    collector.run(rounds, principal=offer, agent=act, on_transition=learn)
    return q, float(np.mean(followed))


def train(args: Args, spec: PrincipalAgentMDPSpec, writer: SummaryWriter | None):
    rng = np.random.default_rng(args.seed)
    n_s = spec.n_states
    solution = solve_spe(spec)
    collector = Collector(spec, args, args.seed)
    levels = spec.acyclic_levels()
    step_horizon = len(levels) if levels is not None else 1.0 / (1.0 - spec.gamma)
    rounds = max(1, int(np.ceil(args.rounds_per_phase / args.num_envs)))
    agent = Learner(spec, args.expected_outcomes, step_horizon, reward_per_outcome=False)
    principal = Learner(spec, args.expected_outcomes, step_horizon, reward_per_outcome=True)
    rec = np.zeros(n_s, dtype=np.int64)
    contract = np.zeros((n_s, spec.n_outcomes))
    metrics: dict = {}
    history = []
    for iteration in tqdm(range(1, args.meta_iterations + 1), desc="meta-iterations"):
        qbar = agent_phase(args, spec, collector, rng, agent, rec, contract, rounds)
        q, follow_rate = principal_phase(args, spec, collector, rng, principal, qbar, rounds)
        metrics, rec, contract = evaluate(spec, solution, qbar, q, args.margin)
        metrics["training_follow_rate"] = follow_rate
        metrics["meta_iteration"] = iteration
        metrics["step"] = metrics["env_rounds"] = int(2 * iteration * rounds * args.num_envs)
        history.append(dict(metrics))
        if writer is not None:
            for k, v in metrics.items():
                writer.add_scalar(f"eval/{k}", v, metrics["env_rounds"])
    return qbar, q, metrics, history


def versions() -> dict:
    return {
        "contract_envs": getattr(contract_envs, "__version__", "unknown"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
    }


def env_kwargs(args: Args) -> dict:
    if args.instance == "tree":
        spec = f"random_binary_tree(depth={args.depth}, seed={args.instance_seed})"
    else:
        sizes = f"{args.mdp_states}, {args.mdp_actions}, {args.mdp_outcomes}, {args.gamma}"
        spec = f"random_mdp({sizes}, seed={args.instance_seed})"
    return {"spec": spec, "payment_cap": args.payment_cap}


def write_metrics(run_dir: str, args: Args, final: dict, history: list, wall: float, eval_: dict | None) -> dict:
    metrics = {
        "schema": "contract-envs/metrics/v1",
        "algorithm": ALGORITHM,
        "env_id": ENV_ID,
        "env_kwargs": env_kwargs(args),
        "seed": args.seed,
        "args": dataclasses.asdict(args),
        "final": {k: float(v) for k, v in final.items()},
        "history": history,
        "wall_clock_s": float(wall),
        "versions": versions(),
        "eval": eval_,
    }
    for path in filter(None, (os.path.join(run_dir, "metrics.json"), args.metrics_path)):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w") as f:
            json.dump(metrics, f, indent=1)
    return metrics


def run_folder(args: Args) -> str:
    return os.path.join(args.runs_dir, f"{ALGORITHM}__principal_agent_mdp__{args.seed}__{int(time.time())}")


#: options an `--eval-checkpoint` run takes from the command line; everything else comes from the checkpoint
EVAL_OPTIONS = ("eval_checkpoint", "runs_dir", "metrics_path", "track", "wandb_project_name", "wandb_entity")


def evaluate_checkpoint(args: Args) -> dict:
    """Load ``model.pt``, score its tables on the true model and write metrics.json (with ``eval``)."""
    checkpoint = torch.load(args.eval_checkpoint, weights_only=False)
    args = dataclasses.replace(args, **{k: v for k, v in checkpoint["args"].items() if k not in EVAL_OPTIONS})
    start = time.time()
    spec = make_spec(args)
    tables = checkpoint["state_dicts"]
    final, _, _ = evaluate(spec, solve_spe(spec), tables["agent_truncated_q"], tables["principal_q"], args.margin)
    run_dir = run_folder(args)
    os.makedirs(run_dir, exist_ok=True)
    evaluation = {"checkpoint": args.eval_checkpoint, "final": {k: float(v) for k, v in final.items()}}
    metrics = write_metrics(run_dir, args, final, [], time.time() - start, evaluation)
    print(json.dumps(metrics["final"]))
    return metrics


def main(args: Args) -> dict:
    if args.eval_checkpoint:
        return evaluate_checkpoint(args)
    spec = make_spec(args)
    run_dir = run_folder(args)
    if args.track:
        import wandb

        wandb.init(
            project=args.wandb_project_name,
            entity=args.wandb_entity,
            sync_tensorboard=True,
            config=vars(args),
            name=os.path.basename(run_dir),
            save_code=True,
        )
    writer = SummaryWriter(run_dir)
    table = "\n".join(f"|{k}|{v}|" for k, v in vars(args).items())
    writer.add_text("hyperparameters", f"|param|value|\n|-|-|\n{table}")
    random.seed(args.seed)
    np.random.seed(args.seed)
    start, load_start = time.time(), os.getloadavg()[0]
    qbar, q, final, history = train(args, spec, writer)
    final |= {"wall_clock_s": time.time() - start, "load_average_start": load_start}
    final["load_average_end"] = os.getloadavg()[0]
    print(json.dumps({k: round(v, 6) if isinstance(v, float) else v for k, v in final.items()}, indent=1))
    if args.save_model:
        path = os.path.join(run_dir, "model.pt")
        state = {"agent_truncated_q": qbar, "principal_q": q}
        torch.save({"args": dataclasses.asdict(args), "state_dicts": state}, path)
        print(f"model saved to {path}")
    metrics = write_metrics(run_dir, args, final, history, time.time() - start, None)
    writer.close()
    return metrics


if __name__ == "__main__":
    main(tyro.cli(Args, description=__doc__))
