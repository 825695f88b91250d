//! Integration tests across the pobj crates live in `tests/`.
