//! What a household receives: cash, or goods with quantities valued in fen.

use crate::error::DomainError;
use crate::money::{Fen, MAX_FEN};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// What it is: "大米 (10 kg)", "食用油", "棉衣".
    pub name: String,
    pub quantity: u32,
    /// Value of one, in fen.
    pub unit_value: Fen,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "form", rename_all = "snake_case", deny_unknown_fields)]
pub enum Help {
    Cash { amount: Fen },
    InKind { items: Vec<Item> },
}

impl Help {
    /// The value in fen: the cash, or the sum of quantity × unit value. Refuses empty lists, zero
    /// quantities and totals beyond what the format can carry.
    pub fn value(&self) -> Result<Fen, DomainError> {
        match self {
            Help::Cash { amount } => Ok(*amount),
            Help::InKind { items } => {
                if items.is_empty() || items.len() > 50 {
                    return Err(DomainError::OutOfRange {
                        field: "items",
                        reason: "列出 1–50 件物品 / list 1–50 items".into(),
                    });
                }
                let mut total: i64 = 0;
                for item in items {
                    crate::aggregates::text_field("items.name", &item.name, 50)?;
                    if item.quantity == 0 || item.quantity > 10_000 {
                        return Err(DomainError::OutOfRange {
                            field: "items.quantity",
                            reason: format!(
                                "数量应为 1–10000 / a quantity is 1–10000 (got {})",
                                item.quantity
                            ),
                        });
                    }
                    total = i64::from(item.quantity)
                        .checked_mul(item.unit_value.get())
                        .and_then(|v| total.checked_add(v))
                        .filter(|t| *t <= MAX_FEN)
                        .ok_or_else(|| DomainError::OutOfRange {
                            field: "items",
                            reason: "总价值过大 / the total value is beyond 2^53 − 1 fen".into(),
                        })?;
                }
                Fen::new(total).map_err(|reason| DomainError::OutOfRange {
                    field: "items",
                    reason,
                })
            }
        }
    }
}

/// What the help is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// 生活
    Living,
    /// 医疗
    Medical,
    /// 就学
    Schooling,
    /// 住房
    Housing,
    /// 就业
    Employment,
    /// 节日慰问
    Festival,
}
