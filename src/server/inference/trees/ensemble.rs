//! A tree ensemble as the ONNX-ML operators `TreeEnsembleRegressor` and
//! `TreeEnsembleClassifier` describe it, checked once when it is built and
//! evaluated in `f64`.
//!
//! Evaluating in `f64` is what makes the answers match scikit-learn's:
//! scikit-learn compares `float32` features with `float64` thresholds and
//! sums the trees in `float64`. A threshold given as `float` (the
//! `nodes_values` attribute) widens to `f64` exactly, so comparing there is
//! the same as comparing in `f32`; one given as `double`
//! (`nodes_values_as_tensor`) keeps its precision.

use std::collections::HashMap;

/// How a branch compares a feature with its threshold (the `BRANCH_*` node
/// modes); true takes the node's true branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    LessOrEqual,
    Less,
    GreaterOrEqual,
    Greater,
    Equal,
    NotEqual,
}

impl Comparison {
    fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::LessOrEqual => value <= threshold,
            Comparison::Less => value < threshold,
            Comparison::GreaterOrEqual => value >= threshold,
            Comparison::Greater => value > threshold,
            Comparison::Equal => value == threshold,
            Comparison::NotEqual => value != threshold,
        }
    }
}

/// How the votes of the trees for one target are combined
/// (`aggregate_function`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregate {
    Sum,
    /// The sum divided by the number of trees.
    Average,
    Min,
    Max,
}

/// One node of a tree, in 24 bytes: a forest's nodes are read at random
/// for every row, so the fewer cache lines they take the better.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Node {
    threshold: f64,
    /// The feature a branch reads, or [`LEAF`].
    feature: u32,
    /// A branch's children; a leaf's votes are `votes[if_true..if_false]`.
    if_true: u32,
    if_false: u32,
    comparison: Comparison,
    /// Whether a missing value (NaN) takes the true branch; otherwise it
    /// takes the branch the comparison gives (false, except for
    /// `BRANCH_NEQ`).
    missing_is_true: bool,
}

/// The `feature` of a leaf.
const LEAF: u32 = u32::MAX;

/// One weight a leaf gives to one target (a regression target, or a class).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Vote {
    target: usize,
    weight: f64,
}

/// The operator's node and leaf attributes, one entry per node (the
/// `nodes_*` lists) and one per vote (`target_*` or `class_*`).
#[derive(Clone, Debug, Default)]
pub struct TreeLists {
    pub tree_ids: Vec<i64>,
    pub node_ids: Vec<i64>,
    pub feature_ids: Vec<i64>,
    /// `BRANCH_LEQ`, `BRANCH_LT`, `BRANCH_GTE`, `BRANCH_GT`, `BRANCH_EQ`,
    /// `BRANCH_NEQ` or `LEAF`.
    pub modes: Vec<String>,
    pub values: Vec<f64>,
    pub true_node_ids: Vec<i64>,
    pub false_node_ids: Vec<i64>,
    /// Empty, or one flag per node.
    pub missing_tracks_true: Vec<bool>,
    pub vote_tree_ids: Vec<i64>,
    pub vote_node_ids: Vec<i64>,
    pub vote_targets: Vec<i64>,
    pub vote_weights: Vec<f64>,
}

/// A checked tree ensemble: every branch leads to a node of its own tree,
/// no tree loops, every vote is for a leaf and a known target.
#[derive(Clone, Debug, PartialEq)]
pub struct Ensemble {
    roots: Vec<usize>,
    nodes: Vec<Node>,
    votes: Vec<Vote>,
    targets: usize,
    /// One more than the highest feature a branch reads.
    features: usize,
    /// Whether every branch is `BRANCH_LEQ` without a missing-value track.
    plain: bool,
    /// Whether every vote's weight is zero or more.
    weights_are_all_positive: bool,
}

impl Ensemble {
    /// Checks and builds the ensemble of `lists` for `targets` targets (or
    /// classes). The errors name the attribute and the entry at fault.
    pub fn build(lists: &TreeLists, targets: usize) -> Result<Ensemble, String> {
        let n = lists.node_ids.len();
        let same_length = [
            ("nodes_treeids", lists.tree_ids.len()),
            ("nodes_featureids", lists.feature_ids.len()),
            ("nodes_modes", lists.modes.len()),
            ("nodes_values", lists.values.len()),
            ("nodes_truenodeids", lists.true_node_ids.len()),
            ("nodes_falsenodeids", lists.false_node_ids.len()),
        ];
        for (name, len) in same_length {
            if len != n {
                return Err(format!(
                    "{name} has {len} entries but nodes_nodeids has {n}"
                ));
            }
        }
        if !lists.missing_tracks_true.is_empty() && lists.missing_tracks_true.len() != n {
            return Err(format!(
                "nodes_missing_value_tracks_true has {} entries but nodes_nodeids has {n}",
                lists.missing_tracks_true.len()
            ));
        }
        let votes_n = lists.vote_weights.len();
        for (name, len) in [
            ("treeids", lists.vote_tree_ids.len()),
            ("nodeids", lists.vote_node_ids.len()),
            ("ids", lists.vote_targets.len()),
        ] {
            if len != votes_n {
                return Err(format!(
                    "the leaves' {name} has {len} entries but their weights have {votes_n}"
                ));
            }
        }
        if n == 0 {
            return Err("the ensemble has no nodes".into());
        }
        // Node and vote positions are kept in 32 bits.
        if n >= LEAF as usize || votes_n >= LEAF as usize {
            return Err(format!(
                "the ensemble has {n} nodes and {votes_n} votes; at most {} of each",
                LEAF - 1
            ));
        }

        let mut index: HashMap<(i64, i64), usize> = HashMap::with_capacity(n);
        for i in 0..n {
            let key = (lists.tree_ids[i], lists.node_ids[i]);
            if index.insert(key, i).is_some() {
                return Err(format!("node {} of tree {} appears twice", key.1, key.0));
            }
        }
        // A tree's root is its lowest node id (the specification numbers
        // them from 0).
        let mut lowest: HashMap<i64, (i64, usize)> = HashMap::new();
        for (&(tree, node), &i) in &index {
            let entry = lowest.entry(tree).or_insert((node, i));
            if node < entry.0 {
                *entry = (node, i);
            }
        }
        let mut roots: Vec<(i64, i64, usize)> = lowest
            .into_iter()
            .map(|(tree, (node, i))| (tree, node, i))
            .collect();
        roots.sort_unstable();

        // Each leaf's votes, in the order given.
        let mut leaf_votes: Vec<Vec<Vote>> = vec![Vec::new(); n];
        for v in 0..votes_n {
            let key = (lists.vote_tree_ids[v], lists.vote_node_ids[v]);
            let Some(&i) = index.get(&key) else {
                return Err(format!(
                    "vote {v} is for node {} of tree {}, which does not exist",
                    key.1, key.0
                ));
            };
            let target = usize::try_from(lists.vote_targets[v])
                .ok()
                .filter(|t| *t < targets)
                .ok_or_else(|| {
                    format!(
                        "vote {v} is for target {} but there are {targets}",
                        lists.vote_targets[v]
                    )
                })?;
            leaf_votes[i].push(Vote {
                target,
                weight: lists.vote_weights[v],
            });
        }

        let mut nodes = Vec::with_capacity(n);
        let mut votes = Vec::with_capacity(votes_n);
        let mut features = 0;
        for i in 0..n {
            let tree = lists.tree_ids[i];
            let node = lists.node_ids[i];
            let comparison = match lists.modes[i].as_str() {
                "LEAF" => {
                    let first = votes.len();
                    votes.extend_from_slice(&leaf_votes[i]);
                    nodes.push(Node {
                        threshold: 0.0,
                        feature: LEAF,
                        if_true: first as u32,
                        if_false: votes.len() as u32,
                        comparison: Comparison::LessOrEqual,
                        missing_is_true: false,
                    });
                    continue;
                }
                "BRANCH_LEQ" => Comparison::LessOrEqual,
                "BRANCH_LT" => Comparison::Less,
                "BRANCH_GTE" => Comparison::GreaterOrEqual,
                "BRANCH_GT" => Comparison::Greater,
                "BRANCH_EQ" => Comparison::Equal,
                "BRANCH_NEQ" => Comparison::NotEqual,
                other => {
                    return Err(format!(
                        "node {node} of tree {tree} has the unknown mode {other:?}"
                    ))
                }
            };
            if !leaf_votes[i].is_empty() {
                return Err(format!(
                    "node {node} of tree {tree} is a branch but has votes"
                ));
            }
            let child = |id: i64, which: &str| {
                index.get(&(tree, id)).copied().ok_or_else(|| {
                    format!("node {node} of tree {tree}: its {which} node {id} is not in the tree")
                })
            };
            let feature = u32::try_from(lists.feature_ids[i])
                .ok()
                .filter(|f| *f < LEAF)
                .ok_or_else(|| {
                    format!(
                        "node {node} of tree {tree} reads feature {}",
                        lists.feature_ids[i]
                    )
                })?;
            features = features.max(feature as usize + 1);
            nodes.push(Node {
                threshold: lists.values[i],
                feature,
                if_true: child(lists.true_node_ids[i], "true")? as u32,
                if_false: child(lists.false_node_ids[i], "false")? as u32,
                comparison,
                missing_is_true: lists.missing_tracks_true.get(i).copied().unwrap_or(false),
            });
        }
        let plain = nodes.iter().all(|n| {
            n.feature == LEAF || (n.comparison == Comparison::LessOrEqual && !n.missing_is_true)
        });
        let ensemble = Ensemble {
            plain,
            weights_are_all_positive: votes.iter().all(|v| v.weight >= 0.0),
            roots: roots.iter().map(|r| r.2).collect(),
            nodes,
            votes,
            targets,
            features,
        };
        ensemble.check_no_loops(&roots)?;
        Ok(ensemble)
    }

    /// Fails if a walk from some root can come back to a node it passed:
    /// evaluating that tree would never end.
    fn check_no_loops(&self, roots: &[(i64, i64, usize)]) -> Result<(), String> {
        // 0: not seen, 1: on the current path, 2: done.
        let mut state = vec![0u8; self.nodes.len()];
        for &(tree, _, root) in roots {
            let mut stack = vec![(root, false)];
            while let Some((i, leaving)) = stack.pop() {
                if leaving {
                    state[i] = 2;
                    continue;
                }
                match state[i] {
                    2 => continue,
                    1 => return Err(format!("tree {tree} loops")),
                    _ => {}
                }
                state[i] = 1;
                stack.push((i, true));
                let node = self.nodes[i];
                if node.feature != LEAF {
                    for child in [node.if_true as usize, node.if_false as usize] {
                        match state[child] {
                            1 => return Err(format!("tree {tree} loops")),
                            0 => stack.push((child, false)),
                            _ => {}
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// How many targets (or classes) a row gets a score for.
    pub fn targets(&self) -> usize {
        self.targets
    }

    /// How many features a row must have at least.
    pub fn features(&self) -> usize {
        self.features
    }

    /// Whether every vote's weight is zero or more.
    pub fn weights_are_all_positive(&self) -> bool {
        self.weights_are_all_positive
    }

    /// How many targets some leaf votes for.
    pub fn voted_target_count(&self) -> usize {
        let mut seen = vec![false; self.targets];
        self.votes.iter().for_each(|v| seen[v.target] = true);
        seen.into_iter().filter(|s| *s).count()
    }

    /// Combines the trees' votes for each of the `n_rows` rows of `rows`
    /// (row-major, `stride` values a row, at least [`Self::features`]) into `scores`
    /// (row-major, one per target), and says per target in `voted` whether
    /// any tree voted for it. An average is the sum divided by the number
    /// of trees; a target nobody voted for scores 0.
    ///
    /// One tree at a time for all the rows: its nodes stay in the cache.
    pub fn score_rows(
        &self,
        rows: &[f64],
        n_rows: usize,
        stride: usize,
        aggregate: Aggregate,
        scores: &mut [f64],
        voted: &mut [bool],
    ) {
        scores.fill(0.0);
        voted.fill(false);
        let targets = self.targets;
        for &root in &self.roots {
            for r in 0..n_rows {
                let leaf = self.leaf(root, &rows[r * stride..(r + 1) * stride]);
                for vote in &self.votes[leaf.if_true as usize..leaf.if_false as usize] {
                    let at = r * targets + vote.target;
                    let (score, seen) = (&mut scores[at], &mut voted[at]);
                    *score = match aggregate {
                        Aggregate::Sum | Aggregate::Average => *score + vote.weight,
                        Aggregate::Min if *seen => score.min(vote.weight),
                        Aggregate::Max if *seen => score.max(vote.weight),
                        Aggregate::Min | Aggregate::Max => vote.weight,
                    };
                    *seen = true;
                }
            }
        }
        if aggregate == Aggregate::Average {
            let trees = self.roots.len() as f64;
            scores.iter_mut().for_each(|s| *s /= trees);
        }
    }

    /// The leaf `row` reaches from `root`.
    #[inline]
    fn leaf(&self, root: usize, row: &[f64]) -> Node {
        let mut node = self.nodes[root];
        if self.plain {
            // What scikit-learn's exports are: one comparison, no missing
            // values tracked.
            while node.feature != LEAF {
                let taken = row[node.feature as usize] <= node.threshold;
                node = self.nodes[if taken { node.if_true } else { node.if_false } as usize];
            }
            return node;
        }
        while node.feature != LEAF {
            let value = row[node.feature as usize];
            let taken = node.comparison.holds(value, node.threshold)
                || (node.missing_is_true && value.is_nan());
            node = self.nodes[if taken { node.if_true } else { node.if_false } as usize];
        }
        node
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One tree: feature 0 <= 1.5 → leaf 1 (votes `left`), else leaf 2
    /// (votes `right`); NaN goes to `missing_true`'s side.
    fn stump(mode: &str, left: f64, right: f64, missing_true: bool) -> TreeLists {
        TreeLists {
            tree_ids: vec![0, 0, 0],
            node_ids: vec![0, 1, 2],
            feature_ids: vec![0, 0, 0],
            modes: vec![mode.into(), "LEAF".into(), "LEAF".into()],
            values: vec![1.5, 0.0, 0.0],
            true_node_ids: vec![1, 0, 0],
            false_node_ids: vec![2, 0, 0],
            missing_tracks_true: vec![missing_true, false, false],
            vote_tree_ids: vec![0, 0],
            vote_node_ids: vec![1, 2],
            vote_targets: vec![0, 0],
            vote_weights: vec![left, right],
        }
    }

    fn score(ensemble: &Ensemble, row: &[f64], aggregate: Aggregate) -> f64 {
        let (mut scores, mut voted) = (vec![0.0; 1], vec![false; 1]);
        ensemble.score_rows(row, 1, row.len(), aggregate, &mut scores, &mut voted);
        scores[0]
    }

    #[test]
    fn every_comparison_sends_the_row_the_way_the_specification_says() {
        let cases = [
            ("BRANCH_LEQ", [(1.0, 10.0), (1.5, 10.0), (2.0, 20.0)]),
            ("BRANCH_LT", [(1.0, 10.0), (1.5, 20.0), (2.0, 20.0)]),
            ("BRANCH_GTE", [(1.0, 20.0), (1.5, 10.0), (2.0, 10.0)]),
            ("BRANCH_GT", [(1.0, 20.0), (1.5, 20.0), (2.0, 10.0)]),
            ("BRANCH_EQ", [(1.0, 20.0), (1.5, 10.0), (2.0, 20.0)]),
            ("BRANCH_NEQ", [(1.0, 10.0), (1.5, 20.0), (2.0, 10.0)]),
        ];
        for (mode, rows) in cases {
            let e = Ensemble::build(&stump(mode, 10.0, 20.0, false), 1).unwrap();
            for (x, want) in rows {
                assert_eq!(score(&e, &[x], Aggregate::Sum), want, "{mode} at {x}");
            }
        }
    }

    #[test]
    fn a_missing_value_follows_its_track() {
        let tracked = Ensemble::build(&stump("BRANCH_LEQ", 10.0, 20.0, true), 1).unwrap();
        let untracked = Ensemble::build(&stump("BRANCH_LEQ", 10.0, 20.0, false), 1).unwrap();
        assert_eq!(score(&tracked, &[f64::NAN], Aggregate::Sum), 10.0);
        assert_eq!(score(&untracked, &[f64::NAN], Aggregate::Sum), 20.0);
    }

    #[test]
    fn min_and_max_start_from_the_first_vote_not_from_zero() {
        let mut lists = stump("BRANCH_LEQ", -3.0, -4.0, false);
        // A second tree, a copy of the first, voting -5 / -1.
        let copy = stump("BRANCH_LEQ", -5.0, -1.0, false);
        lists.tree_ids.extend([1, 1, 1]);
        lists.node_ids.extend(copy.node_ids);
        lists.feature_ids.extend(copy.feature_ids);
        lists.modes.extend(copy.modes);
        lists.values.extend(copy.values);
        lists.true_node_ids.extend(copy.true_node_ids);
        lists.false_node_ids.extend(copy.false_node_ids);
        lists.missing_tracks_true.extend(copy.missing_tracks_true);
        lists.vote_tree_ids.extend([1, 1]);
        lists.vote_node_ids.extend(copy.vote_node_ids);
        lists.vote_targets.extend(copy.vote_targets);
        lists.vote_weights.extend(copy.vote_weights);
        let e = Ensemble::build(&lists, 1).unwrap();
        assert_eq!(score(&e, &[1.0], Aggregate::Max), -3.0);
        assert_eq!(score(&e, &[1.0], Aggregate::Min), -5.0);
        assert_eq!(score(&e, &[2.0], Aggregate::Sum), -5.0);
        assert_eq!(score(&e, &[2.0], Aggregate::Average), -2.5);
    }

    #[test]
    fn malformed_trees_are_refused_with_the_reason() {
        let mut looping = stump("BRANCH_LEQ", 1.0, 2.0, false);
        looping.modes[1] = "BRANCH_LEQ".into();
        looping.vote_node_ids = vec![2, 2];
        looping.true_node_ids[1] = 0;
        looping.false_node_ids[1] = 2;
        assert_eq!(Ensemble::build(&looping, 1).unwrap_err(), "tree 0 loops");

        let mut stray = stump("BRANCH_LEQ", 1.0, 2.0, false);
        stray.true_node_ids[0] = 7;
        assert!(Ensemble::build(&stray, 1)
            .unwrap_err()
            .contains("true node 7 is not in the tree"));

        let mut target = stump("BRANCH_LEQ", 1.0, 2.0, false);
        target.vote_targets[1] = 3;
        assert!(Ensemble::build(&target, 1)
            .unwrap_err()
            .contains("target 3 but there are 1"));

        let mut mode = stump("BRANCH_XX", 1.0, 2.0, false);
        mode.modes[0] = "BRANCH_XX".into();
        assert!(Ensemble::build(&mode, 1)
            .unwrap_err()
            .contains("unknown mode"));

        let mut short = stump("BRANCH_LEQ", 1.0, 2.0, false);
        short.values.pop();
        assert!(Ensemble::build(&short, 1)
            .unwrap_err()
            .contains("nodes_values has 2 entries"));
    }
}
