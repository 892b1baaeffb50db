//! The parsed form of an Application's Image Updater annotations, and the inputs and outputs of
//! tag selection and commit messages.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::reference::ImageRef;

/// Prefix of every Image Updater annotation.
pub const ANNOTATION_PREFIX: &str = "argocd-image-updater.argoproj.io/";

/// fjord's own: tags a human reverted, `alias=tag[,alias=tag]`; set by the updater, cleared by
/// users.
pub const REVERTED_ANNOTATION: &str = "image-updater.fjord.dev/reverted";

/// fjord's own: what the updater last wrote, `alias=tag[,...]`.
pub const WRITTEN_ANNOTATION: &str = "image-updater.fjord.dev/written";

/// Everything the annotations of one Application ask for.
#[derive(Debug, Clone)]
pub struct AppUpdateSpec {
    /// The images of `image-list`, in its order.
    pub images: Vec<ImageSpec>,
    /// Where new tags are written.
    pub write_back: WriteBack,
}

/// How new tags are picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// Highest semantic version within the constraint (the default).
    Semver,
    /// Most recently built image (`newest-build`, formerly `latest`).
    NewestBuild,
    /// Newest digest of the tag named by the constraint (`digest`).
    Digest,
    /// Last tag in byte order (`alphabetical`, formerly `name`).
    Alphabetical,
}

impl Strategy {
    /// The annotation spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Semver => "semver",
            Strategy::NewestBuild => "newest-build",
            Strategy::Digest => "digest",
            Strategy::Alphabetical => "alphabetical",
        }
    }
}

/// Helm parameter names of one image (`<alias>.helm.image-name|image-tag|image-spec`). Parsed and
/// checked only: fjord's updater does not write Helm parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HelmParams {
    /// Parameter holding the image name.
    pub image_name: Option<String>,
    /// Parameter holding the tag.
    pub image_tag: Option<String>,
    /// Parameter holding `name:tag`; when set, the other two are ignored.
    pub image_spec: Option<String>,
}

/// One entry of `image-list` with its options.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    /// The alias (`alias=image`); empty when the entry has none.
    pub alias: String,
    /// The image, without tag (the text after `:` is the constraint); a digest if one was written.
    pub image: ImageRef,
    /// The text after the image's `:`: a semver constraint, or the tag for `digest`.
    pub constraint: Option<String>,
    /// How new tags are picked.
    pub strategy: Strategy,
    /// Only tags this matches are considered (`allow-tags: regexp:...`); `None` allows all.
    pub allow_tags: Option<regex::Regex>,
    /// Go `filepath.Match` patterns of tags never considered (checked at parse time).
    pub ignore_tags: Vec<String>,
    /// `os/arch[/variant]` platforms; empty means the updater's default.
    pub platforms: Vec<String>,
    /// Registry credentials for this image.
    pub pull_secret: Option<CredentialRef>,
    /// Update even when the image is not among the Application's live images.
    pub force_update: bool,
    /// The image name to override in the kustomization (`kustomize.image-name`).
    pub kustomize_image_name: Option<String>,
    /// Helm parameter names (parsed, unused by fjord).
    pub helm: HelmParams,
}

impl ImageSpec {
    /// The name this image goes by in fjord's own `alias=tag` annotations: the alias, or the
    /// image name when there is none.
    pub fn id(&self) -> String {
        if self.alias.is_empty() {
            self.image.name()
        } else {
            self.alias.clone()
        }
    }
}

/// Where a credential comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialRef {
    /// `pullsecret:<ns>/<name>`: the `.dockerconfigjson` of a Secret.
    PullSecret {
        /// Namespace of the Secret.
        namespace: String,
        /// Name of the Secret.
        name: String,
    },
    /// `secret:<ns>/<name>#<field>`: a Secret field holding `user:password`.
    Secret {
        /// Namespace of the Secret.
        namespace: String,
        /// Name of the Secret.
        name: String,
        /// The data key.
        field: String,
    },
    /// `env:<VAR>`: an environment variable holding `user:password`.
    Env(String),
    /// `ext:<abs-path>`: a script printing `user:password`.
    Ext(PathBuf),
    /// `git:secret:<ns>/<name>`: a whole Secret of Git credentials (`username`/`password`,
    /// `sshPrivateKey`, or the `githubApp*` keys).
    GitSecret {
        /// Namespace of the Secret.
        namespace: String,
        /// Name of the Secret.
        name: String,
    },
}

/// How new tags are written back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteBack {
    /// Into the Application object (`argocd`, the default).
    Argocd,
    /// Into Git.
    Git {
        /// Credentials; `None` means the repository credentials Argo CD (fjord) already has.
        creds: Option<CredentialRef>,
        /// `git-branch`.
        branch: Option<BranchSpec>,
        /// `write-back-target`.
        target: WriteTarget,
        /// `git-repository`: the repository to push to instead of the source's.
        repository: Option<String>,
    },
}

/// `git-branch`: `branch`, `base:target` or `:target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchSpec {
    /// The branch to start from; `None` means the source's `targetRevision`.
    pub base: Option<String>,
    /// The branch to push to when it differs from the base; may be a template (see
    /// [`crate::updater::branch_name`]).
    pub target: Option<String>,
}

/// The file new tags go to in Git.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteTarget {
    /// `.argocd-source-<app>.yaml` in the source path (the default).
    ArgocdSource,
    /// `kustomization:/<dir>`: the kustomization in this repository-relative directory (`.` is the
    /// root).
    Kustomization(String),
    /// `kustomization` or `kustomization:<dir>`: the kustomization in this directory relative to
    /// the Application's source path (`.` is the source path itself). Resolve it with
    /// [`WriteTarget::kustomization_dir`].
    KustomizationInSource(String),
}

/// A tag and what the registry says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagInfo {
    /// The tag.
    pub tag: String,
    /// When the image was built (`newest-build`).
    pub created: Option<DateTime<Utc>>,
    /// The manifest digest (`digest`).
    pub digest: Option<String>,
}

/// One image change of a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The image name.
    pub image: String,
    /// The tag before (the digest for `digest`).
    pub old_tag: String,
    /// The tag after.
    pub new_tag: String,
}

/// One image change as a branch-name template sees it (`.Images`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchChange {
    /// `.Name`: the image name.
    pub name: String,
    /// `.Alias`: the alias.
    pub alias: String,
    /// `.OldTag`.
    pub old_tag: String,
    /// `.NewTag`.
    pub new_tag: String,
}
