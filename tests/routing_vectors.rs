//! Every choice in `tests/data/tarscpp-hash.tsv` (copied from `shared/vectors/`, recorded from
//! the TarsCpp client itself; `tarscpp-hash.md` beside it states the rules): the balance
//! module must send each hash code to the endpoint TarsCpp chose.

use tars_rpc::client::balance::{mod_hash, spread, HashRing, WeightTable};
use tars_rpc::endpoint::Endpoint;

/// The host the recorder used for an endpoint that fails to connect at once.
const DOWN_HOST: &str = "255.255.255.255";

struct Row {
    kind: String,
    endpoints: Vec<Endpoint>,
    code: u64,
    chosen: Endpoint,
}

fn rows() -> Vec<Row> {
    include_str!("data/tarscpp-hash.tsv")
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), 4, "a row has 4 columns: {line}");
            Row {
                kind: fields[0].to_string(),
                endpoints: fields[1]
                    .split(',')
                    .map(|text| text.parse().expect("a vector endpoint parses"))
                    .collect(),
                code: fields[2].parse().expect("a vector hash code is a u64"),
                chosen: fields[3].parse().expect("a vector endpoint parses"),
            }
        })
        .collect()
}

/// Endpoints compare by address: the vectors' chosen column carries no weight flags.
fn same_address(a: &Endpoint, b: &Endpoint) -> bool {
    a.host() == b.host() && a.port() == b.port()
}

#[test]
fn every_tarscpp_hash_choice_is_reproduced() {
    let rows = rows();
    assert_eq!(rows.len(), 3871, "the whole vector file is read");
    let mut failures = Vec::new();
    for row in &rows {
        let endpoints = &row.endpoints;
        let is_down = |index: usize| endpoints[index].host() == DOWN_HOST;
        let picked = match row.kind.as_str() {
            "modhash" | "modhash_down" => mod_hash(row.code, endpoints, is_down),
            "weighted_modhash" => WeightTable::new(endpoints).map(|table| table.pick(row.code)),
            "consistent" | "consistent_down" | "weighted_consistent" => {
                HashRing::new(endpoints).pick(row.code, is_down)
            }
            other => panic!("unknown vector kind {other}"),
        };
        let picked = picked.map(|index| &endpoints[index]);
        if !picked.is_some_and(|picked| same_address(picked, &row.chosen)) {
            failures.push(format!(
                "{} [{}] code {}: TarsCpp chose {}, got {:?}",
                row.kind,
                endpoints
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                row.code,
                row.chosen,
                picked.map(ToString::to_string)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} choices differ from TarsCpp's, first ones:\n{}",
        failures.len(),
        rows.len(),
        failures[..failures.len().min(10)].join("\n")
    );
}

#[test]
fn weighted_route_tables_match_the_documented_examples() {
    let weighted = |weights: &[i32]| -> Vec<Endpoint> {
        weights
            .iter()
            .enumerate()
            .map(|(i, &weight)| {
                Endpoint::new(format!("127.0.0.{}", i + 1), 10000).with_static_weight(weight)
            })
            .collect()
    };
    let table = WeightTable::new(&weighted(&[100, 50, 10])).expect("weighted");
    assert_eq!(
        table.slots(),
        &[0, 1, 0, 0, 1, 0, 2, 0, 1, 0, 0, 1, 0, 0, 1, 0]
    );
    let five = WeightTable::new(&weighted(&[100; 5])).expect("weighted");
    assert_eq!(five.slots().len(), 50);
    assert_eq!(&five.slots()[..10], &[4, 0, 3, 1, 2, 1, 2, 0, 3, 4]);
    // a mix of weighted and plain endpoints is plain, as in TarsCpp
    let mut mixed = weighted(&[100, 50]);
    mixed.push(Endpoint::new("127.0.0.9", 10000));
    assert_eq!(WeightTable::new(&mixed), None);
    assert_eq!(
        WeightTable::new(&weighted(&[0, 0])),
        None,
        "nothing to route to"
    );
}

#[test]
fn small_codes_land_on_one_host_unless_spread() {
    let endpoints: Vec<Endpoint> = (1..=3)
        .map(|i| Endpoint::new(format!("10.0.0.{i}"), 10000))
        .collect();
    let ring = HashRing::new(&endpoints);
    assert_eq!(ring.len(), 3 * 25 * 4);
    let hosts_hit = |spread_keys: bool| {
        let mut hit = [false; 3];
        for id in 0..1000u64 {
            let code = if spread_keys { spread(id) } else { id };
            hit[ring.pick(code, |_| false).expect("a ring with hosts")] = true;
        }
        hit.iter().filter(|&&hit| hit).count()
    };
    assert_eq!(
        hosts_hit(false),
        1,
        "TarsCpp's quirk: the code is the ring position"
    );
    assert_eq!(hosts_hit(true), 3, "spread ids reach every host");
}

#[test]
fn every_endpoint_down_picks_none() {
    let endpoints: Vec<Endpoint> = (1..=2)
        .map(|i| Endpoint::new(format!("10.0.0.{i}"), 10000))
        .collect();
    assert_eq!(mod_hash(7, &endpoints, |_| true), None);
    assert_eq!(HashRing::new(&endpoints).pick(7, |_| true), None);
    assert_eq!(mod_hash(7, &[], |_| false), None);
    assert!(HashRing::new(&[]).is_empty());
}
