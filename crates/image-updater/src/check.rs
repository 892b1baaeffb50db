//! One image against its registry: endpoint, credentials, tag list (shared cache), filters,
//! metadata for the strategies that need it, and the pick.

use fjord_image::updater::{self, ImageSpec, Strategy, TagInfo};
use fjord_registry::{Endpoint, Platform, RegistryClient, TagSortMode};

use crate::creds::CredResolver;

/// What a check needs besides the image.
pub(crate) struct CheckCtx<'a, 'b> {
    pub(crate) registry: &'a RegistryClient,
    pub(crate) conf: &'a fjord_registry::RegistryConf,
    pub(crate) creds: &'a mut CredResolver<'b>,
}

/// The registry's repository path of an image (`library/nginx` for `nginx` on Docker Hub;
/// the endpoint's `defaultns` before a one-segment name).
pub(crate) fn registry_repo(spec: &ImageSpec, ep: &Endpoint) -> String {
    ep.repository(&spec.image.full_repository())
}

/// The platforms of an image spec (`os/arch[/variant]`), else the updater's own.
pub(crate) fn platforms(spec: &ImageSpec) -> Vec<Platform> {
    let list: Vec<Platform> = spec
        .platforms
        .iter()
        .filter_map(|p| Platform::parse(p))
        .collect();
    if !list.is_empty() {
        return list;
    }
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    vec![Platform {
        os: "linux".into(),
        arch: arch.into(),
        variant: None,
    }]
}

/// The registry's display name in messages (host, never credentials).
pub(crate) fn registry_name(spec: &ImageSpec) -> String {
    spec.image.registry_host().to_string()
}

/// The tag (or digest, for `digest`) to move to: `Ok(None)` when nothing newer than
/// `current` (and than `reverted`) qualifies. Errors name the image and registry.
pub(crate) async fn check(
    ctx: &mut CheckCtx<'_, '_>,
    spec: &ImageSpec,
    current: Option<&str>,
    reverted: Option<&str>,
) -> Result<Option<String>, String> {
    let image = spec.image.name();
    let registry = registry_name(spec);
    let fail = |what: &str, detail: String| {
        format!("image {image} (registry {registry}): {what}: {detail}")
    };
    let ep = ctx.conf.endpoint_for_host(spec.image.registry.as_deref());
    let creds = ctx
        .creds
        .for_image(spec.pull_secret.as_ref(), &ep)
        .await
        .map_err(|e| fail("credentials", e))?;
    let repo = registry_repo(spec, &ep);
    let tags = ctx
        .registry
        .list_tags(&ep, &repo, creds.as_ref())
        .await
        .map_err(|e| fail("listing tags", fjord_model::chain(&e)))?;
    let filtered = updater::filter_tags(spec, &tags);
    // `tagsortmode` (registries.conf): the registry lists tags in build order, so newest-build
    // takes the position as the age and fetches no metadata, as Image Updater does.
    let by_position =
        matches!(spec.strategy, Strategy::NewestBuild) && ep.tag_sort != TagSortMode::None;
    let needs_meta =
        !by_position && matches!(spec.strategy, Strategy::NewestBuild | Strategy::Digest);
    let mut candidates = Vec::with_capacity(filtered.len());
    let wanted: Vec<&str> = match (&spec.strategy, spec.constraint.as_deref()) {
        (Strategy::Digest, Some(c)) => filtered.into_iter().filter(|t| *t == c).collect(),
        _ => filtered,
    };
    let plats = if needs_meta {
        platforms(spec)
    } else {
        Vec::new()
    };
    let count = wanted.len();
    for (i, tag) in wanted.into_iter().enumerate() {
        let mut info = TagInfo {
            tag: tag.to_string(),
            created: by_position
                .then(|| position_time(ep.tag_sort, i, count))
                .flatten(),
            digest: None,
        };
        if needs_meta {
            let meta = ctx
                .registry
                .tag_meta(&ep, &repo, tag, &plats, creds.as_ref())
                .await
                .map_err(|e| fail(&format!("reading tag {tag}"), fjord_model::chain(&e)))?;
            info.created = meta.created;
            info.digest = Some(meta.digest);
        }
        candidates.push(info);
    }
    let picked = updater::select(spec, current, &candidates, reverted)
        .map_err(|e| fail("selecting a tag", fjord_model::chain(&e)))?;
    Ok(picked.filter(|p| Some(p.as_str()) != current))
}

/// The made-up build time of the `i`-th of `count` tags listed in `mode`'s order (seconds since
/// the epoch: later means newer), as Image Updater derives it.
fn position_time(
    mode: TagSortMode,
    i: usize,
    count: usize,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let secs = match mode {
        TagSortMode::LatestFirst => count - i,
        TagSortMode::LatestLast => i,
        TagSortMode::None => return None,
    };
    chrono::DateTime::from_timestamp(i64::try_from(secs).ok()?, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_order_is_the_age_when_the_registry_sorts() {
        let first = |m| (0..3).map(|i| position_time(m, i, 3)).collect::<Vec<_>>();
        let latest_first = first(TagSortMode::LatestFirst);
        assert!(latest_first[0] > latest_first[1] && latest_first[1] > latest_first[2]);
        let latest_last = first(TagSortMode::LatestLast);
        assert!(latest_last[2] > latest_last[1] && latest_last[1] > latest_last[0]);
        assert_eq!(position_time(TagSortMode::None, 0, 3), None);
    }
}
