//! `fjord seal`: kubeseal's command semantics ([`SealArgs`], [`run`]) over the pure sealing of
//! the fjord-seal crate; `fetch` reads certificates and talks to the controller's HTTP API.
//!
//! Beyond kubeseal:
//! - `--cert A --cert B` seals every input Secret once per certificate. The output holds one
//!   SealedSecret per (Secret, certificate), in input order then certificate order, each with
//!   the top-level annotation `seal.fjord.dev/certificate-fingerprint: SHA256:…` naming the
//!   key it opens with (the annotation is not a scope annotation, so the label is unchanged,
//!   and the upstream controller ignores it). Every object works in the cluster whose key
//!   matches; deploy each cluster's object (select by the annotation, e.g. per-cluster
//!   overlays). A single SealedSecret cannot serve two keys, because the controller fails the
//!   whole object when one item does not open.
//! - `--re-encrypt-dir DIR` re-seals every SealedSecret in every `.yaml`/`.yml`/`.json` file
//!   under DIR, offline: unsealed with the `--recovery-private-key` keys, sealed again for the
//!   newest certificate (`--cert`, else the newest recovery key that carries one).
//! - `--controller-url URL` talks to the controller directly (`http://`), `--server URL`
//!   through an API server proxy such as `kubectl proxy`. With neither (and no `--cert`), as
//!   kubeseal does: the API server's service proxy, with the kubeconfig (`--kubeconfig`,
//!   `--context`, `$KUBECONFIG`) and its credentials and TLS settings.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context;
use fjord_seal::docs::{self, parse_documents};
use fjord_seal::keys::{newest_key, Certificate, Key, KeyError, KeyOrder};
use fjord_seal::keystore::{read_private_keys, KeystoreError};
use fjord_seal::object::{ObjectError, SealedSecret};
use fjord_seal::reseal::{reseal_with, ResealError};
use fjord_seal::scope::Scope;
use fjord_seal::seal::{
    check_certificate, merge_into, seal_raw, seal_secret, SealError, SealOptions,
};
use fjord_seal::unseal::{unseal_secret_with, UnsealError, UnsealOptions};
use serde_json::Value;

mod fetch;
mod proxy;
#[cfg(test)]
mod tests;

use self::fetch::FetchError;

/// Annotation naming the certificate a multi-certificate output object was sealed for.
pub const CERT_FINGERPRINT_ANNOTATION: &str = "seal.fjord.dev/certificate-fingerprint";

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Go-style indented JSON (kubeseal's default).
    #[default]
    Json,
    /// `---` + YAML with sorted keys.
    Yaml,
}

/// Sealing scope (`--scope`), the command-line spelling of [`Scope`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ScopeArg {
    /// Bound to namespace and name (label `<namespace>/<name>`).
    Strict,
    /// Bound to the namespace only (label `<namespace>`).
    NamespaceWide,
    /// Bound to nothing (empty label).
    ClusterWide,
}

impl From<ScopeArg> for Scope {
    fn from(arg: ScopeArg) -> Scope {
        match arg {
            ScopeArg::Strict => Scope::Strict,
            ScopeArg::NamespaceWide => Scope::NamespaceWide,
            ScopeArg::ClusterWide => Scope::ClusterWide,
        }
    }
}

/// Arguments of `fjord seal` (kubeseal's flags plus fjord's extensions).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct SealArgs {
    /// Certificate to seal with: file path, file:// or http:// URL. Repeat for several clusters.
    #[arg(long = "cert", value_name = "FILE|URL")]
    pub cert: Vec<String>,
    /// Print the certificate (from --cert or the controller) and exit.
    #[arg(long)]
    pub fetch_cert: bool,
    /// Sealing scope; strict leaves the input's scope annotations alone.
    #[arg(long, value_enum)]
    pub scope: Option<ScopeArg>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
    /// Read the input from FILE instead of stdin.
    #[arg(short = 'f', long = "secret-file", value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// Write the output to FILE (atomically; a .yaml/.yml name forces YAML).
    #[arg(short = 'w', long = "sealed-secret-file", value_name = "FILE")]
    pub output_file: Option<PathBuf>,
    /// Encrypt one raw value (stdin verbatim, or --from-file) and print the bare blob.
    #[arg(long)]
    pub raw: bool,
    /// Secret name (overrides metadata.name; names the raw item's owner).
    #[arg(long)]
    pub name: Option<String>,
    /// Namespace (must match the input Secret's when both are set).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// `[key=]path` of the raw value (with --raw only).
    #[arg(long = "from-file", value_name = "[KEY=]PATH")]
    pub from_file: Vec<String>,
    /// Merge the sealed input Secret into this SealedSecret file, rewriting it.
    #[arg(long, value_name = "FILE")]
    pub merge_into: Option<PathBuf>,
    /// Re-encrypt the input SealedSecrets through the controller's /v1/rotate.
    #[arg(long, alias = "rotate")]
    pub re_encrypt: bool,
    /// Offline unseal of one SealedSecret with --recovery-private-key keys.
    #[arg(long)]
    pub recovery_unseal: bool,
    /// Private key file(s): PEM, or key Secrets / Lists (comma-separated, repeatable).
    #[arg(
        long = "recovery-private-key",
        value_name = "FILE",
        value_delimiter = ','
    )]
    pub recovery_private_key: Vec<PathBuf>,
    /// Check the input SealedSecrets with the controller's /v1/verify.
    #[arg(long)]
    pub validate: bool,
    /// Accept Secrets with no data.
    #[arg(long)]
    pub allow_empty_data: bool,
    /// Name of the controller service.
    #[arg(long, default_value = "sealed-secrets-controller")]
    pub controller_name: String,
    /// Namespace of the controller service.
    #[arg(long, default_value = "kube-system")]
    pub controller_namespace: String,
    /// Controller base URL (http://), bypassing the API server proxy.
    #[arg(long, value_name = "URL")]
    pub controller_url: Option<String>,
    /// API server base URL (http://, e.g. `kubectl proxy`) used to reach the controller.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Re-seal every SealedSecret under DIR with the newest certificate, offline.
    #[arg(long, value_name = "DIR")]
    pub re_encrypt_dir: Option<PathBuf>,
    /// The kubeconfig used to reach the controller through the API server's service proxy
    /// when no --cert, --controller-url or --server is given (default: $KUBECONFIG, then
    /// ~/.kube/config, then the in-cluster service account).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: its current-context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
}

/// Failures of `fjord seal`.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Flags that do not go together.
    #[error("{0}")]
    Usage(String),
    /// Reading input or writing output failed.
    #[error("{what}")]
    Io {
        /// What was being read or written.
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The input could not be parsed.
    #[error("{what}")]
    Parse {
        /// The stream or file.
        what: String,
        /// The parse failure.
        source: docs::DocError,
    },
    /// An object could not be written in the output format.
    #[error("writing the output: {0}")]
    Render(docs::DocError),
    /// Fetching a certificate or talking to the controller failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// A certificate could not be read.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Recovery keys could not be read.
    #[error(transparent)]
    Keystore(#[from] KeystoreError),
    /// Sealing failed.
    #[error(transparent)]
    Seal(#[from] SealError),
    /// Unsealing failed.
    #[error(transparent)]
    Unseal(#[from] UnsealError),
    /// An input SealedSecret is malformed.
    #[error(transparent)]
    Object(#[from] ObjectError),
    /// Re-encryption failed.
    #[error("{file}")]
    Reseal {
        /// The file or object concerned.
        file: String,
        /// The failure.
        source: ResealError,
    },
    /// The controller refused a request.
    #[error("{0}")]
    Controller(String),
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> CliError {
    let what = what.into();
    move |source| CliError::Io { what, source }
}

/// Runs `fjord seal` on stdin/stdout.
pub fn run(args: SealArgs) -> anyhow::Result<ExitCode> {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    run_with(args, &mut stdin.lock(), &mut stdout.lock()).context("seal")?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `fjord seal` with `stdin`/`stdout`.
pub fn run_with(
    args: SealArgs,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
) -> Result<(), CliError> {
    if !args.from_file.is_empty() && !args.raw {
        return Err(CliError::Usage("--from-file requires --raw".into()));
    }
    if let Some(dir) = &args.re_encrypt_dir {
        return re_encrypt_dir(&args, dir, stdout);
    }
    if args.fetch_cert {
        let pem = certificate_pems(&args)?.remove(0);
        return stdout.write_all(&pem).map_err(io_err("stdout"));
    }
    if args.raw {
        return run_raw(&args, stdin, stdout);
    }
    let input = read_input(&args, stdin)?;
    let format = effective_format(&args);
    let out = if args.recovery_unseal {
        recovery_unseal(&args, &input, format)?
    } else if args.validate {
        validate(&args, &input)?;
        return Ok(());
    } else if args.re_encrypt {
        re_encrypt(&args, &input, format)?
    } else if let Some(target) = &args.merge_into {
        return merge(&args, &input, target);
    } else {
        seal_documents(&args, &input, format)?
    };
    write_output(&args, stdout, out.as_bytes())
}

fn effective_format(args: &SealArgs) -> Format {
    let yaml_name = args
        .output_file
        .as_ref()
        .and_then(|p| p.extension())
        .is_some_and(|e| e == "yaml" || e == "yml");
    if yaml_name {
        Format::Yaml
    } else {
        args.format
    }
}

fn read_input(args: &SealArgs, stdin: &mut dyn Read) -> Result<String, CliError> {
    let mut buf = Vec::new();
    match &args.secret_file {
        Some(p) => buf = std::fs::read(p).map_err(io_err(p.display().to_string()))?,
        None => {
            stdin.read_to_end(&mut buf).map_err(io_err("stdin"))?;
        }
    }
    String::from_utf8(buf).map_err(|_| CliError::Usage("input is not UTF-8 text".into()))
}

fn write_output(args: &SealArgs, stdout: &mut dyn Write, bytes: &[u8]) -> Result<(), CliError> {
    match &args.output_file {
        Some(path) => write_atomic(path, bytes),
        None => stdout.write_all(bytes).map_err(io_err("stdout")),
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".fjord-seal.tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(io_err(tmp.display().to_string()))?;
    std::fs::rename(&tmp, path).map_err(io_err(path.display().to_string()))
}

/// Renders one object in the output format (kubeseal: JSON, or `---` + YAML).
pub fn render(value: &Value, format: Format) -> Result<String, CliError> {
    match format {
        Format::Json => Ok(docs::to_go_json(value)),
        Format::Yaml => docs::to_yaml(value)
            .map(|yaml| format!("---\n{yaml}"))
            .map_err(CliError::Render),
    }
}

/// How the controller is reached: an `http://` base URL, or the API server's service proxy.
enum Route {
    Url(String),
    Service(proxy::ServiceRoute),
}

fn controller_route(args: &SealArgs) -> Route {
    let or = |v: &str, d: &'static str| {
        if v.is_empty() {
            d.to_string()
        } else {
            v.to_string()
        }
    };
    let namespace = or(&args.controller_namespace, "kube-system");
    let name = or(&args.controller_name, "sealed-secrets-controller");
    if let Some(url) = &args.controller_url {
        return Route::Url(url.trim_end_matches('/').to_string());
    }
    if let Some(server) = &args.server {
        return Route::Url(format!(
            "{}/api/v1/namespaces/{namespace}/services/http:{name}:http/proxy",
            server.trim_end_matches('/'),
        ));
    }
    Route::Service(proxy::ServiceRoute {
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
        namespace,
        name,
    })
}

/// Sends one request to the controller (`sub`: `/v1/cert.pem`, `/v1/verify`, `/v1/rotate`).
fn controller_request(
    args: &SealArgs,
    method: &str,
    sub: &str,
    body: Option<&[u8]>,
) -> Result<fetch::Response, CliError> {
    match controller_route(args) {
        Route::Url(base) => Ok(fetch::request(method, &format!("{base}{sub}"), body)?),
        Route::Service(route) => route.request(method, sub, body),
    }
}

fn certificate_pems(args: &SealArgs) -> Result<Vec<Vec<u8>>, CliError> {
    if args.cert.is_empty() {
        if let Route::Url(base) = controller_route(args) {
            return Ok(vec![fetch::read_location(&format!("{base}/v1/cert.pem"))?]);
        }
        let r = controller_request(args, "GET", "/v1/cert.pem", None)?;
        if r.status != 200 {
            return Err(CliError::Controller(format!(
                "cannot fetch the certificate from the controller: HTTP status {}",
                r.status
            )));
        }
        return Ok(vec![r.body]);
    }
    args.cert
        .iter()
        .map(|c| fetch::read_location(c).map_err(CliError::from))
        .collect()
}

fn certificates(args: &SealArgs) -> Result<Vec<Certificate>, CliError> {
    let sources: Vec<String> = if args.cert.is_empty() {
        vec!["controller certificate".into()]
    } else {
        args.cert.clone()
    };
    let pems = certificate_pems(args)?;
    let now = SystemTime::now();
    let mut certs = Vec::new();
    for (pem, source) in pems.iter().zip(sources) {
        let cert = Certificate::from_pem(pem, &source)?;
        check_certificate(&cert, now)?;
        certs.push(cert);
    }
    Ok(certs)
}

fn seal_options(args: &SealArgs) -> SealOptions {
    SealOptions {
        scope: args.scope.map(Scope::from),
        name: args.name.clone(),
        namespace: args.namespace.clone(),
        default_namespace: "default".into(),
        allow_empty_data: args.allow_empty_data,
    }
}

fn seal_documents(args: &SealArgs, input: &str, format: Format) -> Result<String, CliError> {
    let certs = certificates(args)?;
    let docs = parse_documents(input).map_err(|source| CliError::Parse {
        what: "input".into(),
        source,
    })?;
    let options = seal_options(args);
    let mut out = String::new();
    for doc in docs.iter().flat_map(docs::flatten_lists) {
        for cert in &certs {
            let mut ss = seal_secret(doc, cert, &options)?;
            if certs.len() > 1 {
                let ann = ss
                    .metadata
                    .entry("annotations")
                    .or_insert_with(|| Value::Object(Default::default()));
                if let Value::Object(a) = ann {
                    a.insert(
                        CERT_FINGERPRINT_ANNOTATION.into(),
                        Value::String(cert.fingerprint().into()),
                    );
                }
            }
            out.push_str(&render(&ss.to_value(), format)?);
        }
    }
    if out.is_empty() {
        return Err(CliError::Usage("no Secret found in input".into()));
    }
    Ok(out)
}

fn run_raw(args: &SealArgs, stdin: &mut dyn Read, stdout: &mut dyn Write) -> Result<(), CliError> {
    let certs = certificates(args)?;
    if certs.len() != 1 {
        return Err(CliError::Usage(
            "--raw takes exactly one certificate".into(),
        ));
    }
    let value = match args.from_file.as_slice() {
        [] => {
            let mut buf = Vec::new();
            stdin.read_to_end(&mut buf).map_err(io_err("stdin"))?;
            buf
        }
        [one] => {
            let path = one.split_once('=').map_or(one.as_str(), |(_, p)| p);
            std::fs::read(path).map_err(io_err(path.to_string()))?
        }
        _ => {
            return Err(CliError::Usage(
                "must provide exactly one --from-file with --raw".into(),
            ))
        }
    };
    let scope = args.scope.map_or_else(Scope::default, Scope::from);
    let namespace = args.namespace.clone().unwrap_or_else(|| "default".into());
    let name = args.name.clone().unwrap_or_default();
    let blob = seal_raw(&certs[0], scope, &namespace, &name, &value)?;
    write_output(args, stdout, blob.as_bytes())
}

fn load_recovery_keys(args: &SealArgs) -> Result<Vec<Key>, CliError> {
    if args.recovery_private_key.is_empty() {
        return Err(CliError::Usage(
            "at least one --recovery-private-key is required".into(),
        ));
    }
    let mut keys = Vec::new();
    for path in &args.recovery_private_key {
        let bytes = std::fs::read(path).map_err(io_err(path.display().to_string()))?;
        keys.extend(read_private_keys(&bytes, &path.display().to_string())?);
    }
    Ok(keys)
}

fn one_sealed_secret(input: &str) -> Result<Value, CliError> {
    let mut docs = parse_documents(input).map_err(|source| CliError::Parse {
        what: "input".into(),
        source,
    })?;
    if docs.len() != 1 {
        return Err(CliError::Usage(format!(
            "expected exactly one SealedSecret on input, got {} documents",
            docs.len()
        )));
    }
    Ok(docs.remove(0))
}

fn recovery_unseal(args: &SealArgs, input: &str, format: Format) -> Result<String, CliError> {
    let keys = load_recovery_keys(args)?;
    let doc = one_sealed_secret(input)?;
    let secret = unseal_secret_with(
        &doc,
        &keys,
        UnsealOptions {
            accept_v1_data: false,
        },
    )?;
    render(&secret, format)
}

fn sealed_inputs(input: &str) -> Result<Vec<SealedSecret>, CliError> {
    let docs = parse_documents(input).map_err(|source| CliError::Parse {
        what: "input".into(),
        source,
    })?;
    docs.iter()
        .flat_map(docs::flatten_lists)
        .map(|d| SealedSecret::from_value(d).map_err(CliError::from))
        .collect()
}

fn validate(args: &SealArgs, input: &str) -> Result<(), CliError> {
    for ss in sealed_inputs(input)? {
        let body = docs::to_go_json(&ss.to_value());
        let r = controller_request(args, "POST", "/v1/verify", Some(body.as_bytes()))?;
        match r.status {
            200 => {}
            409 => {
                return Err(CliError::Controller(format!(
                    "unable to decrypt sealed secret: {}",
                    ss.name()
                )))
            }
            s => {
                return Err(CliError::Controller(format!(
                    "cannot validate sealed secret {}: HTTP status {s}",
                    ss.name()
                )))
            }
        }
    }
    Ok(())
}

fn re_encrypt(args: &SealArgs, input: &str, format: Format) -> Result<String, CliError> {
    let mut out = String::new();
    for ss in sealed_inputs(input)? {
        let body = docs::to_go_json(&ss.to_value());
        let r = controller_request(args, "POST", "/v1/rotate", Some(body.as_bytes()))?;
        if r.status != 200 {
            return Err(CliError::Controller(format!(
                "cannot re-encrypt sealed secret {}: HTTP status {}",
                ss.name(),
                r.status
            )));
        }
        let text = String::from_utf8_lossy(&r.body).into_owned();
        let value = one_sealed_secret(&text)?;
        let mut rotated = SealedSecret::from_value_unchecked(&value)?;
        rotated.metadata.remove("creationTimestamp");
        rotated.metadata.remove("generation");
        out.push_str(&render(&rotated.to_value(), format)?);
    }
    Ok(out)
}

fn merge(args: &SealArgs, input: &str, target: &Path) -> Result<(), CliError> {
    let certs = certificates(args)?;
    if certs.len() != 1 {
        return Err(CliError::Usage(
            "--merge-into takes exactly one certificate".into(),
        ));
    }
    let existing_text =
        std::fs::read_to_string(target).map_err(io_err(target.display().to_string()))?;
    let mut existing = SealedSecret::from_value(&one_sealed_secret(&existing_text)?)?;
    let secret = one_sealed_secret(input)?;
    merge_into(&mut existing, &secret, &certs[0], &seal_options(args))?;
    write_atomic(
        target,
        render(&existing.to_value(), args.format)?.as_bytes(),
    )
}

fn re_encrypt_dir(args: &SealArgs, dir: &Path, stdout: &mut dyn Write) -> Result<(), CliError> {
    let keys = load_recovery_keys(args)?;
    let cert = if args.cert.is_empty() {
        newest_key(&keys, KeyOrder::CertNotBefore)
            .and_then(Key::certificate)
            .cloned()
            .ok_or_else(|| {
                CliError::Usage(
                    "--re-encrypt-dir needs --cert or a recovery key with a certificate".into(),
                )
            })?
    } else {
        let mut certs = certificates(args)?;
        if certs.len() != 1 {
            return Err(CliError::Usage(
                "--re-encrypt-dir takes exactly one certificate".into(),
            ));
        }
        certs.remove(0)
    };
    let mut files = Vec::new();
    collect_files(dir, &mut files)?;
    files.sort();
    let (mut objects, mut changed_files) = (0usize, 0usize);
    for file in files {
        let what = file.display().to_string();
        let text = std::fs::read_to_string(&file).map_err(io_err(what.clone()))?;
        let Ok(docs) = parse_documents(&text) else {
            continue;
        };
        if !docs.iter().any(is_sealed_secret) {
            continue;
        }
        let yaml = file.extension().is_some_and(|e| e == "yaml" || e == "yml");
        let format = if yaml { Format::Yaml } else { Format::Json };
        let mut out = String::new();
        for doc in &docs {
            if is_sealed_secret(doc) {
                let ss = SealedSecret::from_value(doc)?;
                let resealed =
                    reseal_with(&ss, &keys, &cert).map_err(|source| CliError::Reseal {
                        file: format!(
                            "{what}: SealedSecret {}",
                            fjord_seal::object::describe(&ss.metadata)
                        ),
                        source,
                    })?;
                out.push_str(&render(&resealed.to_value(), format)?);
                objects += 1;
            } else {
                out.push_str(&render(doc, format)?);
            }
        }
        write_atomic(&file, out.as_bytes())?;
        changed_files += 1;
    }
    writeln!(
        stdout,
        "re-encrypted {objects} SealedSecret(s) in {changed_files} file(s) for {}",
        cert.fingerprint()
    )
    .map_err(io_err("stdout"))
}

fn is_sealed_secret(doc: &Value) -> bool {
    doc.get("kind").and_then(Value::as_str) == Some(fjord_seal::object::KIND)
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), CliError> {
    let entries = std::fs::read_dir(dir).map_err(io_err(dir.display().to_string()))?;
    for entry in entries {
        let entry = entry.map_err(io_err(dir.display().to_string()))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .map_err(io_err(path.display().to_string()))?;
        if kind.is_dir() {
            collect_files(&path, out)?;
        } else if kind.is_file()
            && path
                .extension()
                .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        {
            out.push(path);
        }
    }
    Ok(())
}
