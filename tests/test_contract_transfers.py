"""The contract layer's generic extension: shared schedules, peer contracts, rule-based transfers."""

from __future__ import annotations

import numpy as np
import pytest

from contract_envs.contracts import ContractTerms, Ledger, peer_amounts, settle, transfer_matrix


def test_shared_schedule_is_one_row_for_every_agent():
    terms = ContractTerms(3, 2, 1.5, shared=True)
    assert terms.shape == (2,) and terms.principal_action_space().shape == (2,)
    out = terms.validate(np.array([0.5, 1.5]), 1)
    np.testing.assert_array_equal(out, [[[0.5, 1.5]] * 3])
    out[0, 0, 0] = 9.0  # a real array, not a read-only broadcast view
    batched = terms.validate(np.array([[0.0, 1.0], [1.0, 0.0]]), 2)
    assert batched.shape == (2, 3, 2)
    with pytest.raises(ValueError, match=r"schedule entry 1 in env 0 is 2.0; allowed range is \[0, 1.5\]"):
        terms.validate(np.array([[0.0, 2.0], [0.0, 0.0]]), 2)
    with pytest.raises(ValueError, match="schedule has dtype"):
        terms.validate(np.array(["a", "b"]), 1)
    # the unshared default is unchanged
    assert ContractTerms(3, 2, 1.5).shape == (3, 2)


def test_peer_amounts_settle_each_promise_on_the_payees_outcome():
    offers = np.zeros((1, 3, 3, 2))
    offers[0, 0, 1] = [1.0, 2.0]  # agent 0 -> agent 1: 1 for outcome 0, 2 for outcome 1
    offers[0, 2, 0] = [0.5, 0.0]  # agent 2 -> agent 0
    amounts = peer_amounts(offers, np.array([[0, 1, 0]]))
    np.testing.assert_array_equal(amounts[0], [[0, 2, 0], [0, 0, 0], [0.5, 0, 0]])


def test_settle_with_transfers_conserves_money_and_keeps_welfare():
    rules = np.zeros((2, 3, 3))
    rules[:, 0, 2] = [3.0, 1.0]  # agent 0 pays the principal (a tax)
    rules[:, 2, 1] = [3.0, 1.0]  # the principal pays agent 1 (redistribution)
    peer = np.zeros((2, 2, 2))
    peer[:, 1, 0] = 0.25
    transfers = transfer_matrix(2, 2, peer=peer, rules=rules)
    contracts = np.ones((2, 2, 1))
    s = settle(
        contracts,
        np.zeros((2, 2), dtype=np.int64),
        np.array([[1.0, 2.0], [0.0, 0.0]]),
        np.zeros(2),
        principal_in_welfare=False,
        transfers=transfers,
    )
    np.testing.assert_allclose(s.agent_utility, [[1 + 1 - 3 + 0.25, 2 + 1 + 3 - 0.25], [1 - 1 + 0.25, 1 + 1 - 0.25]])
    np.testing.assert_allclose(s.principal_utility, [-2 + 3 - 3, -2 + 1 - 1])
    np.testing.assert_allclose(s.agent_utility.sum(1) + s.principal_utility, s.agent_own.sum(1))
    np.testing.assert_array_equal(s.welfare, [3.0, 0.0])
    np.testing.assert_allclose(s.transfer_in.sum(1), s.transfer_out.sum(1))
    with pytest.raises(ValueError, match="finite and non-negative"):
        transfer_matrix(1, 2, rules=-np.ones((1, 3, 3)))


def test_settle_without_contracts_pays_nothing():
    s = settle(None, np.array([[5, 7]]), np.array([[1.0, 1.0]]), np.zeros(1))
    np.testing.assert_array_equal(s.payments, [[0.0, 0.0]])
    assert s.transfers is None


def test_ledger_transfer_keys_only_when_enabled():
    assert "transfer_in" not in Ledger(1, 2).agent_info(0)
    ledger = Ledger(1, 2, transfers=True)
    assert {"transfer_in", "transfer_out", "episode_transfer_in"} <= set(ledger.agent_info(1))
    assert "transfer_out" in ledger.principal_info()
