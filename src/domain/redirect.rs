//! Where a page may send the browser after logging in.

/// `next` when it is a path on this site, `None` when it could leave it.
///
/// Browsers resolve a URL leniently before they follow it: `\` counts as
/// `/` (so `/\evil.example` is `//evil.example`, another host), tabs and
/// line breaks are dropped (`/\t/evil.example` too), and a scheme such as
/// `javascript:` runs code. Only a plain absolute path passes: it starts
/// with a single `/` and holds no `\`, no control character and no space;
/// and decoding its percent escapes once more must not make it start with
/// two slashes either (in case something down the line decodes again).
pub fn local_path(next: &str) -> Option<&str> {
    let plain = next.starts_with('/')
        && !next.starts_with("//")
        && !next
            .chars()
            .any(|c| c == '\\' || c.is_control() || c.is_whitespace());
    let decoded: String = percent_decoded(next)?
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let still_plain = !matches!(decoded.as_bytes(), [b'/', b'/' | b'\\', ..]);
    (plain && still_plain).then_some(next)
}

/// `text` with `%XX` escapes decoded; `None` when an escape is broken or
/// the result is not UTF-8.
fn percent_decoded(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn paths_on_this_site_pass() {
        for path in [
            "/",
            "/admin",
            "/predict?model=iris",
            "/?q=caf%C3%A9&sort=-price",
            "/a/b#c",
            "/?q=red%20lamp",
        ] {
            assert_eq!(local_path(path), Some(path), "{path}");
        }
    }

    #[test]
    fn anything_that_could_leave_the_site_is_refused() {
        for next in [
            "//evil.example",
            "/\\evil.example",
            "/\\127.0.0.1:9/pwned",
            "\\\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/ /evil.example",
            "/%2F/evil.example",
            "/%2f%2fevil.example",
            "/%5Cevil.example",
            "/%5cevil.example",
            "/%09/evil.example",
            "%2F%2Fevil.example",
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "https://evil.example/",
            "evil.example",
            "",
            "/%zz",
        ] {
            assert_eq!(local_path(next), None, "{next:?}");
        }
    }
}
