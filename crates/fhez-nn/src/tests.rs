//! Unit tests across modules (gradient checks live in `tests/`).
