//! Scheme-agnostic RLWE machinery: hybrid key switching and its key type. Nothing
//! here knows about slots or scales, so it could serve another RLWE scheme.

pub(crate) mod keyswitch;
pub(crate) mod scratch;
pub(crate) mod split;
mod switching_key;

pub use switching_key::KeySwitchKey;
pub(crate) use switching_key::expand_uniform;
