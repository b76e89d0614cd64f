//! `/auth/...`: logging in for scripts (OAuth2 password flow, as FastAPI's
//! `OAuth2PasswordRequestForm` reads it, so Swagger UI's Authorize button
//! works), refresh tokens, the caller's own account and API tokens.

use axum::extract::{FromRequest, Path, Request, State};
use axum::http::header::{CACHE_CONTROL, PRAGMA};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::error::ValidationBody;
use super::error::{ApiError, ValidationDetail};
use super::extract::{path_id, read_body, Caller, JsonBytes, Witnessed};
use super::openapi::Detail;
use crate::domain::User;
use crate::server::auth::AUTH_OFF;
use crate::server::auth::{Principal, Witness};
use crate::server::http::MediaType;
use crate::server::state::AppState;
use crate::server::store::{Credential, CredentialKind};

/// Longest label of an API token, in characters.
const TOKEN_NAME_MAX_CHARS: usize = 100;

/// A JSON object body, read member by member.
pub struct Fields(Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let JsonBytes(bytes) = JsonBytes::from_request(req, state).await?;
        Fields::parse_json(&bytes)
    }
}

/// The body of the OAuth2 token routes: form fields, as OAuth2 clients and
/// Swagger UI's Authorize button send them, or JSON. Only these routes
/// take forms: they authenticate by what the body holds, never by the
/// session cookie, so a form another site's page submits gains nothing.
pub struct OAuthFields(Fields);

impl<S: Send + Sync> FromRequest<S> for OAuthFields {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let mime = MediaType::of(req.headers());
        let form = mime.is("application/x-www-form-urlencoded");
        if !form && !mime.is_json() {
            return Err(ApiError::UnsupportedMediaType(
                "Send the fields as a form (application/x-www-form-urlencoded) or as JSON".into(),
            ));
        }
        let bytes = read_body(req).await?;
        if form {
            let fields = form_urlencoded::parse(&bytes)
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect();
            return Ok(OAuthFields(Fields(fields)));
        }
        Fields::parse_json(&bytes).map(OAuthFields)
    }
}

impl Fields {
    fn parse_json(bytes: &[u8]) -> Result<Fields, ApiError> {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(Fields(map)),
            _ => Err(ApiError::Validation(vec![ValidationDetail::at(
                vec![json!("body")],
                "model_attributes_type",
                "Input should be a JSON object",
                Value::Null,
            )])),
        }
    }

    /// A required string field, or a 422 detail.
    pub fn text(&self, name: &str, errors: &mut Vec<ValidationDetail>) -> String {
        match self.0.get(name) {
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                errors.push(ValidationDetail::new(
                    "body",
                    name,
                    "string_type",
                    "Input should be a valid string",
                    other.clone(),
                ));
                String::new()
            }
            None => {
                errors.push(ValidationDetail::new(
                    "body",
                    name,
                    "missing",
                    "Field required",
                    Value::Null,
                ));
                String::new()
            }
        }
    }

    /// Required string fields, or a 422 listing every one missing or not
    /// a string.
    fn required<const N: usize>(&self, names: [&str; N]) -> Result<[String; N], ApiError> {
        let mut errors = Vec::new();
        let values = names.map(|name| self.text(name, &mut errors));
        match errors.is_empty() {
            true => Ok(values),
            false => Err(ApiError::Validation(errors)),
        }
    }

    fn optional(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }

    /// A field as sent.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }
}

/// What a login or a refresh returns.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"access_token": "eyJhbGciOiJIUzI1NiJ9...", "token_type": "bearer", "expires_in": 900, "refresh_token": "isr_..."}))]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer <access_token>`.
    access_token: String,
    /// Always `bearer`.
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: u64,
    /// Exchange at `POST /auth/refresh` for a new pair (once).
    refresh_token: String,
}

/// The body of `POST /auth/token` (form or JSON).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct LoginForm {
    /// `password` (the default) or `refresh_token`.
    grant_type: Option<String>,
    username: Option<String>,
    password: Option<String>,
    /// With `grant_type=refresh_token`.
    refresh_token: Option<String>,
}

/// A refresh token, to redeem or revoke.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct RefreshForm {
    refresh_token: String,
}

/// `POST /auth/token`: a name and password (or a refresh token) for an
/// access token and a refresh token.
#[utoipa::path(
    post,
    path = "/auth/token",
    tag = "auth",
    summary = "Log in",
    description = "The OAuth2 password flow: `username` and `password` as a form (what Swagger UI's Authorize button sends) or as JSON. `grant_type=refresh_token` with `refresh_token` redeems a refresh token instead. Attempts are limited per client address and per user name.",
    request_body(content(
        (LoginForm = "application/x-www-form-urlencoded"),
        (LoginForm = "application/json"),
    )),
    responses(
        (status = 200, description = "Logged in", body = TokenResponse),
        (status = 400, description = "Authentication is off on this server", body = Detail),
        (status = 401, description = "Wrong name or password, or a disabled user", body = Detail),
        (status = 422, description = "A field is missing", body = ValidationBody),
        (status = 429, description = "Too many attempts; wait a minute", body = Detail),
    )
)]
pub async fn token(
    State(state): State<AppState>,
    Witnessed(witness): Witnessed,
    OAuthFields(fields): OAuthFields,
) -> Result<TokenAnswer, ApiError> {
    auth_on(&state)?;
    if fields.optional("grant_type") == Some("refresh_token") {
        return redeem(&state, &fields, &witness).await;
    }
    let [name, password] = fields.required(["username", "password"])?;
    let user = state.auth.login(&name, &password, &witness).await?;
    tracing::info!(user = %user.name, "logged in (token)");
    token_pair(&state, &user).await
}

/// `POST /auth/refresh`: a refresh token for a new access token and a new
/// refresh token; the old one stops working.
#[utoipa::path(
    post,
    path = "/auth/refresh",
    tag = "auth",
    summary = "Refresh the access token",
    description = "Redeems a refresh token (once: it is replaced by the new one in the answer).",
    request_body(content(
        (RefreshForm = "application/json"),
        (RefreshForm = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "A new token pair", body = TokenResponse),
        (status = 401, description = "The refresh token is invalid, expired or revoked", body = Detail),
        (status = 422, description = "`refresh_token` is missing", body = ValidationBody),
    )
)]
pub async fn refresh(
    State(state): State<AppState>,
    Witnessed(witness): Witnessed,
    OAuthFields(fields): OAuthFields,
) -> Result<TokenAnswer, ApiError> {
    auth_on(&state)?;
    redeem(&state, &fields, &witness).await
}

async fn redeem(
    state: &AppState,
    fields: &Fields,
    witness: &Witness,
) -> Result<TokenAnswer, ApiError> {
    let [refresh_token] = fields.required(["refresh_token"])?;
    let (user, refresh_token) = state
        .auth
        .rotate_refresh_token(&refresh_token, witness)
        .await?;
    Ok(token_answer(state, &user, refresh_token))
}

/// A new access token and the first refresh token of a new family.
async fn token_pair(state: &AppState, user: &User) -> Result<TokenAnswer, ApiError> {
    let (refresh_token, _) = state
        .auth
        .issue(CredentialKind::Refresh, user, None)
        .await?;
    Ok(token_answer(state, user, refresh_token))
}

fn token_answer(state: &AppState, user: &User, refresh_token: String) -> TokenAnswer {
    let (access_token, expires_in) = state.auth.access_token(user);
    (
        NO_STORE,
        Json(TokenResponse {
            access_token,
            token_type: "bearer",
            expires_in,
            refresh_token,
        }),
    )
}

/// An answer carrying secrets: no cache may keep it (RFC 6749 §5.1).
const NO_STORE: [(HeaderName, HeaderValue); 2] = [
    (CACHE_CONTROL, HeaderValue::from_static("no-store")),
    (PRAGMA, HeaderValue::from_static("no-cache")),
];

/// A token answer with its caching headers.
type TokenAnswer = ([(HeaderName, HeaderValue); 2], Json<TokenResponse>);

/// `POST /auth/revoke`: ends a refresh token (logging a script out).
#[utoipa::path(
    post,
    path = "/auth/revoke",
    tag = "auth",
    summary = "Revoke a refresh token",
    request_body(content(
        (RefreshForm = "application/json"),
        (RefreshForm = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "Revoked (or already not valid)", body = Detail,
            example = json!({"detail": "Refresh token revoked"})),
        (status = 422, description = "`refresh_token` is missing", body = ValidationBody),
    )
)]
pub async fn revoke(
    State(state): State<AppState>,
    Witnessed(witness): Witnessed,
    OAuthFields(fields): OAuthFields,
) -> Result<Json<Value>, ApiError> {
    auth_on(&state)?;
    let [refresh_token] = fields.required(["refresh_token"])?;
    state
        .auth
        .log_out(CredentialKind::Refresh, &refresh_token, &witness)
        .await?;
    Ok(Json(json!({ "detail": "Refresh token revoked" })))
}

/// `GET /auth/me`: the logged-in caller.
#[utoipa::path(
    get,
    path = "/auth/me",
    tag = "auth",
    summary = "Who am I",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The caller", body = User),
        (status = 401, description = "Not logged in", body = Detail),
    )
)]
pub async fn me(Caller(principal): Caller) -> Json<User> {
    Json(principal.user)
}

/// The account routes answer 400 when logins are off.
fn auth_on(state: &AppState) -> Result<(), ApiError> {
    match state.auth.policy.enabled {
        true => Ok(()),
        false => Err(ApiError::BadRequest(AUTH_OFF.into())),
    }
}

/// A new API token: the only time the secret is shown.
#[derive(Serialize, utoipa::ToSchema)]
pub struct NewApiToken {
    #[serde(flatten)]
    credential: Credential,
    /// Send as `Authorization: Bearer <token>`; it is not shown again.
    token: String,
}

/// The body of `POST /auth/tokens`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({"name": "nightly import"}))]
pub struct NewTokenForm {
    /// What the token is for.
    #[schema(min_length = 1, max_length = 100)]
    name: String,
}

/// `POST /auth/tokens`: a personal API token for scripts.
#[utoipa::path(
    post,
    path = "/auth/tokens",
    tag = "auth",
    summary = "Create an API token",
    description = "A long-lived token that acts as the caller, for scripts. The secret is in this answer only; the server keeps its hash.",
    security(("bearer" = []), ("session" = [])),
    request_body = NewTokenForm,
    responses(
        (status = 201, description = "The token, shown once", body = NewApiToken),
        (status = 401, description = "Not logged in", body = Detail),
        (status = 422, description = "The name is missing, blank or too long", body = ValidationBody),
    )
)]
pub async fn create_token(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Witnessed(witness): Witnessed,
    fields: Fields,
) -> Result<impl IntoResponse, ApiError> {
    let mut errors = Vec::new();
    let name = fields.text("name", &mut errors).trim().to_owned();
    if errors.is_empty() && (name.is_empty() || name.chars().count() > TOKEN_NAME_MAX_CHARS) {
        errors.push(
            ValidationDetail::new(
                "body",
                "name",
                if name.is_empty() {
                    "string_too_short"
                } else {
                    "string_too_long"
                },
                format!("String should have 1 to {TOKEN_NAME_MAX_CHARS} characters"),
                json!(name),
            )
            .with_ctx(json!({"min_length": 1, "max_length": TOKEN_NAME_MAX_CHARS})),
        );
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let witness = witness.with_caller(Some(&principal));
    let (token, credential) = state
        .auth
        .create_api_token(&principal.user, name, &witness)
        .await?;
    tracing::info!(user = %principal.user.name, token = credential.id, "API token created");
    Ok((
        StatusCode::CREATED,
        NO_STORE,
        Json(NewApiToken { credential, token }),
    ))
}

/// `GET /auth/tokens`: the caller's API tokens (never their secrets).
#[utoipa::path(
    get,
    path = "/auth/tokens",
    tag = "auth",
    summary = "List my API tokens",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The caller's tokens, revoked ones included", body = Vec<Credential>),
        (status = 401, description = "Not logged in", body = Detail),
    )
)]
pub async fn list_tokens(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Json<Vec<Credential>>, ApiError> {
    Ok(Json(
        state
            .auth
            .users()
            .list_credentials(CredentialKind::Api, Some(principal.user.id))
            .await?,
    ))
}

/// `DELETE /auth/tokens/{id}`: revokes one of the caller's API tokens (an
/// admin may revoke anyone's).
#[utoipa::path(
    delete,
    path = "/auth/tokens/{id}",
    tag = "auth",
    summary = "Revoke an API token",
    description = "Your own token; admins may revoke anyone's.",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path, description = "The token's id")),
    responses(
        (status = 200, description = "Revoked", body = Detail, example = json!({"detail": "Token revoked"})),
        (status = 401, description = "Not logged in", body = Detail),
        (status = 404, description = "No live token of yours has this id", body = Detail),
        (status = 422, description = "The id is not an integer", body = ValidationBody),
    )
)]
pub async fn revoke_token(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Witnessed(witness): Witnessed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(&id)?;
    let witness = witness.with_caller(Some(&principal));
    state
        .auth
        .revoke_api_token(id, owner_filter(&principal), &witness)
        .await?;
    Ok(Json(json!({ "detail": "Token revoked" })))
}

/// Admins act on anyone's tokens, everyone else on their own.
fn owner_filter(principal: &Principal) -> Option<i64> {
    (principal.user.role != crate::domain::Role::Admin).then_some(principal.user.id)
}
