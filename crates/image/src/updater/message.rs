//! Commit messages and templated branch names, as Image Updater renders them.

use super::refname::branch_name_problem;
use super::template::{MessageError, Record, Template, Value};
use super::types::{BranchChange, Change};

/// A template with Image Updater's default commit message: a `build: automatic update of <app>`
/// line, a blank line, then one `updates image <image> tag '<old>' to '<new>'` line per change.
pub const DEFAULT_COMMIT_TEMPLATE: &str = "build: automatic update of {{.AppName}}\n\n\
{{range .AppChanges}}updates image {{.Image}} tag '{{.OldTag}}' to '{{.NewTag}}'\n{{end}}";

/// The commit message for `changes` of application `app`: `template` (Go `text/template` subset,
/// see [`MessageError`]) with `.AppName` and `.AppChanges` (`.Image`, `.OldTag`, `.NewTag`), or
/// the default message when `template` is `None`.
pub fn commit_message(
    template: Option<&str>,
    app: &str,
    changes: &[Change],
) -> Result<String, MessageError> {
    let tpl = Template::parse(template.unwrap_or(DEFAULT_COMMIT_TEMPLATE))?;
    let items = changes
        .iter()
        .map(|c| {
            vec![
                ("Image", Value::Str(&c.image)),
                ("OldTag", Value::Str(&c.old_tag)),
                ("NewTag", Value::Str(&c.new_tag)),
            ]
        })
        .collect();
    let data: Record<'_> = vec![
        ("AppName", Value::Str(app)),
        ("AppChanges", Value::List(items)),
    ];
    tpl.render(&data)
}

/// Checks a commit message template without rendering real data.
pub fn check_commit_template(template: &str) -> Result<(), MessageError> {
    let sample = Change {
        image: "image".into(),
        old_tag: "1.0.0".into(),
        new_tag: "1.0.1".into(),
    };
    commit_message(Some(template), "app", &[sample]).map(|_| ())
}

/// The text whose SHA-256 (lower-case hex) a branch template sees as `.SHA256`: one
/// `<name>-<old>-<new>,` per change, as Image Updater hashes them.
pub fn branch_hash_input(changes: &[BranchChange]) -> String {
    changes
        .iter()
        .map(|c| format!("{}-{}-{},", c.name, c.old_tag, c.new_tag))
        .collect()
}

/// The branch a `git-branch` target template names for `changes`: `.Images` (`.Name`, `.Alias`,
/// `.OldTag`, `.NewTag`) and `.SHA256` (`sha256_hex`, the caller's SHA-256 of
/// [`branch_hash_input`]). Like Image Updater, the result is cut to 255 bytes (at a character
/// boundary); unlike it, a result that is not a valid branch name is an error.
pub fn branch_name(
    template: &str,
    changes: &[BranchChange],
    sha256_hex: &str,
) -> Result<String, MessageError> {
    let tpl = Template::parse(template)?;
    let items = changes
        .iter()
        .map(|c| {
            vec![
                ("Name", Value::Str(&c.name)),
                ("Alias", Value::Str(&c.alias)),
                ("OldTag", Value::Str(&c.old_tag)),
                ("NewTag", Value::Str(&c.new_tag)),
            ]
        })
        .collect();
    let data: Record<'_> = vec![
        ("Images", Value::List(items)),
        ("SHA256", Value::Str(sha256_hex)),
    ];
    let mut name = tpl.render(&data)?;
    if name.len() > 255 {
        let mut cut = 255;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        name.truncate(cut);
    }
    match branch_name_problem(&name) {
        Some(problem) => Err(MessageError::BadBranch { name, problem }),
        None => Ok(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(image: &str, old: &str, new: &str) -> Change {
        Change {
            image: image.into(),
            old_tag: old.into(),
            new_tag: new.into(),
        }
    }

    #[test]
    fn default_message_matches_image_updater() {
        let m = commit_message(
            None,
            "guestbook",
            &[ch("nginx", "1.20", "1.21.0"), ch("org/app", "v1", "v2")],
        )
        .unwrap();
        assert_eq!(
            m,
            "build: automatic update of guestbook\n\nupdates image nginx tag '1.20' to '1.21.0'\nupdates image org/app tag 'v1' to 'v2'\n"
        );
        assert_eq!(
            commit_message(None, "a", &[]).unwrap(),
            "build: automatic update of a\n\n"
        );
    }

    #[test]
    fn upstream_default_template_text_renders_the_same() {
        // The default as Image Updater writes it, with spaces and trim markers.
        let upstream = "build: automatic update of {{ .AppName }}\n\n{{ range .AppChanges -}}\nupdates image {{ .Image }} tag '{{ .OldTag }}' to '{{ .NewTag }}'\n{{ end -}}\n";
        let changes = [ch("nginx", "1.20", "1.21.0"), ch("redis", "7", "7.2")];
        assert_eq!(
            commit_message(Some(upstream), "x", &changes).unwrap(),
            commit_message(None, "x", &changes).unwrap()
        );
    }

    #[test]
    fn custom_templates() {
        let t = "chore({{.AppName}}): bump{{range .AppChanges}} {{.Image}}={{.NewTag}}{{end}}";
        assert_eq!(
            commit_message(Some(t), "app", &[ch("a", "1", "2")]).unwrap(),
            "chore(app): bump a=2"
        );
        let e = commit_message(Some("{{if .AppName}}x{{end}}"), "app", &[]).unwrap_err();
        assert!(e.to_string().contains("if .AppName"), "{e}");
        assert!(check_commit_template("{{.Nope}}").is_err());
        assert!(check_commit_template("ok {{.AppName}}").is_ok());
    }

    #[test]
    fn branch_names() {
        let changes = [BranchChange {
            name: "org/app".into(),
            alias: "app".into(),
            old_tag: "1.0".into(),
            new_tag: "1.1".into(),
        }];
        assert_eq!(branch_hash_input(&changes), "org/app-1.0-1.1,");
        let sha = "ab".repeat(32);
        assert_eq!(
            branch_name("image-updater-{{.SHA256}}", &changes, &sha).unwrap(),
            format!("image-updater-{sha}")
        );
        assert_eq!(
            branch_name(
                "update/{{range .Images}}{{.Alias}}-{{.NewTag}}{{end}}",
                &changes,
                &sha
            )
            .unwrap(),
            "update/app-1.1"
        );
        assert!(matches!(
            branch_name("x{{range .Images}}..{{.NewTag}}{{end}}", &changes, &sha),
            Err(MessageError::BadBranch { .. })
        ));
        let long = branch_name(
            &format!("{}{{{{.SHA256}}}}", "b".repeat(250)),
            &changes,
            &sha,
        )
        .unwrap();
        assert_eq!(long.len(), 255);
    }
}
