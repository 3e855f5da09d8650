//! Query and path parameters: parsed, checked, and refused as JSON errors that name the parameter
//! and say what to send (axum's own rejections are plain text).

use super::error::ApiError;
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use bangfu_domain::ids::{CadreId, FundId, HouseholdId, ProgramId};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::IntoParams;

/// The largest page.
pub const MAX_LIMIT: u32 = 1000;
/// The page when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 100;
/// The longest cursor: keys are short ASCII paths.
const MAX_CURSOR: usize = 300;

/// `Query<T>` whose rejection is a JSON `bad_parameter`.
pub struct Q<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Q<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Q<T>, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(t)| Q(t))
            .map_err(|e| {
                ApiError::bad_parameter(format!(
                    "查询参数有误 / a query parameter cannot be used: {}",
                    e.body_text()
                ))
            })
    }
}

/// `Path<T>` whose rejection is a JSON `bad_parameter`.
pub struct P<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for P<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<P<T>, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| P(t))
            .map_err(|e| {
                ApiError::bad_parameter(format!(
                    "路径参数有误 / a path parameter cannot be used: {}",
                    e.body_text()
                ))
            })
    }
}

/// Which moment of the ledger to answer for: now (neither), the end of a day, or a log size.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AtQuery {
    /// Answer as the ledger stood at the end of this day, China time (YYYY-MM-DD). Not with
    /// `at_size`.
    #[param(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", example = "2016-03-31")]
    pub as_of: Option<String>,
    /// Answer as the ledger stood when it had this many entries (at most its size). Not with
    /// `as_of`.
    #[param(minimum = 0)]
    pub at_size: Option<i64>,
}

/// A page: the cursor the previous page returned as `next`, and how many items to return.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Continue after this cursor: the `next` of the previous page. Omit for the first page.
    #[param(pattern = r"^[!-~]{1,300}$")]
    pub after: Option<String>,
    /// At most this many items (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

impl PageQuery {
    /// The cursor (`""` for the first page) and the limit, checked.
    pub fn checked(&self) -> Result<(String, u32), ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::bad_parameter(format!(
                "limit 应在 1 到 {MAX_LIMIT} 之间 / limit must be from 1 to {MAX_LIMIT}, not {limit}"
            )));
        }
        let after = self.after.clone().unwrap_or_default();
        if self.after.is_some()
            && (after.is_empty()
                || after.len() > MAX_CURSOR
                || !after.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(ApiError::bad_parameter(
                "after 不是有效的游标 / after is not a cursor: pass the `next` of the previous page unchanged, or omit it for the first page",
            ));
        }
        Ok((after, limit))
    }
}

/// A count or index: read as a signed 64-bit integer (so the description's `int64` bounds are
/// the ones enforced) and refused when below `min`.
pub fn at_least(name: &str, v: i64, min: u64) -> Result<u64, ApiError> {
    u64::try_from(v).ok().filter(|n| *n >= min).ok_or_else(|| {
        ApiError::bad_parameter(format!(
            "{name} 不能小于 {min} / {name} must be at least {min}, not {v}"
        ))
    })
}

fn id<T>(what: &str, s: &str, parse: impl Fn(&str) -> Result<T, String>) -> Result<T, ApiError> {
    parse(s).map_err(|e| {
        ApiError::bad_parameter(format!("{what} 编号无效 / {s:?} is not a {what} id: {e}"))
    })
}

pub fn household(s: &str) -> Result<HouseholdId, ApiError> {
    id("household", s, HouseholdId::new)
}

pub fn cadre(s: &str) -> Result<CadreId, ApiError> {
    id("cadre", s, CadreId::new)
}

pub fn program(s: &str) -> Result<ProgramId, ApiError> {
    id("program", s, ProgramId::new)
}

pub fn fund(s: &str) -> Result<FundId, ApiError> {
    id("fund", s, FundId::new)
}

/// A pairing id is `<program>:<household>`.
pub fn pairing(s: &str) -> Result<(ProgramId, HouseholdId), ApiError> {
    let (p, h) = s.split_once(':').ok_or_else(|| {
        ApiError::bad_parameter(format!(
            "结对编号无效 / {s:?} is not a pairing id: write <program>:<household>, e.g. p2016:h1"
        ))
    })?;
    Ok((program(p)?, household(h)?))
}

/// A page of a list already in memory, sorted by `key`: the items after `after`, at most
/// `limit`, and the cursor of the next page when more remain.
pub fn page_of<T>(
    mut items: Vec<T>,
    key: impl Fn(&T) -> String,
    after: &str,
    limit: u32,
) -> (Vec<T>, Option<String>) {
    items.sort_by_key(|t| key(t));
    let mut rest: Vec<T> = items
        .into_iter()
        .filter(|t| after.is_empty() || key(t).as_str() > after)
        .collect();
    let more = rest.len() > limit as usize;
    rest.truncate(limit as usize);
    let next = if more { rest.last().map(&key) } else { None };
    (rest, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_in_memory_end_with_no_cursor() {
        let items: Vec<u32> = (1..=5).collect();
        let key = |n: &u32| format!("k{n}");
        let (a, next) = page_of(items.clone(), key, "", 2);
        assert_eq!((a, next.as_deref()), (vec![1, 2], Some("k2")));
        let (b, next) = page_of(items.clone(), key, "k2", 2);
        assert_eq!((b, next.as_deref()), (vec![3, 4], Some("k4")));
        let (c, next) = page_of(items, key, "k4", 2);
        assert_eq!((c, next), (vec![5], None));
    }

    #[test]
    fn cursors_and_limits_are_checked() {
        let ok = PageQuery {
            after: Some("pairing/p:h1".into()),
            limit: Some(10),
        };
        assert_eq!(ok.checked().unwrap(), ("pairing/p:h1".into(), 10));
        for bad in [
            PageQuery {
                after: None,
                limit: Some(0),
            },
            PageQuery {
                after: Some("a b".into()),
                limit: None,
            },
            PageQuery {
                after: Some(String::new()),
                limit: None,
            },
        ] {
            assert_eq!(bad.checked().unwrap_err().code, "bad_parameter");
        }
    }
}
