"""Tests of benchmarks/reproduce_incentives.py's target checks (on synthetic run metrics; no training)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _load():
    path = ROOT / "benchmarks" / "reproduce_incentives.py"
    spec = importlib.util.spec_from_file_location("reproduce_incentives", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


ri = _load()


def _er_run(welfare, net, lever, history):
    return {
        "eval": {
            "welfare": welfare,
            "designer_return": net,
            "door_opened": 1.0 if welfare > 0 else 0.0,
            "schedule_at_start": [lever, 0.0, 0.0],
        },
        "history": [{"designer_return": r, "welfare": w, "schedule_at_start": [t, 0.0, 0.0]} for r, w, t in history],
    }


def test_escape_room_targets_count_seeds_and_average_the_second_half():
    early = [(-5.0, -4.0, 2.0)] * 2
    runs = {
        "metagrad": [
            _er_run(7.9, 5.0, 1.2, early + [(5.0, 7.9, 1.5), (6.0, 8.0, 0.5)]),
            _er_run(6.0, 3.0, 0.0, early + [(3.0, 7.0, 1.0), (4.0, 7.0, 1.0)]),
        ],
        "none": [_er_run(-3.0, -3.0, 0.0, early)],
    }
    text = ri.targets("er_3_2", runs)
    assert "7.2 in **1/2** seeds" in text  # 0.9 x 8 = 7.2: only the first seed's final welfare reaches it
    assert "equilibrium of the final schedule, in 1/2 seeds" in text  # final lever incentive 1.2 > 1, 0.0 is not
    assert "net return 4.50 ± 1.00 (per seed 5.5, 3.5)" in text  # second half: (5 + 6) / 2 and (3 + 4) / 2
    assert "door never opened in any evaluation episode in 1/1 seeds" in text


def test_prisoners_dilemma_targets_report_the_maintained_gap():
    def run(gaps):
        return {
            "eval": {"cooperation": 1.0, "tau_C_minus_tau_D": gaps[-1]},
            "history": [{"tau_C_minus_tau_D": g} for g in gaps],
        }

    text = ri.targets(
        "pd",
        {"metagrad": [run([3.0, 3.0, 1.5, 2.5]), run([3.0, 3.0, 1.0, 2.0])], "none": [{"eval": {"cooperation": 0.1}}]},
    )
    assert "gap averaged over the second half of training 1.75 ± 0.25" in text
    assert "range per seed 1.50-2.50, 1.00-2.00" in text
    assert "no designer: cooperation 0.10" in text


def test_prisoners_dilemma_learner_specific_threshold():
    # sigmoid((g - 1) / beta): the dominance threshold g = 1 gives 1/2; g = 1 + beta ln 9 gives 0.9
    assert ri.regularised_cooperation(1.0, 0.4) == 0.5
    assert abs(ri.regularised_cooperation(1.0 + 0.4 * np.log(9.0), 0.4) - 0.9) < 1e-12
    assert abs(ri.regularised_gap(0.99, 0.4) - (1.0 + 0.4 * np.log(99.0))) < 1e-12
    assert abs(ri.regularised_gap(ri.regularised_cooperation(1.7, 0.05), 0.05) - 1.7) < 1e-9
    run = {
        "args": {"entropy_coef": 0.4},
        "eval": {"cooperation": 1.0, "tau_C_minus_tau_D": 1.4},
        "history": [{"tau_C_minus_tau_D": 1.4}] * 2,
    }
    text = ri.targets("pd", {"metagrad": [run, run], "none": []})
    assert "cooperation 0.9 / 0.99 needs g = 1.88 / 2.84" in text
    assert "final gaps imply cooperation 0.73 ± 0.00" in text  # sigmoid(0.4 / 0.4) = 0.731
