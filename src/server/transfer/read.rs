//! Reading a bulk file as it arrives: bytes in, whole records out, each
//! with the line of the file it starts on. Neither reader holds more than
//! the record being read.

use serde_json::{Map, Value};

use super::format::{Format, FIELDS};

/// Longest record read, in bytes: an item's longest text fields take a few
/// kilobytes, and a file that runs on without a record end (an unclosed
/// quote) must not fill the server's memory.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// A record: the item object it stands for, or what is wrong with it.
#[derive(Debug, PartialEq)]
pub struct Record {
    pub line: u64,
    pub content: Result<Value, RecordProblem>,
}

/// A record that is not an item object at all.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordProblem {
    /// pydantic-like error type: `json_invalid`, `csv_invalid`, ...
    pub kind: &'static str,
    pub message: String,
}

/// What makes the rest of the file unreadable.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct FileProblem {
    pub line: u64,
    pub message: String,
}

/// Reads one format.
pub enum Reader {
    Csv(CsvReader),
    Ndjson(NdjsonReader),
}

impl Reader {
    pub fn new(format: Format) -> Reader {
        match format {
            Format::Csv => Reader::Csv(CsvReader::default()),
            Format::Ndjson => Reader::Ndjson(NdjsonReader::default()),
        }
    }

    /// Reads `bytes` (any slice of the file, in order), handing each record
    /// completed on the way to `emit`.
    pub fn feed(&mut self, bytes: &[u8], emit: &mut impl FnMut(Record)) -> Result<(), FileProblem> {
        match self {
            Reader::Csv(r) => r.feed(bytes, emit),
            Reader::Ndjson(r) => r.feed(bytes, emit),
        }
    }

    /// The end of the file: the last record, if it had no line end.
    pub fn finish(&mut self, emit: &mut impl FnMut(Record)) -> Result<(), FileProblem> {
        match self {
            Reader::Csv(r) => r.finish(emit),
            Reader::Ndjson(r) => r.finish(emit),
        }
    }
}

/// Skips a UTF-8 byte order mark at the very start.
#[derive(Default)]
struct Bom {
    seen: usize,
    done: bool,
}

impl Bom {
    const MARK: &'static [u8] = b"\xEF\xBB\xBF";

    /// `bytes` without the part of the mark it holds. A file that starts
    /// with a partial mark keeps those bytes (they then fail as text).
    fn strip<'a>(&mut self, bytes: &'a [u8], held: &mut Vec<u8>) -> &'a [u8] {
        if self.done {
            return bytes;
        }
        let mut i = 0;
        while i < bytes.len() && self.seen < Self::MARK.len() {
            if bytes[i] != Self::MARK[self.seen] {
                self.done = true;
                held.extend_from_slice(&Self::MARK[..self.seen]);
                return &bytes[i..];
            }
            self.seen += 1;
            i += 1;
        }
        if self.seen == Self::MARK.len() {
            self.done = true;
        }
        &bytes[i..]
    }
}

/// NDJSON: one JSON object a line; blank lines are skipped, `\r\n` ends a
/// line as `\n` does.
#[derive(Default)]
pub struct NdjsonReader {
    bom: Bom,
    pending: Vec<u8>,
    /// The line `pending` is on.
    line: u64,
}

impl NdjsonReader {
    fn feed(&mut self, bytes: &[u8], emit: &mut impl FnMut(Record)) -> Result<(), FileProblem> {
        let mut bytes = self.bom.strip(bytes, &mut self.pending);
        while let Some(end) = memchr(b'\n', bytes) {
            let line = if self.pending.is_empty() {
                &bytes[..end]
            } else {
                self.pending.extend_from_slice(&bytes[..end]);
                &self.pending[..]
            };
            self.line += 1;
            if let Some(record) = ndjson_record(self.line, line) {
                emit(record);
            }
            self.pending.clear();
            bytes = &bytes[end + 1..];
        }
        if self.pending.len() + bytes.len() > MAX_RECORD_BYTES {
            return Err(FileProblem {
                line: self.line + 1,
                message: format!("A line is longer than {MAX_RECORD_BYTES} bytes"),
            });
        }
        self.pending.extend_from_slice(bytes);
        Ok(())
    }

    fn finish(&mut self, emit: &mut impl FnMut(Record)) -> Result<(), FileProblem> {
        if !self.pending.is_empty() {
            self.line += 1;
            if let Some(record) = ndjson_record(self.line, &self.pending) {
                emit(record);
            }
            self.pending.clear();
        }
        Ok(())
    }
}

/// The record of one NDJSON line; `None` for a blank line.
fn ndjson_record(line: u64, text: &[u8]) -> Option<Record> {
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    if text.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let content = serde_json::from_slice::<Value>(text).map_err(|e| {
        // The record is one line: its column, not serde's "line 1".
        let full = e.to_string();
        let what = full
            .rsplit_once(" at line ")
            .map_or(full.as_str(), |(what, _)| what);
        RecordProblem {
            kind: "json_invalid",
            message: format!("Invalid JSON at column {}: {what}", e.column()),
        }
    });
    Some(Record { line, content })
}

/// Where the CSV reader is within a record.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
enum CsvState {
    /// At the start of a field.
    #[default]
    FieldStart,
    /// Inside a field that is not quoted.
    Plain,
    /// Inside a quoted field.
    Quoted,
    /// Just after a quote inside a quoted field: the field's end, or the
    /// first half of a doubled quote.
    QuoteInQuoted,
    /// After a `\r`: a `\n` may follow.
    AfterCr,
}

/// CSV (RFC 4180): the first record names the columns (each of [`FIELDS`],
/// `name` required, in any order); quoted fields may hold commas, quotes
/// (doubled) and line breaks; lines end in `\r\n`, `\n` or `\r`; blank
/// lines are skipped; an empty field is a missing value (an empty name is
/// an empty name, which the item rules refuse).
#[derive(Default)]
pub struct CsvReader {
    bom: Bom,
    state: CsvState,
    /// The fields of the record so far, and the one being read.
    fields: Vec<Vec<u8>>,
    field: Vec<u8>,
    /// Bytes of the record so far.
    size: usize,
    /// The current line, and the line the record started on.
    line: u64,
    record_line: u64,
    /// A quote in the middle of a field that is not quoted.
    stray_quote: bool,
    /// Column positions of the header: which field each column is.
    columns: Option<Vec<&'static str>>,
}

impl CsvReader {
    fn feed(&mut self, bytes: &[u8], emit: &mut impl FnMut(Record)) -> Result<(), FileProblem> {
        let mut held = Vec::new();
        let bytes = self.bom.strip(bytes, &mut held);
        for &b in held.iter().chain(bytes) {
            self.byte(b, emit)?;
        }
        Ok(())
    }

    fn byte(&mut self, b: u8, emit: &mut impl FnMut(Record)) -> Result<(), FileProblem> {
        if self.line == 0 {
            self.line = 1;
        }
        if self.size == 0 && self.fields.is_empty() && self.field.is_empty() {
            self.record_line = self.line;
        }
        self.size += 1;
        if self.size > MAX_RECORD_BYTES {
            return Err(FileProblem {
                line: self.record_line,
                message: format!(
                    "A record is longer than {MAX_RECORD_BYTES} bytes (is a quote left open?)"
                ),
            });
        }
        match (self.state, b) {
            (CsvState::AfterCr, b'\n') => {
                self.state = CsvState::FieldStart;
                self.size = 0;
            }
            (CsvState::AfterCr, _) => {
                self.state = CsvState::FieldStart;
                self.size = 0;
                return self.byte(b, emit);
            }
            (CsvState::Quoted, b'"') => self.state = CsvState::QuoteInQuoted,
            (CsvState::Quoted, b) => {
                if b == b'\n' {
                    self.line += 1;
                }
                self.field.push(b);
            }
            (CsvState::QuoteInQuoted, b'"') => {
                self.field.push(b'"');
                self.state = CsvState::Quoted;
            }
            (CsvState::FieldStart, b'"') if self.field.is_empty() => {
                self.state = CsvState::Quoted;
            }
            (_, b',') => {
                self.fields.push(std::mem::take(&mut self.field));
                self.state = CsvState::FieldStart;
            }
            (_, b'\r' | b'\n') => {
                self.end_record(emit)?;
                self.line += 1;
                self.state = if b == b'\r' {
                    CsvState::AfterCr
                } else {
                    CsvState::FieldStart
                };
                self.size = 0;
            }
            (CsvState::QuoteInQuoted, _) | (CsvState::Plain, b'"') => {
                // Text after a closing quote, or a quote inside a field
                // that is not quoted: kept as it is, and the record refused.
                self.stray_quote = true;
                self.field.push(b);
                self.state = CsvState::Plain;
            }
            (_, b) => {
                self.field.push(b);
                self.state = CsvState::Plain;
            }
        }
        Ok(())
    }

    fn finish(&mut self, emit: &mut impl FnMut(Record)) -> Result<(), FileProblem> {
        match self.state {
            CsvState::Quoted => Err(FileProblem {
                line: self.record_line,
                message: "A quoted field is not closed before the end of the file".into(),
            }),
            _ => self.end_record(emit),
        }
    }

    /// Ends the record being read (a line end, or the end of the file).
    fn end_record(&mut self, emit: &mut impl FnMut(Record)) -> Result<(), FileProblem> {
        let blank = self.fields.is_empty() && self.field.is_empty();
        let mut fields = std::mem::take(&mut self.fields);
        fields.push(std::mem::take(&mut self.field));
        let stray_quote = std::mem::take(&mut self.stray_quote);
        if blank && self.state != CsvState::QuoteInQuoted {
            return Ok(());
        }
        let line = self.record_line;
        let Some(columns) = &self.columns else {
            self.columns = Some(header(line, &fields)?);
            return Ok(());
        };
        let content = if stray_quote {
            Err(RecordProblem {
                kind: "csv_invalid",
                message: "A quote inside a field must be in a quoted field and doubled (\"\")"
                    .into(),
            })
        } else if fields.len() != columns.len() {
            Err(RecordProblem {
                kind: "csv_invalid",
                message: format!(
                    "Expected {} fields, as the header names, found {}",
                    columns.len(),
                    fields.len()
                ),
            })
        } else {
            csv_object(columns, fields)
        };
        emit(Record { line, content });
        Ok(())
    }
}

/// The columns a header row names.
fn header(line: u64, fields: &[Vec<u8>]) -> Result<Vec<&'static str>, FileProblem> {
    let mut columns = Vec::with_capacity(fields.len());
    for field in fields {
        let name = String::from_utf8_lossy(field);
        let name = name.trim();
        let Some(known) = FIELDS.iter().find(|f| f.eq_ignore_ascii_case(name)) else {
            return Err(FileProblem {
                line,
                message: format!(
                    "The header names a column '{name}'; the columns are {}",
                    FIELDS.join(", ")
                ),
            });
        };
        if columns.contains(known) {
            return Err(FileProblem {
                line,
                message: format!("The header names the column '{known}' twice"),
            });
        }
        columns.push(*known);
    }
    if !columns.contains(&"name") {
        return Err(FileProblem {
            line,
            message: format!(
                "The header must name the column 'name' (the columns are {})",
                FIELDS.join(", ")
            ),
        });
    }
    Ok(columns)
}

/// A CSV record as the item object it stands for: empty fields are
/// missing values; `id` and `price` must read as numbers.
fn csv_object(columns: &[&'static str], fields: Vec<Vec<u8>>) -> Result<Value, RecordProblem> {
    let mut object = Map::with_capacity(columns.len());
    for (column, bytes) in columns.iter().zip(fields) {
        let text = String::from_utf8(bytes).map_err(|_| RecordProblem {
            kind: "unicode_invalid",
            message: format!("The field '{column}' is not valid UTF-8"),
        })?;
        let value = match *column {
            // A name is required: an empty one is too short, not missing.
            "name" => Value::String(text),
            _ if text.is_empty() => Value::Null,
            "id" => match text.trim().parse::<i64>() {
                Ok(id) => Value::from(id),
                // Out of range or not a number: the item rules say which.
                Err(_) => match text.trim().parse::<f64>() {
                    Ok(f) if f.is_finite() => {
                        serde_json::Number::from_f64(f).map_or(Value::String(text), Value::Number)
                    }
                    _ => Value::String(text),
                },
            },
            "price" => match text.trim().parse::<f64>() {
                Ok(f) if f.is_finite() => {
                    serde_json::Number::from_f64(f).map_or(Value::String(text), Value::Number)
                }
                _ => Value::String(text),
            },
            _ => Value::String(text),
        };
        object.insert((*column).to_owned(), value);
    }
    Ok(Value::Object(object))
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Every record of `file` fed in pieces of `piece` bytes.
    fn read(format: Format, file: &[u8], piece: usize) -> Result<Vec<Record>, FileProblem> {
        let mut reader = Reader::new(format);
        let mut records = Vec::new();
        for chunk in file.chunks(piece.max(1)) {
            reader.feed(chunk, &mut |r| records.push(r))?;
        }
        reader.finish(&mut |r| records.push(r))?;
        Ok(records)
    }

    fn ok(line: u64, value: Value) -> Record {
        Record {
            line,
            content: Ok(value),
        }
    }

    #[test]
    fn csv_reads_the_same_in_any_pieces() {
        let file = "\u{feff}id,name,description,category,price\r\n\
                    1,Lamp,\"Warm, \"\"soft\"\"\r\nlight\",Lighting,25.5\r\n\
                    \r\n\
                    ,Chair,,,\n\
                    7,\"\",x,y,0";
        let expected = vec![
            ok(
                2,
                json!({"id": 1, "name": "Lamp", "description": "Warm, \"soft\"\r\nlight", "category": "Lighting", "price": 25.5}),
            ),
            ok(
                5,
                json!({"id": null, "name": "Chair", "description": null, "category": null, "price": null}),
            ),
            ok(
                6,
                json!({"id": 7, "name": "", "description": "x", "category": "y", "price": 0.0}),
            ),
        ];
        for piece in [1, 2, 3, 7, 64, 4096] {
            assert_eq!(
                read(Format::Csv, file.as_bytes(), piece).unwrap(),
                expected,
                "pieces of {piece}"
            );
        }
    }

    #[test]
    fn csv_columns_come_in_any_order_and_name_is_required() {
        let records = read(Format::Csv, b"price,NAME\n3,x\n", 64).unwrap();
        assert_eq!(records, vec![ok(2, json!({"price": 3.0, "name": "x"}))]);
        let problem = read(Format::Csv, b"id,price\n1,2\n", 64).unwrap_err();
        assert_eq!(problem.line, 1);
        assert!(problem.message.contains("'name'"), "{problem}");
        let problem = read(Format::Csv, b"name,colour\nx,red\n", 64).unwrap_err();
        assert!(problem.message.contains("'colour'"), "{problem}");
    }

    #[test]
    fn csv_refuses_a_record_with_the_wrong_number_of_fields_or_a_stray_quote() {
        let records = read(Format::Csv, b"name,price\na\nb,1,2\nc\"d,1\n\"e\"f,1\n", 64).unwrap();
        let problems: Vec<(u64, &str)> = records
            .iter()
            .map(|r| (r.line, r.content.as_ref().unwrap_err().kind))
            .collect();
        assert_eq!(
            problems,
            [
                (2, "csv_invalid"),
                (3, "csv_invalid"),
                (4, "csv_invalid"),
                (5, "csv_invalid")
            ]
        );
    }

    #[test]
    fn csv_text_that_is_not_a_number_is_left_for_the_item_rules() {
        let records = read(Format::Csv, b"id,name,price\nseven,x,cheap\n", 64).unwrap();
        assert_eq!(
            records,
            vec![ok(2, json!({"id": "seven", "name": "x", "price": "cheap"}))]
        );
    }

    #[test]
    fn csv_stops_at_an_unclosed_quote() {
        let problem = read(Format::Csv, b"name\n\"open\n", 64).unwrap_err();
        assert_eq!(problem.line, 2);
    }

    #[test]
    fn ndjson_reads_the_same_in_any_pieces_and_skips_blank_lines() {
        let file = b"{\"name\":\"a\"}\r\n\n  \n{\"name\":\"b\",\"id\":2}\nnot json\n[1]";
        for piece in [1, 5, 4096] {
            let records = read(Format::Ndjson, file, piece).unwrap();
            assert_eq!(records.len(), 4);
            assert_eq!(records[0], ok(1, json!({"name": "a"})));
            assert_eq!(records[1], ok(4, json!({"name": "b", "id": 2})));
            assert_eq!(records[2].line, 5);
            let problem = records[2].content.as_ref().unwrap_err();
            assert_eq!(problem.kind, "json_invalid");
            assert_eq!(problem.message, "Invalid JSON at column 2: expected ident");
            assert_eq!(records[3], ok(6, json!([1])));
        }
    }

    #[test]
    fn a_record_longer_than_the_limit_stops_the_file() {
        let mut file = b"name\n\"".to_vec();
        file.resize(MAX_RECORD_BYTES + 100, b'x');
        assert!(read(Format::Csv, &file, 65536).is_err());
        let file = vec![b'x'; MAX_RECORD_BYTES + 1];
        assert!(read(Format::Ndjson, &file, 65536).is_err());
    }
}
