//! [`UserStore`] on SQLite: users, credentials and settings, written
//! through the same group-commit writer as the items.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Row};

use super::SqliteStore;
use crate::domain::{AuditEntry, AuditFilter, Role, User};
use crate::server::store::sql::{
    self, last_use_is_stale, user_columns, Dialect, CREDENTIAL_COLUMNS, USER_COLUMNS,
};
use crate::server::store::{
    fold_case, now_rfc3339, AuditPosition, Credential, CredentialKind, NewAuditEntry, Rotation,
    StoreError, UserChanges, UserStore,
};

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    sql::user_at(row, 0)
}

fn credential_from_row(row: &Row<'_>) -> rusqlite::Result<Credential> {
    sql::credential_from_row(row)
}

#[async_trait]
impl UserStore for SqliteStore {
    #[tracing::instrument(level = "debug", name = "sqlite.count_users", skip_all)]
    async fn count_users(&self) -> Result<u64, StoreError> {
        self.read(|conn| conn.query_row("SELECT count(*) FROM users", [], |r| r.get(0)))
    }

    #[tracing::instrument(level = "debug", name = "sqlite.create_user", skip_all)]
    async fn create_user(
        &self,
        name: &str,
        password_hash: &str,
        role: Role,
    ) -> Result<User, StoreError> {
        let (name, hash) = (name.to_owned(), password_hash.to_owned());
        self.write(move |tx| {
            let folded = fold_case(&name);
            let taken: bool = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM users WHERE name_folded = ?1)")?
                .query_row([&folded], |r| r.get(0))?;
            if taken {
                return Err(StoreError::UserExists(name.clone()));
            }
            let now = now_rfc3339();
            Ok(tx
                .prepare_cached(&format!(
                    "INSERT INTO users (name, name_folded, password_hash, role, created_at, \
                     updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5) RETURNING {USER_COLUMNS}"
                ))?
                .query_row(
                    params![name, folded, hash, role.as_str(), now],
                    user_from_row,
                )?)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "sqlite.user_by_name", skip_all)]
    async fn user_by_name(&self, name: &str) -> Result<Option<(User, String)>, StoreError> {
        let folded = fold_case(name.trim());
        self.read(|conn| {
            conn.prepare_cached(&format!(
                "SELECT {USER_COLUMNS}, password_hash FROM users WHERE name_folded = ?1"
            ))?
            .query_row([&folded], |r| Ok((user_from_row(r)?, r.get(7)?)))
            .optional()
        })
    }

    #[tracing::instrument(level = "debug", name = "sqlite.user_by_id", skip_all)]
    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        self.read(|conn| {
            // On every request with a bearer token: a literal, not formatted.
            conn.prepare_cached(concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE id = ?1"
            ))?
            .query_row([id], user_from_row)
            .optional()
        })
    }

    #[tracing::instrument(level = "debug", name = "sqlite.list_users", skip_all)]
    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"))?;
            let rows = stmt.query_map([], user_from_row)?;
            rows.collect()
        })
    }

    #[tracing::instrument(level = "debug", name = "sqlite.update_user", skip_all)]
    async fn update_user(&self, id: i64, changes: UserChanges) -> Result<User, StoreError> {
        self.write(move |tx| {
            let user = tx
                .prepare_cached(&format!(
                    "UPDATE users SET role = coalesce(?2, role), disabled = coalesce(?3, disabled), \
                     password_hash = coalesce(?4, password_hash), updated_at = ?5, \
                     token_generation = token_generation + ?6 \
                     WHERE id = ?1 RETURNING {USER_COLUMNS}"
                ))?
                .query_row(
                    params![
                        id,
                        changes.role.map(Role::as_str),
                        changes.disabled,
                        changes.password_hash,
                        now_rfc3339(),
                        i64::from(changes.ends_tokens()),
                    ],
                    user_from_row,
                )
                .optional()?
                .ok_or(StoreError::UserNotFound(id))?;
            // A disabled user or a new password ends every credential at
            // once: sessions, refresh and API tokens (re-enabling the user
            // revives none), and access tokens by the generation above.
            if changes.ends_tokens() {
                tx.prepare_cached(
                    "UPDATE credentials SET revoked_at = ?2 WHERE user_id = ?1 \
                     AND revoked_at IS NULL",
                )?
                .execute(params![id, now_rfc3339()])?;
            }
            Ok(user)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "sqlite.create_credential", skip_all)]
    async fn create_credential(
        &self,
        kind: CredentialKind,
        user_id: i64,
        name: Option<String>,
        token_hash: String,
        expires_at: Option<String>,
    ) -> Result<Credential, StoreError> {
        self.write(move |tx| {
            Ok(tx
                .prepare_cached(&format!(
                    "INSERT INTO credentials (user_id, kind, name, token_hash, created_at, \
                     expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING {CREDENTIAL_COLUMNS}"
                ))?
                .query_row(
                    params![
                        user_id,
                        kind.as_str(),
                        name,
                        token_hash,
                        now_rfc3339(),
                        expires_at
                    ],
                    credential_from_row,
                )?)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "sqlite.use_credential", skip_all)]
    async fn use_credential(
        &self,
        kind: CredentialKind,
        token_hash: &str,
        now: &str,
    ) -> Result<Option<(Credential, User)>, StoreError> {
        let found = self.read(|conn| {
            conn.prepare_cached(sql::live_credential(Dialect::Sqlite))?
                .query_row(params![token_hash, kind.as_str(), now], |r| {
                    Ok((credential_from_row(r)?, sql::user_at(r, 7)?))
                })
                .optional()
        })?;
        if let Some((credential, _)) = &found {
            let stale = last_use_is_stale(credential.last_used_at.as_deref(), now);
            if kind == CredentialKind::Api && stale {
                let (id, now) = (credential.id, now.to_owned());
                self.write(move |tx| {
                    tx.prepare_cached("UPDATE credentials SET last_used_at = ?2 WHERE id = ?1")?
                        .execute(params![id, now])?;
                    Ok(())
                })
                .await?;
            }
        }
        Ok(found)
    }

    #[tracing::instrument(level = "debug", name = "sqlite.rotate_refresh", skip_all)]
    async fn rotate_refresh(
        &self,
        old_hash: &str,
        new_hash: String,
        expires_at: String,
        now: &str,
    ) -> Result<Rotation, StoreError> {
        let (old_hash, now) = (old_hash.to_owned(), now.to_owned());
        self.write(move |tx| {
            let found: Option<(i64, i64, i64, bool, bool)> = tx
                .prepare_cached(
                    "SELECT id, user_id, coalesce(family, id), revoked_at IS NOT NULL, \
                     expires_at IS NOT NULL AND expires_at <= ?2 \
                     FROM credentials WHERE token_hash = ?1 AND kind = 'refresh'",
                )?
                .query_row(params![old_hash, now], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .optional()?;
            let Some((id, user_id, family, revoked, expired)) = found else {
                return Ok(Rotation::Unknown);
            };
            if revoked {
                tx.prepare_cached(
                    "UPDATE credentials SET revoked_at = ?2 WHERE kind = 'refresh' \
                     AND coalesce(family, id) = ?1 AND revoked_at IS NULL",
                )?
                .execute(params![family, now])?;
                tx.prepare_cached(
                    "UPDATE users SET token_generation = token_generation + 1 WHERE id = ?1",
                )?
                .execute([user_id])?;
                return Ok(Rotation::Replayed { user_id });
            }
            let user = tx
                .prepare_cached(&format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE id = ?1 AND NOT disabled"
                ))?
                .query_row([user_id], user_from_row)
                .optional()?;
            let (Some(user), false) = (user, expired) else {
                return Ok(Rotation::Unknown);
            };
            tx.prepare_cached("UPDATE credentials SET revoked_at = ?2 WHERE id = ?1")?
                .execute(params![id, now])?;
            tx.prepare_cached(
                "INSERT INTO credentials (user_id, kind, token_hash, created_at, expires_at, \
                 family) VALUES (?1, 'refresh', ?2, ?3, ?4, ?5)",
            )?
            .execute(params![user_id, new_hash, now, expires_at, family])?;
            Ok(Rotation::Rotated(user))
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "sqlite.revoke_credential_by_hash", skip_all)]
    async fn revoke_credential_by_hash(
        &self,
        kind: CredentialKind,
        token_hash: &str,
    ) -> Result<Option<i64>, StoreError> {
        let hash = token_hash.to_owned();
        self.write(move |tx| {
            Ok(tx
                .prepare_cached(
                    "UPDATE credentials SET revoked_at = ?3 WHERE token_hash = ?1 AND kind = ?2 \
                     AND revoked_at IS NULL RETURNING user_id",
                )?
                .query_row(params![hash, kind.as_str(), now_rfc3339()], |r| r.get(0))
                .optional()?)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "sqlite.revoke_credential", skip_all)]
    async fn revoke_credential(
        &self,
        kind: CredentialKind,
        id: i64,
        owner: Option<i64>,
    ) -> Result<Credential, StoreError> {
        self.write(move |tx| {
            tx.prepare_cached(&format!(
                "UPDATE credentials SET revoked_at = ?4 WHERE id = ?1 AND kind = ?2 \
                 AND (?3 IS NULL OR user_id = ?3) AND revoked_at IS NULL \
                 RETURNING {CREDENTIAL_COLUMNS}"
            ))?
            .query_row(
                params![id, kind.as_str(), owner, now_rfc3339()],
                credential_from_row,
            )
            .optional()?
            .ok_or(StoreError::CredentialNotFound(id))
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "sqlite.list_credentials", skip_all)]
    async fn list_credentials(
        &self,
        kind: CredentialKind,
        owner: Option<i64>,
    ) -> Result<Vec<Credential>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE kind = ?1 \
                 AND (?2 IS NULL OR user_id = ?2) ORDER BY id"
            ))?;
            let rows = stmt.query_map(params![kind.as_str(), owner], credential_from_row)?;
            rows.collect()
        })
    }

    #[tracing::instrument(level = "debug", name = "sqlite.setting_or_insert", skip_all)]
    async fn setting_or_insert(&self, key: &str, value: String) -> Result<String, StoreError> {
        let key = key.to_owned();
        self.write(move |tx| {
            tx.prepare_cached("INSERT OR IGNORE INTO settings (key, value) VALUES (?1, ?2)")?
                .execute(params![key, value])?;
            Ok(tx
                .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
                .query_row([&key], |r| r.get(0))?)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "sqlite.record_audit", skip_all)]
    async fn record_audit(&self, entry: NewAuditEntry) -> Result<(), StoreError> {
        self.write(move |tx| {
            let values = sql::audit_values(&entry, now_rfc3339());
            tx.prepare_cached(sql::insert_audit(Dialect::Sqlite))?
                .execute(rusqlite::params_from_iter(values))?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "sqlite.audit", skip_all)]
    async fn audit(
        &self,
        filter: &AuditFilter,
        after: Option<&AuditPosition>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let Some((sql, values)) = sql::audit_page(Dialect::Sqlite, filter, after, limit) else {
            return Ok(Vec::new());
        };
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(
                rusqlite::params_from_iter(values.into_iter().map(super::to_value)),
                |row| sql::audit_from_row(row),
            )?;
            let mut entries = Vec::new();
            for row in rows {
                entries.extend(row?);
            }
            Ok(entries)
        })
    }
}
