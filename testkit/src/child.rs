//! A long-running child process (a `missive serve`) that is killed when its
//! guard is dropped, so neither a failing test nor an interrupted benchmark
//! leaves a server behind. Its stdout and stderr go to files, printed if the
//! guard is dropped while a test panics.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

pub struct ChildGuard {
    child: Child,
    pub base: String,
    pub stdout_path: PathBuf,
    pub stderr_path: PathBuf,
    label: String,
    exited: Option<ExitStatus>,
}

impl ChildGuard {
    /// Starts `cmd`, which will listen on 127.0.0.1:`port`; its output goes
    /// to `<label>.stdout` and `<label>.stderr` in `dir`.
    pub fn spawn(
        mut cmd: Command,
        dir: &Path,
        port: u16,
        label: &str,
    ) -> std::io::Result<ChildGuard> {
        let stdout_path = dir.join(format!("{label}.stdout"));
        let stderr_path = dir.join(format!("{label}.stderr"));
        let child = cmd
            .stdout(std::fs::File::create(&stdout_path)?)
            .stderr(std::fs::File::create(&stderr_path)?)
            .spawn()?;
        Ok(ChildGuard {
            child,
            base: format!("http://127.0.0.1:{port}"),
            stdout_path,
            stderr_path,
            label: label.to_string(),
            exited: None,
        })
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// The exit status if the child has exited.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().unwrap();
        }
        self.exited
    }

    /// Polls /readyz until 200; the error (with the child's stderr) says
    /// whether the child exited or the deadline passed.
    pub async fn try_wait_ready(&mut self, deadline: Duration) -> Result<(), String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let url = self.url("/readyz");
        let end = Instant::now() + deadline;
        loop {
            if let Some(st) = self.try_exit() {
                return Err(format!(
                    "missive ({}) exited with {st} before it was ready:\n{}",
                    self.label,
                    self.stderr()
                ));
            }
            if let Ok(r) = client.get(&url).send().await {
                if r.status() == 200 {
                    return Ok(());
                }
            }
            if Instant::now() > end {
                return Err(format!(
                    "missive ({}) was not ready within {deadline:?}:\n{}",
                    self.label,
                    self.stderr()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// [`ChildGuard::try_wait_ready`], panicking on error.
    pub async fn wait_ready(&mut self, deadline: Duration) {
        if let Err(e) = self.try_wait_ready(deadline).await {
            panic!("{e}");
        }
    }

    /// SIGKILL, and reap it.
    pub fn kill(&mut self) {
        if self.try_exit().is_none() {
            let _ = self.child.kill();
            self.exited = Some(self.child.wait().unwrap());
        }
    }

    /// Sends SIGTERM (a graceful stop).
    pub fn sigterm(&self) {
        // SAFETY: kill(2) with a pid and a signal number; no memory is shared.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        assert_eq!(rc, 0, "kill -TERM {} failed", self.child.id());
    }

    /// Waits until the child exits; None if it is still running at the
    /// deadline.
    pub async fn wait_exit(&mut self, deadline: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + deadline;
        loop {
            if let Some(st) = self.try_exit() {
                return Some(st);
            }
            if Instant::now() > end {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGTERM, then asserts a clean exit (status 0) within `deadline`.
    pub async fn stop_gracefully(&mut self, deadline: Duration) {
        self.sigterm();
        match self.wait_exit(deadline).await {
            Some(st) => assert!(
                st.success(),
                "missive ({}) exited with {st} after SIGTERM:\n{}",
                self.label,
                self.stderr()
            ),
            None => panic!(
                "missive ({}) did not exit within {deadline:?} of SIGTERM:\n{}",
                self.label,
                self.stderr()
            ),
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "=== missive ({}) stdout ===\n{}\n=== missive ({}) stderr ===\n{}",
                self.label,
                self.stdout(),
                self.label,
                self.stderr()
            );
        }
    }
}
