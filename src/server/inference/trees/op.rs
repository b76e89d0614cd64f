//! The two tree ensemble operators as tract ops: typed from the ONNX
//! graph (their [`Expansion`]) and evaluated row by row over an
//! [`Ensemble`].

use std::borrow::Cow;
use std::sync::Arc;

use tract_onnx::prelude::tract_ndarray::{Array1, Array2, ArrayView2, Ix2};
use tract_onnx::tract_hir::internal::*;

use super::ensemble::{Aggregate, Ensemble};
use super::transform::{logistic, PostTransform};

/// `TreeEnsembleRegressor`: one `float` score per target and row.
#[derive(Clone, Debug)]
pub struct TreeRegressor {
    pub ensemble: Arc<Ensemble>,
    pub aggregate: Aggregate,
    /// Empty, or one per target.
    pub base_values: Vec<f64>,
    pub post_transform: PostTransform,
}

/// The class labels of a classifier, in class id order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Labels {
    Ints(Vec<i64>),
    Strings(Vec<String>),
}

impl Labels {
    pub fn len(&self) -> usize {
        match self {
            Labels::Ints(l) => l.len(),
            Labels::Strings(l) => l.len(),
        }
    }

    fn datum_type(&self) -> DatumType {
        match self {
            Labels::Ints(_) => i64::datum_type(),
            Labels::Strings(_) => String::datum_type(),
        }
    }
}

/// `TreeEnsembleClassifier`: a label per row, and a score per class.
///
/// Two classes whose leaves all vote for one of them (what skl2onnx writes
/// for every binary classifier) are the binary layout: the trees give one
/// score `s` for the positive (second) class, and the scores are
/// `[1 − σ(s), σ(s)]` after `LOGISTIC`, the softmax (or softmax of
/// non-zeros) of `[−s, s]` after `SOFTMAX` (`SOFTMAX_ZERO`), and after
/// `NONE` `[1 − s, s]` when no weight is negative (a probability, as a
/// random forest gives) and `[−s, s]` otherwise. The label is the class with
/// the highest final score, the first on a tie.
#[derive(Clone, Debug)]
pub struct TreeClassifier {
    pub ensemble: Arc<Ensemble>,
    /// Empty, or one per class (in the binary layout also one, for the
    /// positive class).
    pub base_values: Vec<f64>,
    pub post_transform: PostTransform,
    pub labels: Labels,
    /// Whether this is the binary layout.
    pub binary: bool,
}

impl PartialEq for TreeRegressor {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.ensemble, &other.ensemble)
            && self.aggregate == other.aggregate
            && self.base_values == other.base_values
            && self.post_transform == other.post_transform
    }
}
impl Eq for TreeRegressor {}

impl PartialEq for TreeClassifier {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.ensemble, &other.ensemble)
            && self.base_values == other.base_values
            && self.post_transform == other.post_transform
            && self.labels == other.labels
    }
}
impl Eq for TreeClassifier {}

/// The input as `f64` rows (row-major), with the number of rows and of
/// values per row, checked to have the features the trees read.
fn rows<'t>(input: &'t Tensor, ensemble: &Ensemble) -> TractResult<(Cow<'t, [f64]>, usize, usize)> {
    let view: ArrayView2<'t, f64> = input
        .to_plain_array_view::<f64>()?
        .into_dimensionality::<Ix2>()?;
    ensemble_reads(ensemble, view.ncols())?;
    let (n, stride) = view.dim();
    let flat = match view.to_slice() {
        Some(slice) => Cow::Borrowed(slice),
        None => Cow::Owned(view.iter().copied().collect()),
    };
    Ok((flat, n, stride))
}

/// The trees' scores for the op's one input: per row and target, the
/// aggregate of the votes and whether there was any; and the number of rows.
fn score(
    ensemble: &Ensemble,
    mut inputs: TVec<TValue>,
    aggregate: Aggregate,
) -> TractResult<(Vec<f64>, Vec<bool>, usize)> {
    let input = inputs.pop().context("tree ensembles take one input")?;
    let input = input.cast_to::<f64>()?;
    let (flat, n, stride) = rows(&input, ensemble)?;
    let cells = n * ensemble.targets();
    let (mut scores, mut voted) = (vec![0.0; cells], vec![false; cells]);
    ensemble.score_rows(&flat, n, stride, aggregate, &mut scores, &mut voted);
    Ok((scores, voted, n))
}

fn ensemble_reads(ensemble: &Ensemble, features: usize) -> TractResult<()> {
    if features < ensemble.features() {
        bail!(
            "the trees read feature {} but rows have {features} features",
            ensemble.features() - 1
        );
    }
    Ok(())
}

fn output_rows(inputs: &[&TypedFact], ensemble: &Ensemble) -> TractResult<TDim> {
    let input = inputs[0];
    if input.rank() != 2 {
        bail!(
            "tree ensembles take rows of features (rank 2), not rank {}",
            input.rank()
        );
    }
    if let Ok(features) = input.shape[1].to_usize() {
        ensemble_reads(ensemble, features)?;
    }
    Ok(input.shape[0].clone())
}

impl Op for TreeRegressor {
    fn name(&self) -> StaticName {
        "TreeEnsembleRegressor".into()
    }

    op_as_typed_op!();
}

impl EvalOp for TreeRegressor {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let targets = self.ensemble.targets();
        let (mut scores, _, n) = score(&self.ensemble, inputs, self.aggregate)?;
        let mut out = Vec::with_capacity(n * targets);
        for row in scores.chunks_exact_mut(targets.max(1)) {
            for (s, base) in row.iter_mut().zip(&self.base_values) {
                *s += base;
            }
            self.post_transform.apply(row);
            out.extend(row.iter().map(|s| *s as f32));
        }
        let out = Array2::from_shape_vec((n, targets), out)?;
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for TreeRegressor {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let n = output_rows(inputs, &self.ensemble)?;
        Ok(tvec!(f32::fact(&[n, self.ensemble.targets().to_dim()])))
    }

    as_op!();
}

impl Expansion for TreeRegressor {
    fn name(&self) -> StaticName {
        "TreeEnsembleRegressor".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].rank, 2)?;
        s.equals(&outputs[0].datum_type, f32::datum_type())?;
        s.equals(&outputs[0].rank, 2)?;
        s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
        s.equals(&outputs[0].shape[1], self.ensemble.targets().to_dim())?;
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, self.clone(), inputs)
    }
}

impl TreeClassifier {
    /// Whether `labels` and the votes of `ensemble` are the binary layout
    /// (see the type's documentation).
    pub fn is_binary(ensemble: &Ensemble, labels: &Labels) -> bool {
        labels.len() == 2 && ensemble.voted_target_count() == 1
    }

    /// The final scores of one row from the trees' `raw` scores; the index
    /// of its label.
    fn classify(&self, raw: &[f64], voted: &[bool], binary: bool, scores: &mut [f64]) -> usize {
        if binary {
            let voted_class = voted.iter().position(|v| *v);
            let s = voted_class.map_or(0.0, |c| raw[c]) + self.base_values.last().unwrap_or(&0.0);
            let probability_like = self.ensemble.weights_are_all_positive();
            match self.post_transform {
                PostTransform::Logistic => {
                    scores[1] = logistic(s);
                    scores[0] = 1.0 - scores[1];
                }
                PostTransform::None if probability_like => {
                    scores[0] = 1.0 - s;
                    scores[1] = s;
                }
                other => {
                    scores[0] = -s;
                    scores[1] = s;
                    other.apply(scores);
                }
            }
            return usize::from(scores[1] > scores[0]);
        }
        let mut best: Option<usize> = None;
        for class in 0..scores.len() {
            let base = self.base_values.get(class).copied();
            scores[class] = raw[class] + base.unwrap_or(0.0);
            // A class scores when a tree voted for it or it has a base value.
            let scored = voted[class] || base.is_some();
            if scored && best.is_none_or(|b| scores[class] > scores[b]) {
                best = Some(class);
            }
        }
        self.post_transform.apply(scores);
        best.unwrap_or(0)
    }
}

impl Op for TreeClassifier {
    fn name(&self) -> StaticName {
        "TreeEnsembleClassifier".into()
    }

    op_as_typed_op!();
}

impl EvalOp for TreeClassifier {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let classes = self.labels.len();
        let (raw, voted, n) = score(&self.ensemble, inputs, Aggregate::Sum)?;
        let mut all_scores = Vec::with_capacity(n * classes);
        let mut chosen = Vec::with_capacity(n);
        let mut scores = vec![0.0; classes];
        for (raw, voted) in raw.chunks_exact(classes).zip(voted.chunks_exact(classes)) {
            chosen.push(self.classify(raw, voted, self.binary, &mut scores));
            all_scores.extend(scores.iter().map(|s| *s as f32));
        }
        let labels = match &self.labels {
            Labels::Ints(l) => Array1::from_iter(chosen.iter().map(|c| l[*c])).into_tvalue(),
            Labels::Strings(l) => {
                Array1::from_iter(chosen.iter().map(|c| l[*c].clone())).into_tvalue()
            }
        };
        let scores = Array2::from_shape_vec((n, classes), all_scores)?;
        Ok(tvec!(labels, scores.into_tvalue()))
    }
}

impl TypedOp for TreeClassifier {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let n = output_rows(inputs, &self.ensemble)?;
        Ok(tvec!(
            self.labels.datum_type().fact(&[n.clone()]),
            f32::fact(&[n, self.labels.len().to_dim()])
        ))
    }

    as_op!();
}

impl Expansion for TreeClassifier {
    fn name(&self) -> StaticName {
        "TreeEnsembleClassifier".into()
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(2)
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 2)?;
        s.equals(&inputs[0].rank, 2)?;
        s.equals(&outputs[0].datum_type, self.labels.datum_type())?;
        s.equals(&outputs[0].rank, 1)?;
        s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
        s.equals(&outputs[1].datum_type, f32::datum_type())?;
        s.equals(&outputs[1].rank, 2)?;
        s.equals(&outputs[1].shape[0], &inputs[0].shape[0])?;
        s.equals(&outputs[1].shape[1], self.labels.len().to_dim())?;
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, self.clone(), inputs)
    }
}
