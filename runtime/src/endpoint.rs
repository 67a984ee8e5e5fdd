//! TARS endpoint strings: `tcp -h 127.0.0.1 -p 10000 -t 60000`, `ssl -h 127.0.0.1 -p 10001`
//! (TLS), or plain `host:port`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Why an endpoint or proxy string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid endpoint `{input}`: {reason}")]
pub struct EndpointError {
    input: String,
    reason: String,
}

impl EndpointError {
    fn new(input: &str, reason: impl Into<String>) -> Self {
        Self {
            input: input.to_string(),
            reason: reason.into(),
        }
    }
}

/// How an endpoint is reached: the word an endpoint string starts with.
///
/// An `ssl` endpoint speaks TARS over TLS: servers serve it with the
/// [`ServerBuilder::tls`](crate::server::ServerBuilder::tls) configuration and proxies reach
/// it with the [`CommunicatorBuilder::tls`](crate::client::CommunicatorBuilder::tls) one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Transport {
    /// `tcp`: plain TCP, the default.
    #[default]
    Tcp,
    /// `ssl`: TLS over TCP (TarsCpp's `ssl -h HOST -p PORT`).
    Ssl,
}

impl Transport {
    /// The word endpoint strings start with: `tcp` or `ssl`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Ssl => "ssl",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One address of a servant: its transport (`tcp` or `ssl`), host, port, and the idle timeout
/// `-t`. An `ssl` and a `tcp` endpoint at the same address are different endpoints.
///
/// ```
/// use std::time::Duration;
/// use tars_rpc::endpoint::Endpoint;
///
/// let endpoint: Endpoint = "tcp -h 127.0.0.1 -p 10000 -t 60000".parse().unwrap();
/// assert_eq!((endpoint.host(), endpoint.port()), ("127.0.0.1", 10000));
/// assert_eq!(endpoint.timeout(), Some(Duration::from_secs(60)));
///
/// let plain: Endpoint = "localhost:8999".parse().unwrap();
/// assert_eq!(plain.to_string(), "tcp -h localhost -p 8999");
///
/// let tls: Endpoint = "ssl -h 127.0.0.1 -p 10001".parse().unwrap();
/// assert!(tls.is_tls());
/// assert_eq!(tls.to_string(), "ssl -h 127.0.0.1 -p 10001");
/// assert_ne!(tls, Endpoint::new("127.0.0.1", 10001));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    transport: Transport,
    host: String,
    port: u16,
    timeout: Option<Duration>,
    /// `-w`, as written (TarsCpp: -1 when absent).
    weight: Option<i32>,
    /// `-v`: 0 none, 1 static weights.
    weight_type: u32,
}

impl Endpoint {
    /// A TCP endpoint without an idle timeout.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            transport: Transport::Tcp,
            host: host.into(),
            port,
            timeout: None,
            weight: None,
            weight_type: 0,
        }
    }

    /// The same endpoint with a static weight (`-v 1 -w WEIGHT`), as the registry reports
    /// weighted endpoints.
    pub fn with_static_weight(mut self, weight: i32) -> Self {
        self.weight_type = 1;
        self.weight = Some(weight);
        self
    }

    /// A TLS endpoint (`ssl -h HOST -p PORT`) without an idle timeout.
    pub fn ssl(host: impl Into<String>, port: u16) -> Self {
        Self::new(host, port).with_transport(Transport::Ssl)
    }

    /// The same endpoint reached over `transport`.
    pub fn with_transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// How the endpoint is reached: `tcp` or `ssl`.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Whether the endpoint speaks TLS (`ssl`).
    pub fn is_tls(&self) -> bool {
        self.transport == Transport::Ssl
    }

    /// The same endpoint with the idle timeout `-t`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The host (`-h`).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port (`-p`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The idle timeout (`-t`): a server closes connections idle for longer.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The weight this endpoint has in static weighting, or `None` if it takes no part
    /// (`-v 0`, the default). As TarsCpp reads `-v 1 -w W`: an absent weight is 100, a
    /// larger one is capped at 100, and 0 or less means "send nothing here".
    ///
    /// ```
    /// use tars_rpc::endpoint::Endpoint;
    ///
    /// let weighted: Endpoint = "tcp -h 10.0.0.1 -p 10000 -v 1 -w 250".parse().unwrap();
    /// assert_eq!(weighted.static_weight(), Some(100));
    /// let plain: Endpoint = "tcp -h 10.0.0.1 -p 10000 -w 50".parse().unwrap();
    /// assert_eq!(plain.static_weight(), None);
    /// ```
    pub fn static_weight(&self) -> Option<i32> {
        (self.weight_type != 0).then(|| self.weight.unwrap_or(100).min(100))
    }

    /// `host:port`, for connecting and binding (IPv6 hosts in brackets).
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -h {} -p {}", self.transport, self.host, self.port)?;
        if let Some(timeout) = self.timeout {
            write!(f, " -t {}", timeout.as_millis())?;
        }
        if self.weight_type != 0 {
            write!(f, " -v {}", self.weight_type)?;
        }
        if let Some(weight) = self.weight {
            write!(f, " -w {weight}")?;
        }
        Ok(())
    }
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    fn from_str(input: &str) -> Result<Self, EndpointError> {
        let text = input.trim();
        let mut words = text.split_whitespace();
        let transport = match words.next() {
            Some("tcp") => Transport::Tcp,
            Some("ssl") => Transport::Ssl,
            Some("udp") => {
                return Err(EndpointError::new(
                    input,
                    "only tcp and ssl endpoints are supported",
                ))
            }
            Some(_) if !text.contains(' ') => return parse_host_port(input, text),
            _ => {
                return Err(EndpointError::new(
                    input,
                    "expected `tcp -h HOST -p PORT` or `HOST:PORT`",
                ))
            }
        };
        let (mut host, mut port, mut timeout) = (None, None, None);
        let (mut weight, mut weight_type) = (None, 0);
        while let Some(flag) = words.next() {
            let mut value = || {
                words
                    .next()
                    .ok_or_else(|| EndpointError::new(input, format!("`{flag}` needs a value")))
            };
            match flag {
                "-h" => host = Some(value()?.to_string()),
                "-p" => {
                    let text = value()?;
                    port = Some(text.parse::<u16>().map_err(|_| {
                        EndpointError::new(
                            input,
                            format!("port `{text}` is not a number from 0 to 65535"),
                        )
                    })?);
                }
                "-t" => {
                    let text = value()?;
                    let millis = text.parse::<u64>().map_err(|_| {
                        EndpointError::new(
                            input,
                            format!("timeout `{text}` is not a number of milliseconds"),
                        )
                    })?;
                    timeout = Some(Duration::from_millis(millis));
                }
                "-w" => {
                    let text = value()?;
                    weight = Some(text.parse::<i32>().map_err(|_| {
                        EndpointError::new(input, format!("weight `{text}` is not a number"))
                    })?);
                }
                "-v" => {
                    let text = value()?;
                    weight_type = text.parse::<u32>().map_err(|_| {
                        EndpointError::new(input, format!("weight type `{text}` is not a number"))
                    })?;
                }
                // TARS endpoints carry more flags (-g grid, -e auth, -q qos, ...); none
                // changes how to reach the endpoint, so they are accepted and ignored
                other if other.starts_with('-') => {
                    value()?;
                }
                other => return Err(EndpointError::new(input, format!("unexpected `{other}`"))),
            }
        }
        let host = host.ok_or_else(|| EndpointError::new(input, "missing `-h HOST`"))?;
        let port = port.ok_or_else(|| EndpointError::new(input, "missing `-p PORT`"))?;
        Ok(Self {
            transport,
            host,
            port,
            timeout,
            weight,
            weight_type,
        })
    }
}

fn parse_host_port(input: &str, text: &str) -> Result<Endpoint, EndpointError> {
    let (host, port) = text.rsplit_once(':').ok_or_else(|| {
        EndpointError::new(input, "expected `tcp -h HOST -p PORT` or `HOST:PORT`")
    })?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(EndpointError::new(input, "missing host"));
    }
    let port = port.parse::<u16>().map_err(|_| {
        EndpointError::new(
            input,
            format!("port `{port}` is not a number from 0 to 65535"),
        )
    })?;
    Ok(Endpoint::new(host, port))
}

/// A proxy string: `App.Server.Obj@tcp -h HOST -p PORT[:tcp -h HOST2 -p PORT2...]`.
///
/// ```
/// use tars_rpc::endpoint::ProxyAddress;
///
/// let address: ProxyAddress =
///     "TestApp.HelloServer.HelloObj@tcp -h 10.0.0.1 -p 10000:tcp -h 10.0.0.2 -p 10000 -t 3000"
///         .parse()
///         .unwrap();
/// assert_eq!(address.servant(), "TestApp.HelloServer.HelloObj");
/// assert_eq!(address.endpoints().len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProxyAddress {
    servant: String,
    endpoints: Vec<Endpoint>,
}

impl ProxyAddress {
    /// A servant name and its endpoints.
    pub fn new(servant: impl Into<String>, endpoints: Vec<Endpoint>) -> Self {
        Self {
            servant: servant.into(),
            endpoints,
        }
    }

    /// The servant name, e.g. `TestApp.HelloServer.HelloObj`.
    pub fn servant(&self) -> &str {
        &self.servant
    }

    /// The endpoints, used round-robin.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }
}

impl fmt::Display for ProxyAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@", self.servant)?;
        for (i, endpoint) in self.endpoints.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{endpoint}")?;
        }
        Ok(())
    }
}

impl FromStr for ProxyAddress {
    type Err = EndpointError;

    fn from_str(input: &str) -> Result<Self, EndpointError> {
        let (servant, endpoints) = input.split_once('@').ok_or_else(|| {
            EndpointError::new(input, "expected `Servant.Name@tcp -h HOST -p PORT`")
        })?;
        let servant = servant.trim();
        if servant.is_empty() {
            return Err(EndpointError::new(input, "missing servant name before `@`"));
        }
        let words = endpoints.trim_start();
        let endpoints =
            if words.starts_with("tcp ") || words.starts_with("ssl ") || endpoints.contains(" -h ")
            {
                // `:` separates TARS endpoints, which never contain one themselves (IPv6 aside)
                endpoints
                    .split(':')
                    .filter(|part| !part.trim().is_empty())
                    .map(str::parse)
                    .collect::<Result<Vec<Endpoint>, _>>()?
            } else {
                vec![endpoints.parse()?]
            };
        if endpoints.is_empty() {
            return Err(EndpointError::new(input, "no endpoint after `@`"));
        }
        Ok(Self::new(servant, endpoints))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tars_endpoints_and_rejects_bad_ones() {
        let endpoint: Endpoint = "tcp -h 127.0.0.1 -p 9316 -t 3000 -g 0".parse().unwrap();
        assert_eq!(
            endpoint,
            Endpoint::new("127.0.0.1", 9316).with_timeout(Duration::from_secs(3))
        );
        assert_eq!(
            "[::1]:80".parse::<Endpoint>().unwrap().address(),
            "[::1]:80"
        );
        for bad in [
            "",
            "tcp -h x",
            "tcp -p 1",
            "tcp -h x -p 70000",
            "udp -h x -p 1",
            "ssl -h x",
            "tcp -h x -p 1 -t",
            "x:y",
            ":80",
        ] {
            assert!(bad.parse::<Endpoint>().is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn parses_ssl_endpoints_as_a_transport_of_their_own() {
        let tls: Endpoint = "ssl -h 127.0.0.1 -p 9316 -t 3000".parse().unwrap();
        assert!(tls.is_tls());
        assert_eq!(tls.transport(), Transport::Ssl);
        assert_eq!(tls.to_string(), "ssl -h 127.0.0.1 -p 9316 -t 3000");
        assert_eq!(
            tls,
            Endpoint::ssl("127.0.0.1", 9316).with_timeout(Duration::from_secs(3))
        );
        let tcp = Endpoint::new("127.0.0.1", 9316).with_timeout(Duration::from_secs(3));
        assert_ne!(tls, tcp, "same address, other transport");
        assert_eq!(tls.address(), tcp.address());
        let set: std::collections::HashSet<_> = [tls.clone(), tcp.clone()].into();
        assert_eq!(set.len(), 2);
        assert!(!tcp.is_tls());
        let address: ProxyAddress = "A.B.C@ssl -h h1 -p 1:tcp -h h2 -p 2".parse().unwrap();
        assert_eq!(
            address.endpoints(),
            [Endpoint::ssl("h1", 1), Endpoint::new("h2", 2)]
        );
        assert_eq!(address.to_string(), "A.B.C@ssl -h h1 -p 1:tcp -h h2 -p 2");
    }

    #[test]
    fn reads_static_weights_as_tarscpp_does() {
        let weight = |text: &str| text.parse::<Endpoint>().unwrap().static_weight();
        assert_eq!(weight("tcp -h a -p 1 -v 1 -w 30"), Some(30));
        assert_eq!(weight("tcp -h a -p 1 -v 1"), Some(100), "absent means 100");
        assert_eq!(
            weight("tcp -h a -p 1 -v 1 -w 500"),
            Some(100),
            "capped at 100"
        );
        assert_eq!(
            weight("tcp -h a -p 1 -v 1 -w -3"),
            Some(-3),
            "0 or less: nothing"
        );
        assert_eq!(weight("tcp -h a -p 1 -w 30"), None, "no -v: not weighted");
        let text = "tcp -h a -p 1 -t 3000 -v 1 -w 30";
        assert_eq!(text.parse::<Endpoint>().unwrap().to_string(), text);
        assert!("tcp -h a -p 1 -w heavy".parse::<Endpoint>().is_err());
        assert!("tcp -h a -p 1 -v x".parse::<Endpoint>().is_err());
    }

    #[test]
    fn parses_proxy_strings() {
        let address: ProxyAddress = "A.B.C@tcp -h h1 -p 1:tcp -h h2 -p 2".parse().unwrap();
        assert_eq!(
            address.endpoints(),
            [Endpoint::new("h1", 1), Endpoint::new("h2", 2)]
        );
        assert_eq!(address.to_string(), "A.B.C@tcp -h h1 -p 1:tcp -h h2 -p 2");
        let plain: ProxyAddress = "A.B.C@127.0.0.1:10000".parse().unwrap();
        assert_eq!(plain.endpoints(), [Endpoint::new("127.0.0.1", 10000)]);
        for bad in ["A.B.C", "@tcp -h h -p 1", "A.B.C@", "A.B.C@tcp -h h"] {
            assert!(
                bad.parse::<ProxyAddress>().is_err(),
                "{bad:?} should not parse"
            );
        }
    }
}
