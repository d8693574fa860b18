//! ISO 20022 CAMT: camt.052 (account report), camt.053 (statement) and camt.054 (debit/credit
//! notification), every version (.001.01 to .001.14) and files without a namespace.
//!
//! Each `Rpt`/`Stmt`/`Ntfctn` is a statement. An entry with several `TxDtls` is split into its
//! payments (amount from `TxDtls/Amt` or `AmtDtls/TxAmt/Amt`), each keeping the entry's bank
//! reference; what the entry's amount holds beyond its payments (charges) becomes a line of its
//! own, so the balance still holds.

use chrono::NaiveDate;
use payymo_domain::money::{Currency, Money};

use crate::amount::{self, Decimal, negate};
use crate::error::StatementError;
use crate::model::{
    Account, CamtKind, Format, Line, LineStatus, ReadStatements, Statement, Warning,
};
use crate::text;
use crate::xml::{Dom, NodeId};

/// Reads a CAMT document.
pub fn read(bytes: &[u8]) -> Result<ReadStatements, StatementError> {
    let declared = text::xml_declared_encoding(bytes);
    let decoded = text::decode(bytes, declared.as_deref());
    let dom = Dom::parse(text::strip_bom(&decoded))?;
    read_dom(&dom)
}

fn read_dom(dom: &Dom) -> Result<ReadStatements, StatementError> {
    let root = Dom::root();
    let message = if dom.name(root) == "Document" {
        dom.all_children(root)
            .first()
            .copied()
            .ok_or_else(|| StatementError::at(dom.location(root), "an empty Document"))?
    } else {
        root
    };
    // Version 1 messages carry their version in the name (`BkToCstmrAcctRptV01`).
    let name = dom.name(message);
    let base = match name.rfind('V') {
        Some(v)
            if v > 0
                && name[v + 1..].len() == 2
                && name[v + 1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            &name[..v]
        }
        _ => name,
    };
    let (kind, record) = match base {
        "BkToCstmrAcctRpt" => (CamtKind::C052, "Rpt"),
        "BkToCstmrStmt" => (CamtKind::C053, "Stmt"),
        "BkToCstmrDbtCdtNtfctn" => (CamtKind::C054, "Ntfctn"),
        other => {
            return Err(StatementError::at(
                dom.location(message),
                format!("{other} is not a CAMT 052, 053 or 054 message"),
            ));
        }
    };
    let mut out = ReadStatements {
        format: Format::Camt(kind),
        statements: Vec::new(),
        warnings: Vec::new(),
    };
    for node in dom.children(message, record) {
        let statement = read_statement(dom, node, &mut out.warnings)?;
        out.statements.push(statement);
    }
    if out.statements.is_empty() {
        return Err(StatementError::NoStatement(format!(
            "the {} message holds no {record}",
            dom.name(message)
        )));
    }
    out.warn_on_mismatches();
    Ok(out)
}

fn money_of(dom: &Dom, amt: NodeId) -> Result<Money, StatementError> {
    let code = dom
        .attr(amt, "Ccy")
        .ok_or_else(|| StatementError::at(dom.location(amt), "an amount without Ccy"))?;
    let currency = amount::currency(code).map_err(|m| StatementError::at(dom.location(amt), m))?;
    let money = amount::parse_amount(dom.text(amt), currency, Decimal::Point)
        .map_err(|m| StatementError::at(dom.location(amt), m))?;
    if money.is_negative() {
        return Err(StatementError::at(
            dom.location(amt),
            "a negative amount (the sign belongs in CdtDbtInd)",
        ));
    }
    Ok(money)
}

/// `Dt` or `DtTm` under `node`.
fn date_of(dom: &Dom, node: NodeId) -> Result<Option<NaiveDate>, StatementError> {
    let Some(at) = dom.child(node, "Dt").or_else(|| dom.child(node, "DtTm")) else {
        return Ok(None);
    };
    // camt.052/053 v1 wrote `<Dt><Dt>` for balances; both spellings nest once at most.
    let at = dom
        .child(at, "Dt")
        .or_else(|| dom.child(at, "DtTm"))
        .unwrap_or(at);
    amount::iso_date(dom.text(at)).map(Some).ok_or_else(|| {
        StatementError::at(
            dom.location(at),
            format!("{:?} is not a date", dom.text(at)),
        )
    })
}

/// `CRDT` is +1, `DBIT` -1.
fn sign_of(dom: &Dom, node: NodeId) -> Result<Option<bool>, StatementError> {
    match dom.child(node, "CdtDbtInd") {
        None => Ok(None),
        Some(ind) => match dom.text(ind) {
            "CRDT" => Ok(Some(true)),
            "DBIT" => Ok(Some(false)),
            other => Err(StatementError::at(
                dom.location(ind),
                format!("{other:?} is neither CRDT nor DBIT"),
            )),
        },
    }
}

fn signed(money: Money, credit: bool) -> Money {
    if credit { money } else { negate(money) }
}

fn read_account(dom: &Dom, stmt: NodeId) -> Account {
    let mut account = Account::default();
    if let Some(acct) = dom.child(stmt, "Acct") {
        account.iban = dom.text_at(acct, &["Id", "IBAN"]);
        account.number = dom.text_at(acct, &["Id", "Othr", "Id"]);
        account.currency = dom
            .text_at(acct, &["Ccy"])
            .and_then(|c| Currency::from_code(&c).ok());
        account.name = dom.text_at(acct, &["Nm"]);
        account.bank = dom
            .text_at(acct, &["Svcr", "FinInstnId", "BICFI"])
            .or_else(|| dom.text_at(acct, &["Svcr", "FinInstnId", "BIC"]));
    }
    account
}

fn read_statement(
    dom: &Dom,
    stmt: NodeId,
    warnings: &mut Vec<Warning>,
) -> Result<Statement, StatementError> {
    let mut statement = Statement::new(read_account(dom, stmt));
    statement.id = dom.text_at(stmt, &["Id"]);
    if let Some(period) = dom.child(stmt, "FrToDt") {
        let from = dom
            .text_at(period, &["FrDtTm"])
            .and_then(|t| amount::iso_date(&t));
        let to = dom
            .text_at(period, &["ToDtTm"])
            .and_then(|t| amount::iso_date(&t));
        if let (Some(from), Some(to)) = (from, to) {
            statement.period = Some((from, to));
        }
    }
    let mut opening_rank = 0;
    for bal in dom.children(stmt, "Bal") {
        let code = dom
            .text_at(bal, &["Tp", "CdOrPrtry", "Cd"])
            .or_else(|| dom.text_at(bal, &["Tp", "CdOrPrtry", "Prtry"]))
            .unwrap_or_default();
        let Some(amt) = dom.child(bal, "Amt") else {
            return Err(StatementError::at(
                dom.location(bal),
                "a balance without Amt",
            ));
        };
        let credit = sign_of(dom, bal)?.unwrap_or(true);
        let value = signed(money_of(dom, amt)?, credit);
        // The opening booked balance, else the previously closed one (same figure); the
        // interim booked balance opens a camt.052 report when nothing else does.
        let rank = match code.as_str() {
            "OPBD" => 3,
            "PRCD" => 2,
            "ITBD" if statement.opening.is_none() => 1,
            "CLBD" => {
                statement.closing = Some(value);
                0
            }
            _ => 0,
        };
        if rank > opening_rank {
            opening_rank = rank;
            statement.opening = Some(value);
        }
    }
    if opening_rank == 1 {
        // A lone interim balance cannot anchor a check.
        statement.opening = None;
    }
    if statement.account.currency.is_none() {
        statement.account.currency = statement
            .opening
            .or(statement.closing)
            .map(|m| m.currency());
    }
    for entry in dom.children(stmt, "Ntry") {
        read_entry(dom, entry, &mut statement.lines, warnings)?;
    }
    Ok(statement)
}

fn status_of(dom: &Dom, entry: NodeId) -> LineStatus {
    let code = dom
        .text_at(entry, &["Sts", "Cd"])
        .or_else(|| dom.text_at(entry, &["Sts"]))
        .unwrap_or_else(|| "BOOK".to_owned());
    if code == "BOOK" {
        LineStatus::Booked
    } else {
        LineStatus::Pending
    }
}

fn is_reversal(dom: &Dom, node: NodeId) -> bool {
    dom.text_at(node, &["RvslInd"])
        .is_some_and(|t| t == "true" || t == "1")
}

/// The amount of one transaction: `Amt`, else `AmtDtls/TxAmt/Amt`, else `AmtDtls/InstdAmt/Amt`.
fn tx_amount(dom: &Dom, tx: NodeId) -> Result<Option<Money>, StatementError> {
    let node = dom
        .child(tx, "Amt")
        .or_else(|| dom.find(tx, &["AmtDtls", "TxAmt", "Amt"]))
        .or_else(|| dom.find(tx, &["AmtDtls", "InstdAmt", "Amt"]));
    node.map(|n| money_of(dom, n)).transpose()
}

fn read_entry(
    dom: &Dom,
    entry: NodeId,
    lines: &mut Vec<Line>,
    warnings: &mut Vec<Warning>,
) -> Result<(), StatementError> {
    let amt = dom
        .child(entry, "Amt")
        .ok_or_else(|| StatementError::at(dom.location(entry), "an entry without Amt"))?;
    let money = money_of(dom, amt)?;
    let credit = sign_of(dom, entry)?
        .ok_or_else(|| StatementError::at(dom.location(entry), "an entry without CdtDbtInd"))?;
    let reversal = is_reversal(dom, entry);
    // A reversal books the opposite way of its indicator's original meaning.
    let entry_credit = credit != reversal;
    let entry_amount = signed(money, entry_credit);
    let status = status_of(dom, entry);
    let booking_date = dom
        .child(entry, "BookgDt")
        .map(|d| date_of(dom, d))
        .transpose()?
        .flatten();
    let value_date = dom
        .child(entry, "ValDt")
        .map(|d| date_of(dom, d))
        .transpose()?
        .flatten();
    let bank_reference = dom.text_at(entry, &["AcctSvcrRef"]);
    let entry_info = dom.text_at(entry, &["AddtlNtryInf"]);

    let txs: Vec<NodeId> = dom
        .children(entry, "NtryDtls")
        .flat_map(|d| dom.children(d, "TxDtls").collect::<Vec<_>>())
        .collect();

    let base = |amount: Money| {
        let mut line = Line::new(amount);
        line.booking_date = booking_date;
        line.value_date = value_date;
        line.status = status;
        line.bank_reference.clone_from(&bank_reference);
        line
    };

    // Split a batch only when every payment has its amount in the entry's currency.
    let mut split = Vec::new();
    if txs.len() > 1 {
        for &tx in &txs {
            match tx_amount(dom, tx)? {
                Some(m) if m.currency() == money.currency() => {
                    let tx_credit = sign_of(dom, tx)?.unwrap_or(credit) != reversal;
                    split.push((tx, signed(m, tx_credit)));
                }
                _ => {
                    split.clear();
                    warnings.push(Warning {
                        at: dom.location(entry),
                        message: "a batch entry whose payments have no amount in its currency is kept whole".to_owned(),
                    });
                    break;
                }
            }
        }
    }
    if split.is_empty() {
        let mut line = base(entry_amount);
        if let Some(&tx) = txs.first() {
            fill_details(dom, tx, entry_credit, &mut line);
        }
        if line.remittance.is_none() {
            line.remittance.clone_from(&entry_info);
        }
        lines.push(line);
        return Ok(());
    }
    let mut rest = entry_amount;
    for (tx, amount) in split {
        let mut line = base(amount);
        fill_details(
            dom,
            tx,
            amount.is_positive() || (amount.minor_units() == 0 && entry_credit),
            &mut line,
        );
        rest = rest
            .checked_sub(amount)
            .map_err(|e| StatementError::at(dom.location(tx), e.to_string()))?;
        lines.push(line);
    }
    if rest.minor_units() != 0 {
        let mut line = base(rest);
        line.remittance = Some(
            entry_info
                .clone()
                .map_or_else(|| "charges".to_owned(), |i| format!("charges: {i}")),
        );
        warnings.push(Warning {
            at: dom.location(entry),
            message: format!(
                "the batch entry's payments differ from its amount by {}: kept as a charges line",
                rest.to_decimal_string()
            ),
        });
        lines.push(line);
    }
    Ok(())
}

/// The longest a bank cuts one unstructured remittance line at; a line that long was cut
/// mid-text and is joined without a space.
const CUT_WIDTHS: [usize; 3] = [35, 70, 140];

fn join_cut(parts: &[String]) -> Option<String> {
    let mut out = String::new();
    let mut previous_len = None;
    for part in parts {
        if previous_len.is_some_and(|len| !CUT_WIDTHS.contains(&len)) {
            out.push(' ');
        }
        out.push_str(part);
        previous_len = Some(part.chars().count());
    }
    let trimmed = out.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

fn party_name(dom: &Dom, parties: NodeId, role: &str) -> Option<String> {
    dom.text_at(parties, &[role, "Nm"])
        .or_else(|| dom.text_at(parties, &[role, "Pty", "Nm"]))
}

fn fill_details(dom: &Dom, tx: NodeId, credit: bool, line: &mut Line) {
    if let Some(refs) = dom.child(tx, "Refs") {
        line.end_to_end_id = dom
            .text_at(refs, &["EndToEndId"])
            .filter(|id| !id.eq_ignore_ascii_case("NOTPROVIDED"));
        if line.bank_reference.is_none() {
            line.bank_reference = dom.text_at(refs, &["AcctSvcrRef"]);
        }
        for (key, name) in [
            ("instruction_id", "InstrId"),
            ("mandate_id", "MndtId"),
            ("uetr", "UETR"),
            ("transaction_id", "TxId"),
        ] {
            if let Some(value) = dom.text_at(refs, &[name]).filter(|v| v != "NOTPROVIDED") {
                line.extra.push((key, value));
            }
        }
    }
    if let Some(parties) = dom.child(tx, "RltdPties") {
        let (role, account, ultimate) = if credit {
            ("Dbtr", "DbtrAcct", "UltmtDbtr")
        } else {
            ("Cdtr", "CdtrAcct", "UltmtCdtr")
        };
        line.counterparty_name = party_name(dom, parties, role);
        line.counterparty_iban = dom
            .text_at(parties, &[account, "Id", "IBAN"])
            .or_else(|| dom.text_at(parties, &[account, "Id", "Othr", "Id"]));
        if let Some(u) = party_name(dom, parties, ultimate) {
            line.extra.push(("ultimate_party", u));
        }
    }
    if let Some(rmt) = dom.child(tx, "RmtInf") {
        let parts: Vec<String> = dom
            .children(rmt, "Ustrd")
            .map(|u| dom.text(u).to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        line.remittance = join_cut(&parts);
        for strd in dom.children(rmt, "Strd") {
            let reference = dom
                .text_at(strd, &["CdtrRefInf", "Ref"])
                .or_else(|| dom.text_at(strd, &["RfrdDocInf", "Nb"]));
            if line.structured_reference.is_none() {
                line.structured_reference = reference;
            }
            if line.remittance.is_none() {
                line.remittance = dom.text_at(strd, &["AddtlRmtInf"]);
            }
        }
    }
    if line.remittance.is_none() {
        line.remittance = dom.text_at(tx, &["AddtlTxInf"]);
    }
    line.return_reason = dom
        .text_at(tx, &["RtrInf", "Rsn", "Cd"])
        .or_else(|| dom.text_at(tx, &["RtrInf", "Rsn", "Prtry"]));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::BalanceCheck;

    const BATCH: &str = include_str!("../tests/fixtures/camt053_batch.xml");

    #[test]
    fn a_batch_entry_is_split_into_its_payments_keeping_the_entrys_reference() {
        let read = read(BATCH.as_bytes()).unwrap();
        assert_eq!(read.format, Format::Camt(CamtKind::C053));
        let statement = &read.statements[0];
        assert_eq!(
            statement.account.iban.as_deref(),
            Some("DE89370400440532013000")
        );
        assert_eq!(
            statement.balance_check(),
            BalanceCheck::Ok,
            "{:?}",
            read.warnings
        );
        let batch: Vec<&Line> = statement
            .lines
            .iter()
            .filter(|l| l.bank_reference.as_deref() == Some("BATCH-1"))
            .collect();
        assert_eq!(batch.len(), 3, "two payments and the charges");
        assert_eq!(batch[0].amount.minor_units(), 10_000);
        assert_eq!(batch[0].counterparty_name.as_deref(), Some("Acme GmbH"));
        assert_eq!(
            batch[0].structured_reference.as_deref(),
            Some("RF18539007547034")
        );
        assert_eq!(batch[1].amount.minor_units(), 5_050);
        assert_eq!(batch[1].end_to_end_id, None, "NOTPROVIDED is no id");
        assert_eq!(
            batch[1].remittance.as_deref(),
            Some("Invoice 2024-0042 and the invoice 2024-0043"),
            "a line cut at 35 characters is joined without a space"
        );
        assert_eq!(batch[2].amount.minor_units(), -150);
    }

    #[test]
    fn a_reversal_turns_the_sign_and_a_return_keeps_its_reason() {
        let read = read(BATCH.as_bytes()).unwrap();
        let returned = read.statements[0]
            .lines
            .iter()
            .find(|l| l.return_reason.is_some())
            .unwrap();
        assert_eq!(returned.return_reason.as_deref(), Some("AC04"));
        assert_eq!(returned.amount.minor_units(), -2_500);
        assert_eq!(returned.counterparty_name.as_deref(), Some("Jane Doe"));
        let reversal = read.statements[0]
            .lines
            .iter()
            .find(|l| l.remittance.as_deref() == Some("reversal of a credit"))
            .unwrap();
        assert_eq!(reversal.amount.minor_units(), -1_000);
    }

    #[test]
    fn pending_entries_are_kept_apart_from_the_balance() {
        let read = read(BATCH.as_bytes()).unwrap();
        let pending: Vec<_> = read.statements[0]
            .lines
            .iter()
            .filter(|l| l.status == LineStatus::Pending)
            .collect();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].booking_date, None);
        assert_eq!(pending[0].value_date, NaiveDate::from_ymd_opt(2024, 3, 2));
    }

    #[test]
    fn a_version_one_message_name_reads_the_same() {
        let v1 = BATCH.replace("BkToCstmrStmt>", "BkToCstmrStmtV01>");
        assert_ne!(v1, BATCH);
        assert_eq!(
            read(v1.as_bytes()).unwrap().statements,
            read(BATCH.as_bytes()).unwrap().statements
        );
    }

    #[test]
    fn a_file_without_namespace_reads_the_same() {
        let bare = BATCH.replace(
            " xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\"",
            "",
        );
        assert_ne!(bare, BATCH);
        assert_eq!(
            read(bare.as_bytes()).unwrap(),
            read(BATCH.as_bytes()).unwrap()
        );
    }

    #[test]
    fn a_missing_amount_names_the_entry() {
        let broken = BATCH.replacen("<Amt Ccy=\"EUR\">250.00</Amt>", "", 1);
        let err = read(broken.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("Ntry["), "{err}");
    }

    #[test]
    fn a_camt_with_a_doctype_is_refused() {
        let with = BATCH.replacen(
            "<Document",
            "<!DOCTYPE Document SYSTEM \"http://x/y.dtd\"><Document",
            1,
        );
        assert!(matches!(
            read(with.as_bytes()),
            Err(StatementError::DoctypeRefused { .. })
        ));
    }
}
