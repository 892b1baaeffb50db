//! Patches: strategic merge, JSON 6902, and target selection.
