//! Samplers (placeholder).
