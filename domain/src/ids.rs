//! Identifiers. Each kind of id is its own type, so a household id can never be passed where a
//! cadre id is meant. All share the ledger's aggregate-id alphabet: 1–128 of `[A-Za-z0-9._:-]`.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        id_type!($(#[$doc])* $name, "");
    };
    ($(#[$doc:meta])* $name:ident, $forbid:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn new(s: &str) -> Result<Self, String> {
                if bangfu_ledger::statement::is_aggregate_id(s) && !s.contains(|c| $forbid.contains(c)) {
                    Ok($name(s.to_owned()))
                } else {
                    Err(format!(
                        "{:?} is not a valid {}: use 1–128 of A-Z a-z 0-9 . _ : -{}",
                        s.chars().take(40).collect::<String>(),
                        stringify!($name),
                        if $forbid.is_empty() { String::new() } else { format!(" (but not {})", $forbid) }
                    ))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                $name::new(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

id_type!(
    /// A unit: a bureau, street office, township, party branch.
    UnitId
);
id_type!(
    /// A cadre (干部): an official who can be paired with households.
    CadreId
);
id_type!(
    /// A household in hardship (困难家庭), registered with its archive.
    HouseholdId
);
id_type!(
    /// A program (帮扶活动): a named campaign with its rules. No `:`, which separates it from the
    /// household in a pairing's id.
    ProgramId,
    ":"
);
id_type!(
    /// A fund: a unit pool (统一管理) or a named fund.
    FundId
);
id_type!(
    /// A request for help (三单 / 办实事), unique within its pairing.
    RequestId
);
id_type!(
    /// One contribution to a fund, unique within the fund.
    ContributionId
);
id_type!(
    /// A spot-check campaign (抽查回访) for one program and year.
    CampaignId
);
id_type!(
    /// A person holding a key who is not a cadre or household: a coordinator, an inspector, …
    PersonId
);
id_type!(
    /// One visit, chosen by the recording client, unique within its pairing.
    VisitId
);
id_type!(
    /// One disbursement, unique within its fund.
    DisbursementId
);
id_type!(
    /// One personal donation by a cadre, unique within its pairing.
    DonationId
);

/// A pairing is addressed as `pairing/<program>:<household>`: one stream per household and
/// program, so "at most one active pairing per household per program" is a rule of one aggregate.
/// Program ids hold no `:`, so the split is unambiguous.
pub fn pairing_aggregate_id(program: &ProgramId, household: &HouseholdId) -> String {
    format!("{program}:{household}")
}
