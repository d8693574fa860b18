//! The one error type of statement reading, with where in the file it happened.

use std::fmt;

/// Where in a file something was found: a line (1-based) or an XML element path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The whole file.
    File,
    /// A line of a text file (1-based).
    Line(usize),
    /// An element of an XML file, as a path (`Stmt[2]/Ntry[3]/Amt`), with its line.
    Element {
        /// The path from the document's root, 1-based indexes where siblings repeat.
        path: String,
        /// The line the element starts on.
        line: usize,
    },
    /// A member of a ZIP archive, and where inside it.
    Member {
        /// The member's name in the archive.
        name: String,
        /// Where inside the member.
        inner: Box<Location>,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File => f.write_str("the file"),
            Self::Line(n) => write!(f, "line {n}"),
            Self::Element { path, line } => write!(f, "element {path} (line {line})"),
            Self::Member { name, inner } => write!(f, "archive member {name}, {inner}"),
        }
    }
}

/// Why a statement file could not be read. Nothing is imported from a file that fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    /// The content is none of the supported formats.
    #[error(
        "not a statement file this reader knows (CAMT, MT940/MT942, OFX, CSV or a ZIP of CAMT)"
    )]
    UnknownFormat,
    /// The file is malformed at a place.
    #[error("{at}: {message}")]
    Malformed {
        /// Where.
        at: Location,
        /// What is wrong, in a few words.
        message: String,
    },
    /// The XML carries a document type declaration (refused: entity expansion, external entities).
    #[error("{at}: a document type declaration (DOCTYPE) is not allowed in a statement file")]
    DoctypeRefused {
        /// Where.
        at: Location,
    },
    /// An archive exceeds a limit.
    #[error("the archive exceeds a limit: {0}")]
    ArchiveLimit(String),
    /// The file holds no statement at all.
    #[error("the file holds no statement: {0}")]
    NoStatement(String),
}

impl StatementError {
    /// A malformed-input error at `at`.
    pub(crate) fn at(at: Location, message: impl Into<String>) -> Self {
        Self::Malformed {
            at,
            message: message.into(),
        }
    }

    /// The error with its location placed inside archive member `name`.
    #[must_use]
    pub(crate) fn in_member(self, name: &str) -> Self {
        let wrap = |at: Location| Location::Member {
            name: name.to_owned(),
            inner: Box::new(at),
        };
        match self {
            Self::Malformed { at, message } => Self::Malformed {
                at: wrap(at),
                message,
            },
            Self::DoctypeRefused { at } => Self::DoctypeRefused { at: wrap(at) },
            Self::UnknownFormat => Self::Malformed {
                at: wrap(Location::File),
                message: "not a CAMT statement".to_owned(),
            },
            other => other,
        }
    }

    /// Where the error is, if it is at a place.
    #[must_use]
    pub fn location(&self) -> Option<&Location> {
        match self {
            Self::Malformed { at, .. } | Self::DoctypeRefused { at } => Some(at),
            _ => None,
        }
    }
}
