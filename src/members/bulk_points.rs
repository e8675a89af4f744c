//! Points adjusted for many members at once from a file (CSV or XLSX, as a spreadsheet
//! saves it): one row per adjustment with the member's phone (or member id), the points
//! (`150` adds, `-20` takes) and a reason (or one reason for the whole file). Every row
//! is checked before anything moves; a file with any problem changes nothing and its
//! problems are named by row and column as the spreadsheet shows them. A checked file
//! is posted in one transaction, each row under its own key, so confirming it twice
//! posts it once.

use crate::audit::{ActorRef, RequestMeta};
use crate::ledger::{self, Kind, LedgerError, Posting};
use crate::money::Points;
use crate::store::Db;

use super::import_file::{FileError, read_bytes};
use super::model::Phone;

/// Most rows one file may adjust.
pub const MAX_ROWS: usize = 10_000;

/// What is wrong with a file or one of its cells. `code()` is stable; pages say it in
/// their language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The file could not be read as CSV or XLSX.
    Unreadable,
    /// No column is named phone or member id.
    NoMemberColumn,
    NoPointsColumn,
    NoRows,
    TooManyRows,
    BadPhone,
    BadMemberId,
    NoSuchMember,
    /// Not a whole number, or zero, or beyond the ledger's limit.
    BadPoints,
    /// No reason in the row and none for the whole file.
    NoReason,
    ReasonTooLong,
    /// Taking more than the member has to spend.
    NotEnoughPoints,
    /// A balance would pass the ledger's limit.
    PointsLimit,
}

impl Problem {
    pub fn code(self) -> &'static str {
        match self {
            Problem::Unreadable => "unreadable",
            Problem::NoMemberColumn => "no_member_column",
            Problem::NoPointsColumn => "no_points_column",
            Problem::NoRows => "no_rows",
            Problem::TooManyRows => "too_many_rows",
            Problem::BadPhone => "bad_phone",
            Problem::BadMemberId => "bad_member_id",
            Problem::NoSuchMember => "no_such_member",
            Problem::BadPoints => "bad_points",
            Problem::NoReason => "no_reason",
            Problem::ReasonTooLong => "reason_too_long",
            Problem::NotEnoughPoints => "not_enough_points",
            Problem::PointsLimit => "points_limit",
        }
    }
}

/// A problem at a place in the file: the row as a spreadsheet numbers it (the header is
/// row 1; 0 for the file as a whole) and the column's letter and heading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowProblem {
    pub row: u64,
    pub column: String,
    pub value: String,
    pub problem: Problem,
}

impl RowProblem {
    fn file(problem: Problem) -> RowProblem {
        RowProblem {
            row: 0,
            column: String::new(),
            value: String::new(),
            problem,
        }
    }
}

/// A row read and checked: who, how many points, why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Adjustment {
    pub row: u64,
    pub member_id: i64,
    pub points: i64,
    pub reason: String,
}

/// Who a row names, as typed.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Who {
    Phone(Phone),
    Id(i64),
}

/// A row as read, before its member is looked up.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Typed {
    row: u64,
    who: Who,
    who_cell: (String, String),
    points: i64,
    reason: String,
}

fn letter(i: usize) -> String {
    super::import_file::cell_name(0, i as u32)
        .trim_end_matches(char::is_numeric)
        .to_string()
}

fn heading_is(cell: &str, names: &[&str]) -> bool {
    let c = cell.trim().to_lowercase().replace([' ', '-'], "_");
    names.contains(&c.as_str())
}

/// The rows of a file, read and checked on their own (members not yet looked up).
fn read(bytes: &[u8], is_xlsx: bool, reason_for_all: &str) -> Result<Vec<Typed>, Vec<RowProblem>> {
    let mut rows: Vec<(u64, Vec<String>)> = vec![];
    let mut failed = None;
    read_bytes(is_xlsx, bytes, |batch| match batch {
        Ok(b) => {
            rows.extend(b.rows);
            rows.len() <= MAX_ROWS + 1
        }
        Err(e) => {
            failed = Some(e);
            false
        }
    });
    if let Some(FileError::Invalid(_) | FileError::Io(_)) = failed {
        return Err(vec![RowProblem::file(Problem::Unreadable)]);
    }
    let mut rows = rows.into_iter();
    let Some((_, header)) = rows.next() else {
        return Err(vec![RowProblem::file(Problem::NoRows)]);
    };
    let find = |names: &[&str]| header.iter().position(|h| heading_is(h, names));
    let phone_col = find(&["phone", "mobile", "tel", "โทรศัพท์", "เบอร์โทร", "เบอร์"]);
    let id_col = find(&["member_id", "member", "id", "รหัสสมาชิก"]);
    let points_col = find(&["points", "point", "คะแนน"]);
    let reason_col = find(&["reason", "เหตุผล"]);
    let Some(points_col) = points_col else {
        return Err(vec![RowProblem::file(Problem::NoPointsColumn)]);
    };
    let Some(who_col) = phone_col.or(id_col) else {
        return Err(vec![RowProblem::file(Problem::NoMemberColumn)]);
    };
    let column = |i: usize| format!("{} ({})", letter(i), header[i].trim());
    let rows: Vec<(u64, Vec<String>)> = rows
        .filter(|(_, cells)| cells.iter().any(|c| !c.trim().is_empty()))
        .collect();
    if rows.is_empty() {
        return Err(vec![RowProblem::file(Problem::NoRows)]);
    }
    if rows.len() > MAX_ROWS {
        return Err(vec![RowProblem::file(Problem::TooManyRows)]);
    }
    let mut typed = Vec::with_capacity(rows.len());
    let mut problems = vec![];
    for (row, cells) in rows {
        let cell = |i: usize| {
            cells
                .get(i)
                .map(|c| c.trim().to_string())
                .unwrap_or_default()
        };
        let problem = |i: usize, problem: Problem| RowProblem {
            row,
            column: column(i),
            value: cell(i),
            problem,
        };
        let who = if phone_col.is_some() {
            Phone::parse(&cell(who_col))
                .map(Who::Phone)
                .map_err(|_| problem(who_col, Problem::BadPhone))
        } else {
            cell(who_col)
                .parse::<i64>()
                .map(Who::Id)
                .map_err(|_| problem(who_col, Problem::BadMemberId))
        };
        let points = cell(points_col)
            .replace(',', "")
            .trim_start_matches('+')
            .parse::<i64>()
            .ok()
            .filter(|p| *p != 0 && p.unsigned_abs() <= ledger::model::MAX_POINTS as u64)
            .ok_or_else(|| problem(points_col, Problem::BadPoints));
        let reason = match reason_col.map(cell).filter(|r| !r.is_empty()) {
            Some(r) => r,
            None => reason_for_all.trim().to_string(),
        };
        let reason = if reason.is_empty() {
            Err(problem(reason_col.unwrap_or(points_col), Problem::NoReason))
        } else if reason.chars().count() > 200 {
            Err(problem(
                reason_col.unwrap_or(points_col),
                Problem::ReasonTooLong,
            ))
        } else {
            Ok(reason)
        };
        match (who, points, reason) {
            (Ok(who), Ok(points), Ok(reason)) => typed.push(Typed {
                row,
                who,
                who_cell: (column(who_col), cell(who_col)),
                points,
                reason,
            }),
            (who, points, reason) => {
                problems.extend(who.err());
                problems.extend(points.err());
                problems.extend(reason.err());
            }
        }
    }
    if problems.is_empty() {
        Ok(typed)
    } else {
        Err(problems)
    }
}

/// Read a file and look up its members: the adjustments it asks for, or every problem
/// found in it.
pub async fn check(
    db: &Db,
    tenant_id: i64,
    bytes: &[u8],
    is_xlsx: bool,
    reason_for_all: &str,
) -> Result<Result<Vec<Adjustment>, Vec<RowProblem>>, sqlx::Error> {
    let typed = match read(bytes, is_xlsx, reason_for_all) {
        Ok(t) => t,
        Err(problems) => return Ok(Err(problems)),
    };
    let mut adjustments = Vec::with_capacity(typed.len());
    let mut problems = vec![];
    for t in typed {
        let found = match &t.who {
            Who::Phone(phone) => super::store::find_by_phone(db, tenant_id, phone)
                .await?
                .filter(|m| m.status != "erased")
                .map(|m| m.id),
            Who::Id(id) => super::store::resolve_alias(db, tenant_id, *id).await?,
        };
        match found {
            Some(member_id) => adjustments.push(Adjustment {
                row: t.row,
                member_id,
                points: t.points,
                reason: t.reason,
            }),
            None => problems.push(RowProblem {
                row: t.row,
                column: t.who_cell.0,
                value: t.who_cell.1,
                problem: Problem::NoSuchMember,
            }),
        }
    }
    Ok(if problems.is_empty() {
        Ok(adjustments)
    } else {
        Err(problems)
    })
}

/// What posting a file did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Posted {
    pub rows: usize,
    pub added: i64,
    pub taken: i64,
    /// Confirmed before: nothing new was posted.
    pub replayed: bool,
}

/// Why a checked file was not posted.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    /// A row the ledger refused (a balance changed since the file was checked).
    #[error("row {}: {}", .0.row, .0.problem.code())]
    Row(RowProblem),
    #[error(transparent)]
    Ledger(LedgerError),
}

/// Post checked adjustments in one transaction under `key` (one key per checked file,
/// so confirming it twice posts once).
pub async fn post(
    db: &Db,
    tenant_id: i64,
    adjustments: &[Adjustment],
    key: &str,
    actor: ActorRef<'_>,
    meta: &RequestMeta,
) -> Result<Posted, PostError> {
    let postings: Vec<Posting> = adjustments
        .iter()
        .map(|a| Posting {
            amount: Points::new(a.points.abs()),
            idem_key: format!("bulk:{key}:{}", a.row),
            request_hash: format!("{}:{}", a.member_id, a.points),
            reason: Some(a.reason.clone()),
            actor_kind: actor.kind.to_string(),
            actor_id: actor.id,
            ..Posting::blank(
                tenant_id,
                a.member_id,
                if a.points > 0 {
                    Kind::AdjustCredit
                } else {
                    Kind::AdjustDebit
                },
            )
        })
        .collect();
    let posted = ledger::post_all(db, tenant_id, &postings, actor, meta, "points.adjusted")
        .await
        .map_err(|(at, e)| {
            let problem = match e {
                LedgerError::InsufficientPoints { .. } => Problem::NotEnoughPoints,
                LedgerError::PointsLimit => Problem::PointsLimit,
                e => return PostError::Ledger(e),
            };
            match at.and_then(|i| adjustments.get(i)) {
                Some(a) => PostError::Row(RowProblem {
                    row: a.row,
                    column: String::new(),
                    value: a.points.to_string(),
                    problem,
                }),
                None => PostError::Row(RowProblem::file(problem)),
            }
        })?;
    Ok(Posted {
        rows: posted.len(),
        added: adjustments.iter().map(|a| a.points.max(0)).sum(),
        taken: adjustments.iter().map(|a| (-a.points).max(0)).sum(),
        replayed: posted.iter().all(|p| p.replayed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_named_by_row_and_column_and_nothing_passes_with_one() {
        let file = "เบอร์โทร,คะแนน,เหตุผล\n081-234-5678,150,ชดเชยเครื่องเสีย\n0812,-20,\n089-999-9999,abc,x\n,,\n";
        let problems = read(file.as_bytes(), false, "").unwrap_err();
        let named: Vec<(u64, &str, Problem)> = problems
            .iter()
            .map(|p| (p.row, p.column.as_str(), p.problem))
            .collect();
        assert_eq!(
            named,
            [
                (3, "A (เบอร์โทร)", Problem::BadPhone),
                (3, "C (เหตุผล)", Problem::NoReason),
                (4, "B (คะแนน)", Problem::BadPoints),
            ]
        );
        let no_reason = "phone,points\n081-234-5678,5\n";
        assert_eq!(
            read(no_reason.as_bytes(), false, "").unwrap_err()[0].problem,
            Problem::NoReason,
            "no reason for the row or the file"
        );
        let ok = "phone,points\n081-234-5678,\"1,000\"\n0899999999,-5\n";
        let rows = read(ok.as_bytes(), false, "ชดเชย").unwrap();
        assert_eq!(
            rows.iter().map(|r| (r.row, r.points)).collect::<Vec<_>>(),
            [(2, 1_000), (3, -5)]
        );
        assert_eq!(
            read(b"name,points\nx,1\n", false, "r").unwrap_err()[0].problem,
            Problem::NoMemberColumn
        );
    }
}
