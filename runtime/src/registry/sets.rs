//! [`SetDivision`]: a set, `name.area.group`, and which endpoints of a set a lookup finds, as
//! tarsregistry matches them.

use std::fmt;
use std::str::FromStr;

use super::endpoint_f::EndpointF;

/// A TARS set division, `name.area.group` (e.g. `app.sz.1`): the set's name, its area, and a
/// group in the area, which may be `*`.
///
/// It parses as tarsregistry splits it: on `.`, ignoring empty parts, into exactly three,
/// neither the name nor the area `*`.
///
/// ```
/// use tars_rpc::registry::SetDivision;
///
/// let set: SetDivision = "app.sz.1".parse().unwrap();
/// assert_eq!((set.name(), set.area(), set.group()), ("app", "sz", "1"));
/// assert!("app.sz.*".parse::<SetDivision>().unwrap().is_wildcard());
/// assert!("app.sz".parse::<SetDivision>().is_err());
/// assert!("*.sz.1".parse::<SetDivision>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SetDivision {
    name: String,
    area: String,
    group: String,
}

/// Why a set division did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid set division `{0}`: expected `name.area.group`, name and area not `*`")]
pub struct SetDivisionError(String);

impl SetDivision {
    /// The set's name, `app` in `app.sz.1`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The set's area, `sz` in `app.sz.1`.
    pub fn area(&self) -> &str {
        &self.area
    }

    /// The group, `1` in `app.sz.1`, or `*`.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// Whether the group is `*`: a lookup for every group of the area; an endpoint serving any
    /// group of it that has none of its own.
    pub fn is_wildcard(&self) -> bool {
        self.group == "*"
    }

    fn same_area(&self, other: &SetDivision) -> bool {
        self.name == other.name && self.area == other.area
    }
}

impl FromStr for SetDivision {
    type Err = SetDivisionError;

    fn from_str(text: &str) -> Result<Self, SetDivisionError> {
        let parts: Vec<&str> = text.split('.').filter(|part| !part.is_empty()).collect();
        match parts[..] {
            [name, area, group] if name != "*" && area != "*" => Ok(Self {
                name: name.to_string(),
                area: area.to_string(),
                group: group.to_string(),
            }),
            _ => Err(SetDivisionError(text.to_string())),
        }
    }
}

impl fmt::Display for SetDivision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.name, self.area, self.group)
    }
}

/// What a set lookup finds among an object's endpoints.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum SetMatch<T> {
    /// The endpoints of the set.
    Found(Vec<T>),
    /// The object has no endpoint in a set of that name: tarsregistry then answers as for a
    /// lookup in the caller's group.
    NoSets,
    /// The object has sets of that name, but none of them serves the division: tarsregistry
    /// answers -1.
    NotFound,
}

/// The endpoints of `entries` (each with its [`EndpointF`]) that tarsregistry returns to a
/// `findObjectByIdInSameSet` for `wanted` (`ObjectsCacheManager::findObjectByIdInSameSet`):
///
/// * the endpoints whose set has the same name, area and group;
/// * if there are none, those of the same name and area with the group `*`;
/// * for a wanted group of `*`, every endpoint of the same name and area, whatever its group.
///
/// Endpoints outside any set, or with a set id that does not parse, are never found by a set.
pub(super) fn in_set<T>(
    entries: impl IntoIterator<Item = T>,
    endpoint: impl Fn(&T) -> &EndpointF,
    wanted: &SetDivision,
) -> SetMatch<T> {
    let named: Vec<(SetDivision, T)> = entries
        .into_iter()
        .filter_map(|entry| {
            let set = endpoint(&entry).set_id.parse::<SetDivision>().ok()?;
            (set.name == wanted.name).then_some((set, entry))
        })
        .collect();
    if named.is_empty() {
        return SetMatch::NoSets;
    }
    let found: Vec<T> = if wanted.is_wildcard() {
        named
            .into_iter()
            .filter(|(set, _)| set.same_area(wanted))
            .map(|(_, entry)| entry)
            .collect()
    } else {
        let (exact, rest): (Vec<_>, Vec<_>) = named
            .into_iter()
            .filter(|(set, _)| set.same_area(wanted))
            .partition(|(set, _)| set.group == wanted.group);
        let chosen = if exact.is_empty() {
            rest.into_iter()
                .filter(|(set, _)| set.is_wildcard())
                .collect()
        } else {
            exact
        };
        chosen.into_iter().map(|(_, entry)| entry).collect()
    };
    if found.is_empty() {
        SetMatch::NotFound
    } else {
        SetMatch::Found(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_sets(sets: &[&str], wanted: &str) -> SetMatch<String> {
        let endpoints: Vec<EndpointF> = sets
            .iter()
            .map(|set| EndpointF::default().in_set(*set))
            .collect();
        match in_set(endpoints.iter(), |e| e, &wanted.parse().unwrap()) {
            SetMatch::Found(found) => {
                SetMatch::Found(found.into_iter().map(|e| e.set_id.clone()).collect())
            }
            SetMatch::NoSets => SetMatch::NoSets,
            SetMatch::NotFound => SetMatch::NotFound,
        }
    }

    fn found(sets: &[&str]) -> SetMatch<String> {
        SetMatch::Found(sets.iter().map(|set| set.to_string()).collect())
    }

    #[test]
    fn parses_as_tarsregistry_splits() {
        assert_eq!(
            "a..b.c.".parse::<SetDivision>().unwrap().to_string(),
            "a.b.c",
            "empty parts are ignored"
        );
        for bad in ["", "a", "a.b", "a.b.c.d", "*.b.c", "a.*.c"] {
            assert!(bad.parse::<SetDivision>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn matches_as_tarsregistry_does() {
        let sets = [
            "app.sz.1",
            "app.sz.2",
            "app.sz.*",
            "app.sh.1",
            "other.sz.1",
            "",
        ];
        assert_eq!(in_sets(&sets, "app.sz.1"), found(&["app.sz.1"]));
        assert_eq!(
            in_sets(&sets, "app.sz.3"),
            found(&["app.sz.*"]),
            "no group 3: the area's wildcard group"
        );
        assert_eq!(
            in_sets(&sets, "app.sz.*"),
            found(&["app.sz.1", "app.sz.2", "app.sz.*"])
        );
        assert_eq!(in_sets(&sets, "app.sh.2"), SetMatch::NotFound);
        assert_eq!(in_sets(&sets, "app.gz.1"), SetMatch::NotFound);
        assert_eq!(in_sets(&sets, "none.sz.1"), SetMatch::NoSets);
        assert_eq!(in_sets(&["", "bad"], "app.sz.1"), SetMatch::NoSets);
    }
}
