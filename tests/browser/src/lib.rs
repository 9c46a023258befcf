//! A small headless-Chromium harness for Meridian's browser tests: Debian's `chromium` driven
//! through `chromedriver` (WebDriver) with fantoccini. Nothing is downloaded.
//!
//! [`Driver::start`] runs chromedriver on a free loopback port (stopped on drop);
//! [`Driver::session`] opens a headless browser with a fixed viewport and a profile of its own;
//! a [`Session`] goes to pages, evaluates JavaScript, waits for a condition, fills and clicks, and
//! takes screenshots that are saved as PNG and decoded into a [`Screenshot`] whose pixels a test
//! counts. The world map's test uses it today; the browser game client's tests reuse it.
#![forbid(unsafe_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// Where Debian puts them (`apt-get install chromium chromium-driver`; see infra/setup.sh).
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The viewport every session gets (screenshots are this size at device scale 1).
pub const VIEWPORT_PX: (u32, u32) = (1280, 900);
/// How long chromedriver gets to listen.
const DRIVER_START_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    #[error("{0} is missing: install Debian's chromium and chromium-driver (infra/setup.sh)")]
    Missing(&'static str),
    #[error("starting chromedriver: {0}")]
    Spawn(std::io::Error),
    #[error("chromedriver did not listen on port {port} within {DRIVER_START_TIMEOUT:?}")]
    DriverTimeout { port: u16 },
    #[error("new browser session: {0}")]
    Session(#[from] fantoccini::error::NewSessionError),
    #[error("webdriver command: {0}")]
    Command(#[from] fantoccini::error::CmdError),
    #[error("timed out after {after:?} waiting for `{condition}` (last value: {last})")]
    WaitTimeout {
        condition: String,
        after: Duration,
        last: Value,
    },
    #[error("screenshot: {0}")]
    Png(#[from] png::DecodingError),
    #[error("screenshot: unsupported PNG layout {0}")]
    PngLayout(String),
    #[error("saving the screenshot to {path}: {source}")]
    Save { path: PathBuf, source: std::io::Error },
}

/// A running chromedriver; killed on drop.
pub struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    /// Starts chromedriver on a free loopback port, its log in `log` (e.g. the test's temp dir).
    pub fn start(log: &Path) -> Result<Driver, BrowserError> {
        for binary in [CHROMIUM, CHROMEDRIVER] {
            if !Path::new(binary).is_file() {
                return Err(BrowserError::Missing(binary));
            }
        }
        let port = free_port().map_err(BrowserError::Spawn)?;
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(BrowserError::Spawn)?;
        let driver = Driver { child, port };
        let deadline = Instant::now() + DRIVER_START_TIMEOUT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(BrowserError::DriverTimeout { port });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(driver)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A new headless browser: its own profile (no cookies shared with other sessions), the
    /// [`VIEWPORT_PX`] viewport at device scale 1, and TLS certificates accepted (the servers
    /// under test use development certificates).
    pub async fn session(&self) -> Result<Session, BrowserError> {
        let profile = tempfile::tempdir().map_err(BrowserError::Spawn)?;
        let (width, height) = VIEWPORT_PX;
        let capabilities = json!({
            "acceptInsecureCerts": true,
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    // Tests run as root in a container: the sandbox needs user namespaces.
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--force-device-scale-factor=1",
                    "--hide-scrollbars",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal");
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url())
            .await?;
        Ok(Session {
            client,
            _profile: profile,
        })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// One browser (one profile).
pub struct Session {
    client: Client,
    _profile: tempfile::TempDir,
}

impl Session {
    pub async fn goto(&self, url: &str) -> Result<(), BrowserError> {
        Ok(self.client.goto(url).await?)
    }

    pub async fn current_url(&self) -> Result<String, BrowserError> {
        Ok(self.client.current_url().await?.to_string())
    }

    /// Evaluates `expression` in the page and returns its JSON value (`undefined` is `null`).
    pub async fn eval(&self, expression: &str) -> Result<Value, BrowserError> {
        Ok(self
            .client
            .execute(&format!("return ({expression});"), Vec::new())
            .await?)
    }

    /// Evaluates an async function body (it may `await`) and returns what it resolves to, e.g.
    /// `const r = await fetch('/x'); return r.status;`.
    pub async fn eval_async(&self, body: &str) -> Result<Value, BrowserError> {
        let script = format!(
            "const done = arguments[arguments.length - 1];\n(async () => {{ {body} }})().then(done, (e) => done({{error: String(e)}}));"
        );
        Ok(self.client.execute_async(&script, Vec::new()).await?)
    }

    /// Waits until `expression` evaluates truthy (re-evaluated every 100 ms; a page navigating
    /// meanwhile is retried) and returns its last value.
    pub async fn wait_for(&self, expression: &str, timeout: Duration) -> Result<Value, BrowserError> {
        let deadline = Instant::now() + timeout;
        let mut last = Value::Null;
        loop {
            if let Ok(value) = self.eval(expression).await {
                let truthy = match &value {
                    Value::Null => false,
                    Value::Bool(b) => *b,
                    Value::Number(n) => n.as_f64() != Some(0.0),
                    Value::String(s) => !s.is_empty(),
                    _ => true,
                };
                if truthy {
                    return Ok(value);
                }
                last = value;
            }
            if Instant::now() > deadline {
                return Err(BrowserError::WaitTimeout {
                    condition: expression.to_owned(),
                    after: timeout,
                    last,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Types `text` into the element `css` selects.
    pub async fn fill(&self, css: &str, text: &str) -> Result<(), BrowserError> {
        let element = self.client.wait().for_element(Locator::Css(css)).await?;
        element.clear().await?;
        Ok(element.send_keys(text).await?)
    }

    pub async fn click(&self, css: &str) -> Result<(), BrowserError> {
        let element = self.client.wait().for_element(Locator::Css(css)).await?;
        Ok(element.click().await?)
    }

    /// Presses `key` (a character, or a `fantoccini::key::Key` as `char`), holds it for `held`
    /// and releases it, as the keyboard would (`keydown`, repeats, `keyup` on the focused element).
    pub async fn hold_key(&self, key: char, held: Duration) -> Result<(), BrowserError> {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let actions = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Pause { duration: held })
            .then(KeyAction::Up { value: key });
        self.client.perform_actions(actions).await?;
        Ok(())
    }

    /// A screenshot of the viewport, saved as `path` (PNG) and decoded.
    pub async fn screenshot(&self, path: &Path) -> Result<Screenshot, BrowserError> {
        let bytes = self.client.screenshot().await?;
        std::fs::write(path, &bytes).map_err(|source| BrowserError::Save {
            path: path.to_owned(),
            source,
        })?;
        Screenshot::decode(&bytes)
    }

    pub async fn close(self) -> Result<(), BrowserError> {
        Ok(self.client.close().await?)
    }
}

/// An RGB(A) image decoded from a PNG screenshot.
#[derive(Clone, Debug)]
pub struct Screenshot {
    pub width: u32,
    pub height: u32,
    /// Row-major RGBA.
    rgba: Vec<u8>,
}

/// A pixel rectangle, `[x0, x1) × [y0, y1)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PixelRect {
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
}

impl PixelRect {
    pub fn contains(&self, x: u32, y: u32) -> bool {
        (self.x0..self.x1).contains(&x) && (self.y0..self.y1).contains(&y)
    }
}

impl Screenshot {
    pub fn decode(bytes: &[u8]) -> Result<Screenshot, BrowserError> {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder.read_info()?;
        let size = reader
            .output_buffer_size()
            .ok_or_else(|| BrowserError::PngLayout("image too large".into()))?;
        let mut buffer = vec![0; size];
        let info = reader.next_frame(&mut buffer)?;
        let channels = match info.color_type {
            png::ColorType::Rgba => 4,
            png::ColorType::Rgb => 3,
            other => return Err(BrowserError::PngLayout(format!("{other:?}"))),
        };
        let mut rgba = Vec::with_capacity(info.width as usize * info.height as usize * 4);
        for row in buffer.chunks(info.line_size).take(info.height as usize) {
            for pixel in row[..info.width as usize * channels].chunks(channels) {
                rgba.extend_from_slice(&[pixel[0], pixel[1], pixel[2], if channels == 4 { pixel[3] } else { 255 }]);
            }
        }
        Ok(Screenshot {
            width: info.width,
            height: info.height,
            rgba,
        })
    }

    pub fn pixel(&self, x: u32, y: u32) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let at = (y as usize * self.width as usize + x as usize) * 4;
        Some([self.rgba[at], self.rgba[at + 1], self.rgba[at + 2]])
    }

    /// Whether the pixel at (x, y) is `rgb` within `tolerance` per channel.
    pub fn is(&self, x: u32, y: u32, rgb: [u8; 3], tolerance: u8) -> bool {
        self.pixel(x, y)
            .is_some_and(|p| p.iter().zip(rgb).all(|(a, b)| a.abs_diff(b) <= tolerance))
    }

    /// Pixels of colour `rgb` (± `tolerance`) inside `rect` (clipped to the image).
    pub fn count(&self, rect: PixelRect, rgb: [u8; 3], tolerance: u8) -> usize {
        let mut count = 0;
        for y in rect.y0..rect.y1.min(self.height) {
            for x in rect.x0..rect.x1.min(self.width) {
                count += usize::from(self.is(x, y, rgb, tolerance));
            }
        }
        count
    }

    /// The whole image as a rectangle.
    pub fn bounds(&self) -> PixelRect {
        PixelRect {
            x0: 0,
            y0: 0,
            x1: self.width,
            y1: self.height,
        }
    }

    /// Separate blobs (4-connected) of colour `rgb` inside `rect`: how many distinct drawn things
    /// (dots that overlap count as one).
    pub fn blobs(&self, rect: PixelRect, rgb: [u8; 3], tolerance: u8) -> usize {
        let (x1, y1) = (rect.x1.min(self.width), rect.y1.min(self.height));
        let mut seen = vec![false; self.width as usize * self.height as usize];
        let index = |x: u32, y: u32| y as usize * self.width as usize + x as usize;
        let mut blobs = 0;
        let mut stack = Vec::new();
        for y in rect.y0..y1 {
            for x in rect.x0..x1 {
                if seen[index(x, y)] || !self.is(x, y, rgb, tolerance) {
                    continue;
                }
                blobs += 1;
                seen[index(x, y)] = true;
                stack.push((x, y));
                while let Some((x, y)) = stack.pop() {
                    let neighbours = [(x.wrapping_sub(1), y), (x + 1, y), (x, y.wrapping_sub(1)), (x, y + 1)];
                    for (nx, ny) in neighbours {
                        if nx >= rect.x0
                            && nx < x1
                            && ny >= rect.y0
                            && ny < y1
                            && !seen[index(nx, ny)]
                            && self.is(nx, ny, rgb, tolerance)
                        {
                            seen[index(nx, ny)] = true;
                            stack.push((nx, ny));
                        }
                    }
                }
            }
        }
        blobs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_of(width: u32, height: u32, pixel: impl Fn(u32, u32) -> [u8; 3]) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut encoder = png::Encoder::new(&mut bytes, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        let data: Vec<u8> = (0..height)
            .flat_map(|y| (0..width).map(move |x| (x, y)))
            .flat_map(|(x, y)| pixel(x, y))
            .collect();
        writer.write_image_data(&data).unwrap();
        drop(writer);
        bytes
    }

    #[test]
    fn counts_pixels_and_blobs_of_a_colour_in_a_rectangle() {
        const GREEN: [u8; 3] = [0, 255, 102];
        // Two 2×2 green squares and one green pixel on black.
        let png = png_of(10, 6, |x, y| {
            let green = (x < 2 && y < 2) || ((5..7).contains(&x) && (3..5).contains(&y)) || (x == 9 && y == 0);
            if green { GREEN } else { [0, 0, 0] }
        });
        let shot = Screenshot::decode(&png).unwrap();
        assert_eq!((shot.width, shot.height), (10, 6));
        assert_eq!(shot.count(shot.bounds(), GREEN, 0), 9);
        assert_eq!(shot.blobs(shot.bounds(), GREEN, 0), 3);
        let left = PixelRect {
            x0: 0,
            y0: 0,
            x1: 5,
            y1: 6,
        };
        assert_eq!(shot.count(left, GREEN, 0), 4);
        assert_eq!(shot.blobs(left, GREEN, 0), 1);
        assert!(shot.is(9, 0, [3, 250, 100], 5));
        assert!(!shot.is(9, 0, [3, 250, 100], 2));
        assert_eq!(shot.pixel(10, 0), None);
    }
}
