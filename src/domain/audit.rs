//! The audit log: security-relevant actions, who did them and from where.
//! Entries are only ever added; nothing changes or removes one.

use serde::{Deserialize, Serialize};

use super::Door;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// A name and password were accepted.
    Login,
    /// A name and password were refused (`detail` says why; never the
    /// password).
    LoginFailed,
    /// A session or refresh token was ended by its holder.
    Logout,
    /// A refresh token was presented again after it was redeemed: it
    /// leaked, and its family was revoked.
    RefreshTokenReused,
    TokenCreated,
    TokenRevoked,
    UserCreated,
    RoleChanged,
    UserDisabled,
    UserEnabled,
    PasswordReset,
}

impl AuditAction {
    /// Every action, in the order the UI offers them.
    pub const ALL: [AuditAction; 11] = [
        AuditAction::Login,
        AuditAction::LoginFailed,
        AuditAction::Logout,
        AuditAction::RefreshTokenReused,
        AuditAction::TokenCreated,
        AuditAction::TokenRevoked,
        AuditAction::UserCreated,
        AuditAction::RoleChanged,
        AuditAction::UserDisabled,
        AuditAction::UserEnabled,
        AuditAction::PasswordReset,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Login => "login",
            AuditAction::LoginFailed => "login_failed",
            AuditAction::Logout => "logout",
            AuditAction::RefreshTokenReused => "refresh_token_reused",
            AuditAction::TokenCreated => "token_created",
            AuditAction::TokenRevoked => "token_revoked",
            AuditAction::UserCreated => "user_created",
            AuditAction::RoleChanged => "role_changed",
            AuditAction::UserDisabled => "user_disabled",
            AuditAction::UserEnabled => "user_enabled",
            AuditAction::PasswordReset => "password_reset",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

/// One recorded action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", schema(example = json!({
    "id": 42, "at": "2026-01-02T09:30:00.000Z", "action": "role_changed",
    "actor": "ada", "token": null, "subject": "grace", "detail": "viewer → editor",
    "door": "rest", "request_id": "5f0c2a9e1b7d4c3a", "client": "203.0.113.7"
})))]
pub struct AuditEntry {
    /// Increases with every entry; never reused.
    pub id: i64,
    /// RFC 3339, when it was recorded.
    pub at: String,
    pub action: AuditAction,
    /// Who acted: the logged-in user, or for a login the name it was
    /// tried with (`null`: nobody, such as the server creating the first
    /// admin).
    pub actor: Option<String>,
    /// The name of the API token the actor came with.
    pub token: Option<String>,
    /// What the action was done to: a user's name, an API token's name.
    pub subject: Option<String>,
    /// More about it, in words (a role change's old and new role, why a
    /// login failed).
    pub detail: Option<String>,
    /// Through which door it came (`null`: the server itself).
    pub door: Option<Door>,
    /// The `X-Request-Id` of the request.
    pub request_id: Option<String>,
    /// The client's address (behind a trusted proxy, the one it named).
    pub client: Option<String>,
}

/// A page of the audit log, as the UI reads it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// The cursor of the next (older) page, if there is one.
    pub next: Option<String>,
}

/// Which entries a page of the audit log holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditFilter {
    /// Only those by this user (ignoring case).
    pub user: Option<String>,
    pub action: Option<AuditAction>,
    /// RFC 3339: only those at or after.
    pub since: Option<String>,
    /// RFC 3339: only those before.
    pub until: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_read_back_what_they_write_and_serialize_as_they_are_stored() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
            assert_eq!(
                serde_json::to_value(action).unwrap(),
                serde_json::json!(action.as_str())
            );
        }
        assert_eq!(AuditAction::parse("item_deleted"), None);
    }
}
