//! A ZIP of CAMT files, as some banks export, read within limits: the number of members, the
//! total uncompressed size and each member's compression ratio, all checked against the bytes
//! really inflated (never only the sizes the archive claims).

use std::io::Read;

use crate::error::{Location, StatementError};
use crate::model::{Format, ReadStatements, Warning};

/// The limits of [`read_zip`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// At most this many members.
    pub max_entries: usize,
    /// At most this many bytes inflated, all members together.
    pub max_total_bytes: u64,
    /// No member may inflate to more than this many times its compressed size.
    pub max_ratio: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        Self {
            max_entries: 1_000,
            max_total_bytes: 200 * 1024 * 1024,
            max_ratio: 100,
        }
    }
}

/// Reads every CAMT file in a ZIP archive into one result (members in archive order).
pub fn read_zip(bytes: &[u8], limits: &ArchiveLimits) -> Result<ReadStatements, StatementError> {
    let bad = |e: zip::result::ZipError| {
        StatementError::at(Location::File, format!("not a readable ZIP archive: {e}"))
    };
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(bad)?;
    if archive.len() > limits.max_entries {
        return Err(StatementError::ArchiveLimit(format!(
            "{} members, at most {} allowed",
            archive.len(),
            limits.max_entries
        )));
    }
    let mut out: Option<ReadStatements> = None;
    let mut warnings = Vec::new();
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        let mut member = archive.by_index(index).map_err(bad)?;
        let name = member.name().to_owned();
        if member.is_dir() || name.starts_with("__MACOSX/") {
            continue;
        }
        let compressed = member.compressed_size().max(1);
        let allowed_by_ratio = compressed.saturating_mul(limits.max_ratio);
        let allowed = allowed_by_ratio.min(limits.max_total_bytes.saturating_sub(total));
        let mut content = Vec::new();
        (&mut member)
            .take(allowed.saturating_add(1))
            .read_to_end(&mut content)
            .map_err(|e| {
                StatementError::at(Location::File, format!("archive member {name}: {e}"))
            })?;
        let inflated = u64::try_from(content.len()).unwrap_or(u64::MAX);
        if inflated > allowed_by_ratio {
            return Err(StatementError::ArchiveLimit(format!(
                "member {name} inflates more than {} times its size",
                limits.max_ratio
            )));
        }
        if inflated > allowed {
            return Err(StatementError::ArchiveLimit(format!(
                "more than {} bytes once inflated",
                limits.max_total_bytes
            )));
        }
        total += inflated;
        if !matches!(crate::detect(&content), Some(Format::Camt(_))) {
            warnings.push(Warning {
                at: Location::Member {
                    name: name.clone(),
                    inner: Box::new(Location::File),
                },
                message: "not a CAMT file: skipped".to_owned(),
            });
            continue;
        }
        let read = crate::camt::read(&content).map_err(|e| e.in_member(&name))?;
        let wrap = |w: Warning| Warning {
            at: Location::Member {
                name: name.clone(),
                inner: Box::new(w.at),
            },
            message: w.message,
        };
        match out.as_mut() {
            None => {
                let mut first = read;
                first.warnings = first.warnings.into_iter().map(wrap).collect();
                out = Some(first);
            }
            Some(acc) => {
                if acc.format != read.format {
                    warnings.push(Warning {
                        at: Location::Member {
                            name: name.clone(),
                            inner: Box::new(Location::File),
                        },
                        message: format!("a {} among {} files", read.format, acc.format),
                    });
                }
                acc.statements.extend(read.statements);
                acc.warnings.extend(read.warnings.into_iter().map(wrap));
            }
        }
    }
    let mut out = out
        .ok_or_else(|| StatementError::NoStatement("the archive holds no CAMT file".to_owned()))?;
    out.warnings.extend(warnings);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const CAMT: &str = include_str!("../tests/fixtures/camt053_batch.xml");

    fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, content) in members {
            writer.start_file(*name, options).unwrap();
            writer.write_all(content).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn every_camt_member_is_read_and_others_are_skipped_with_a_warning() {
        let bytes = zip_of(&[
            ("a.xml", CAMT.as_bytes()),
            ("readme.txt", b"hello"),
            ("b.xml", CAMT.as_bytes()),
        ]);
        let read = crate::read(&bytes, &crate::ReadOptions::default()).unwrap();
        assert_eq!(read.format, Format::Camt(crate::CamtKind::C053));
        assert_eq!(read.statements.len(), 2);
        assert!(
            read.warnings
                .iter()
                .any(|w| w.to_string().contains("readme.txt"))
        );
    }

    #[test]
    fn a_zip_bomb_is_refused_by_its_ratio_and_too_many_members_by_their_count() {
        let zeros = vec![b'<'; 4 * 1024 * 1024];
        let bytes = zip_of(&[("bomb.xml", &zeros)]);
        let err = read_zip(&bytes, &ArchiveLimits::default()).unwrap_err();
        assert!(matches!(err, StatementError::ArchiveLimit(_)), "{err}");
        let many: Vec<(String, &[u8])> = (0..5)
            .map(|i| (format!("{i}.xml"), CAMT.as_bytes()))
            .collect();
        let refs: Vec<(&str, &[u8])> = many.iter().map(|(n, c)| (n.as_str(), *c)).collect();
        let limits = ArchiveLimits {
            max_entries: 4,
            ..ArchiveLimits::default()
        };
        assert!(matches!(
            read_zip(&zip_of(&refs), &limits),
            Err(StatementError::ArchiveLimit(_))
        ));
        let small = ArchiveLimits {
            max_total_bytes: 5_000,
            ..ArchiveLimits::default()
        };
        assert!(matches!(
            read_zip(&zip_of(&refs), &small),
            Err(StatementError::ArchiveLimit(_))
        ));
    }

    #[test]
    fn a_broken_member_is_named_in_the_error() {
        let broken = CAMT.replacen("<Amt Ccy=\"EUR\">250.00</Amt>", "", 1);
        let bytes = zip_of(&[
            ("good.xml", CAMT.as_bytes()),
            ("bad.xml", broken.as_bytes()),
        ]);
        let err = read_zip(&bytes, &ArchiveLimits::default()).unwrap_err();
        assert!(err.to_string().contains("bad.xml"), "{err}");
    }
}
