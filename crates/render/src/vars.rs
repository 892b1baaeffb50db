//! `vars:` and `$(VAR)` substitution.
