//! Items as CSV records (RFC 4180), written the same by the server's
//! export and by the browser's "Export selected".

use std::fmt::Write as _;

use super::Item;

/// The first record of a file: the column names, as an import reads them.
pub const CSV_HEADER: &str = "id,name,description,category,price\r\n";

/// Appends `item` to `out` as one record.
pub fn write_csv_record(item: &Item, out: &mut String) {
    let _ = write!(out, "{},", item.id);
    field(&item.name, out);
    out.push(',');
    field(item.description.as_deref().unwrap_or_default(), out);
    out.push(',');
    field(item.category.as_deref().unwrap_or_default(), out);
    out.push(',');
    if let Some(price) = item.price {
        // Rust prints the shortest text that reads back as the same
        // number, never in exponent form.
        let _ = write!(out, "{price}");
    }
    out.push_str("\r\n");
}

/// A field, quoted when it must be, or when it starts or ends with a space,
/// which some readers would otherwise trim. Written byte by byte: the
/// string helpers that take a pattern, shared with the item page, would
/// move into the module every first visit downloads.
fn field(text: &str, out: &mut String) {
    let bytes = text.as_bytes();
    let quote = bytes
        .iter()
        .any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
        || bytes.first() == Some(&b' ')
        || bytes.last() == Some(&b' ');
    if !quote {
        out.push_str(text);
        return;
    }
    out.push('"');
    for c in text.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
}
