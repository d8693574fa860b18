//! A real headless Chromium for the dashboard tests, driven through `WebDriver`: each [`Browser`]
//! starts its own `chromedriver` on a free port, with a fresh Chromium profile in a temporary
//! directory, so tests can run in parallel threads. Dropping it (also while a failing test
//! unwinds) kills the driver's whole process group, Chromium included.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`scripts/test` installs them).

use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// How long a page gets to show an element or a condition.
pub const WAIT: Duration = Duration::from_secs(15);

/// The Chromium flags every test browser starts with.
pub const CHROMIUM_FLAGS: [&str; 6] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// A headless Chromium with its own driver and profile.
pub struct Browser {
    /// The `WebDriver` session.
    pub client: Client,
    driver: Child,
    base: String,
    test: String,
    _profile: tempfile::TempDir,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("base", &self.base)
            .field("test", &self.test)
            .finish_non_exhaustive()
    }
}

/// The first of `names` found on `PATH`.
fn on_path(names: &[&str]) -> Option<PathBuf> {
    #[expect(
        clippy::disallowed_methods,
        reason = "a test helper looks up programs on PATH, not configuration"
    )]
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|candidate| candidate.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_or_else(
            |e| panic!("no free port for chromedriver: {e}"),
            |a| a.port(),
        )
}

/// Kills a process group (the driver and every Chromium process it started).
fn kill_group(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

async fn driver_ready(port: u16, driver: &mut Child) -> bool {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = driver.try_wait() {
            return false;
        }
        if let Ok(res) = client
            .get(format!("http://127.0.0.1:{port}/status"))
            .send()
            .await
            && let Ok(body) = res.json::<Value>().await
            && body["value"]["ready"] == json!(true)
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

impl Browser {
    /// Starts chromedriver and a headless Chromium (window 1280×900) for the app at `base`
    /// (`http://host:port`); `test` names the screenshots.
    ///
    /// # Panics
    /// When chromium or chromedriver is missing or does not start.
    pub async fn start(base: &str, test: &str) -> Self {
        Self::start_sized(base, test, (1280, 900)).await
    }

    /// As [`Browser::start`], with a window of `size` (width, height) — e.g. a phone's.
    ///
    /// # Panics
    /// When chromium or chromedriver is missing or does not start.
    pub async fn start_sized(base: &str, test: &str, size: (u32, u32)) -> Self {
        let driver_path = on_path(&["chromedriver"])
            .unwrap_or_else(|| panic!("chromedriver is not installed (apt-get install chromium-driver; scripts/test does it)"));
        let chromium =
            on_path(&["chromium", "chromium-browser", "google-chrome"]).unwrap_or_else(|| {
                panic!("chromium is not installed (apt-get install chromium; scripts/test does it)")
            });
        let profile = tempfile::tempdir().expect("a temporary Chromium profile");
        for _attempt in 0..3 {
            let port = free_port();
            let mut driver = Command::new(&driver_path)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                // Its own process group, so Drop can end it with every browser process it starts.
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("starting chromedriver: {e}"));
            if !driver_ready(port, &mut driver).await {
                kill_group(driver.id());
                let _ = driver.wait();
                continue;
            }
            let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| (*f).to_owned()).collect();
            args.push(format!("--user-data-dir={}", profile.path().display()));
            args.push(format!("--window-size={},{}", size.0, size.1));
            args.push("--disable-dev-shm-usage".to_owned());
            args.push("--lang=en-GB".to_owned());
            let mut caps = serde_json::Map::new();
            caps.insert("browserName".into(), json!("chrome"));
            caps.insert(
                "goog:chromeOptions".into(),
                json!({ "binary": chromium.display().to_string(), "args": args,
                        "prefs": {"intl.accept_languages": "en-GB"} }),
            );
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps)
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => {
                    return Self {
                        client,
                        driver,
                        base: base.trim_end_matches('/').to_owned(),
                        test: test.to_owned(),
                        _profile: profile,
                    };
                }
                Err(e) => {
                    kill_group(driver.id());
                    let _ = driver.wait();
                    panic!("starting a Chromium session: {e}");
                }
            }
        }
        panic!("chromedriver did not come up on a free port in three attempts");
    }

    /// Opens `path` (e.g. `/` or `/#/review`) on the app.
    ///
    /// # Panics
    /// When navigation fails.
    pub async fn open(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("opening {path}: {e}"));
    }

    /// Sets the URL hash (a route of the dashboard) without reloading the page.
    ///
    /// # Panics
    /// When the script fails.
    pub async fn route(&self, hash: &str) {
        self.client
            .execute("window.location.hash = arguments[0];", vec![json!(hash)])
            .await
            .unwrap_or_else(|e| panic!("routing to {hash}: {e}"));
    }

    /// The element matching the CSS `selector`, waiting for it to appear.
    ///
    /// # Panics
    /// When it does not appear within [`WAIT`].
    pub async fn find(&self, selector: &str) -> Element {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("no element {selector} within {WAIT:?}: {e}"))
    }

    /// The element with `data-test="name"`, waiting for it.
    ///
    /// # Panics
    /// When it does not appear within [`WAIT`].
    pub async fn test_id(&self, name: &str) -> Element {
        self.find(&format!("[data-test=\"{name}\"]")).await
    }

    /// Whether an element matches `selector` right now.
    ///
    /// # Panics
    /// When the `WebDriver` call fails.
    pub async fn exists(&self, selector: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("looking for {selector}: {e}"))
            .is_empty()
    }

    /// Clicks the element matching `selector` (waiting for it).
    ///
    /// # Panics
    /// When it does not appear or cannot be clicked.
    pub async fn click(&self, selector: &str) {
        self.find(selector)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {selector}: {e}"));
    }

    /// Types `text` into the element matching `selector` (waiting for it), after clearing it.
    ///
    /// # Panics
    /// When it does not appear or does not take the text.
    pub async fn fill(&self, selector: &str, text: &str) {
        let field = self.find(selector).await;
        field
            .clear()
            .await
            .unwrap_or_else(|e| panic!("clearing {selector}: {e}"));
        field
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("typing into {selector}: {e}"));
    }

    /// Sends keys to the focused element (or the page), e.g. a keyboard shortcut.
    ///
    /// # Panics
    /// When the keys cannot be sent.
    pub async fn press(&self, keys: &str) {
        let body = self.find("body").await;
        let active = self.client.active_element().await.unwrap_or(body);
        active
            .send_keys(keys)
            .await
            .unwrap_or_else(|e| panic!("pressing {keys:?}: {e}"));
    }

    /// Runs `script` in the page and returns its result (`arguments` are `args`).
    ///
    /// # Panics
    /// When the script throws.
    pub async fn eval(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Runs an async `script` (its last argument is the callback to call with the result).
    ///
    /// # Panics
    /// When the script throws or times out.
    pub async fn eval_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute_async(script, args)
            .await
            .unwrap_or_else(|e| panic!("async script failed: {e}\n{script}"))
    }

    /// Waits until the text of `selector` contains `needle`; returns the text.
    ///
    /// # Panics
    /// When it does not within [`WAIT`].
    pub async fn wait_for_text(&self, selector: &str, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(el) = self.client.find(Locator::Css(selector)).await
                && let Ok(text) = el.text().await
            {
                if text.contains(needle) {
                    return text;
                }
                last = text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{selector} never showed {needle:?}; last text: {last:?}");
    }

    /// Waits until `script` (an expression) is truthy in the page.
    ///
    /// # Panics
    /// When it is not within [`WAIT`].
    pub async fn wait_until(&self, what: &str, expression: &str) {
        let deadline = Instant::now() + WAIT;
        let script = format!("return Boolean({expression});");
        while Instant::now() < deadline {
            if let Ok(v) = self.client.execute(&script, vec![]).await
                && v == json!(true)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("waited {WAIT:?} for {what} ({expression})");
    }

    /// Waits for the dashboard to finish rendering the page `id` (`main[data-page=id]` ready).
    ///
    /// # Panics
    /// When it does not within [`WAIT`].
    pub async fn wait_for_page(&self, id: &str) {
        self.wait_until(
            &format!("the {id} page"),
            &format!(
                "document.querySelector('main[data-page=\"{id}\"][data-ready=\"1\"] .page[data-page=\"{id}\"]')"
            ),
        )
        .await;
    }

    /// Saves a PNG of the window to `target/e2e-screenshots/<test>-<name>.png` (at the
    /// workspace root); returns its path.
    ///
    /// # Panics
    /// When the screenshot cannot be taken or written.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self
            .client
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("screenshot {name}: {e}"));
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        let path = dir.join(format!("{}-{name}.png", self.test));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    }

    /// Ends the `WebDriver` session (Chromium quits) and the driver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        kill_group(self.driver.id());
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Also on a panic: nothing of this browser outlives the test.
        if let Ok(None) = self.driver.try_wait() {
            kill_group(self.driver.id());
            let _ = self.driver.wait();
        }
    }
}

/// `target/e2e-screenshots` at the workspace root.
#[must_use]
pub fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("target"), |root| root.join("target"))
        .join("e2e-screenshots")
}
