//! Request extractors that turn bad input into the API's error shapes
//! instead of axum's plain-text rejections.

use std::marker::PhantomData;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::IF_MATCH;
use axum::http::request::Parts;
use bytes::BytesMut;
use http_body_util::BodyExt;
use hyper::body::Body as _;
use serde_json::{json, Value};

use super::error::{ApiError, ValidationDetail};
use crate::domain::{Door, ItemQuery, Permission};
use crate::server::auth::{Principal, Witness, AUTH_OFF};
use crate::server::http::{request_id, MediaType, MAX_BODY_BYTES};
use crate::server::state::AppState;
use crate::server::store::Origin;

/// The raw bytes of a JSON request body: the content type is checked and
/// the size limit applied, but nothing is parsed yet.
pub struct JsonBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        if !MediaType::of(req.headers()).is_json() {
            return Err(ApiError::UnsupportedMediaType(
                "Unsupported media type: send the body as JSON with \
                 'Content-Type: application/json'"
                    .into(),
            ));
        }
        read_body(req).await.map(JsonBytes)
    }
}

/// The whole request body, within [`MAX_BODY_BYTES`] (413 beyond).
///
/// Read here rather than by axum's `Bytes` extractor under a
/// `DefaultBodyLimit` layer: that layer wraps every REST route in one more
/// service, future and request extension per request, and the extractor
/// copies even a body that arrived in one piece (most do) into a list of
/// chunks first.
pub async fn read_body(req: Request) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::PayloadTooLarge(format!(
            "Request body too large: the limit is {MAX_BODY_BYTES} bytes"
        ))
    };
    let mut body = req.into_body();
    // A declared length over the limit is refused before anything is read.
    if body.size_hint().lower() > MAX_BODY_BYTES as u64 {
        return Err(too_large());
    }
    let mut first = Bytes::new();
    let mut joined: Option<BytesMut> = None;
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| ApiError::BadRequest(format!("Could not read the request body: {e}")))?;
        // Trailers carry nothing a handler reads.
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let so_far = joined.as_ref().map_or(first.len(), BytesMut::len);
        if so_far + data.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        match &mut joined {
            Some(joined) => joined.extend_from_slice(&data),
            None if first.is_empty() => first = data,
            None => {
                let mut both = BytesMut::with_capacity(first.len() + data.len());
                both.extend_from_slice(&first);
                both.extend_from_slice(&data);
                joined = Some(both);
            }
        }
    }
    Ok(joined.map_or(first, BytesMut::freeze))
}

impl JsonBytes {
    /// Parses the body into an untyped JSON value.
    pub fn parse(&self) -> Result<Value, ApiError> {
        serde_json::from_slice(&self.0).map_err(|e| json_invalid(&e, &self.0))
    }
}

/// A JSON request body, parsed but not yet typed.
///
/// Taking a `Value` first lets the item parser report every bad field at
/// once, where serde would stop at the first.
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = JsonBytes::from_request(req, state).await?;
        bytes.parse().map(JsonBody)
    }
}

/// FastAPI's answer to a body that is not JSON: 422 `json_invalid`, located
/// at the character where parsing failed.
fn json_invalid(error: &serde_json::Error, bytes: &[u8]) -> ApiError {
    let position = char_position(bytes, error.line(), error.column());
    ApiError::Validation(vec![ValidationDetail {
        kind: "json_invalid".into(),
        loc: vec![json!("body"), json!(position)],
        msg: "JSON decode error".into(),
        input: json!({}),
        ctx: Some(json!({ "error": error.to_string() })),
    }])
}

fn char_position(bytes: &[u8], line: usize, column: usize) -> usize {
    let text = String::from_utf8_lossy(bytes);
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(|l| l.chars().count())
        .sum();
    line_start + column.saturating_sub(1)
}

/// An item id from the path; anything but an integer is a 422.
pub struct ItemId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for ItemId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let raw = Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(raw)| raw)
            .unwrap_or_default();
        path_id(&raw).map(ItemId)
    }
}

/// An integer id from the path, or pydantic's 422 `int_parsing`.
pub fn path_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| {
        ApiError::Validation(vec![ValidationDetail::new(
            "path",
            "id",
            "int_parsing",
            "Input should be a valid integer, unable to parse string as an integer",
            json!(raw),
        )])
    })
}

/// Listing parameters from the query string (`skip`, `limit`, `q`, ...).
pub struct ListParams(pub ItemQuery);

impl ListParams {
    /// Parses a raw query string with the given default page size.
    pub fn parse(raw: Option<&str>, default_limit: u32) -> Result<ItemQuery, ApiError> {
        let pairs: Vec<(String, String)> =
            form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        ItemQuery::from_pairs(pairs.iter().map(|(k, v)| (k, v)), default_limit).map_err(|errors| {
            ApiError::Validation(
                errors
                    .iter()
                    .map(|e| {
                        let input = last_value(&pairs, &e.field);
                        ValidationDetail::from_field("query", e, json!(input))
                    })
                    .collect(),
            )
        })
    }
}

fn last_value<'a>(pairs: &'a [(String, String)], key: &str) -> &'a str {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_default()
}

impl<S: Send + Sync> FromRequestParts<S> for ListParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        ListParams::parse(parts.uri.query(), crate::domain::DEFAULT_LIMIT).map(ListParams)
    }
}

/// The version named by an `If-Match` header, if one was sent.
///
/// ETags are the item's version in quotes (`"3"`); `*` matches any version.
pub struct IfMatch(pub Option<i64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(IF_MATCH) else {
            return Ok(IfMatch(None));
        };
        let text = value.to_str().unwrap_or_default().trim();
        if text == "*" {
            return Ok(IfMatch(None));
        }
        // If-Match compares strongly (RFC 9110 §13.1.1): a weak tag
        // never matches, and this API's tags are all strong.
        if text.starts_with("W/") {
            return Err(ApiError::PreconditionFailed(format!(
                "If-Match compares ETags strongly and a weak one (W/...) never matches: \
                 send the ETag as returned, like \"3\"; got {text:?}"
            )));
        }
        text.trim_matches('"')
            .parse()
            .map(|v| IfMatch(Some(v)))
            .map_err(|_| {
                ApiError::PreconditionFailed(format!(
                    "If-Match must be an ETag returned by this API, like \"3\"; got {text:?}"
                ))
            })
    }
}

/// What a route needs the caller to hold, for [`Can`].
pub trait Needs: Send + Sync + 'static {
    const PERMISSION: Permission;
}

/// Reading items and models, predicting.
pub struct Read;
/// Creating, editing and deleting items.
pub struct WriteItems;
/// Managing users and other users' tokens.
pub struct ManageUsers;
/// Purging the trash.
pub struct PurgeItems;
/// Reading the audit log.
pub struct ReadAudit;
/// Loading and unloading models.
pub struct ManageModels;

impl Needs for Read {
    const PERMISSION: Permission = Permission::Read;
}
impl Needs for WriteItems {
    const PERMISSION: Permission = Permission::WriteItems;
}
impl Needs for ManageUsers {
    const PERMISSION: Permission = Permission::ManageUsers;
}
impl Needs for PurgeItems {
    const PERMISSION: Permission = Permission::PurgeItems;
}
impl Needs for ReadAudit {
    const PERMISSION: Permission = Permission::ReadAudit;
}
impl Needs for ManageModels {
    const PERMISSION: Permission = Permission::ManageModels;
}

/// Proof that the caller may do `P` (401/403 otherwise), with the caller
/// when the permission needed a login. Put it before any body extractor,
/// so a refused request is refused before its body is read.
pub struct Can<P>(pub Option<Principal>, PhantomData<P>);

impl<P: Needs> FromRequestParts<AppState> for Can<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let principal = state.auth.require(&parts.headers, P::PERMISSION).await?;
        if let Some(principal) = &principal {
            note_user(parts, principal);
        }
        Ok(Can(principal, PhantomData))
    }
}

/// Proof that the caller may write items (401/403 otherwise), and the
/// origin their changes are recorded with (through REST, in this request).
pub struct Editor(pub Origin);

impl FromRequestParts<AppState> for Editor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Can(principal, _) = Can::<WriteItems>::from_request_parts(parts, state).await?;
        Ok(Editor(Principal::origin(
            principal.as_ref(),
            Door::Rest,
            request_id(&parts.headers),
        )))
    }
}

/// The request as the audit log records it (through REST; the caller is
/// added by [`Witness::with_caller`] where one is known).
pub struct Witnessed(pub Witness);

impl FromRequestParts<AppState> for Witnessed {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _: &AppState,
    ) -> Result<Self, std::convert::Infallible> {
        Ok(Witnessed(Witness::of(
            parts,
            request_id(&parts.headers),
            None,
            Door::Rest,
        )))
    }
}

/// The logged-in caller, whatever their role (401 when nobody is).
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if !state.auth.policy.enabled {
            return Err(ApiError::BadRequest(AUTH_OFF.into()));
        }
        let principal = state
            .auth
            .authenticate(&parts.headers)
            .await?
            .ok_or(ApiError::Unauthorized("Not authenticated".into()))?;
        note_user(parts, &principal);
        Ok(Caller(principal))
    }
}

/// Lets the access log name the user.
fn note_user(parts: &Parts, principal: &Principal) {
    if let Some(slot) = parts.extensions.get::<crate::server::http::LogSlot>() {
        slot.set_user(&principal.user.name);
    }
}
