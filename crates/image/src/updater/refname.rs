//! Branch names as `git check-ref-format --branch` accepts them.

/// Longest branch name fjord writes (Image Updater cuts template results to 255 bytes).
pub const MAX_BRANCH_LEN: usize = 255;

/// Why `name` is not a valid branch name, or `None` when it is.
pub fn branch_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("is empty");
    }
    if name.len() > MAX_BRANCH_LEN {
        return Some("is longer than 255 bytes");
    }
    if name.starts_with('-') {
        return Some("starts with '-'");
    }
    if name == "@" {
        return Some("is '@'");
    }
    if name.contains("..") {
        return Some("contains '..'");
    }
    if name.contains("@{") {
        return Some("contains '@{'");
    }
    if name
        .chars()
        .any(|c| c.is_control() || " ~^:?*[\\".contains(c))
    {
        return Some("contains a control character, a space or one of ~ ^ : ? * [ \\");
    }
    if name.starts_with('/') || name.ends_with('/') || name.contains("//") {
        return Some("has an empty path component");
    }
    if name.ends_with('.') {
        return Some("ends with '.'");
    }
    for component in name.split('/') {
        if component.starts_with('.') {
            return Some("has a path component starting with '.'");
        }
        if component.ends_with(".lock") {
            return Some("has a path component ending with '.lock'");
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_ref_format() {
        for ok in [
            "main",
            "release/1.x",
            "image-updater-abc123",
            "feature/a.b",
            "v1.2.3+build",
        ] {
            assert_eq!(branch_name_problem(ok), None, "{ok}");
        }
        for bad in [
            "",
            "-x",
            "@",
            "a..b",
            "a@{1}",
            "a b",
            "a~1",
            "a^",
            "a:b",
            "a?",
            "a*",
            "a[",
            "a\\b",
            "a\u{7f}",
            "a\tb",
            "/a",
            "a/",
            "a//b",
            "a.",
            ".a",
            "a/.b",
            "a.lock",
            "a/b.lock/c",
        ] {
            assert!(branch_name_problem(bad).is_some(), "{bad:?}");
        }
        assert!(branch_name_problem(&"x".repeat(256)).is_some());
    }
}
