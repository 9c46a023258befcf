//! The browser game client (`client/web/`), served by the login API's HTTPS server at `/play/`:
//! the page and the API share an origin, so its `fetch`es need no CORS.
//!
//! - `GET /play` redirects to `/play/` (the page loads `dist/meridian.js` relative to itself).
//! - `GET /play/` and `GET /play/index.html`: the page; `GET /play/dist/meridian.js`: the bundle.
//! - Anything else under `/play/` is the API's 404: only these files are ever served.
//!
//! Served from a directory given at start (`meridian-control auth --web-root client/web`), not
//! embedded with `include_bytes!`: `dist/meridian.js` is built by `npm run build` (esbuild, it
//! bundles `@noble/ciphers`) and is not committed, so embedding would make every `cargo build`
//! need Node and the npm packages (or silently embed a stale or empty bundle). A missing file is a
//! start-up error that names the build step. The files are read once at start into memory and
//! looked up in a fixed table: no request path ever reaches the file system, so there is no
//! directory traversal to guard against (the tests try it anyway).
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::header,
    response::{IntoResponse, Redirect},
    routing::get,
};

/// The files served: URL path under `/play/`, path under the web root, content type.
const FILES: [(&str, &str, &str); 2] = [
    ("index.html", "index.html", "text/html; charset=utf-8"),
    ("dist/meridian.js", "dist/meridian.js", "text/javascript; charset=utf-8"),
];

/// Why the page cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error(
        "the browser client's {path} is missing: build it with `npm ci && npm run build` in client/web \
         (infra/setup.sh does), or point --web-root at client/web"
    )]
    Missing { path: PathBuf },
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
}

struct Page {
    index_html: Bytes,
    meridian_js: Bytes,
}

/// The `/play/` routes with the files under `web_root` (`client/web`), read now. They set no
/// fallback: merged into the login API (`AuthServer::merge_routes`), unknown paths get its 404.
pub fn router(web_root: &Path) -> Result<Router, WebError> {
    let read = |relative: &str| -> Result<Bytes, WebError> {
        let path = web_root.join(relative);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Bytes::from(bytes)),
            Err(source) if source.kind() == std::io::ErrorKind::NotFound => Err(WebError::Missing { path }),
            Err(source) => Err(WebError::Read { path, source }),
        }
    };
    let page = Arc::new(Page {
        index_html: read(FILES[0].1)?,
        meridian_js: read(FILES[1].1)?,
    });
    Ok(Router::new()
        .route("/play", get(|| async { Redirect::permanent("/play/") }))
        .route("/play/", get(index_html))
        .route("/play/index.html", get(index_html))
        .route("/play/dist/meridian.js", get(meridian_js))
        .with_state(page))
}

/// The page and its bundle change with each deployment: browsers revalidate rather than run an
/// old bundle against a new server.
const NO_CACHE: (header::HeaderName, &str) = (header::CACHE_CONTROL, "no-cache");

async fn index_html(State(page): State<Arc<Page>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, FILES[0].2), NO_CACHE], page.index_html.clone())
}

async fn meridian_js(State(page): State<Arc<Page>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, FILES[1].2), NO_CACHE], page.meridian_js.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    const INDEX: &str = "<!doctype html><script type=module src=dist/meridian.js></script>";
    const BUNDLE: &str = "window.meridian = {};";

    /// A web root with the two files, and a secret beside and above them that must never be served.
    fn web_root() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let web = root.path().join("web");
        std::fs::create_dir_all(web.join("dist")).unwrap();
        std::fs::write(web.join("index.html"), INDEX).unwrap();
        std::fs::write(web.join("dist/meridian.js"), BUNDLE).unwrap();
        std::fs::write(web.join("package.json"), "{}").unwrap();
        std::fs::write(root.path().join("secret.txt"), "secret").unwrap();
        root
    }

    async fn get(router: &Router, uri: &str) -> (StatusCode, Option<String>, Option<String>, String) {
        let response = router
            .clone()
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let header = |name| {
            response
                .headers()
                .get(name)
                .map(|v: &header::HeaderValue| v.to_str().unwrap().to_owned())
        };
        let (content_type, location) = (header(header::CONTENT_TYPE), header(header::LOCATION));
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (
            status,
            content_type,
            location,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    #[tokio::test]
    async fn serves_the_page_and_its_bundle_with_their_content_types() {
        let root = web_root();
        let router = router(&root.path().join("web")).unwrap();
        for uri in ["/play/", "/play/index.html"] {
            let (status, content_type, _, body) = get(&router, uri).await;
            assert_eq!(status, StatusCode::OK, "{uri}");
            assert_eq!(content_type.as_deref(), Some("text/html; charset=utf-8"), "{uri}");
            assert_eq!(body, INDEX, "{uri}");
        }
        let (status, content_type, _, body) = get(&router, "/play/dist/meridian.js").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type.as_deref(), Some("text/javascript; charset=utf-8"));
        assert_eq!(body, BUNDLE);
        // Without the slash the page's relative `dist/meridian.js` would miss: redirected.
        let (status, _, location, _) = get(&router, "/play").await;
        assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
        assert_eq!(location.as_deref(), Some("/play/"));
    }

    #[tokio::test]
    async fn nothing_but_the_two_files_is_served_whatever_the_path_says() {
        let root = web_root();
        let router = router(&root.path().join("web")).unwrap();
        for uri in [
            "/play/package.json",
            "/play/dist/",
            "/play/../secret.txt",
            "/play/dist/../../secret.txt",
            "/play/%2e%2e/secret.txt",
            "/play/dist/..%2f..%2fsecret.txt",
            "/play/dist%2fmeridian.js",
            "/play//etc/passwd",
            "/play/index.html/",
            "/secret.txt",
        ] {
            let (status, _, _, body) = get(&router, uri).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{uri} answered {body:?}");
            assert!(!body.contains("secret"), "{uri}");
        }
    }

    #[test]
    fn a_missing_bundle_is_refused_at_start_naming_the_build_step() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("index.html"), "<!doctype html>").unwrap();
        let Err(error) = router(root.path()) else {
            panic!("no bundle: must be refused");
        };
        let message = error.to_string();
        assert!(matches!(error, WebError::Missing { ref path } if path.ends_with("dist/meridian.js")));
        assert!(message.contains("npm run build"), "{message}");
    }
}
