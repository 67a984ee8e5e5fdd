//! [`EndpointF`]: an endpoint as the registry reports it, its conversions to and from
//! [`Endpoint`], and [`instances`], which turns a registry's answer into what a discovery
//! returns, as TarsCpp reads it.

use std::fmt;
use std::time::Duration;

use crate::client::discovery::Instances;
use crate::endpoint::{Endpoint, Transport};
use crate::TarsStruct;

/// `istcp` of a TCP endpoint (TarsCpp's `EndpointInfo::TCP`); 0 is UDP, 2 SSL.
const ISTCP_TCP: i32 = 1;
/// `istcp` of an SSL endpoint (TarsCpp's `EndpointInfo::SSL`).
const ISTCP_SSL: i32 = 2;
/// `weightType` of static weights (TarsCpp's `E_STATIC_WEIGHT`).
const WEIGHT_TYPE_STATIC: i32 = 1;

/// One endpoint of an object as the registry reports it: `struct EndpointF` of TarsProtocol's
/// `servant/EndpointF.tars` (module `tars`), with the same tags.
///
/// ```text
/// 0 require string host;         7 optional string setId;       12 optional int weightType;
/// 1 require int port;            8 optional int qos;            13 optional int authType;
/// 2 require int timeout;         9 optional int bakFlag;        14 optional string nodeName;
/// 3 require int istcp;          11 optional int weight;
/// 4 require int grid;            5 optional int groupworkid;     6 optional int grouprealid;
/// ```
///
/// As TarsCpp does, optional fields holding their default (0, `""`) are left off the wire.
/// Convert it to an [`Endpoint`] with `Endpoint::try_from(&endpoint_f)`, and back with
/// `EndpointF::from(endpoint)`.
///
/// ```
/// use tars_rpc::endpoint::Endpoint;
/// use tars_rpc::registry::EndpointF;
///
/// let endpoint: Endpoint = "tcp -h 10.0.0.1 -p 18015 -t 60000".parse().unwrap();
/// let reported = EndpointF::from(endpoint.clone()).in_set("app.sz.1");
/// assert_eq!((reported.istcp, reported.timeout), (1, 60000));
/// assert_eq!(reported.to_string(), "tcp -h 10.0.0.1 -p 18015 -t 60000 -s app.sz.1");
/// assert_eq!(Endpoint::try_from(&reported).unwrap(), endpoint);
///
/// let udp = EndpointF { istcp: 0, ..reported };
/// assert!(Endpoint::try_from(&udp).is_err());
/// ```
#[derive(TarsStruct, Debug, Clone, PartialEq, Eq, Hash, Default)]
#[tars(crate = "crate")]
pub struct EndpointF {
    /// `host`: the address to connect to.
    #[tars(tag = 0)]
    pub host: String,
    /// `port`.
    #[tars(tag = 1)]
    pub port: i32,
    /// `timeout`: the server's idle timeout in milliseconds (an endpoint's `-t`).
    #[tars(tag = 2)]
    pub timeout: i32,
    /// `istcp`: 1 TCP, 0 UDP, 2 SSL. TCP and SSL endpoints are called.
    #[tars(tag = 3)]
    pub istcp: i32,
    /// `grid`: grey-release group (`-g`).
    #[tars(tag = 4)]
    pub grid: i32,
    /// `groupworkid`: the IDC group the endpoint works in.
    #[tars(tag = 5, optional)]
    pub groupworkid: i32,
    /// `grouprealid`: the IDC group the endpoint belongs to.
    #[tars(tag = 6, optional)]
    pub grouprealid: i32,
    /// `setId`: the endpoint's set, `name.area.group` (the group may be `*`), or `""`.
    #[tars(tag = 7, optional)]
    pub set_id: String,
    /// `qos`: the DSCP value (`-q`).
    #[tars(tag = 8, optional)]
    pub qos: i32,
    /// `bakFlag`: backup endpoint flag.
    #[tars(tag = 9, optional)]
    pub bak_flag: i32,
    /// `weight`: the static weight (`-w`), read when `weightType` is 1.
    #[tars(tag = 11, optional)]
    pub weight: i32,
    /// `weightType`: 1 for static weights (`-v 1`), 0 for none.
    #[tars(tag = 12, optional)]
    pub weight_type: i32,
    /// `authType`: 0 none, 1 the TARS authentication (`-e`).
    #[tars(tag = 13, optional)]
    pub auth_type: i32,
    /// `nodeName`: the tarsnode the endpoint runs on.
    #[tars(tag = 14, optional)]
    pub node_name: String,
}

impl EndpointF {
    /// The same endpoint in the set `set_id` (`name.area.group`).
    #[must_use]
    pub fn in_set(mut self, set_id: impl Into<String>) -> Self {
        self.set_id = set_id.into();
        self
    }

    /// Whether this endpoint has the same host and port as `other`: the same instance, whatever
    /// its other fields say.
    pub fn same_address(&self, other: &EndpointF) -> bool {
        self.host == other.host && self.port == other.port
    }
}

/// As an endpoint string: `tcp -h HOST -p PORT`, then `-t`, `-v`/`-w` and `-s SET` when set
/// (`udp` or `ssl` for other transports).
impl fmt::Display for EndpointF {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let transport = match self.istcp {
            ISTCP_TCP => "tcp",
            ISTCP_SSL => "ssl",
            _ => "udp",
        };
        write!(f, "{transport} -h {} -p {}", self.host, self.port)?;
        if self.timeout != 0 {
            write!(f, " -t {}", self.timeout)?;
        }
        if self.weight_type != 0 {
            write!(f, " -v {} -w {}", self.weight_type, self.weight)?;
        }
        if !self.set_id.is_empty() {
            write!(f, " -s {}", self.set_id)?;
        }
        Ok(())
    }
}

/// A TCP endpoint (`istcp` 1) or an SSL one (`istcp` 2), `-t` as `timeout` (0 without), and a
/// static weight as `weightType` 1 with its weight.
impl From<&Endpoint> for EndpointF {
    fn from(endpoint: &Endpoint) -> Self {
        let timeout = endpoint.timeout().map_or(0, |timeout| {
            i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX)
        });
        let (weight, weight_type) = match endpoint.static_weight() {
            Some(weight) => (weight, WEIGHT_TYPE_STATIC),
            None => (0, 0),
        };
        Self {
            host: endpoint.host().to_string(),
            port: i32::from(endpoint.port()),
            timeout,
            istcp: match endpoint.transport() {
                Transport::Ssl => ISTCP_SSL,
                _ => ISTCP_TCP,
            },
            weight,
            weight_type,
            ..Self::default()
        }
    }
}

impl From<Endpoint> for EndpointF {
    fn from(endpoint: Endpoint) -> Self {
        Self::from(&endpoint)
    }
}

/// Why an [`EndpointF`] cannot be called: neither TCP nor SSL, no host, or a port that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("registry endpoint `{endpoint}` cannot be called: {reason}")]
pub struct UnusableEndpoint {
    endpoint: String,
    reason: &'static str,
}

impl UnusableEndpoint {
    /// Why, in a few words (`"not tcp or ssl"`, `"no host"`, `"port out of range"`).
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

/// The endpoint to call, as TarsCpp reads a registry's `EndpointF`: TCP (`istcp` 1) or SSL (2),
/// `timeout` as `-t` when positive, and a static weight when `weightType` is 1 (other weight
/// types call without weights, as TarsCpp's round robin does).
impl TryFrom<&EndpointF> for Endpoint {
    type Error = UnusableEndpoint;

    fn try_from(reported: &EndpointF) -> Result<Self, UnusableEndpoint> {
        let unusable = |reason| UnusableEndpoint {
            endpoint: reported.to_string(),
            reason,
        };
        let transport = match reported.istcp {
            ISTCP_TCP => Transport::Tcp,
            ISTCP_SSL => Transport::Ssl,
            _ => return Err(unusable("not tcp or ssl")),
        };
        if reported.host.is_empty() {
            return Err(unusable("no host"));
        }
        let port = u16::try_from(reported.port)
            .ok()
            .filter(|&port| port != 0)
            .ok_or_else(|| unusable("port out of range"))?;
        let mut endpoint = Endpoint::new(reported.host.clone(), port).with_transport(transport);
        if let Ok(millis @ 1..) = u64::try_from(reported.timeout) {
            endpoint = endpoint.with_timeout(Duration::from_millis(millis));
        }
        if reported.weight_type == WEIGHT_TYPE_STATIC {
            endpoint = endpoint.with_static_weight(reported.weight);
        }
        Ok(endpoint)
    }
}

/// What a registry's answer (`activeEp`, `inactiveEp`) gives a client, as TarsCpp's
/// `QueryEpBase::doEndpoints` and `EndpointManager::notifyEndpoints` read it:
///
/// * endpoints that cannot be called (UDP, SSL, no host, a bad port) are left out;
/// * when every active endpoint has `weightType` 1, the list is statically weighted, and the
///   endpoints (active or inactive) with a weight of 0 or less are left out: TarsCpp sends them
///   nothing. In a list that mixes weight types, nothing is left out for its weight.
///
/// An empty active list is returned as it is; TarsCpp keeps its previous list rather than use
/// an empty one.
///
/// ```
/// use tars_rpc::endpoint::Endpoint;
/// use tars_rpc::registry::{instances, EndpointF};
///
/// let weighted = |port, weight| EndpointF {
///     weight,
///     weight_type: 1,
///     ..EndpointF::from(Endpoint::new("10.0.0.1", port))
/// };
/// let udp = EndpointF { istcp: 0, ..weighted(3, 50) };
/// let found = instances(&[weighted(1, 30), weighted(2, 0), udp], &[]);
/// assert_eq!(found.active, [Endpoint::new("10.0.0.1", 1).with_static_weight(30)]);
/// ```
pub fn instances(active: &[EndpointF], inactive: &[EndpointF]) -> Instances {
    let statically_weighted = !active.is_empty()
        && active
            .iter()
            .all(|endpoint| endpoint.weight_type == WEIGHT_TYPE_STATIC);
    let usable = |list: &[EndpointF]| -> Vec<Endpoint> {
        list.iter()
            .filter(|endpoint| !statically_weighted || endpoint.weight > 0)
            .filter_map(|endpoint| match Endpoint::try_from(endpoint) {
                Ok(endpoint) => Some(endpoint),
                Err(error) => {
                    tracing::debug!(%error, "registry endpoint left out");
                    None
                }
            })
            .collect()
    };
    Instances {
        active: usable(active),
        inactive: usable(inactive),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::TarsStruct as _;

    fn tcp(host: &str, port: i32) -> EndpointF {
        EndpointF {
            host: host.into(),
            port,
            istcp: 1,
            ..EndpointF::default()
        }
    }

    #[test]
    fn required_fields_are_always_written_and_optional_ones_only_when_set() {
        let bytes = tcp("h", 1).to_bytes();
        // host "h", port 1, timeout 0, istcp 1, grid 0
        assert_eq!(&bytes[..], b"\x06\x01h\x10\x01\x2c\x30\x01\x4c");
        let full = EndpointF {
            set_id: "a.b.c".into(),
            node_name: "node".into(),
            auth_type: 1,
            ..tcp("h", 1)
        };
        let decoded = EndpointF::decode_from(&full.to_bytes()).unwrap();
        assert_eq!(decoded, full);
        assert!(
            EndpointF::decode_from(b"\x06\x01h").is_err(),
            "port is required"
        );
    }

    #[test]
    fn converts_as_tarscpp_reads_registry_endpoints() {
        let timed = EndpointF {
            timeout: 3000,
            ..tcp("h", 9)
        };
        assert_eq!(
            Endpoint::try_from(&timed).unwrap(),
            Endpoint::new("h", 9).with_timeout(Duration::from_secs(3))
        );
        let negative = EndpointF {
            timeout: -1,
            ..tcp("h", 9)
        };
        assert_eq!(Endpoint::try_from(&negative).unwrap().timeout(), None);
        let dynamic = EndpointF {
            weight: 40,
            weight_type: 2,
            ..tcp("h", 9)
        };
        assert_eq!(Endpoint::try_from(&dynamic).unwrap().static_weight(), None);
        for (bad, reason) in [
            (
                EndpointF {
                    istcp: 0,
                    ..tcp("h", 1)
                },
                "not tcp or ssl",
            ),
            (tcp("", 1), "no host"),
            (tcp("h", 0), "port out of range"),
            (tcp("h", 65536), "port out of range"),
            (tcp("h", -5), "port out of range"),
        ] {
            assert_eq!(
                Endpoint::try_from(&bad).unwrap_err().reason(),
                reason,
                "{bad}"
            );
        }
    }

    #[test]
    fn static_weights_drop_endpoints_of_no_weight_only_when_all_are_weighted() {
        let weighted = |port, weight| EndpointF {
            weight,
            weight_type: 1,
            ..tcp("h", port)
        };
        let all = instances(&[weighted(1, 10), weighted(2, 0)], &[weighted(3, -1)]);
        assert_eq!(all.active, [Endpoint::new("h", 1).with_static_weight(10)]);
        assert!(all.inactive.is_empty());
        let mixed = instances(&[weighted(1, 10), weighted(2, 0), tcp("h", 3)], &[]);
        assert_eq!(mixed.active.len(), 3, "a mixed list keeps every endpoint");
    }

    #[test]
    fn round_trips_an_endpoint() {
        let endpoint: Endpoint = "tcp -h 10.0.0.1 -p 80 -t 500 -v 1 -w 30".parse().unwrap();
        let reported = EndpointF::from(&endpoint);
        assert_eq!((reported.weight, reported.weight_type), (30, 1));
        assert_eq!(
            reported.to_string(),
            "tcp -h 10.0.0.1 -p 80 -t 500 -v 1 -w 30"
        );
        assert_eq!(Endpoint::try_from(&reported).unwrap(), endpoint);

        // an ssl endpoint is istcp 2, as TarsCpp's registry lists it, and back
        let ssl: Endpoint = "ssl -h 10.0.0.1 -p 443 -t 500".parse().unwrap();
        let reported = EndpointF::from(&ssl);
        assert_eq!(reported.istcp, 2);
        assert_eq!(reported.to_string(), "ssl -h 10.0.0.1 -p 443 -t 500");
        assert_eq!(Endpoint::try_from(&reported).unwrap(), ssl);
    }
}
