//! The server's watch caches: requests read these, never one LIST per request.
//! `apps.rs`: Applications and AppProjects (and whether the API server answers);
//! `live.rs`: the live objects of the apps' resource trees (managed objects and their
//! owner-referenced children).

pub mod apps;
pub mod apps_fields;
pub mod apps_filter;
pub mod live;
