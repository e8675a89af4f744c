//! A real browser for page tests: headless Chromium driven over WebDriver
//! (chromedriver, from Debian's `chromium` and `chromium-driver`, which `scripts/test`
//! installs when missing). Phone-sized window; screenshots go to docs/screenshots/.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};

pub struct Browser {
    pub client: Client,
    pub base: String,
    driver: Child,
    /// Whether `screenshot` saves its picture (one backend's run does, so the two never
    /// write the same file at once).
    pub screenshots: bool,
    /// Chromium's profile, removed with the browser: chromedriver's own temporary profile
    /// stays behind in /tmp when the driver is killed instead of asked to quit.
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Browser {
    pub async fn start(base: &str) -> Browser {
        let port = free_port();
        let driver_bin =
            std::env::var("LOYAL_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        // Chromium's profile, and its scratch directories (TMPDIR, which chromedriver
        // passes on), in a directory removed with the browser.
        let profile = tempfile::tempdir().unwrap();
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .env("TMPDIR", profile.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{driver_bin} could not start ({e}); run ./scripts/test, which installs chromium and chromium-driver"));
        let mut opts = serde_json::json!({"args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--disable-background-networking", "--disable-extensions", "--window-size=412,915",
            format!("--user-data-dir={}", profile.path().display())
        ]});
        if std::path::Path::new("/usr/bin/chromium").exists() {
            opts["binary"] = "/usr/bin/chromium".into();
        }
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), opts);
        let url = format!("http://127.0.0.1:{port}");
        let mut last = None;
        for _ in 0..100 {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Browser {
                        client,
                        base: base.to_string(),
                        driver,
                        screenshots: true,
                        _profile: profile,
                    };
                }
                Err(e) => {
                    last = Some(e);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        panic!("chromedriver did not answer: {last:?}");
    }

    pub async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let e = self
            .client
            .wait()
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"));
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    /// Click; when the click follows a link or submits a form, wait until the new page
    /// has replaced the old one (so the next step never reads the page it left).
    pub async fn click(&self, css: &str) {
        let e = self
            .client
            .wait()
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"));
        let tag = e.tag_name().await.unwrap_or_default().to_lowercase();
        let kind = e.attr("type").await.ok().flatten().unwrap_or_default();
        let navigates = tag == "a" || (tag == "button" && kind != "button");
        let old = if navigates {
            self.client.find(Locator::Css("html")).await.ok()
        } else {
            None
        };
        e.click().await.unwrap();
        if let Some(old) = old {
            for _ in 0..200 {
                if old.tag_name().await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
    }

    /// The visible text of the first element matching `css` (waits for it).
    pub async fn text(&self, css: &str) -> String {
        let e = self
            .client
            .wait()
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page: {e}"));
        e.text().await.unwrap()
    }

    pub async fn value(&self, css: &str) -> String {
        let e = self.client.find(Locator::Css(css)).await.unwrap();
        e.prop("value").await.unwrap().unwrap_or_default()
    }

    /// Whether an element matching `css` is on the page now (no waiting).
    pub async fn exists(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    pub async fn page_text(&self) -> String {
        self.client
            .find(Locator::Css("body"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// A browser for the test's server; the SQLite run saves the screenshots.
    pub async fn for_app(app: &crate::helpers::TestApp) -> Browser {
        let mut b = Browser::start(&app.base).await;
        b.screenshots = matches!(app.backend, crate::helpers::Backend::Sqlite);
        b
    }

    /// Save a PNG of the window to docs/screenshots/<name>.png.
    pub async fn screenshot(&self, name: &str) {
        if !self.screenshots {
            return;
        }
        let png = self.client.screenshot().await.unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// Sign in on the login page.
    pub async fn sign_in(&self, shop: &str, email: &str, password: &str, lang: &str) {
        self.goto(&format!("/login?lang={lang}")).await;
        self.fill("#tenant", shop).await;
        self.fill("#email", email).await;
        self.fill("#password", password).await;
        self.click("button[type=submit]").await;
        // The admin home has the sign-out form.
        self.client
            .wait()
            .for_element(Locator::Css("form[action='/logout']"))
            .await
            .unwrap_or_else(|e| panic!("sign-in as {email} failed: {e}"));
    }

    /// End the browser session (the driver stops when the Browser is dropped).
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}
