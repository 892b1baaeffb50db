//! Render limits: how much one render may read and produce. A repository is input from whoever
//! can push to it, so every render is bounded: the bytes and files read (counted as each file is
//! opened, before it is parsed), the objects produced and the size of the rendered output.
//! Crossing a limit stops the render with an error that names the limit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The bounds of one render. The defaults are generous for real applications and small enough
/// to keep a hostile repository from exhausting memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RenderLimits {
    /// Bytes read from files in total (manifests, kustomizations, patches, generator inputs).
    pub max_input_bytes: u64,
    /// Files read in total (a file read twice counts twice).
    pub max_files: u64,
    /// Objects produced.
    pub max_objects: u64,
    /// Size of the rendered objects (about the size of their YAML).
    pub max_rendered_bytes: u64,
}

impl Default for RenderLimits {
    fn default() -> Self {
        RenderLimits {
            max_input_bytes: 64 * 1024 * 1024,
            max_files: 10_000,
            max_objects: 20_000,
            max_rendered_bytes: 128 * 1024 * 1024,
        }
    }
}

/// Which limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// [`RenderLimits::max_input_bytes`].
    InputBytes,
    /// [`RenderLimits::max_files`].
    Files,
    /// [`RenderLimits::max_objects`].
    Objects,
    /// [`RenderLimits::max_rendered_bytes`].
    RenderedBytes,
}

impl Limit {
    /// The limit's name, as `fjord render`'s flag spells it without the dashes
    /// (`max-input-bytes`).
    pub fn name(self) -> &'static str {
        match self {
            Limit::InputBytes => "max-input-bytes",
            Limit::Files => "max-files",
            Limit::Objects => "max-objects",
            Limit::RenderedBytes => "max-rendered-bytes",
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A limit was crossed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("render limit {limit} ({max}) exceeded: {what}")]
pub struct LimitExceeded {
    /// The limit.
    pub limit: Limit,
    /// Its value.
    pub max: u64,
    /// What crossed it.
    pub what: String,
}

/// What one render has used so far, shared by every loader of the build.
#[derive(Debug, Default)]
pub(crate) struct Budget {
    limits: RenderLimits,
    bytes: AtomicU64,
    files: AtomicU64,
    objects: AtomicU64,
    tripped: Mutex<Option<LimitExceeded>>,
}

impl Budget {
    /// A fresh budget.
    pub(crate) fn new(limits: RenderLimits) -> Budget {
        Budget {
            limits,
            ..Budget::default()
        }
    }

    /// Records and returns a crossed limit (the first one is kept for the final error).
    fn trip(&self, limit: Limit, max: u64, what: String) -> LimitExceeded {
        let e = LimitExceeded { limit, max, what };
        let mut t = self.tripped.lock().unwrap_or_else(|p| p.into_inner());
        t.get_or_insert_with(|| e.clone());
        e
    }

    /// The first limit crossed, if any.
    pub(crate) fn tripped(&self) -> Option<LimitExceeded> {
        self.tripped
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Counts one more file to open.
    pub(crate) fn open_file(&self, shown: &str) -> Result<(), LimitExceeded> {
        let n = self.files.fetch_add(1, Ordering::Relaxed) + 1;
        if n > self.limits.max_files {
            let max = self.limits.max_files;
            return Err(self.trip(Limit::Files, max, format!("opening '{shown}' (file {n})")));
        }
        Ok(())
    }

    /// How many more bytes may be read.
    pub(crate) fn bytes_left(&self) -> u64 {
        self.limits
            .max_input_bytes
            .saturating_sub(self.bytes.load(Ordering::Relaxed))
    }

    /// Refuses a file of `size` bytes when it does not fit in what is left; counts it when it
    /// does.
    pub(crate) fn read_bytes(&self, shown: &str, size: u64) -> Result<(), LimitExceeded> {
        let before = self.bytes.load(Ordering::Relaxed);
        if before.saturating_add(size) > self.limits.max_input_bytes {
            let max = self.limits.max_input_bytes;
            return Err(self.trip(
                Limit::InputBytes,
                max,
                format!("reading '{shown}' ({size} bytes) after {before} bytes"),
            ));
        }
        self.bytes.fetch_add(size, Ordering::Relaxed);
        Ok(())
    }

    /// Refuses, before anything is read, `files` files of `bytes` bytes in total that would not
    /// fit in what is left (`what` names them).
    pub(crate) fn preflight(
        &self,
        files: u64,
        bytes: u64,
        what: &str,
    ) -> Result<(), LimitExceeded> {
        let used_files = self.files.load(Ordering::Relaxed);
        if used_files.saturating_add(files) > self.limits.max_files {
            let max = self.limits.max_files;
            return Err(self.trip(Limit::Files, max, format!("{what}: {files} files")));
        }
        if bytes > self.bytes_left() {
            let max = self.limits.max_input_bytes;
            return Err(self.trip(
                Limit::InputBytes,
                max,
                format!("{what}: {files} files of {bytes} bytes in total"),
            ));
        }
        Ok(())
    }

    /// Counts `n` more objects produced by `shown`.
    pub(crate) fn produce(&self, shown: &str, n: u64) -> Result<(), LimitExceeded> {
        let total = self.objects.fetch_add(n, Ordering::Relaxed) + n;
        self.check_objects(total, shown)
    }

    /// Refuses `total` objects above the limit.
    pub(crate) fn check_objects(&self, total: u64, shown: &str) -> Result<(), LimitExceeded> {
        if total > self.limits.max_objects {
            let max = self.limits.max_objects;
            return Err(self.trip(
                Limit::Objects,
                max,
                format!("{total} objects, from '{shown}'"),
            ));
        }
        Ok(())
    }

    /// Refuses rendered objects of about `size` bytes above the limit.
    pub(crate) fn check_rendered(&self, size: u64) -> Result<(), LimitExceeded> {
        if size > self.limits.max_rendered_bytes {
            let max = self.limits.max_rendered_bytes;
            return Err(self.trip(
                Limit::RenderedBytes,
                max,
                format!("the rendered objects take about {size} bytes"),
            ));
        }
        Ok(())
    }
}

/// About the size of `node` as YAML: every scalar and key with a few bytes of layout each. It
/// never underestimates by much and costs one walk.
pub fn approx_size(node: &fjord_yaml::Node) -> u64 {
    use fjord_yaml::Node;
    match node {
        Node::Scalar(s) => s.value.len() as u64 + 1,
        Node::Seq(items) => items.iter().map(|n| approx_size(n) + 4).sum(),
        Node::Map(m) => m
            .iter()
            .map(|(k, v)| k.len() as u64 + 3 + approx_size(v))
            .sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tight() -> RenderLimits {
        RenderLimits {
            max_input_bytes: 100,
            max_files: 2,
            max_objects: 3,
            max_rendered_bytes: 10,
        }
    }

    #[test]
    fn each_limit_trips_once_crossed_and_names_itself() {
        let b = Budget::new(tight());
        b.open_file("a").unwrap();
        b.open_file("b").unwrap();
        let e = b.open_file("c").unwrap_err();
        assert_eq!(e.limit, Limit::Files);
        assert!(e.to_string().contains("max-files (2)"), "{e}");
        assert!(e.to_string().contains("'c'"), "{e}");
        b.read_bytes("a", 60).unwrap();
        assert_eq!(b.bytes_left(), 40);
        assert_eq!(b.read_bytes("b", 41).unwrap_err().limit, Limit::InputBytes);
        b.read_bytes("b", 40).unwrap();
        b.produce("x", 3).unwrap();
        assert_eq!(b.produce("y", 1).unwrap_err().limit, Limit::Objects);
        assert_eq!(
            b.check_rendered(11).unwrap_err().limit,
            Limit::RenderedBytes
        );
        b.check_rendered(10).unwrap();
        // The first crossing is the one reported.
        assert_eq!(b.tripped().unwrap().limit, Limit::Files);
    }

    #[test]
    fn approx_size_follows_the_yaml_size() {
        let doc = fjord_yaml::parse_document(b"a: hello\nb: [x, y]\n").unwrap();
        let yaml = fjord_yaml::emit_documents(std::slice::from_ref(&doc)).unwrap();
        let size = approx_size(&doc);
        assert!(size >= yaml.len() as u64 / 2 && size <= yaml.len() as u64 * 3);
    }
}

/// Parses a size or count the way Kubernetes writes quantities: a plain integer (`1000`), or
/// one with a binary (`Ki`, `Mi`, `Gi`, `Ti`, `Pi`, `Ei`) or decimal (`k`, `M`, `G`, `T`, `P`,
/// `E`) suffix (`256Mi`, `10M`). Fractions, signs and exponents are refused.
pub fn parse_quantity(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let (number, suffix) = t.split_at(digits);
    if number.is_empty() {
        return Err(format!(
            "'{text}' is not a quantity (expected an integer such as 1000 or 256Mi)"
        ));
    }
    let n: u64 = number
        .parse()
        .map_err(|_| format!("'{text}' is too large"))?;
    let scale: u64 = match suffix {
        "" => 1,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "P" => 1_000_000_000_000_000,
        "E" => 1_000_000_000_000_000_000,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "Pi" => 1 << 50,
        "Ei" => 1 << 60,
        other => {
            return Err(format!(
                "'{text}': unknown suffix '{other}' (use Ki, Mi, Gi, Ti, k, M, G, T or none)"
            ))
        }
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("'{text}' is too large"))
}

#[cfg(test)]
mod quantity_tests {
    use super::parse_quantity;

    #[test]
    fn quantities_parse_as_kubernetes_writes_them() {
        assert_eq!(parse_quantity("1000"), Ok(1000));
        assert_eq!(parse_quantity("256Mi"), Ok(256 << 20));
        assert_eq!(parse_quantity(" 10M "), Ok(10_000_000));
        assert_eq!(parse_quantity("2Gi"), Ok(2 << 30));
        assert_eq!(parse_quantity("5k"), Ok(5000));
        for bad in [
            "",
            "-1",
            "1.5Gi",
            "1e3",
            "12Xi",
            "Mi",
            "99999999999999999999",
        ] {
            assert!(parse_quantity(bad).is_err(), "{bad}");
        }
        assert!(parse_quantity("16Ei").is_err());
    }
}
