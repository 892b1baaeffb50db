//! Schema facts for built-in kinds: how lists merge (by key, as sets, or atomically).
//!
//! The table is owned by the strategic-merge implementation; see `schema/` data files.
