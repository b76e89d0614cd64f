//! `/audit`: the audit log, for admins. Read only: no route changes or
//! removes an entry.

use axum::extract::{RawQuery, State};
use axum::response::Response;
use serde_json::json;

use super::cache::page_with_next;
use super::error::{ApiError, ValidationBody, ValidationDetail};
use super::extract::{Can, ReadAudit};
use super::openapi::{AuditPage, Detail};
use crate::domain::{parse_int, AuditAction, AuditFilter};
use crate::server::auth::instant;
use crate::server::state::AppState;
use crate::server::store::{cut_page, AuditPosition, MAX_AUDIT_PAGE};

/// Entries on a page of the audit log when the query does not say.
const DEFAULT_AUDIT_PAGE: i64 = 50;

/// `GET /audit`: a page of the audit log, newest first.
#[utoipa::path(
    get,
    path = "/audit",
    tag = "audit",
    summary = "The audit log",
    description = "Security-relevant actions, newest first: logins (and failed attempts, with the name tried, never the password), logouts, refresh tokens presented twice, API tokens created and revoked, users created, role changes, disabling and enabling, password resets. Each says who acted, through which door, in which request and from which address. `user` keeps what one user did (ignoring case; for a failed login, the name it was tried with), `action` one kind of action, `since` and `until` (RFC 3339) a time span. Paged by cursor: `next` (also in a `Link` header) names the older page. Entries cannot be changed or deleted, through this API or any other. Admins only.",
    params(
        ("user" = Option<String>, Query, description = "Only what this user did"),
        ("action" = Option<AuditAction>, Query, description = "Only this kind of action"),
        ("since" = Option<String>, Query, description = "RFC 3339: only entries at or after this time"),
        ("until" = Option<String>, Query, description = "RFC 3339: only entries before this time"),
        ("cursor" = Option<String>, Query, description = "Where the page starts: the `next` of the page before"),
        ("limit" = Option<i64>, Query, description = "Entries per page, 1 to 100 (default 50)"),
    ),
    responses(
        (status = 200, description = "A page of the audit log", body = AuditPage,
            headers(("Link" = String, description = "The next page (`rel=\"next\"`), when there is one"))),
        (status = 401, description = "Not logged in", body = Detail),
        (status = 403, description = "Not an admin", body = Detail),
        (status = 422, description = "A filter, the cursor or `limit` is not valid", body = ValidationBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _: Can<ReadAudit>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let page = PageParams::parse(raw.as_deref())?;
    // One more than the page, to know whether more follow.
    let mut entries = state
        .auth
        .users()
        .audit(&page.filter, page.after.as_ref(), page.limit + 1)
        .await?;
    let next = cut_page(&mut entries, page.limit).map(|last| {
        let mut query = form_urlencoded::Serializer::new(String::new());
        let filter = &page.filter;
        for (key, value) in [
            ("user", filter.user.as_deref()),
            ("action", filter.action.map(AuditAction::as_str)),
            ("since", filter.since.as_deref()),
            ("until", filter.until.as_deref()),
        ] {
            if let Some(value) = value {
                query.append_pair(key, value);
            }
        }
        query.append_pair("cursor", &AuditPosition::after(last).encode());
        query.append_pair("limit", &page.limit.to_string());
        format!("/audit?{}", query.finish())
    });
    Ok(page_with_next("entries", json!(entries), next))
}

/// The query of a page of the audit log.
struct PageParams {
    filter: AuditFilter,
    after: Option<AuditPosition>,
    limit: i64,
}

impl PageParams {
    fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let mut page = PageParams {
            filter: AuditFilter::default(),
            after: None,
            limit: DEFAULT_AUDIT_PAGE,
        };
        let mut details = Vec::new();
        for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            match &*key {
                "user" => {
                    page.filter.user = Some(value.trim().to_owned()).filter(|u| !u.is_empty())
                }
                "action" if value.is_empty() => page.filter.action = None,
                "action" => match AuditAction::parse(&value) {
                    Some(action) => page.filter.action = Some(action),
                    None => details.push(
                        ValidationDetail::new(
                            "query",
                            "action",
                            "enum",
                            format!(
                                "Input should be one of: {}",
                                AuditAction::ALL.map(AuditAction::as_str).join(", ")
                            ),
                            json!(value),
                        )
                        .with_ctx(json!({"expected": AuditAction::ALL.map(AuditAction::as_str)})),
                    ),
                },
                "since" | "until" => match instant(&value) {
                    Some(at) if key == "since" => page.filter.since = Some(at),
                    Some(at) => page.filter.until = Some(at),
                    None => details.push(ValidationDetail::new(
                        "query",
                        &key,
                        "datetime_parsing",
                        "Input should be a valid RFC 3339 date and time, such as \
                         2026-01-02T09:30:00Z",
                        json!(value),
                    )),
                },
                "cursor" => match AuditPosition::decode(&value) {
                    Ok(after) => page.after = Some(after),
                    Err(e) => match ApiError::from(e) {
                        ApiError::Validation(found) => details.extend(found),
                        other => return Err(other),
                    },
                },
                "limit" => match parse_int("limit", &value, 1, MAX_AUDIT_PAGE as u64) {
                    Ok(n) => page.limit = n as i64,
                    Err(e) => details.push(ValidationDetail::from_field("query", &e, json!(value))),
                },
                _ => {}
            }
        }
        match details.is_empty() {
            true => Ok(page),
            false => Err(ApiError::Validation(details)),
        }
    }
}
