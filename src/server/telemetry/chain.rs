//! Errors as logs show them: the error and every cause behind it.

use std::error::Error;
use std::fmt;

/// Any error, kept as the cause of another.
pub type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// Displays `error` followed by each of its sources, `outer: inner: ...`.
/// A source whose text the line already holds is not repeated: errors
/// whose message is meant for clients quote their cause themselves.
pub struct Chain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = self.0.to_string();
        let mut cause = self.0.source();
        while let Some(error) = cause {
            let text = error.to_string();
            if !line.contains(&text) {
                line.push_str(": ");
                line.push_str(&text);
            }
            cause = error.source();
        }
        f.write_str(&line)
    }
}

/// `error` with its causes, for a log field: `tracing::error!(error = %chain(&e))`.
pub fn chain<'a>(error: &'a (dyn Error + 'static)) -> Chain<'a> {
    Chain(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot load the models")]
    struct Outer(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("model.onnx: {0}")]
    struct Quoting(#[source] std::io::Error);

    #[test]
    fn a_chain_names_every_cause_once() {
        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        assert_eq!(
            chain(&Outer(io())).to_string(),
            "cannot load the models: no such file"
        );
        assert_eq!(
            chain(&Quoting(io())).to_string(),
            "model.onnx: no such file"
        );
    }
}
