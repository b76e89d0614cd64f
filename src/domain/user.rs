//! Users, roles and what each role may do: one rule, used by the REST API,
//! the server functions and the UI (which hides what a user may not do).

use serde::{Deserialize, Serialize};

use super::validation::FieldError;

/// Longest user name, in characters.
pub const USER_NAME_MAX_CHARS: usize = 64;
/// Shortest accepted password, in characters.
pub const PASSWORD_MIN_CHARS: usize = 8;
/// Longest accepted password, in characters (hashing cost stays bounded).
pub const PASSWORD_MAX_CHARS: usize = 256;

/// What a user may do, from least to most.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads items and models, runs predictions.
    Viewer,
    /// Also creates, edits and deletes items.
    Editor,
    /// Also manages users and everyone's API tokens.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Editor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// An action that needs permission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// Read items and models, run predictions.
    Read,
    /// Create, edit and delete items.
    WriteItems,
    /// Manage users and other users' tokens.
    ManageUsers,
    /// Remove deleted items from the trash for good.
    PurgeItems,
    /// Read the audit log.
    ReadAudit,
    /// Load and unload models (the model repository).
    ManageModels,
}

impl Permission {
    /// The least role that holds this permission.
    pub fn least_role(self) -> Role {
        match self {
            Permission::Read => Role::Viewer,
            Permission::WriteItems | Permission::ManageModels => Role::Editor,
            Permission::ManageUsers | Permission::PurgeItems | Permission::ReadAudit => Role::Admin,
        }
    }
}

/// How the server is configured to check permissions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessPolicy {
    /// `false`: nobody logs in and everything is allowed (local demos).
    pub enabled: bool,
    /// Reading (items, models, predictions) needs no login.
    pub public_read: bool,
}

/// Why an action was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denied {
    /// Nobody is logged in (or the credentials were not valid): 401.
    NotLoggedIn,
    /// Logged in, but the role is too low: 403.
    Forbidden { needs: Role },
}

impl AccessPolicy {
    /// Whether a caller with `role` (`None`: anonymous) may do `permission`.
    /// The one permission check of the whole application.
    pub fn check(self, role: Option<Role>, permission: Permission) -> Result<(), Denied> {
        if !self.enabled || (permission == Permission::Read && self.public_read) {
            return Ok(());
        }
        match role {
            None => Err(Denied::NotLoggedIn),
            Some(role) if role >= permission.least_role() => Ok(()),
            Some(_) => Err(Denied::Forbidden {
                needs: permission.least_role(),
            }),
        }
    }

    /// Whether a caller with `role` may do `permission` (for hiding actions).
    pub fn allows(self, role: Option<Role>, permission: Permission) -> bool {
        self.check(role, permission).is_ok()
    }
}

/// A user as clients see it (never the password hash).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct User {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: String,
    pub updated_at: String,
    /// Moves on whenever the user's access tokens must stop working (a new
    /// password, disabling, a replayed refresh token); a server-side
    /// detail, never sent.
    #[serde(skip)]
    pub token_generation: i64,
}

/// Who is using the UI: the policy and, when logged in, the user.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub policy: AccessPolicy,
    pub user: Option<User>,
}

impl Session {
    pub fn role(&self) -> Option<Role> {
        self.user.as_ref().map(|u| u.role)
    }

    pub fn allows(&self, permission: Permission) -> bool {
        self.policy.allows(self.role(), permission)
    }
}

/// Checks a new user name: 1–64 characters of letters, digits, `.`, `_`, `-`, `@`.
pub fn validate_user_name(name: &str) -> Result<String, FieldError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(FieldError::new(
            "name",
            "string_too_short",
            "String should have at least 1 character",
        ));
    }
    if name.chars().count() > USER_NAME_MAX_CHARS {
        return Err(FieldError::new(
            "name",
            "string_too_long",
            format!("String should have at most {USER_NAME_MAX_CHARS} characters"),
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return Err(FieldError::new(
            "name",
            "string_pattern_mismatch",
            "Use letters, digits, '.', '_', '-' or '@' only",
        ));
    }
    Ok(name.to_owned())
}

/// Passwords that guessing tools try first, compared ignoring case: the
/// most common ones of at least [`PASSWORD_MIN_CHARS`] characters in
/// published breach lists, and this product's own name.
const COMMON_PASSWORDS: &[&str] = &[
    "password",
    "password1",
    "password12",
    "password123",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "12345678",
    "123456789",
    "1234567890",
    "0123456789",
    "87654321",
    "12341234",
    "11223344",
    "123123123",
    "11111111",
    "00000000",
    "qwertyui",
    "qwertyuiop",
    "qwerty123",
    "qwerty12",
    "1q2w3e4r",
    "1qaz2wsx",
    "zaq12wsx",
    "qazwsxedc",
    "asdfghjk",
    "asdfghjkl",
    "asdfasdf",
    "iloveyou",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "superman",
    "starwars",
    "whatever",
    "trustno1",
    "welcome1",
    "welcome123",
    "letmein1",
    "letmein123",
    "changeme",
    "admin123",
    "administrator",
    "computer",
    "internet",
    "michael1",
    "jennifer",
    "abc12345",
    "abcd1234",
    "aa123456",
    "monkey123",
    "dragon123",
    "master123",
    "shadow123",
    "secret123",
    "itemserve",
    "itemserve1",
    "itemserve123",
];

/// Checks a new password: 8–256 characters, not only spaces or one
/// character repeated, and not one of the passwords guessed first.
pub fn validate_password(password: &str) -> Result<(), FieldError> {
    let chars = password.chars().count();
    if chars < PASSWORD_MIN_CHARS {
        return Err(FieldError::new(
            "password",
            "string_too_short",
            format!("String should have at least {PASSWORD_MIN_CHARS} characters"),
        ));
    }
    if chars > PASSWORD_MAX_CHARS {
        return Err(FieldError::new(
            "password",
            "string_too_long",
            format!("String should have at most {PASSWORD_MAX_CHARS} characters"),
        ));
    }
    let mut distinct = password.trim().chars();
    let first = distinct.next();
    if first.is_none() || distinct.all(|c| Some(c) == first) {
        return Err(FieldError::new(
            "password",
            "password_too_weak",
            "The password must not be blank or one character repeated",
        ));
    }
    if COMMON_PASSWORDS
        .iter()
        .any(|common| common.eq_ignore_ascii_case(password.trim()))
    {
        return Err(FieldError::new(
            "password",
            "password_too_common",
            "This password is among the first that attackers try; choose another",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ON: AccessPolicy = AccessPolicy {
        enabled: true,
        public_read: true,
    };

    #[test]
    fn each_role_holds_its_permissions_and_the_ones_below() {
        use Permission::*;
        let table = [
            (None, [true, false, false]),
            (Some(Role::Viewer), [true, false, false]),
            (Some(Role::Editor), [true, true, false]),
            (Some(Role::Admin), [true, true, true]),
        ];
        for (role, expected) in table {
            let got = [Read, WriteItems, ManageUsers].map(|p| ON.allows(role, p));
            assert_eq!(got, expected, "{role:?}");
        }
    }

    #[test]
    fn anonymous_callers_are_told_to_log_in_and_low_roles_what_they_need() {
        assert_eq!(
            ON.check(None, Permission::WriteItems),
            Err(Denied::NotLoggedIn)
        );
        assert_eq!(
            ON.check(Some(Role::Viewer), Permission::WriteItems),
            Err(Denied::Forbidden {
                needs: Role::Editor
            })
        );
        let private = AccessPolicy {
            public_read: false,
            ..ON
        };
        assert_eq!(
            private.check(None, Permission::Read),
            Err(Denied::NotLoggedIn)
        );
        assert!(private.allows(Some(Role::Viewer), Permission::Read));
    }

    #[test]
    fn with_auth_off_everything_is_allowed() {
        let off = AccessPolicy {
            enabled: false,
            public_read: false,
        };
        assert!(off.allows(None, Permission::ManageUsers));
    }

    #[test]
    fn user_names_and_passwords_are_checked() {
        assert_eq!(validate_user_name("  ada.l@x ").unwrap(), "ada.l@x");
        assert!(validate_user_name("").is_err());
        assert!(validate_user_name("has space").is_err());
        assert!(validate_user_name(&"a".repeat(65)).is_err());
        assert!(validate_password("short").is_err());
        assert!(validate_password("long enough").is_ok());
        for weak in ["        ", "\t\t\t\t\t\t\t\t", "aaaaaaaaaa", "  bbbbbbbb  "] {
            let error = validate_password(weak).unwrap_err();
            assert_eq!(error.kind, "password_too_weak", "{weak:?}");
        }
        for common in [
            "password",
            "PASSWORD",
            "Password1",
            "12345678",
            " qwertyuiop ",
        ] {
            let error = validate_password(common).unwrap_err();
            assert_eq!(error.kind, "password_too_common", "{common:?}");
        }
    }
}
