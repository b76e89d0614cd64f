//! Content hashes in file names, and rewriting the names files use to
//! refer to each other.

use base64::Engine;
use sha2::{Digest, Sha256};

/// The length of every hash in a file name. The split loader's name is
/// written into the main WASM module as a placeholder of this many
/// underscores and replaced in place, so it cannot change.
pub const HASH_LEN: usize = 22;

/// The split loader's name before the bundle is hashed.
pub const LOADER_PLACEHOLDER: &str = "__wasm_split.______________________.js";

/// A content hash for file names: 128 bits of SHA-256, URL-safe base64
/// (22 characters).
pub fn content_hash(parts: &[&[u8]]) -> String {
    let mut digest = Sha256::new();
    for part in parts {
        // Length-prefixed, so that moving bytes between parts changes it.
        digest.update((part.len() as u64).to_le_bytes());
        digest.update(part);
    }
    let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest.finalize()[..16]);
    debug_assert_eq!(hash.len(), HASH_LEN);
    hash
}

/// `stem.ext` → `stem.hash.ext`.
pub fn hashed_name(stem: &str, hash: &str, extension: &str) -> String {
    format!("{stem}.{hash}.{extension}")
}

/// The split loader under its final name.
pub fn loader_name(hash: &str) -> String {
    LOADER_PLACEHOLDER.replace(&"_".repeat(HASH_LEN), hash)
}

/// Points every `"./from"` in a script at `"./to"` instead. The quotes
/// are part of the match, so `chunk_1.wasm` never matches inside
/// `chunk_10.wasm`. Fails with the quoted name when the script has none.
pub fn rename_reference(script: &mut String, from: &str, to: &str) -> Result<(), String> {
    let quoted = format!("\"./{from}\"");
    if !script.contains(&quoted) {
        return Err(quoted);
    }
    *script = script.replace(&quoted, &format!("\"./{to}\""));
    Ok(())
}

/// Replaces every `from` in `bytes` by `to`, which must be as long (the
/// strings sit inside binary WASM sections whose lengths must not move).
/// Returns how many it replaced.
pub fn replace_same_length(bytes: &mut [u8], from: &[u8], to: &[u8]) -> usize {
    assert_eq!(from.len(), to.len(), "a same-length replacement");
    assert!(!from.is_empty());
    let mut count = 0;
    let mut at = 0;
    while let Some(found) = find(&bytes[at..], from) {
        let start = at + found;
        bytes[start..start + to.len()].copy_from_slice(to);
        count += 1;
        at = start + to.len();
    }
    count
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_fit_the_placeholder_and_differ_with_content() {
        let a = content_hash(&[b"one"]);
        assert_eq!(a.len(), HASH_LEN);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(a, content_hash(&[b"two"]));
        // Part boundaries count: ["ab", "c"] is not ["a", "bc"].
        assert_ne!(content_hash(&[b"ab", b"c"]), content_hash(&[b"a", b"bc"]));
        assert_eq!(loader_name(&a).len(), LOADER_PLACEHOLDER.len());
        assert_eq!(loader_name(&a), format!("__wasm_split.{a}.js"));
    }

    #[test]
    fn replaces_every_occurrence_in_place() {
        let mut bytes = b"\x01abc\x00abcabc\xff".to_vec();
        assert_eq!(replace_same_length(&mut bytes, b"abc", b"xyz"), 3);
        assert_eq!(bytes, b"\x01xyz\x00xyzxyz\xff");
        assert_eq!(replace_same_length(&mut bytes, b"abc", b"xyz"), 0);
    }

    #[test]
    fn references_are_renamed_whole_and_a_missing_one_is_named() {
        let mut loader =
            r#"f(new URL("./chunk_1.wasm")); f(new URL("./chunk_10.wasm"));"#.to_owned();
        rename_reference(&mut loader, "chunk_1.wasm", "chunk_1.h1.wasm").unwrap();
        rename_reference(&mut loader, "chunk_10.wasm", "chunk_10.h10.wasm").unwrap();
        assert_eq!(
            loader,
            r#"f(new URL("./chunk_1.h1.wasm")); f(new URL("./chunk_10.h10.wasm"));"#
        );
        assert_eq!(
            rename_reference(&mut loader, "chunk_2.wasm", "x"),
            Err(r#""./chunk_2.wasm""#.to_owned())
        );
    }

    #[test]
    fn names_carry_the_hash_before_the_extension() {
        assert_eq!(hashed_name("chunk_3", "h", "wasm"), "chunk_3.h.wasm");
    }
}
