//! Who may log in to `moocpipe serve`, and their sessions.
//!
//! Passwords are kept as argon2id PHC strings; a session is a random
//! 256-bit cookie value kept only as its SHA-256, with a CSRF token of its
//! own for every form and state-changing API call.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::rngs::OsRng;
use rand::RngCore;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::FromRow;
use std::fmt;
use std::time::Duration;

use crate::{now_ms, Catalog, CatalogError};

/// What a user may do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The studio: reads takes and courses; no admin actions.
    Studio,
    /// CAIDD reviewers: read everything but the dead letters.
    Caidd,
    /// CAIDD staff who operate the pipeline: everything, dead letters too.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Caidd, Role::Studio];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Caidd => "caidd",
            Role::Studio => "studio",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user as listed (never with the hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct User {
    pub name: String,
    pub role: Role,
    pub created_ms: i64,
}

#[derive(FromRow)]
struct UserRow {
    name: String,
    role: String,
    password_hash: String,
    created_ms: i64,
}

impl UserRow {
    fn user(&self) -> Result<User, CatalogError> {
        Ok(User {
            name: self.name.clone(),
            role: Role::parse(&self.role).ok_or_else(|| {
                CatalogError::Invalid(format!(
                    "user {} has an unknown role {}",
                    self.name, self.role
                ))
            })?,
            created_ms: self.created_ms,
        })
    }
}

/// A logged-in session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub name: String,
    pub role: Role,
    /// The token every state-changing request must carry.
    pub csrf: String,
    pub expires_ms: i64,
}

/// A new session: the cookie value (only ever given to the browser) and the
/// session it opens.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub session: Session,
}

/// The shortest password `users add` and `users passwd` take.
pub const MIN_PASSWORD: usize = 10;

fn check_name(name: &str) -> Result<(), CatalogError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(CatalogError::Invalid(format!(
            "user name {name:?}: 1–64 letters, digits and . _ - @"
        )))
    }
}

fn check_password(password: &str) -> Result<(), CatalogError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(CatalogError::Invalid(format!(
            "the password must have at least {MIN_PASSWORD} characters"
        )));
    }
    Ok(())
}

/// An argon2id hash of `password` (blocking: tens of milliseconds).
pub fn hash_password(password: &str) -> Result<String, CatalogError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CatalogError::Hash(e.to_string()))
}

fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// 32 random bytes, hex.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The SHA-256 a token is stored as.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, CatalogError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| CatalogError::Hash(e.to_string()))
}

impl Catalog {
    /// Adds a user; an existing name is an error.
    pub async fn add_user(
        &self,
        name: &str,
        role: Role,
        password: &str,
    ) -> Result<User, CatalogError> {
        check_name(name)?;
        check_password(password)?;
        let owned = password.to_owned();
        let hash = blocking(move || hash_password(&owned)).await??;
        let created_ms = now_ms();
        let inserted = sqlx::query(
            "INSERT INTO catalog_users (name, role, password_hash, created_ms)
             VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(role.as_str())
        .bind(hash)
        .bind(created_ms)
        .execute(self.pool())
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(CatalogError::Invalid(format!("user {name} exists already")));
        }
        Ok(User {
            name: name.to_owned(),
            role,
            created_ms,
        })
    }

    pub async fn users(&self) -> Result<Vec<User>, CatalogError> {
        sqlx::query_as::<_, UserRow>(
            "SELECT name, role, password_hash, created_ms FROM catalog_users ORDER BY name",
        )
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(UserRow::user)
        .collect()
    }

    /// Removes a user and ends their sessions; whether there was one.
    pub async fn remove_user(&self, name: &str) -> Result<bool, CatalogError> {
        sqlx::query("DELETE FROM catalog_sessions WHERE name = $1")
            .bind(name)
            .execute(self.pool())
            .await?;
        let removed = sqlx::query("DELETE FROM catalog_users WHERE name = $1")
            .bind(name)
            .execute(self.pool())
            .await?;
        Ok(removed.rows_affected() > 0)
    }

    /// Sets a new password and ends the user's sessions.
    pub async fn set_password(&self, name: &str, password: &str) -> Result<bool, CatalogError> {
        check_password(password)?;
        let owned = password.to_owned();
        let hash = blocking(move || hash_password(&owned)).await??;
        let changed = sqlx::query("UPDATE catalog_users SET password_hash = $1 WHERE name = $2")
            .bind(hash)
            .bind(name)
            .execute(self.pool())
            .await?;
        sqlx::query("DELETE FROM catalog_sessions WHERE name = $1")
            .bind(name)
            .execute(self.pool())
            .await?;
        Ok(changed.rows_affected() > 0)
    }

    /// The user whose password this is, if any. Takes as long for an
    /// unknown name as for a wrong password.
    pub async fn check_login(
        &self,
        name: &str,
        password: &str,
    ) -> Result<Option<User>, CatalogError> {
        let row = sqlx::query_as::<_, UserRow>(
            "SELECT name, role, password_hash, created_ms FROM catalog_users WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(self.pool())
        .await?;
        // A hash to spend the same time on when the name is unknown.
        static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let hash = row.as_ref().map(|r| r.password_hash.clone());
        let owned = password.to_owned();
        let good = blocking(move || {
            let hash = hash.unwrap_or_else(|| {
                DECOY
                    .get_or_init(|| hash_password(&random_token()).unwrap_or_default())
                    .clone()
            });
            verify(&owned, &hash)
        })
        .await?;
        match row {
            Some(row) if good => Ok(Some(row.user()?)),
            _ => Ok(None),
        }
    }

    /// Opens a session for `user` that lasts `ttl`.
    pub async fn open_session(
        &self,
        user: &User,
        ttl: Duration,
    ) -> Result<NewSession, CatalogError> {
        let token = random_token();
        let csrf = random_token();
        let expires_ms =
            now_ms().saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
        sqlx::query("DELETE FROM catalog_sessions WHERE expires_ms < $1")
            .bind(now_ms())
            .execute(self.pool())
            .await?;
        sqlx::query(
            "INSERT INTO catalog_sessions (token_hash, name, role, csrf, expires_ms)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash(&token))
        .bind(&user.name)
        .bind(user.role.as_str())
        .bind(&csrf)
        .bind(expires_ms)
        .execute(self.pool())
        .await?;
        Ok(NewSession {
            token,
            session: Session {
                name: user.name.clone(),
                role: user.role,
                csrf,
                expires_ms,
            },
        })
    }

    /// The live session a cookie value opens, if any.
    pub async fn session(&self, token: &str) -> Result<Option<Session>, CatalogError> {
        let row: Option<(String, String, String, i64)> = sqlx::query_as(
            "SELECT name, role, csrf, expires_ms FROM catalog_sessions
             WHERE token_hash = $1 AND expires_ms > $2",
        )
        .bind(token_hash(token))
        .bind(now_ms())
        .fetch_optional(self.pool())
        .await?;
        Ok(row.and_then(|(name, role, csrf, expires_ms)| {
            Some(Session {
                name,
                role: Role::parse(&role)?,
                csrf,
                expires_ms,
            })
        }))
    }

    pub async fn close_session(&self, token: &str) -> Result<(), CatalogError> {
        sqlx::query("DELETE FROM catalog_sessions WHERE token_hash = $1")
            .bind(token_hash(token))
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_hash_only() {
        let hash = hash_password("correct horse battery").expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &hash));
        assert!(!verify("wrong horse battery", &hash));
        assert!(!verify("anything", "not a hash"));
    }

    #[test]
    fn names_and_passwords_are_checked() {
        assert!(check_name("ana.caidd@uni").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("<script>").is_err());
        assert!(check_password("short").is_err());
        assert!(check_password("long enough!").is_ok());
    }

    #[test]
    fn tokens_are_random_and_stored_hashed() {
        let a = random_token();
        assert_eq!(a.len(), 64);
        assert_ne!(a, random_token());
        assert_ne!(token_hash(&a), a);
    }
}
