//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]`
//! attributes and the shared types. Responses every route can give (429,
//! 414, and for routes with a body 408/413/415) are added here once rather
//! than repeated on each handler, and so are the slash-less aliases of the
//! collection routes.
//!
//! The structs below describe bodies that handlers build as JSON values:
//! utoipa reads their shape, nothing constructs them.
#![allow(dead_code)]

use std::collections::BTreeMap;

use serde_json::Value;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

use super::error::{LocEntry, ValidationBody, ValidationDetail};
use crate::domain::{
    Action, AuditAction, AuditEntry, ChangeKind, ClassProbability, Door, DriftReading, DriftReport,
    FeatureSpec, FieldChange, InputDrift, Item, ItemChange, ModelInfo, ModelStatus, OutputSpec,
    Prediction, Provenance, Revision, Role, Task, TrashedItem, User,
};
use crate::server::store::Credential;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "itemserve",
        description = "An item catalogue and in-process model serving. The item and \
            `/predict/` routes keep the original FastAPI app's contract (paths, status \
            codes, bodies); `/api/models` serves every model in `models/`, and `/v2` speaks \
            the Open Inference Protocol (KServe/Triton v2). Every error body is \
            `{\"detail\": ...}` (a list of problems for 422), except in `/v2`, where it \
            is the protocol's `{\"error\": \"...\"}`.",
        license(name = "MIT"),
    ),
    paths(
        super::items::list,
        super::items::create,
        super::items::get,
        super::items::update,
        super::items::patch,
        super::items::delete,
        super::bulk::bulk,
        super::history::list,
        super::history::get,
        super::history::revert,
        super::trash::list,
        super::trash::restore,
        super::trash::purge,
        super::audit::list,
        super::events::stream,
        super::transfer::export,
        super::transfer::import,
        super::search::search,
        super::search::filter,
        super::models::predict_original,
        super::models::list,
        super::models::get,
        super::models::predict,
        super::models::drift,
        super::v2::server_metadata,
        super::v2::live,
        super::v2::ready,
        super::v2::model_metadata,
        super::v2::model_ready,
        super::v2::infer,
        super::v2::model_version_metadata,
        super::v2::infer_version,
        super::v2::repository::index,
        super::v2::repository::load,
        super::v2::repository::unload,
        super::account::token,
        super::account::refresh,
        super::account::revoke,
        super::account::me,
        super::account::list_tokens,
        super::account::create_token,
        super::account::revoke_token,
        super::users::list,
        super::users::create,
        super::users::get,
        super::users::update,
        super::users::tokens,
        super::service::index,
        super::service::to_prediction_page,
        super::service::healthz,
        super::service::readyz,
        super::docs::openapi_json,
        super::metrics::metrics_endpoint,
    ),
    components(schemas(
        Item, ItemIn, ItemPatch, ItemPage, FilterPage, Deleted, BulkIn, BulkFilterIn, BulkAnswer, ItemChange, ChangeKind,
        Revision, FieldChange, Action, Door, HistoryPage, RevertIn, TrashedItem, TrashPage,
        AuditEntry, AuditAction, AuditPage,
        Detail, ValidationBody, ValidationDetail, LocEntry, InferenceErrorBody, ImportAnswer,
        OriginalFeatures, super::models::OriginalPrediction,
        ModelInfo, ModelList, FeatureSpec, OutputSpec, Provenance, ModelStatus, Task,
        PredictRequest, PredictResponse, Prediction, ClassProbability,
        DriftReport, InputDrift, DriftReading,
        Welcome, Status,
        User, Role, Credential, super::account::TokenResponse, super::account::LoginForm,
        super::account::RefreshForm, super::account::NewApiToken, super::account::NewTokenForm,
        super::users::NewUser, super::users::UserPatch,
        V2ServerMetadata, V2ModelMetadata, V2TensorMetadata, V2InferRequest, V2InputTensor,
        V2RequestedOutput, V2InferResponse, V2OutputTensor, V2Live, V2Ready, V2ModelReady,
        V2RepositoryModel, V2RepositoryIndexRequest, V2RepositoryLoadRequest, V2RepositoryUnloadRequest, V2Empty,
    )),
    tags(
        (name = "items", description = "The catalogue: the original app's CRUD contract, with search, filters, sorting, paging and optimistic concurrency (`ETag` / `If-Match`)."),
        (name = "history", description = "Every change of an item (who, when, through which door, what changed), and reverting to an earlier revision."),
        (name = "trash", description = "Deleted items, kept as they were deleted: restore them, or purge them for good (admins; automatic after the retention period)."),
        (name = "models", description = "Predictions with the models in `models/`; `POST /predict/` is the original app's contract."),
        (name = "v2", description = "The Open Inference Protocol (KServe/Triton v2 REST), with the binary tensor and model repository extensions."),
        (name = "auth", description = "Logging in (OAuth2 password flow: use the Authorize button), refresh tokens, your account and personal API tokens."),
        (name = "users", description = "User management, for admins."),
        (name = "audit", description = "The audit log of logins, tokens and user changes, for admins; append-only."),
        (name = "meta", description = "The welcome map, health and readiness, and this document."),
    ),
    modifiers(&SecuritySchemes, &CommonResponses, &SlashAliases),
)]
struct ApiDoc;

/// The complete document, as served at `/openapi.json`.
pub fn document() -> Document {
    ApiDoc::openapi()
}

// ---- Schemas of bodies the handlers build as JSON values ----

/// An item as clients send it (`POST /items/`, `PUT /items/{id}`). Unknown
/// fields are ignored; text is trimmed; blank optional text means none.
#[derive(ToSchema)]
#[schema(example = json!({"id": 4, "name": "Item Four", "description": "Great item"}))]
pub struct ItemIn {
    /// Optional on create (one is assigned); on PUT it must equal the path's id.
    #[schema(minimum = 1, maximum = 9007199254740991_i64)]
    id: Option<i64>,
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    #[schema(max_length = 2000)]
    description: Option<String>,
    #[schema(max_length = 100)]
    category: Option<String>,
    /// A finite number, not negative.
    #[schema(minimum = 0)]
    price: Option<f64>,
}

/// A JSON merge patch (RFC 7396) of an item: the fields given replace the
/// stored ones, `null` clears an optional field, absent fields stay.
#[derive(ToSchema)]
#[schema(example = json!({"price": 19.5, "description": null}))]
pub struct ItemPatch {
    #[schema(min_length = 1, max_length = 200)]
    name: Option<String>,
    #[schema(max_length = 2000)]
    description: Option<String>,
    #[schema(max_length = 100)]
    category: Option<String>,
    #[schema(minimum = 0)]
    price: Option<f64>,
}

/// `GET /search/`: a page of matching items and how many match in all.
#[derive(ToSchema)]
pub struct ItemPage {
    q: Option<String>,
    skip: u64,
    limit: u32,
    /// How many items match: exact when `total_exact`, else a lower bound
    /// (there are more than this many).
    total: u64,
    /// False when counting stopped at the server's bound.
    total_exact: bool,
    items: Vec<Item>,
    /// The cursor of the next page (pass it as `cursor`), null on the last.
    next: Option<String>,
    /// The cursor of the previous page, null on the first.
    prev: Option<String>,
}

/// `GET /filter/`: the filters applied, the page and the total.
#[derive(ToSchema)]
pub struct FilterPage {
    category: Option<String>,
    price_less_than: Option<f64>,
    /// How many items match: exact when `total_exact`, else a lower bound
    /// (there are more than this many).
    total: u64,
    /// False when counting stopped at the server's bound (a category alone
    /// is always counted exactly).
    total_exact: bool,
    items: Vec<Item>,
    /// The cursor of the next page (pass it as `cursor`), null on the last.
    next: Option<String>,
    /// The cursor of the previous page, null on the first.
    prev: Option<String>,
}

/// `POST /items/bulk`: an action, and the items it changes (`ids` or
/// `filter`, one of them).
#[derive(ToSchema)]
#[schema(example = json!({"action": "set", "ids": [3, 5, 8], "values": {"category": "Lighting"}}))]
pub struct BulkIn {
    /// `delete`, `restore`, `set` or `patch`.
    #[schema(pattern = "^(delete|restore|set|patch)$")]
    action: String,
    /// The items' ids, 1 to 10 000 (repeats count once).
    #[schema(min_items = 1, max_items = 10000)]
    ids: Option<Vec<i64>>,
    /// Every item matching this filter, at most 10 000 (not for `restore`).
    filter: Option<BulkFilterIn>,
    /// For `set`: the fields to set (`null` clears an optional one).
    values: Option<ItemPatch>,
    /// For `patch`: a JSON merge patch of each item.
    patch: Option<ItemPatch>,
}

/// The items a bulk action changes: those a listing with these filters
/// would show.
#[derive(ToSchema)]
pub struct BulkFilterIn {
    /// Text the name or description holds (ignoring case).
    q: Option<String>,
    /// The category, ignoring case.
    category: Option<String>,
    /// Only items priced below this.
    price_lt: Option<f64>,
}

/// The answer to a bulk action.
#[derive(ToSchema)]
#[schema(example = json!({"detail": "3 items changed", "action": "set", "count": 3, "ids": [3, 5, 8]}))]
pub struct BulkAnswer {
    detail: String,
    action: String,
    /// Items changed.
    count: u64,
    /// Their ids, ascending.
    ids: Vec<i64>,
}

/// The answer to a successful `DELETE`.
#[derive(ToSchema)]
#[schema(example = json!({"detail": "Item deleted"}))]
pub struct Deleted {
    detail: String,
}

/// A page of an item's revisions, newest first.
#[derive(ToSchema)]
pub struct HistoryPage {
    revisions: Vec<Revision>,
    /// The page of older revisions (`null` on the last page).
    #[schema(example = "/items/1/history?before=2&limit=20")]
    next: Option<String>,
}

/// A page of the trash, most recently deleted first.
#[derive(ToSchema)]
pub struct TrashPage {
    items: Vec<TrashedItem>,
    /// The next page (`null` on the last page).
    #[schema(
        example = "/trash?cursor=WzEsInRyYXNoIiwiMjAyNi0wMS0wM1QwODoxNTowMC4wMDBaIiw3XQ&limit=20"
    )]
    next: Option<String>,
}

/// A page of the audit log, newest first.
#[derive(ToSchema)]
pub struct AuditPage {
    entries: Vec<AuditEntry>,
    /// The next (older) page (`null` on the last page).
    #[schema(
        example = "/audit?cursor=WzEsImF1ZGl0IiwiMjAyNi0wMS0wMlQwOTozMDowMC4wMDBaIiw0Ml0&limit=50"
    )]
    next: Option<String>,
}

/// Which revision's values to write back.
#[derive(ToSchema)]
#[schema(example = json!({"version": 2}))]
pub struct RevertIn {
    /// The version whose name, description, category and price the item
    /// gets again.
    #[schema(minimum = 1)]
    version: i64,
}

/// Every error except 422 and `/v2`'s: one sentence saying what is wrong.
#[derive(ToSchema)]
#[schema(example = json!({"detail": "Item not found"}))]
pub struct Detail {
    detail: String,
}

/// What an import did.
#[derive(ToSchema)]
#[schema(example = json!({"imported": 2, "skipped": 1, "errors_total": 1, "skipped_rows": [
    {"type": "string_too_short", "loc": ["body", 3, "name"], "msg": "String should have at least 1 character", "input": "", "ctx": {"min_length": 1}}
]}))]
pub struct ImportAnswer {
    /// Items written.
    imported: u64,
    /// Rows left out (with `on_error=skip`; otherwise 0).
    skipped: u64,
    /// The problems of the rows left out, the first 1 000: each located
    /// at `["body", line, field]` (a row may have several).
    skipped_rows: Vec<ValidationDetail>,
    /// Every problem of the rows left out.
    errors_total: u64,
}

/// An Open Inference Protocol error.
#[derive(ToSchema)]
#[schema(as = InferenceError, example = json!({"error": "Model 'nope' not found"}))]
pub struct InferenceErrorBody {
    error: String,
}

/// The original app's `POST /predict/` body.
#[derive(ToSchema)]
#[schema(example = json!({"feature1": 1.5, "feature2": 2.3, "feature3": 0.8}))]
pub struct OriginalFeatures {
    feature1: f64,
    feature2: f64,
    feature3: f64,
}

/// `GET /api/models`.
#[derive(ToSchema)]
pub struct ModelList {
    models: Vec<ModelInfo>,
}

/// One row as `features`, or up to 10 000 rows as `instances`; each row maps
/// every input feature's name to a number.
#[derive(ToSchema)]
#[schema(example = json!({"features": {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}}))]
pub struct PredictRequest {
    features: Option<BTreeMap<String, f64>>,
    #[schema(max_items = 10000)]
    instances: Option<Vec<BTreeMap<String, f64>>>,
}

/// `prediction` for `features`, `predictions` (in row order) for `instances`.
#[derive(ToSchema)]
#[schema(example = json!({"model": "linear", "version": "2.0.0", "prediction": {"value": 6.876654844185815}}))]
pub struct PredictResponse {
    model: String,
    version: String,
    prediction: Option<Prediction>,
    predictions: Option<Vec<Prediction>>,
}

/// `GET /api`: the original app's welcome map.
#[derive(ToSchema)]
pub struct Welcome {
    message: String,
    version: String,
    ui: String,
    docs: String,
    redoc: String,
    openapi: String,
    /// `"METHOD /path"` → what it does.
    endpoints: BTreeMap<String, String>,
}

/// `/healthz` and `/readyz`.
#[derive(ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub struct Status {
    status: String,
}

#[derive(ToSchema)]
pub struct V2ServerMetadata {
    name: String,
    version: String,
    extensions: Vec<String>,
}

/// One model of the repository's index.
#[derive(ToSchema)]
pub struct V2RepositoryModel {
    #[schema(example = "iris")]
    name: String,
    #[schema(example = "1.0.0")]
    version: String,
    /// `READY` or `UNAVAILABLE`.
    #[schema(example = "READY")]
    state: String,
    /// Why it is unavailable (empty when ready).
    reason: String,
}

/// `POST /v2/repository/index`'s optional body.
#[derive(ToSchema)]
pub struct V2RepositoryIndexRequest {
    /// Only the models that are ready.
    ready: Option<bool>,
}

/// `POST /v2/repository/models/{name}/load`'s optional body. Uploading a
/// model (`config`, `file:<path>`) is not supported.
#[derive(ToSchema)]
pub struct V2RepositoryLoadRequest {
    parameters: Option<std::collections::BTreeMap<String, Value>>,
}

/// `POST /v2/repository/models/{name}/unload`'s optional body.
#[derive(ToSchema)]
pub struct V2RepositoryUnloadRequest {
    /// Triton's `unload_dependents`; there is nothing it acts on here.
    parameters: Option<std::collections::BTreeMap<String, Value>>,
}

/// An empty JSON object.
#[derive(ToSchema)]
pub struct V2Empty {}

#[derive(ToSchema)]
pub struct V2Live {
    live: bool,
}

#[derive(ToSchema)]
pub struct V2Ready {
    ready: bool,
}

#[derive(ToSchema)]
pub struct V2ModelReady {
    name: String,
    ready: bool,
}

#[derive(ToSchema)]
pub struct V2TensorMetadata {
    name: String,
    datatype: String,
    /// `-1` for the batch dimension.
    shape: Vec<i64>,
}

#[derive(ToSchema)]
pub struct V2ModelMetadata {
    name: String,
    versions: Vec<String>,
    platform: String,
    inputs: Vec<V2TensorMetadata>,
    outputs: Vec<V2TensorMetadata>,
}

/// One input tensor: `[rows, features]`, FP32 or FP64, `data` flat or nested
/// (or, in the binary form, `parameters.binary_data_size` and no `data`).
#[derive(ToSchema)]
pub struct V2InputTensor {
    name: String,
    shape: Vec<i64>,
    #[schema(example = "FP64")]
    datatype: String,
    #[schema(value_type = Vec<Object>)]
    data: Option<Vec<Value>>,
    #[schema(value_type = Object)]
    parameters: Option<Value>,
}

#[derive(ToSchema)]
pub struct V2RequestedOutput {
    name: String,
    #[schema(value_type = Object)]
    parameters: Option<Value>,
}

#[derive(ToSchema)]
#[schema(example = json!({"id": "1", "inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP64", "data": [1.5, 2.3, 0.8]}]}))]
pub struct V2InferRequest {
    #[schema(value_type = Object)]
    id: Option<Value>,
    inputs: Vec<V2InputTensor>,
    outputs: Option<Vec<V2RequestedOutput>>,
    #[schema(value_type = Object)]
    parameters: Option<Value>,
}

#[derive(ToSchema)]
pub struct V2OutputTensor {
    name: String,
    shape: Vec<i64>,
    datatype: String,
    #[schema(value_type = Vec<Object>)]
    data: Option<Vec<Value>>,
    #[schema(value_type = Object)]
    parameters: Option<Value>,
}

#[derive(ToSchema)]
pub struct V2InferResponse {
    #[schema(value_type = Object)]
    id: Option<Value>,
    model_name: String,
    model_version: String,
    outputs: Vec<V2OutputTensor>,
}

/// The query of `GET /items/`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListParams {
    /// Items to skip (paging). A deep page costs a read of every item
    /// before it: page with `cursor` instead.
    #[param(minimum = 0)]
    skip: Option<u64>,
    /// Where the page starts: the cursor in a page's `Link` header
    /// (`rel="next"` or `rel="prev"`), sent with the same filters and sort.
    /// Not with `skip`.
    #[param(max_length = 16384)]
    cursor: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// Case-insensitive text in the name or description (Unicode case folding).
    #[param(max_length = 200)]
    q: Option<String>,
    /// Exact category, ignoring case.
    category: Option<String>,
    /// Only items cheaper than this.
    price_lt: Option<f64>,
    /// A field (`id`, `name`, `description`, `category`, `price`, `created_at`,
    /// `updated_at`, `version`), `-` in front for descending.
    #[param(example = "-price")]
    sort: Option<String>,
}

// ---- Modifiers ----

/// How callers prove who they are: the OAuth2 password flow (Swagger UI's
/// Authorize button), a bearer token (access or API token), or the
/// browser's session cookie. Item reads and predictions need none by
/// default (`ITEMSERVE_PUBLIC_READ`); item writes need an editor, `/users`
/// an admin.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut Document) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes,
            SecurityRequirement, SecurityScheme,
        };
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::with_description(
                [Flow::Password(Password::new("/auth/token", Scopes::new()))],
                "Log in with a user name and password (the first user is `admin`).",
            )),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT access token or isk_ API token")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::server::auth::SESSION_COOKIE,
            ))),
        );
        let logged_in = || {
            vec![
                SecurityRequirement::new("oauth2", Vec::<String>::new()),
                SecurityRequirement::new("bearer", Vec::<String>::new()),
                SecurityRequirement::new("session", Vec::<String>::new()),
            ]
        };
        // `/v2` refuses in the protocol's `{"error"}` shape, the rest with
        // `{"detail"}`.
        let detail = |description: &str, v2: bool| -> RefOr<utoipa::openapi::Response> {
            let schema = if v2 { "InferenceError" } else { "Detail" };
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    Content::new(Some(RefOr::Ref(Ref::from_schema_name(schema)))),
                )
                .build()
                .into()
        };
        for (path, item) in doc.paths.paths.iter_mut() {
            let v2 = path.starts_with("/v2");
            let guarded = [
                "/items",
                "/search",
                "/filter",
                "/predict",
                "/api/models",
                "/v2/models",
                "/v2/repository",
                "/trash",
            ]
            .iter()
            .any(|p| path.starts_with(p));
            // Admins only, logged in whatever ITEMSERVE_PUBLIC_READ says.
            let users = path.starts_with("/users") || path.starts_with("/audit");
            for (method, _, operation) in operations(item) {
                if !(guarded || users) || method == "GET" && path == "/predict/" {
                    continue;
                }
                let write = (path.starts_with("/items") || path.starts_with("/trash"))
                    && method != "GET"
                    || path.starts_with("/v2/repository");
                // Purging the trash is for admins.
                let admin = users || path.starts_with("/trash") && method == "DELETE";
                let mut security = logged_in();
                if !write && !users {
                    // Anonymous unless ITEMSERVE_PUBLIC_READ=false.
                    security.insert(0, SecurityRequirement::default());
                }
                operation.security = Some(security);
                let responses = &mut operation.responses.responses;
                responses
                    .entry("401".into())
                    .or_insert_with(|| detail("Not logged in, or the token is invalid or expired (`WWW-Authenticate: Bearer`)", v2));
                if write || users {
                    responses.entry("403".into()).or_insert_with(|| {
                        let description = if admin {
                            "Logged in without the admin role"
                        } else {
                            "Logged in without the editor or admin role"
                        };
                        detail(description, v2)
                    });
                }
            }
        }
    }
}

/// The responses any route can give, added to every operation.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, doc: &mut Document) {
        let detail = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    Content::new(Some(RefOr::Ref(Ref::from_schema_name("Detail")))),
                )
                .build()
        };
        for (path, item) in doc.paths.paths.iter_mut() {
            let v2 = path.starts_with("/v2");
            for (_, has_body, operation) in operations(item) {
                // Unique ids for generated clients: `items_list`, `models_list`.
                let tag = operation
                    .tags
                    .as_ref()
                    .and_then(|tags| tags.first())
                    .cloned()
                    .unwrap_or_default();
                if let Some(id) = &mut operation.operation_id {
                    *id = format!("{tag}_{id}");
                }
                let responses = &mut operation.responses.responses;
                let mut add = |status: &str, description: &str| {
                    responses
                        .entry(status.to_owned())
                        .or_insert_with(|| detail(description).into());
                };
                add("414", "The path and query string are longer than 8 KiB");
                // Checked before the path's own limit: a path and query far
                // over it are a head too large.
                add(
                    "431",
                    "The request's head (its line and headers) is larger than 64 KiB",
                );
                add(
                    "429",
                    "Too many requests from this client; `Retry-After` says when to retry",
                );
                if has_body {
                    add(
                        "408",
                        "The body did not arrive within the body timeout (30 s by default)",
                    );
                    add("413", "The body is larger than 1 MiB");
                    if !v2 {
                        add("415", "The body is not `application/json`");
                    }
                }
            }
        }
    }
}

/// Collection routes answer without their trailing slash too, as the
/// original app did; the document lists both so that it matches the router.
struct SlashAliases;

impl Modify for SlashAliases {
    fn modify(&self, doc: &mut Document) {
        let routes = super::route_list();
        let registered = |method: &str, path: &str| {
            routes
                .iter()
                .any(|(m, p)| m.as_str().eq_ignore_ascii_case(method) && *p == path)
        };
        let mut aliases = Vec::new();
        for (path, item) in &doc.paths.paths {
            let Some(bare) = path.strip_suffix('/').filter(|bare| !bare.is_empty()) else {
                continue;
            };
            if doc.paths.paths.contains_key(bare) {
                continue;
            }
            let mut item = item.clone();
            // Only the methods the bare path really serves (`GET /predict`
            // is the prediction page, not an alias of `GET /predict/`).
            retain_operations(&mut item, |method| registered(method, bare));
            for (_, _, operation) in operations(&mut item) {
                operation.summary = Some(format!(
                    "{} (same as `{path}`)",
                    operation.summary.as_deref().unwrap_or_default()
                ));
                if let Some(id) = &mut operation.operation_id {
                    id.push_str("_without_slash");
                }
            }
            if !operations(&mut item).is_empty() {
                aliases.push((bare.to_owned(), item));
            }
        }
        for (path, item) in aliases {
            doc.paths.paths.insert(path, item);
        }
    }
}

/// The operations of a path item, each with its method and whether it
/// takes a body.
fn operations(item: &mut PathItem) -> Vec<(&'static str, bool, &mut Operation)> {
    [
        ("GET", false, item.get.as_mut()),
        ("PUT", true, item.put.as_mut()),
        ("POST", true, item.post.as_mut()),
        ("DELETE", false, item.delete.as_mut()),
        ("PATCH", true, item.patch.as_mut()),
        ("HEAD", false, item.head.as_mut()),
        ("OPTIONS", false, item.options.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, body, op)| op.map(|op| (method, body, op)))
    .collect()
}

/// Drops the operations whose method `keep` refuses.
fn retain_operations(item: &mut PathItem, keep: impl Fn(&str) -> bool) {
    for (method, slot) in [
        ("GET", &mut item.get),
        ("PUT", &mut item.put),
        ("POST", &mut item.post),
        ("DELETE", &mut item.delete),
        ("PATCH", &mut item.patch),
        ("HEAD", &mut item.head),
        ("OPTIONS", &mut item.options),
    ] {
        if !keep(method) {
            *slot = None;
        }
    }
}
