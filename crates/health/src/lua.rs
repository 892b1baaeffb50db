//! Running Argo CD-style Lua health scripts in a sandboxed LuaJIT.
//!
//! The contract is Argo CD's (`util/lua/lua.go`): the object is the global `obj` (JSON objects
//! become tables, arrays 1-based tables, numbers Lua numbers, `null` nil); the script returns a
//! table whose `status` is one of the six health codes and whose optional `message` is a string.
//! A status outside the six gives `Unknown` "Lua returned an invalid health status"; a script
//! that errors, returns no table, or runs past the time limit is an error, which the caller turns
//! into `Unknown` with the error as message.
//!
//! The sandbox (when `useOpenLibs` is off) offers base (without `dofile`/`loadfile`, without
//! coroutines, `print` silenced), `table`, `string` (without `dump`), `math`, and an `os` with only
//! `time` and `date`, like Argo CD's safe `os`. With `useOpenLibs` the rest of LuaJIT's standard
//! libraries are opened (never `ffi` or `debug`). In both modes the JIT compiler is switched off
//! so the instruction-count hook that enforces the time limit always fires, binary chunks cannot
//! be loaded, and `pcall`/`xpcall`/`coroutine.resume` cannot swallow the time-out.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mlua::{HookTriggers, Lua, LuaOptions, StdLib, Table, Value as LuaValue, VmState};
use serde_json::Value;

use crate::status::{Health, HealthStatus};

/// Message for a script whose `status` is not a health code (Argo CD's text).
pub const INVALID_HEALTH_STATUS: &str = "Lua returned an invalid health status";

/// Chunk name that makes LuaJIT prefix errors with `<string>:LINE:`, as gopher-lua does.
const CHUNK_NAME: &str = "=<string>";

/// How many VM instructions run between two time checks.
const HOOK_INTERVAL: u32 = 1000;

/// Upper bound on the memory a script may allocate, where LuaJIT lets us enforce it.
const MEMORY_LIMIT: usize = 256 * 1024 * 1024;

/// Why a health script produced no health.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LuaError {
    /// The sandbox could not be prepared (an internal failure, not the script's).
    #[error("failed to prepare the Lua sandbox: {0}")]
    Setup(String),
    /// The object could not be handed to Lua.
    #[error("failed to pass the object to Lua: {0}")]
    Object(String),
    /// The script did not compile or raised an error; the message is Lua's.
    #[error("{0}")]
    Script(String),
    /// The script ran past the time limit (Argo CD reports its context deadline).
    #[error("<string>:{line}: context deadline exceeded")]
    Timeout {
        /// The line the script was executing when stopped.
        line: i32,
    },
    /// The script returned something other than a table (gopher-lua type name).
    #[error("expect table output from Lua script, not {found}")]
    NotATable {
        /// The Lua type returned.
        found: &'static str,
    },
    /// The returned table does not decode into `{status, message}` (Go's JSON error text).
    #[error("{0}")]
    Decode(String),
}

/// Sandbox prelude: runs before the user's script with the deadline check as its argument.
const PRELUDE: &str = r#"
local check = ...
local raw_pcall, raw_xpcall, type, byte, concat = pcall, xpcall, type, string.byte, table.concat
local function pass(ok, ...)
  if not ok then check() end
  return ok, ...
end
pcall = function(f, ...) return pass(raw_pcall(f, ...)) end
xpcall = function(f, h, ...) return pass(raw_xpcall(f, h, ...)) end
if coroutine ~= nil then
  local raw_resume = coroutine.resume
  coroutine.resume = function(co, ...) return pass(raw_resume(co, ...)) end
end
local function text_only(chunk)
  if type(chunk) == "function" then
    local parts = {}
    while true do
      local piece = chunk()
      if piece == nil or piece == "" then break end
      parts[#parts + 1] = piece
    end
    chunk = concat(parts)
  end
  if type(chunk) == "string" and byte(chunk, 1) == 27 then
    return nil
  end
  return chunk
end
local raw_load, raw_loadstring = load, loadstring
load = function(chunk, ...)
  local source = text_only(chunk)
  if source == nil then return nil, "attempt to load a binary chunk" end
  return raw_load(source, ...)
end
loadstring = function(chunk, ...)
  local source = text_only(chunk)
  if source == nil then return nil, "attempt to load a binary chunk" end
  return raw_loadstring(source, ...)
end
string.dump = nil
"#;

/// Extra restrictions of the sandbox proper (no `useOpenLibs`).
const SANDBOX: &str = r#"
local time, date = os.time, os.date
os = { time = time, date = date }
dofile, loadfile, coroutine, module, require = nil, nil, nil, nil, nil
print = function() end
"#;

fn setup_err(e: mlua::Error) -> LuaError {
    LuaError::Setup(e.to_string())
}

/// Builds the VM for one script run and installs the time-limit hook.
fn new_vm(
    use_open_libs: bool,
    deadline: Instant,
    timed_out: Rc<Cell<Option<i32>>>,
) -> Result<Lua, LuaError> {
    let libs = if use_open_libs {
        StdLib::ALL_SAFE
    } else {
        StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::OS | StdLib::JIT
    };
    let lua = Lua::new_with(libs, LuaOptions::default()).map_err(setup_err)?;
    // Not every LuaJIT build supports a memory limit; the time limit still applies.
    let _ = lua.set_memory_limit(MEMORY_LIMIT);
    // Count hooks only fire in the interpreter: keep the JIT off, and out of the script's reach.
    lua.load("jit.off() jit.flush() jit = nil if package then package.loaded.jit = nil end")
        .set_name("=sandbox")
        .exec()
        .map_err(setup_err)?;
    if !use_open_libs {
        lua.load(SANDBOX)
            .set_name("=sandbox")
            .exec()
            .map_err(setup_err)?;
    }
    let flag = timed_out.clone();
    let check = lua
        .create_function(move |_, ()| match flag.get() {
            Some(_) => Err(mlua::Error::runtime("context deadline exceeded")),
            None => Ok(()),
        })
        .map_err(setup_err)?;
    lua.load(PRELUDE)
        .set_name("=sandbox")
        .call::<()>(check)
        .map_err(setup_err)?;
    lua.set_global_hook(
        HookTriggers::new().every_nth_instruction(HOOK_INTERVAL),
        move |_, debug| {
            if timed_out.get().is_some() {
                return Err(mlua::Error::runtime("context deadline exceeded"));
            }
            if Instant::now() >= deadline {
                timed_out.set(Some(
                    debug
                        .current_line()
                        .and_then(|l| i32::try_from(l).ok())
                        .unwrap_or(0),
                ));
                return Err(mlua::Error::runtime("context deadline exceeded"));
            }
            Ok(VmState::Continue)
        },
    )
    .map_err(setup_err)?;
    Ok(lua)
}

/// Converts a JSON value into a Lua value the way Argo CD's `decodeValue` does.
fn to_lua(lua: &Lua, v: &Value) -> mlua::Result<LuaValue> {
    Ok(match v {
        Value::Null => LuaValue::Nil,
        Value::Bool(b) => LuaValue::Boolean(*b),
        Value::Number(n) => LuaValue::Number(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => LuaValue::String(lua.create_string(s)?),
        Value::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, to_lua(lua, item)?)?;
            }
            LuaValue::Table(t)
        }
        Value::Object(map) => {
            let t = lua.create_table_with_capacity(0, map.len())?;
            for (k, item) in map {
                t.raw_set(k.as_str(), to_lua(lua, item)?)?;
            }
            LuaValue::Table(t)
        }
    })
}

/// gopher-lua's name for a Lua value's type.
fn lua_type_name(v: &LuaValue) -> &'static str {
    match v {
        LuaValue::Nil => "nil",
        LuaValue::Boolean(_) => "boolean",
        LuaValue::Number(_) | LuaValue::Integer(_) => "number",
        LuaValue::String(_) => "string",
        LuaValue::Table(_) => "table",
        LuaValue::Function(_) => "function",
        LuaValue::Thread(_) => "thread",
        _ => "userdata",
    }
}

/// Go's JSON type word for a value that should have been a string.
fn go_json_kind(v: &LuaValue) -> &'static str {
    match v {
        LuaValue::Boolean(_) => "bool",
        LuaValue::Number(_) | LuaValue::Integer(_) => "number",
        LuaValue::Table(t) if t.raw_len() > 0 => "array",
        _ => "object",
    }
}

/// Reads `{status, message}` from the returned table as Argo CD's JSON round trip would.
fn decode_result(t: &Table) -> Result<Health, LuaError> {
    let as_array = || {
        LuaError::Decode(
            "json: cannot unmarshal array into Go value of type health.HealthStatus".into(),
        )
    };
    if t.raw_len() > 0 {
        return Err(as_array());
    }
    let mut pairs: Vec<(String, LuaValue)> = Vec::new();
    for pair in t.clone().pairs::<LuaValue, LuaValue>() {
        let (k, v) = pair.map_err(|e| LuaError::Decode(e.to_string()))?;
        match k {
            LuaValue::String(s) => pairs.push((s.to_string_lossy(), v)),
            _ => {
                return Err(LuaError::Decode(
                    "cannot encode mixed or invalid key types".into(),
                ))
            }
        }
    }
    if pairs.is_empty() {
        return Err(as_array());
    }
    // encoding/json matches field names exactly first, then case-insensitively.
    let field = |name: &str, go_field: &str, go_type: &str| -> Result<String, LuaError> {
        let found = pairs
            .iter()
            .find(|(k, _)| k == name)
            .or_else(|| pairs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)));
        match found {
            None => Ok(String::new()),
            Some((_, LuaValue::String(s))) => Ok(s.to_string_lossy()),
            Some((_, other)) => Err(LuaError::Decode(format!(
                "json: cannot unmarshal {} into Go struct field HealthStatus.{go_field} of type {go_type}",
                go_json_kind(other)
            ))),
        }
    };
    let status = field("status", "status", "health.HealthStatusCode")?;
    let message = field("message", "message", "string")?;
    match HealthStatus::parse(&status) {
        Some(status) => Ok(Health::new(status, message)),
        None => Ok(Health::new(HealthStatus::Unknown, INVALID_HEALTH_STATUS)),
    }
}

/// The text of a Lua error without mlua's decorations and traceback.
fn script_message(e: &mlua::Error) -> String {
    let text = match e {
        mlua::Error::RuntimeError(m) | mlua::Error::MemoryError(m) => m.clone(),
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::CallbackError { cause, .. } => return script_message(cause),
        other => other.to_string(),
    };
    match text.find("\nstack traceback:") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// A custom health check: a Lua script and whether it may use the open standard libraries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthScript {
    /// The Lua source; it sees the object as global `obj` and returns `{status=..., message=...}`.
    pub lua: String,
    /// `resource.customizations.useOpenLibs.<group_kind>`: run with Lua's standard libraries
    /// instead of the sandbox (base, table, string, math and a time-only `os`).
    pub use_open_libs: bool,
}

/// Runs one health script against `obj` with a time limit.
pub fn run_health_script(
    obj: &Value,
    script: &HealthScript,
    timeout: Duration,
) -> Result<Health, LuaError> {
    run_lua(obj, &script.lua, script.use_open_libs, timeout)
}

/// Runs Lua `source` against `obj` (the lower-level form of [`run_health_script`]).
pub fn run_lua(
    obj: &Value,
    source: &str,
    use_open_libs: bool,
    timeout: Duration,
) -> Result<Health, LuaError> {
    let timed_out = Rc::new(Cell::new(None));
    let deadline = Instant::now() + timeout;
    let lua = new_vm(use_open_libs, deadline, timed_out.clone())?;
    let obj_value = to_lua(&lua, obj).map_err(|e| LuaError::Object(e.to_string()))?;
    lua.globals()
        .raw_set("obj", obj_value)
        .map_err(|e| LuaError::Object(e.to_string()))?;
    let result = lua
        .load(source)
        .set_name(CHUNK_NAME)
        .call::<mlua::MultiValue>(());
    if let Some(line) = timed_out.get() {
        return Err(LuaError::Timeout { line });
    }
    let values = result.map_err(|e| LuaError::Script(script_message(&e)))?;
    match values.into_iter().last() {
        Some(LuaValue::Table(t)) => decode_result(&t),
        Some(other) => Err(LuaError::NotATable {
            found: lua_type_name(&other),
        }),
        None => Err(LuaError::NotATable { found: "nil" }),
    }
}
