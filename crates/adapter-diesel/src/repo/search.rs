//! What the paginated, searchable lists share: the page size cap, case-insensitive substring
//! patterns, and the amounts a search text may mean.

use payymo_domain::money::Money;

use super::currency_of;

/// The largest page any list returns (a page of 500 plus one to see whether more follow).
const MAX_PAGE: i64 = 501;

pub(super) fn page_limit(limit: u32) -> i64 {
    i64::from(limit).clamp(1, MAX_PAGE)
}

diesel::define_sql_function! {
    /// SQL `lower` of a text (PostgreSQL's folds every letter).
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

diesel::define_sql_function! {
    /// SQL `lower` of a nullable text.
    #[sql_name = "lower"]
    fn lower_opt(
        x: diesel::sql_types::Nullable<diesel::sql_types::Text>,
    ) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

/// A case-insensitive substring pattern for `LIKE .. ESCAPE '\'`: the searched text in lower
/// case with LIKE's wildcards escaped (columns are compared through SQL `lower` on PostgreSQL,
/// `payymo_fold` on SQLite, both folding every letter).
pub(super) fn contains_pattern(text: &str) -> String {
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// The amounts `text` may mean, by minor units, each with the currencies (of those stored) in
/// which it reads so: "50" is 5000 in EUR and 50 in JPY. Empty when it is not an amount.
pub(super) fn amount_candidates(text: &str, currencies: &[String]) -> Vec<(i64, Vec<String>)> {
    let mut out: Vec<(i64, Vec<String>)> = Vec::new();
    for code in currencies {
        let Ok(currency) = currency_of(code) else {
            continue;
        };
        let Ok(amount) = Money::parse(text.trim(), currency) else {
            continue;
        };
        let minor = amount.minor_units();
        match out.iter_mut().find(|(m, _)| *m == minor) {
            Some((_, codes)) => codes.push(code.clone()),
            None => out.push((minor, vec![code.clone()])),
        }
    }
    out
}
