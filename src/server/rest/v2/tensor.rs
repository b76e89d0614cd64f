//! Inference requests and responses of the Open Inference Protocol, in both
//! of its encodings: plain JSON, and the binary tensor data extension
//! (a JSON header followed by raw little-endian tensor bytes, the header's
//! length in `Inference-Header-Content-Length`). The official Triton client
//! uses the binary form by default.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use serde::Serialize;
use serde_json::{Map, Value};

use super::bad_request;
use super::header::{Data, Header, HeaderError};
use crate::domain::MAX_BATCH_ROWS;
use crate::server::http::MediaType;
use crate::server::inference::{LoadedModel, TensorOutput};
use crate::server::rest::cache::json_response;
use crate::server::rest::error::ApiError;
use crate::server::rest::extract::read_body;

/// The header that gives the length of the JSON part of a binary request
/// or response.
pub const HEADER_LENGTH: &str = "inference-header-content-length";

/// [`HEADER_LENGTH`] as a header name, made once (a name given as text is
/// parsed again at every lookup).
static HEADER_LENGTH_NAME: HeaderName = HeaderName::from_static(HEADER_LENGTH);

/// A v2 inference request body as sent: the JSON header and the binary
/// tensor data after it (empty for a plain JSON request).
pub struct InferBody {
    header: Header,
    binary: Bytes,
}

impl<S: Send + Sync> FromRequest<S> for InferBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        check_content_type(req.headers())?;
        let header_length = match req.headers().get(&HEADER_LENGTH_NAME) {
            None => None,
            Some(value) => Some(
                value
                    .to_str()
                    .ok()
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .ok_or_else(|| {
                        bad_request(format!(
                            "{HEADER_LENGTH} must be the byte length of the JSON header"
                        ))
                    })?,
            ),
        };
        let bytes = read_body(req)
            .await
            .map_err(ApiError::into_open_inference)?;
        let (json_part, binary) = match header_length {
            None => (bytes.clone(), Bytes::new()),
            Some(n) if n <= bytes.len() => (bytes.slice(..n), bytes.slice(n..)),
            Some(n) => {
                return Err(bad_request(format!(
                    "{HEADER_LENGTH} is {n}, but the body has only {} bytes",
                    bytes.len()
                )))
            }
        };
        let header = Header::from_slice(&json_part).map_err(|e| match e {
            HeaderError::Syntax(e) => bad_request(format!("JSON decode error: {e}")),
            HeaderError::NotAnObject => bad_request("The request body must be a JSON object"),
        })?;
        Ok(InferBody { header, binary })
    }
}

/// Triton and KServe take inference requests with a JSON content type,
/// `application/octet-stream` (the binary form), or none at all (what the
/// Triton client sends); anything else is a mistake worth naming.
fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Ok(());
    };
    let mime = MediaType::from_value(value);
    if mime.is_json() || mime.is("application/octet-stream") {
        Ok(())
    } else {
        Err(ApiError::OpenInference(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Unsupported media type '{mime}': send JSON (application/json), the binary \
                 tensor form (application/octet-stream with {HEADER_LENGTH}), or no Content-Type"
            ),
        ))
    }
}

/// A validated inference request: one input tensor, flattened row-major.
pub struct InferRequest {
    pub id: Option<Value>,
    pub rows: usize,
    pub data: Vec<f64>,
    /// The outputs asked for (all when `None`), each with whether it is
    /// wanted as binary data.
    outputs: Option<Vec<(String, bool)>>,
    /// Request-wide `binary_data_output`: outputs not listed come as binary.
    binary_by_default: bool,
}

impl InferRequest {
    pub fn parse(body: InferBody, model: &LoadedModel) -> Result<InferRequest, ApiError> {
        let sig = &model.signature;
        let mut header = body.header;
        let inputs = header
            .inputs
            .as_deref_mut()
            .ok_or_else(|| bad_request("'inputs' must be a list of input tensors"))?;
        let [input] = inputs else {
            return Err(bad_request(format!(
                "Expected exactly one input tensor ('{}'), got {}",
                sig.input_name,
                inputs.len()
            )));
        };
        let input_name = input.name.as_deref().unwrap_or_default();
        if input_name != sig.input_name {
            return Err(bad_request(format!(
                "Unknown input '{input_name}'; model '{}' takes '{}'",
                model.info.name, sig.input_name
            )));
        }
        let datatype = input.datatype.as_deref().unwrap_or_default();
        let width = match datatype {
            "FP32" => 4,
            "FP64" => 8,
            _ => {
                return Err(bad_request(format!(
                    "Unsupported datatype '{datatype}' for '{input_name}': use FP32 or FP64"
                )))
            }
        };
        let shape: &[u64] = input.shape.as_deref().ok_or_else(|| {
            bad_request(format!(
                "'shape' of '{input_name}' must be a list of non-negative integers"
            ))
        })?;
        let k = sig.features as u64;
        let rows = match shape {
            [n, cols] if *cols == k => *n,
            [cols] if *cols == k => 1,
            _ => {
                return Err(bad_request(format!(
                    "Shape {shape:?} of '{input_name}' does not fit the model: expected [N, {k}]"
                )))
            }
        };
        if rows == 0 || rows > MAX_BATCH_ROWS as u64 {
            return Err(bad_request(format!(
                "The batch must have 1 to {MAX_BATCH_ROWS} rows, not {rows}"
            )));
        }
        let expected = (rows * k) as usize;
        let binary_size = input
            .parameter("binary_data_size")
            .map(|v| {
                v.as_u64().map(|n| n as usize).ok_or_else(|| {
                    bad_request(format!(
                        "'binary_data_size' of '{input_name}' must be a byte count"
                    ))
                })
            })
            .transpose()?;
        let data = match (binary_size, input.data.as_mut()) {
            (Some(_), Some(_)) => {
                return Err(bad_request(format!(
                    "'{input_name}' has both 'data' and 'binary_data_size'; send one"
                )))
            }
            (Some(size), None) => {
                if size != expected * width {
                    return Err(bad_request(format!(
                        "'binary_data_size' of '{input_name}' is {size} bytes; shape {shape:?} \
                         of {datatype} needs {}",
                        expected * width
                    )));
                }
                if body.binary.len() != size {
                    return Err(bad_request(format!(
                        "The body carries {} bytes of binary tensor data after the JSON header; \
                         '{input_name}' declares {size}",
                        body.binary.len()
                    )));
                }
                decode_le(&body.binary, width)
            }
            (None, Some(raw)) => {
                if !body.binary.is_empty() {
                    return Err(bad_request(
                        "The body has binary data after the JSON header, but no input declares \
                         'binary_data_size'",
                    ));
                }
                let data = match raw {
                    Data::Numbers(numbers) => std::mem::take(numbers),
                    Data::Raw(value) => {
                        let mut data = Vec::with_capacity(expected);
                        flatten(value, &mut data, expected, 0)?;
                        data
                    }
                };
                if data.len() > expected {
                    return Err(too_many_values(expected));
                }
                if data.len() != expected {
                    return Err(bad_request(format!(
                        "'data' of '{input_name}' has {} values; shape {shape:?} needs {expected}",
                        data.len()
                    )));
                }
                data
            }
            (None, None) => {
                return Err(bad_request(format!(
                    "'data' of '{input_name}' is missing (or send it as binary data with \
                     'binary_data_size')"
                )))
            }
        };
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(bad_request(format!(
                "'{input_name}' holds a value that is not a finite number at position {i}"
            )));
        }
        let binary_by_default = match header
            .parameters
            .as_ref()
            .map(|p| p.get("binary_data_output"))
        {
            None | Some(None) => false,
            Some(Some(Value::Bool(b))) => *b,
            Some(Some(_)) => return Err(bad_request("'binary_data_output' must be true or false")),
        };
        let outputs = match &header.outputs {
            None | Some(Value::Null) => None,
            Some(Value::Array(list)) => Some(requested_outputs(list, model, binary_by_default)?),
            Some(_) => return Err(bad_request("'outputs' must be a list")),
        };
        Ok(InferRequest {
            id: header.id,
            rows: rows as usize,
            data,
            outputs,
            binary_by_default,
        })
    }

    /// The answer to this request, given every output of the model as
    /// row-major values: the outputs asked for, each as JSON data or as
    /// binary data after the JSON header, as the request wanted.
    pub fn respond(self, model: &LoadedModel, results: Vec<Vec<f64>>) -> Response {
        // Room for the names and about 24 bytes per number written as text,
        // so that a small answer is written without growing its buffer.
        let numbers: usize = results.iter().map(Vec::len).sum();
        let mut json = Vec::with_capacity(256 + 24 * numbers);
        let mut binary = Vec::new();
        // Written in place, keys as the fixed text they are: serde would
        // escape every key and model name again on every answer, a visible
        // share of a one-row request's cost. Key order: id, model_name,
        // model_version, outputs.
        json.push(b'{');
        if let Some(id) = &self.id {
            json.extend_from_slice(br#""id":"#);
            write_json(&mut json, id);
            json.push(b',');
        }
        json.extend_from_slice(br#""model_name":"#);
        write_str(&mut json, &model.info.name);
        json.extend_from_slice(br#","model_version":"#);
        write_str(&mut json, &model.info.version);
        json.extend_from_slice(br#","outputs":["#);
        let mut first = true;
        for (spec, values) in model.signature.outputs.iter().zip(&results) {
            let as_binary = match &self.outputs {
                None => self.binary_by_default,
                Some(wanted) => match wanted.iter().find(|(name, _)| *name == spec.name) {
                    Some((_, as_binary)) => *as_binary,
                    None => continue,
                },
            };
            if !first {
                json.push(b',');
            }
            first = false;
            json.extend_from_slice(br#"{"name":"#);
            write_str(&mut json, &spec.name);
            json.extend_from_slice(br#","datatype":""#);
            json.extend_from_slice(spec.v2_datatype().as_bytes());
            json.extend_from_slice(br#"","shape":["#);
            write_json(&mut json, &self.rows);
            for dim in &spec.inner_shape {
                json.push(b',');
                write_json(&mut json, dim);
            }
            json.push(b']');
            if as_binary {
                let before = binary.len();
                encode_le(spec, values, &mut binary);
                json.extend_from_slice(br#","parameters":{"binary_data_size":"#);
                write_json(&mut json, &(binary.len() - before));
                json.push(b'}');
            } else {
                json.extend_from_slice(br#","data":"#);
                let data = OutputData {
                    values,
                    integers: spec.is_integer(),
                };
                write_json(&mut json, &data);
            }
            json.push(b'}');
        }
        json.extend_from_slice(b"]}");
        if binary.is_empty() {
            return json_response(Bytes::from(json));
        }
        let header_length = json.len();
        let mut body = json;
        body.extend_from_slice(&binary);
        let mut response = Response::new(Body::from(body));
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        headers.insert(HEADER_LENGTH_NAME.clone(), HeaderValue::from(header_length));
        headers.remove(CONTENT_LENGTH);
        response
    }
}

/// Appends `value` as JSON. Writing into a `Vec` cannot fail, and neither
/// can numbers, strings or a `Value` (whose keys are strings).
fn write_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let _ = serde_json::to_writer(out, value);
}

/// Appends `text` as a JSON string, exactly as serde_json writes it: a
/// name with nothing to escape (no quote, backslash or control character;
/// model and output names hardly ever have one) is copied as it is.
fn write_str(out: &mut Vec<u8>, text: &str) {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        write_json(out, text);
    }
}

/// An output's values as a JSON list: integers (class labels) as integers.
struct OutputData<'a> {
    values: &'a [f64],
    integers: bool,
}

impl Serialize for OutputData<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.integers {
            serializer.collect_seq(self.values.iter().map(|v| *v as i64))
        } else {
            serializer.collect_seq(self.values)
        }
    }
}

/// The outputs named in a request's `outputs` list, with whether each is
/// wanted as binary data (its own `binary_data` parameter, else the
/// request's default).
fn requested_outputs(
    list: &[Value],
    model: &LoadedModel,
    binary_by_default: bool,
) -> Result<Vec<(String, bool)>, ApiError> {
    let sig = &model.signature;
    list.iter()
        .map(|o| {
            let name = o
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| bad_request("each requested output needs a 'name'"))?;
            if !sig.outputs.iter().any(|out| out.name == name) {
                let known: Vec<&str> = sig.outputs.iter().map(|o| o.name.as_str()).collect();
                return Err(bad_request(format!(
                    "Unknown output '{name}'; the model has {}",
                    known.join(", ")
                )));
            }
            let as_binary = match parameter(o, "binary_data") {
                None => binary_by_default,
                Some(Value::Bool(b)) => *b,
                Some(_) => {
                    return Err(bad_request(format!(
                        "'binary_data' of output '{name}' must be true or false"
                    )))
                }
            };
            Ok((name.to_owned(), as_binary))
        })
        .collect()
}

/// `tensor.parameters.<key>`, if present.
fn parameter<'a>(tensor: &'a Value, key: &str) -> Option<&'a Value> {
    tensor
        .get("parameters")
        .and_then(Value::as_object)
        .and_then(|p: &Map<String, Value>| p.get(key))
}

/// Little-endian FP32 or FP64 values (`width` 4 or 8) as f64.
fn decode_le(bytes: &[u8], width: usize) -> Vec<f64> {
    if width == 4 {
        bytes
            .chunks_exact(4)
            .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            .collect()
    } else {
        bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap_or_default()))
            .collect()
    }
}

/// Appends `values` to `out` as little-endian bytes of the output's own
/// datatype (f32, f64 or i64).
fn encode_le(spec: &TensorOutput, values: &[f64], out: &mut Vec<u8>) {
    match spec.v2_datatype() {
        "FP32" => values
            .iter()
            .for_each(|v| out.extend_from_slice(&(*v as f32).to_le_bytes())),
        "INT64" => values
            .iter()
            .for_each(|v| out.extend_from_slice(&(*v as i64).to_le_bytes())),
        "INT32" => values
            .iter()
            .for_each(|v| out.extend_from_slice(&(*v as i32).to_le_bytes())),
        "BOOL" => values.iter().for_each(|v| out.push(u8::from(*v != 0.0))),
        _ => values
            .iter()
            .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
    }
}

fn too_many_values(limit: usize) -> ApiError {
    bad_request(format!(
        "'data' has more than the {limit} values its shape allows"
    ))
}

/// Appends the numbers of a flat or nested list to `out`.
fn flatten(value: &Value, out: &mut Vec<f64>, limit: usize, depth: usize) -> Result<(), ApiError> {
    match value {
        Value::Number(n) => {
            if out.len() >= limit {
                return Err(too_many_values(limit));
            }
            out.push(n.as_f64().unwrap_or(f64::NAN));
            Ok(())
        }
        Value::Array(items) if depth < 2 => items
            .iter()
            .try_for_each(|v| flatten(v, out, limit, depth + 1)),
        Value::Array(_) => Err(bad_request("'data' is nested deeper than its shape")),
        other => Err(bad_request(format!(
            "'data' must hold only numbers (finite, as JSON numbers); found {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_written_as_serde_json_writes_them() {
        for name in [
            "variable",
            "prob\"ability",
            "back\\slash",
            "tab\there",
            "Éclairage ✓",
            "",
        ] {
            let mut out = Vec::new();
            write_str(&mut out, name);
            assert_eq!(out, serde_json::to_vec(name).unwrap(), "{name:?}");
        }
    }

    #[test]
    fn little_endian_floats_round_trip() {
        let values = [1.5, -2.25, 0.0, 1e10];
        let mut bytes = Vec::new();
        for v in values {
            bytes.extend_from_slice(&f64::to_le_bytes(v));
        }
        assert_eq!(decode_le(&bytes, 8), values);
        let narrow: Vec<u8> = values
            .iter()
            .flat_map(|v| (*v as f32).to_le_bytes())
            .collect();
        assert_eq!(decode_le(&narrow, 4), values);
    }

    #[test]
    fn content_types_of_the_protocol_are_accepted_and_others_named() {
        let mut headers = HeaderMap::new();
        assert!(check_content_type(&headers).is_ok());
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "application/octet-stream",
        ] {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(ok));
            assert!(check_content_type(&headers).is_ok(), "{ok}");
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        let error = check_content_type(&headers).unwrap_err();
        assert!(error.to_string().contains("text/plain"), "{error}");
    }
}
