mod common;
use common::World;
use serde_json::json;

#[test]
fn a_district_forms_a_pairing_and_records_a_visit() {
    let mut w = World::district();
    w.today = "2016-02-01".into();
    w.ok("coord", "form_pairing", "pairing/gulou2016:h1",
        json!({"program": "gulou2016", "household": "h1", "cadres": ["wang"], "lead": "wang", "date": "2016-01-10"}));
    let ev = w.ok("wang", "record_visit", "pairing/gulou2016:h1",
        json!({"visit_id": "v1", "date": "2016-02-01", "kind": "festival", "diary": common::sealed("送米送油")}));
    assert_eq!(ev[0].event_type, "VisitRecorded");
    assert_eq!(ev[0].sequence, 2);
}
