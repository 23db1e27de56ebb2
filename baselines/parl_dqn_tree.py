"""Deep PARL on random binary game trees (Ivanov et al., arXiv 2407.18074, Algorithm 2 and Appendix D.1).

Two DQNs learn together (the meta-algorithm's inner and outer loops cut short):

* the principal's contractual Q ``q_theta(s, a^p)`` over *recommended* agent actions; it offers the
  min-pay contract ``b*(s, a^p)`` that implements ``a^p`` against the agent's current truncated Q
  (:func:`contract_envs.solvers.min_pay_contracts`: closed form for two outcomes, LP otherwise), and
  learns from ``y^p = r_p(s, o) - b*(s, a^p)(o) + gamma q_theta'(s', argmax q_theta(s', .))`` (double DQN;
  ``b*`` recomputed from the online agent network, so ``q`` tracks the current agent);
* the agent's truncated Q ``Q̄_phi(s, a)`` (its value without the current payment), learned from
  ``y^a = r(s, a) + gamma [Q̄_phi'(s', a^p') + E_{o'~O(s', a^p')} b*(s', a^p')(o')]`` where ``a^p'``
  is the principal's greedy recommendation at ``s'`` and ``b*`` its contract against ``Q̄_phi'``.

Data: each iteration, ``num_envs`` environments of the batched API make one round (the principal
recommends epsilon-greedily, the agent maximises ``Q̄_phi`` plus the offered payment, so it follows),
then one gradient step per network. The outcome function is known (PARL's assumption).

Validation (PARL's protocol): every ``eval_frequency`` iterations the learned principal's policy
(greedy recommendation, contract against ``Q̄_phi``) is scored on the true model against an exact
best-responding oracle agent (:func:`contract_envs.solvers.agent_best_response`) and compared with the
subgame-perfect equilibrium (:func:`contract_envs.solvers.solve_spe`): principal value as a share of
the SPE value, and the share of decision states whose recommendation is the SPE action. ``--margin``
is PARL's nudge ``xi``: contracts make the recommended action strictly better by ``xi``. Also
reported: the value of the learned *recommendations* implemented by min-pay contracts priced
against the exact agent (``ratio_implemented``, isolates the principal's Q from the agent network's
pricing errors) and of the learned principal with the learned agent (``ratio_learned_agent``).

Deployment with averaged weights (``ema_*`` metrics; not in PARL): the same validation is run on an
exponential moving average of both networks' weights (Polyak averaging of the iterates, decay
``--ema-decay``). Contracts priced from the online agent network fluctuate by a few hundredths between
gradient steps, and an underpayment of that size at a state on the main path makes the oracle deviate
(tree 2, seed 4, ξ = 0.02: the oracle's value swings between 69% and 96% of the SPE value across the
last validations; with averaged weights it stays at 97%). Training is unchanged.

Metrics (validation against the oracle, as a share of the SPE value ``solve_spe``): ``ratio_oracle`` (the learned
contracts *as offered*, i.e. with the training nudge ``--margin``), ``ratio_oracle_no_nudge`` (the same contracts
priced with no nudge), ``ratio_oracle_nudge_{xi}`` (priced with nudge xi at validation only),
``ratio_implemented``, ``ratio_learned_agent``, ``accuracy``; diagnostics of the indifference problem:
``oracle_follow_rate_paid`` (the oracle follows among the states whose contract pays something) and
``oracle_path_deviation_prob`` (probability that the oracle, starting at the root, meets a state where it does
not follow).

Deviation: states are one-hot (an embedding row per state, which equals a linear layer on a one-hot
input); PARL does not say how tree states are encoded.

Fastest meaningful command (depth 6; about a minute on an idle core, 6 minutes at load average 13; 95% SPE
actions, recommendations worth 99.9% of the SPE value priced exactly, learned contracts 53% against the oracle):
``PYTHONPATH=. python baselines/parl_dqn_tree.py --depth 6 --iterations 5000``
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
import torch.nn as nn
import tyro
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

import contract_envs
import contract_envs.vector
from contract_envs.games.principal_agent_mdp import PrincipalAgentMDPSpec, random_binary_tree
from contract_envs.solvers import (
    agent_best_response,
    evaluate_policies,
    implement_recommendations,
    min_pay_contracts,
    solve_spe,
)

TIE = 1e-9
ALGORITHM = os.path.basename(__file__)[: -len(".py")]
ENV_ID = "contract_envs/principal_agent_mdp-v1"


@dataclass
class Args:
    seed: int = 1
    """seed of the experiment (networks, exploration, environment randomness)"""
    torch_deterministic: bool = True
    """if toggled, `torch.backends.cudnn.deterministic=True`"""
    cuda: bool = False
    """if toggled, cuda will be enabled when available"""
    track: bool = False
    """if toggled, this experiment will be tracked with Weights and Biases"""
    wandb_project_name: str = "contract-envs"
    """the wandb's project name"""
    wandb_entity: str | None = None
    """the entity (team) of wandb's project"""
    save_model: bool = False
    """whether to save `model.pt` (both networks and their averaged copies) into the run folder"""
    runs_dir: str = "runs"
    """folder of the run folders `{algorithm}__{env}__{seed}__{time}` (TensorBoard, metrics.json, model.pt)"""
    metrics_path: str | None = None
    """also write metrics.json to this path"""
    eval_checkpoint: str | None = None
    """validate this model.pt only (its args override the CLI except the evaluation options) and exit"""
    torch_threads: int = 1
    """CPU threads torch may use"""

    # Instance
    depth: int = 10
    """depth of the random binary tree (`2**depth - 1` decision states)"""
    instance_seed: int = 0
    """seed of the random tree"""

    # Algorithm (PARL's tree hyperparameters)
    iterations: int = 20000
    """training iterations; each = `num_envs` environment interactions + one gradient step per network"""
    num_envs: int = 8
    """environments stepped once per iteration (PARL: 8 interactions per iteration)"""
    batch_size: int = 128
    """minibatch size"""
    buffer_size: int = 160_000
    """replay memory size (default: every transition of the run)"""
    learning_starts: int = 128
    """transitions collected before learning starts"""
    target_network_frequency: int = 100
    """iterations between hard copies into the target networks"""
    learning_rate: float = 1e-3
    """initial Adam learning rate"""
    end_learning_rate: float = 1e-4
    """final learning rate (exponential anneal)"""
    start_e: float = 1.0
    """initial exploration rate of the principal's recommendations"""
    end_e: float = 0.0
    """final exploration rate"""
    exploration_fraction: float = 1.0
    """fraction of the iterations over which epsilon decays linearly"""
    hidden_size: int = 256
    """width of the two hidden layers"""
    margin: float = 0.0
    """PARL's nudge xi added to every incentive constraint (0 = exact min-pay contracts)"""
    payment_cap: float = 1000.0
    """largest payment per outcome (early, untrained networks can ask for large ones)"""
    eval_frequency: int = 1000
    """iterations between validations against the oracle agent"""
    eval_margins: tuple[float, ...] = (0.005, 0.01, 0.02)
    """extra nudges xi tried at validation only (contracts offered to the oracle with this margin)"""
    ema_decay: float = 0.999
    """decay of the exponential moving average of both networks' weights (Polyak averaging of the iterates),
    validated as a second deployed principal (`ema_*` metrics); training itself uses the online networks"""


class QNetwork(nn.Module):
    """Q-values of every action of a tabular state: 2 x ``hidden`` ReLU layers (the first one a state embedding)."""

    def __init__(self, n_states: int, n_actions: int, hidden: int) -> None:
        super().__init__()
        # == nn.Linear on a one-hot state; sparse gradients touch only the rows of the minibatch
        self.embed = nn.Embedding(n_states, hidden, sparse=True)
        self.body = nn.Sequential(nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, n_actions))

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return self.body(self.embed(states))

    def optimizers(self, lr: float) -> list[torch.optim.Optimizer]:
        """Adam; lazy (sparse) Adam for the embedding, whose dense update would dominate the cost."""
        embed = torch.optim.SparseAdam(list(self.embed.parameters()), lr=lr)
        return [embed, torch.optim.Adam(self.body.parameters(), lr=lr)]


def contracts_for_all(probs: np.ndarray, qbar: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Min-pay contract of every action: ``probs [B, A, O]``, ``qbar [B, A]`` -> ``[B, A, O]``, ``[B, A]``."""
    n_b, n_a, _ = probs.shape
    contracts, feasible = min_pay_contracts(
        np.repeat(probs, n_a, axis=0), np.repeat(qbar, n_a, axis=0), np.tile(np.arange(n_a), n_b), margin
    )
    return contracts.reshape(n_b, n_a, -1), feasible.reshape(n_b, n_a)


def agent_choice(qbar: np.ndarray, contract: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Greedy agent: maximise truncated Q plus expected payment; when indifferent, take the action
    the contract pays most for (the one it was designed to implement)."""
    pay = (probs * contract[:, None, :]).sum(-1)
    total = qbar + pay
    best = total.max(axis=1, keepdims=True)
    return np.argmax(np.where(total >= best - TIE, pay, -np.inf), axis=1)


class Replay:
    """Uniform replay memory of (s, a^p, a, o, r, r_p, s', terminated)."""

    def __init__(self, size: int) -> None:
        self.size, self.pos, self.full = size, 0, False
        self.s, self.rec, self.a, self.o, self.s2 = (np.zeros(size, np.int64) for _ in range(5))
        self.r, self.rp = np.zeros(size), np.zeros(size)
        self.term = np.zeros(size, bool)

    def add(self, **batch: np.ndarray) -> None:
        n = len(batch["s"])
        idx = (self.pos + np.arange(n)) % self.size
        for k, v in batch.items():
            getattr(self, k)[idx] = v
        self.full |= self.pos + n >= self.size
        self.pos = (self.pos + n) % self.size

    def __len__(self) -> int:
        return self.size if self.full else self.pos

    def sample(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        idx = rng.integers(len(self), size=n)
        return {k: getattr(self, k)[idx] for k in ("s", "rec", "a", "o", "r", "rp", "s2", "term")}


def step(optimizers: list[torch.optim.Optimizer], loss: torch.Tensor) -> None:
    for opt in optimizers:
        opt.zero_grad()
    loss.backward()
    for opt in optimizers:
        opt.step()


def learned_policy(spec, q: np.ndarray, qbar: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """The learned principal's policy on every state: greedy recommendation and its contract."""
    contracts, feasible = contracts_for_all(spec.outcome_probs, qbar, margin)
    rec = np.argmax(np.where(feasible, q, -np.inf), axis=1)
    contract = contracts[np.arange(spec.n_states), rec]
    contract[spec.terminal] = 0.0
    return rec, contract


def path_deviation_probability(spec: PrincipalAgentMDPSpec, policy: np.ndarray, recommended: np.ndarray) -> float:
    """Probability that an agent playing ``policy`` from the initial state meets a state where it does not take the
    recommendation (mass flows through followed states only)."""
    live = ~spec.terminal
    deviates = live & (policy != recommended)
    states = np.arange(spec.n_states)
    mass = np.zeros(spec.n_states)
    mass[spec.initial_state] = 1.0
    total = 0.0
    for _ in range(spec.n_states):
        total += mass[deviates].sum()
        mass = np.where(live & ~deviates, mass, 0.0)
        if mass.sum() < 1e-15:
            break
        flow = (mass[:, None] * spec.outcome_probs[states, policy]).ravel()  # [S * O]
        mass = spec.transition_matrix.T @ flow
    return float(total)


def validate(
    spec: PrincipalAgentMDPSpec,
    solution,
    principal: QNetwork,
    agent: QNetwork,
    margin: float,
    eval_margins: tuple[float, ...] = (),
) -> dict:
    """Score the learned principal on the true model against the exact oracle agent (and the learned agent).

    ``ratio_oracle``: the contracts as the principal offers them (training nudge ``margin``);
    ``ratio_oracle_no_nudge``: priced with no nudge; ``ratio_oracle_nudge_{xi}``: priced with nudge xi instead.
    """
    device = next(principal.parameters()).device
    states = torch.arange(spec.n_states, device=device)
    with torch.no_grad():
        q = principal(states).cpu().numpy().astype(np.float64)
        qbar = agent(states).cpu().numpy().astype(np.float64)
    rec, contract = learned_policy(spec, q, qbar, margin)
    oracle = agent_best_response(spec, contract, rec)
    learned = evaluate_policies(spec, contract, agent_choice(qbar, contract, spec.outcome_probs), rec)
    live = ~spec.terminal
    opt = solution.principal_value
    implemented, _ = implement_recommendations(spec, rec)
    nudged = {}
    for xi in sorted({0.0, *eval_margins}):
        rec_xi, contract_xi = learned_policy(spec, q, qbar, xi)
        key = "ratio_oracle_no_nudge" if xi == 0.0 else f"ratio_oracle_nudge_{xi:g}"
        nudged[key] = agent_best_response(spec, contract_xi, rec_xi).principal_value / opt
    paid = live & (contract.sum(-1) > 0)
    return nudged | {
        "spe_principal_value": opt,
        "principal_value_oracle": oracle.principal_value,
        "ratio_oracle": oracle.principal_value / opt,
        "principal_value_implemented": implemented.principal_value,
        "ratio_implemented": implemented.principal_value / opt,
        "principal_value_learned_agent": learned.principal_value,
        "ratio_learned_agent": learned.principal_value / opt,
        "accuracy": float(np.mean(rec[live] == solution.recommended_action[live])),
        "oracle_follow_rate": oracle.follow_rate,
        "oracle_follow_rate_paid": float(np.mean(oracle.agent_policy[paid] == rec[paid])) if paid.any() else 1.0,
        "oracle_path_deviation_prob": path_deviation_probability(spec, oracle.agent_policy, rec),
        "agent_qbar_max_error": float(np.abs(qbar - learned.agent_truncated_q)[live].max()),
        "agent_qbar_mean_error": float(np.abs(qbar - learned.agent_truncated_q)[live].mean()),
        "principal_q_estimate": float(q[spec.initial_state, rec[spec.initial_state]]),
    }


def versions() -> dict:
    return {
        "contract_envs": getattr(contract_envs, "__version__", "unknown"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
    }


def env_kwargs(args: Args) -> dict:
    return {
        "spec": f"random_binary_tree(depth={args.depth}, seed={args.instance_seed})",
        "payment_cap": args.payment_cap,
    }


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
EVAL_OPTIONS = ("eval_checkpoint", "eval_margins", "cuda", "torch_threads", "runs_dir", "metrics_path", "track")
EVAL_OPTIONS += ("wandb_project_name", "wandb_entity")


def evaluate_checkpoint(args: Args) -> dict:
    """Load ``model.pt``, validate it against the oracle and write metrics.json (with ``eval``) into a new folder."""
    checkpoint = torch.load(args.eval_checkpoint, map_location="cpu", weights_only=False)
    args = dataclasses.replace(args, **{k: v for k, v in checkpoint["args"].items() if k not in EVAL_OPTIONS})
    args.eval_margins = tuple(args.eval_margins)
    start = time.time()
    spec = random_binary_tree(args.depth, seed=args.instance_seed)
    solution = solve_spe(spec)
    nets = {k: QNetwork(spec.n_states, spec.n_actions, args.hidden_size) for k in checkpoint["state_dicts"]}
    for name, net in nets.items():
        net.load_state_dict(checkpoint["state_dicts"][name])
    final = validate(spec, solution, nets["principal"], nets["agent"], args.margin, args.eval_margins)
    averaged = validate(spec, solution, nets["principal_ema"], nets["agent_ema"], args.margin, args.eval_margins)
    final |= {f"ema_{k}": v for k, v in averaged.items() if k != "spe_principal_value"}
    run_dir = run_folder(args)
    os.makedirs(run_dir, exist_ok=True)
    evaluation = {"checkpoint": args.eval_checkpoint, "final": {k: float(v) for k, v in final.items()}}
    metrics = write_metrics(run_dir, args, final, [], time.time() - start, evaluation)
    print(json.dumps(metrics["final"]))
    return metrics


def main(args: Args) -> dict:
    if args.eval_checkpoint:
        return evaluate_checkpoint(args)
    if not 0.0 <= args.ema_decay < 1.0:
        raise ValueError(f"--ema-decay: {args.ema_decay} is outside the allowed range [0, 1)")
    spec = random_binary_tree(args.depth, seed=args.instance_seed)
    solution = solve_spe(spec)
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
    torch.manual_seed(args.seed)
    torch.backends.cudnn.deterministic = args.torch_deterministic
    torch.set_num_threads(args.torch_threads)
    rng = np.random.default_rng(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() and args.cuda else "cpu")

    n_s, n_a, gamma, probs = spec.n_states, spec.n_actions, spec.gamma, spec.outcome_probs
    principal = QNetwork(n_s, n_a, args.hidden_size).to(device)
    agent = QNetwork(n_s, n_a, args.hidden_size).to(device)
    principal_target = QNetwork(n_s, n_a, args.hidden_size).to(device)
    agent_target = QNetwork(n_s, n_a, args.hidden_size).to(device)
    principal_target.load_state_dict(principal.state_dict())
    agent_target.load_state_dict(agent.state_dict())
    principal_opts = principal.optimizers(args.learning_rate)
    agent_opts = agent.optimizers(args.learning_rate)
    decay = (args.end_learning_rate / args.learning_rate) ** (1.0 / max(1, args.iterations))
    schedulers = [torch.optim.lr_scheduler.ExponentialLR(o, decay) for o in principal_opts + agent_opts]
    replay = Replay(args.buffer_size)
    ema = torch.optim.swa_utils.get_ema_multi_avg_fn(args.ema_decay)
    principal_avg = torch.optim.swa_utils.AveragedModel(principal, multi_avg_fn=ema)
    agent_avg = torch.optim.swa_utils.AveragedModel(agent, multi_avg_fn=ema)

    def q_values(net: QNetwork, s: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return net(torch.as_tensor(s, device=device)).cpu().numpy().astype(np.float64)

    envs = contract_envs.vector.make(ENV_ID, args.num_envs, seed=args.seed, spec=spec, payment_cap=args.payment_cap)
    obs, _ = envs.reset(seed=args.seed)
    history = []
    start, load_start = time.time(), os.getloadavg()[0]
    episode_utilities = []
    for iteration in tqdm(range(1, args.iterations + 1), desc="iterations", mininterval=2.0):
        # ---- act: the principal recommends epsilon-greedily and offers the min-pay contract
        epsilon = args.start_e + (args.end_e - args.start_e) * min(
            1.0, (iteration - 1) / max(1.0, args.exploration_fraction * args.iterations)
        )
        s = obs["principal_0"]
        qbar_s = q_values(agent, s)
        contracts, feasible = contracts_for_all(probs[s], qbar_s, args.margin)
        greedy = np.argmax(np.where(feasible, q_values(principal, s), -np.inf), axis=1)
        random_rec = np.argmax(rng.random(feasible.shape) * feasible, axis=1)
        rec = np.where(rng.random(args.num_envs) < epsilon, random_rec, greedy)
        contract = np.minimum(contracts[np.arange(args.num_envs), rec], args.payment_cap)
        envs.step({"principal_0": contract[:, None, :]})
        # the agent sees the offer (we pass the float64 copy: the float32 observation would round
        # away the exact indifference of a min-pay contract)
        action = agent_choice(qbar_s, contract, probs[s])
        obs, rewards, terms, truncs, infos = envs.step({"agent_0": action})
        s2 = obs["principal_0"].copy()
        done = terms["principal_0"] | truncs["principal_0"]
        if done.any():
            s2[done] = envs.final_observations["principal_0"][done]
            episode_utilities.extend(infos["principal_0"]["episode_utility"][done].tolist())
        outcome = infos["agent_0"]["outcome"]  # the realised outcome (the tree's branch: 0 left, 1 right)
        replay.add(
            s=s,
            rec=rec,
            a=action,
            o=outcome,
            r=infos["agent_0"]["own_reward"],
            rp=infos["principal_0"]["own_reward"],
            s2=s2,
            term=terms["principal_0"],
        )

        # ---- learn: one gradient step per network
        if len(replay) >= args.learning_starts:
            b = replay.sample(rng, args.batch_size)
            s_t = torch.as_tensor(b["s"], device=device)
            qbar_b = q_values(agent, b["s"])
            contracts_b, _ = contracts_for_all(probs[b["s"]], qbar_b, args.margin)
            payment = contracts_b[np.arange(args.batch_size), b["rec"], b["o"]]
            # next state: principal's greedy recommendation and its contract against the target agent
            qbar_next = q_values(agent_target, b["s2"])
            contracts_next, feasible_next = contracts_for_all(probs[b["s2"]], qbar_next, args.margin)
            rec_next = np.argmax(np.where(feasible_next, q_values(principal, b["s2"]), -np.inf), axis=1)
            idx = np.arange(args.batch_size)
            agent_next = qbar_next[idx, rec_next] + (probs[b["s2"], rec_next] * contracts_next[idx, rec_next]).sum(-1)
            principal_next = q_values(principal_target, b["s2"])[idx, rec_next]
            live = ~b["term"]
            y_principal = b["rp"] - payment + gamma * live * principal_next
            y_agent = b["r"] + gamma * live * agent_next

            def as_tensor(x, dtype=torch.float32):
                return torch.as_tensor(x, dtype=dtype, device=device)

            q_pred = principal(s_t).gather(1, as_tensor(b["rec"], torch.int64)[:, None])[:, 0]
            principal_loss = nn.functional.mse_loss(q_pred, as_tensor(y_principal))
            step(principal_opts, principal_loss)
            qbar_pred = agent(s_t).gather(1, as_tensor(b["a"], torch.int64)[:, None])[:, 0]
            agent_loss = nn.functional.mse_loss(qbar_pred, as_tensor(y_agent))
            step(agent_opts, agent_loss)
            principal_avg.update_parameters(principal)
            agent_avg.update_parameters(agent)
            for scheduler in schedulers:
                scheduler.step()
            if iteration % 100 == 0:
                writer.add_scalar("losses/principal_loss", principal_loss.item(), iteration)
                writer.add_scalar("losses/agent_loss", agent_loss.item(), iteration)
                writer.add_scalar("charts/learning_rate", principal_opts[1].param_groups[0]["lr"], iteration)
                writer.add_scalar("charts/epsilon", epsilon, iteration)
        if iteration % args.target_network_frequency == 0:
            principal_target.load_state_dict(principal.state_dict())
            agent_target.load_state_dict(agent.state_dict())

        if iteration % args.eval_frequency == 0 or iteration == args.iterations:
            metrics = validate(spec, solution, principal, agent, args.margin, args.eval_margins)
            averaged = validate(spec, solution, principal_avg.module, agent_avg.module, args.margin, args.eval_margins)
            metrics |= {f"ema_{k}": v for k, v in averaged.items() if k != "spe_principal_value"}
            metrics["step"] = metrics["env_steps"] = iteration * args.num_envs
            metrics["iteration"] = iteration
            metrics["training_episode_utility"] = float(np.mean(episode_utilities)) if episode_utilities else 0.0
            metrics["wall_clock_s"] = time.time() - start
            episode_utilities = []
            history.append(metrics)
            for k, v in metrics.items():
                writer.add_scalar(f"eval/{k}", v, metrics["env_steps"])

    final = dict(history[-1])
    final |= {"load_average_start": load_start, "load_average_end": os.getloadavg()[0]}
    print(json.dumps({k: round(v, 6) if isinstance(v, float) else v for k, v in final.items()}, indent=1))
    if args.save_model:
        path = os.path.join(run_dir, "model.pt")
        state_dicts = {
            "principal": principal.state_dict(),
            "agent": agent.state_dict(),
            "principal_ema": principal_avg.module.state_dict(),
            "agent_ema": agent_avg.module.state_dict(),
        }
        torch.save({"args": dataclasses.asdict(args), "state_dicts": state_dicts}, path)
        print(f"model saved to {path}")
    metrics = write_metrics(run_dir, args, final, history, time.time() - start, None)
    writer.close()
    return metrics


if __name__ == "__main__":
    main(tyro.cli(Args, description=__doc__))
