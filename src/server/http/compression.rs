//! Compression of answers for clients that accept it: pages and JSON of
//! 1 KiB or more, brotli or gzip at a fast level. The site's precompressed
//! files already carry their encoding and pass through.
//!
//! Only requests that accept brotli or gzip go through the compression
//! service; the others (most scripts, the benchmarks) skip its work, which
//! on every request is a sizeable share of a cheap request's cost (figures
//! in docs/benchmarks.md).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::ACCEPT_ENCODING;
use axum::response::Response;
use tower::{Layer, Service};
use tower_http::compression::predicate::{And, NotForContentType, Predicate, SizeAbove};
use tower_http::compression::{Compression, CompressionLayer, CompressionLevel};

/// Answers smaller than this go out uncompressed: a single item or a
/// prediction is not worth it.
const COMPRESS_FROM_BYTES: u16 = 1024;

/// Which answers are worth compressing.
type Worth = And<And<SizeAbove, NotForContentType>, NotForContentType>;

fn worth_it() -> Worth {
    SizeAbove::new(COMPRESS_FROM_BYTES)
        .and(NotForContentType::IMAGES)
        .and(NotForContentType::SSE)
}

/// `inner`, compressing answers to requests that accept it.
#[derive(Clone)]
pub struct Negotiated<S> {
    plain: S,
    compressed: Compression<S, Worth>,
}

impl<S: Clone> Negotiated<S> {
    pub fn new(inner: S) -> Negotiated<S> {
        let layer = CompressionLayer::new()
            .br(true)
            .gzip(true)
            // Answers are compressed per request: a fast level.
            .quality(CompressionLevel::Precise(4))
            .compress_when(worth_it());
        Negotiated {
            compressed: layer.layer(inner.clone()),
            plain: inner,
        }
    }
}

impl<S> Service<Request> for Negotiated<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = NegotiatedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.plain.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if accepts_compression(&request) {
            // Both hold a clone of one router, which is always ready. Boxed:
            // the compressing future is large, and the plain path should not
            // move its size around.
            NegotiatedFuture::Compressed {
                future: Box::pin(self.compressed.call(request)),
            }
        } else {
            NegotiatedFuture::Plain {
                future: self.plain.call(request),
            }
        }
    }
}

/// Whether the request accepts brotli or gzip (Python's http.client, for
/// one, sends `Accept-Encoding: identity` on every request).
fn accepts_compression(request: &Request) -> bool {
    request
        .headers()
        .get_all(ACCEPT_ENCODING)
        .iter()
        .any(|value| {
            value
                .as_bytes()
                .windows(2)
                .any(|pair| pair.eq_ignore_ascii_case(b"br") || pair.eq_ignore_ascii_case(b"gz"))
        })
}

pin_project_lite::pin_project! {
    /// The future of [`Negotiated`].
    #[project = NegotiatedProj]
    pub enum NegotiatedFuture<F> {
        Plain { #[pin] future: F },
        Compressed { future: Pin<Box<tower_http::compression::ResponseFuture<F, Worth>>> },
    }
}

impl<F> Future for NegotiatedFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            NegotiatedProj::Plain { future } => future.poll(cx),
            NegotiatedProj::Compressed { future } => {
                let response = std::task::ready!(future.as_mut().poll(cx))?;
                Poll::Ready(Ok(response.map(Body::new)))
            }
        }
    }
}
