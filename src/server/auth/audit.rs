//! Recording security-relevant actions in the audit log.
//!
//! Every door (REST, the UI's server functions) reaches logins, tokens and
//! users through [`Auth`](super::Auth), which records each action after it
//! is done, with the [`Witness`] the door gives: who acted, through which
//! door, in which request, from which address.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;

use super::Principal;
use crate::domain::{AuditAction, Door};
use crate::server::store::{NewAuditEntry, UserStore};

/// Longest name a failed login is recorded with: a login may name anything.
const MAX_RECORDED_NAME_CHARS: usize = 100;

/// Who does an action and from where, as its audit entry records it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Witness {
    /// The logged-in user.
    pub actor: Option<String>,
    /// The name of the API token they came with.
    pub token: Option<String>,
    /// `None`: the server itself (the first admin, made at startup).
    pub door: Option<Door>,
    pub request_id: Option<String>,
    pub client: Option<IpAddr>,
}

impl Witness {
    /// The request in `parts` (its id `request_id`, as the front layer
    /// read it), made by `caller` through `door`.
    pub fn of(
        parts: &Parts,
        request_id: Option<String>,
        caller: Option<&Principal>,
        door: Door,
    ) -> Self {
        Witness {
            actor: None,
            token: None,
            door: Some(door),
            request_id,
            client: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        }
        .with_caller(caller)
    }

    /// The same request, made by the logged-in `caller` (when someone is
    /// logged in).
    pub fn with_caller(self, caller: Option<&Principal>) -> Self {
        match caller {
            Some(caller) => Witness {
                actor: Some(caller.user.name.clone()),
                token: caller.token.clone(),
                ..self
            },
            None => self,
        }
    }

    /// The same request, made by `name` (a login names its user itself).
    pub fn by(&self, name: &str) -> Self {
        Witness {
            actor: Some(name.chars().take(MAX_RECORDED_NAME_CHARS).collect()),
            token: None,
            ..self.clone()
        }
    }
}

/// Adds an entry. The action is done by now and stands whatever happens
/// here: a failure to record it is logged as an error, not answered to the
/// client as the action's failure.
pub(super) async fn record(
    users: &dyn UserStore,
    witness: &Witness,
    action: AuditAction,
    subject: Option<&str>,
    detail: Option<String>,
) {
    let entry = NewAuditEntry {
        action,
        actor: witness.actor.clone(),
        token: witness.token.clone(),
        subject: subject.map(str::to_owned),
        detail,
        door: witness.door,
        request_id: witness.request_id.clone(),
        client: witness.client.map(|ip| ip.to_string()),
    };
    if let Err(e) = users.record_audit(entry).await {
        tracing::error!(
            action = action.as_str(),
            actor = ?witness.actor,
            subject,
            error = %e,
            "could not record an audit entry"
        );
    }
}

/// An RFC 3339 time as the log stores times (UTC, milliseconds), so that
/// comparing the text compares the times; `None` when it is not one.
pub fn instant(text: &str) -> Option<String> {
    let at = chrono::DateTime::parse_from_rfc3339(text.trim()).ok()?;
    Some(
        at.with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_in_any_offset_and_compared_in_utc() {
        assert_eq!(
            instant("2026-01-02T10:30:00+01:00").as_deref(),
            Some("2026-01-02T09:30:00.000Z")
        );
        assert_eq!(
            instant("2026-01-02T09:30:00.1234Z").as_deref(),
            Some("2026-01-02T09:30:00.123Z")
        );
        for bad in ["", "yesterday", "2026-01-02", "2026-13-02T00:00:00Z"] {
            assert_eq!(instant(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_failed_login_records_the_name_tried_cut_to_a_sane_length() {
        let long = "x".repeat(1000);
        let witness = Witness::default().by(&long);
        assert_eq!(
            witness.actor.unwrap().chars().count(),
            MAX_RECORDED_NAME_CHARS
        );
    }
}
