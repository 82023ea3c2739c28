"""Gradient-boosted decision trees for a binary outcome, in numpy: small enough to ship as
data and to read in a few vectorised steps, with monotone constraints so that more of a
"good" measurement never lowers the outcome.

Why not a library: LightGBM or scikit-learn would bring tens of megabytes (scipy) into a
default install for a model of about a hundred small trees fitted on twenty thousand
rows, and their file formats change between versions. What is needed here is small:
histogram splits over a few quantile bins per feature, leaf-wise growth to a fixed number
of leaves, Newton leaf values with L2 shrinkage, and LightGBM's "basic" monotone
constraints (a split on a constrained feature must order its children's values, and each
child's subtree is bounded by their midpoint).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

MAX_LEAVES = 8  # a tree's leaves are the bits of one byte (`Forest.logits`)
_SLOTS = MAX_LEAVES  # splits per tree as laid out: at most 7, padded to the 8 bytes of a uint64
_LOWEST_BIT = np.array([0] + [(v & -v).bit_length() - 1 for v in range(1, 256)], dtype=np.intp)


@dataclass(frozen=True)
class _Plan:
    """A forest laid out for `Forest.logits`: the trees that split, each as 8 split slots."""

    constant: float  # the values of trees that never split
    feature: np.ndarray  # 8 per tree
    threshold: np.ndarray
    survivors: np.ndarray  # per split, a bit per leaf of its tree: 0 for those on its left
    leaf_values: np.ndarray  # tree x leaf, leaves left to right
    leaf_offsets: np.ndarray  # where each tree's leaves start in `leaf_values` read flat


@dataclass(frozen=True)
class Forest:
    """Trees stored as flat arrays: node `n` is a leaf when `feature[n] < 0` (its value is
    `value[n]`), else rows with `x[feature[n]] <= threshold[n]` go to `left[n]`, the rest
    to `right[n]`. The outcome's logit is `base` plus each tree's leaf value."""

    base: float
    feature: np.ndarray  # int
    threshold: np.ndarray
    left: np.ndarray  # int
    right: np.ndarray  # int
    value: np.ndarray
    roots: np.ndarray  # int, one per tree
    depth: int  # the deepest leaf's depth

    def logits(self, rows: np.ndarray) -> np.ndarray:
        """The logit for each row, by QuickScorer's reading of a tree (Lucchese et al.,
        SIGIR 2015): every split a row fails (it goes right) rules out the leaves on its
        left, and the row's leaf is the leftmost one no failed split rules out. All splits
        of all trees are tested in one comparison, and a tree's (at most 8) splits are the
        8 bytes of one uint64, folded with 3 shifts: a keyword's few dozen candidates
        cost a handful of array operations instead of a walk down each tree (four to five
        times faster than walking all trees at once, level by level)."""
        n = len(rows)
        plan = self._plan
        if not n or not len(plan.leaf_values):
            return np.full(n, self.base + plan.constant)
        holds = np.take(rows, plan.feature, axis=1) <= plan.threshold  # a held split rules nothing out
        left = ((-holds.view(np.int8)).view(np.uint8) | plan.survivors).view(np.uint64)
        left &= left >> np.uint64(32)
        left &= left >> np.uint64(16)
        left &= left >> np.uint64(8)
        leftmost = _LOWEST_BIT[left & np.uint64(0xFF)]
        return self.base + plan.constant + plan.leaf_values.ravel()[plan.leaf_offsets + leftmost].sum(axis=1)

    @cached_property
    def _plan(self) -> _Plan:
        constant, feature, threshold, survivors, leaf_rows = 0.0, [], [], [], []
        for root in self.roots.tolist():
            leaves, splits = self._leaves_and_splits(root)
            if not splits:
                constant += float(self.value[leaves[0]])
                continue
            for node, on_left in splits:
                feature.append(int(self.feature[node]))
                threshold.append(float(self.threshold[node]))
                survivors.append(0xFF & ~sum(1 << leaf for leaf in on_left))
            padding = _SLOTS - len(splits)  # splits that always hold
            feature += [0] * padding
            threshold += [np.inf] * padding
            survivors += [0xFF] * padding
            leaf_rows.append([float(self.value[leaf]) for leaf in leaves] + [0.0] * (MAX_LEAVES - len(leaves)))
        return _Plan(
            constant,
            np.array(feature, dtype=np.intp),
            np.array(threshold, dtype=np.float64),
            np.array(survivors, dtype=np.uint8),
            np.array(leaf_rows, dtype=np.float64).reshape(len(leaf_rows), MAX_LEAVES),
            np.arange(len(leaf_rows)) * MAX_LEAVES,
        )

    def to_dict(self) -> dict:
        return {
            "base": round(self.base, 8),
            "depth": self.depth,
            "roots": self.roots.tolist(),
            "feature": self.feature.tolist(),
            "threshold": self.threshold.tolist(),
            "left": self.left.tolist(),
            "right": self.right.tolist(),
            "value": [round(float(v), 8) for v in self.value],
        }

    @classmethod
    def from_dict(cls, data: dict, n_features: int) -> Forest:
        """Raises ValueError for trees that are not well formed: arrays of other shapes, a
        node pointing outside the arrays, back up its tree or to a node that already has a
        parent, a feature this version does not have, more than MAX_LEAVES leaves."""
        try:
            feature, left, right, roots = (
                np.asarray(data[key], dtype=np.int64) for key in ("feature", "left", "right", "roots")
            )
            threshold, value = (np.asarray(data[key], dtype=np.float64) for key in ("threshold", "value"))
            base, depth = float(data["base"]), int(data["depth"])
        except OverflowError as exc:
            raise ValueError(f"a number out of range: {exc}") from exc
        n = len(feature) if feature.ndim == 1 else -1
        if n < 0 or any(a.shape != (n,) for a in (threshold, left, right, value)) or roots.ndim != 1:
            raise ValueError("every node needs one feature, threshold, left, right and value")
        if not np.isfinite([base, *threshold, *value]).all():
            raise ValueError("numbers must be finite")
        inner = feature >= 0
        if (feature >= n_features).any() or ((roots < 0) | (roots >= n)).any():
            raise ValueError(f"a node reads a feature or a root points outside the {n} nodes")
        # Children come after their parent and no node has two parents (nor is a root and
        # a child): every path ends at a leaf, and the trees are trees, not graphs.
        nodes = np.arange(n)
        children = np.concatenate([left[inner], right[inner]])
        if ((children <= np.concatenate([nodes[inner]] * 2)) | (children >= n)).any():
            raise ValueError("a node's children must come after it")
        if len(np.unique(np.concatenate([children, roots]))) != len(children) + len(roots):
            raise ValueError("a node has two parents, or is both a root and a child")
        if not 0 <= depth <= n:
            raise ValueError(f"depth {depth} is not between 0 and the number of nodes")
        forest = cls(base, feature, threshold, left, right, value, roots, depth)
        if depth < forest._deepest():
            raise ValueError(f"depth {depth} is less than the deepest leaf's")
        if (leaves := forest._most_leaves()) > MAX_LEAVES:
            raise ValueError(f"a tree of {leaves} leaves (at most {MAX_LEAVES})")
        return forest

    def _leaves_and_splits(self, root: int) -> tuple[list[int], list[tuple[int, list[int]]]]:
        """A tree's leaves left to right, and each split with the leaves (their places in
        that order) on its left."""
        leaves: list[int] = []
        splits: list[tuple[int, list[int]]] = []

        def visit(node: int) -> list[int]:
            if self.feature[node] < 0:
                leaves.append(node)
                return [len(leaves) - 1]
            on_left = visit(int(self.left[node]))
            splits.append((node, on_left))
            return on_left + visit(int(self.right[node]))

        visit(root)
        return leaves, splits

    def _most_leaves(self) -> int:
        most = 0
        for root in self.roots.tolist():
            leaves, stack = 0, [root]
            while stack:
                node = stack.pop()
                if self.feature[node] < 0:
                    leaves += 1
                else:
                    stack += [int(self.left[node]), int(self.right[node])]
            most = max(most, leaves)
        return most

    def _deepest(self) -> int:
        deepest, stack = 0, [(int(root), 0) for root in self.roots]
        while stack:
            node, depth = stack.pop()
            if self.feature[node] < 0:
                deepest = max(deepest, depth)
            else:
                stack += [(int(self.left[node]), depth + 1), (int(self.right[node]), depth + 1)]
        return deepest


@dataclass(frozen=True)
class Settings:
    trees: int = 150
    leaves: int = 8
    learning_rate: float = 0.05
    min_rows: int = 50  # in each leaf
    l2: float = 1.0
    bins: int = 32


def fit_forest(
    x: np.ndarray,
    y: np.ndarray,
    monotone: list[int] | None = None,
    settings: Settings = Settings(),
    offset: np.ndarray | None = None,
) -> Forest:
    """Boost trees on rows `x` (n × d) for outcomes `y` (0/1) by logistic loss.
    `monotone[j]` is +1 where the outcome may only rise with feature j, -1 where it may
    only fall, 0 where it is free. Deterministic: no sampling."""
    n, d = x.shape
    if not 2 <= settings.leaves <= MAX_LEAVES:
        raise ValueError(f"trees of 2 to {MAX_LEAVES} leaves, not {settings.leaves}")
    monotone = list(monotone or [0] * d)
    edges = [_edges(x[:, j], settings.bins) for j in range(d)]
    size = settings.bins + 1
    binned = np.column_stack([np.searchsorted(edges[j], x[:, j], side="left") + j * size for j in range(d)])
    logit: np.ndarray
    if offset is None:
        rate = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
        base = float(np.log(rate / (1 - rate)))
        logit = np.full(n, base)
    else:  # boosting what another model already says: the trees add to its logits
        base, logit = 0.0, offset.astype(float).copy()
    nodes: list[tuple[int, float, int, int, float]] = []  # feature, threshold, left, right, value
    roots = []
    for _ in range(settings.trees):
        p = 1.0 / (1.0 + np.exp(-logit))
        gradient, hessian = p - y, p * (1 - p)
        grown = _grow(binned, edges, gradient, hessian, monotone, settings)
        roots.append(_store(grown.tree, nodes, settings.learning_rate))
        for rows, value in grown.assignments:
            logit[rows] += settings.learning_rate * value
    columns = [np.array([node[i] for node in nodes]) for i in range(5)]
    forest = Forest(
        base,
        feature=columns[0].astype(np.int64),
        threshold=columns[1].astype(np.float64),
        left=columns[2].astype(np.int64),
        right=columns[3].astype(np.int64),
        value=columns[4].astype(np.float64),
        roots=np.array(roots, dtype=np.int64),
        depth=0,
    )
    return replace(forest, depth=forest._deepest())


def _edges(column: np.ndarray, bins: int) -> np.ndarray:
    """Split points: halfway between a quantile of the column and the next larger value in
    it, so that no row sits on a split (nor moves across one when the numbers are written
    to the decision file and read back)."""
    values = np.unique(column)
    quantiles = np.unique(np.quantile(column, np.linspace(0, 1, bins + 1)[1:-1], method="lower"))
    at = np.searchsorted(values, quantiles[quantiles < values[-1]])
    return (values[at] + values[at + 1]) / 2


@dataclass
class _Leaf:
    rows: np.ndarray
    lower: float
    upper: float
    tree: list  # where this leaf sits in its tree: filled in when it is split or done
    split: tuple[float, int, int, float, float] | None = None  # gain, feature, bin, left value, right value


@dataclass
class _Grown:
    tree: list  # nested: ("leaf", value) or ("split", feature, threshold, left, right)
    assignments: list[tuple[np.ndarray, float]]


def _newton(g: float | np.ndarray, h: float | np.ndarray, l2: float) -> float | np.ndarray:
    return -g / (h + l2)


def _best_split(leaf: _Leaf, binned, gradient, hessian, monotone, settings: Settings) -> tuple | None:
    """The split of `leaf` that most lowers the loss: (gain, feature, bin, left value,
    right value), or None. One histogram over every feature at once: `binned` holds each
    row's bin already offset by its feature's place (feature j's bins are j*size ...)."""
    rows = leaf.rows
    if len(rows) < 2 * settings.min_rows:
        return None
    d, size = len(monotone), settings.bins + 1
    flat = binned[rows].ravel()
    count = np.bincount(flat, minlength=d * size).reshape(d, size)
    g_hist = np.bincount(flat, weights=np.repeat(gradient[rows], d), minlength=d * size).reshape(d, size)
    h_hist = np.bincount(flat, weights=np.repeat(hessian[rows], d), minlength=d * size).reshape(d, size)
    # Left of a split after bin k: bins 0..k (the last bin never splits).
    count, g_left, h_left = (np.cumsum(hist, axis=1)[:, :-1] for hist in (count, g_hist, h_hist))
    g_all, h_all = g_hist[0].sum(), h_hist[0].sum()
    g_right, h_right = g_all - g_left, h_all - h_left
    ok = (count >= settings.min_rows) & (len(rows) - count >= settings.min_rows)
    w_left = np.clip(_newton(g_left, h_left, settings.l2), leaf.lower, leaf.upper)
    w_right = np.clip(_newton(g_right, h_right, settings.l2), leaf.lower, leaf.upper)
    direction = np.asarray(monotone, dtype=float)[:, None]
    ok &= direction * (w_right - w_left) >= 0
    # The loss reduction of the (possibly clipped) values, as LightGBM scores them.
    parent = g_all**2 / (h_all + settings.l2)
    gain = -(2 * g_left * w_left + (h_left + settings.l2) * w_left**2)
    gain -= 2 * g_right * w_right + (h_right + settings.l2) * w_right**2
    gain = np.where(ok, gain - parent, -np.inf)
    j, k = np.unravel_index(int(np.argmax(gain)), gain.shape)  # the first of equals: deterministic
    if not gain[j, k] > 1e-9:
        return None
    return float(gain[j, k]), int(j), int(k), float(w_left[j, k]), float(w_right[j, k])


def _grow(binned, edges, gradient, hessian, monotone, settings: Settings) -> _Grown:
    rows = np.arange(len(gradient))
    root: list = []
    leaves = [_Leaf(rows, -np.inf, np.inf, root)]
    leaves[0].split = _best_split(leaves[0], binned, gradient, hessian, monotone, settings)
    while len(leaves) < settings.leaves:
        splittable = [(leaf, leaf.split) for leaf in leaves if leaf.split is not None]
        if not splittable:
            break
        leaf, (_, j, k, w_left, w_right) = max(splittable, key=lambda pair: pair[1][0])  # first of equals
        goes_left = binned[leaf.rows, j] <= k + j * (settings.bins + 1)
        lower_left, upper_left, lower_right, upper_right = leaf.lower, leaf.upper, leaf.lower, leaf.upper
        if monotone[j]:
            middle = (w_left + w_right) / 2
            if monotone[j] > 0:
                upper_left, lower_right = middle, middle
            else:
                lower_left, upper_right = middle, middle
        left: list = []
        right: list = []
        leaf.tree[:] = ["split", j, float(edges[j][k]), left, right]
        children = [
            _Leaf(leaf.rows[goes_left], lower_left, upper_left, left),
            _Leaf(leaf.rows[~goes_left], lower_right, upper_right, right),
        ]
        for child in children:
            child.split = _best_split(child, binned, gradient, hessian, monotone, settings)
        leaves = [other for other in leaves if other is not leaf] + children
    assignments = []
    for leaf in leaves:
        value = float(
            np.clip(_newton(gradient[leaf.rows].sum(), hessian[leaf.rows].sum(), settings.l2), leaf.lower, leaf.upper)
        )
        leaf.tree[:] = ["leaf", value]
        assignments.append((leaf.rows, value))
    return _Grown(root, assignments)


def _store(tree: list, nodes: list, rate: float) -> int:
    """Append `tree` to the flat node list (a parent before its children); its index."""
    at = len(nodes)
    if tree[0] == "leaf":
        nodes.append((-1, 0.0, -1, -1, rate * tree[1]))
        return at
    _, feature, threshold, left, right = tree
    nodes.append((feature, threshold, -1, -1, 0.0))
    left_at = _store(left, nodes, rate)
    right_at = _store(right, nodes, rate)
    nodes[at] = (feature, threshold, left_at, right_at, 0.0)
    return at
