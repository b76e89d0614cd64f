//! Tree ensembles for tract: the ONNX-ML operators `TreeEnsembleRegressor`
//! (which tract-onnx does not implement) and `TreeEnsembleClassifier`
//! (whose tract implementation refuses binary gradient boosting, labels
//! binary random forests 0 whatever the row, and cannot label with
//! strings), registered in place of tract's on the ONNX loader.
//!
//! Every attribute of the ONNX-ML specification (version 3 of the
//! `ai.onnx.ml` domain) is read: the six branch modes, missing-value
//! tracks, the four aggregate functions, the five post transforms, base
//! values, and thresholds, weights and base values given as `double`
//! (`*_as_tensor`) as well as `float`.

mod ensemble;
mod op;
#[cfg(test)]
mod tests;
mod transform;

use std::sync::Arc;

use tract_onnx::model::{Onnx, ParsingContext};
use tract_onnx::pb::{NodeProto, TensorProto};
use tract_onnx::tract_hir::internal::*;

use ensemble::{Aggregate, Ensemble, TreeLists};
use op::{Labels, TreeClassifier, TreeRegressor};
use transform::PostTransform;

/// tract's ONNX loader with the tree ensemble operators of this module.
pub fn onnx() -> Onnx {
    let mut onnx = tract_onnx::onnx();
    onnx.op_register
        .insert("TreeEnsembleRegressor", tree_regressor);
    onnx.op_register
        .insert("TreeEnsembleClassifier", tree_classifier);
    onnx
}

fn tree_regressor(
    ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let targets: i64 = node.get_attr_opt("n_targets")?.unwrap_or(1);
    node.expect_attr("n_targets", targets > 0, "a positive number")?;
    let targets = targets as usize;
    let ensemble = ensemble(ctx, node, "target", targets)?;
    let aggregate = match node
        .get_attr_opt::<&str>("aggregate_function")?
        .unwrap_or("SUM")
    {
        "SUM" => Aggregate::Sum,
        "AVERAGE" => Aggregate::Average,
        "MIN" => Aggregate::Min,
        "MAX" => Aggregate::Max,
        other => node.bail_attr(
            "aggregate_function",
            &format!("{other:?} is not one of SUM, AVERAGE, MIN, MAX"),
        )?,
    };
    let base_values = floats(ctx, node, "base_values")?.unwrap_or_default();
    node.expect_attr(
        "base_values",
        base_values.is_empty() || base_values.len() == targets,
        || {
            format!(
                "one value per target ({targets}), got {}",
                base_values.len()
            )
        },
    )?;
    let op = TreeRegressor {
        ensemble: Arc::new(ensemble),
        aggregate,
        base_values,
        post_transform: post_transform(node)?,
    };
    Ok((expand(op), vec![]))
}

fn tree_classifier(
    ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let labels = match (
        node.get_attr_opt_vec::<i64>("classlabels_int64s")?,
        node.get_attr_opt_vec::<String>("classlabels_strings")?,
    ) {
        (Some(ints), None) => Labels::Ints(ints),
        (None, Some(strings)) => Labels::Strings(strings),
        _ => node.bail("exactly one of classlabels_int64s and classlabels_strings is needed")?,
    };
    node.expect(labels.len() > 0, "at least one class label")?;
    let ensemble = ensemble(ctx, node, "class", labels.len())?;
    let binary = TreeClassifier::is_binary(&ensemble, &labels);
    let base_values = floats(ctx, node, "base_values")?.unwrap_or_default();
    let base_fits = base_values.is_empty()
        || base_values.len() == labels.len()
        || (binary && base_values.len() == 1);
    node.expect_attr("base_values", base_fits, || {
        format!(
            "one value per class ({}), got {}",
            labels.len(),
            base_values.len()
        )
    })?;
    let post_transform = post_transform(node)?;
    if binary && post_transform == PostTransform::Probit {
        node.bail_attr(
            "post_transform",
            "PROBIT has no defined meaning for a binary classifier's single score",
        )?;
    }
    let op = TreeClassifier {
        ensemble: Arc::new(ensemble),
        base_values,
        post_transform,
        labels,
        binary,
    };
    Ok((expand(op), vec![]))
}

fn post_transform(node: &NodeProto) -> TractResult<PostTransform> {
    Ok(
        match node
            .get_attr_opt::<&str>("post_transform")?
            .unwrap_or("NONE")
        {
            "NONE" => PostTransform::None,
            "LOGISTIC" => PostTransform::Logistic,
            "SOFTMAX" => PostTransform::Softmax,
            "SOFTMAX_ZERO" => PostTransform::SoftmaxZero,
            "PROBIT" => PostTransform::Probit,
            other => node.bail_attr(
                "post_transform",
                &format!("{other:?} is not one of NONE, LOGISTIC, SOFTMAX, SOFTMAX_ZERO, PROBIT"),
            )?,
        },
    )
}

/// The nodes and the votes (attributes `{votes}_*`: `target` or `class`)
/// of `node`, checked.
fn ensemble(
    ctx: &ParsingContext,
    node: &NodeProto,
    votes: &str,
    targets: usize,
) -> TractResult<Ensemble> {
    let ints = |name: &str| -> TractResult<Vec<i64>> {
        Ok(node.get_attr_opt_vec::<i64>(name)?.unwrap_or_default())
    };
    let lists = TreeLists {
        tree_ids: ints("nodes_treeids")?,
        node_ids: ints("nodes_nodeids")?,
        feature_ids: ints("nodes_featureids")?,
        modes: node
            .get_attr_opt_vec::<String>("nodes_modes")?
            .unwrap_or_default(),
        values: floats(ctx, node, "nodes_values")?.unwrap_or_default(),
        true_node_ids: ints("nodes_truenodeids")?,
        false_node_ids: ints("nodes_falsenodeids")?,
        missing_tracks_true: ints("nodes_missing_value_tracks_true")?
            .into_iter()
            .map(|flag| flag != 0)
            .collect(),
        vote_tree_ids: ints(&format!("{votes}_treeids"))?,
        vote_node_ids: ints(&format!("{votes}_nodeids"))?,
        vote_targets: ints(&format!("{votes}_ids"))?,
        vote_weights: floats(ctx, node, &format!("{votes}_weights"))?.unwrap_or_default(),
    };
    Ensemble::build(&lists, targets).or_else(|reason| node.bail(&reason))
}

/// A list of numbers given as `double` (`{name}_as_tensor`) or as
/// `float` (`{name}`), widened to `f64`.
fn floats(ctx: &ParsingContext, node: &NodeProto, name: &str) -> TractResult<Option<Vec<f64>>> {
    let as_tensor = format!("{name}_as_tensor");
    if let Some(proto) = node.get_attr_opt::<&TensorProto>(&as_tensor)? {
        let tensor = ctx.load_tensor(proto)?;
        let tensor = tensor.cast_to::<f64>()?;
        let values = tensor
            .to_plain_array_view::<f64>()?
            .iter()
            .copied()
            .collect();
        return Ok(Some(values));
    }
    Ok(node
        .get_attr_opt_vec::<f32>(name)?
        .map(|values| values.into_iter().map(f64::from).collect()))
}
