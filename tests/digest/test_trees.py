"""The boosted trees the keyword decision adds to its weights (digest/trees.py): they learn
what a straight line cannot, never move against a monotone constraint, and read a row
exactly as walking down each tree would."""

from __future__ import annotations

import json

import numpy as np
import pytest

from digest.trees import MAX_LEAVES, Forest, Settings, fit_forest


def walked(forest: Forest, rows: np.ndarray) -> np.ndarray:
    """The logits by walking each tree from its root, one row at a time."""
    out = np.full(len(rows), forest.base)
    for i, row in enumerate(rows):
        for root in forest.roots:
            node = int(root)
            while forest.feature[node] >= 0:
                go_left = row[forest.feature[node]] <= forest.threshold[node]
                node = int(forest.left[node] if go_left else forest.right[node])
            out[i] += forest.value[node]
    return out


def accuracy(forest: Forest, x: np.ndarray, y: np.ndarray) -> float:
    return float(((forest.logits(x) > 0) == (y > 0.5)).mean())


def test_trees_learn_an_interaction_a_straight_line_cannot():
    # Relevant when both signs agree (an XOR): no weighted sum of the two separates it.
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4000, 3))
    y = ((x[:, 0] > 0) == (x[:, 1] > 0)).astype(float)
    forest = fit_forest(x[:3000], y[:3000], settings=Settings(trees=60, leaves=4, learning_rate=0.2, min_rows=20))
    assert accuracy(forest, x[3000:], y[3000:]) > 0.9
    # Rows it never saw, read as a walk down each tree reads them.
    np.testing.assert_allclose(forest.logits(x[3000:]), walked(forest, x[3000:]), atol=1e-12)


def test_a_monotone_feature_never_lowers_the_outcome_even_where_the_data_says_so():
    # The outcome falls with x0 between 1 and 2 (noise in judging, say); the constraint
    # says more x0 is never worse, so the trees stay flat there instead.
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 3, size=(5000, 2))
    chance = np.clip(x[:, 0] / 3 - 0.6 * ((x[:, 0] > 1) & (x[:, 0] < 2)), 0.02, 0.98)
    y = (rng.uniform(size=5000) < chance).astype(float)
    free = fit_forest(x, y, [0, 0], Settings(trees=80, leaves=8, learning_rate=0.1, min_rows=30))
    rising = fit_forest(x, y, [1, 0], Settings(trees=80, leaves=8, learning_rate=0.1, min_rows=30))
    sweep = np.column_stack([np.linspace(0, 3, 301), np.full(301, 1.5)])
    assert (np.diff(free.logits(sweep)) < -1e-9).any()  # the data does fall
    assert (np.diff(rising.logits(sweep)) >= -1e-12).all()
    assert rising.logits(sweep)[-1] > rising.logits(sweep)[0] + 1.0  # and still rises overall
    falling = fit_forest(-x, y, [-1, 0], Settings(trees=80, leaves=8, learning_rate=0.1, min_rows=30))
    assert (np.diff(falling.logits(-sweep[::-1])) <= 1e-12).all()  # -x rising: never up


def test_the_logits_are_a_walk_down_every_tree_for_any_rows_and_survive_the_file():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3000, 5))
    y = (x[:, 0] + np.sin(3 * x[:, 1]) * x[:, 2] + rng.normal(scale=0.5, size=3000) > 0).astype(float)
    forest = fit_forest(x, y, [1, 0, 0, 0, 0], Settings(trees=40, leaves=MAX_LEAVES, min_rows=10))
    assert forest.depth >= 3  # leaf-wise growth: trees of uneven depth
    rows = rng.normal(scale=2.0, size=(500, 5))
    rows[:5] = x[:5]  # rows of the training data too, some right at a quantile
    np.testing.assert_allclose(forest.logits(rows), walked(forest, rows), atol=1e-12)
    read_back = Forest.from_dict(json.loads(json.dumps(forest.to_dict())), n_features=5)
    np.testing.assert_allclose(read_back.logits(x), forest.logits(x), atol=1e-6)  # values kept to 8 places
    assert forest.logits(np.zeros((0, 5))).shape == (0,)
    # Fitting is deterministic: the decision file is what training gives, on any machine.
    again = fit_forest(x, y, [1, 0, 0, 0, 0], Settings(trees=40, leaves=MAX_LEAVES, min_rows=10))
    assert again.to_dict() == forest.to_dict()


def test_boosting_on_another_models_logits_adds_only_what_it_missed():
    # What the weights already say is the offset; trees fitted on it add nothing where
    # the offset is right and correct it where it is not.
    rng = np.random.default_rng(4)
    x = rng.normal(size=(4000, 2))
    y = ((x[:, 0] > 0) | (x[:, 1] > 1.5)).astype(float)
    offset = np.where(x[:, 0] > 0, 4.0, -4.0)  # right except when x1 > 1.5
    forest = fit_forest(x, y, settings=Settings(trees=50, leaves=4, learning_rate=0.2, min_rows=20), offset=offset)
    assert forest.base == 0.0
    total = offset + forest.logits(x)
    assert ((total > 0) == (y > 0.5)).mean() > 0.97
    assert ((offset > 0) == (y > 0.5)).mean() < 0.97


def test_too_many_leaves_for_the_reading_is_refused():
    with pytest.raises(ValueError, match="leaves"):
        fit_forest(np.zeros((200, 1)), np.zeros(200), settings=Settings(leaves=MAX_LEAVES + 1))


def test_a_constant_outcome_or_a_constant_feature_gives_trees_that_never_split():
    x = np.ones((300, 2))
    y = (np.arange(300) % 2).astype(float)
    forest = fit_forest(x, y, settings=Settings(trees=5))
    assert (forest.feature < 0).all()
    np.testing.assert_allclose(forest.logits(x), 0.0, atol=1e-9)  # half relevant: even odds
