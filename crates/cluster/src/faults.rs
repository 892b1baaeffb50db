//! Fault injection: a rate of injected errors (500 / 429 / 504), added latency per verb, and
//! watch streams dropped after a while. Faults apply to resource requests only, never to
//! discovery, `/version` or health checks, so clients can still find the API.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::errors::ApiError;

/// Fault-injection settings (all off by default).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultOptions {
    /// Fraction (0.0–1.0) of resource requests answered with an injected error.
    pub error_rate: f64,
    /// Codes to choose the injected error from (500, 429, 504); empty means all three.
    pub error_codes: Vec<u16>,
    /// Added latency per verb (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`,
    /// `deletecollection`); the key `*` applies to every verb.
    pub latency: HashMap<String, Duration>,
    /// Close every watch stream after this long (clients must re-watch).
    pub drop_watch_after: Option<Duration>,
    /// Seed of the injected-error choice (deterministic runs).
    pub seed: u64,
    /// Targeted faults: the first requests of one verb on one resource fail.
    pub rules: Vec<FaultRule>,
}

/// A targeted fault: the first `count` requests of `verb` on `resource` are answered with
/// `codes` in turn (`--fault-rule create:secrets:429,504:2`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultRule {
    /// The verb (`create`, `get`…; `*` for any).
    pub verb: String,
    /// The plural resource (`secrets`; `*` for any).
    pub resource: String,
    /// The codes injected in turn (500, 429, 504).
    pub codes: Vec<u16>,
    /// How many requests fail.
    pub count: u64,
}

impl FaultRule {
    /// Parses `VERB:RESOURCE:CODE[,CODE…]:COUNT`.
    pub fn parse(spec: &str) -> Result<FaultRule, String> {
        let parts: Vec<&str> = spec.split(':').collect();
        let [verb, resource, codes, count] = parts[..] else {
            return Err(format!("'{spec}': expected VERB:RESOURCE:CODES:COUNT"));
        };
        let codes = codes
            .split(',')
            .map(|c| match c.trim().parse::<u16>() {
                Ok(c @ (500 | 429 | 504)) => Ok(c),
                _ => Err(format!("'{spec}': {c} is not one of 500, 429, 504")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let count = count
            .parse()
            .map_err(|_| format!("'{spec}': {count} is not a count"))?;
        Ok(FaultRule {
            verb: verb.to_string(),
            resource: resource.to_string(),
            codes,
            count,
        })
    }
}

/// Live fault state (the random generator).
#[derive(Debug)]
pub struct Faults {
    opts: FaultOptions,
    state: AtomicU64,
    /// Requests each rule has failed so far.
    fired: Vec<AtomicU64>,
}

/// The Kubernetes verb of a resource request.
pub fn verb(method: &str, named: bool, watch: bool) -> &'static str {
    match (method, named, watch) {
        ("GET", _, true) => "watch",
        ("GET", true, _) => "get",
        ("GET", false, _) => "list",
        ("POST", _, _) => "create",
        ("PUT", _, _) => "update",
        ("PATCH", _, _) => "patch",
        ("DELETE", true, _) => "delete",
        ("DELETE", false, _) => "deletecollection",
        _ => "other",
    }
}

impl Faults {
    /// Builds the fault state.
    pub fn new(opts: FaultOptions) -> Faults {
        let seed = if opts.seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            opts.seed
        };
        let fired = opts.rules.iter().map(|_| AtomicU64::new(0)).collect();
        Faults {
            opts,
            state: AtomicU64::new(seed),
            fired,
        }
    }

    fn next(&self) -> u64 {
        let mut x = self.state.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state.store(x, Ordering::Relaxed);
        x
    }

    /// The latency to add before answering `verb`.
    pub fn latency(&self, verb: &str) -> Option<Duration> {
        self.opts
            .latency
            .get(verb)
            .or_else(|| self.opts.latency.get("*"))
            .copied()
    }

    /// An error to inject instead of answering, if the dice say so.
    pub fn injected_error(&self) -> Option<ApiError> {
        if self.opts.error_rate <= 0.0 {
            return None;
        }
        let roll = (self.next() % 1_000_000) as f64 / 1_000_000.0;
        if roll >= self.opts.error_rate {
            return None;
        }
        let codes: &[u16] = if self.opts.error_codes.is_empty() {
            &[500, 429, 504]
        } else {
            &self.opts.error_codes
        };
        let code = codes[(self.next() % codes.len() as u64) as usize];
        Some(error_for(code))
    }

    /// The error of a targeted rule matching `verb` on `resource`, while it has some left.
    pub fn rule_error(&self, verb: &str, resource: &str) -> Option<ApiError> {
        for (rule, fired) in self.opts.rules.iter().zip(&self.fired) {
            let matches = (rule.verb == "*" || rule.verb == verb)
                && (rule.resource == "*" || rule.resource == resource);
            if !matches || rule.codes.is_empty() {
                continue;
            }
            let n = fired.fetch_add(1, Ordering::SeqCst);
            if n >= rule.count {
                continue;
            }
            let code = rule.codes[(n % rule.codes.len() as u64) as usize];
            return Some(error_for(code));
        }
        None
    }

    /// How long watch streams live before being dropped.
    pub fn drop_watch_after(&self) -> Option<Duration> {
        self.opts.drop_watch_after
    }
}

/// The injected error of a status code.
fn error_for(code: u16) -> ApiError {
    match code {
        429 => ApiError::too_many_requests(),
        504 => ApiError::timeout("the server was unable to return a response in the time allotted, but may still be processing the request (injected fault)"),
        _ => ApiError::internal("an error on the server (\"injected fault\") has prevented the request from succeeding"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_rate_is_roughly_honoured() {
        let f = Faults::new(FaultOptions {
            error_rate: 0.3,
            error_codes: vec![429],
            seed: 7,
            ..Default::default()
        });
        let hits = (0..2000)
            .filter_map(|_| f.injected_error())
            .inspect(|e| assert_eq!(e.code, 429))
            .count();
        assert!((400..800).contains(&hits), "{hits}");
        let none = Faults::new(FaultOptions::default());
        assert!((0..100).all(|_| none.injected_error().is_none()));
    }

    #[test]
    fn latency_per_verb_with_wildcard() {
        let mut latency = HashMap::new();
        latency.insert("get".to_string(), Duration::from_millis(5));
        latency.insert("*".to_string(), Duration::from_millis(1));
        let f = Faults::new(FaultOptions {
            latency,
            ..Default::default()
        });
        assert_eq!(f.latency("get"), Some(Duration::from_millis(5)));
        assert_eq!(f.latency("list"), Some(Duration::from_millis(1)));
        assert_eq!(verb("GET", false, true), "watch");
    }

    #[test]
    fn a_rule_fails_the_first_matching_requests_in_turn() {
        let rule = FaultRule::parse("create:secrets:429,504:3").unwrap();
        assert_eq!(rule.codes, [429, 504]);
        assert!(FaultRule::parse("create:secrets:418:1").is_err());
        assert!(FaultRule::parse("create:secrets").is_err());
        let f = Faults::new(FaultOptions {
            rules: vec![rule],
            ..Default::default()
        });
        assert!(f.rule_error("create", "configmaps").is_none());
        assert!(f.rule_error("get", "secrets").is_none());
        let codes: Vec<u16> = (0..5)
            .filter_map(|_| f.rule_error("create", "secrets"))
            .map(|e| e.code)
            .collect();
        assert_eq!(codes, [429, 504, 429]);
    }
}
