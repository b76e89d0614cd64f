//! The set of loaded models and the folder watcher that keeps it current.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use super::manifest::{Manifest, MANIFEST_FILES};
use super::{InferenceError, LoadedModel};
use crate::domain::{DriftReport, ModelInfo, ModelStatus, Task};
use crate::server::telemetry::{chain, Metrics};

/// Size and modification time of a model's files: a change means "reload".
type Fingerprint = Vec<(&'static str, u64, SystemTime)>;

struct Slot {
    /// The version answering requests, if any loaded successfully.
    serving: Option<Arc<LoadedModel>>,
    /// What the listing shows (the serving version's info, or what could be
    /// read of a broken one) and its status.
    info: ModelInfo,
    fingerprint: Fingerprint,
}

/// Every model under one folder, by name.
pub struct ModelRegistry {
    dir: PathBuf,
    slots: RwLock<BTreeMap<String, Slot>>,
    /// Fingerprints seen at the previous poll: files are reloaded once they
    /// stop changing, so a model is not loaded half-copied.
    last_seen: Mutex<HashMap<String, Fingerprint>>,
    metrics: Arc<Metrics>,
    /// How far back each version's drift check reaches.
    drift_window: Duration,
}

impl ModelRegistry {
    /// Loads every model folder in `dir` (blocking; call at startup). A
    /// missing folder is an empty repository, not an error.
    pub fn open(dir: impl Into<PathBuf>, metrics: Arc<Metrics>) -> ModelRegistry {
        Self::open_with_drift_window(dir, metrics, super::drift::WINDOW)
    }

    /// [`ModelRegistry::open`], with the drift check's window.
    pub fn open_with_drift_window(
        dir: impl Into<PathBuf>,
        metrics: Arc<Metrics>,
        drift_window: Duration,
    ) -> ModelRegistry {
        let registry = ModelRegistry {
            dir: dir.into(),
            slots: RwLock::new(BTreeMap::new()),
            last_seen: Mutex::new(HashMap::new()),
            metrics,
            drift_window,
        };
        for (name, fingerprint) in registry.scan() {
            registry.load(&name, fingerprint);
        }
        registry
    }

    /// The folder being served.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The serving version of `name`.
    #[tracing::instrument(level = "debug", name = "models.get", skip(self))]
    pub fn get(&self, name: &str) -> Result<Arc<LoadedModel>, InferenceError> {
        let slots = self.slots.read().unwrap_or_else(PoisonError::into_inner);
        let slot = slots
            .get(name)
            .ok_or_else(|| InferenceError::NotFound(name.to_owned()))?;
        slot.serving
            .clone()
            .ok_or_else(|| InferenceError::NotReady {
                name: name.to_owned(),
                reason: match &slot.info.status {
                    ModelStatus::Error { message, .. } => message.clone(),
                    ModelStatus::Unloaded => "unloaded through the model repository API".into(),
                    ModelStatus::Ready => "not loaded".into(),
                },
            })
    }

    /// The drift of the serving version of `name`.
    pub fn drift(&self, name: &str) -> Result<DriftReport, InferenceError> {
        self.get(name).map(|model| model.drift.report())
    }

    /// The drift of every serving version, by name.
    pub fn drift_reports(&self) -> Vec<DriftReport> {
        let slots = self.slots.read().unwrap_or_else(PoisonError::into_inner);
        slots
            .values()
            .filter_map(|s| s.serving.as_ref())
            .map(|model| model.drift.report())
            .collect()
    }

    /// Every model with its status, by name.
    pub fn list(&self) -> Vec<ModelInfo> {
        let slots = self.slots.read().unwrap_or_else(PoisonError::into_inner);
        slots.values().map(|s| s.info.clone()).collect()
    }

    /// One model's metadata and status, whether or not it loaded.
    pub fn info(&self, name: &str) -> Option<ModelInfo> {
        let slots = self.slots.read().unwrap_or_else(PoisonError::into_inner);
        slots.get(name).map(|s| s.info.clone())
    }

    /// Takes `name` out of service (the repository API's unload): its
    /// requests answer 503 and the folder watcher leaves it alone until it
    /// is loaded again. Requests running on it finish.
    pub fn unload(&self, name: &str) -> Result<(), InferenceError> {
        let mut slots = self.slots.write().unwrap_or_else(PoisonError::into_inner);
        let slot = slots
            .get_mut(name)
            .ok_or_else(|| InferenceError::NotFound(name.to_owned()))?;
        slot.serving = None;
        slot.info.status = ModelStatus::Unloaded;
        tracing::info!(model = %name, "model unloaded");
        Ok(())
    }

    /// Loads `name` from its folder now (the repository API's load), whether
    /// it was unloaded, changed or neither; its metadata once it serves.
    /// Blocking (reads files, optimizes the model). A model that fails to
    /// load keeps serving its previous version if it had one, as on a
    /// reload.
    pub fn load_now(&self, name: &str) -> Result<ModelInfo, InferenceError> {
        let fingerprint = self
            .scan()
            .remove(name)
            .ok_or_else(|| InferenceError::NotFound(name.to_owned()))?;
        self.load(name, fingerprint);
        let info = self
            .info(name)
            .ok_or_else(|| InferenceError::NotFound(name.to_owned()))?;
        match &info.status {
            ModelStatus::Ready => Ok(info),
            ModelStatus::Error { message, .. } => Err(InferenceError::NotReady {
                name: name.to_owned(),
                reason: message.clone(),
            }),
            ModelStatus::Unloaded => Err(InferenceError::NotReady {
                name: name.to_owned(),
                reason: "unloaded meanwhile".into(),
            }),
        }
    }

    /// Applies added, changed and removed model folders; returns the names
    /// that changed. Blocking (reads files, optimizes models).
    #[tracing::instrument(level = "debug", name = "inference.reload_changed", skip_all)]
    pub fn reload_changed(&self) -> Vec<String> {
        let current = self.scan();
        let mut changed = Vec::new();

        let removed: Vec<String> = {
            let slots = self.slots.read().unwrap_or_else(PoisonError::into_inner);
            slots
                .keys()
                .filter(|n| !current.contains_key(*n))
                .cloned()
                .collect()
        };
        if !removed.is_empty() {
            let mut slots = self.slots.write().unwrap_or_else(PoisonError::into_inner);
            for name in removed {
                tracing::info!(model = %name, "model folder removed; no longer served");
                slots.remove(&name);
                changed.push(name);
            }
        }

        let mut last_seen = self
            .last_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (name, fingerprint) in &current {
            let (known, unloaded) = {
                let slots = self.slots.read().unwrap_or_else(PoisonError::into_inner);
                match slots.get(name) {
                    Some(s) => (
                        Some(s.fingerprint.clone()),
                        s.info.status == ModelStatus::Unloaded,
                    ),
                    None => (None, false),
                }
            };
            // An unloaded model stays out of service until it is loaded.
            if known.as_ref() == Some(fingerprint) || unloaded {
                continue;
            }
            if last_seen.get(name) == Some(fingerprint) {
                self.load(name, fingerprint.clone());
                changed.push(name.clone());
            }
        }
        *last_seen = current.into_iter().collect();
        changed
    }

    /// Polls the folder every `interval` and applies changes, until the
    /// runtime shuts down.
    pub fn watch(self: &Arc<Self>, interval: Duration) {
        let registry = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let registry = Arc::clone(&registry);
                if tokio::task::spawn_blocking(move || registry.reload_changed())
                    .await
                    .is_err()
                {
                    tracing::error!("model reload panicked; will retry");
                }
            }
        });
    }

    /// Model folders and their fingerprints. Hidden folders and folders
    /// with neither a model nor metadata (caches, notes) are skipped.
    fn scan(&self) -> BTreeMap<String, Fingerprint> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return BTreeMap::new();
        };
        entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .filter_map(|e| {
                let name = e.file_name().to_str()?.to_owned();
                if !is_model_name(&name) {
                    return None;
                }
                let fingerprint = fingerprint(&e.path());
                (!fingerprint.is_empty()).then_some((name, fingerprint))
            })
            .collect()
    }

    fn load(&self, name: &str, fingerprint: Fingerprint) {
        let dir = self.dir.join(name);
        let result = LoadedModel::load(name, &dir);
        self.metrics.model_loaded(name, result.is_ok());
        let mut slots = self.slots.write().unwrap_or_else(PoisonError::into_inner);
        let previous = slots.remove(name).and_then(|s| s.serving);
        let slot = match result {
            Ok(mut model) => {
                model.metrics = self.metrics.model(name, &model.info.version);
                model.drift = model.drift.with_window(self.drift_window);
                tracing::info!(model = %name, version = %model.info.version, "model loaded");
                Slot {
                    info: model.info.clone(),
                    serving: Some(Arc::new(model)),
                    fingerprint,
                }
            }
            Err(error) => {
                let serving_previous = previous.is_some();
                tracing::error!(model = %name, error = %chain(&error), serving_previous, "model failed to load");
                let message = error.to_string();
                let mut info = match &previous {
                    Some(p) => p.info.clone(),
                    None => info_without_model(name, &dir),
                };
                info.status = ModelStatus::Error {
                    message,
                    serving_previous,
                };
                Slot {
                    info,
                    serving: previous,
                    fingerprint,
                }
            }
        };
        slots.insert(name.to_owned(), slot);
    }
}

/// Folder names usable as model names (and safe in URLs).
fn is_model_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn fingerprint(dir: &Path) -> Fingerprint {
    ["model.onnx"]
        .into_iter()
        .chain(MANIFEST_FILES)
        .filter_map(|file| {
            let meta = std::fs::metadata(dir.join(file)).ok()?;
            Some((
                file,
                meta.len(),
                meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            ))
        })
        .collect()
}

/// Best-effort metadata for a model that failed to load.
fn info_without_model(name: &str, dir: &Path) -> ModelInfo {
    let manifest = Manifest::load(dir).ok();
    ModelInfo {
        name: name.to_owned(),
        version: manifest
            .as_ref()
            .map(|m| m.version.clone())
            .unwrap_or_default(),
        task: manifest.as_ref().map_or(Task::Regression, |m| m.task),
        description: manifest
            .as_ref()
            .map(|m| m.description.clone())
            .unwrap_or_default(),
        status: ModelStatus::Ready,
        inputs: manifest
            .as_ref()
            .map(|m| m.inputs.clone())
            .unwrap_or_default(),
        outputs: manifest
            .as_ref()
            .map(|m| m.outputs.clone())
            .unwrap_or_default(),
        labels: manifest
            .as_ref()
            .map(|m| m.labels().to_vec())
            .unwrap_or_default(),
        provenance: manifest.map(|m| m.provenance).unwrap_or_default(),
    }
}
