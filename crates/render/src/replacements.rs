//! `replacements:`.
