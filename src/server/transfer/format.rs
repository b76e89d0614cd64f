//! The two file formats and how an item is written in each.

use serde::Serialize;

use crate::domain::{write_csv_record, Item, CSV_HEADER};

/// The columns of a CSV file and the keys of an NDJSON line, in order.
pub const FIELDS: [&str; 5] = ["id", "name", "description", "category", "price"];

/// A bulk file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// RFC 4180: a header row naming the columns, fields quoted when they
    /// hold a comma, a quote or a line break, lines ending in CRLF.
    Csv,
    /// One JSON object a line.
    Ndjson,
}

impl Format {
    pub const ALL: [Format; 2] = [Format::Csv, Format::Ndjson];

    /// The name used in `?format=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
        }
    }

    pub fn parse(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == name)
    }

    /// The media type of a file in this format.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Ndjson => "application/x-ndjson",
        }
    }

    /// `Content-Disposition` of a file of this format.
    pub fn attachment(self) -> &'static str {
        match self {
            Format::Csv => "attachment; filename=\"items.csv\"",
            Format::Ndjson => "attachment; filename=\"items.ndjson\"",
        }
    }

    /// What a file of this format starts with, before any item.
    pub fn header(self) -> &'static str {
        match self {
            Format::Csv => CSV_HEADER,
            Format::Ndjson => "",
        }
    }

    /// Appends `item` to `out` as one record of this format.
    pub fn write(self, item: &Item, out: &mut String) {
        match self {
            Format::Csv => write_csv_record(item, out),
            Format::Ndjson => {
                let record = Record {
                    id: item.id,
                    name: &item.name,
                    description: item.description.as_deref(),
                    category: item.category.as_deref(),
                    price: item.price,
                };
                // Serializing plain strings and numbers cannot fail.
                if let Ok(line) = serde_json::to_string(&record) {
                    out.push_str(&line);
                }
                out.push('\n');
            }
        }
    }
}

/// An item as an NDJSON line carries it.
#[derive(Serialize)]
struct Record<'a> {
    id: i64,
    name: &'a str,
    description: Option<&'a str>,
    category: Option<&'a str>,
    price: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str, description: Option<&str>, price: Option<f64>) -> Item {
        Item {
            id: 7,
            name: name.into(),
            description: description.map(Into::into),
            category: None,
            price,
            created_at: String::new(),
            updated_at: String::new(),
            version: 1,
        }
    }

    #[test]
    fn csv_quotes_only_the_fields_that_need_it() {
        let mut out = String::new();
        Format::Csv.write(&item("plain", Some("a, \"b\"\nc"), Some(2.5)), &mut out);
        assert_eq!(out, "7,plain,\"a, \"\"b\"\"\nc\",,2.5\r\n");
    }

    #[test]
    fn missing_values_are_empty_in_csv_and_null_in_ndjson() {
        let mut csv = String::new();
        Format::Csv.write(&item("x", None, None), &mut csv);
        assert_eq!(csv, "7,x,,,\r\n");
        let mut ndjson = String::new();
        Format::Ndjson.write(&item("x", None, None), &mut ndjson);
        assert_eq!(
            ndjson,
            "{\"id\":7,\"name\":\"x\",\"description\":null,\"category\":null,\"price\":null}\n"
        );
    }

    #[test]
    fn prices_are_written_so_that_they_read_back_the_same() {
        for price in [0.1 + 0.2, 1e-7, 123456789.125, 1e21, -0.5] {
            let mut out = String::new();
            Format::Csv.write(&item("x", None, Some(price)), &mut out);
            let written = out.trim_end().rsplit(',').next().unwrap();
            assert!(!written.contains('e'), "{written}");
            assert_eq!(written.parse::<f64>().unwrap(), price);
        }
    }
}
