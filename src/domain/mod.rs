//! Types and rules shared by the browser (WASM) and the server.
//!
//! Everything here compiles for both targets: the browser uses the same
//! validation for instant field errors that the server uses for its
//! authoritative check, so the two can never disagree.

mod audit;
mod bulk;
mod change;
mod csv;
mod drift;
mod item;
mod item_object;
mod model;
mod query;
mod redirect;
mod revision;
mod trash;
mod user;
mod validation;

pub use audit::{AuditAction, AuditEntry, AuditFilter, AuditPage};
pub use bulk::{
    bulk_ids, item_fields, BulkAction, BulkChange, BulkFilter, BulkRefusal, BulkTarget, ItemEdit,
    EDITABLE_FIELDS, MAX_BULK_ITEMS,
};
pub use change::{ChangeKind, ItemChange};
pub use csv::{write_csv_record, CSV_HEADER};
pub use drift::{DriftReading, DriftReport, InputDrift, PSI_DRIFTED, PSI_SHIFTING};
pub use item::{Item, ItemDraft, ItemForm, ItemPage, Listing, Total, ValidItem, MAX_ITEM_ID};
pub use item_object::{merge_patch, ItemObject, ObjectProblem};
pub use model::{
    ClassProbability, FeatureSpec, ModelInfo, ModelStatus, NonFiniteRow, OutputSpec, Prediction,
    Provenance, Task, MAX_BATCH_ROWS, MAX_NON_FINITE_ROWS,
};
// Only the REST door parses integers outside a listing's query.
#[cfg(feature = "ssr")]
pub(crate) use query::parse_int;
pub use query::{ItemQuery, SortField, DEFAULT_LIMIT, MAX_LIMIT};
pub use redirect::local_path;
pub use revision::{changes, Action, Door, FieldChange, Revision, RevisionPage};
pub use trash::{TrashPage, TrashedItem};
pub use user::{
    validate_password, validate_user_name, AccessPolicy, Denied, Permission, Role, Session, User,
    PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS, USER_NAME_MAX_CHARS,
};
pub use validation::{FieldError, CATEGORY_MAX_CHARS, DESCRIPTION_MAX_CHARS, NAME_MAX_CHARS};
