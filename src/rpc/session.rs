//! Logging in and out in the browser, and the admin page's user management.
//!
//! The session is an HttpOnly, SameSite=Strict cookie holding an opaque
//! token (stored hashed): scripts in the page never see it.

use leptos::prelude::*;

use crate::domain::{Role, Session, User};
use crate::rpc::wire::Rpc;
use crate::rpc::RpcError;

/// Who is using the UI, and what the server allows.
#[server(prefix = "/rpc", endpoint = "session/current", input = Rpc, output = Rpc)]
pub async fn current_session() -> Result<Session, RpcError> {
    let state = super::app_state()?;
    let parts = use_context::<axum::http::request::Parts>()
        .ok_or_else(|| RpcError::Internal("request missing".into()))?;
    let policy = state.auth.policy;
    let user = match policy.enabled {
        true => state
            .auth
            .authenticate(&parts.headers)
            .await
            .ok()
            .flatten()
            .map(|p| p.user),
        false => None,
    };
    Ok(Session { policy, user })
}

/// Checks the name and password and starts a browser session.
#[server(prefix = "/rpc", endpoint = "session/login", input = Rpc, output = Rpc)]
pub async fn log_in(name: String, password: String) -> Result<User, RpcError> {
    use crate::server::auth::{is_https, session_cookie};
    use crate::server::store::CredentialKind;
    let state = super::app_state()?;
    if !state.auth.policy.enabled {
        // As REST's login answers: 400, with the same sentence.
        return Err(RpcError::BadRequest(crate::server::auth::AUTH_OFF.into()));
    }
    let parts = use_context::<axum::http::request::Parts>()
        .ok_or_else(|| RpcError::Internal("request missing".into()))?;
    let witness = super::witness(None)?;
    let user = match state.auth.login(&name, &password, &witness).await {
        Err(crate::server::auth::AuthError::TooManyAttempts(wait)) => {
            if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                let after = crate::server::http::retry_after(wait);
                response.insert_header(axum::http::header::RETRY_AFTER, after);
            }
            return Err(crate::server::auth::AuthError::TooManyAttempts(wait).into());
        }
        result => result?,
    };
    let (token, _) = state
        .auth
        .issue(CredentialKind::Session, &user, None)
        .await?;
    let cookie = session_cookie(&token, state.auth.session_ttl, is_https(&parts.headers));
    set_cookie(&cookie)?;
    tracing::info!(user = %user.name, "logged in (browser)");
    Ok(user)
}

/// Ends the browser session.
#[server(prefix = "/rpc", endpoint = "session/logout", input = Rpc, output = Rpc)]
pub async fn log_out() -> Result<(), RpcError> {
    use crate::server::auth::{cookie, expired_session_cookie, is_https, SESSION_COOKIE};
    use crate::server::store::CredentialKind;
    let state = super::app_state()?;
    let parts = use_context::<axum::http::request::Parts>()
        .ok_or_else(|| RpcError::Internal("request missing".into()))?;
    if let Some(token) = cookie(&parts.headers, SESSION_COOKIE) {
        let witness = super::witness(None)?;
        state
            .auth
            .log_out(CredentialKind::Session, token, &witness)
            .await?;
    }
    set_cookie(&expired_session_cookie(is_https(&parts.headers)))?;
    Ok(())
}

#[cfg(feature = "ssr")]
fn set_cookie(value: &str) -> Result<(), RpcError> {
    let response = use_context::<leptos_axum::ResponseOptions>()
        .ok_or_else(|| RpcError::Internal("response missing".into()))?;
    let value =
        axum::http::HeaderValue::from_str(value).map_err(|e| RpcError::Internal(e.to_string()))?;
    response.append_header(axum::http::header::SET_COOKIE, value);
    Ok(())
}

/// Every user (admins only).
#[server(prefix = "/rpc", endpoint = "users/list", input = Rpc, output = Rpc)]
pub async fn list_users() -> Result<Vec<User>, RpcError> {
    super::authorize(crate::domain::Permission::ManageUsers).await?;
    Ok(super::app_state()?.auth.users().list_users().await?)
}

/// Adds a user (admins only).
#[server(prefix = "/rpc", endpoint = "users/create", input = Rpc, output = Rpc)]
pub async fn add_user(name: String, password: String, role: Role) -> Result<User, RpcError> {
    use crate::domain::{validate_password, validate_user_name};
    let caller = super::authorize(crate::domain::Permission::ManageUsers).await?;
    let mut errors = Vec::new();
    let name = validate_user_name(&name).map_err(|e| errors.push(e)).ok();
    let _ = validate_password(&password).map_err(|e| errors.push(e));
    match name {
        Some(name) if errors.is_empty() => Ok(super::app_state()?
            .auth
            .create_user(&name, &password, role, &super::witness(caller.as_ref())?)
            .await?),
        _ => Err(RpcError::Validation(errors)),
    }
}

/// Changes a user's role, disables or enables them, or resets their
/// password (admins only; not their own role or state).
#[server(prefix = "/rpc", endpoint = "users/update", input = Rpc, output = Rpc)]
pub async fn change_user(
    id: i64,
    role: Option<Role>,
    disabled: Option<bool>,
    password: Option<String>,
) -> Result<User, RpcError> {
    let caller = super::authorize(crate::domain::Permission::ManageUsers).await?;
    if let Some(password) = &password {
        crate::domain::validate_password(password).map_err(|e| RpcError::Validation(vec![e]))?;
    }
    let is_self = caller.as_ref().is_some_and(|c| c.user.id == id);
    if is_self && (role.is_some_and(|r| r != Role::Admin) || disabled == Some(true)) {
        return Err(RpcError::Rejected(
            "You cannot demote or disable yourself; another admin can.".into(),
        ));
    }
    Ok(super::app_state()?
        .auth
        .update_user(
            id,
            role,
            disabled,
            password.as_deref(),
            &super::witness(caller.as_ref())?,
        )
        .await?)
}

/// Entries on a page of the audit log in the UI.
#[cfg(feature = "ssr")]
const AUDIT_PAGE: i64 = 50;

/// A page of the audit log, newest first, from `cursor` (the `next` of
/// the page before; admins only).
#[server(prefix = "/rpc", endpoint = "audit/list", input = Rpc, output = Rpc)]
pub async fn list_audit(
    filter: crate::domain::AuditFilter,
    cursor: Option<String>,
) -> Result<crate::domain::AuditPage, RpcError> {
    use crate::server::store::AuditPosition;
    super::authorize(crate::domain::Permission::ReadAudit).await?;
    let mut filter = filter;
    for (name, at) in [("since", &mut filter.since), ("until", &mut filter.until)] {
        if let Some(text) = at.take() {
            let time = crate::server::auth::instant(&text).ok_or_else(|| {
                RpcError::Validation(vec![crate::domain::FieldError::new(
                    name,
                    "datetime_parsing",
                    "Enter a date and time such as 2026-01-02T09:30:00Z",
                )])
            })?;
            *at = Some(time);
        }
    }
    let after = cursor.as_deref().map(AuditPosition::decode).transpose()?;
    let mut entries = super::app_state()?
        .auth
        .users()
        .audit(&filter, after.as_ref(), AUDIT_PAGE + 1)
        .await?;
    let next = crate::server::store::cut_page(&mut entries, AUDIT_PAGE)
        .map(|last| AuditPosition::after(last).encode());
    Ok(crate::domain::AuditPage { entries, next })
}
