//! The metadata file beside each model (`model.toml`, or `model.json` with
//! the same fields).

use std::path::Path;

use serde::Deserialize;

use crate::domain::{FeatureSpec, OutputSpec, Provenance, Task};

/// A model's metadata as written on disk.
#[derive(Clone, Debug, Deserialize)]
pub struct Manifest {
    #[serde(default)]
    pub description: String,
    pub task: Task,
    pub version: String,
    pub inputs: Vec<FeatureSpec>,
    #[serde(default)]
    pub outputs: Vec<OutputSpec>,
    #[serde(default)]
    pub classes: Option<Classes>,
    #[serde(default)]
    pub provenance: Provenance,
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
        let manifest: Manifest = if file.ends_with(".toml") {
            toml::from_str(&text).map_err(|source| ManifestError::Toml { file, source })?
        } else {
            serde_json::from_str(&text).map_err(|source| ManifestError::Json { file, source })?
        };
        manifest
            .check()
            .map_err(|problem| ManifestError::Invalid { file, problem })?;
        Ok(manifest)
    }

    fn check(&self) -> Result<(), String> {
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
