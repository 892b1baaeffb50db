//! `fjord_image::setimage` against the real `kustomize edit set image` (v5.5.0): every case of
//! `tests/set_image_cases/` (input `<case>.yaml`, arguments in `args.txt`) is run through both;
//! the files written must be byte-identical, and where kustomize fails fjord must fail too.

use std::path::{Path, PathBuf};

use fjord_image::setimage::{parse_args, set_image, SetImageError};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/set_image_cases")
}

/// (case name, input text, args).
fn cases() -> Vec<(String, String, Vec<String>)> {
    let dir = cases_dir();
    let list = std::fs::read_to_string(dir.join("args.txt")).expect("args.txt");
    list.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, args) = l.split_once(": ").expect("`<case>: <args>`");
            let input = std::fs::read_to_string(dir.join(format!("{name}.yaml")))
                .unwrap_or_else(|e| panic!("{name}.yaml: {e}"));
            let args = args.split_whitespace().map(str::to_string).collect();
            (name.to_string(), input, args)
        })
        .collect()
}

/// fjord's answer: the new text, or the error message.
fn fjord(input: &str, args: &[String]) -> Result<String, String> {
    let parsed = parse_args(args).map_err(|e| e.to_string())?;
    set_image(input, &parsed).map_err(|e| e.to_string())
}

/// kustomize's answer: the file after the command, or the `Error: ` line.
fn oracle(
    k: &fjord_testkit::kustomize::Kustomize,
    input: &str,
    args: &[String],
) -> Result<String, String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("kustomization.yaml");
    std::fs::write(&file, input).expect("write input");
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = k.edit_set_image(dir.path(), &refs);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let msg = stderr
            .split("\nUsage:")
            .next()
            .unwrap_or("")
            .trim_start_matches("Error: ")
            .to_string();
        return Err(msg);
    }
    Ok(std::fs::read_to_string(&file).expect("read output"))
}

/// Whether two failures say the same thing: identical, or (for YAML syntax errors, whose
/// wording comes from different parsers) the same `invalid Kustomization: yaml:` prefix.
fn same_failure(want: &str, got: &str) -> bool {
    want == got
        || (want.starts_with("invalid Kustomization: yaml: ")
            && got.starts_with("invalid Kustomization: yaml: "))
        || (want.starts_with("invalid Kustomization: json: cannot unmarshal")
            && got.starts_with("invalid Kustomization: json: cannot unmarshal"))
}

#[test]
fn set_image_matches_kustomize_byte_for_byte() {
    let Some(k) = fjord_testkit::kustomize::require() else {
        return;
    };
    let cases = cases();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let mut failures = Vec::new();
    let mut identical = 0;
    for (name, input, args) in &cases {
        let want = oracle(&k, input, args);
        let got = fjord(input, args);
        let ok = match (&want, &got) {
            (Ok(w), Ok(g)) => w == g,
            (Err(w), Err(g)) => same_failure(w, g),
            _ => false,
        };
        if ok {
            identical += 1;
        } else {
            failures.push(format!(
                "--- case {name} (args {args:?})\nkustomize: {want:#?}\nfjord:     {got:#?}"
            ));
        }
    }
    eprintln!("{identical}/{} byte-identical", cases.len());
    assert!(
        failures.is_empty(),
        "{}\n{identical}/{} byte-identical",
        failures.join("\n"),
        cases.len()
    );
}

#[test]
fn errors_carry_kustomize_messages() {
    assert_eq!(
        parse_args::<&str>(&[]).unwrap_err().to_string(),
        "no image specified"
    );
    let err = parse_args(&["nginx"]).unwrap_err();
    assert!(matches!(err, SetImageError::InvalidArg { ref arg } if arg == "nginx"));
    assert!(err.to_string().ends_with("- <image>@<digest>"));
    let args = parse_args(&["a:1"]).unwrap();
    let err = set_image("kind: Kustomization\nfoo: 1\n", &args).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid Kustomization: json: unknown field \"foo\""
    );
    let err = set_image("a: [\n", &args).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid Kustomization: yaml: line "),
        "{err}"
    );
}

#[test]
fn finds_the_kustomization_file_as_kustomize_does() {
    use fjord_image::setimage::find_kustomization;
    let dir = tempfile::tempdir().unwrap();
    let err = find_kustomization(dir.path()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Missing kustomization file 'kustomization.yaml'."
    );
    std::fs::write(dir.path().join("Kustomization"), "").unwrap();
    assert_eq!(
        find_kustomization(dir.path()).unwrap(),
        dir.path().join("Kustomization")
    );
    std::fs::write(dir.path().join("kustomization.yml"), "").unwrap();
    assert_eq!(
        find_kustomization(dir.path()).unwrap_err().to_string(),
        "Found multiple kustomization file: [kustomization.yml Kustomization]"
    );
    let dir2 = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir2.path().join("kustomization.yaml")).unwrap();
    assert_eq!(
        find_kustomization(dir2.path()).unwrap_err().to_string(),
        "kustomization.yaml should be a file"
    );
}
