//! The Sealed Secrets side of the end-to-end tests: where the unsealing controller listens and
//! where its sealing keys are.

use std::process::Output;
use std::time::Duration;

use super::{poll, text, Controller};

/// The unsealing controller's address (`host:port`), from the line `fjord controller` prints.
pub fn sealed_addr(c: &Controller) -> String {
    poll(
        "the sealed secrets controller to serve",
        Duration::from_secs(60),
        || c.log_text(),
        || {
            let log = c.log_text();
            let line = log
                .lines()
                .find(|l| l.starts_with("sealed secrets controller running"))?;
            let rest = &line[line.find("http://")? + 7..];
            Some(rest[..rest.find('/')?].to_string())
        },
    )
}

/// `kubectl` arguments listing the Sealed Secrets sealing keys in kube-system as `output`.
pub fn sealing_keys_args(output: &str) -> [&str; 8] {
    [
        "get",
        "secrets",
        "-n",
        "kube-system",
        "-l",
        "sealedsecrets.bitnami.com/sealed-secrets-key",
        "-o",
        output,
    ]
}

/// Runs `seal` (a `fjord seal` going through the service proxy) until it succeeds, at most
/// `timeout`; returns its stdout. On timeout the message holds the last run's output and
/// `context()` (the endpoints, the process log).
pub fn seal_until_ok(
    what: &str,
    timeout: Duration,
    context: impl Fn() -> String,
    seal: impl Fn() -> Output,
) -> String {
    let last = std::cell::RefCell::new(String::new());
    poll(
        what,
        timeout,
        || format!("last fjord seal: {}\n{}", last.borrow(), context()),
        || {
            let o = seal();
            *last.borrow_mut() = text(&o);
            o.status
                .success()
                .then(|| String::from_utf8(o.stdout).unwrap())
        },
    )
}
