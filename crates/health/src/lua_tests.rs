//! Lua health checks end to end: Argo CD-format scripts from `testdata/lua/`, configured through
//! an `argocd-cm` ConfigMap, plus the sandbox, time limit and result-decoding rules.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{
    assess, run_lua, Health, HealthOverrides, HealthStatus, LuaError, INVALID_HEALTH_STATUS,
};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join("lua")
}

fn read(name: &str) -> String {
    fs::read_to_string(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn yaml(text: &str) -> Value {
    crate::overrides::yaml_value(text).unwrap_or_else(|e| panic!("bad yaml: {e}"))
}

/// The test ConfigMap, with the real scripts put in through split keys (which win over the
/// `resource.customizations` block, as in Argo CD).
fn overrides() -> HealthOverrides {
    let mut cm = yaml(&read("argocd-cm.yaml"));
    cm["data"]["resource.customizations.health.cert-manager.io_Certificate"] =
        Value::String(read("certificate.lua"));
    cm["data"]["resource.customizations.health.argoproj.io_Rollout"] =
        Value::String(read("rollout.lua"));
    HealthOverrides::from_argocd_cm(&cm).unwrap_or_else(|e| panic!("argocd-cm: {e}"))
}

fn run(source: &str, obj: &Value) -> Result<Health, LuaError> {
    run_lua(obj, source, false, Duration::from_secs(1))
}

fn widget() -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
           "spec": {"size": 3, "tags": ["a", "b"], "nothing": null}})
}

#[test]
fn crd_scripts_from_argocd_cm_match_expectations() {
    let overrides = overrides();
    assert!(overrides
        .script_for("argoproj.io", "Rollout")
        .is_some_and(|s| s.use_open_libs && s.lua.contains("goto continue")));
    let mut paths: Vec<PathBuf> = fs::read_dir(dir())
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    paths.retain(|p| p.extension().is_some_and(|e| e == "yaml") && !p.ends_with("argocd-cm.yaml"));
    paths.sort();
    assert!(paths.len() >= 9, "only {} Lua fixtures", paths.len());
    let mut failures = Vec::new();
    for path in &paths {
        let text = fs::read_to_string(path).unwrap_or_default();
        let header = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|r| r.strip_prefix(' ').unwrap_or(r).to_string())
        };
        let status = header("# status:").and_then(|s| HealthStatus::parse(&s));
        let expected = status.map(|s| Health::new(s, header("# message:").unwrap_or_default()));
        let got = assess(&yaml(&text), &overrides);
        if got != expected {
            failures.push(format!(
                "{}: expected {expected:?}, got {got:?}",
                path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_failing_script_is_unknown_with_the_lua_error() {
    let mut o = HealthOverrides::new();
    o.insert(
        "example.com/Widget",
        crate::HealthScript {
            lua: read("error.lua"),
            use_open_libs: false,
        },
    );
    let h = assess(&widget(), &o).unwrap_or_else(|| Health::status(HealthStatus::Healthy));
    assert_eq!(h.status, HealthStatus::Unknown);
    assert!(
        h.message.starts_with("<string>:3: attempt to index"),
        "{}",
        h.message
    );
    assert!(!h.message.contains("stack traceback"), "{}", h.message);

    let err = run(&read("raise.lua"), &widget()).err();
    assert_eq!(
        err.map(|e| e.to_string()),
        Some("<string>:4: widget has no status yet".into())
    );

    let err = run("hs = {status = ", &widget()).err();
    assert!(
        matches!(&err, Some(LuaError::Script(m)) if m.starts_with("<string>:1:")),
        "{err:?}"
    );
}

#[test]
fn an_infinite_loop_times_out_as_unknown() {
    let o = {
        let mut o = HealthOverrides::new().with_timeout(Duration::from_millis(200));
        o.insert(
            "example.com/Widget",
            crate::HealthScript {
                lua: read("infinite.lua"),
                use_open_libs: false,
            },
        );
        o
    };
    let start = Instant::now();
    let h = assess(&widget(), &o);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    let h = h.unwrap_or_else(|| Health::status(HealthStatus::Healthy));
    assert_eq!(h.status, HealthStatus::Unknown);
    assert!(
        h.message.starts_with("<string>:") && h.message.ends_with(": context deadline exceeded"),
        "{}",
        h.message
    );
}

#[test]
fn pcall_cannot_swallow_the_time_out() {
    for use_open_libs in [false, true] {
        let start = Instant::now();
        let err = run_lua(
            &widget(),
            &read("swallow.lua"),
            use_open_libs,
            Duration::from_millis(200),
        )
        .err();
        assert!(matches!(err, Some(LuaError::Timeout { .. })), "{err:?}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }
    let err = run_lua(
        &widget(),
        "local co = coroutine.create(function() while true do end end)\n\
         while true do coroutine.resume(co) end",
        true,
        Duration::from_millis(200),
    )
    .err();
    assert!(matches!(err, Some(LuaError::Timeout { .. })), "{err:?}");
}

#[test]
fn goto_is_supported() {
    let src = "hs = {status = 'Degraded'}\n\
               for i, t in ipairs(obj.spec.tags) do\n\
                 if t ~= 'b' then goto continue end\n\
                 hs.status = 'Healthy'; hs.message = 'found b at ' .. i\n\
                 ::continue::\n\
               end\n\
               return hs";
    assert_eq!(
        run(src, &widget()),
        Ok(Health::new(HealthStatus::Healthy, "found b at 2"))
    );
}

#[test]
fn the_sandbox_offers_only_safe_libraries() {
    let src = "local ok = os.execute == nil and os.getenv == nil and os.exit == nil and io == nil\n\
               and dofile == nil and loadfile == nil and require == nil and coroutine == nil\n\
               and jit == nil and debug == nil and ffi == nil and string.dump == nil\n\
               local t = {}\n\
               table.insert(t, string.format('%d', math.floor(2.7)))\n\
               local now = os.time()\n\
               local d = os.date('!%Y', 0)\n\
               print('ignored')\n\
               if ok and t[1] == '2' and now > 0 and d == '1970' then return {status = 'Healthy'} end\n\
               return {status = 'Degraded'}";
    assert_eq!(
        run(src, &widget()),
        Ok(Health::status(HealthStatus::Healthy))
    );
}

#[test]
fn open_libs_enable_the_standard_library_but_not_jit_or_ffi() {
    let src =
        "if io ~= nil and os.getenv ~= nil and coroutine ~= nil and jit == nil and ffi == nil\n\
               then return {status = 'Healthy'} end return {status = 'Degraded'}";
    assert_eq!(
        run_lua(&widget(), src, true, Duration::from_secs(1)),
        Ok(Health::status(HealthStatus::Healthy))
    );
    assert_eq!(
        run(src, &widget()),
        Ok(Health::status(HealthStatus::Degraded))
    );
    // require cannot bring the JIT compiler back.
    let src = "local ok, j = pcall(require, 'jit') if ok and j ~= nil then return {status = 'Degraded'} end\n\
               return {status = 'Healthy'}";
    assert_eq!(
        run_lua(&widget(), src, true, Duration::from_secs(1)),
        Ok(Health::status(HealthStatus::Healthy))
    );
}

#[test]
fn binary_chunks_are_refused() {
    let src = "local f, err = loadstring('\\27LJ\\2garbage')\n\
               local g = loadstring('return 7')\n\
               if f == nil and g() == 7 then return {status = 'Healthy', message = err} end\n\
               return {status = 'Degraded'}";
    assert_eq!(
        run(src, &widget()),
        Ok(Health::new(
            HealthStatus::Healthy,
            "attempt to load a binary chunk"
        ))
    );
}

#[test]
fn the_object_is_passed_like_argo_cd() {
    let src = "if obj.kind == 'Widget' and obj.spec.size == 3 and #obj.spec.tags == 2\n\
               and obj.spec.tags[1] == 'a' and obj.spec.nothing == nil and obj.metadata.name == 'w'\n\
               then return {status = 'Healthy', message = obj.spec.size .. ''} end\n\
               return {status = 'Degraded'}";
    assert_eq!(
        run(src, &widget()),
        Ok(Health::new(HealthStatus::Healthy, "3"))
    );
}

#[test]
fn results_are_decoded_like_argo_cd() {
    let w = widget();
    assert_eq!(
        run("return {status = 'Fine'}", &w),
        Ok(Health::new(HealthStatus::Unknown, INVALID_HEALTH_STATUS))
    );
    assert_eq!(
        run("return {message = 'no status'}", &w),
        Ok(Health::new(HealthStatus::Unknown, INVALID_HEALTH_STATUS))
    );
    assert_eq!(
        run("return {Status = 'Suspended'}", &w),
        Ok(Health::status(HealthStatus::Suspended))
    );
    assert_eq!(
        run(
            "hs = {} hs.status = 'Missing' hs.message = 'gone' return hs",
            &w
        ),
        Ok(Health::new(HealthStatus::Missing, "gone"))
    );
    assert_eq!(
        run("return 'Healthy'", &w).map_err(|e| e.to_string()),
        Err("expect table output from Lua script, not string".into())
    );
    assert_eq!(
        run("hs = {status = 'Healthy'}", &w).map_err(|e| e.to_string()),
        Err("expect table output from Lua script, not nil".into())
    );
    assert_eq!(
        run("return {}", &w).map_err(|e| e.to_string()),
        Err("json: cannot unmarshal array into Go value of type health.HealthStatus".into())
    );
    assert_eq!(
        run("return {status = 'Healthy', message = 5}", &w).map_err(|e| e.to_string()),
        Err("json: cannot unmarshal number into Go struct field HealthStatus.message of type string".into())
    );
}

#[test]
fn each_run_gets_a_fresh_state() {
    let w = widget();
    assert_eq!(
        run("leak = 'x' return {status = 'Healthy'}", &w),
        Ok(Health::status(HealthStatus::Healthy))
    );
    assert_eq!(
        run(
            "if leak == nil then return {status = 'Healthy'} end return {status = 'Degraded'}",
            &w
        ),
        Ok(Health::status(HealthStatus::Healthy))
    );
}

#[test]
fn memory_is_bounded() {
    let err = run(
        "local s = string.rep('x', 512 * 1024 * 1024) return {status = 'Healthy', message = #s .. ''}",
        &widget(),
    )
    .err();
    assert!(
        matches!(&err, Some(LuaError::Script(m)) if m.contains("memory")),
        "{err:?}"
    );
}
