//! [`UserStore`] on PostgreSQL: users, credentials and settings.

use async_trait::async_trait;
use tokio_postgres::Row;

use super::{postgres_error, user_cache, PostgresStore};
use tokio_postgres::types::ToSql;

use crate::domain::{AuditEntry, AuditFilter, Role, User};
use crate::server::store::sql::{
    self, credential_from_row, last_use_is_stale, user_columns, Dialect, CREDENTIAL_COLUMNS,
    USER_COLUMNS,
};
use crate::server::store::{
    fold_case, now_rfc3339, AuditPosition, Credential, CredentialKind, NewAuditEntry, Rotation,
    StoreError, UserChanges, UserStore,
};

fn user(row: &Row) -> Result<User, StoreError> {
    sql::user_at(row, 0).map_err(postgres_error)
}

fn credential(row: &Row) -> Result<Credential, StoreError> {
    credential_from_row(row).map_err(postgres_error)
}

#[async_trait]
impl UserStore for PostgresStore {
    #[tracing::instrument(level = "debug", name = "postgres.count_users", skip_all)]
    async fn count_users(&self) -> Result<u64, StoreError> {
        let row = self.query_one("SELECT count(*) FROM users", &[]).await?;
        Ok(row.try_get::<_, i64>(0).map_err(postgres_error)? as u64)
    }

    #[tracing::instrument(level = "debug", name = "postgres.create_user", skip_all)]
    async fn create_user(
        &self,
        name: &str,
        password_hash: &str,
        role: Role,
    ) -> Result<User, StoreError> {
        let folded = fold_case(name);
        let result = self
            .query_one(
                &format!(
                    "INSERT INTO users (name, name_folded, password_hash, role, created_at, \
                     updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING {USER_COLUMNS}"
                ),
                &[
                    &name,
                    &folded,
                    &password_hash,
                    &role.as_str(),
                    &now_rfc3339(),
                ],
            )
            .await;
        match result {
            Ok(row) => user(&row),
            Err(StoreError::Backend(e)) if e.is_unique_violation() => {
                Err(StoreError::UserExists(name.to_owned()))
            }
            Err(e) => Err(e),
        }
    }

    #[tracing::instrument(level = "debug", name = "postgres.user_by_name", skip_all)]
    async fn user_by_name(&self, name: &str) -> Result<Option<(User, String)>, StoreError> {
        let folded = fold_case(name.trim());
        self.query_opt(
            &format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE name_folded = $1"),
            &[&folded],
        )
        .await?
        .map(|row| Ok((user(&row)?, row.try_get(7).map_err(postgres_error)?)))
        .transpose()
    }

    #[tracing::instrument(level = "debug", name = "postgres.user_by_id", skip_all)]
    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        // On every request with an access token: kept in memory while
        // changes can be heard (see `user_cache.rs`).
        if let Some(user) = self.user_cache.get(id) {
            return Ok(Some(user));
        }
        let epoch = self.user_cache.epoch();
        let found = self
            .points
            .query_opt(
                concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1"),
                &[&id],
            )
            .await?
            .as_ref()
            .map(user)
            .transpose()?;
        if let Some(user) = &found {
            self.user_cache.put(user, epoch);
        }
        Ok(found)
    }

    #[tracing::instrument(level = "debug", name = "postgres.list_users", skip_all)]
    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        self.query(
            &format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"),
            &[],
        )
        .await?
        .iter()
        .map(user)
        .collect()
    }

    #[tracing::instrument(level = "debug", name = "postgres.update_user", skip_all)]
    async fn update_user(&self, id: i64, changes: UserChanges) -> Result<User, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(postgres_error)?;
        let now = now_rfc3339();
        let row = tx
            .query_opt(
                &format!(
                    "UPDATE users SET role = coalesce($2, role), \
                     disabled = coalesce($3, disabled), \
                     password_hash = coalesce($4, password_hash), updated_at = $5, \
                     token_generation = token_generation + $6 \
                     WHERE id = $1 RETURNING {USER_COLUMNS}"
                ),
                &[
                    &id,
                    &changes.role.map(Role::as_str),
                    &changes.disabled,
                    &changes.password_hash,
                    &now,
                    &i64::from(changes.ends_tokens()),
                ],
            )
            .await
            .map_err(postgres_error)?
            .ok_or(StoreError::UserNotFound(id))?;
        let updated = user(&row)?;
        // A disabled user or a new password ends every credential at once:
        // sessions, refresh and API tokens (re-enabling the user revives
        // none), and access tokens by the generation above.
        if changes.ends_tokens() {
            tx.execute(
                "UPDATE credentials SET revoked_at = $2 WHERE user_id = $1 \
                 AND revoked_at IS NULL",
                &[&id, &now],
            )
            .await
            .map_err(postgres_error)?;
        }
        // Every instance's user cache forgets what it holds once this
        // commits (delivered with the commit, not before it); this
        // instance's own forgets before the change is answered. Inside the
        // transaction, unlike item changes (`announce.rs`): its commit then
        // holds a global lock, which user changes are rare enough to afford.
        tx.execute(
            "SELECT pg_notify($1, $2::bigint::text)",
            &[&user_cache::CHANNEL, &id],
        )
        .await
        .map_err(postgres_error)?;
        tx.commit().await.map_err(postgres_error)?;
        self.user_cache.forget_all();
        Ok(updated)
    }

    #[tracing::instrument(level = "debug", name = "postgres.create_credential", skip_all)]
    async fn create_credential(
        &self,
        kind: CredentialKind,
        user_id: i64,
        name: Option<String>,
        token_hash: String,
        expires_at: Option<String>,
    ) -> Result<Credential, StoreError> {
        let row = self
            .query_one(
                &format!(
                    "INSERT INTO credentials (user_id, kind, name, token_hash, created_at, \
                     expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING {CREDENTIAL_COLUMNS}"
                ),
                &[
                    &user_id,
                    &kind.as_str(),
                    &name,
                    &token_hash,
                    &now_rfc3339(),
                    &expires_at,
                ],
            )
            .await?;
        credential(&row)
    }

    #[tracing::instrument(level = "debug", name = "postgres.use_credential", skip_all)]
    async fn use_credential(
        &self,
        kind: CredentialKind,
        token_hash: &str,
        now: &str,
    ) -> Result<Option<(Credential, User)>, StoreError> {
        let found = self
            .points
            .query_opt(
                sql::live_credential(Dialect::Postgres),
                &[&token_hash, &kind.as_str(), &now],
            )
            .await?
            .map(|row| {
                Ok::<_, tokio_postgres::Error>((credential_from_row(&row)?, sql::user_at(&row, 7)?))
            })
            .transpose()
            .map_err(postgres_error)?;
        if let Some((credential, _)) = &found {
            let stale = last_use_is_stale(credential.last_used_at.as_deref(), now);
            if kind == CredentialKind::Api && stale {
                self.query(
                    "UPDATE credentials SET last_used_at = $2 WHERE id = $1",
                    &[&credential.id, &now],
                )
                .await?;
            }
        }
        Ok(found)
    }

    #[tracing::instrument(level = "debug", name = "postgres.rotate_refresh", skip_all)]
    async fn rotate_refresh(
        &self,
        old_hash: &str,
        new_hash: String,
        expires_at: String,
        now: &str,
    ) -> Result<Rotation, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(postgres_error)?;
        // Locked, so that of two racing redemptions the second sees the
        // first's revocation.
        let found = tx
            .query_opt(
                "SELECT id, user_id, coalesce(family, id), revoked_at IS NOT NULL, \
                 expires_at IS NOT NULL AND expires_at <= $2 \
                 FROM credentials WHERE token_hash = $1 AND kind = 'refresh' FOR UPDATE",
                &[&old_hash, &now],
            )
            .await
            .map_err(postgres_error)?;
        let Some(row) = found else {
            return Ok(Rotation::Unknown);
        };
        let read = |row: &Row| -> Result<(i64, i64, i64, bool, bool), tokio_postgres::Error> {
            Ok((
                row.try_get(0)?,
                row.try_get(1)?,
                row.try_get(2)?,
                row.try_get(3)?,
                row.try_get(4)?,
            ))
        };
        let (id, user_id, family, revoked, expired) = read(&row).map_err(postgres_error)?;
        if revoked {
            tx.execute(
                "UPDATE credentials SET revoked_at = $2 WHERE kind = 'refresh' \
                 AND coalesce(family, id) = $1 AND revoked_at IS NULL",
                &[&family, &now],
            )
            .await
            .map_err(postgres_error)?;
            tx.execute(
                "UPDATE users SET token_generation = token_generation + 1 WHERE id = $1",
                &[&user_id],
            )
            .await
            .map_err(postgres_error)?;
            // Every instance's user cache forgets the old generation.
            tx.execute(
                "SELECT pg_notify($1, $2::bigint::text)",
                &[&user_cache::CHANNEL, &user_id],
            )
            .await
            .map_err(postgres_error)?;
            tx.commit().await.map_err(postgres_error)?;
            self.user_cache.forget_all();
            return Ok(Rotation::Replayed { user_id });
        }
        let found = tx
            .query_opt(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1 AND NOT disabled"),
                &[&user_id],
            )
            .await
            .map_err(postgres_error)?;
        let (Some(row), false) = (found, expired) else {
            return Ok(Rotation::Unknown);
        };
        let owner = user(&row)?;
        tx.execute(
            "UPDATE credentials SET revoked_at = $2 WHERE id = $1",
            &[&id, &now],
        )
        .await
        .map_err(postgres_error)?;
        tx.execute(
            "INSERT INTO credentials (user_id, kind, token_hash, created_at, expires_at, family) \
             VALUES ($1, 'refresh', $2, $3, $4, $5)",
            &[&user_id, &new_hash, &now, &expires_at, &family],
        )
        .await
        .map_err(postgres_error)?;
        tx.commit().await.map_err(postgres_error)?;
        Ok(Rotation::Rotated(owner))
    }

    #[tracing::instrument(level = "debug", name = "postgres.revoke_credential_by_hash", skip_all)]
    async fn revoke_credential_by_hash(
        &self,
        kind: CredentialKind,
        token_hash: &str,
    ) -> Result<Option<i64>, StoreError> {
        let row = self
            .query_opt(
                "UPDATE credentials SET revoked_at = $3 WHERE token_hash = $1 AND kind = $2 \
                 AND revoked_at IS NULL RETURNING user_id",
                &[&token_hash, &kind.as_str(), &now_rfc3339()],
            )
            .await?;
        row.map(|row| row.try_get(0).map_err(postgres_error))
            .transpose()
    }

    #[tracing::instrument(level = "debug", name = "postgres.revoke_credential", skip_all)]
    async fn revoke_credential(
        &self,
        kind: CredentialKind,
        id: i64,
        owner: Option<i64>,
    ) -> Result<Credential, StoreError> {
        let row = self
            .query_opt(
                &format!(
                    "UPDATE credentials SET revoked_at = $4 WHERE id = $1 AND kind = $2 \
                     AND ($3::bigint IS NULL OR user_id = $3) AND revoked_at IS NULL \
                     RETURNING {CREDENTIAL_COLUMNS}"
                ),
                &[&id, &kind.as_str(), &owner, &now_rfc3339()],
            )
            .await?
            .ok_or(StoreError::CredentialNotFound(id))?;
        credential(&row)
    }

    #[tracing::instrument(level = "debug", name = "postgres.list_credentials", skip_all)]
    async fn list_credentials(
        &self,
        kind: CredentialKind,
        owner: Option<i64>,
    ) -> Result<Vec<Credential>, StoreError> {
        self.query(
            &format!(
                "SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE kind = $1 \
                 AND ($2::bigint IS NULL OR user_id = $2) ORDER BY id"
            ),
            &[&kind.as_str(), &owner],
        )
        .await?
        .iter()
        .map(credential)
        .collect()
    }

    #[tracing::instrument(level = "debug", name = "postgres.setting_or_insert", skip_all)]
    async fn setting_or_insert(&self, key: &str, value: String) -> Result<String, StoreError> {
        // When instances race, the loser's insert waits for the winner's
        // commit and does nothing; the next statement (a new snapshot)
        // reads the winner's value.
        self.query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            &[&key, &value],
        )
        .await?;
        let row = self
            .query_one("SELECT value FROM settings WHERE key = $1", &[&key])
            .await?;
        row.try_get(0).map_err(postgres_error)
    }

    #[tracing::instrument(level = "debug", name = "postgres.record_audit", skip_all)]
    async fn record_audit(&self, entry: NewAuditEntry) -> Result<(), StoreError> {
        let values = sql::audit_values(&entry, now_rfc3339());
        let params: Vec<&(dyn ToSql + Sync)> =
            values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        self.write(self.query(sql::insert_audit(Dialect::Postgres), &params))
            .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "postgres.audit", skip_all)]
    async fn audit(
        &self,
        filter: &AuditFilter,
        after: Option<&AuditPosition>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let Some((sql, values)) = sql::audit_page(Dialect::Postgres, filter, after, limit) else {
            return Ok(Vec::new());
        };
        let params: Vec<&(dyn ToSql + Sync)> =
            values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        let rows = self.query(&sql, &params).await?;
        let mut entries = Vec::with_capacity(rows.len());
        for row in &rows {
            entries.extend(sql::audit_from_row(row).map_err(postgres_error)?);
        }
        Ok(entries)
    }
}
