//! jq path expressions of `ignoreDifferences`, run as Argo CD runs them: `del(EXPR)` on the
//! whole object, within a time limit.
//!
//! jaq's `del` fails on paths through `null` (`del(.metadata.annotations.x)` on an object without
//! annotations), where jq and gojq (which Argo CD uses) leave the object alone. So jaq only
//! evaluates `[path(EXPR)]`, and the paths are deleted here with jq's `delpaths` semantics.
//!
//! jaq cannot be interrupted, so the filters run on a worker thread (one per calling thread,
//! caching compiled filters); a run that exceeds the limit is abandoned together with its worker,
//! and the next run starts a fresh one.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{data, unwrap_valr, Compiler, Ctx, Vars};
use jaq_json::Val;
use serde_json::Value;

type Filter = jaq_core::Filter<data::JustLut<Val>>;

/// Why a jq deletion could not be applied. Deliberately carries no message from jaq: those can
/// quote values of the object, which may be secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum JqFailure {
    /// The expression does not parse or compile.
    #[error("does not compile")]
    Compile,
    /// The run did not finish within the limit.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The run produced an error.
    #[error("returned an error")]
    Runtime,
    /// The run produced no value.
    #[error("did not return any data")]
    NoOutput,
    /// The run produced more than one value.
    #[error("returned multiple objects")]
    MultipleOutputs,
    /// The result is not JSON, or the worker thread could not be started.
    #[error("could not be evaluated")]
    Internal,
}

/// Checks that `[path(expr)]` compiles; the message names the failing stage only.
pub(crate) fn check(expr: &str) -> Result<(), String> {
    compile(expr).map(|_| ())
}

fn compile(expr: &str) -> Result<Filter, String> {
    let code = format!("[path({expr})]");
    let program = File {
        code: code.as_str(),
        path: (),
    };
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs());
    let loader = Loader::new(defs);
    let arena = Arena::default();
    let modules = loader
        .load(&arena, program)
        .map_err(|errs| format!("does not parse ({} error(s))", errs.len()))?;
    Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errs| {
            let undefined: Vec<String> = errs
                .iter()
                .flat_map(|(_, es)| es.iter().map(|(name, _)| name.to_string()))
                .collect();
            format!("does not compile (undefined: {})", undefined.join(", "))
        })
}

struct Job {
    expr: String,
    input: String,
    reply: mpsc::Sender<Result<String, JqFailure>>,
}

struct Worker {
    jobs: mpsc::Sender<Job>,
}

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Worker")
    }
}

thread_local! {
    static WORKER: RefCell<Option<Worker>> = const { RefCell::new(None) };
}

fn spawn_worker() -> Option<Worker> {
    let (tx, rx) = mpsc::channel::<Job>();
    thread::Builder::new()
        .name("fjord-diff-jq".to_string())
        .stack_size(32 * 1024 * 1024)
        .spawn(move || {
            let mut cache: HashMap<String, Option<Filter>> = HashMap::new();
            while let Ok(job) = rx.recv() {
                let filter = cache
                    .entry(job.expr.clone())
                    .or_insert_with(|| compile(&job.expr).ok());
                let result = match filter {
                    Some(f) => run(f, &job.input),
                    None => Err(JqFailure::Compile),
                };
                // The caller may have given up (timeout); nothing to do then.
                let _ = job.reply.send(result);
            }
        })
        .ok()
        .map(|_| Worker { jobs: tx })
}

fn run(filter: &Filter, input: &str) -> Result<String, JqFailure> {
    let input = jaq_json::read::parse_single(input.as_bytes()).map_err(|_| JqFailure::Internal)?;
    let ctx = Ctx::<data::JustLut<Val>>::new(&filter.lut, Vars::new([]));
    let mut out = filter.id.run((ctx, input)).map(unwrap_valr);
    let first = match out.next() {
        None => return Err(JqFailure::NoOutput),
        Some(Err(_)) => return Err(JqFailure::Runtime),
        Some(Ok(v)) => v,
    };
    if out.next().is_some() {
        return Err(JqFailure::MultipleOutputs);
    }
    Ok(first.to_string())
}

/// Runs `del(expr)` on `input` within `timeout` and returns the result.
pub(crate) fn delete(expr: &str, input: &Value, timeout: Duration) -> Result<Value, JqFailure> {
    let paths = match paths(expr, input, timeout)? {
        Value::Array(paths) => paths,
        _ => return Err(JqFailure::Internal),
    };
    let mut out = input.clone();
    crate::pointer::delete_paths(&mut out, paths).map_err(|_| JqFailure::Runtime)?;
    Ok(out)
}

/// Runs `[path(expr)]` on `input` within `timeout`.
fn paths(expr: &str, input: &Value, timeout: Duration) -> Result<Value, JqFailure> {
    let text = serde_json::to_string(input).map_err(|_| JqFailure::Internal)?;
    let (reply_tx, reply_rx) = mpsc::channel();
    let job = Job {
        expr: expr.to_string(),
        input: text,
        reply: reply_tx,
    };
    let sent = WORKER.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = spawn_worker();
        }
        match slot.as_ref() {
            Some(w) => match w.jobs.send(job) {
                Ok(()) => true,
                Err(mpsc::SendError(job)) => {
                    // The worker died: start another one and retry once.
                    *slot = spawn_worker();
                    slot.as_ref().is_some_and(|w| w.jobs.send(job).is_ok())
                }
            },
            None => false,
        }
    });
    if !sent {
        return Err(JqFailure::Internal);
    }
    let answer = match reply_rx.recv_timeout(timeout) {
        Ok(answer) => answer,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            // Abandon the busy worker; it exits when it next looks for work.
            WORKER.with(|cell| cell.borrow_mut().take());
            return Err(JqFailure::Timeout(timeout));
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            WORKER.with(|cell| cell.borrow_mut().take());
            return Err(JqFailure::Internal);
        }
    }?;
    serde_json::from_str(&answer).map_err(|_| JqFailure::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const T: Duration = Duration::from_secs(5);

    #[test]
    fn deletes_paths() {
        let v = json!({"spec": {"a": 1, "b": [1, 2, 3]}, "x": {"y": "z"}});
        assert_eq!(
            delete(".spec.a", &v, T).unwrap(),
            json!({"spec": {"b": [1, 2, 3]}, "x": {"y": "z"}})
        );
        assert_eq!(
            delete(".spec.b[] | select(. > 1)", &v, T).unwrap(),
            json!({"spec": {"a": 1, "b": [1]}, "x": {"y": "z"}})
        );
        // A path that does not exist leaves the object alone.
        assert_eq!(delete(".nope.deeper", &v, T).unwrap(), v);
    }

    #[test]
    fn failures_are_categorised() {
        let v = json!({"a": "secret-text"});
        assert_eq!(delete(".a.b", &v, T), Err(JqFailure::Runtime));
        assert_eq!(delete(".a[", &v, T), Err(JqFailure::Compile));
        assert!(check(".a[").is_err());
        assert!(check("nosuchfunction")
            .unwrap_err()
            .contains("nosuchfunction"));
        assert!(
            check(".spec.template.spec.containers[] | select(.name == \"x\") | .image").is_ok()
        );
    }

    #[test]
    fn runaway_expression_times_out_and_worker_recovers() {
        let v = json!({"a": 1});
        let limit = Duration::from_millis(10);
        let started = std::time::Instant::now();
        let r = delete("last(range(3000000)) as $x | .a", &v, limit);
        assert_eq!(r, Err(JqFailure::Timeout(limit)));
        assert!(started.elapsed() < Duration::from_secs(3));
        // A fresh worker serves the next request.
        assert_eq!(delete(".a", &v, T).unwrap(), json!({}));
    }
}
