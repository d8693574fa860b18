//! OFX / QFX: 1.x SGML (leaf elements without end tags) and 2.x XML, with the header oddities of
//! real banks (blank lines, one-line headers, `CHARSET`, empty tags), several bank and card
//! statements per file. OFX gives a closing (ledger) balance but no opening one, so its balance
//! check is unavailable.

use std::collections::HashSet;

use chrono::NaiveDate;
use payymo_domain::money::Currency;

use crate::amount::{self, Decimal, digits, lenient_date};
use crate::error::{Location, StatementError};
use crate::model::{Account, Format, Line, ReadStatements, Statement, Warning};
use crate::text;

#[derive(Debug)]
struct Node {
    name: String,
    text: Option<String>,
    children: Vec<usize>,
    line: usize,
}

/// An OFX document as a tree, SGML or XML alike.
#[derive(Debug)]
struct Tree {
    nodes: Vec<Node>,
}

/// The charset the OFX header or XML prolog declares.
fn declared_charset(bytes: &[u8]) -> Option<String> {
    if let Some(xml) = text::xml_declared_encoding(bytes) {
        return Some(xml);
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(1024)]);
    let upper = head.to_ascii_uppercase();
    let value_of = |key: &str| {
        upper.find(key).map(|i| {
            upper[i + key.len()..]
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '<')
                .collect::<String>()
        })
    };
    if value_of("ENCODING:").as_deref() == Some("UTF-8") {
        return Some("utf-8".to_owned());
    }
    match value_of("CHARSET:").as_deref() {
        Some("1252") => Some("windows-1252".to_owned()),
        Some("NONE" | "") | None => None,
        Some(other) => Some(other.to_owned()),
    }
}

impl Tree {
    fn parse(text: &str) -> Result<Self, StatementError> {
        let upper_start = text
            .as_bytes()
            .windows(5)
            .position(|w| w.eq_ignore_ascii_case(b"<OFX>"))
            .ok_or_else(|| StatementError::at(Location::File, "no <OFX> element"))?;
        let mut line = 1 + text[..upper_start].matches('\n').count();
        let body = &text[upper_start..];
        let mut nodes: Vec<Node> = Vec::new();
        let mut stack: Vec<usize> = Vec::new();
        let mut just_opened: Option<usize> = None;
        let mut rest = body;
        while let Some(lt) = rest.find('<') {
            let between = &rest[..lt];
            line += between.matches('\n').count();
            let content = between.trim();
            if !content.is_empty()
                && let Some(id) = just_opened.take()
            {
                nodes[id].text = Some(unescape(content));
                if stack.last() == Some(&id) {
                    stack.pop();
                }
            }
            let after = &rest[lt + 1..];
            let gt = after.find('>').ok_or_else(|| {
                StatementError::at(Location::Line(line), "a tag that is never closed with '>'")
            })?;
            let tag = after[..gt].trim();
            line += tag.matches('\n').count();
            rest = &after[gt + 1..];
            if tag.starts_with('?') || tag.starts_with('!') {
                if tag.to_ascii_uppercase().starts_with("!DOCTYPE")
                    || tag.to_ascii_uppercase().starts_with("!ENTITY")
                {
                    return Err(StatementError::DoctypeRefused {
                        at: Location::Line(line),
                    });
                }
                continue;
            }
            if let Some(name) = tag.strip_prefix('/') {
                let name = name.trim().to_ascii_uppercase();
                just_opened = None;
                if let Some(k) = stack.iter().rposition(|id| nodes[*id].name == name) {
                    while stack.len() > k + 1 {
                        if let Some(unclosed) = stack.pop() {
                            hoist(&mut nodes, &stack, unclosed);
                        }
                    }
                    stack.pop();
                }
                continue;
            }
            let (name, self_closing) = match tag.strip_suffix('/') {
                Some(n) => (n.trim(), true),
                None => (tag, false),
            };
            let name = name
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            if name.is_empty() {
                return Err(StatementError::at(Location::Line(line), "an empty tag"));
            }
            if stack.len() >= 64 {
                return Err(StatementError::at(
                    Location::Line(line),
                    "elements nested too deeply",
                ));
            }
            let id = nodes.len();
            nodes.push(Node {
                name,
                text: None,
                children: Vec::new(),
                line,
            });
            if let Some(&parent) = stack.last() {
                nodes[parent].children.push(id);
            }
            if self_closing {
                just_opened = None;
            } else {
                stack.push(id);
                just_opened = Some(id);
            }
        }
        if let Some(id) = just_opened {
            let content = rest.trim();
            if !content.is_empty() {
                nodes[id].text = Some(unescape(content));
            }
        }
        if nodes.is_empty() {
            return Err(StatementError::at(Location::File, "no OFX element"));
        }
        Ok(Self { nodes })
    }

    fn child(&self, id: usize, name: &str) -> Option<usize> {
        self.nodes[id]
            .children
            .iter()
            .copied()
            .find(|c| self.nodes[*c].name == name)
    }

    fn children<'a>(&'a self, id: usize, name: &'a str) -> impl Iterator<Item = usize> + 'a {
        self.nodes[id]
            .children
            .iter()
            .copied()
            .filter(move |c| self.nodes[*c].name == name)
    }

    fn text_at(&self, id: usize, path: &[&str]) -> Option<String> {
        let node = path.iter().try_fold(id, |at, name| self.child(at, name))?;
        self.nodes[node]
            .text
            .clone()
            .filter(|t| !t.trim().is_empty())
    }

    fn find_all(&self, name: &str) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|i| self.nodes[*i].name == name)
            .collect()
    }
}

/// An element left open where its parent closes was an empty leaf (SGML): what was read as its
/// children are its siblings.
fn hoist(nodes: &mut [Node], stack: &[usize], unclosed: usize) {
    let moved = std::mem::take(&mut nodes[unclosed].children);
    if let Some(&parent) = stack.last() {
        nodes[parent].children.extend(moved);
    }
}

fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

/// `YYYYMMDD...` (time and zone ignored), lenient on impossible days.
fn ofx_date(text: &str, line: usize, warnings: &mut Vec<Warning>) -> Option<NaiveDate> {
    let t = text.trim();
    let (y, m, d) = (digits(t, 0, 4)?, digits(t, 4, 6)?, digits(t, 6, 8)?);
    let (date, corrected) = lenient_date(i32::try_from(y).ok()?, m, d)?;
    if corrected {
        warnings.push(Warning {
            at: Location::Line(line),
            message: format!("impossible date {t} read as {date}"),
        });
    }
    Some(date)
}

fn ofx_amount(text: &str, currency: Currency) -> Result<payymo_domain::money::Money, String> {
    let sep = if text.contains(',') && !text.contains('.') {
        Decimal::Comma
    } else {
        Decimal::Point
    };
    amount::parse_amount(text, currency, sep)
}

/// Reads an OFX or QFX file.
pub fn read(bytes: &[u8]) -> Result<ReadStatements, StatementError> {
    let charset = declared_charset(bytes);
    let decoded = text::decode(bytes, charset.as_deref());
    let tree = Tree::parse(text::strip_bom(&decoded))?;
    let mut warnings = Vec::new();
    let mut statements = Vec::new();
    let mut roots: Vec<usize> = tree.find_all("STMTRS");
    roots.extend(tree.find_all("CCSTMTRS"));
    roots.sort_unstable();
    for root in roots {
        statements.push(read_statement(&tree, root, &mut warnings)?);
    }
    if !tree.find_all("INVSTMTRS").is_empty() {
        warnings.push(Warning {
            at: Location::File,
            message: "investment statements are not read".to_owned(),
        });
    }
    if statements.is_empty() {
        let status = tree.find_all("SONRS").first().and_then(|s| {
            let code = tree.text_at(*s, &["STATUS", "CODE"])?;
            (code.trim() != "0").then(|| {
                let message = tree.text_at(*s, &["STATUS", "MESSAGE"]).unwrap_or_default();
                format!(
                    "the bank refused the sign-on (status {}{}{})",
                    code.trim(),
                    if message.is_empty() { "" } else { ": " },
                    message.trim()
                )
            })
        });
        return Err(StatementError::NoStatement(status.unwrap_or_else(|| {
            "the OFX file holds no bank or card statement".to_owned()
        })));
    }
    let mut out = ReadStatements {
        format: Format::Ofx,
        statements,
        warnings,
    };
    out.warn_on_mismatches();
    Ok(out)
}

#[expect(
    clippy::too_many_lines,
    reason = "one OFX statement aggregate, read top to bottom"
)]
fn read_statement(
    tree: &Tree,
    root: usize,
    warnings: &mut Vec<Warning>,
) -> Result<Statement, StatementError> {
    let at = |id: usize| Location::Line(tree.nodes[id].line);
    let code = tree
        .text_at(root, &["CURDEF"])
        .ok_or_else(|| StatementError::at(at(root), "a statement without CURDEF"))?;
    let currency = amount::currency(&code).map_err(|m| StatementError::at(at(root), m))?;
    let mut account = Account {
        currency: Some(currency),
        ..Account::default()
    };
    let from = tree
        .child(root, "BANKACCTFROM")
        .or_else(|| tree.child(root, "CCACCTFROM"));
    if let Some(from) = from {
        let id = tree.text_at(from, &["ACCTID"]).map(|s| s.trim().to_owned());
        if let Some(id) = id {
            if crate::mt940::is_iban(&id) {
                account.iban = Some(id);
            } else {
                account.number = Some(id);
            }
        }
        account.bank = tree.text_at(from, &["BANKID"]).map(|s| s.trim().to_owned());
    }
    let mut statement = Statement::new(account);
    if let Some(list) = tree.child(root, "BANKTRANLIST") {
        let start = tree
            .text_at(list, &["DTSTART"])
            .and_then(|t| ofx_date(&t, tree.nodes[list].line, warnings));
        let end = tree
            .text_at(list, &["DTEND"])
            .and_then(|t| ofx_date(&t, tree.nodes[list].line, warnings));
        if let (Some(s), Some(e)) = (start, end) {
            statement.period = Some((s.min(e), e.max(s)));
        }
        let mut seen = HashSet::new();
        for trn in tree.children(list, "STMTTRN") {
            let line_no = tree.nodes[trn].line;
            let figure = tree
                .text_at(trn, &["TRNAMT"])
                .ok_or_else(|| StatementError::at(at(trn), "a transaction without TRNAMT"))?;
            let money = ofx_amount(&figure, currency)
                .map_err(|m| StatementError::at(at(trn), format!("TRNAMT: {m}")))?;
            let mut line = Line::new(money);
            line.booking_date = tree
                .text_at(trn, &["DTPOSTED"])
                .and_then(|t| ofx_date(&t, line_no, warnings));
            if line.booking_date.is_none() {
                warnings.push(Warning {
                    at: at(trn),
                    message: "a transaction without a readable DTPOSTED".to_owned(),
                });
            }
            line.value_date = tree
                .text_at(trn, &["DTAVAIL"])
                .or_else(|| tree.text_at(trn, &["DTUSER"]))
                .and_then(|t| ofx_date(&t, line_no, warnings))
                .or(line.booking_date);
            if let Some(fitid) = tree.text_at(trn, &["FITID"]).map(|s| s.trim().to_owned()) {
                if !seen.insert(fitid.clone()) {
                    warnings.push(Warning {
                        at: at(trn),
                        message: format!("FITID {fitid} is not unique in its statement"),
                    });
                }
                line.bank_reference = Some(fitid);
            }
            line.counterparty_name = tree
                .text_at(trn, &["NAME"])
                .or_else(|| tree.text_at(trn, &["PAYEE", "NAME"]))
                .map(|s| s.trim().to_owned());
            line.remittance = tree.text_at(trn, &["MEMO"]).map(|s| s.trim().to_owned());
            line.counterparty_iban = tree
                .text_at(trn, &["BANKACCTTO", "ACCTID"])
                .or_else(|| tree.text_at(trn, &["CCACCTTO", "ACCTID"]))
                .map(|s| s.trim().to_owned());
            for (key, name) in [
                ("transaction_type", "TRNTYPE"),
                ("check_number", "CHECKNUM"),
                ("reference", "REFNUM"),
            ] {
                if let Some(v) = tree.text_at(trn, &[name]) {
                    line.extra.push((key, v.trim().to_owned()));
                }
            }
            if let Some(r) = line.remittance.as_deref() {
                line.structured_reference = crate::mt940::rf_reference(r);
            }
            statement.lines.push(line);
        }
    }
    if let Some(bal) = tree.child(root, "LEDGERBAL") {
        match tree.text_at(bal, &["BALAMT"]) {
            Some(figure) => {
                statement.closing = Some(
                    ofx_amount(&figure, currency)
                        .map_err(|m| StatementError::at(at(bal), format!("BALAMT: {m}")))?,
                );
            }
            None => warnings.push(Warning {
                at: at(bal),
                message: "a ledger balance without an amount".to_owned(),
            }),
        }
    }
    Ok(statement)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::BalanceCheck;

    const SGML: &[u8] = include_bytes!("../tests/fixtures/ofx_sgml.ofx");

    #[test]
    fn sgml_with_unclosed_and_empty_tags_is_read() {
        let read = read(SGML).unwrap();
        assert_eq!(read.format, Format::Ofx);
        assert_eq!(read.statements.len(), 2, "a bank and a card statement");
        let bank = &read.statements[0];
        assert_eq!(bank.account.number.as_deref(), Some("12345678"));
        assert_eq!(bank.lines.len(), 2);
        assert_eq!(bank.lines[0].amount.minor_units(), 12_000);
        assert_eq!(
            bank.lines[0].counterparty_name.as_deref(),
            Some("ACME CORP")
        );
        assert_eq!(
            bank.lines[0].remittance, None,
            "an empty MEMO is no remittance"
        );
        assert_eq!(bank.lines[1].amount.minor_units(), -4_550);
        assert_eq!(bank.lines[1].remittance.as_deref(), Some("Rent & more"));
        assert_eq!(bank.closing.map(|m| m.minor_units()), Some(107_450));
        assert_eq!(bank.balance_check(), BalanceCheck::Unavailable);
        let card = &read.statements[1];
        assert_eq!(
            card.lines[0].booking_date,
            NaiveDate::from_ymd_opt(2024, 1, 5)
        );
        assert!(
            read.warnings
                .iter()
                .any(|w| w.message.contains("not unique"))
        );
    }

    #[test]
    fn xml_ofx_reads_the_same_lines() {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<?OFX OFXHEADER=\"200\" VERSION=\"220\"?>\n<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>USD</CURDEF><BANKACCTFROM><BANKID>1</BANKID><ACCTID>42</ACCTID><ACCTTYPE>CHECKING</ACCTTYPE></BANKACCTFROM><BANKTRANLIST><STMTTRN><TRNTYPE>CREDIT</TRNTYPE><DTPOSTED>20240102120000[-5:EST]</DTPOSTED><TRNAMT>10.5</TRNAMT><FITID>A</FITID><NAME>X</NAME><MEMO></MEMO></STMTTRN></BANKTRANLIST><LEDGERBAL><BALAMT>10.50</BALAMT><DTASOF>20240102</DTASOF></LEDGERBAL></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>";
        let read = read(xml.as_bytes()).unwrap();
        let s = &read.statements[0];
        assert_eq!(s.lines[0].amount.minor_units(), 1_050);
        assert_eq!(s.lines[0].counterparty_name.as_deref(), Some("X"));
        assert_eq!(s.account.number.as_deref(), Some("42"));
    }

    #[test]
    fn a_refused_sign_on_is_a_clear_error() {
        let text = "OFXHEADER:100\nDATA:OFXSGML\n\n<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>15500<SEVERITY>ERROR<MESSAGE>bad password</STATUS></SONRS></SIGNONMSGSRSV1></OFX>";
        let err = read(text.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("15500"), "{err}");
    }

    #[test]
    fn an_unreadable_amount_names_its_line() {
        let broken = String::from_utf8_lossy(SGML).replacen("<TRNAMT>120.00", "<TRNAMT>$120", 1);
        let err = read(broken.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("line"), "{err}");
    }
}
