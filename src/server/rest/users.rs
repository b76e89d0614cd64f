//! `/users`: user management, for admins.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};

use super::account::Fields;
use super::error::ValidationBody;
use super::error::{ApiError, ValidationDetail};
use super::extract::{path_id, Can, ManageUsers, Witnessed};
use super::openapi::Detail;
use crate::domain::{validate_password, validate_user_name, FieldError, Role, User};
use crate::server::state::AppState;
use crate::server::store::{Credential, CredentialKind};

/// The body of `POST /users`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({"name": "grace", "password": "a long passphrase", "role": "editor"}))]
pub struct NewUser {
    /// Letters, digits, `.`, `_`, `-` and `@`; compared ignoring case.
    #[schema(min_length = 1, max_length = 64)]
    name: String,
    #[schema(min_length = 8, max_length = 256)]
    password: String,
    role: Role,
}

/// The body of `PATCH /users/{id}`: the fields to change.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({"role": "viewer", "disabled": true}))]
pub struct UserPatch {
    role: Option<Role>,
    /// A disabled user cannot log in; their sessions and refresh tokens end.
    disabled: Option<bool>,
    /// A new password (a reset); the user's sessions and refresh tokens end.
    #[schema(min_length = 8, max_length = 256)]
    password: Option<String>,
}

/// `GET /users`.
#[utoipa::path(
    get,
    path = "/users",
    tag = "users",
    summary = "List users",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Every user", body = Vec<User>),
        (status = 401, description = "Not logged in", body = Detail),
        (status = 403, description = "Not an admin", body = Detail),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _: Can<ManageUsers>,
) -> Result<Json<Vec<User>>, ApiError> {
    Ok(Json(state.auth.users().list_users().await?))
}

/// `POST /users`.
#[utoipa::path(
    post,
    path = "/users",
    tag = "users",
    summary = "Add a user",
    security(("bearer" = []), ("session" = [])),
    request_body = NewUser,
    responses(
        (status = 201, description = "The new user", body = User),
        (status = 401, description = "Not logged in", body = Detail),
        (status = 403, description = "Not an admin", body = Detail),
        (status = 409, description = "The name is taken, or looks like a taken one (case, full-width and Cyrillic or Greek look-alike letters are ignored)", body = Detail),
        (status = 422, description = "Every invalid field", body = ValidationBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Can<ManageUsers>,
    Witnessed(witness): Witnessed,
    fields: Fields,
) -> Result<impl IntoResponse, ApiError> {
    let mut errors = Vec::new();
    let name = text_field(&fields, "name", &mut errors)
        .and_then(|raw| check(validate_user_name(&raw), &raw, &mut errors));
    let password = text_field(&fields, "password", &mut errors)
        .and_then(|raw| check(validate_password(&raw), "", &mut errors).map(|()| raw));
    let role = role_field(&fields, true, &mut errors);
    let (Some(name), Some(password), Some(role), true) = (name, password, role, errors.is_empty())
    else {
        return Err(ApiError::Validation(errors));
    };
    let witness = witness.with_caller(caller.0.as_ref());
    let user = state
        .auth
        .create_user(&name, &password, role, &witness)
        .await?;
    tracing::info!(user = %user.name, role = role.as_str(), "user created");
    Ok((StatusCode::CREATED, Json(user)))
}

/// `GET /users/{id}`.
#[utoipa::path(
    get,
    path = "/users/{id}",
    tag = "users",
    summary = "One user",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 401, description = "Not logged in", body = Detail),
        (status = 403, description = "Not an admin", body = Detail),
        (status = 404, description = "No user has this id", body = Detail),
        (status = 422, description = "The id is not an integer", body = ValidationBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    _: Can<ManageUsers>,
    Path(id): Path<String>,
) -> Result<Json<User>, ApiError> {
    let id = path_id(&id)?;
    state
        .auth
        .users()
        .user_by_id(id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound("User not found".into()))
}

/// `PATCH /users/{id}`: change the role, disable or enable, reset the password.
#[utoipa::path(
    patch,
    path = "/users/{id}",
    tag = "users",
    summary = "Change a user",
    description = "Change the role, disable or enable, or reset the password. Admins cannot demote or disable themselves (so there is always an admin).",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path, description = "The user's id")),
    request_body = UserPatch,
    responses(
        (status = 200, description = "The changed user", body = User),
        (status = 401, description = "Not logged in", body = Detail),
        (status = 403, description = "Not an admin", body = Detail),
        (status = 404, description = "No user has this id", body = Detail),
        (status = 409, description = "An admin tried to demote or disable themselves", body = Detail),
        (status = 422, description = "Every invalid field", body = ValidationBody),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Can<ManageUsers>,
    Witnessed(witness): Witnessed,
    Path(id): Path<String>,
    fields: Fields,
) -> Result<Json<User>, ApiError> {
    let id = path_id(&id)?;
    let mut errors = Vec::new();
    let role = role_field(&fields, false, &mut errors);
    let disabled = match fields.get("disabled") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            errors.push(ValidationDetail::new(
                "body",
                "disabled",
                "bool_type",
                "Input should be a valid boolean",
                other.clone(),
            ));
            None
        }
    };
    let password = match fields.get("password") {
        None | Some(Value::Null) => None,
        Some(_) => text_field(&fields, "password", &mut errors)
            .and_then(|raw| check(validate_password(&raw), "", &mut errors).map(|()| raw)),
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let is_self = caller.0.as_ref().is_some_and(|c| c.user.id == id);
    if is_self && (role.is_some_and(|r| r != Role::Admin) || disabled == Some(true)) {
        return Err(ApiError::Conflict(
            "You cannot demote or disable yourself; another admin can".into(),
        ));
    }
    let witness = witness.with_caller(caller.0.as_ref());
    let user = state
        .auth
        .update_user(id, role, disabled, password.as_deref(), &witness)
        .await?;
    tracing::info!(user = %user.name, ?role, ?disabled, password_reset = password.is_some(), "user changed");
    Ok(Json(user))
}

/// `GET /users/{id}/tokens`: a user's API tokens.
#[utoipa::path(
    get,
    path = "/users/{id}/tokens",
    tag = "users",
    summary = "A user's API tokens",
    description = "Revoke one with `DELETE /auth/tokens/{id}`.",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user's tokens", body = Vec<Credential>),
        (status = 401, description = "Not logged in", body = Detail),
        (status = 403, description = "Not an admin", body = Detail),
        (status = 422, description = "The id is not an integer", body = ValidationBody),
    )
)]
pub async fn tokens(
    State(state): State<AppState>,
    _: Can<ManageUsers>,
    Path(id): Path<String>,
) -> Result<Json<Vec<Credential>>, ApiError> {
    let id = path_id(&id)?;
    Ok(Json(
        state
            .auth
            .users()
            .list_credentials(CredentialKind::Api, Some(id))
            .await?,
    ))
}

fn text_field(fields: &Fields, name: &str, errors: &mut Vec<ValidationDetail>) -> Option<String> {
    let before = errors.len();
    let text = fields.text(name, errors);
    (errors.len() == before).then_some(text)
}

fn role_field(fields: &Fields, required: bool, errors: &mut Vec<ValidationDetail>) -> Option<Role> {
    match fields.get("role") {
        None | Some(Value::Null) if !required => None,
        None => {
            errors.push(ValidationDetail::new(
                "body",
                "role",
                "missing",
                "Field required",
                Value::Null,
            ));
            None
        }
        Some(value) => {
            let role = value.as_str().and_then(Role::parse);
            if role.is_none() {
                errors.push(
                    ValidationDetail::new(
                        "body",
                        "role",
                        "enum",
                        "Input should be 'viewer', 'editor' or 'admin'",
                        value.clone(),
                    )
                    .with_ctx(json!({"expected": "'viewer', 'editor' or 'admin'"})),
                );
            }
            role
        }
    }
}

/// Keeps a validated value, or records its error (showing `input`).
fn check<T>(
    result: Result<T, FieldError>,
    input: &str,
    errors: &mut Vec<ValidationDetail>,
) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(e) => {
            errors.push(ValidationDetail::from_field("body", &e, json!(input)));
            None
        }
    }
}
