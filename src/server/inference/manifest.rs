//! The metadata file beside each model (`model.toml`, or `model.json` with
//! the same fields).

use std::path::Path;

use serde::Deserialize;

use crate::domain::{FeatureSpec, OutputSpec, Provenance, Task};

/// A model's metadata as written on disk.
#[derive(Clone, Debug, Deserialize)]
#[serde(from = "RawManifest")]
pub struct Manifest {
    pub description: String,
    pub task: Task,
    pub version: String,
    pub inputs: Vec<FeatureSpec>,
    /// The training data's distribution of each input (in `inputs`' order),
    /// where the manifest gives one: what the drift check compares with.
    pub references: Vec<Option<Reference>>,
    pub outputs: Vec<OutputSpec>,
    pub classes: Option<Classes>,
    pub provenance: Provenance,
}

/// The manifest as written: each input may carry its `reference`.
#[derive(Deserialize)]
struct RawManifest {
    #[serde(default)]
    description: String,
    task: Task,
    version: String,
    inputs: Vec<RawInput>,
    #[serde(default)]
    outputs: Vec<OutputSpec>,
    #[serde(default)]
    classes: Option<Classes>,
    #[serde(default)]
    provenance: Provenance,
}

#[derive(Deserialize)]
struct RawInput {
    #[serde(flatten)]
    spec: FeatureSpec,
    #[serde(default)]
    reference: Option<Reference>,
}

impl From<RawManifest> for Manifest {
    fn from(raw: RawManifest) -> Manifest {
        let (inputs, references) = raw
            .inputs
            .into_iter()
            .map(|i| (i.spec, i.reference))
            .unzip();
        Manifest {
            description: raw.description,
            task: raw.task,
            version: raw.version,
            inputs,
            references,
            outputs: raw.outputs,
            classes: raw.classes,
            provenance: raw.provenance,
        }
    }
}

/// How one input's training values fall into bins: `edges` are the inner
/// boundaries, ascending (bin 0 is below `edges[0]`, bin `i` is
/// `[edges[i-1], edges[i])`, the last bin is from the last edge on), and
/// `shares` the fraction of training rows in each bin.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Reference {
    pub edges: Vec<f64>,
    pub shares: Vec<f64>,
}

/// Most bin edges a reference may have: PSI over many thin bins is noise.
const MAX_REFERENCE_EDGES: usize = 100;

impl Reference {
    /// What is wrong with it, if anything; shares that sum to 1 within
    /// rounding are scaled to sum exactly.
    fn check(&mut self) -> Result<(), String> {
        if self.edges.is_empty() || self.edges.len() > MAX_REFERENCE_EDGES {
            return Err(format!("needs 1 to {MAX_REFERENCE_EDGES} edges"));
        }
        if !self.edges.iter().all(|e| e.is_finite()) || self.edges.windows(2).any(|w| w[0] >= w[1])
        {
            return Err("edges must be finite and strictly ascending".into());
        }
        if self.shares.len() != self.edges.len() + 1 {
            return Err(format!(
                "needs one share per bin: {} edges make {} bins, not {}",
                self.edges.len(),
                self.edges.len() + 1,
                self.shares.len()
            ));
        }
        if !self.shares.iter().all(|s| s.is_finite() && *s >= 0.0) {
            return Err("shares must be finite and not negative".into());
        }
        let sum: f64 = self.shares.iter().sum();
        if (sum - 1.0).abs() > 1e-3 {
            return Err(format!("shares must sum to 1, not {sum}"));
        }
        self.shares.iter_mut().for_each(|s| *s /= sum);
        Ok(())
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct Classes {
    pub labels: Vec<String>,
}

/// Why a model's metadata cannot be used; the message names the file.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("no {} found", MANIFEST_FILES.join(" or "))]
    Missing,
    #[error("{file}: {}", source.message())]
    Toml {
        file: &'static str,
        source: toml::de::Error,
    },
    #[error("{file}: {source}")]
    Json {
        file: &'static str,
        source: serde_json::Error,
    },
    /// Read, but describes no model this server can serve.
    #[error("{file}: {problem}")]
    Invalid { file: &'static str, problem: String },
}

/// The metadata file names looked for, in order.
pub const MANIFEST_FILES: [&str; 2] = ["model.toml", "model.json"];

impl Manifest {
    /// Reads and checks the metadata in `dir`.
    pub fn load(dir: &Path) -> Result<Manifest, ManifestError> {
        let (file, text) = MANIFEST_FILES
            .iter()
            .find_map(|f| std::fs::read_to_string(dir.join(f)).ok().map(|t| (*f, t)))
            .ok_or(ManifestError::Missing)?;
        let mut manifest: Manifest = if file.ends_with(".toml") {
            toml::from_str(&text).map_err(|source| ManifestError::Toml { file, source })?
        } else {
            serde_json::from_str(&text).map_err(|source| ManifestError::Json { file, source })?
        };
        manifest
            .check()
            .map_err(|problem| ManifestError::Invalid { file, problem })?;
        Ok(manifest)
    }

    fn check(&mut self) -> Result<(), String> {
        // Answers name it in a header, and it may name a version in a URL.
        if self.version.is_empty()
            || self.version.len() > 64
            || !self.version.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(format!(
                "version {:?} must be 1 to 64 visible ASCII characters (letters, digits, punctuation; no spaces)",
                self.version
            ));
        }
        for (spec, reference) in self.inputs.iter().zip(&mut self.references) {
            if let Some(reference) = reference {
                reference
                    .check()
                    .map_err(|problem| format!("input '{}': reference {problem}", spec.name))?;
            }
        }
        if self.inputs.is_empty() {
            return Err("lists no inputs".into());
        }
        for (i, spec) in self.inputs.iter().enumerate() {
            if spec.name.trim().is_empty() {
                return Err(format!("input #{} has no name", i + 1));
            }
            if self.inputs[..i].iter().any(|s| s.name == spec.name) {
                return Err(format!("input '{}' is listed twice", spec.name));
            }
            if ![spec.min, spec.max, spec.default]
                .iter()
                .all(|v| v.is_finite())
                || spec.min > spec.max
            {
                return Err(format!(
                    "input '{}' needs finite min <= max and a finite default",
                    spec.name
                ));
            }
        }
        if self.task == Task::Classification && self.labels().is_empty() {
            return Err("a classifier needs [classes] labels".into());
        }
        Ok(())
    }

    pub fn labels(&self) -> &[String] {
        self.classes.as_ref().map_or(&[], |c| c.labels.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    const VALID: &str = r#"
        description = "d"
        task = "classification"
        version = "1"
        [[inputs]]
        name = "a"
        min = 0.0
        max = 1.0
        default = 0.5
        [classes]
        labels = ["x", "y"]
    "#;

    #[test]
    fn a_valid_toml_manifest_loads() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "model.toml", VALID);
        let m = Manifest::load(dir.path()).unwrap();
        assert_eq!(m.task, Task::Classification);
        assert_eq!(m.labels(), ["x", "y"]);
    }

    #[test]
    fn a_json_manifest_loads_too() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "model.json",
            r#"{"task":"regression","version":"2","inputs":[{"name":"a","min":0,"max":1,"default":0}]}"#,
        );
        assert_eq!(Manifest::load(dir.path()).unwrap().version, "2");
    }

    #[test]
    fn a_training_reference_is_checked_and_its_shares_made_to_sum_to_one() {
        let dir = tempfile::tempdir().unwrap();
        let with = |reference: &str| {
            let text = VALID.replace(
                "default = 0.5",
                &format!("default = 0.5\nreference = {reference}"),
            );
            write(dir.path(), "model.toml", &text);
            Manifest::load(dir.path())
        };
        let m = with("{ edges = [0.5], shares = [0.3, 0.7000004] }").unwrap();
        let shares = &m.references[0].as_ref().unwrap().shares;
        assert!(
            (shares.iter().sum::<f64>() - 1.0).abs() < 1e-15,
            "{shares:?}"
        );
        for (reference, problem) in [
            ("{ edges = [], shares = [1.0] }", "needs 1 to 100 edges"),
            (
                "{ edges = [0.5, 0.5], shares = [0.3, 0.3, 0.4] }",
                "strictly ascending",
            ),
            ("{ edges = [0.5], shares = [1.2, -0.2] }", "not negative"),
            (
                "{ edges = [0.5], shares = [0.3, 0.3] }",
                "must sum to 1, not 0.6",
            ),
            (
                "{ edges = [0.5], shares = [0.5, 0.25, 0.25] }",
                "1 edges make 2 bins, not 3",
            ),
        ] {
            let error = with(reference).unwrap_err().to_string();
            assert!(
                error.starts_with("model.toml: input 'a': reference") && error.contains(problem),
                "{reference}: {error}"
            );
        }
        // Without a reference the input simply has none.
        write(dir.path(), "model.toml", VALID);
        assert_eq!(Manifest::load(dir.path()).unwrap().references, [None]);
    }

    #[test]
    fn problems_are_reported_with_the_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let problem = |dir: &Path| Manifest::load(dir).unwrap_err().to_string();
        assert!(problem(dir.path()).contains("no model.toml"));
        write(
            dir.path(),
            "model.toml",
            &VALID.replace("[classes]\n        labels = [\"x\", \"y\"]", ""),
        );
        assert!(problem(dir.path()).contains("labels"));
        write(
            dir.path(),
            "model.toml",
            &VALID.replace("max = 1.0", "max = -1.0"),
        );
        assert!(problem(dir.path()).contains("min <= max"));
        write(dir.path(), "model.toml", "task = 3");
        let error = Manifest::load(dir.path()).unwrap_err();
        assert!(error.to_string().starts_with("model.toml:"));
        assert!(
            matches!(error, ManifestError::Toml { .. }),
            "the parser's error is kept as the cause: {error:?}"
        );
    }
}
