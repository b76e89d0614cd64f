//! The secrets: passwords (argon2id), access tokens (JWT, HS256) and opaque
//! random tokens (sessions, refresh tokens, API tokens), stored as SHA-256.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::Role;

/// How each kind of opaque token starts, so a leaked one is recognisable
/// (secret scanners) and the server knows which table to look in.
pub const API_TOKEN_PREFIX: &str = "isk_";
pub const REFRESH_TOKEN_PREFIX: &str = "isr_";
pub const SESSION_TOKEN_PREFIX: &str = "iss_";

/// `n` random bytes, URL-safe base64 without padding.
pub fn random_text(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buffer);
    URL_SAFE_NO_PAD.encode(buffer)
}

/// A new opaque token with `prefix`: 256 random bits.
pub fn new_token(prefix: &str) -> String {
    format!("{prefix}{}", random_text(32))
}

/// What is stored for an opaque token: its SHA-256, hex. The token's 256
/// random bits make a slow hash unnecessary.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// An argon2id hash (PHC string) of `password`; slow on purpose: run it
/// off the async workers.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
}

/// Whether `password` matches the stored PHC `hash`.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// The claims of an access token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub sub: String,
    pub name: String,
    pub role: Role,
    pub iat: u64,
    pub exp: u64,
    /// Always `access`: no other token this server signs can pass for one.
    pub typ: String,
    /// The user's token generation when signed: a token of an older one
    /// is refused (see `User::token_generation`).
    #[serde(default)]
    pub gen: i64,
}

/// Signs and checks access tokens with one HMAC key.
pub struct Signer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl Signer {
    pub fn new(secret: &[u8]) -> Signer {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is exact: a token is refused the second it expires.
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Signer {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    pub fn sign(&self, claims: &Claims) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HS256 signing cannot fail")
    }

    /// The claims of a token this server signed, unexpired; `None` for
    /// anything else (another algorithm, `none`, a changed payload, another
    /// key, an expired token).
    pub fn verify(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| data.claims)
            .filter(|claims| claims.typ == "access")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: u64) -> Claims {
        Claims {
            sub: "1".into(),
            name: "ada".into(),
            role: Role::Editor,
            iat: 0,
            exp,
            typ: "access".into(),
            gen: 0,
        }
    }

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    #[test]
    fn a_signed_token_verifies_and_a_changed_one_does_not() {
        let signer = Signer::new(b"0123456789abcdef0123456789abcdef");
        let token = signer.sign(&claims(now() + 60));
        assert_eq!(signer.verify(&token).unwrap().role, Role::Editor);

        let other = Signer::new(b"another key, also 32 bytes long!");
        assert!(other.verify(&token).is_none(), "wrong key");
        assert!(
            signer.verify(&signer.sign(&claims(now() - 1))).is_none(),
            "expired"
        );

        let parts: Vec<&str> = token.split('.').collect();
        let admin = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&serde_json::json!({
                "sub": "1", "name": "ada", "role": "admin", "iat": 0, "exp": now() + 60, "typ": "access"
            }))
            .unwrap(),
        );
        let tampered = format!("{}.{admin}.{}", parts[0], parts[2]);
        assert!(signer.verify(&tampered).is_none(), "changed payload");

        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(
            signer.verify(&format!("{none_header}.{admin}.")).is_none(),
            "alg none"
        );
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, b) = (new_token(API_TOKEN_PREFIX), new_token(API_TOKEN_PREFIX));
        assert_ne!(a, b);
        assert!(a.starts_with("isk_") && a.len() > 40);
        assert_eq!(token_hash(&a).len(), 64);
        assert_eq!(token_hash(&a), token_hash(&a));
    }
}
