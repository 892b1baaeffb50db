//! Strategic merge patch (both flavours, built-in schema), JSON patch (RFC 6902, strict and
//! kustomize modes) and JSON merge patch (RFC 7386). Input: one selector byte, then YAML or
//! JSON text with two documents, the target then the patch. Results must emit.
#![no_main]

use fjord_merge::{json_patch, merge_patch, smp, Schema};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((op, text)) = fjord_fuzz::selector(data) else {
        return;
    };
    fjord_fuzz::on_small_stack(|| check(op, text));
});

fn check(op: u8, text: &[u8]) {
    let Ok(mut docs) = fjord_yaml::parse_documents(text) else {
        return;
    };
    if docs.len() != 2 {
        return;
    }
    let patch = docs.pop().expect("two documents");
    let mut target = docs.pop().expect("two documents");
    let applied = match op % 5 {
        0 => smp::apply(
            &mut target,
            &patch,
            Schema::builtin(),
            smp::Flavor::Kustomize,
        )
        .is_ok(),
        1 => smp::apply(
            &mut target,
            &patch,
            Schema::builtin(),
            smp::Flavor::ApiMachinery,
        )
        .is_ok(),
        2 => json_patch::apply(&mut target, &patch, json_patch::Mode::Strict).is_ok(),
        3 => json_patch::apply(&mut target, &patch, json_patch::Mode::Kustomize).is_ok(),
        _ => merge_patch::apply(&mut target, &patch).is_ok(),
    };
    if applied {
        let _ = fjord_yaml::emit(&target);
        let _ = fjord_yaml::to_json_value(&target);
    }
}
