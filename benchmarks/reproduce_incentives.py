"""Reproduce the meta-gradient incentive designer's results on held-out seeds, against agents without a designer.

Runs ``baselines/metagrad_incentives.py`` (``--designer metagrad`` and ``--designer none``) for every
experiment and seed of a seed set, at most ``--jobs`` processes at a time, then writes the results (fractions
of the exact optimum, equilibrium checks against exact best responses, per-seed detail, mean +- standard error
over seeds of the final evaluation), learning curves and the comparison with the tuning seeds into
``docs/results/incentives_metagrad.md`` (+ ``.png``, + a JSON summary). Hyperparameters were chosen on
``TUNING_SEEDS``; the page reports ``REPORTING_SEEDS`` (disjoint, never used to choose anything). Per-run folders
stay in ``runs/reproduce_incentives/`` (``--reuse`` skips runs whose metrics exist).

    PYTHONPATH=. python benchmarks/reproduce_incentives.py --seed-set tuning --only er_5_2 er_3_2 pd taxlite
    PYTHONPATH=. python benchmarks/reproduce_incentives.py [--seed-set reporting] [--jobs 2] [--only er_5_2 taxlite]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.grid import run_grid
from contract_envs.solvers import (
    escape_room_best_designer_return,
    escape_room_max_welfare,
    pd_best_designer_return,
    taxlite_continuous_optimum,
    taxlite_solve,
)

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "baselines" / "metagrad_incentives.py"
RUN_DIR = ROOT / "runs" / "reproduce_incentives"
OUT_MD = ROOT / "docs" / "results" / "incentives_metagrad.md"

# Escape Room and the PD: responsive agents (Adam steps, entropy bonus 0.2 / 0.4) and a linear designer with
# the clipped-linear head, so that the L1 cost keeps lowering what the agents' response does not hold up.
RESPONSIVE = [
    "--num-iterations",
    "1000",
    "--num-envs",
    "128",
    "--agent-optimizer",
    "adam",
    "--agent-lr",
    "3e-3",
    "--designer-hidden",
    "--incentive-head",
    "clipped_linear",
    "--designer-lr",
    "1e-2",
    "--cost-lr",
    "1e-3",
]
# Escape Room: the designer's and the cost's step sizes decay linearly (by 100x) so that the schedule settles
# instead of cycling around the lever agents' threshold (a decaying-step choice; A's steps are constant).
ER_ARGS = [*RESPONSIVE, "--entropy-coef", "0.2", "--designer-lr-final", "1e-4", "--cost-lr-final", "1e-5"]
# PD: tabular softmax agents (a linear policy on the one-hot state, as LOLA's and LIO's IPD agents): the 64-32 MLP
# agents saturated and kept cooperating after the schedule had fallen below their best-response threshold.
PD_ARGS = [*RESPONSIVE, "--entropy-coef", "0.4", "--agent-hidden"]
# Every hyperparameter below and every trial in NOTES was chosen on the tuning seeds; the page's tables come from
# the reporting seeds, which were never used to choose anything (disjoint by construction).
TUNING_SEEDS = (1, 2, 3, 4, 5)
REPORTING_SEEDS = tuple(range(101, 111))
SEED_SETS = {"reporting": REPORTING_SEEDS, "tuning": TUNING_SEEDS}
EXPERIMENTS: dict[str, dict] = {
    "er_5_2": dict(
        title="Escape Room ER(5,2)",
        env_id="contract_envs/escape_room-v1",
        env_kwargs={"n_agents": 5, "min_at_lever": 2},
        args=ER_ARGS,
    ),
    "er_3_2": dict(
        title="Escape Room ER(3,2)",
        env_id="contract_envs/escape_room-v1",
        env_kwargs={"n_agents": 3, "min_at_lever": 2},
        args=ER_ARGS,
    ),
    "pd": dict(
        title="Prisoner's Dilemma (alpha = 1)", env_id="contract_envs/prisoners_dilemma-v1", env_kwargs={}, args=PD_ARGS
    ),
    "taxlite": dict(
        title="TaxLite (flat tax)",
        env_id="contract_envs/tax_economy-v1",
        env_kwargs={},
        args=[
            "--num-iterations",
            "3000",
            "--num-envs",
            "128",
            "--agent-lr",
            "0.03",
            "--entropy-coef",
            "0.1",
            "--designer-lr",
            "1e-4",
            "--announce-rates",
            "--designer-noise",
            "1.5",
            "--designer-noise-final",
            "0.2",
            "--no-pathwise-designer-gradient",
            "--log-every",
            "20",
        ],
    ),
    "tax_brackets": dict(
        title="Tax economy, 7 US-federal brackets, 10 periods of 10 steps",
        reporting_seeds=REPORTING_SEEDS[:5],  # no exact optimum and the slowest runs: 5 reporting seeds
        env_id="contract_envs/tax_economy-v1",
        env_kwargs={"tax_model": "us_federal"},
        args=[
            "--num-iterations",
            "60",
            "--num-envs",
            "32",
            "--agent-lr",
            "1e-3",
            "--designer-lr",
            "1e-3",
            "--gamma",
            "1.0",
            "--log-every",
            "5",
            "--num-eval-episodes",
            "64",
        ],
    ),
    "cleanup": dict(
        title="Cleanup 7x7 (alpha = 0, A's objective)",
        reporting_seeds=REPORTING_SEEDS[:5],  # no exact optimum: 5 reporting seeds
        env_id="contract_envs/cleanup-v1",
        env_kwargs={"incentive_cost": 0.0},
        args=[
            "--num-iterations",
            "150",
            "--num-envs",
            "32",
            "--agent-lr",
            "0.03",
            "--designer-lr",
            "1e-2",
            "--entropy-coef",
            "0.129",
            "--log-every",
            "10",
            "--num-eval-episodes",
            "64",
        ],
    ),
}
DESIGNERS = ("metagrad", "none")
# What the previous page (tuning seeds 1-5, code before the game-shape refactor of contract-envs 0.2) claimed;
# quoted so that the comparison with the reporting seeds is on the page.
TUNING_PAGE_CLAIMS = {
    "er_5_2": "welfare >= 90% in 5/5; final lever incentive > 1 in 4/5; net 25.49 ± 0.18 of 26",
    "er_3_2": "welfare >= 90% in 4/5; final lever incentive > 1 in 4/5; net 4.26 ± 0.78 of 6",
    "pd": "cooperation 0.99 ± 0.00; final gap 1.11 ± 0.02",
    "taxlite": "rate within 0.05 of t* in 3/5; eq x prod 85.28 ± 2.16 of 93",
    "tax_brackets": "eq x prod 2163 ± 124 vs free market 950 ± 9",
    "cleanup": "collective return 27.07 ± 2.87 vs 2.72 ± 0.29 without a designer (above the best such seed in 5/5)",
}
NOTES = """## Tuning history (every trial on the tuning seeds 1-5) and deviations

The trials below chose the commands; they ran on the tuning seeds 1-5 only, with the code of the time (before
contract-envs 0.2's game-shape refactor), and the numbers quoted in them are those runs', not the reporting seeds'.

* Batching replaces A's 100,000 sequential episodes: each iteration collects `--num-envs` episodes with the
  batched API (one validation batch per iteration, reused as the next training batch as in A's `pipeline`),
  so the agents' step size is much larger than A's 9.56e-5 and runs last 2,000 to 384,000 episodes.
* Hyperparameters come from short trials with 1 to 5 seeds (listed below); they are not A's.
* **Escape Room and the PD: what changed and why.** Two defects made the earlier numbers misleading.
  (1) The sigmoid incentive head: the meta-gradient pushed the lever entry into saturation at the cap 2,
  where the separate L1 cost optimiser has no gradient, so the designer paid 2 per lever pull (previous page:
  net 3.84 ± 0.10 of the limit 6 in ER(3,2); ER(5,2) 3/5 seeds opened the door). The runs here use
  `--incentive-head clipped_linear` (`clip(z, 0, 1) x cap`, L1 cost on `max(z, 0)`, gradient 1 at every
  positive value) with a linear incentive function (`--designer-hidden` empty): with the 64-16 MLP the
  schedule jumped between 0 and the cap within a few iterations. (2) Saturated softmax policy-gradient
  learners stop responding: with the cost gradient alive and the previous SGD agents (entropy 0.0166),
  the designer removed the lever incentive by iteration 80 and the agents kept pulling the lever unpaid
  (ER(3,2), seeds 1-3, 400 iterations: welfare 7.96-7.97, net return = welfare, final lever incentive 0), a
  learner artefact that beats the equilibrium limit. The runs here use responsive agents: the agents'
  differentiable step is an Adam step (`--agent-optimizer adam`, 3e-3; `DifferentiableAdam`) with an entropy
  bonus 0.2 (Escape Room) or 0.4 (PD). Trials (ER, 1,000 iterations, 5 seeds each): entropy 0.1 still left
  the final lever incentive at 0 with the lever pulled in 4/5 ER(5,2) seeds; entropy 0.4 held it at 1.6-2.0
  but its soft learners pull the lever several times per episode in ER(3,2) (second-half net return
  0.9-3.3); entropy 0.05 with 400 iterations gave ER(5,2) net 26.3 with the final lever incentive below 1
  in 4/5 seeds (inertia again). Slower designers lost: designer Adam 3e-3 never opened the door in ER(3,2)
  seed 1; cost Adam 3e-4 gave second-half net returns 0.6-4.4 (ER(3,2)) and 23.1-26.0 (ER(5,2), 3 seeds).
* **Escape Room: decaying designer steps (deviation from A's constant steps).** With constant steps (designer Adam
  1e-2, cost Adam 1e-3) the designer cycled: the cost lowered the lever incentive until the lagging lever agents
  began to leave, then the meta-gradient raised it to the cap within a few dozen iterations, and the final
  evaluation was one snapshot of that cycle (previous page, 5 seeds: final lever incentive > 1 in 2/5 ER(5,2) and
  3/5 ER(3,2) seeds, ER(3,2) welfare >= 7.2 in 3/5, ER(3,2) net 3.66 ± 0.97). The runs here decay both step sizes
  linearly by 100x over the run (`--designer-lr-final 1e-4 --cost-lr-final 1e-5`, the standard decaying-step
  choice for stochastic approximation), so the schedule moves less and less and is frozen near the end while the
  agents keep adapting to it. ER(5,2) now settles: over the last 200 iterations the lever incentive drifts down
  smoothly (at most 0.02 per 10 iterations) to 0.995-1.50 in 5/5 seeds, the door open in every evaluation episode
  and 2.0 lever pulls per episode (seed 4 ends at 0.995, just below the threshold, with the agents still at the
  optimum: 4/5 strictly above 1). ER(3,2) settles less: over the last 200 iterations seeds 2 and 5 stay within
  1.92-2.00 and 1.35-1.51, seed 3 falls from 1.93 to 1.43, and seeds 1 and 4 still climb (0.60 to 1.17, 0.72 to
  0.96; seed 4 ends below 1 with the lagging agents still pulling); the soft agents pull the lever 2.7-3.4 times
  per episode in 4/5 seeds, each pull paid. The net return is therefore below the limit in both rooms: the frozen
  schedule overpays (a lever incentive of 1.2-1.9 where 1 + epsilon would do, plus the extra paid pulls) rather
  than undershoots. Not solved: a schedule that settles just above 1 in every seed. Trials (ER(3,2), 5 seeds;
  final lever incentive > 1 / welfare >= 7.2 / net per seed): decay to 1e-3 / 1e-4 (10x): 5/5 / 4/5 / 0.2-6.0,
  late jumps from 0.03 to 2.0 at step ~1.5e-3; to 1e-4 / 2e-4: 3/5 / 4/5 / 4.0-6.8 (seed 1 ends at 0.54 with the
  lagging agents still pulling); to 1e-4 / 1e-4: 4/5 / 3/5 / -0.7-6.6; constant 1e-3 / 1e-4 (a slow designer from
  the start): the door never opened (0/5, welfare -3.0); faster agents (`--agent-lr 1e-2`, constant or with the
  10x decay) opened the door in only 1/5 and 2/5 seeds. The chosen decay over 2,000 iterations instead of 1,000:
  4/5 / 4/5 / 1.8-4.9 (seed 4 fell to 0.05 late, the door then open in 71% of evaluation episodes). The schedule
  is over each agent's own action type and depends on the designer's observation (positions and previous joint
  action), not on the current joint action.
* Agents without a designer never open the door; with the entropy bonus they stay near the all-stay
  equilibrium (welfare slightly below 0 from exploration moves).
* **Prisoner's Dilemma (alpha = 1): tabular agents, and which threshold.** The PD agents are now tabular
  softmax learners (`--agent-hidden` empty: a linear policy on the one-hot previous joint action, like LOLA's and
  LIO's IPD agents; Adam 3e-3, entropy 0.4). Before (the 64-32 MLP agents, otherwise the same command; 5 seeds):
  cooperation 1.00 ± 0.00, final gap tau_C - tau_D 1.73 ± 0.04, second half 1.85 ± 0.04; the MLP logits
  saturated and the agents kept cooperating whatever the schedule did (a 3,000-iteration run of the MLP agents
  ended at gap 0.73 with cooperation 1.00 in one seed and at the cap 3.0 in another). Now: cooperation 0.99, final
  gap 1.11 ± 0.02. This final value is **not settled**: the schedule cycles. The cost lowers the incentives until
  cooperation starts to slip (0.96-0.98), then the meta-gradient raises them again; averaged over the second half
  the gap is 1.97 ± 0.02, and a 2,000-iteration run (seed 1) went from 1.11 at iteration 1,000 down to 0.92
  (1,200), back up to 2.20 (1,600) and ended at 1.87. The 1,000 iterations are the budget all the Escape Room
  and PD runs use, not tuned to land on the low end of the cycle, but the final gap is one phase of it.
* **PD: the dominance threshold 1 is not the bound these learners face.** (a) Entropy: a softmax learner
  maximising `E[r] + beta H` best-responds to a state-independent gap g with `pi(C) = sigmoid((g - 1) / beta)`
  (cooperating changes its own reward by g - 1 whatever the other does), so with beta = 0.4 cooperation 0.9 /
  0.99 needs g = 1.88 / 2.84 (`regularised_gap` in this script); the no-designer agents match it (g = 0:
  sigmoid(-2.5) = 0.076, measured 0.09). (b) History: the designer observes the previous joint action, and the
  per-state gaps show it uses that. It pays cooperators after mutual cooperation (final gap 1.35 ± 0.03) and pays
  nothing after a unilateral defection (0.00), with 0.26 ± 0.03 at the start, so a defection also costs the
  incentives of the following steps (5-step episodes, gamma 0.99). This is the likely reason the agents
  cooperate far more than the stage-game regularised response predicts (0.99 measured against 0.57 implied by
  the final gap); we infer this from the per-state gaps and did not verify it with an exact computation of the
  learners' values. The stage-game thresholds (1, or 1.88 / 2.84 with the entropy) bound a schedule that ignores the
  history, not this one. Trials (tabular agents, 5 seeds, the PD command below plus the options named here):
  decaying both steps as in the Escape Room (`--designer-lr-final 1e-4 --cost-lr-final 1e-5`) froze the schedule
  high, final gap 2.50 ± 0.01; decaying only the designer step (`--num-iterations 2000 --designer-lr-final 1e-4`)
  still cycled and ended on a descent at 0.46 ± 0.03 (cooperation 0.95-0.97, designer return -14.9 ± 0.2, above
  the no-designer -19.1: a history-dependent schedule can beat no intervention at alpha = 1, which a stage-game
  schedule cannot, -2 - 2 alpha = -4 per step at the threshold); entropy 0.1 (1,000 iterations) ended at 0.56 ±
  0.02 with cooperation 0.99. With the MLP agents, decaying both steps gave final gaps 2.14 ± 0.03 (entropy 0.4),
  2.28 ± 0.07 (0.1) and 2.15 ± 0.05 (0.05), cooperation 0.99-1.00. Earlier MLP trials: entropy 0.05 with
  constant steps saw-toothed between about 0.4 and 2.9 and drifted to 0.17 in a 1,200-iteration run while the
  saturated agents kept cooperating.
* **PD: alpha and the cost.** The separate Adam cost optimiser is invariant to the scale of the cost, so alpha
  does not enter the trade-off: single-seed runs with alpha = 0.5 and 1 followed identical schedules (MLP agents).
  With the cost in the meta loss instead (`--no-separate-cost-optimizer`, single seed, MLP agents) the designer
  paid nothing and the agents defected: one agent step changes welfare too little to outweigh the cost, so A's
  separate optimiser is what keeps the incentives alive. Not solved: a schedule that settles rather than cycles.
* **TaxLite: what changed.** Before (A's m1 term plus the pathwise derivative of productivity x equality with
  respect to the rate, SGD agents, designer Adam 3e-3, 1,000 iterations) the rate went to 1.0 in 5/5 seeds
  (eq x prod 80.03 ± 0.01): at fixed labour that derivative is positive at every rate (redistribution raises
  equality without changing total coin), while the agents' response enters only through one look-ahead
  step; without it the rate went to 0.0. The runs here deviate from A in three documented ways. (1) The
  agents observe the rate proposed for the current step (`--announce-rates`): in TaxLite the planner and the
  workers move simultaneously, so the environment cannot show it, and the exact t* is the Stackelberg answer
  in which workers respond to a known rate. (2) The designer samples the rate's logit from a Gaussian around
  its output (std 1.5 annealed linearly to 0.2, `--designer-noise`, `--designer-noise-final`) and adds the
  score-function term of the samples to A's m1 term instead of the pathwise term, so the samples measure a
  rate's effect together with the agents' learned response to it; the evaluation uses the output without
  noise. (3) Agents' entropy bonus 0.1, designer Adam 1e-4, 3,000 iterations. Result: 3/5 seeds settle at
  0.71-0.72 (the learners' eq x prod 88-90 there; exact 92 at t = 0.70, 93 at t*); 2/5 cross t = 0.8 early,
  where the skill-4 worker stops working and the objective rises again from 75.2 towards 80 at t = 1, and
  end at 1.0. The dual-RL designer ends at 1.0 in 5/5 seeds (`docs/results/incentives_baselines.md`). The
  rate starts at 0.5, between the local optimum 0.25 and t*, and never went down to 0.25 in these runs, so
  they do not test an escape from 0.25. Trials (seed 1 unless stated): a constant std 0.5 gave final rates
  1.00, 0.99 and 0.95 (designer Adam 1e-3, 3e-4, 1e-4), the skill-4 worker still working 9.9 at t = 0.95 where
  its equilibrium labour is 0; a constant std 1.5 (2,000 iterations, seeds 1-3) gave 0.76, 0.99 and 0.81:
  the mean of the sampled rates sat near 0.75 but the noise-free output lay past the cliff, hence the
  annealing; Adam agents (entropy 0.1) gave 0.83 (std 1.5) and 0.99 / 0.95 (std 0.5); designer Adam 5e-5
  with the annealed std gave 0.96 on seed 2. Decaying the designer step from 1e-4 to 1e-5 (5 seeds, the
  TaxLite command with `--designer-lr-final 1e-5`) brought seed 4 back from 0.84 to 0.70 but not seed 2:
  final rates 0.697, 0.976, 0.699, 0.703, 0.711 (4/5 settle at 0.70-0.71, below the cliff, but two of them
  0.003 outside the 0.05 band: 2/5 by the target's measure), so the page keeps the constant step.
* **TaxLite from the local optimum.** Starting at t = 0.25 (`--designer-init-bias -1.0986`, logit of 0.25; 5
  seeds) every seed leaves 0.25 (rate above 0.4 by iteration 1,000 to 1,600) but 4/5 then cross the cliff and end
  at 0.99-1.00 (eq x prod about 80); 1/5 ends at 0.718 (eq x prod 87.7). With the designer step also decaying to
  1e-5: 0.765, 0.968, 0.986, 0.985, 0.896 (1/5 within 0.05 of t*). The escape from 0.25 works; stopping before the
  cliff at 0.8 is what fails.
* **Tax brackets (unchanged runs).** A's m1 term plus the pathwise derivative, SGD agents (see the command).
  The untaxed TaxLite learners play close to the exact untaxed equilibrium (3, 10, 10, 10), eq x prod 59.33
  (mean labour about (3.0, 9.9, 10, 10) with the entropy bonus); the taxed ones at 0.71 about (0, 0, 8.8, 10),
  against (0, 0, 10, 10) in the exact equilibrium at t = 0.70.
* **Cleanup.** REINFORCE agents without a critic (A: actor-critic with shared parameters) and a REINFORCE
  meta-gradient designer (A: PPO-style with a critic); 4,800 episodes per run against A's 100,000. The agents
  now use A's Cleanup entropy coefficient 0.129 (previously the Escape Room value 0.0166, with which the
  designer's collective return per seed was 0.0, 0.0, 0.1, 3.1 and 29.8 against 4.3-7.3 without a designer:
  two seeds collapsed to agents idling for the "other" incentive). The no-designer agents use the same
  entropy. A pays with alpha = 0 too, so the incentives paid are large.
* The no-designer baseline is the same learner with a zero schedule (taxes: free market, all rates 0).

### Commands of the trials quoted above (seed 1; other seeds change `--seed`)

All `PYTHONPATH=. python baselines/metagrad_incentives.py` with `--num-envs 128` and:
* clipped-linear head with SGD agents: `--env-id contract_envs/escape_room-v1 --env-kwargs '{"n_agents": 3,
  "min_at_lever": 2}' --num-iterations 400 --agent-lr 0.03 --designer-lr 1e-2 --cost-lr 3e-3 --incentive-head
  clipped_linear`
* Escape Room entropy / designer / cost trials: the Escape Room command below with `--entropy-coef 0.1` or
  `0.4`; `--designer-lr 3e-3`; `--cost-lr 3e-4`; and entropy 0.05 with `--num-iterations 400`
* PD, MLP agents: the PD command below without `--agent-hidden` (the page's earlier runs), with
  `--num-iterations 3000`, and with `--designer-lr-final 1e-4 --cost-lr-final 1e-5` and `--entropy-coef 0.4`,
  `0.1` or `0.05`; tabular agents (the command as it is): `--num-iterations 2000` (seed 1), `--designer-lr-final
  1e-4 --cost-lr-final 1e-5`, `--num-iterations 2000 --designer-lr-final 1e-4`, `--entropy-coef 0.1`
* PD, MLP agents, earlier: the PD command below without `--agent-hidden`, with `--entropy-coef 0.05
  --num-iterations 1200` (and `--env-kwargs
  '{"incentive_cost": 0.5}'`, 400 iterations, for the alpha check); `--no-separate-cost-optimizer` with
  entropy 0.05 and 0.4, 1,200 iterations
* TaxLite, all with `--env-id contract_envs/tax_economy-v1 --log-every 20 --announce-rates
  --no-pathwise-designer-gradient`: constant std `--designer-noise 0.5 --agent-lr 0.03` with
  `--num-iterations 1000 --designer-lr 1e-3`, `--num-iterations 1000 --designer-lr 3e-4`, `--num-iterations 2000
  --designer-lr 1e-4`; `--designer-noise 1.5 --agent-lr 0.03 --entropy-coef 0.1 --designer-lr 1e-4
  --num-iterations 2000`; Adam agents `--agent-optimizer adam --agent-lr 3e-3 --entropy-coef 0.1` with the
  same std 1.5 command, and with std 0.5 (`--num-iterations 1000 --designer-lr 3e-4`, `--num-iterations 2000
  --designer-lr 1e-4`); the TaxLite command below with `--designer-lr 5e-5 --seed 2`
* TaxLite decaying designer step and start at 0.25: the TaxLite command below with `--designer-lr-final 1e-5`,
  `--designer-init-bias -1.0986`, or both (seeds 1-5)
* Escape Room step-size trials (seeds 1-5): the ER(3,2) command below with `--designer-lr-final 1e-3
  --cost-lr-final 1e-4`, `--designer-lr-final 1e-4 --cost-lr-final 2e-4`, `--designer-lr-final 1e-4
  --cost-lr-final 1e-4`, without the two `-final` options and with `--designer-lr 1e-3 --cost-lr 1e-4`, and
  with `--agent-lr 1e-2` without the `-final` options or with `--designer-lr-final 1e-3 --cost-lr-final 1e-4`;
  the ER(3,2) command below with `--num-iterations 2000`
* Cleanup entropy 0.0166: the Cleanup command below without `--entropy-coef 0.129`."""


def seeds_for(exp: str, seed_set: str, max_seeds: int | None = None) -> tuple[int, ...]:
    """The seeds of ``seed_set`` an experiment runs on (some report fewer reporting seeds)."""
    seeds = EXPERIMENTS[exp].get("reporting_seeds", REPORTING_SEEDS) if seed_set == "reporting" else TUNING_SEEDS
    return tuple(seeds[:max_seeds])


def run_one(exp: str, designer: str, seed: int, reuse: bool, smoke: bool = False, runs_dir: Path = RUN_DIR) -> dict:
    """Run (or, with ``reuse``, load) one training run; its ``metrics.json`` gains ``command``, ``ran`` and
    ``process_seconds``. Each run writes its run folder under ``RUN_DIR/{exp}__{designer}__{seed}/``."""
    spec = EXPERIMENTS[exp]
    where = runs_dir / ("smoke" if smoke else "") / f"{exp}__{designer}__{seed}"
    budget = SMOKE_ARGS if smoke else []
    cmd = [
        sys.executable,
        str(SCRIPT.relative_to(ROOT)),
        "--env-id",
        spec["env_id"],
        "--env-kwargs",
        json.dumps(spec["env_kwargs"]),
        "--designer",
        designer,
        "--seed",
        str(seed),
        *spec["args"],
        *budget,
        "--save-model",  # so that a run can be evaluated again (--eval-checkpoint) without retraining
        "--runs-dir",
        str(where),
    ]
    found = sorted(where.glob("*/metrics.json"))
    ran = not (reuse and found)
    if ran:
        start = time.time()
        result = subprocess.run(
            cmd, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stderr[-3000:]}")
        elapsed = time.time() - start
        print(f"{exp} {designer} seed {seed}: {elapsed:.1f} s", flush=True)
        found = sorted(where.glob("*/metrics.json"))
        (found[-1].parent / "process_seconds.json").write_text(json.dumps({"process_seconds": elapsed}))
    path = found[-1]  # the newest run of this configuration
    metrics = json.loads(path.read_text())
    timing = path.parent / "process_seconds.json"
    metrics["process_seconds"] = json.loads(timing.read_text())["process_seconds"] if timing.exists() else None
    metrics["ran"] = ran
    metrics["command"] = "PYTHONPATH=. python " + " ".join(
        f"'{c}'" if c.startswith("{") else c for c in cmd[1 : -3 - len(budget)]
    )
    return metrics


# tiny budget for the tests of this script (``--smoke``): the pipeline end to end, not the results
SMOKE_ARGS = ["--num-iterations", "3", "--num-envs", "8", "--num-eval-episodes", "16", "--log-every", "1"]


def mean_se(values) -> tuple[float, float]:
    v = np.asarray(values, dtype=float)
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else 0.0


def fmt(values, digits: int = 2) -> str:
    m, se = mean_se(values)
    return f"{m:.{digits}f} ± {se:.{digits}f}"


def pct(values) -> str:
    """Mean ± s.e. of fractions, in percent."""
    m, se = mean_se(values)
    return f"{100 * m:.1f}% ± {100 * se:.1f}"


def count(flags) -> str:
    flags = [bool(f) for f in flags]
    return f"{sum(flags)}/{len(flags)}"


def regularised_cooperation(gap: float, beta: float) -> float:
    """Cooperation of an entropy-regularised softmax learner (bonus ``beta``) best-responding to ``tau_C - tau_D``.

    In the PD cooperating changes one's own reward by ``gap - 1`` whatever the other does; maximising
    ``E[r] + beta H(pi)`` over a two-action softmax gives ``pi(C) = sigmoid((gap - 1) / beta)`` (one step,
    schedule independent of the state). Only ``beta -> 0`` recovers the dominance threshold ``gap >= 1``.
    """
    return float(1.0 / (1.0 + np.exp(-(gap - 1.0) / beta)))


def regularised_gap(cooperation: float, beta: float) -> float:
    """The gap ``tau_C - tau_D`` at which that learner cooperates with probability ``cooperation``."""
    return float(1.0 + beta * np.log(cooperation / (1.0 - cooperation)))


@functools.cache
def taxlite_optimum() -> float:
    """TaxLite's optimum over continuous rates (the designer's rate is continuous; the 0.05 grid's best is 93.0)."""
    return taxlite_continuous_optimum(tol=1e-7).objective


def exact_reference(exp: str) -> str:
    """The exact answer each experiment is scored against (from ``contract_envs.solvers``)."""
    if exp.startswith("er_"):
        kw = EXPERIMENTS[exp]["env_kwargs"]
        n, m = kw["n_agents"], kw["min_at_lever"]
        return (
            f"max welfare {escape_room_max_welfare(n, m):g}; designer return → "
            f"{escape_room_best_designer_return(n, m):g} (lever incentive ↓ 1, supremum)"
        )
    if exp == "pd":
        return (
            f"welfare −10 (all C) vs −20 (all D) per episode; best stage-game designer return "
            f"{5 * pd_best_designer_return(1.0):g} (= no intervention at α = 1)"
        )
    if exp == "taxlite":
        sol, best = taxlite_solve(), taxlite_continuous_optimum(tol=1e-7)
        return (
            f"eq × prod {best.objective:.2f} at t = {best.rate:.4f} over continuous rates (labour "
            f"{tuple(int(x) for x in best.labour)}); {sol.best_objective:.1f} at t* = {sol.best_rate:g} on the 0.05 "
            "grid of the reference notes (local optimum 72.5 at t = 0.25)"
        )
    return "none (no exact optimum)"


def late_mean(run: dict, key: str) -> float:
    """Mean of ``key`` over the second half of the logged validation batches."""
    hist = run["history"][len(run["history"]) // 2 :]
    return float(np.mean([h[key] for h in hist]))


def headline_row(exp: str, designer: str, runs: list[dict]) -> str:
    """One row of the headline table: primary = fraction of the exact optimum; then the equilibrium check
    against exact best responses; learned or raw numbers are secondary."""
    f = [r["final"] for r in runs]
    title, n = EXPERIMENTS[exp]["title"], len(runs)
    if exp.startswith("er_"):
        primary = (
            f"designer return {pct([x['designer_return_fraction_of_limit'] for x in f])} of the limit; "
            f"welfare {pct([x['welfare_fraction_of_optimum'] for x in f])}"
        )
        check = (
            f"greedy profile optimal and a Nash equilibrium of the episode: "
            f"{count(x['greedy_start_profile_optimal'] and x['greedy_br_is_equilibrium'] for x in f)}; "
            f"stage game sustains the optimum (lever incentive > 1): "
            f"{count(x['stage_schedule_sustains_optimum'] for x in f)}; best responder's gain vs the sampled "
            f"policies {fmt([x['br_gain_max'] for x in f])}"
        )
        secondary = (
            f"welfare {fmt([x['welfare'] for x in f])}, net {fmt([x['designer_return'] for x in f])}, paid "
            f"{fmt([x['incentives_paid'] for x in f])}, lever incentive "
            f"{fmt([x['schedule_at_start_lever'] for x in f])}, door opened {fmt([x['door_opened'] for x in f])}"
        )
    elif exp == "pd":
        primary = f"welfare {pct([x['welfare_normalised'] for x in f])} of the way from all-D to all-C"
        check = (
            f"greedy cooperation a Nash equilibrium of the episode: "
            f"{count(x['greedy_cooperates_on_path'] and x['greedy_br_is_equilibrium'] for x in f)}; C dominant in "
            f"the stage game at the start: {count(x.get('stage_cooperation_dominant_at_start', 0) for x in f)}; "
            f"best responder's gain vs the sampled policies {fmt([x['br_gain_max'] for x in f])}"
        )
        secondary = (
            f"cooperation {fmt([x['cooperation'] for x in f])}, net {fmt([x['designer_return'] for x in f])} "
            f"(stage-game optimum {f[0]['stage_optimum_designer_return']:g}), gap τ_C − τ_D "
            f"{fmt([x['tau_C_minus_tau_D'] for x in f])}"
        )
    elif exp == "taxlite":
        best = taxlite_optimum()
        primary = (
            f"eq × prod {pct([x['equality_times_productivity'] / best for x in f])} of the optimum "
            f"({pct([x['equality_times_productivity'] / 93.0 for x in f])} of the grid's 93.0)"
        )
        check = (
            f"exact equilibrium at the learned rate: {pct([x['equilibrium_eq_x_prod_at_rate'] / best for x in f])} "
            f"of the optimum; learners' greedy labour = that equilibrium: "
            f"{count(x['greedy_labour_is_equilibrium_at_rate'] for x in f)}; rate within 0.05 of t*: "
            f"{count(x['rate_error'] <= 0.05 + 1e-9 for x in f)}; best responder's gain "
            f"{fmt([x['br_gain_max'] for x in f])}"
        )
        secondary = (
            f"eq × prod {fmt([x['equality_times_productivity'] for x in f])}, rate {fmt([x['tax_rate_0'] for x in f])}"
        )
    else:
        primary, check = "—", "—"
        key = "equality_times_productivity" if exp == "tax_brackets" else "welfare"
        secondary = f"{key.replace('_', ' ')} {fmt([x[key] for x in f])}"
        if exp == "cleanup":
            secondary += (
                f", paid {fmt([x['incentives_paid'] for x in f])}, waste {fmt([x['waste_cleaned'] for x in f])}"
            )
    seeds = ", ".join(str(r["seed"]) for r in runs)
    minutes = sum(r["process_seconds"] or r["wall_clock_s"] for r in runs) / 60
    return f"| {title} | {designer} | {n} ({seeds}) | {primary} | {check} | {secondary} | {minutes:.1f} |"


def per_seed_rows(exp: str, runs: list[dict]) -> list[str]:
    """Per-seed detail of the designer's runs (ER, PD, TaxLite): the exact checks seed by seed."""
    out = []
    if exp.startswith("er_"):
        out += [
            "| seed | welfare / optimum | net / limit | final lever incentive | stage game sustains the optimum "
            "| greedy profile optimal "
            "| greedy profile NE (exact BR) | max BR gain (greedy / sampled) | lever pulls per episode |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in runs:
            x = r["final"]
            out.append(
                f"| {r['seed']} | {100 * x['welfare_fraction_of_optimum']:.1f}% "
                f"| {100 * x['designer_return_fraction_of_limit']:.1f}% | {x['schedule_at_start_lever']:.3f} "
                f"| {'yes' if x['stage_schedule_sustains_optimum'] else 'no'} "
                f"| {'yes' if x['greedy_start_profile_optimal'] else 'no'} "
                f"| {'yes' if x['greedy_br_is_equilibrium'] else 'no'} "
                f"| {x['greedy_br_gain_max']:.2f} / {x['br_gain_max']:.2f} | {x['lever_per_episode']:.2f} |"
            )
    elif exp == "pd":
        out += [
            "| seed | cooperation | welfare (normalised) | net | gap at start / after CC / after CD, DC / after DD "
            "| greedy cooperation NE (exact BR) | max BR gain (greedy / sampled) |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in runs:
            x = r["final"]
            gaps = " / ".join(
                f"{x[f'schedule_gap_{s}']:.2f}" for s in ("start", "CC", "CD", "DD")
            )  # CD and DC are symmetric states; CD shown
            out.append(
                f"| {r['seed']} | {x['cooperation']:.3f} | {100 * x['welfare_normalised']:.1f}% "
                f"| {x['designer_return']:.2f} | {gaps} "
                f"| {'yes' if x['greedy_cooperates_on_path'] and x['greedy_br_is_equilibrium'] else 'no'} "
                f"| {x['greedy_br_gain_max']:.2f} / {x['br_gain_max']:.2f} |"
            )
    elif exp == "taxlite":
        best = taxlite_optimum()
        out += [
            "| seed | final rate | eq × prod / optimum (learners) | exact equilibrium at the rate / optimum "
            "| learners' mean labour | greedy labour = equilibrium | max BR gain (greedy / sampled) |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in runs:
            x = r["final"]
            labour = ", ".join(f"{x[f'labour_agent_{i}']:.1f}" for i in range(4))
            out.append(
                f"| {r['seed']} | {x['tax_rate_0']:.3f} | {100 * x['equality_times_productivity'] / best:.1f}% "
                f"| {100 * x['equilibrium_eq_x_prod_at_rate'] / best:.1f}% | {labour} "
                f"| {'yes' if x['greedy_labour_is_equilibrium_at_rate'] else 'no'} "
                f"| {x['greedy_br_gain_max']:.3f} / {x['br_gain_max']:.3f} |"
            )
    return out


def claims(exp: str, runs: list[dict]) -> str:
    """The claims of the tuning-seed page, measured again on ``runs`` (counts over seeds)."""
    f = [r["final"] for r in runs]
    if not f:
        return "—"
    if exp.startswith("er_"):
        return (
            f"welfare >= 90% in {count(x['welfare_fraction_of_optimum'] >= 0.9 for x in f)}; final lever incentive > 1 "
            f"in {count(x['schedule_at_start_lever'] > 1.0 for x in f)}; net {fmt([x['designer_return'] for x in f])}; "
            f"greedy profile an exact equilibrium in "
            f"{count(x['greedy_start_profile_optimal'] and x['greedy_br_is_equilibrium'] for x in f)}; net above the "
            f"equilibrium limit in {count(x['designer_return_fraction_of_limit'] > 1.0 for x in f)}"
        )
    if exp == "pd":
        return (
            f"cooperation {fmt([x['cooperation'] for x in f])}; final gap {fmt([x['tau_C_minus_tau_D'] for x in f])}; "
            f"greedy cooperation an exact equilibrium in "
            f"{count(x['greedy_cooperates_on_path'] and x['greedy_br_is_equilibrium'] for x in f)}"
        )
    if exp == "taxlite":
        return (
            f"rate within 0.05 of t* = 0.75 in {count(x['rate_error'] <= 0.05 + 1e-9 for x in f)}; eq x prod "
            f"{fmt([x['equality_times_productivity'] for x in f])} (optimum {taxlite_optimum():.1f}; grid 93.0)"
        )
    if exp == "tax_brackets":
        return f"eq x prod {fmt([x['equality_times_productivity'] for x in f], 0)}"
    return f"collective return {fmt([x['welfare'] for x in f])}"


def plot(results: dict[str, dict[str, list[dict]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    exps = [e for e in results if any(results[e].values())]
    cols = min(3, len(exps))
    rows = -(-len(exps) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.6 * rows), squeeze=False)
    for ax in axes.flat[len(exps) :]:
        ax.set_visible(False)
    for ax, exp in zip(axes.flat, exps, strict=False):
        key = "equality_times_productivity" if exp.startswith("tax") else "welfare"
        for designer, color in zip(DESIGNERS, ("tab:blue", "tab:gray"), strict=True):
            seeds = results[exp].get(designer, [])
            if not seeds:
                continue
            x = np.array([h["episodes"] for h in seeds[0]["history"]])
            y = np.array([[h[key] for h in m["history"]] for m in seeds])
            mean = y.mean(0)
            se = y.std(0, ddof=1) / np.sqrt(len(seeds)) if len(seeds) > 1 else np.zeros_like(mean)
            ax.plot(x, mean, color=color, label=f"{designer} ({key})")
            ax.fill_between(x, mean - se, mean + se, color=color, alpha=0.25)
            if designer == "metagrad" and key == "welfare":
                ret = np.array([[h["designer_return"] for h in m["history"]] for m in seeds]).mean(0)
                ax.plot(x, ret, color=color, linestyle="--", label="metagrad (designer return)")
        if exp.startswith("er_"):
            kw = EXPERIMENTS[exp]["env_kwargs"]
            n, m_ = kw["n_agents"], kw["min_at_lever"]
            ax.axhline(escape_room_max_welfare(n, m_), color="k", lw=0.8, ls=":", label="max welfare (exact)")
            ax.axhline(escape_room_best_designer_return(n, m_), color="k", lw=0.8, ls="-.", label="net-return limit")
        if exp == "taxlite":
            ax.axhline(taxlite_optimum(), color="k", lw=0.8, ls=":", label="optimum 96.0 (t = 0.743)")
            ax.axhline(taxlite_solve().best_objective, color="k", lw=0.8, ls="-.", label="0.05 grid: 93.0 (t = 0.75)")
        ax.set_title(EXPERIMENTS[exp]["title"], fontsize=9)
        ax.set_xlabel("episodes")
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def load_text() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--seed-set",
        default="reporting",
        choices=list(SEED_SETS),
        help="reporting seeds (the page's tables) or tuning seeds (rerun for the comparison section)",
    )
    parser.add_argument("--max-seeds", type=int, default=None, help="use only the first k seeds of the set")
    parser.add_argument("--jobs", type=int, default=2, help="processes at a time (the machine has 2 cores)")
    parser.add_argument("--address", default=None, help="Ray cluster address (default: a local Ray instance)")
    parser.add_argument("--only", nargs="*", default=list(EXPERIMENTS), choices=list(EXPERIMENTS))
    parser.add_argument("--reuse", action="store_true", help="reuse per-run metrics already in runs/")
    parser.add_argument("--smoke", action="store_true", help="tiny budgets (tests of this script), separate runs")
    parser.add_argument("--designers", nargs="*", default=list(DESIGNERS), choices=list(DESIGNERS))
    parser.add_argument("--output", default=str(OUT_MD))
    parser.add_argument("--runs-dir", default=str(RUN_DIR), help="where the run folders go (one per configuration)")
    opts = parser.parse_args()
    load_before = load_text()
    jobs = [(e, d, s) for e in opts.only for d in opts.designers for s in seeds_for(e, opts.seed_set, opts.max_seeds)]
    start = time.time()
    runs_dir = Path(opts.runs_dir)
    done = run_grid(
        lambda j: (j, run_one(*j, reuse=opts.reuse, smoke=opts.smoke, runs_dir=runs_dir)), jobs, opts.jobs, opts.address
    )
    wall = time.time() - start
    ran = sum(m["ran"] for _, m in done)
    results: dict[str, dict[str, list[dict]]] = {e: {d: [] for d in opts.designers} for e in opts.only}
    for (e, d, _), m in done:
        results[e][d].append(m)
    log_path = Path(opts.runs_dir) / "invocations.json"  # every invocation that trained runs, for the page
    invocations = json.loads(log_path.read_text()) if log_path.exists() else []
    if ran and not opts.smoke:
        invocations.append(
            {
                "seed_set": opts.seed_set,
                "only": opts.only,
                "end": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "wall_min": round(wall / 60, 1),
                "runs_trained": ran,
                "jobs": opts.jobs,
                "load_start": load_before,
                "load_end": load_text(),
            }
        )
        log_path.write_text(json.dumps(invocations, indent=1))
    tuning: dict[str, list[dict]] = {}
    if (
        opts.seed_set == "reporting" and not opts.smoke and "metagrad" in opts.designers
    ):  # tuning-seed reruns, where they exist, for the comparison
        for e in opts.only:
            tuning[e] = [
                run_one(e, "metagrad", s, reuse=True, runs_dir=Path(opts.runs_dir))
                for s in TUNING_SEEDS
                if sorted((Path(opts.runs_dir) / f"{e}__metagrad__{s}").glob("*/metrics.json"))
            ]

    out = Path(opts.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    png = out.with_suffix(".png")
    plot(results, png)
    seeds = sorted({s for _, _, s in jobs})
    seed_text = ", ".join(str(s) for s in seeds)
    lines = [
        "# Meta-gradient incentive design: reproduction on held-out seeds",
        "",
        f"Generated by `PYTHONPATH=. python benchmarks/reproduce_incentives.py --seed-set {opts.seed_set}"
        f" --jobs {opts.jobs}{' --only ' + ' '.join(opts.only) if opts.only != list(EXPERIMENTS) else ''}`. "
        "Algorithm: `baselines/metagrad_incentives.py` (meta-gradient designer with online cross-validation, "
        "Yang et al. AAMAS 2022); baseline: the same policy-gradient agents with no designer (`--designer none`).",
        "",
        f"**Seeds.** Every hyperparameter in the commands below, and every trial in the tuning notes, was chosen on "
        f"the *tuning seeds* {', '.join(map(str, TUNING_SEEDS))}. The tables report the *{opts.seed_set} seeds* "
        f"{seed_text}"
        + (", which were never used to choose anything." if opts.seed_set == "reporting" else ".")
        + " (tax brackets and Cleanup, which have no exact optimum: the first five)."
        + " Numbers: the final evaluation of each seed (greedy designer schedule, sampled agent actions, 256 "
        "fresh episodes unless stated), mean ± standard error over seeds.",
        "",
        "**Scoring.** The primary column is the fraction of the exact optimum from `contract_envs.solvers` "
        "(Escape Room: designer return over the limit 10(N−M)−2M and welfare over 10(N−M)−M; PD: welfare between "
        "all-D and all-C; TaxLite: productivity × equality over its optimum over continuous rates, 96.0 at "
        "t = 0.743 (`taxlite_continuous_optimum`; the designer's rate is continuous), with the 0.05 grid's 93.0 at "
        "t* = 0.75 of the reference notes also shown). The equilibrium column checks "
        "the final schedule against *exact* best responses: each agent's best response to the others' learned "
        "policies, computed by backward induction over the episode with the designer's final schedule "
        "(`escape_room_best_responses`, `pd_best_responses`, `taxlite_best_responses`; the agents' own discount "
        "0.99). 'Greedy profile a Nash equilibrium' means that the deterministic policies the learners converge "
        "to leave no agent a profitable deviation, on or off the path; the sampled policies' gain is what a best "
        "responder would gain against the learners' actual (entropy-regularised) play. Raw numbers are secondary.",
        "",
        f"Machine: {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), shared with other "
        "developers' jobs (heavily loaded: wall-clock figures are inflated accordingly). Invocations that trained "
        "the runs (wall-clock, runs, load average 1/5/15 min at start and end): "
        + "; ".join(
            f"{i['end']}: {i['seed_set']} seeds, {i['runs_trained']} runs in {i['wall_min']} min, {i['jobs']} at a "
            f"time, load {i['load_start']} → {i['load_end']}" + (f" ({i['note']})" if i.get("note") else "")
            for i in invocations
            if not opts.smoke
        )
        + ". Last column of the headline: summed process time of the row's runs (minutes).",
        "",
        "## Headline",
        "",
        "| experiment | designer | seeds | primary: fraction of the exact optimum | equilibrium vs exact best "
        "responses | secondary (raw) | min |",
        "|---|---|---|---|---|---|---|",
    ]
    summary = {}
    for exp in opts.only:
        for d in opts.designers:
            if results[exp][d]:
                lines.append(headline_row(exp, d, results[exp][d]))
        summary[exp] = {
            d: {k: mean_se([r["final"][k] for r in rs]) for k in rs[0]["final"]} for d, rs in results[exp].items() if rs
        }
    lines += [
        "",
        "Exact references: " + "; ".join(f"{EXPERIMENTS[e]['title']}: {exact_reference(e)}" for e in opts.only),
    ]
    lines += ["", "## Per seed (designer runs)", ""]
    for exp in opts.only:
        rows = per_seed_rows(exp, results[exp].get("metagrad", []))
        if rows:
            lines += [f"**{EXPERIMENTS[exp]['title']}**", "", *rows, ""]
    lines += [
        "## Held-out seeds against the tuning seeds",
        "",
        "| experiment | previous page (tuning seeds 1-5, older code) | tuning seeds rerun with this code "
        f"| {opts.seed_set} seeds |",
        "|---|---|---|---|",
    ]
    for exp in opts.only:
        lines.append(
            f"| {EXPERIMENTS[exp]['title']} | {TUNING_PAGE_CLAIMS.get(exp, '—')} "
            f"| {claims(exp, tuning.get(exp, []))} | {claims(exp, results[exp].get('metagrad', []))} |"
        )
    lines += ["", ANALYSIS, "", f"![learning curves]({png.name})", "", NOTES, "", "## Commands", ""]
    for exp in opts.only:
        for d in opts.designers:
            if results[exp][d]:
                used = ", ".join(str(r["seed"]) for r in results[exp][d])
                lines.append(f"* `{results[exp][d][0]['command']}` (`--seed` {used})")
    out.write_text("\n".join(lines) + "\n")
    out.with_suffix(".json").write_text(
        json.dumps(
            {"wall_seconds": wall, "ran": ran, "seed_set": opts.seed_set, "seeds": list(seeds), "summary": summary},
            indent=1,
        )
    )
    print("\n".join(lines))


ANALYSIS = """## What the held-out seeds show

Written after the runs (reporting seeds 101-110, tuning seeds 1-5 rerun with the same code); every count below is
in the tables above.

* **The tuning-seed claims weaken on held-out seeds, as the issue found.** ER(5,2): the final lever incentive
  exceeds 1 (the stage-game condition) in 7/10 reporting seeds against 4/5 on the rerun tuning seeds; ER(3,2):
  6/10 against 5/5, and welfare >= 90% of the optimum in 7/10 against 4/5 (seed 109 never opens the door, seed
  104 opens it in 57% of episodes). TaxLite: the rate ends within 0.05 of t* = 0.75 in 5/10 (3/5 on the tuning
  seeds); the other half crosses the cliff at t = 0.8 and ends at 0.997-0.998. The PD's cooperation (0.99) and
  Cleanup's gain over no designer (4/5 seeds above the best no-designer seed, 5/5 before) hold up. The tuning-seed
  reruns reproduce the previous page's TaxLite rates exactly (0.706, 0.997, 0.708, 0.998, 0.716) and its ER(5,2)
  lever incentives within 0.06; ER(3,2) differs more (seed 1 ends at 2.0 where the page had 1.17): the
  environments were rewritten since, and ER(3,2)'s schedule is the least settled.
* **Net return above the equilibrium limit = learners paid less than their best response requires.** ER(5,2)
  seeds 102, 103 and 104 end with a lever incentive of 0.72, 0.64 and 0.78 and a designer return of 101-102% of
  the limit 26; ER(3,2) seed 107 pays the lever nothing at the start and earns 105% of the limit 6 (the issue's
  ER(3,2) runs with 0.63 are the same phenomenon). The limit 10(N-M)-2M is the supremum against best-responding
  agents, and the exact check says these profiles are not equilibria: in each of the three ER(5,2) runs, exactly
  the two lever agents have a profitable deviation, staying at the start, worth 1 - tau (0.285, 0.362, 0.218
  with tau = 0.715, 0.638, 0.782); the door agents' gain is 0. The learners keep pulling because softmax
  policy-gradient learners that put about 98% on the lever respond slowly (the gradient that moves them comes from
  the rare sampled deviations), while the cost optimiser keeps lowering the schedule and the decaying step sizes
  freeze it late: in seed 103 the lever incentive at the start stayed below 1 from iteration 560 and near 0.02
  around iteration 900, while the lever was still pulled 2.0 times per episode. A designer that profits from the
  learners' inertia is not a better mechanism: against best responders it loses the division of labour. Nor is
  the low incentive settled: seed 103's rose again from 0.03 to 0.64 over its last 100 iterations.
* **Stage-game condition vs the episode.** In ER(5,2) every final schedule with a lever incentive above 1 also
  makes the learners' greedy profile an exact Nash equilibrium of the episode (7/7). In ER(3,2) only 3 of the 6
  do: with one door agent, that agent can pull the lever too (paid tau) and walk through the door next round,
  because the greedy lever agents stay at the lever and keep the door open; this pays when tau - 1 exceeds the
  one-round discount loss (1 - 0.99) x 10 = 0.1 (seed 103: tau = 1.197, gain 0.097). In seeds 105 and 106 the
  designer also pays the lever 1.5-2.0 in the off-path state where all three agents stand at the lever, so the
  door agent can pull with them, collect that payment for a few rounds while the door stays open, and leave through
  the door in the last round: gains of 5.9 and 4.7. In ER(5,2) the detour is not possible: the other door agents
  end the episode in the first round.
* **PD: the history-dependent schedule is verified exactly.** The greedy cooperative play is an exact Nash
  equilibrium of the 5-round episode in 9/10 reporting seeds (5/5 tuning seeds), although C is dominant in no
  seed's stage game at the start (the gap there is 0.05-0.37): the designer pays C 1.2-1.5 after mutual
  cooperation and nothing (C and D alike) after any defection, so a defection forfeits the following rounds'
  incentives. The previous page inferred this from the per-state gaps; the exact best responses now confirm it
  (seed 108, whose gap after mutual cooperation is the smallest, 1.23, falls short by 0.03). The designer return,
  -21.3 per episode on average, is still below the no-intervention -20 at alpha = 1.
* **TaxLite: the learners play the exact equilibrium of the learned rate** (greedy labour = the unique pure
  equilibrium in 10/10 seeds, best-responder gains 0), so the designer's value is what its rate implies. Against
  the optimum over continuous rates (96.0 at t = 0.743, where the skill-4 worker still works 10) the seeds that
  stop near 0.71 reach 91.5-92.9% with their learners and 96.7-97.3% with the exact equilibrium of their rate
  (99.9-100.5% of the 0.05 grid's 93.0: the grid's t* = 0.75 is not the continuous optimum); the seeds past the
  cliff reach 83%."""


if __name__ == "__main__":
    main()
