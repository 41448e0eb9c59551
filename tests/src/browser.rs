//! A real headless Chromium driven through ChromeDriver (WebDriver), and
//! `moocpipe serve` run as a user runs it, for the dashboard's tests.

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cli::moocpipe_bin;

/// Debian's Chromium and its driver (`scripts/install-deps.sh`).
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not open port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Where screenshots go: `target/test-artifacts/<group>/`.
pub fn artifacts(group: &str) -> PathBuf {
    let dir = crate::media::profile_dir()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir)
        .join("test-artifacts")
        .join(group);
    std::fs::create_dir_all(&dir).expect("artifact folder");
    dir
}

/// `moocpipe serve --data DIR` on a free port; stopped when dropped.
pub struct Dashboard {
    child: Child,
    pub url: String,
    pub log: PathBuf,
}

impl Dashboard {
    /// Starts `moocpipe serve` with `args` (e.g. `--data DIR`) and `envs`,
    /// and waits for `/healthz`.
    pub fn start(args: &[&str], envs: &[(&str, &str)], log_dir: &Path) -> Dashboard {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let log = log_dir.join(format!("serve-{port}.log"));
        let file = std::fs::File::create(&log).expect("serve log");
        let mut command = Command::new(moocpipe_bin());
        command
            .arg("serve")
            .args(args)
            .args(["--listen", &listen])
            .env("MOOCPIPE_LOG", "info")
            .stdout(Stdio::null())
            .stderr(file);
        for (k, v) in envs {
            command.env(k, v);
        }
        let child = command.spawn().expect("start moocpipe serve");
        let dashboard = Dashboard {
            child,
            url: format!("http://{listen}"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ok = Command::new("curl")
                .args([
                    "-fsS",
                    "-o",
                    "/dev/null",
                    &format!("{}/healthz", dashboard.url),
                ])
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "moocpipe serve did not answer: {}",
                std::fs::read_to_string(&dashboard.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        dashboard
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `moocpipe users add NAME --role ROLE` with the password on stdin.
pub fn add_user(catalog_args: &[&str], name: &str, role: &str, password: &str) {
    add_user_with(catalog_args, name, role, password, |_| {});
}

/// [`add_user`] with the command's environment changed by `adjust` (a
/// distributed pipeline's variables).
pub fn add_user_with(
    catalog_args: &[&str],
    name: &str,
    role: &str,
    password: &str,
    adjust: impl FnOnce(&mut Command),
) {
    let mut command = Command::new(moocpipe_bin());
    command
        .args(["users", "add", name, "--role", role])
        .args(catalog_args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    adjust(&mut command);
    let mut child = command.spawn().expect("moocpipe users add");
    if let Some(mut stdin) = child.stdin.take() {
        writeln!(stdin, "{password}").expect("password");
    }
    let out = child.wait_with_output().expect("users add");
    assert!(
        out.status.success(),
        "users add {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A headless Chromium behind its own ChromeDriver; both stopped when
/// dropped (after [`Browser::close`]).
pub struct Browser {
    driver: Child,
    pub client: Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Browser {
        for tool in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(tool).exists(),
                "{tool} is missing: scripts/install-deps.sh installs chromium and chromium-driver"
            );
        }
        let port = free_port();
        let mut driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        if let Some(out) = driver.stdout.take() {
            // Drain its banner so it never blocks on a full pipe.
            std::thread::spawn(move || for _ in BufReader::new(out).lines() {});
        }
        wait_for_port(port, "chromedriver");
        let profile = tempfile::tempdir().expect("profile dir");
        let args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--mute-audio".to_owned(),
            "--autoplay-policy=no-user-gesture-required".to_owned(),
            "--window-size=1280,1000".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), serde_json::json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({"binary": CHROMIUM, "args": args}),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session in Chromium");
        Browser {
            driver,
            client,
            _profile: profile,
        }
    }

    /// Opens `url` and waits until the document has loaded.
    pub async fn open(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
        self.wait_for("document.readyState === 'complete'").await;
    }

    /// Waits up to 20 s for a JavaScript expression to be true.
    pub async fn wait_for(&self, expression: &str) {
        self.wait_for_within(expression, Duration::from_secs(20))
            .await;
    }

    /// Waits up to `within` for a JavaScript expression to be true.
    pub async fn wait_for_within(&self, expression: &str, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let value = self
                .client
                .execute(&format!("return !!({expression});"), vec![])
                .await
                .expect("script");
            if value == serde_json::Value::Bool(true) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {expression}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Evaluates an expression and returns its JSON value.
    pub async fn eval(&self, expression: &str) -> serde_json::Value {
        self.client
            .execute(&format!("return ({expression});"), vec![])
            .await
            .expect("script")
    }

    pub async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .text()
            .await
            .expect("text")
    }

    /// Types `text` into the field `css` (after clearing it); a file
    /// input takes a local file's path.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        if !css.contains("type=file") {
            field
                .clear()
                .await
                .unwrap_or_else(|e| panic!("clear {css}: {e}"));
        }
        field
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Picks the option of value `value` in the `<select>` `css`.
    pub async fn select(&self, css: &str, value: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("select {value} in {css}: {e}"));
    }

    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Logs in through the login form.
    pub async fn log_in(&self, base: &str, name: &str, password: &str) {
        self.open(&format!("{base}/login")).await;
        self.client
            .find(Locator::Css("input[name=name]"))
            .await
            .expect("name field")
            .send_keys(name)
            .await
            .expect("type name");
        self.client
            .find(Locator::Css("input[name=password]"))
            .await
            .expect("password field")
            .send_keys(password)
            .await
            .expect("type password");
        self.client
            .find(Locator::Css("form[action='/login'] button"))
            .await
            .expect("button")
            .click()
            .await
            .expect("submit");
        self.wait_for("location.pathname !== '/login'").await;
    }

    /// Saves a PNG screenshot of the window.
    pub async fn screenshot(&self, path: &Path) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(path, png).expect("write screenshot");
    }

    pub async fn close(self) {
        let Browser {
            mut driver, client, ..
        } = self;
        let _ = client.close().await;
        let _ = driver.kill();
        let _ = driver.wait();
    }
}
