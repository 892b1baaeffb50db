//! Unit tests of the loader's confinement: the restrictor, the fence, absolute paths,
//! non-regular files and counted reads.

use super::*;

/// A scratch directory, removed when dropped.
struct Scratch(tempfile::TempDir);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.0.path()
    }
}

fn scratch(name: &str) -> Scratch {
    let d = Scratch(tempfile::Builder::new().prefix(name).tempdir().unwrap());
    std::fs::create_dir_all(d.join("repo/app")).unwrap();
    std::fs::create_dir_all(d.join("repo/base")).unwrap();
    std::fs::write(d.join("repo/app/a.yaml"), "a: 1\n").unwrap();
    std::fs::write(d.join("repo/base/b.yaml"), "b: 1\n").unwrap();
    std::fs::write(d.join("outside.txt"), "secret\n").unwrap();
    d
}

fn fenced(d: &Path, limits: RenderLimits) -> Loader {
    Loader::confined(
        &d.join("repo/app"),
        LoadRestrictor::None,
        Some(&d.join("repo")),
        limits,
    )
    .unwrap()
}

#[test]
fn the_fence_holds_whatever_the_restrictor() {
    let d = scratch("fence");
    let l = fenced(&d, RenderLimits::default());
    assert_eq!(l.read("a.yaml").unwrap(), b"a: 1\n");
    // LoadRestrictionsNone inside the fence: a sibling's file is readable.
    assert_eq!(l.read("../base/b.yaml").unwrap(), b"b: 1\n");
    assert!(l.sub("../base").is_ok());
    for bad in ["../../outside.txt", "../.."] {
        assert!(
            matches!(l.read(bad), Err(LoadError::OutsideFence { .. })),
            "{bad}"
        );
        assert!(
            matches!(l.sub(bad), Err(LoadError::OutsideFence { .. })),
            "{bad}"
        );
    }
    for abs in ["/etc/passwd", "/proc/self/environ", "/nonexistent/x"] {
        let e = l.read(abs).unwrap_err();
        assert!(matches!(e, LoadError::Absolute { .. }), "{abs}: {e}");
        assert!(matches!(l.sub(abs), Err(LoadError::Absolute { .. })));
    }
    // The absolute path of a file inside the fence is refused too: paths are relative.
    let inside = d.join("repo/app/a.yaml").display().to_string();
    assert!(matches!(l.read(&inside), Err(LoadError::Absolute { .. })));
    // A root outside its fence cannot be made.
    assert!(Loader::confined(
        &d,
        LoadRestrictor::RootOnly,
        Some(&d.join("repo")),
        RenderLimits::default()
    )
    .is_err());
}

#[test]
fn a_missing_path_outside_the_fence_reads_as_outside_not_missing() {
    let d = scratch("oracle");
    let l = fenced(&d, RenderLimits::default());
    // Whether the host path exists or not, the answer is the same: no probing of the host.
    let a = l.read("../../outside.txt").unwrap_err().to_string();
    let b = l.read("../../no-such-file").unwrap_err().to_string();
    assert!(a.contains("outside the repository root"), "{a}");
    assert!(b.contains("outside the repository root"), "{b}");
}

#[cfg(unix)]
#[test]
fn symlinks_out_of_the_fence_are_refused_without_showing_the_target() {
    let d = scratch("symlink");
    std::os::unix::fs::symlink(d.join("outside.txt"), d.join("repo/app/link")).unwrap();
    let l = fenced(&d, RenderLimits::default());
    let e = l.read("link").unwrap_err();
    assert!(
        matches!(e, LoadError::OutsideFence { ref path } if path == "link"),
        "{e}"
    );
    assert!(!e.to_string().contains("outside.txt"));
}

#[cfg(unix)]
#[test]
fn fifos_and_directories_are_not_read() {
    let d = scratch("fifo");
    let fifo = d.join("repo/app/pipe.yaml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    let l = Loader::new(&d.join("repo/app"), LoadRestrictor::RootOnly).unwrap();
    if made {
        assert!(matches!(
            l.read("pipe.yaml"),
            Err(LoadError::NotAFile { .. })
        ));
    }
    std::fs::create_dir_all(d.join("repo/app/sub")).unwrap();
    assert!(matches!(l.read("sub"), Err(LoadError::NotAFile { .. })));
}

#[test]
fn reads_are_counted_and_capped_even_when_the_size_lies() {
    let d = scratch("count");
    let limits = RenderLimits {
        max_input_bytes: 6,
        max_files: 2,
        ..RenderLimits::default()
    };
    let l = fenced(&d, limits);
    l.read("a.yaml").unwrap();
    let e = l.read("../base/b.yaml").unwrap_err();
    assert!(
        matches!(
            e,
            LoadError::Limit(LimitExceeded {
                limit: crate::Limit::InputBytes,
                ..
            })
        ),
        "{e}"
    );
    // /proc files report size 0; the read still stops at the limit.
    let budget = Budget::new(RenderLimits {
        max_input_bytes: 8,
        ..RenderLimits::default()
    });
    if Path::new("/proc/self/status").exists() {
        let e = read_counted(Path::new("/proc/self/status"), &budget).unwrap_err();
        assert!(matches!(e, LoadError::Limit(_)), "{e}");
    }
    let files = Budget::new(RenderLimits {
        max_files: 1,
        ..RenderLimits::default()
    });
    read_counted(&d.join("repo/app/a.yaml"), &files).unwrap();
    assert!(matches!(
        read_counted(&d.join("repo/app/a.yaml"), &files),
        Err(LoadError::Limit(LimitExceeded {
            limit: crate::Limit::Files,
            ..
        }))
    ));
}
