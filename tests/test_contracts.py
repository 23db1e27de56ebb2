"""Contract layer: validation errors, settlement and ledger identities."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from contract_envs.contracts import ContractTerms, Ledger, settle, validate_actions

TERMS = ContractTerms(n_agents=2, n_outcomes=3, payment_cap=5.0)


@pytest.mark.parametrize(
    "offer, message",
    [
        (np.zeros((2, 2)), r"principal_0: contract has shape \(2, 2\); expected \(2, 3\)"),
        (np.array([[0, 1, np.nan], [0, 0, 0]]), r"agent_0 for outcome 2 is nan; allowed range is \[0, 5.0\]"),
        (np.array([[0, 1, 0], [0, np.inf, 0]]), r"payment to agent_1 for outcome 1 is inf"),
        (np.array([[0, 1, 0], [-0.1, 0, 0]]), r"payment to agent_1 for outcome 0 is -0.1.*limited liability"),
        (np.array([[0, 6.0, 0], [0, 0, 0]]), r"payment to agent_0 for outcome 1 is 6.0; allowed range is \[0, 5.0\]"),
        (np.array([["a", "b", "c"], ["d", "e", "f"]]), r"dtype <U1, which is not a real number type"),
        (np.ones((2, 3), dtype=complex), r"dtype complex128"),
    ],
)
def test_bad_contracts_raise_clear_errors(offer, message):
    with pytest.raises(ValueError, match=message):
        TERMS.validate(offer, num_envs=1)


def test_batched_contract_error_names_env():
    offers = np.zeros((4, 2, 3))
    offers[2, 1, 0] = -1.0
    with pytest.raises(ValueError, match=r"agent_1 for outcome 0 in env 2"):
        TERMS.validate(offers, num_envs=4)


def test_valid_contract_is_not_clipped_or_changed():
    offer = np.array([[0.0, 1.25, 5.0], [0.5, 0.0, 0.0]], dtype=np.float32)
    out = TERMS.validate(offer, num_envs=1)
    assert out.shape == (1, 2, 3) and out.dtype == np.float64
    np.testing.assert_array_equal(out[0], offer.astype(np.float64))


def test_terms_reject_bad_construction():
    with pytest.raises(ValueError, match="payment_cap"):
        ContractTerms(1, 2, float("inf"))
    with pytest.raises(ValueError, match=r"n_agents must be an integer in \[1, inf\), got 0"):
        ContractTerms(0, 2, 1.0)


@pytest.mark.parametrize(
    "actions, message",
    [
        ({"agent_0": 0}, r"agent_1: no action given; expected an int in \[0, 3\]"),
        ({"agent_0": 0, "agent_1": 4}, r"agent_1: action 4 is out of range; allowed \[0, 3\]"),
        ({"agent_0": -1, "agent_1": 0}, r"agent_0: action -1 is out of range"),
        ({"agent_0": 0.5, "agent_1": 0}, r"agent_0: action 0.5 is not an integer"),
        ({"agent_0": [0, 1], "agent_1": 0}, r"agent_0: action has shape \(2,\)"),
    ],
)
def test_bad_actions_raise_clear_errors(actions, message):
    with pytest.raises(ValueError, match=message):
        validate_actions(actions, 1, 4, ["agent_0", "agent_1"])


@settings(max_examples=60, deadline=None)
@given(
    contracts=arrays(np.float64, (5, 3, 4), elements=st.floats(0, 10, allow_nan=False)),
    outcomes=arrays(np.int64, (5, 3), elements=st.integers(0, 3)),
    own=arrays(np.float64, (5, 3), elements=st.floats(-5, 5, allow_nan=False)),
    principal_own=arrays(np.float64, (5,), elements=st.floats(-5, 5, allow_nan=False)),
)
def test_settlement_conserves_money(contracts, outcomes, own, principal_own):
    s = settle(contracts, outcomes, own, principal_own, principal_in_welfare=True)
    # Outlay equals receipts exactly, and each agent is paid its contract's entry for its outcome.
    assert np.array_equal(s.principal_paid, s.payments.sum(axis=1))
    for b in range(5):
        for i in range(3):
            assert s.payments[b, i] == contracts[b, i, outcomes[b, i]]
    np.testing.assert_allclose(s.agent_utility.sum(1) + s.principal_utility, s.welfare, atol=1e-9)
    assert np.all(s.payments >= 0)


def test_ledger_accumulates_and_resets_per_env():
    ledger = Ledger(num_envs=2, n_agents=1)
    s = settle(np.ones((2, 1, 2)), np.zeros((2, 1), dtype=np.int64), np.full((2, 1), -0.5), np.array([2.0, 3.0]))
    ledger.record(s)
    ledger.record(s)
    np.testing.assert_allclose(ledger.principal_info()["episode_payment"], [2.0, 2.0])
    np.testing.assert_allclose(ledger.agent_info(0)["episode_utility"], [1.0, 1.0])
    ledger.reset(np.array([1]))
    np.testing.assert_allclose(ledger.principal_info()["episode_utility"], [2.0 * (2.0 - 1.0), 0.0])
    np.testing.assert_allclose(ledger.principal_info()["utility"], [1.0, 0.0])
    info = ledger.principal_info()
    assert set(info) == {
        "own_reward",
        "payment",
        "utility",
        "welfare",
        "episode_own_reward",
        "episode_payment",
        "episode_utility",
        "episode_welfare",
    }


def test_validated_offers_do_not_alias_the_callers_buffer():
    """An offer is settled on what was offered, even if the caller reuses its array before the act stage."""
    import contract_envs

    env = contract_envs.vector.make("contract_envs/principal_agent_mdp-v1", 1, seed=0, depth=2)
    buffer = np.array([[[0.0, 1.5]]])
    env.step({"principal_0": buffer})
    buffer[...] = 9.0  # reused for something else
    _, _, _, _, infos = env.step({"agent_0": np.array([1])})
    outcome = infos["agent_0"]["outcome"][0]
    assert infos["agent_0"]["payment"][0] == [0.0, 1.5][outcome]
    offer = np.zeros((1, 2, 3))  # already float64 [B, N, O]: validation must still copy it
    assert not np.shares_memory(TERMS.validate(offer, num_envs=1), offer)
