//! Refusals. Each says, in Chinese and English, what was wrong and what to do instead; the ledger
//! stays exactly as it was.

use crate::date::Date;
use crate::money::yuan;
use crate::role::Role;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainError {
    /// The statement's `type` is not a bangfu command.
    UnknownCommand(String),
    /// The command was sent to the wrong kind of aggregate.
    WrongTarget {
        command: String,
        expected: &'static str,
    },
    /// The target's id does not match what the arguments name (e.g. a pairing's program and household).
    TargetMismatch { target: String, expected: String },
    /// `args` do not fit the command: a missing, extra or ill-typed field, with serde's words.
    BadArgs { command: String, reason: String },
    /// The signing key is not registered.
    KeyUnknown,
    /// The signing key was revoked.
    KeyRevoked { reason: String },
    /// The key's roles do not allow the command.
    RoleNotAllowed { command: String, roles: Vec<Role> },
    /// The command may only be issued by the person it concerns (their own key, their own visit, …).
    NotYours { what: String },
    /// Entry 0 must be the genesis, and only entry 0.
    Genesis { reason: &'static str },
    /// Something the command refers to does not exist.
    NotFound { what: &'static str, id: String },
    /// Something the command would create exists already.
    AlreadyExists { what: &'static str, id: String },
    /// A fund cannot pay out more than it holds.
    Overdraft {
        fund: String,
        balance: i64,
        requested: i64,
    },
    /// A date later than today (China Standard Time).
    DateInFuture { date: Date, today: Date },
    /// A date before something it must follow (the pairing's start, a cadre's registration, …).
    DateTooEarly {
        date: Date,
        earliest: Date,
        what: &'static str,
    },
    /// The household already has an active pairing in this program.
    ActivePairingExists { household: String, program: String },
    /// The signer is not (or no longer) paired with this household.
    NotPaired { cadre: String },
    /// The cadre has retired or transferred away and can take no new duties.
    CadreInactive { cadre: String, status: &'static str },
    /// The household is registered but no longer in hardship (exited).
    HouseholdExited { household: String },
    /// A numeric argument outside its range (amounts, counts, rates).
    OutOfRange { field: &'static str, reason: String },
    /// The aggregate is not in a state where this command makes sense.
    WrongState { command: String, state: String },
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DomainError::*;
        match self {
            UnknownCommand(c) => write!(
                f,
                "未知的指令 {c:?} / unknown command {c:?}; `bangfu commands` lists them"
            ),
            WrongTarget { command, expected } => write!(
                f,
                "指令 {command} 只能发给 {expected} / {command} must target {expected}/<id>"
            ),
            TargetMismatch { target, expected } => write!(
                f,
                "目标 {target} 与参数不符，应为 {expected} / target {target} does not match the arguments; use {expected}"
            ),
            BadArgs { command, reason } => write!(
                f,
                "{command} 的参数有误：{reason} / the arguments of {command} are wrong: {reason}"
            ),
            KeyUnknown => write!(
                f,
                "签名密钥未登记 / the signing key is not registered; ask a coordinator to register it"
            ),
            KeyRevoked { reason } => write!(
                f,
                "签名密钥已被吊销（{reason}）/ the signing key was revoked ({reason}); sign with your current key"
            ),
            RoleNotAllowed { command, roles } => {
                let held: Vec<String> = roles
                    .iter()
                    .map(|r| format!("{}({})", r.name(), r.chinese()))
                    .collect();
                write!(
                    f,
                    "无权发出 {command}（所持角色：{}）/ the key's roles ({}) may not issue {command}",
                    held.join(", "),
                    held.join(", ")
                )
            }
            NotYours { what } => write!(
                f,
                "只能由本人操作：{what} / only the person concerned may do this: {what}"
            ),
            Genesis { reason } => write!(f, "创世条目有误 / genesis: {reason}"),
            NotFound { what, id } => write!(
                f,
                "{what} {id} 不存在 / {what} {id} is not registered; register it first"
            ),
            AlreadyExists { what, id } => write!(
                f,
                "{what} {id} 已存在 / {what} {id} exists already; choose a new id"
            ),
            Overdraft {
                fund,
                balance,
                requested,
            } => write!(
                f,
                "基金 {fund} 余额不足：余额 {}，拨付 {} / fund {fund} holds {}, less than the {} to pay out",
                yuan(*balance),
                yuan(*requested),
                yuan(*balance),
                yuan(*requested)
            ),
            DateInFuture { date, today } => write!(
                f,
                "日期 {date} 晚于今天 {today} / the date {date} is after today ({today}, China time); record what has happened"
            ),
            DateTooEarly {
                date,
                earliest,
                what,
            } => write!(
                f,
                "日期 {date} 早于{what}（{earliest}）/ the date {date} is before the {what} ({earliest})"
            ),
            ActivePairingExists { household, program } => write!(
                f,
                "该户在 {program} 中已有有效结对 / household {household} already has an active pairing in {program}; hand it over or end it first"
            ),
            NotPaired { cadre } => write!(
                f,
                "干部 {cadre} 未与该户结对 / cadre {cadre} is not currently paired with this household"
            ),
            CadreInactive { cadre, status } => write!(
                f,
                "干部 {cadre} 已{} / cadre {cadre} has {status} and can take no new duties",
                if *status == "retired" {
                    "退休"
                } else {
                    "调离"
                }
            ),
            HouseholdExited { household } => write!(
                f,
                "该户已脱困 / household {household} has exited hardship; record its return first"
            ),
            OutOfRange { field, reason } => write!(f, "{field}: {reason}"),
            WrongState { command, state } => write!(
                f,
                "当前状态（{state}）下不能执行 {command} / {command} is not possible while {state}"
            ),
        }
    }
}

impl std::error::Error for DomainError {}
