//! Moving the catalogue out and in, in bulk: the file formats (CSV and
//! NDJSON) and the import, shared by every door that moves items in bulk
//! (REST's `/items/export` and `/items/import`, the `itemserve import`
//! command). Both formats carry the fields a client writes: `id`, `name`,
//! `description`, `category`, `price`; a missing value is an empty CSV
//! field or a JSON `null`.

mod format;
mod import;
mod read;

pub use format::{Format, FIELDS};
pub use import::{import, ImportError, ImportOptions, ImportReport, RowProblem};
pub use read::FileProblem;
