"""Meta-gradient adaptive incentive design (MetaGrad, Yang et al. AAMAS 2022), batched, CleanRL style.

A central incentive designer (ID) pays self-interested policy-gradient agents a schedule over their
actions (Escape Room, Prisoner's Dilemma, Cleanup) or sets tax rates (tax economy). Per iteration:

1. the agents' incentivised returns on the current batch of episodes ``tau_k`` are written as a
   differentiable function of the designer's parameters ``eta`` (environment reward + incentive
   ``sigmoid(net_eta(s)) * cap`` for the action type taken; for taxes, the coin and utility
   recursion of the economy re-implemented in torch);
2. each agent takes one policy-gradient step ``theta_hat = theta - lr * grad L(theta, eta)``, built
   in-graph (``create_graph=True``), so ``theta_hat`` is a function of ``eta``;
3. a validation batch ``tau_hat`` is collected with ``theta_hat`` ("online cross-validation");
4. the designer ascends ``sum_i sum_t log pi_{theta_hat_i(eta)}(a_t | o_t) * G^ID_t`` on ``tau_hat``
   (``G^ID``: discounted welfare, incentives excluded), plus the pathwise term where the designer's
   own reward depends on ``eta`` directly (taxes); the L1 incentive cost is minimised by a separate
   Adam optimiser on ``tau_k`` (A's ``separate_cost_optimizer``) when the environment charges one;
5. ``theta <- theta_hat``, ``tau_{k+1} <- tau_hat``.

Deviations from A's code (``011235813/metagradient-incentive-design``):
* many episodes per iteration (``--num-envs``, the batched API) instead of one, so far fewer
  iterations and larger learning rates than A's (lr_actor 9.56e-5, 100k episodes);
* the incentive is a schedule over each agent's own action type chosen from the designer's
  observation (the environments' timing), not an MLP of (state, joint action);
* REINFORCE with a per-time-step batch-mean baseline for both levels; in Cleanup too (A uses
  actor-critic agents and a PPO-style designer with a critic there);
* taxes: the designer's gradient adds the pathwise derivative of productivity x equality w.r.t.
  the rates (A's GTB designer reward is also a function of the taxes; A uses PPO there);
* ``--designer none`` trains the same agents with no incentives (zero schedule; free market for taxes).

Options beyond A (defaults are A's choices):
* ``--incentive-head clipped_linear``: ``clip(z, 0, 1) * cap`` with the L1 cost on ``max(z, 0)``
  instead of ``sigmoid(z) * cap``. With the sigmoid, an entry that the meta-gradient saturated at
  the cap gives the cost optimiser no gradient, so the designer keeps paying the cap.
* ``--agent-optimizer adam``: the agents' differentiable step is an Adam step (``DifferentiableAdam``)
  instead of SGD. Softmax policy-gradient learners that have saturated barely move under SGD when
  the incentives change (their gradient scales with the probability of the rare action), so a
  designer that removes an incentive is not punished; Adam's normalised step, with an entropy
  bonus, keeps them responsive.
* ``--designer-lr-final`` / ``--cost-lr-final``: linearly decaying designer and cost step sizes (A's are
  constant). In Escape Room the designer with constant steps cycles around the lever agents' threshold
  (the cost lowers the lever incentive until the lagging agents leave, the meta-gradient then raises it to
  the cap), so the final schedule is a snapshot of the cycle; a decaying step lets it settle.
* ``--announce-rates`` / ``--designer-noise`` / ``--designer-noise-final`` (taxes): the agents observe the
  proposed rates (the planner commits first, as in the Stackelberg game that defines TaxLite's t*), and
  the designer samples its rate logits from a Gaussian around its output (std annealed linearly),
  adding the score-function term of the samples to the m1 term (use it without the pathwise term).
  The samples then measure a rate's effect including the agents' learned response to it, which the
  one-step look-ahead and the pathwise derivative at fixed labour miss.

Scoring (``metrics.json`` ``final``): the final evaluation (greedy designer, sampled agent actions) as a
fraction of the exact optimum from ``contract_envs.solvers`` where one exists (Escape Room welfare and
designer return, TaxLite's productivity x equality over the continuous optimum 96.0 at t = 0.743, and over the
0.05 grid's 93.0 at t* = 0.75), and an equilibrium check of the final schedule against
*exact* best responses: every agent's best response to the others' learned policies by backward induction
over the episode (``escape_room_best_responses``, ``pd_best_responses``, ``taxlite_best_responses``), for
the sampled (stochastic) policies and for their greedy versions. A positive ``br_gain_*`` means the agent
is not paid enough for what it does: the learners' play is not an equilibrium of the final schedule.
``history`` holds the validation batches' metrics every ``--log-every`` iterations (``step`` = iteration).

Results over held-out seeds, against the same agents without a designer: ``docs/results/incentives_metagrad.md``
(``benchmarks/reproduce_incentives.py``, which also lists the tuned hyperparameters).

Fastest meaningful command (ER(3,2), the reproduction's hyperparameters, about 20 s on 2 cores; the door opens and
the final schedule is checked against exact best responses)::

    PYTHONPATH=. python baselines/metagrad_incentives.py --env-id contract_envs/escape_room-v1 \
        --env-kwargs '{"n_agents": 3, "min_at_lever": 2}' --num-iterations 1000 --agent-optimizer adam \
        --agent-lr 3e-3 --designer-hidden --incentive-head clipped_linear --entropy-coef 0.2 \
        --designer-lr-final 1e-4 --cost-lr-final 1e-5

Evaluate a saved model again: ``--save-model`` writes ``runs/<run>/model.pt``; ``--eval-checkpoint
runs/<run>/model.pt`` reloads it and writes a new run folder with the evaluation.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn
import tyro
from torch.utils.tensorboard import SummaryWriter
from tqdm import trange

import contract_envs
import contract_envs.vector
from contract_envs.contracts import PRINCIPAL, ContractTerms
from contract_envs.solvers import (
    escape_room_best_designer_return,
    escape_room_best_responses,
    escape_room_max_welfare,
    escape_room_states,
    escape_room_sustains_optimum,
    pd_best_designer_return,
    pd_best_responses,
    pd_cooperation_dominant,
    taxlite_best_responses,
    taxlite_coin,
    taxlite_continuous_optimum,
    taxlite_equilibria,
    taxlite_solve,
)
from contract_envs.solvers.incentive_design import productivity_and_equality


@dataclass
class Args:
    exp_name: str = os.path.basename(__file__)[: -len(".py")]
    """the name of this experiment"""
    seed: int = 1
    """seed of the experiment (environments, agents and designer)"""
    torch_deterministic: bool = True
    """if toggled, `torch.backends.cudnn.deterministic=True`"""
    cuda: bool = False
    """if toggled, cuda is used when available (the batches are small: CPU is usually faster)"""
    track: bool = False
    """if toggled, this experiment is tracked with Weights and Biases"""
    wandb_project_name: str = "contract-envs"
    """the wandb project name"""
    wandb_entity: str | None = None
    """the entity (team) of wandb's project"""
    save_model: bool = False
    """whether to save the agents and the designer into `{runs_dir}/{run_name}/model.pt` (the evaluation reloads it)"""
    torch_threads: int = 1
    """torch intra-op threads (1: the batches are small and the benchmark machine has 2 shared cores)"""
    runs_dir: str = "runs"
    """folder of the run folders `{algorithm}__{env_name}__{seed}__{unix_time}` (TensorBoard, metrics.json, model.pt)"""
    eval_checkpoint: str | None = None
    """evaluate this `model.pt` only (its args replace the command line's, except evaluation options given
    explicitly: `--num-eval-episodes`, `--runs-dir`) and write the evaluation to a new run folder"""

    # environment
    env_id: str = "contract_envs/escape_room-v1"
    """escape_room-v1, prisoners_dilemma-v1, tax_economy-v1 or cleanup-v1 (contract_envs ids)"""
    env_kwargs: str = "{}"
    """JSON object of environment keyword arguments, e.g. '{"n_agents": 3, "min_at_lever": 2}'"""

    # algorithm
    designer: str = "metagrad"
    """`metagrad` (meta-gradient incentive designer) or `none` (agents learn without incentives)"""
    num_iterations: int = 400
    """outer iterations (one validation batch of `num_envs` episodes each)"""
    num_envs: int = 128
    """episodes per batch (environments stepped in lockstep)"""
    gamma: float = 0.99
    """discount of the agents' and the designer's returns"""
    agent_lr: float = 0.5
    """step size of the agents' (differentiable) policy-gradient step"""
    agent_optimizer: str = "sgd"
    """the agents' differentiable update: `sgd` (A's policy-gradient step) or `adam` (see `DifferentiableAdam`)"""
    entropy_coef: float = 0.0166
    """agents' entropy bonus beta (A's Escape Room value)"""
    agent_hidden: tuple[int, ...] = (64, 32)
    """hidden sizes of each agent's policy MLP (A: 64, 32); () = tabular-like linear policy"""
    designer_lr: float = 1e-2
    """Adam step size of the designer's meta-gradient update"""
    designer_hidden: tuple[int, ...] = (64, 16)
    """hidden sizes of the incentive function's MLP (A: 64, 16)"""
    designer_init_bias: float | None = None
    """initial bias of the incentive function's outputs (default: incentives start at cap / 2)"""
    incentive_head: str = "sigmoid"
    """`sigmoid` (A's sigmoid x cap) or `clipped_linear` (clip(z, 0, 1) x cap, L1 cost on max(z, 0)): see
    `IncentiveFunction`"""
    cost_lr: float = 1e-3
    """Adam step size of the separate incentive-cost optimiser (used when the environment charges alpha > 0)"""
    designer_lr_final: float | None = None
    """anneal the designer's step size linearly from `designer_lr` to this value over the run (default: constant,
    A's choice); a decaying step lets a designer that cycles around the agents' threshold settle"""
    cost_lr_final: float | None = None
    """anneal the cost optimiser's step size linearly from `cost_lr` to this value over the run (default: constant)"""
    separate_cost_optimizer: bool = True
    """minimise the L1 incentive cost with its own Adam (A's default); else add it to the meta loss"""
    reg_coeff: float = 1.0
    """weight of the cost in the meta loss when `separate_cost_optimizer` is off"""
    pathwise_designer_gradient: bool = True
    """taxes: add the direct derivative of productivity x equality w.r.t. the rates to the meta-gradient"""
    designer_noise: float = 0.0
    """taxes: std of Gaussian noise on the rate logits during training (the designer samples each episode's
    rates and adds the score-function term of the samples to its meta-gradient); 0 = deterministic rates"""
    designer_noise_final: float | None = None
    """taxes: anneal the noise std linearly from `designer_noise` to this value over the run (default: constant);
    the evaluation uses the designer's output without noise"""
    announce_rates: bool = False
    """taxes: the agents observe the rates proposed for the current step (the planner commits first, as in the
    Stackelberg game whose equilibrium is t*), so their response to each rate is learned"""
    num_eval_episodes: int = 256
    """episodes of the final evaluation (greedy designer schedule, sampled agent actions)"""
    log_every: int = 10
    """TensorBoard logging interval (iterations)"""


# ----------------------------------------------------------------------------- agents
def init_agent_params(
    n_agents: int, in_dim: int, hidden: tuple[int, ...], n_actions: int, generator: torch.Generator
) -> list[torch.Tensor]:
    """Weights of ``n_agents`` independent MLP policies stacked on a leading agent axis: [W1, b1, W2, b2, ...]."""
    sizes = [in_dim, *hidden, n_actions]
    params = []
    for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        gain = 0.01 if layer == len(sizes) - 2 else math.sqrt(2.0)  # near-uniform initial policies
        weight = torch.randn(n_agents, fan_in, fan_out, generator=generator) * gain / math.sqrt(fan_in)
        params += [weight.requires_grad_(), torch.zeros(n_agents, fan_out, requires_grad=True)]
    return params


def agent_logits(params: list[torch.Tensor], obs: torch.Tensor) -> torch.Tensor:
    """Logits ``[..., N, A]`` of every agent's policy on its observation ``[..., N, in]``."""
    x = obs
    for layer in range(0, len(params), 2):
        x = torch.einsum("...ni,nio->...no", x, params[layer]) + params[layer + 1]
        if layer + 2 < len(params):
            x = torch.tanh(x)
    return x


def discounted_returns(rewards: torch.Tensor, mask: torch.Tensor, gamma: float) -> torch.Tensor:
    """``G_t = r_t + gamma G_{t+1}`` along the time axis 0; ``mask`` [T, B] zeroes the steps after an episode ends."""
    mask = mask.reshape(mask.shape + (1,) * (rewards.dim() - mask.dim()))
    out, running = [], torch.zeros_like(rewards[0])
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = rewards[t] * mask[t] + gamma * running * mask[t]
        out.append(running)
    return torch.stack(out[::-1])


def weighted_mean(x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean over the batch axis 1 of ``x`` [T, B, ...] with episode weights ``[B]`` summing to 1."""
    return torch.einsum("tb...,b->t...", x, weights)


def agent_pg_loss(
    params: list[torch.Tensor],
    obs: torch.Tensor,
    actions: torch.Tensor,
    mask: torch.Tensor,
    weights: torch.Tensor,
    rewards: torch.Tensor,
    gamma: float,
    entropy_coef: float,
) -> torch.Tensor:
    """Sum over agents of ``-sum_t log pi_i(a_t|o_t) (G_t - b_t) - beta H`` averaged over episodes.

    ``rewards`` [T, B, N] are the incentivised rewards (a function of the designer's parameters);
    the baseline ``b_t`` is the batch mean of ``G_t``. Each agent's parameters enter only its own term.
    """
    logp_all = torch.log_softmax(agent_logits(params, obs), dim=-1)
    logp = logp_all.gather(-1, actions.unsqueeze(-1)).squeeze(-1)  # [T, B, N]
    entropy = -(logp_all.exp() * logp_all).sum(-1)
    returns = discounted_returns(rewards, mask, gamma)
    advantage = returns - weighted_mean(returns, weights).unsqueeze(1)
    m = mask.unsqueeze(-1)
    per_episode = ((logp * advantage + entropy_coef * entropy) * m).sum(0)  # [B, N]
    return -torch.einsum("bn,b->", per_episode, weights)


def inner_update(params: list[torch.Tensor], loss: torch.Tensor, lr: float, create_graph: bool) -> list[torch.Tensor]:
    """One SGD step ``theta - lr * grad``; with ``create_graph`` the result is differentiable in the loss's inputs."""
    grads = torch.autograd.grad(loss, params, create_graph=create_graph)
    return [p - lr * g for p, g in zip(params, grads, strict=True)]


class DifferentiableAdam:
    """Adam steps for the agents whose result stays a function of the current gradient (hence of eta).

    The moment estimates from earlier iterations are constants (detached); the current gradient
    enters ``m``, ``v`` and the step in-graph. A saturated softmax policy has tiny policy gradients;
    plain SGD then barely moves it when the incentives change, whereas Adam's normalised step keeps
    the agents responsive (their entropy bonus pulls them back from saturation at a steady rate and
    the sampled deviations push them to the current best response).
    """

    def __init__(
        self, params: list[torch.Tensor], lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
    ):
        self.lr, self.betas, self.eps, self.steps = lr, betas, eps, 0
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    def step(self, params: list[torch.Tensor], loss: torch.Tensor, create_graph: bool) -> list[torch.Tensor]:
        grads = torch.autograd.grad(loss, params, create_graph=create_graph)
        b1, b2 = self.betas
        self.steps += 1
        out, self.m, self.v = [], [m for m in self.m], [v for v in self.v]
        for k, (p, g) in enumerate(zip(params, grads, strict=True)):
            m = b1 * self.m[k] + (1 - b1) * g
            v = b2 * self.v[k] + (1 - b2) * g * g
            m_hat, v_hat = m / (1 - b1**self.steps), v / (1 - b2**self.steps)
            # clamp: the square root's derivative is infinite at 0 (parameters with no gradient, e.g. zero inputs)
            out.append(p - self.lr * m_hat / (v_hat.clamp_min(1e-30).sqrt() + self.eps))
            self.m[k], self.v[k] = m.detach(), v.detach()
        return out


def designer_pg_loss(
    params_hat: list[torch.Tensor],
    obs: torch.Tensor,
    actions: torch.Tensor,
    mask: torch.Tensor,
    weights: torch.Tensor,
    designer_rewards: torch.Tensor,
    gamma: float,
) -> torch.Tensor:
    """``-sum_i sum_t log pi_{theta_hat_i}(a_t|o_t) (G^ID_t - b_t)`` on the validation batch (A's m1 ID loss)."""
    logp_all = torch.log_softmax(agent_logits(params_hat, obs), dim=-1)
    logp = logp_all.gather(-1, actions.unsqueeze(-1)).squeeze(-1).sum(-1)  # [T, B]
    returns = discounted_returns(designer_rewards, mask, gamma)
    advantage = (returns - weighted_mean(returns, weights).unsqueeze(1)).detach()
    return -torch.einsum("b,b->", (logp * advantage * mask).sum(0), weights)


# ----------------------------------------------------------------------------- designer
class IncentiveFunction(nn.Module):
    """An MLP of the designer's observation whose outputs, mapped into ``[0, cap]``, are the schedule (or tax rates).

    ``head`` maps the output ``z`` into the unit interval:

    * ``sigmoid`` (A's ``sigmoid x r_multiplier``): ``u = sigmoid(z)``. Once the meta-gradient has pushed
      an entry into saturation, ``du/dz`` vanishes for the cost optimiser as well, so a saturated entry
      stays at the cap (the designer keeps paying ``cap`` where ``1 + epsilon`` would do).
    * ``clipped_linear``: ``u = clip(z, 0, 1)``. The paid amount is flat beyond the cap, so the
      meta-gradient cannot push ``z`` far past it, and the L1 cost is taken on ``max(z, 0)``, whose
      gradient is 1 at every positive value: the cost keeps lowering an entry until the agents'
      response (through the meta-gradient) holds it up. The lower clip passes the meta-gradient
      straight through, so an entry that the cost drove to 0 can come back when welfare needs it.
    """

    HEADS = ("sigmoid", "clipped_linear")

    def __init__(
        self,
        in_dim: int,
        out_shape: tuple[int, ...],
        cap: float,
        hidden: tuple[int, ...],
        init_bias: float | None = None,
        head: str = "sigmoid",
    ):
        super().__init__()
        if head not in self.HEADS:
            raise ValueError(f"incentive head must be one of {self.HEADS}, got {head!r}")
        if init_bias is None:  # both heads start at cap / 2
            init_bias = 0.0 if head == "sigmoid" else 0.5
        sizes, layers = [in_dim, *hidden], []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
        out = nn.Linear(sizes[-1], int(np.prod(out_shape)))
        nn.init.normal_(out.weight, std=0.01)
        nn.init.constant_(out.bias, init_bias)
        self.net = nn.Sequential(*layers, out)
        self.out_shape, self.cap, self.head = tuple(out_shape), float(cap), head

    def _z(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs).reshape(*obs.shape[:-1], *self.out_shape)

    def unit(self, obs: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """The unit outputs in [0, 1] that are paid (times ``cap``); ``noise`` is added to ``z`` (sampled rates)."""
        z = self._z(obs) if noise is None else self._z(obs) + noise
        if self.head == "sigmoid":
            return torch.sigmoid(z)
        lower = z + (z.clamp(min=0.0) - z).detach()  # forward max(z, 0), gradient 1 (straight through)
        return lower.clamp(max=1.0)

    def cost_units(self, obs: torch.Tensor) -> torch.Tensor:
        """What A's L1 cost is taken on (every output, paid or not): ``sigmoid(z)``, or ``max(z, 0)``."""
        z = self._z(obs)
        return torch.sigmoid(z) if self.head == "sigmoid" else z.clamp(min=0.0)

    def forward(self, obs: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        return self.unit(obs, noise) * self.cap

    def noise_score_loss(
        self, obs: torch.Tensor, noise: torch.Tensor, sigma: float, advantage: torch.Tensor
    ) -> torch.Tensor:
        """``-advantage * log N(z + noise; z, sigma^2)`` summed over outputs: the score-function (REINFORCE)
        term of a designer that samples its outputs around ``z`` (``advantage`` [T, B], detached)."""
        z = self._z(obs).flatten(2)
        score = (z * (noise.flatten(2) / sigma**2)).sum(-1)  # d/dz log N(z + noise; z, sigma^2) = noise / sigma^2
        return -(score * advantage).sum(0).mean()


# ----------------------------------------------------------------------------- environments
class Problem:
    """What the algorithm needs from an incentive-design environment, on the batched API (a stage machine).

    An environment whose episode ends before the others' is restarted (``reset(env_idx=...)``); its later steps
    in the batch are masked out (``alive``)."""

    def __init__(
        self,
        env_id: str,
        num_envs: int,
        seed: int,
        env_kwargs: dict,
        announce_rates: bool = False,
        designer_noise: float = 0.0,
    ):
        self.env = contract_envs.vector.make(env_id, num_envs, seed=seed, autoreset=False, **env_kwargs)
        self.env_id, self.env_kwargs = env_id, dict(env_kwargs)
        self.game = g = self.env.game
        terms = g.principal
        if terms is None:
            raise ValueError(
                f"{env_id} with {env_kwargs} has no designer (incentives='none'/'peer'); "
                "use incentives='per_action' or 'per_agent' (or --designer none)"
            )
        self.name, self.num_envs, self.n_agents, self.n_actions = g.name, num_envs, g.n_agents, g.n_actions
        self.horizon = int(g.horizon)
        self.is_tax = g.name == "tax_economy"
        # the designer's largest entry: a payment cap, or the tax planner's highest rate (a PolicyTerms)
        self.cap = float(terms.payment_cap if isinstance(terms, ContractTerms) else terms.high)
        self.schedule_shape = terms.shape
        self.alpha = 0.0 if self.is_tax else float(getattr(g, "incentive_cost", 1.0))
        self.agent_scale = self._scale(g.agent_observation_space)
        self.designer_scale = self._scale(g.principal_observation_space)
        self.agent_obs_dim = int(np.prod(g.agent_observation_space.shape))
        self.designer_obs_dim = int(np.prod(g.principal_observation_space.shape))
        if (announce_rates or designer_noise) and not self.is_tax:
            raise ValueError("--announce-rates and --designer-noise apply to tax_economy-v1 only")
        if designer_noise < 0:
            raise ValueError(f"--designer-noise must be >= 0, got {designer_noise}")
        self.announce_rates, self.designer_noise = bool(announce_rates), float(designer_noise)
        if self.announce_rates:
            self.agent_obs_dim += int(np.prod(self.schedule_shape))

    @staticmethod
    def _scale(space) -> np.ndarray:
        high = np.asarray(space.high, dtype=np.float64).reshape(-1)
        return np.where(np.isfinite(high) & (high > 0), 1.0 / np.where(high > 0, high, 1.0), 1.0).astype(np.float32)

    def observe(self, obs: dict, rows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Scaled agent observations ``[B, N, in]`` and designer observations ``[B, in]`` (``rows`` = B)."""
        b = self.num_envs if rows is None else rows
        agents = np.stack([obs[a].reshape(b, -1) for a in self.env.agents], axis=1) * self.agent_scale
        return agents.astype(np.float32), (obs[PRINCIPAL].reshape(b, -1) * self.designer_scale)

    def rollout(
        self,
        params: list[torch.Tensor],
        designer: IncentiveFunction | None,
        generator: torch.Generator,
        sample_designer: bool = True,
    ) -> dict[str, np.ndarray]:
        """One batch of complete episodes (time-major arrays ``[T, B, ...]``) with fixed policies.

        With ``designer_noise > 0`` and ``sample_designer`` the tax rates are sampled around the designer's
        output (training); otherwise they are its output (evaluation)."""
        env, b, n, horizon = self.env, self.num_envs, self.n_agents, self.horizon
        obs, _ = env.reset()
        keys = (
            "agent_obs",
            "designer_obs",
            "actions",
            "env_reward",
            "agent_reward",
            "paid",
            "outcome",
            "alive",
            "designer_reward",
            "welfare",
            "schedule",
            "extra",
            "noise",
        )
        out: dict[str, list] = {k: [] for k in keys}
        done = np.zeros(b, dtype=bool)
        for _ in range(horizon):
            agent_obs, designer_obs = self.observe(obs)
            with torch.no_grad():
                noise = torch.zeros((b, *self.schedule_shape))
                if designer is None:
                    schedule = np.zeros((b, *self.schedule_shape))
                else:
                    if self.designer_noise > 0 and sample_designer:
                        noise = torch.randn((b, *self.schedule_shape), generator=generator) * self.designer_noise
                    schedule = designer(torch.as_tensor(designer_obs, dtype=torch.float32), noise).double().numpy()
                schedule = np.clip(schedule, 0.0, self.cap)
                if self.announce_rates:  # the agents see the rates proposed for this step
                    agent_obs = np.concatenate(
                        [
                            agent_obs,
                            np.broadcast_to(schedule.reshape(b, 1, -1), (b, n, schedule[0].size)).astype(np.float32),
                        ],
                        axis=2,
                    )
                logits = agent_logits(params, torch.as_tensor(agent_obs, dtype=torch.float32))
                actions = torch.multinomial(torch.softmax(logits, -1).reshape(b * n, -1), 1, generator=generator)
                actions = actions.reshape(b, n).numpy()
            step = {a: actions[:, i] for i, a in enumerate(env.agents)}
            step[PRINCIPAL] = schedule
            obs, rewards, terms, truncs, infos = env.step(step)
            finished = terms[PRINCIPAL] | truncs[PRINCIPAL]
            own = np.stack([infos[a]["own_reward"] for a in env.agents], axis=1)
            out["agent_obs"].append(agent_obs)
            out["designer_obs"].append(designer_obs.astype(np.float32))
            out["actions"].append(actions)
            out["env_reward"].append(own)
            out["agent_reward"].append(np.stack([rewards[a] for a in env.agents], axis=1))
            out["paid"].append(np.stack([infos[a]["payment"] for a in env.agents], axis=1))
            out["outcome"].append(self.outcomes(actions, infos))
            out["alive"].append(~done)
            out["designer_reward"].append(rewards[PRINCIPAL].copy())
            out["welfare"].append(own.sum(axis=1))
            out["schedule"].append(schedule)
            out["extra"].append(self.extra(infos))
            out["noise"].append(noise.numpy())
            done = done | finished
            if done.all():
                break
            if finished.any() and not env.autoreset:  # restart ended episodes; their later steps are masked out
                obs, _ = env.reset(env_idx=np.flatnonzero(finished))
        return {k: np.stack(v) for k, v in out.items()}

    def outcomes(self, actions: np.ndarray, infos: dict) -> np.ndarray:
        """Index of the schedule entry each agent was paid on: its realised outcome (the action; Cleanup: clean /
        apple / other). Taxes have no outcome-contingent payment: the labour choices stand in."""
        if self.is_tax:
            return actions
        return np.stack([infos[a]["outcome"] for a in self.env.agents], axis=1)

    def extra(self, infos: dict) -> np.ndarray:
        """Per-env numbers logged per step: Cleanup waste cleaned; tax productivity x equality."""
        if self.name == "cleanup":
            return sum(infos[a]["cleaned"] for a in self.env.agents)
        if self.is_tax:
            return infos[PRINCIPAL]["equality_times_productivity"]
        return np.zeros(self.num_envs)

    # ---- differentiable rewards
    def incentivised_rewards(
        self, batch: dict[str, torch.Tensor], designer: IncentiveFunction | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(agents' rewards [T, B, N], designer's own reward [T, B] if it depends on eta) as functions of eta."""
        if designer is None:
            return batch["agent_reward"], None
        if self.is_tax:
            return self._tax_rewards(batch, designer(batch["designer_obs"], batch.get("noise")))
        schedule = designer(batch["designer_obs"])  # [T, B, O] or [T, B, N, O]
        if schedule.dim() == 3:
            schedule = schedule.unsqueeze(2).expand(-1, -1, self.n_agents, -1)
        incentive = schedule.gather(-1, batch["outcome"].unsqueeze(-1)).squeeze(-1)
        return batch["env_reward"] + incentive, None

    def _tax_rewards(
        self, batch: dict[str, torch.Tensor], rates_proposed: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The tax economy's coin / utility recursion (``TaxEconomyGame``) in torch, differentiable in the rates."""
        g = self.game
        skills = torch.as_tensor(g.skills, dtype=torch.float64)
        cutoffs = torch.as_tensor(g.cutoffs, dtype=torch.float64)
        upper = torch.cat([cutoffs[1:], torch.tensor([float("inf")], dtype=torch.float64)])
        labour = batch["actions"].double()
        steps, b, n = labour.shape
        coin = torch.full((b, n), g.starting_coin, dtype=torch.float64)
        period_income = torch.zeros(b, n, dtype=torch.float64)
        labour_total = torch.zeros(b, n, dtype=torch.float64)
        rates = torch.zeros(b, len(g.cutoffs), dtype=torch.float64)
        prev_u, prev_w, agent_r, designer_r = None, None, [], []
        for t in range(steps):
            if t % g.period == 0:
                rates = rates_proposed[t].double()
            income = skills * labour[t]
            period_income = period_income + income
            labour_total = labour_total + labour[t]
            if (t + 1) % g.period == 0 or t + 1 >= g.horizon:
                due = (
                    torch.clamp(period_income.unsqueeze(-1) - cutoffs, min=0.0).minimum(upper - cutoffs)
                    * rates.unsqueeze(1)
                ).sum(-1)
                tax = torch.minimum(coin + income, due)
                coin = coin + income - tax + tax.sum(1, keepdim=True) / n
                period_income = torch.zeros_like(period_income)
            else:
                coin = coin + income
            utility = (coin.clamp_min(1e-8) ** (1.0 - g.eta) - 1.0) / (1.0 - g.eta) - g.labour_cost * labour_total
            total = coin.sum(1)
            pair = (coin.unsqueeze(2) - coin.unsqueeze(1)).abs().sum((1, 2))
            equality = 1.0 - torch.where(total > 0, pair / (2.0 * n * total.clamp_min(1e-12)), 0.0) * n / (n - 1)
            objective = total * equality
            agent_r.append(utility if prev_u is None else utility - prev_u)
            designer_r.append(objective if prev_w is None else objective - prev_w)
            prev_u, prev_w = utility, objective
        return torch.stack(agent_r).float(), torch.stack(designer_r).float()


def annealed(start: float, final: float | None, frac: float) -> float:
    """Linear schedule from ``start`` to ``final`` as ``frac`` goes from 0 to 1 (``final=None``: constant)."""
    return start if final is None else start + frac * (final - start)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def to_torch(batch: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    out = {}
    for k, v in batch.items():
        dtype = torch.long if k in ("actions", "outcome") else torch.float32
        out[k] = torch.as_tensor(v, dtype=dtype)
    return out


ACTION_NAMES = {
    "escape_room": ("lever", "start", "door"),
    "prisoners_dilemma": ("C", "D"),
    "cleanup": ("clean", "apple", "other"),
}
PD_STATES = ("CC", "CD", "DC", "DD", "start")  # previous joint action 2 a0 + a1 (C = 0, D = 1), then the start


def batch_metrics(problem: Problem, batch: dict[str, np.ndarray]) -> dict[str, float]:
    """Per-episode means of a batch (all floats): welfare, incentives paid, designer return, env-specific ones."""
    alive = batch["alive"]
    welfare = (batch["welfare"] * alive).sum(0)
    m = {"welfare": float(welfare.mean()), "episode_length": float(alive.sum(0).mean())}
    if problem.is_tax:
        final = batch["extra"][-1]
        rates = batch["schedule"][:: problem.game.period].reshape(-1, batch["schedule"].shape[-1])
        m.update(equality_times_productivity=float(final.mean()), designer_return=float(final.mean()))
        m.update({f"tax_rate_{k}": float(x) for k, x in enumerate(rates.mean(0))})
        m.update({f"labour_agent_{i}": float(x) for i, x in enumerate(batch["actions"].mean(axis=(0, 1)))})
        return m
    paid = (batch["paid"].sum(-1) * alive).sum(0)
    m.update(incentives_paid=float(paid.mean()), designer_return=float((welfare - problem.alpha * paid).mean()))
    acts, first = batch["actions"], batch["schedule"][0].reshape(problem.num_envs, -1, batch["schedule"].shape[-1])
    names = ACTION_NAMES.get(problem.name, tuple(str(k) for k in range(first.shape[-1])))
    m.update({f"schedule_at_start_{a}": float(x) for a, x in zip(names, first.mean(axis=(0, 1)), strict=True)})
    if problem.name == "escape_room":
        m["lever_per_episode"] = float(((acts == 0).sum(-1) * alive).sum(0).mean())
        m["door_per_episode"] = float(((acts == 2).sum(-1) * alive).sum(0).mean())
        m["door_opened"] = float((((acts == 0).sum(-1) >= problem.game.min_at_lever) & alive).any(0).mean())
    elif problem.name == "prisoners_dilemma":
        m["cooperation"] = float((acts == 0).mean())
        sched = batch["schedule"].reshape(-1, batch["schedule"].shape[-1])
        m["tau_C_minus_tau_D"] = float((sched[:, 0] - sched[:, 1]).mean())
        # the schedule depends on the previous joint action: the gap in each visited state shows whether the
        # designer also rewards through the future (lower pay after a defection) or per step only
        gaps = batch["schedule"][..., 0] - batch["schedule"][..., 1]  # [T, B] (or [T, B, N] per agent)
        gaps = gaps.reshape(*gaps.shape[:2], -1).mean(-1)
        states = np.concatenate([np.full((1, acts.shape[1]), 4), 2 * acts[:-1, :, 0] + acts[:-1, :, 1]])
        m.update(
            {
                f"tau_gap_visited_{PD_STATES[k]}": float(gaps[states == k].mean())
                for k in range(5)
                if (states == k).any()
            }
        )
    elif problem.name == "cleanup":
        m["waste_cleaned"] = float((batch["extra"] * alive).sum(0).mean())
        m["clean_actions"] = float(((acts == 5).sum(-1) * alive).sum(0).mean())
    return m


# ----------------------------------------------------------------------------- exact scoring
def decision_state_tables(
    problem: Problem, params: list[torch.Tensor], designer: IncentiveFunction | None
) -> tuple[np.ndarray, np.ndarray]:
    """The agents' action probabilities ``[S, N, A]`` and the designer's schedule ``[S, *shape]`` on every state
    the exact solvers enumerate: Escape Room ``escape_room_states`` (after each joint action, then the start),
    the PD's previous joint actions then the start, TaxLite's single state. Each state is reached by playing its
    joint action from the start in a batched environment, so the observations are the environment's own."""
    g = problem.game
    profiles = {"escape_room": escape_room_states(g.n_agents)[0][:-1], "prisoners_dilemma": PD_PROFILES}.get(g.name)
    env = contract_envs.vector.make(
        problem.env_id, 1 if profiles is None else len(profiles), seed=0, autoreset=False, **problem.env_kwargs
    )
    start_obs, _ = env.reset()
    observed = [start_obs]
    if profiles is not None:
        step = {a: profiles[:, i] for i, a in enumerate(env.agents)}
        step[PRINCIPAL] = np.zeros((len(profiles), *problem.schedule_shape))
        observed.insert(0, env.step(step)[0])  # the states after each joint action come first, the start last
    agent_obs, designer_obs = [], []
    for obs in observed:
        rows = len(obs[PRINCIPAL]) if profiles is None or obs is not start_obs else 1
        a, d = problem.observe({k: v[:rows] for k, v in obs.items()}, rows)
        agent_obs.append(a)
        designer_obs.append(d)
    agent_obs, designer_obs = np.concatenate(agent_obs), np.concatenate(designer_obs)
    with torch.no_grad():
        if designer is None:
            schedule = np.zeros((len(designer_obs), *problem.schedule_shape))
        else:
            schedule = designer(torch.as_tensor(designer_obs, dtype=torch.float32)).double().numpy()
        schedule = np.clip(schedule, 0.0, problem.cap)
        if problem.announce_rates:
            announced = np.broadcast_to(
                schedule.reshape(len(schedule), 1, -1), (*agent_obs.shape[:2], schedule[0].size)
            )
            agent_obs = np.concatenate([agent_obs, announced.astype(np.float32)], axis=2)
        logits = agent_logits(params, torch.as_tensor(agent_obs, dtype=torch.float32))
        probs = torch.softmax(logits.double(), -1).numpy()
    return probs / probs.sum(-1, keepdims=True), schedule


PD_PROFILES = np.array([[j // 2, j % 2] for j in range(4)])  # joint action 2 a0 + a1 -> (a0, a1)


def greedy(probs: np.ndarray) -> np.ndarray:
    """The deterministic policies that take each state's most likely action."""
    return np.eye(probs.shape[-1])[probs.argmax(-1)]


def best_response_metrics(prefix: str, check) -> dict[str, float]:
    m = {f"{prefix}gain_max": float(check.gains.max()), f"{prefix}is_equilibrium": float(check.is_equilibrium(1e-6))}
    m.update({f"{prefix}gain_agent_{i}": float(x) for i, x in enumerate(check.gains)})
    return m


def exact_metrics(problem: Problem, params, designer, evaluation: dict[str, float], gamma: float) -> dict[str, float]:
    """Fractions of the exact optimum and equilibrium checks against exact best responses (``final``).

    ``br_*``: each agent's exact best response to the others' sampled policies (``br_gain_agent_i``: what it
    would gain by deviating, in its own discounted, incentivised return); ``greedy_br_*``: the same for the
    greedy policies, i.e. whether the deterministic profile the learners converge to is a Nash equilibrium of
    the episode with the final schedule."""
    g, m = problem.game, {}
    if problem.name == "escape_room":
        n, k = g.n_agents, g.min_at_lever
        best_welfare = escape_room_max_welfare(n, k, g.door_reward, g.move_cost)
        limit = escape_room_best_designer_return(n, k, problem.alpha, door_reward=g.door_reward, move_cost=g.move_cost)
        m["welfare_fraction_of_optimum"] = evaluation["welfare"] / best_welfare
        m["designer_return_fraction_of_limit"] = evaluation["designer_return"] / limit if limit > 0 else float("nan")
        if n > 6:
            return m
        probs, schedule = decision_state_tables(problem, params, designer)
        kwargs = dict(horizon=problem.horizon, discount=gamma, door_reward=g.door_reward, move_cost=g.move_cost)
        m.update(best_response_metrics("br_", escape_room_best_responses(n, k, probs, schedule, **kwargs)))
        m.update(
            best_response_metrics("greedy_br_", escape_room_best_responses(n, k, greedy(probs), schedule, **kwargs))
        )
        start_actions = probs[-1].argmax(-1)
        m["greedy_start_profile_optimal"] = float(
            (start_actions == 0).sum() == k and (start_actions == 2).sum() == n - k
        )
        if schedule.ndim == 2:  # per action type: the stage game's exact condition at the start
            m["stage_schedule_sustains_optimum"] = float(escape_room_sustains_optimum(n, k, schedule[-1]))
    elif problem.name == "prisoners_dilemma":
        payoffs = tuple(float(x) for x in g.payoff.reshape(-1))  # R, S, T, P
        r, _, _, p = payoffs
        m["welfare_normalised"] = (evaluation["welfare"] - 2 * p * problem.horizon) / (2 * (r - p) * problem.horizon)
        m["stage_optimum_designer_return"] = pd_best_designer_return(problem.alpha, payoffs) * problem.horizon
        probs, schedule = decision_state_tables(problem, params, designer)
        kwargs = dict(horizon=problem.horizon, discount=gamma, payoffs=payoffs)
        m.update(best_response_metrics("br_", pd_best_responses(probs, schedule, **kwargs)))
        m.update(best_response_metrics("greedy_br_", pd_best_responses(greedy(probs), schedule, **kwargs)))
        greedy_c = probs.argmax(-1) == 0  # [5, 2]
        m["greedy_cooperates_on_path"] = float(greedy_c[4].all() and greedy_c[0].all())
        gaps = schedule[..., 0] - schedule[..., 1]
        m.update({f"schedule_gap_{PD_STATES[s]}": float(np.mean(gaps[s])) for s in range(5)})
        if schedule.ndim == 2:
            m["stage_cooperation_dominant_at_start"] = float(pd_cooperation_dominant(*schedule[4], payoffs))
    elif problem.is_tax and g.tax_model == "flat" and problem.horizon == 1 and g.starting_coin == 0:
        params_solver = dict(skills=g.skills, max_labour=g.max_labour, labour_cost=g.labour_cost, eta=g.eta)
        solution = taxlite_solve(**params_solver)
        probs, schedule = decision_state_tables(problem, params, designer)
        rate = float(schedule.reshape(-1)[0])
        equilibria = taxlite_equilibria(rate, **params_solver)
        coin = taxlite_coin(equilibria, rate, g.skills)
        prod, equal = productivity_and_equality(coin)
        # the rate is continuous: the optimum over [0, 1] (96.0 at t = 0.743) is the reference; the 0.05 grid's
        # t* = 0.75 (93.0) is reported too
        best = taxlite_continuous_optimum(**params_solver, tol=1e-7).objective
        m["eq_x_prod_fraction_of_optimum"] = evaluation["equality_times_productivity"] / best
        m["eq_x_prod_fraction_of_grid_optimum"] = evaluation["equality_times_productivity"] / solution.best_objective
        m["rate_error"] = abs(rate - solution.best_rate)
        m["equilibrium_eq_x_prod_at_rate"] = float((prod * equal).max()) if len(equilibria) else float("nan")
        m["equilibrium_fraction_of_optimum"] = m["equilibrium_eq_x_prod_at_rate"] / best
        m.update(best_response_metrics("br_", taxlite_best_responses(rate, probs[0], **params_solver)))
        m.update(best_response_metrics("greedy_br_", taxlite_best_responses(rate, greedy(probs)[0], **params_solver)))
        m["greedy_labour_is_equilibrium_at_rate"] = float(any((probs[0].argmax(-1) == e).all() for e in equilibria))
    return m


def check_args(args: Args) -> dict:
    """Reject bad options before anything runs; returns the environment keyword arguments."""
    env_kwargs = json.loads(args.env_kwargs)
    if not isinstance(env_kwargs, dict):
        raise ValueError(f"--env-kwargs must be a JSON object, got {args.env_kwargs!r}")
    if args.designer_noise_final is not None and not (0 < args.designer_noise_final and args.designer_noise > 0):
        raise ValueError(
            f"--designer-noise-final needs --designer-noise > 0 and must be > 0, got {args.designer_noise_final}"
        )
    for name in ("designer_lr_final", "cost_lr_final"):
        value = getattr(args, name)
        if value is not None and not value > 0:
            raise ValueError(f"--{name.replace('_', '-')} must be > 0, got {value}")
    if args.agent_optimizer not in ("sgd", "adam"):
        raise ValueError(f"--agent-optimizer must be 'sgd' or 'adam', got {args.agent_optimizer!r}")
    if args.designer not in ("metagrad", "none"):
        raise ValueError(f"--designer must be 'metagrad' or 'none', got {args.designer!r}")
    return env_kwargs


# ----------------------------------------------------------------------------- run folder, metrics.json, model.pt
ALGORITHM = os.path.basename(__file__)[: -len(".py")]
EVAL_OPTIONS = ("num_eval_episodes", "runs_dir")  # options a checkpoint's args do not override


def make_run_dir(args: Args) -> str:
    """``{runs_dir}/{algorithm}__{env_name}__{seed}__{unix_time}`` (the next free second if taken)."""
    env_name = args.env_id.split("/")[-1].rsplit("-v", 1)[0]
    stamp = int(time.time())
    while os.path.exists(path := os.path.join(args.runs_dir, f"{ALGORITHM}__{env_name}__{args.seed}__{stamp}")):
        stamp += 1
    os.makedirs(path)
    return path


def write_metrics(run_dir: str, args: Args, env_kwargs: dict, final: dict, history: list, wall: float, evaluation):
    """``metrics.json`` in the contract-envs/metrics/v1 schema."""
    import platform

    metrics = {
        "schema": "contract-envs/metrics/v1",
        "algorithm": ALGORITHM,
        "env_id": args.env_id,
        "env_kwargs": env_kwargs,
        "seed": args.seed,
        "args": asdict(args),
        "final": {k: float(v) for k, v in final.items()},
        "history": history,
        "wall_clock_s": float(wall),
        "versions": {
            "contract_envs": contract_envs.__version__,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "torch": torch.__version__,
        },
        "eval": evaluation,
    }
    with open(os.path.join(run_dir, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
    return metrics


def main(args: Args) -> dict:
    if args.eval_checkpoint is not None:
        return evaluate_checkpoint(args)
    env_kwargs = check_args(args)
    run_dir = make_run_dir(args)
    run_name = os.path.basename(run_dir)
    if args.track:
        import wandb

        wandb.init(
            project=args.wandb_project_name,
            entity=args.wandb_entity,
            sync_tensorboard=True,
            config=vars(args),
            name=run_name,
            save_code=True,
        )
    writer = SummaryWriter(run_dir)
    table = "\n".join(f"|{k}|{v}|" for k, v in vars(args).items())
    writer.add_text("hyperparameters", "|param|value|\n|-|-|\n" + table)

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.backends.cudnn.deterministic = args.torch_deterministic
    torch.set_num_threads(args.torch_threads)
    generator = torch.Generator().manual_seed(args.seed)

    problem = Problem(args.env_id, args.num_envs, args.seed, env_kwargs, args.announce_rates, args.designer_noise)
    params = init_agent_params(problem.n_agents, problem.agent_obs_dim, args.agent_hidden, problem.n_actions, generator)
    designer = None
    if args.designer == "metagrad":
        designer = IncentiveFunction(
            problem.designer_obs_dim,
            problem.schedule_shape,
            problem.cap,
            args.designer_hidden,
            args.designer_init_bias,
            args.incentive_head,
        )
        meta_opt = torch.optim.Adam(designer.parameters(), lr=args.designer_lr)
        cost_opt = torch.optim.Adam(designer.parameters(), lr=args.cost_lr)
    uses_cost = designer is not None and problem.alpha > 0
    agent_adam = DifferentiableAdam(params, args.agent_lr) if args.agent_optimizer == "adam" else None

    start = time.time()
    batch_np = problem.rollout(params, designer, generator)  # tau_0 with theta
    history = []
    for it in trange(args.num_iterations, desc=run_name[:40], disable=None):
        batch = to_torch(batch_np)
        weights = torch.full((problem.num_envs,), 1.0 / problem.num_envs)
        # 1-2: the agents' differentiable policy-gradient step on the incentivised returns of tau_k
        rewards, _ = problem.incentivised_rewards(batch, designer)
        loss = agent_pg_loss(
            params,
            batch["agent_obs"],
            batch["actions"],
            batch["alive"],
            weights,
            rewards,
            args.gamma,
            args.entropy_coef,
        )
        if agent_adam is None:
            params_hat = inner_update(params, loss, args.agent_lr, create_graph=designer is not None)
        else:
            params_hat = agent_adam.step(params, loss, create_graph=designer is not None)
        frac = (it + 1) / args.num_iterations  # fraction of the run done after this iteration
        if designer is not None:  # annealed step sizes (constant unless a final value is given)
            set_lr(meta_opt, annealed(args.designer_lr, args.designer_lr_final, frac))
            set_lr(cost_opt, annealed(args.cost_lr, args.cost_lr_final, frac))
        if args.designer_noise_final is not None:  # annealed sampling noise of the rates
            problem.designer_noise = args.designer_noise + frac * (args.designer_noise_final - args.designer_noise)
        # 3: online cross-validation: a fresh batch with the updated policies
        val_np = problem.rollout([p.detach() for p in params_hat], designer, generator)
        if designer is not None:
            val = to_torch(val_np)
            # 4: meta-gradient of the designer's objective through theta_hat(eta)
            id_rewards = val["designer_reward"] if problem.is_tax else val["welfare"]
            meta_loss = designer_pg_loss(
                params_hat, val["agent_obs"], val["actions"], val["alive"], weights, id_rewards, args.gamma
            )
            # pathwise term: productivity x equality depends on the rates directly
            if problem.is_tax and args.pathwise_designer_gradient:
                _, direct = problem.incentivised_rewards(val, designer)
                meta_loss = meta_loss - (discounted_returns(direct, val["alive"], args.gamma)[0]).mean()
            # sampled rates: the score-function term of the samples (what the rates did, the agents' response included)
            if problem.designer_noise > 0:
                returns = discounted_returns(id_rewards, val["alive"], args.gamma)
                advantage = returns - weighted_mean(returns, weights).unsqueeze(1)
                steps = torch.arange(returns.shape[0])
                sets_rates = (steps % problem.game.period == 0).float().unsqueeze(1)  # rates are set at these steps
                meta_loss = meta_loss + designer.noise_score_loss(
                    val["designer_obs"],
                    val["noise"],
                    problem.designer_noise,
                    (advantage * val["alive"] * sets_rates).detach(),
                )
            cost = None
            if uses_cost:  # A's L1 on every sigmoid output along tau_k, discounted, times alpha
                discount = args.gamma ** torch.arange(batch["alive"].shape[0], dtype=torch.float32)
                unit = designer.cost_units(batch["designer_obs"]).flatten(2).sum(-1)  # [T, B]
                cost = problem.alpha * ((unit * batch["alive"]).T @ discount).mean()
                if not args.separate_cost_optimizer:
                    meta_loss = meta_loss + args.reg_coeff * cost
            meta_opt.zero_grad()
            meta_loss.backward()
            meta_opt.step()
            if cost is not None and args.separate_cost_optimizer:
                units = designer.cost_units(batch["designer_obs"]).flatten(2).sum(-1)
                cost = problem.alpha * ((units * batch["alive"]).T @ discount).mean()
                cost_opt.zero_grad()
                cost.backward()
                cost_opt.step()
        # 5: theta <- theta_hat; tau_{k+1} <- tau_hat
        params = [p.detach().requires_grad_() for p in params_hat]
        batch_np = val_np
        if it % args.log_every == 0 or it == args.num_iterations - 1:
            m = batch_metrics(problem, val_np)
            m["episodes"] = float((it + 2) * problem.num_envs)
            if designer is not None:
                m["designer_lr"], m["cost_lr"] = meta_opt.param_groups[0]["lr"], cost_opt.param_groups[0]["lr"]
            history.append({"step": it, **m})
            for k, v in m.items():
                writer.add_scalar(f"train/{k}", v, it)
    train_seconds = time.time() - start

    if args.save_model:
        model_path = os.path.join(run_dir, "model.pt")
        torch.save({"args": asdict(args), "state_dicts": state_dicts(params, designer)}, model_path)
        print(f"model saved to {model_path}")
        params, designer = load_checkpoint(model_path)[1:]  # the evaluation uses the reloaded model
    final = evaluate(args, env_kwargs, params, designer)
    final["train_seconds"] = train_seconds
    final["episodes"] = float((args.num_iterations + 1) * args.num_envs)
    for k, v in final.items():
        writer.add_scalar(f"eval/{k}", v, args.num_iterations)
    metrics = write_metrics(run_dir, args, env_kwargs, final, history, time.time() - start, None)
    writer.close()
    print(json.dumps({"run_dir": run_dir, "final": metrics["final"]}))
    return metrics


def state_dicts(params: list[torch.Tensor], designer: IncentiveFunction | None) -> dict:
    """The agents' stacked policy weights and the designer's parameters (``{}`` without a designer)."""
    return {
        "agents": {str(k): p.detach().clone() for k, p in enumerate(params)},
        "designer": {} if designer is None else designer.state_dict(),
    }


def load_checkpoint(path: str) -> tuple[Args, list[torch.Tensor], IncentiveFunction | None]:
    """Rebuild the run's Args, the agents' weights and the designer from a ``model.pt``."""
    saved = torch.load(path, weights_only=False)
    args = Args(**{k: tuple(v) if isinstance(v, list) else v for k, v in saved["args"].items()})
    agents = saved["state_dicts"]["agents"]
    params = [agents[str(k)] for k in range(len(agents))]
    designer = None
    if saved["state_dicts"]["designer"]:
        problem = Problem(args.env_id, 1, args.seed, json.loads(args.env_kwargs), args.announce_rates)
        designer = IncentiveFunction(
            problem.designer_obs_dim,
            problem.schedule_shape,
            problem.cap,
            args.designer_hidden,
            args.designer_init_bias,
            args.incentive_head,
        )
        designer.load_state_dict(saved["state_dicts"]["designer"])
    return args, params, designer


def evaluate(args: Args, env_kwargs: dict, params: list[torch.Tensor], designer) -> dict[str, float]:
    """The final evaluation (greedy schedule, sampled agent actions, fresh seeds) plus the exact scores."""
    problem = Problem(args.env_id, args.num_eval_episodes, args.seed + 1_000_000, env_kwargs, args.announce_rates)
    batch = problem.rollout([p.detach() for p in params], designer, torch.Generator().manual_seed(args.seed + 1))
    evaluation = batch_metrics(problem, batch)
    return {**evaluation, **exact_metrics(problem, params, designer, evaluation, args.gamma)}


def evaluate_checkpoint(cli: Args) -> dict:
    """``--eval-checkpoint``: evaluate a saved model and write ``metrics.json`` with ``eval`` in a new run folder."""
    saved_args, params, designer = load_checkpoint(cli.eval_checkpoint)
    defaults = Args()
    given = {k: getattr(cli, k) for k in EVAL_OPTIONS if getattr(cli, k) != getattr(defaults, k)}
    args = Args(**{**asdict(saved_args), **given, "eval_checkpoint": cli.eval_checkpoint, "save_model": False})
    env_kwargs = check_args(args)
    torch.set_num_threads(args.torch_threads)
    start = time.time()
    final = evaluate(args, env_kwargs, params, designer)
    run_dir = make_run_dir(args)
    evaluation = {"checkpoint": cli.eval_checkpoint, "final": {k: float(v) for k, v in final.items()}}
    metrics = write_metrics(run_dir, args, env_kwargs, final, [], time.time() - start, evaluation)
    print(json.dumps({"run_dir": run_dir, "eval": evaluation}))
    return metrics


if __name__ == "__main__":
    main(tyro.cli(Args, description=__doc__))
