//! Who is calling, and may they: users, passwords, access tokens, refresh
//! tokens, API tokens and browser sessions.
//!
//! The REST API and the UI's server functions both call
//! [`Auth::require`], which applies the one rule in
//! [`AccessPolicy::check`](crate::domain::AccessPolicy::check).

mod audit;
mod tokens;

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::HeaderMap;

pub use audit::{instant, Witness};
pub use tokens::{random_text, API_TOKEN_PREFIX, REFRESH_TOKEN_PREFIX, SESSION_TOKEN_PREFIX};

use crate::domain::{AccessPolicy, AuditAction, Denied, Door, Permission, Role, User};
use crate::server::rate::{ClientKey, RateLimiter};
use crate::server::store::{
    now_rfc3339, Credential, CredentialKind, Origin, Rotation, StoreError, UserChanges, UserStore,
};
use crate::server::telemetry::BoxError;
use tokens::{Claims, Signer};

/// What a route that needs logins answers when authentication is off.
pub const AUTH_OFF: &str =
    "Authentication is off on this server (ITEMSERVE_AUTH=off): every request is allowed \
     without logging in";

/// The browser session cookie.
pub const SESSION_COOKIE: &str = "itemserve_session";

/// How many times the per-address budget one user name has from all
/// addresses together (see [`Auth::login`]).
const NAME_BUDGET_FACTOR: u32 = 10;

/// The settings key of the generated token signing key.
const SIGNING_KEY_SETTING: &str = "jwt_signing_key";

/// Who is calling.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user: User,
    pub via: Via,
    /// The name of the API token the caller came with.
    pub token: Option<String>,
}

impl Principal {
    /// Who makes a change, for its revision: the caller (or nobody),
    /// through `door`, in the request `request_id`.
    pub fn origin(caller: Option<&Principal>, door: Door, request_id: Option<String>) -> Origin {
        Origin {
            actor: caller.map(|p| p.user.name.clone()),
            token: caller.and_then(|p| p.token.clone()),
            door,
            request_id,
            reverts: None,
        }
    }
}

/// How the caller proved who they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    AccessToken,
    ApiToken,
    Session,
}

/// Why a request was refused or a login failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No credentials where some are needed: 401.
    #[error("Not authenticated")]
    NotLoggedIn,
    /// Credentials that are bad, expired, revoked or of a disabled user: 401.
    #[error("{0}")]
    BadCredentials(&'static str),
    /// Logged in without the role: 403.
    #[error("This needs the {needs} role (you are {has})")]
    Forbidden {
        needs: &'static str,
        has: &'static str,
    },
    /// Too many login attempts: 429.
    #[error("Too many login attempts; retry in {} s", .0.as_secs().max(1))]
    TooManyAttempts(Duration),
    /// A new user name that reads like an existing one: 409.
    #[error("The name '{name}' looks like the existing user '{existing}'; choose another")]
    LookAlikeName { name: String, existing: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A configured signing key too short to be safe (a startup error).
    #[error("ITEMSERVE_JWT_SECRET must be at least 32 characters")]
    ShortSecret,
    /// Hashing failed, or the task running it did: the server's fault; the
    /// cause is for logs.
    #[error("password hashing failed")]
    Internal(#[source] BoxError),
}

/// Settings of [`Auth`].
#[derive(Clone, Debug)]
pub struct AuthOptions {
    pub policy: AccessPolicy,
    /// Token signing key; generated and kept in the database when `None`.
    pub jwt_secret: Option<String>,
    /// Password of the first admin, on an empty user table; generated and
    /// logged once when `None`.
    pub admin_password: Option<String>,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub session_ttl: Duration,
    /// Login attempts a minute per client address and per user name.
    pub login_per_minute: u32,
}

/// Authentication and authorization for the whole server.
pub struct Auth {
    pub policy: AccessPolicy,
    pub access_ttl: Duration,
    pub session_ttl: Duration,
    refresh_ttl: Duration,
    signer: Signer,
    users: Arc<dyn UserStore>,
    /// Attempts per client address, whatever the name.
    login_by_address: RateLimiter,
    /// Attempts per (address, name): one address guessing one user's
    /// password is held to this budget without touching anyone else's.
    login_by_address_and_name: RateLimiter,
    /// Attempts per name from all addresses together, a larger budget
    /// ([`NAME_BUDGET_FACTOR`] times): it bounds guessing spread over many
    /// addresses, and no single address can spend it all (it has its own
    /// budget above), so the real user is not locked out by one guesser.
    login_by_name: RateLimiter,
    name_keys: RandomState,
    /// Verified against when a login names no known user, so that the
    /// answer takes as long as for a wrong password; made at the first such
    /// login rather than at every start.
    decoy_hash: tokio::sync::OnceCell<String>,
}

impl Auth {
    /// Loads or makes the signing key and, on an empty user table, creates
    /// the first admin.
    #[tracing::instrument(level = "debug", name = "auth.start", skip_all)]
    pub async fn start(options: AuthOptions, users: Arc<dyn UserStore>) -> Result<Auth, AuthError> {
        let secret = match options.jwt_secret {
            Some(secret) if secret.len() >= 32 => secret,
            Some(_) => return Err(AuthError::ShortSecret),
            None => {
                users
                    .setting_or_insert(SIGNING_KEY_SETTING, tokens::random_text(48))
                    .await?
            }
        };
        let auth = Auth {
            policy: options.policy,
            access_ttl: options.access_ttl,
            session_ttl: options.session_ttl,
            refresh_ttl: options.refresh_ttl,
            signer: Signer::new(secret.as_bytes()),
            users,
            login_by_address: RateLimiter::per_minute(
                options.login_per_minute,
                options.login_per_minute,
            ),
            login_by_address_and_name: RateLimiter::per_minute(
                options.login_per_minute,
                options.login_per_minute,
            ),
            login_by_name: RateLimiter::per_minute(
                options.login_per_minute.saturating_mul(NAME_BUDGET_FACTOR),
                options.login_per_minute.saturating_mul(NAME_BUDGET_FACTOR),
            ),
            name_keys: RandomState::new(),
            decoy_hash: tokio::sync::OnceCell::new(),
        };
        if options.policy.enabled {
            auth.create_first_admin(options.admin_password).await?;
        } else {
            tracing::warn!(
                "authentication is OFF (ITEMSERVE_AUTH=off): anyone who can reach this server \
                 can change and delete every item"
            );
        }
        Ok(auth)
    }

    async fn create_first_admin(&self, password: Option<String>) -> Result<(), AuthError> {
        if self.users.count_users().await? > 0 {
            return Ok(());
        }
        let generated = password.is_none();
        let password = password.unwrap_or_else(|| tokens::random_text(15));
        let hash = hash_password(&password).await?;
        match self.users.create_user("admin", &hash, Role::Admin).await {
            Ok(_) => {
                let server = Witness::default();
                let detail = "role admin: the first user, made at startup".to_owned();
                audit::record(
                    &*self.users,
                    &server,
                    AuditAction::UserCreated,
                    Some("admin"),
                    Some(detail),
                )
                .await;
            }
            // Another instance on the same database was first.
            Err(StoreError::UserExists(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        if generated {
            tracing::warn!(
                "created the first user: name 'admin', password '{password}' (shown only \
                 this once; set ITEMSERVE_ADMIN_PASSWORD to choose it)"
            );
        } else {
            tracing::info!("created the first user 'admin' with ITEMSERVE_ADMIN_PASSWORD");
        }
        Ok(())
    }

    /// The permission check of every door: `Ok(None)` when `permission`
    /// needs no login, the caller when it does and they hold it. A bearer
    /// token is checked even where none is needed: a script whose token
    /// was revoked hears so instead of carrying on anonymously.
    #[tracing::instrument(level = "debug", name = "auth.require", skip_all)]
    pub async fn require(
        &self,
        headers: &HeaderMap,
        permission: Permission,
    ) -> Result<Option<Principal>, AuthError> {
        if self.policy.check(None, permission).is_ok()
            && (!self.policy.enabled || !headers.contains_key(AUTHORIZATION))
        {
            return Ok(None);
        }
        let principal = self.authenticate(headers).await?;
        match self
            .policy
            .check(principal.as_ref().map(|p| p.user.role), permission)
        {
            Ok(()) => Ok(principal),
            Err(Denied::NotLoggedIn) => Err(AuthError::NotLoggedIn),
            Err(Denied::Forbidden { needs }) => Err(AuthError::Forbidden {
                needs: needs.as_str(),
                has: principal.map_or("anonymous", |p| p.user.role.as_str()),
            }),
        }
    }

    /// The caller named by the request's bearer token or session cookie.
    /// A bearer token that is not valid is an error; a stale cookie is
    /// ignored (the browser is simply logged out).
    #[tracing::instrument(level = "debug", name = "auth.authenticate", skip_all)]
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Principal>, AuthError> {
        if let Some(value) = headers.get(AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
                .map(str::trim)
                .ok_or(AuthError::BadCredentials(
                    "The Authorization header must be 'Bearer <token>'",
                ))?;
            return self.bearer(token).await.map(Some);
        }
        let Some(session) = cookie(headers, SESSION_COOKIE) else {
            return Ok(None);
        };
        Ok(self
            .credential_user(CredentialKind::Session, session)
            .await?
            .map(|(_, user)| Principal {
                user,
                via: Via::Session,
                token: None,
            }))
    }

    /// The user id of a valid access token in the request, checked by its
    /// signature and expiry only (no database): for the rate limit.
    pub fn access_token_user(&self, headers: &HeaderMap) -> Option<i64> {
        if !self.policy.enabled {
            return None;
        }
        let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
        let token = value.strip_prefix("Bearer ")?.trim();
        if token.starts_with(API_TOKEN_PREFIX) {
            return None;
        }
        self.signer.verify(token)?.sub.parse().ok()
    }

    async fn bearer(&self, token: &str) -> Result<Principal, AuthError> {
        const INVALID: &str =
            "Could not validate credentials: the token is invalid, expired or revoked";
        if token.starts_with(API_TOKEN_PREFIX) {
            let (credential, user) = self
                .credential_user(CredentialKind::Api, token)
                .await?
                .ok_or(AuthError::BadCredentials(INVALID))?;
            return Ok(Principal {
                user,
                via: Via::ApiToken,
                token: credential.name,
            });
        }
        let claims = self
            .signer
            .verify(token)
            .ok_or(AuthError::BadCredentials(INVALID))?;
        let id: i64 = claims
            .sub
            .parse()
            .map_err(|_| AuthError::BadCredentials(INVALID))?;
        // The user as stored now: a disabled user, a lowered role or a new
        // password takes effect at once, not when the token expires.
        let user = self
            .users
            .user_by_id(id)
            .await?
            .filter(|u| !u.disabled && u.token_generation == claims.gen)
            .ok_or(AuthError::BadCredentials(INVALID))?;
        Ok(Principal {
            user,
            via: Via::AccessToken,
            token: None,
        })
    }

    /// The live opaque token of `kind` and its user, when enabled.
    async fn credential_user(
        &self,
        kind: CredentialKind,
        token: &str,
    ) -> Result<Option<(Credential, User)>, AuthError> {
        let found = self
            .users
            .use_credential(kind, &tokens::token_hash(token), &now_rfc3339())
            .await?;
        Ok(found.filter(|(_, u)| !u.disabled))
    }

    /// Checks a name and password, under the login rate limits; records
    /// the login, or why it failed (an attempt over the limits is refused
    /// before any check and not recorded: a flood must not fill the log).
    #[tracing::instrument(level = "debug", name = "auth.login", skip(self, password, witness))]
    pub async fn login(
        &self,
        name: &str,
        password: &str,
        witness: &Witness,
    ) -> Result<User, AuthError> {
        let folded = crate::server::store::fold_case(name.trim());
        if let Some(ip) = witness.client {
            self.login_by_address
                .check(ClientKey::from(ip))
                .map_err(AuthError::TooManyAttempts)?;
            let pair = self.name_keys.hash_one((&folded, ClientKey::from(ip)));
            self.login_by_address_and_name
                .check(ClientKey::from_hash(pair))
                .map_err(AuthError::TooManyAttempts)?;
        }
        let name_key = ClientKey::from_hash(self.name_keys.hash_one(&folded));
        self.login_by_name
            .check(name_key)
            .map_err(AuthError::TooManyAttempts)?;

        let found = self.users.user_by_name(name).await?;
        let (user, hash) = match &found {
            Some((user, hash)) => (Some(user), hash.clone()),
            None => (None, self.decoy_hash().await?),
        };
        let password = password.to_owned();
        let matches = blocking(move || {
            Ok::<_, std::convert::Infallible>(tokens::verify_password(&password, &hash))
        })
        .await?;
        let failed = |why: &str| {
            let why = why.to_owned();
            async move {
                let attempt = witness.by(name.trim());
                audit::record(
                    &*self.users,
                    &attempt,
                    AuditAction::LoginFailed,
                    None,
                    Some(why),
                )
                .await;
            }
        };
        match user {
            Some(user) if matches && !user.disabled => {
                audit::record(
                    &*self.users,
                    &witness.by(&user.name),
                    AuditAction::Login,
                    None,
                    None,
                )
                .await;
                Ok(user.clone())
            }
            Some(user) if matches => {
                tracing::info!(user = %user.name, "login refused: the user is disabled");
                failed("the user is disabled").await;
                Err(AuthError::BadCredentials("This user is disabled"))
            }
            Some(_) => {
                failed("wrong password").await;
                Err(AuthError::BadCredentials("Incorrect user name or password"))
            }
            None => {
                failed("no user has this name").await;
                Err(AuthError::BadCredentials("Incorrect user name or password"))
            }
        }
    }

    async fn decoy_hash(&self) -> Result<String, AuthError> {
        self.decoy_hash
            .get_or_try_init(|| hash_password("decoy password for timing"))
            .await
            .cloned()
    }

    /// A signed access token for `user` and its lifetime in seconds.
    pub fn access_token(&self, user: &User) -> (String, u64) {
        let now = unix_now();
        let ttl = self.access_ttl.as_secs().max(1);
        let token = self.signer.sign(&Claims {
            sub: user.id.to_string(),
            name: user.name.clone(),
            role: user.role,
            iat: now,
            exp: now + ttl,
            typ: "access".into(),
            gen: user.token_generation,
        });
        (token, ttl)
    }

    /// A new opaque token of `kind` for `user`, stored as its hash.
    #[tracing::instrument(level = "debug", name = "auth.issue", skip_all, fields(?kind, user = user.id))]
    pub async fn issue(
        &self,
        kind: CredentialKind,
        user: &User,
        name: Option<String>,
    ) -> Result<(String, Credential), AuthError> {
        let (prefix, ttl) = match kind {
            CredentialKind::Session => (SESSION_TOKEN_PREFIX, Some(self.session_ttl)),
            CredentialKind::Refresh => (REFRESH_TOKEN_PREFIX, Some(self.refresh_ttl)),
            CredentialKind::Api => (API_TOKEN_PREFIX, None),
        };
        let token = tokens::new_token(prefix);
        let expires_at = ttl.map(|ttl| {
            (chrono::Utc::now() + ttl).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        });
        let credential = self
            .users
            .create_credential(kind, user.id, name, tokens::token_hash(&token), expires_at)
            .await?;
        Ok((token, credential))
    }

    /// Exchanges a refresh token for its user and the next refresh token
    /// of its family; the one given stops working (rotation, so a stolen
    /// token works once at most). A token presented after it was redeemed
    /// has leaked: its whole family is revoked and the user's access tokens
    /// end, for the thief and the rightful client alike, who logs in again.
    #[tracing::instrument(level = "debug", name = "auth.rotate_refresh_token", skip_all)]
    pub async fn rotate_refresh_token(
        &self,
        token: &str,
        witness: &Witness,
    ) -> Result<(User, String), AuthError> {
        const INVALID: &str = "The refresh token is invalid, expired or revoked";
        let next = tokens::new_token(REFRESH_TOKEN_PREFIX);
        let expires_at = (chrono::Utc::now() + self.refresh_ttl)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let rotation = self
            .users
            .rotate_refresh(
                &tokens::token_hash(token),
                tokens::token_hash(&next),
                expires_at,
                &now_rfc3339(),
            )
            .await?;
        match rotation {
            Rotation::Rotated(user) => Ok((user, next)),
            Rotation::Replayed { user_id } => {
                tracing::warn!(
                    user_id,
                    "a refresh token was presented again after it was redeemed: it has leaked; \
                     its family is revoked and the user's access tokens end"
                );
                let owner = self.user_name(user_id).await;
                let detail = "presented again after it was redeemed: its family is revoked and \
                              the user's access tokens ended"
                    .to_owned();
                audit::record(
                    &*self.users,
                    witness,
                    AuditAction::RefreshTokenReused,
                    owner.as_deref(),
                    Some(detail),
                )
                .await;
                Err(AuthError::BadCredentials(INVALID))
            }
            Rotation::Unknown => Err(AuthError::BadCredentials(INVALID)),
        }
    }

    /// Ends a session or refresh token (its holder logging out); `false`
    /// when it was not live. Recorded as its user's logout.
    #[tracing::instrument(level = "debug", name = "auth.log_out", skip_all, fields(?kind))]
    pub async fn log_out(
        &self,
        kind: CredentialKind,
        token: &str,
        witness: &Witness,
    ) -> Result<bool, AuthError> {
        let Some(user_id) = self
            .users
            .revoke_credential_by_hash(kind, &tokens::token_hash(token))
            .await?
        else {
            return Ok(false);
        };
        let by = match self.user_name(user_id).await {
            Some(name) => witness.by(&name),
            None => witness.clone(),
        };
        let what = match kind {
            CredentialKind::Session => "the browser session",
            CredentialKind::Refresh => "a refresh token",
            CredentialKind::Api => "an API token",
        };
        audit::record(
            &*self.users,
            &by,
            AuditAction::Logout,
            None,
            Some(format!("ended {what}")),
        )
        .await;
        Ok(true)
    }

    /// A new personal API token of `user`, named `name`: the secret (shown
    /// this once) and the stored token.
    #[tracing::instrument(level = "debug", name = "auth.create_api_token", skip_all)]
    pub async fn create_api_token(
        &self,
        user: &User,
        name: String,
        witness: &Witness,
    ) -> Result<(String, Credential), AuthError> {
        let (token, credential) = self.issue(CredentialKind::Api, user, Some(name)).await?;
        let detail = format!("token {} of {}", credential.id, user.name);
        audit::record(
            &*self.users,
            witness,
            AuditAction::TokenCreated,
            credential.name.as_deref(),
            Some(detail),
        )
        .await;
        Ok((token, credential))
    }

    /// Revokes API token `id`, of `owner` when given (404 otherwise).
    #[tracing::instrument(level = "debug", name = "auth.revoke_api_token", skip(self, witness))]
    pub async fn revoke_api_token(
        &self,
        id: i64,
        owner: Option<i64>,
        witness: &Witness,
    ) -> Result<Credential, AuthError> {
        let credential = self
            .users
            .revoke_credential(CredentialKind::Api, id, owner)
            .await?;
        let holder = self.user_name(credential.user_id).await;
        let detail = format!(
            "token {id} of {}",
            holder.as_deref().unwrap_or("an unknown user")
        );
        audit::record(
            &*self.users,
            witness,
            AuditAction::TokenRevoked,
            credential.name.as_deref(),
            Some(detail),
        )
        .await;
        Ok(credential)
    }

    /// The name of user `id`, for an audit entry (`None` if it cannot be
    /// read; the entry is still written).
    async fn user_name(&self, id: i64) -> Option<String> {
        self.users
            .user_by_id(id)
            .await
            .ok()
            .flatten()
            .map(|u| u.name)
    }

    /// Users and tokens, for the handlers that manage them.
    pub fn users(&self) -> &Arc<dyn UserStore> {
        &self.users
    }

    /// Creates a user with a new password.
    #[tracing::instrument(
        level = "debug",
        name = "auth.create_user",
        skip(self, password, witness)
    )]
    pub async fn create_user(
        &self,
        name: &str,
        password: &str,
        role: Role,
        witness: &Witness,
    ) -> Result<User, AuthError> {
        use unicode_normalization::UnicodeNormalization;
        // One spelling of each character (full-width letters, ligatures).
        let name: String = name.nfkc().collect();
        let skeleton = name_skeleton(&name);
        if let Some(existing) = self
            .users
            .list_users()
            .await?
            .into_iter()
            .find(|user| name_skeleton(&user.name) == skeleton)
        {
            return Err(AuthError::LookAlikeName {
                name,
                existing: existing.name,
            });
        }
        let hash = hash_password(password).await?;
        let user = self.users.create_user(&name, &hash, role).await?;
        let detail = format!("role {}", role.as_str());
        audit::record(
            &*self.users,
            witness,
            AuditAction::UserCreated,
            Some(&user.name),
            Some(detail),
        )
        .await;
        Ok(user)
    }

    /// Changes a user; a new password is hashed here.
    /// Records each change made: the role (old → new), disabling or
    /// enabling, a new password; asking for what already holds records
    /// nothing.
    #[tracing::instrument(
        level = "debug",
        name = "auth.update_user",
        skip(self, password, witness)
    )]
    pub async fn update_user(
        &self,
        id: i64,
        role: Option<Role>,
        disabled: Option<bool>,
        password: Option<&str>,
        witness: &Witness,
    ) -> Result<User, AuthError> {
        let password_hash = match password {
            Some(password) => Some(hash_password(password).await?),
            None => None,
        };
        let before = self.users.user_by_id(id).await?;
        let reset = password_hash.is_some();
        let user = self
            .users
            .update_user(
                id,
                UserChanges {
                    role,
                    disabled,
                    password_hash,
                },
            )
            .await?;
        let ended = || Some("every token and session of the user ended".to_owned());
        let mut done = Vec::new();
        if let Some(before) = &before {
            if before.role != user.role {
                let change = format!("{} → {}", before.role.as_str(), user.role.as_str());
                done.push((AuditAction::RoleChanged, Some(change)));
            }
            if before.disabled != user.disabled {
                done.push(match user.disabled {
                    true => (AuditAction::UserDisabled, ended()),
                    false => (AuditAction::UserEnabled, None),
                });
            }
        }
        if reset {
            done.push((AuditAction::PasswordReset, ended()));
        }
        for (action, detail) in done {
            audit::record(&*self.users, witness, action, Some(&user.name), detail).await;
        }
        Ok(user)
    }
}

/// What user names that read alike have in common: compatibility-normalised
/// (NFKC), case-folded, without combining marks (the dot of `İ`), and with
/// the Cyrillic and Greek letters that look like Latin ones replaced by
/// them, so that `аdmin` (Cyrillic а), `ａdmin` and `ADMİN` all give
/// `admin`. A short table of the look-alikes of Unicode's confusables list
/// (UTS #39) that user names meet, not the whole list.
pub fn name_skeleton(name: &str) -> String {
    use unicode_normalization::char::is_combining_mark;
    use unicode_normalization::UnicodeNormalization;
    let folded = crate::server::store::fold_case(&name.nfkc().collect::<String>());
    folded
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .map(|c| match c {
            'а' | 'α' => 'a',
            'в' | 'β' => 'b',
            'с' | 'ϲ' => 'c',
            'ԁ' => 'd',
            'е' | 'ε' => 'e',
            'ɡ' => 'g',
            'һ' | 'н' => 'h',
            'і' | 'ι' | 'ı' => 'i',
            'ј' => 'j',
            'к' | 'κ' => 'k',
            'ӏ' => 'l',
            'м' => 'm',
            'п' | 'η' => 'n',
            'о' | 'ο' | 'σ' => 'o',
            'р' | 'ρ' => 'p',
            'ԛ' => 'q',
            'ѕ' => 's',
            'т' | 'τ' => 't',
            'υ' => 'u',
            'ν' => 'v',
            'ԝ' | 'ω' => 'w',
            'х' | 'χ' => 'x',
            'у' | 'γ' => 'y',
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::name_skeleton;

    #[test]
    fn look_alike_user_names_share_a_skeleton() {
        for look_alike in [
            "admin",
            "ADMIN",
            "аdmin",
            "ａｄｍｉｎ",
            "ADMİN",
            "аdмin",
            "Admin",
        ] {
            assert_eq!(name_skeleton(look_alike), "admin", "{look_alike}");
        }
        assert_ne!(name_skeleton("admin2"), "admin");
        assert_eq!(name_skeleton("Ünal"), "unal");
        assert_eq!(name_skeleton("ada.l@x"), "ada.l@x");
    }
}

/// Hashes a password off the async workers.
async fn hash_password(password: &str) -> Result<String, AuthError> {
    let password = password.to_owned();
    blocking(move || tokens::hash_password(&password)).await
}

async fn blocking<T: Send + 'static, E: Into<BoxError> + Send + 'static>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, AuthError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AuthError::Internal(e.into()))?
        .map_err(|e| AuthError::Internal(e.into()))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The value of cookie `name`, if the request has one.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// The `Set-Cookie` value that starts a browser session (HttpOnly,
/// SameSite=Strict, Secure when the site is served over HTTPS).
pub fn session_cookie(token: &str, max_age: Duration, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}",
        max_age.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that ends a browser session.
pub fn expired_session_cookie(secure: bool) -> String {
    session_cookie("", Duration::ZERO, secure)
}

/// Whether the request came over HTTPS (directly or through a proxy that
/// says so).
pub fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}
