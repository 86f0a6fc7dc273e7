"""IFFairLoop: the state across updates, fed values only."""

import numpy as np
from numpy.testing import assert_allclose

from sklearn_fairif._iffair_loop import IFFairLoop, iffair_constraints


def _loop(n=50, seed=0):
    rng = np.random.default_rng(seed)
    y_val = rng.integers(0, 2, 40)
    s_val = np.repeat([0, 1], 20)
    groups, constraints = iffair_constraints(
        "equalized_odds", y_val, s_val, temperature=1.0, surrogate="softmax",
        random_state=None)
    loop = IFFairLoop(groups, y_val, n, variant="diverse", step_size=0.2,
                      bounds=(0.0, 10.0), utility_tolerance=None)
    return loop, constraints, rng, y_val


def test_constraints_stack_the_soft_accuracy():
    loop, constraints, _, _ = _loop()
    assert constraints.n_constraints == loop.n_groups + 1  # 4 group rates + 1


def test_updates_move_weights_and_history_follows():
    loop, constraints, rng, y_val = _loop()
    k = constraints.n_constraints
    values = np.array([0.9, 0.5, 0.4, 0.8, 0.7])[:k]
    for _ in range(3):
        moved = loop.update(rng.normal(size=(50, k)) * 1e-3, values, y_val)
        assert moved
    loop.evaluate(values, y_val)
    run = loop.history()
    assert run.n_updates == 3
    assert run.trajectory.shape == (4, 50)
    assert run.validation_gaps.shape == (4, 2)
    assert_allclose(run.weights.mean(), 1.0)
    assert_allclose(run.history["val_accuracy"], 1.0)  # perfect predictions
    assert len(run.history["step_scale"]) == 3
    assert run.gap_names == ["tpr", "tnr"]
