//! Bank statement files read into one normalised line type: CAMT.052/053/054 (and ZIPs of them),
//! MT940/MT942, OFX/QFX and CSV. Bytes in, statements out: no I/O, no async, no clock, no floats.
//!
//! [`read`] detects the format from the content and parses it; each format also has its own
//! module. Every failure is a typed [`StatementError`] naming the line or element; oddities the
//! reader could work around are [`Warning`]s beside the result. Nothing here panics on any input
//! (property tests hold it to that).

mod amount;
pub mod archive;
pub mod camt;
pub mod csv;
mod detect;
mod error;
mod model;
pub mod mt940;
pub mod ofx;
mod text;
mod xml;

pub use detect::detect;
pub use error::{Location, StatementError};
pub use model::{
    Account, BalanceCheck, CamtKind, Format, Line, LineStatus, ReadStatements, Statement, Warning,
};

/// Options of [`read`].
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// For CSV: the confirmed column mapping; `None` detects one from the file.
    pub csv_mapping: Option<csv::CsvMapping>,
    /// The currency of lines whose file names none (CSV without a currency column, an MT940
    /// excerpt without balances).
    pub default_currency: Option<payymo_domain::money::Currency>,
    /// Limits for ZIP archives.
    pub archive_limits: archive::ArchiveLimits,
}

/// Reads a statement file of any supported format, detected from its content.
pub fn read(bytes: &[u8], options: &ReadOptions) -> Result<ReadStatements, StatementError> {
    match detect(bytes) {
        Some(Format::Zip) => archive::read_zip(bytes, &options.archive_limits),
        Some(Format::Camt(_)) => camt::read(bytes),
        Some(Format::Mt940 | Format::Mt942) => mt940::read_with(bytes, options.default_currency),
        Some(Format::Ofx) => ofx::read(bytes),
        Some(Format::Csv) => csv::read(
            bytes,
            options.csv_mapping.as_ref(),
            options.default_currency,
        ),
        None => Err(StatementError::UnknownFormat),
    }
}
