//! One way to page through every list: an opaque cursor and a bounded limit, one envelope.
//!
//! Request: `?limit=50&cursor=<opaque>`. Response: `{"items": [...], "page": {"limit": 50,
//! "next_cursor": "<opaque>" | null}}`. The cursor is the last item's sort key, base64url-encoded;
//! clients must treat it as opaque.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::http::problem::{ApiError, FieldError};

/// The default page size.
pub const DEFAULT_LIMIT: u32 = 50;
/// The largest page size a client may ask for.
pub const MAX_LIMIT: u32 = 200;

/// Paging parameters of a list request.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Paging parameters, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Items per page.
    pub limit: u32,
    /// The decoded cursor (the sort key to continue after), if any.
    pub after: Option<String>,
}

impl PageParams {
    /// Validates the limit and decodes the cursor.
    ///
    /// # Errors
    /// A 400 problem naming `limit` or `cursor`.
    pub fn validate(&self) -> Result<PageRequest, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::invalid(
                "invalid paging parameters",
                vec![FieldError {
                    field: "limit".into(),
                    message: format!("must be between 1 and {MAX_LIMIT}"),
                }],
            ));
        }
        let after = match &self.cursor {
            None => None,
            Some(c) => Some(decode_cursor(c).ok_or_else(|| {
                ApiError::invalid(
                    "invalid paging parameters",
                    vec![FieldError {
                        field: "cursor".into(),
                        message: "not a cursor returned by this API".into(),
                    }],
                )
            })?),
        };
        Ok(PageRequest { limit, after })
    }
}

/// Paging information of a list response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PageInfo {
    /// The page size used.
    pub limit: u32,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The envelope of every list response.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    /// This page's items.
    pub items: Vec<T>,
    /// How to continue.
    pub page: PageInfo,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` items fetched in order: the extra item, if present,
    /// only proves there is a next page; `key` gives an item's sort key for the cursor.
    #[must_use]
    pub fn from_overfetch(mut items: Vec<T>, limit: u32, key: impl Fn(&T) -> String) -> Self {
        let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
        let has_more = items.len() > limit_usize;
        items.truncate(limit_usize);
        let next_cursor = if has_more {
            items.last().map(|last| encode_cursor(&key(last)))
        } else {
            None
        };
        Self {
            items,
            page: PageInfo { limit, next_cursor },
        }
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Encodes a sort key as an opaque cursor (unpadded base64url).
#[must_use]
pub fn encode_cursor(key: &str) -> String {
    let bytes = key.as_bytes();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            let idx = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(ALPHABET[idx as usize]));
        }
    }
    out
}

/// Decodes a cursor; `None` when it is not one of ours.
#[must_use]
pub fn decode_cursor(cursor: &str) -> Option<String> {
    if cursor.is_empty() || cursor.len() > 512 || cursor.len() % 4 == 1 {
        return None;
    }
    let mut bytes = Vec::with_capacity(cursor.len() * 3 / 4);
    for chunk in cursor.as_bytes().chunks(4) {
        let mut n: u32 = 0;
        for (i, c) in chunk.iter().enumerate() {
            let v = u32::try_from(ALPHABET.iter().position(|a| a == c)?).ok()?;
            n |= v << (18 - 6 * i);
        }
        let produced = chunk.len() - 1;
        for i in 0..produced {
            bytes.push(u8::try_from((n >> (16 - 8 * i)) & 0xff).ok()?);
        }
    }
    let text = String::from_utf8(bytes).ok()?;
    // Re-encoding must give the same text, so non-canonical cursors are refused.
    (encode_cursor(&text) == cursor).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_tampering() {
        for key in ["", "a", "ab", "abc", "2026-11-22T10:00:00Z|0190f3a1-7c1e"] {
            let c = encode_cursor(key);
            if !key.is_empty() {
                assert_eq!(decode_cursor(&c).as_deref(), Some(key));
            }
        }
        assert_eq!(decode_cursor("!!!!"), None);
        assert_eq!(decode_cursor("A"), None);
        assert_eq!(decode_cursor("YR"), None, "non-canonical trailing bits");
    }

    #[test]
    fn limits_are_bounded_and_named_in_the_error() {
        assert_eq!(PageParams::default().validate().unwrap().limit, 50);
        for bad in [0, 201] {
            let e = PageParams {
                limit: Some(bad),
                cursor: None,
            }
            .validate()
            .unwrap_err();
            assert_eq!(e.kind(), crate::http::problem::ProblemKind::BadRequest);
        }
        assert!(
            PageParams {
                limit: None,
                cursor: Some("%%%".into())
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn overfetching_one_item_yields_the_next_cursor() {
        let page = Page::from_overfetch(vec![1, 2, 3], 2, ToString::to_string);
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(
            page.page.next_cursor.as_deref().and_then(decode_cursor),
            Some("2".to_owned())
        );
        let last = Page::from_overfetch(vec![1, 2], 2, ToString::to_string);
        assert_eq!(last.page.next_cursor, None);
    }
}
