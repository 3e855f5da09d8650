//! Rules that consult the registry across aggregates: a fund's manager must hold a live
//! fund-manager key, a spot-check sample names registered households only, and no year is assessed
//! before it begins.

mod common;
use bangfu_domain::error::DomainError;
use common::World;
use serde_json::json;

#[test]
fn a_fund_manager_must_hold_a_live_fund_manager_key() {
    let mut w = World::district();
    let fund = |manager: &str| json!({"name": "郭明义基金", "kind": "named", "unit": "gulou", "manager": manager});
    // wang is a registered cadre but holds no fund-manager key.
    assert_eq!(
        w.submit("coord", "create_fund", "fund/named-1", fund("cadre/wang")),
        Err(DomainError::NotFound {
            what: "fund manager key for",
            id: "cadre/wang".into()
        })
    );
    assert!(matches!(
        w.submit(
            "coord",
            "create_fund",
            "fund/named-1",
            fund("person/nobody")
        ),
        Err(DomainError::NotFound { .. })
    ));
    w.register_key("treasurer", "person/treasurer", &["fund_manager"]);
    w.ok(
        "coord",
        "create_fund",
        "fund/named-1",
        fund("person/treasurer"),
    );
    // Once the only key is revoked, no new fund can name that manager.
    w.ok(
        "authority",
        "revoke_key",
        "authority/gulou",
        json!({"key": common::b64key("treasurer"), "reason": "调离"}),
    );
    assert!(matches!(
        w.submit(
            "coord",
            "create_fund",
            "fund/named-2",
            fund("person/treasurer")
        ),
        Err(DomainError::NotFound { .. })
    ));
}

#[test]
fn a_sample_names_registered_households_only() {
    let mut w = World::district();
    w.today = "2017-01-10".into();
    w.ok(
        "inspector",
        "open_campaign",
        "spot_check/gulou2016-check",
        json!({"program": "gulou2016", "year": 2016}),
    );
    assert_eq!(
        w.submit(
            "inspector",
            "record_draw",
            "spot_check/gulou2016-check",
            json!({"checkpoint": "bangfu.example/gulou\n10\nAAAA\n", "sample": ["h1", "ghost"]}),
        ),
        Err(DomainError::NotFound {
            what: "household",
            id: "ghost".into()
        })
    );
    w.ok(
        "inspector",
        "record_draw",
        "spot_check/gulou2016-check",
        json!({"checkpoint": "bangfu.example/gulou\n10\nAAAA\n", "sample": ["h1", "h3"]}),
    );
}

#[test]
fn a_year_is_not_assessed_before_it_begins() {
    let mut w = World::district();
    let publish = |year: i64, size: u64| {
        json!({"program": "gulou2016", "year": year, "log_size": size, "formula": "bangfu-assessment/1",
               "cadres": [{"cadre": "wang", "points": 8000}], "units": [{"unit": "court", "points": 7500}]})
    };
    let size = w.index;
    assert!(matches!(
        w.submit(
            "evaluator",
            "publish_assessment",
            "assessment/gulou2016:2017",
            publish(2017, size)
        ),
        Err(DomainError::OutOfRange { field: "year", .. })
    ));
    w.ok(
        "evaluator",
        "publish_assessment",
        "assessment/gulou2016:2016",
        publish(2016, size),
    );
}
