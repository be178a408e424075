//! A size-capped string writer: appends until the limit, then only counts, so a hostile
//! model never makes the renderer allocate past the cap.

use crate::{Error, Format, Result};

pub(crate) struct Sink {
    buf: String,
    limit: usize,
    format: Format,
    over: Option<usize>,
}

impl Sink {
    pub(crate) fn new(format: Format, limit: usize) -> Self {
        Self {
            buf: String::with_capacity(limit.min(1 << 16)),
            limit,
            format,
            over: None,
        }
    }

    /// Appends `s`, or records the size reached when it would cross the limit.
    pub(crate) fn push(&mut self, s: &str) {
        if self.over.is_some() {
            return;
        }
        match self.buf.len().checked_add(s.len()) {
            Some(n) if n <= self.limit => self.buf.push_str(s),
            Some(n) => self.over = Some(n),
            None => self.over = Some(usize::MAX),
        }
    }

    pub(crate) fn finish(self) -> Result<String> {
        match self.over {
            None => Ok(self.buf),
            Some(bytes) => Err(Error::TooLarge {
                format: self.format,
                bytes,
                limit: self.limit,
            }),
        }
    }
}

impl std::fmt::Write for Sink {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.push(s);
        Ok(())
    }
}
