//! A small CSV / whitespace-separated reader for numeric tables (the
//! scikit-learn and statsmodels files): comma or whitespace separated, an
//! optional header line, gzip or raw, blank lines and `#` comments skipped,
//! fields optionally wrapped in double quotes. Ragged rows, text where a number
//! is expected and non-finite values are errors naming the file and line.

use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};
use crate::io::{DEFAULT_LIMIT, read_maybe_gz};

/// How fields are separated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delimiter {
    /// `,`
    Comma,
    /// Runs of spaces or tabs.
    Whitespace,
    /// Comma when the first non-comment line contains one, else whitespace.
    #[default]
    Auto,
}

/// Whether the first line is a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Header {
    /// No header: the first line is data.
    No,
    /// The first line is a header.
    Yes,
    /// A header when some (selected) field of the first line is not a number.
    #[default]
    Auto,
}

/// What to do with empty, `NA` or `nan` fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Missing {
    /// Fail with [`DataError::NonFinite`].
    #[default]
    Reject,
    /// Keep them as `f64::NAN` (infinities are still rejected).
    Nan,
}

/// Reader options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsvOptions {
    /// Field separator.
    pub delimiter: Delimiter,
    /// Header handling.
    pub header: Header,
    /// Only these 0-based fields are parsed (others may hold text); `None` = all.
    pub columns: Option<Vec<usize>>,
    /// Missing-value policy.
    pub missing: Missing,
}

/// A numeric table read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The file it came from.
    pub path: PathBuf,
    /// Header fields (quotes removed), if there was a header.
    pub header: Option<Vec<String>>,
    /// Number of data rows.
    pub rows: usize,
    /// Number of (selected) columns.
    pub cols: usize,
    /// Row-major values, `rows * cols`.
    pub values: Vec<f64>,
}

impl Table {
    /// Column `j` as a vector (empty when out of range).
    #[must_use]
    pub fn column(&self, j: usize) -> Vec<f64> {
        if j >= self.cols {
            return Vec::new();
        }
        self.values
            .iter()
            .skip(j)
            .step_by(self.cols)
            .copied()
            .collect()
    }

    /// Row `i`, if present.
    #[must_use]
    pub fn row(&self, i: usize) -> Option<&[f64]> {
        let start = i.checked_mul(self.cols)?;
        self.values.get(start..start.checked_add(self.cols)?)
    }
}

/// Reads a numeric table from `path` (gzip detected by magic bytes).
///
/// # Errors
/// Read errors, [`DataError::Ragged`], [`DataError::NotANumber`],
/// [`DataError::NonFinite`], [`DataError::Empty`].
pub fn read(path: &Path, opts: &CsvOptions) -> Result<Table> {
    let bytes = read_maybe_gz(path, DEFAULT_LIMIT)?;
    let text = String::from_utf8(bytes).map_err(|e| DataError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()),
    })?;
    parse(path, &text, opts)
}

fn unquote(f: &str) -> &str {
    let f = f.trim();
    f.strip_prefix('"')
        .and_then(|g| g.strip_suffix('"'))
        .unwrap_or(f)
}

fn split_line(line: &str, comma: bool) -> Vec<&str> {
    if comma {
        line.split(',').map(unquote).collect()
    } else {
        line.split_whitespace().map(unquote).collect()
    }
}

fn is_missing(f: &str) -> bool {
    f.is_empty() || f.eq_ignore_ascii_case("na") || f.eq_ignore_ascii_case("nan")
}

/// Parses `text` as if read from `path` (used in errors).
///
/// # Errors
/// As [`read`].
pub fn parse(path: &Path, text: &str, opts: &CsvOptions) -> Result<Table> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .peekable();
    let Some(&(_, first)) = lines.peek() else {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
        });
    };
    let comma = match opts.delimiter {
        Delimiter::Comma => true,
        Delimiter::Whitespace => false,
        Delimiter::Auto => first.contains(','),
    };
    let selected = |fields: &[&str]| -> Vec<usize> {
        match &opts.columns {
            Some(c) => c.clone(),
            None => (0..fields.len()).collect(),
        }
    };
    let first_fields = split_line(first, comma);
    let has_header = match opts.header {
        Header::Yes => true,
        Header::No => false,
        Header::Auto => selected(&first_fields).iter().any(|&j| {
            first_fields
                .get(j)
                .is_some_and(|f| !is_missing(f) && f.parse::<f64>().is_err())
        }),
    };
    let header = if has_header {
        lines.next();
        Some(first_fields.iter().map(|s| (*s).to_owned()).collect())
    } else {
        None
    };

    let mut values = Vec::new();
    let mut width: Option<usize> = None;
    let mut rows = 0usize;
    let mut cols = 0usize;
    for (line, text) in lines {
        let fields = split_line(text, comma);
        let expected = *width.get_or_insert(fields.len());
        if fields.len() != expected {
            return Err(DataError::Ragged {
                path: path.to_path_buf(),
                line,
                expected,
                found: fields.len(),
            });
        }
        let sel = selected(&fields);
        cols = sel.len();
        for j in sel {
            let f = fields.get(j).ok_or(DataError::Ragged {
                path: path.to_path_buf(),
                line,
                expected: j + 1,
                found: fields.len(),
            })?;
            let v = if is_missing(f) {
                f64::NAN
            } else {
                f.parse::<f64>().map_err(|_| DataError::NotANumber {
                    path: path.to_path_buf(),
                    line,
                    column: j,
                    text: f.chars().take(32).collect(),
                })?
            };
            let allowed = v.is_finite() || (v.is_nan() && opts.missing == Missing::Nan);
            if !allowed {
                return Err(DataError::NonFinite {
                    path: path.to_path_buf(),
                    line,
                    column: j,
                    value: v,
                });
            }
            values.push(v);
        }
        rows += 1;
    }
    if rows == 0 || cols == 0 {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(Table {
        path: path.to_path_buf(),
        header,
        rows,
        cols,
        values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    type TestResult = std::result::Result<(), Box<dyn Error>>;

    fn p() -> &'static Path {
        Path::new("fixture.csv")
    }

    #[test]
    fn comma_with_header_and_quotes() -> TestResult {
        let t = parse(
            p(),
            "\"YEAR\",\"SUN\"\r\n1700,5\r\n\r\n1701,11.5\r\n",
            &CsvOptions::default(),
        )?;
        assert_eq!(t.header, Some(vec!["YEAR".into(), "SUN".into()]));
        assert_eq!((t.rows, t.cols), (2, 2));
        assert_eq!(t.values, vec![1700.0, 5.0, 1701.0, 11.5]);
        assert_eq!(t.column(1), vec![5.0, 11.5]);
        assert_eq!(t.row(1), Some(&[1701.0, 11.5][..]));
        assert_eq!(t.row(2), None);
        Ok(())
    }

    #[test]
    fn whitespace_without_header() -> TestResult {
        let t = parse(p(), "# c\n59 2 32.1\n48\t1  21.6\n", &CsvOptions::default())?;
        assert_eq!(t.header, None);
        assert_eq!(t.values, vec![59.0, 2.0, 32.1, 48.0, 1.0, 21.6]);
        Ok(())
    }

    #[test]
    fn selected_columns_skip_text() -> TestResult {
        let opts = CsvOptions {
            columns: Some(vec![1]),
            ..CsvOptions::default()
        };
        let t = parse(p(), "DATE,V\nJan-1-1995,66.19\nFeb-1-1995,65.15\n", &opts)?;
        assert_eq!((t.rows, t.cols, t.values), (2, 1, vec![66.19, 65.15]));
        Ok(())
    }

    #[test]
    fn ragged_row_names_file_and_line() -> TestResult {
        let e = parse(p(), "a,b\n1,2\n3\n", &CsvOptions::default())
            .err()
            .ok_or("accepted")?;
        assert!(matches!(
            e,
            DataError::Ragged {
                line: 3,
                expected: 2,
                found: 1,
                ..
            }
        ));
        assert_eq!(e.to_string(), "fixture.csv:3: 1 fields, expected 2");
        Ok(())
    }

    #[test]
    fn nan_inf_and_missing() -> TestResult {
        for (text, line, col) in [
            ("1,2\n3,NaN\n", 2, 1),
            ("1,inf\n", 1, 1),
            ("1,2\n,4\n", 2, 0),
        ] {
            match parse(p(), text, &CsvOptions::default()) {
                Err(DataError::NonFinite {
                    line: l, column, ..
                }) => {
                    assert_eq!((l, column), (line, col), "{text}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        let e = parse(p(), "1,2\n3,NaN\n", &CsvOptions::default())
            .err()
            .ok_or("accepted")?;
        assert_eq!(e.to_string(), "fixture.csv:2: field 1 is not finite (NaN)");
        let nan_ok = CsvOptions {
            missing: Missing::Nan,
            ..CsvOptions::default()
        };
        let t = parse(p(), "d,co2\n1,2\n3,\n", &nan_ok)?;
        assert!(t.values[3].is_nan());
        assert!(parse(p(), "1,inf\n", &nan_ok).is_err());
        Ok(())
    }

    #[test]
    fn text_in_data_row() -> TestResult {
        let opts = CsvOptions {
            header: Header::No,
            ..CsvOptions::default()
        };
        assert!(matches!(
            parse(p(), "1,2\n3,x4\n", &opts),
            Err(DataError::NotANumber {
                line: 2,
                column: 1,
                ..
            })
        ));
        Ok(())
    }

    #[test]
    fn empty_files() {
        assert!(matches!(
            parse(p(), "\n# only\n", &CsvOptions::default()),
            Err(DataError::Empty { .. })
        ));
        assert!(matches!(
            parse(p(), "a,b\n", &CsvOptions::default()),
            Err(DataError::Empty { .. })
        ));
    }
}
