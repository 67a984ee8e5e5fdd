//! The [`Outbox`] in Redis: one stream per registration, shared by several server instances.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt as _;
use redis::aio::MultiplexedConnection;
use redis::{RedisError, Script, Value};

use super::embedded::{now_ms, printable, read_registration, RegistrationRecord};
use super::outbox::{
    check_id, Invocation, Malformed, Outbox, OutboxError, Pending, Registration, Scan,
};
use crate::codec::TarsStruct as _;

/// Queues calls for registrations, all or none: checks each registration exists, takes
/// its sequences with `INCRBY`, and adds the entries with the sequence as the stream id.
const ENQUEUE: &str = r"
local prefix, nregs, ncalls, ms = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
for i = 1, nregs do
  if redis.call('HEXISTS', prefix .. ':registrations', ARGV[4 + i]) == 0 then
    return redis.error_reply('UNKNOWN_REGISTRATION ' .. ARGV[4 + i])
  end
end
local firsts, base = {}, 4 + nregs
for i = 1, nregs do
  local id = ARGV[4 + i]
  local first = redis.call('INCRBY', prefix .. ':seq:' .. id, ncalls) - ncalls + 1
  for j = 0, ncalls - 1 do
    redis.call('XADD', prefix .. ':stream:' .. id, (first + j) .. '-1',
      'func', ARGV[base + 2 * j + 1], 'params', ARGV[base + 2 * j + 2], 'ms', ms)
  end
  firsts[i] = first
end
return firsts
";

/// Takes or renews the delivery lease of a registration: 1 if this instance holds it.
const LEASE: &str = r"
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
";

fn backend(error: RedisError) -> OutboxError {
    OutboxError::Backend {
        outbox: "redis",
        source: Box::new(error),
    }
}

/// The Redis outbox: registrations in a hash, each registration's pending callbacks in a
/// stream of its own (the sequence is the entry id), so that several server instances share
/// the backlog and one takes over another's when it dies.
///
/// One instance at a time delivers a registration: the one holding its lease (a key with a
/// time to live, renewed on each read of the backlog). When an instance dies, its leases
/// lapse and another instance's hub (which looks at the outbox every
/// [`poll_interval`](super::CallbackHubBuilder::poll_interval)) takes the registrations over
/// and delivers from the first callback not acknowledged, in order. An instance whose
/// callback keeps failing for longer than the lease may see its registration taken over
/// meanwhile: the callbacks in flight then come twice, which the receiver's
/// [`Deduper`](super::Deduper) drops.
///
/// Redis' own persistence settings decide what survives a crash of Redis.
///
/// This design takes a lease and reads with `XRANGE` rather than distributing entries
/// through a consumer group (`XREADGROUP`, `XAUTOCLAIM`): a consumer group spreads one
/// stream's entries over consumers, which breaks the order per registration.
///
/// ```no_run
/// use std::time::Duration;
/// use tars_rpc::callback::RedisOutbox;
///
/// # async fn run() -> Result<(), tars_rpc::callback::OutboxError> {
/// let outbox = RedisOutbox::builder("redis://127.0.0.1:6379/")
///     .prefix("myapp:callbacks")
///     .lease(Duration::from_secs(10))
///     .connect()
///     .await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisOutbox {
    connection: MultiplexedConnection,
    prefix: Arc<str>,
    token: Arc<str>,
    lease_ms: u64,
    enqueue: Arc<Script>,
    lease: Arc<Script>,
}

impl std::fmt::Debug for RedisOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisOutbox")
            .field("prefix", &self.prefix)
            .field("instance", &self.token)
            .finish_non_exhaustive()
    }
}

/// Settings of a [`RedisOutbox`], from [`RedisOutbox::builder`].
#[derive(Debug, Clone)]
pub struct RedisOutboxBuilder {
    url: String,
    prefix: String,
    instance: Option<String>,
    lease: Duration,
}

impl RedisOutboxBuilder {
    /// The prefix of every key the outbox uses: `tars:callback` by default. Instances that
    /// share a backlog use the same prefix.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// This instance's name in leases (unique among the instances): the process id and start
    /// time by default.
    #[must_use]
    pub fn instance(mut self, instance: impl Into<String>) -> Self {
        self.instance = Some(instance.into());
        self
    }

    /// How long a registration stays with an instance that stopped renewing it: 10 s by
    /// default.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(1));
        self
    }

    /// Connects to Redis.
    ///
    /// # Errors
    /// [`OutboxError::Backend`] if the URL is invalid or Redis cannot be reached.
    pub async fn connect(self) -> Result<RedisOutbox, OutboxError> {
        let client = redis::Client::open(self.url.as_str()).map_err(backend)?;
        let connection = client
            .get_multiplexed_async_connection()
            .await
            .map_err(backend)?;
        let token = self.instance.unwrap_or_else(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_nanos());
            format!("{}-{nanos}", std::process::id())
        });
        Ok(RedisOutbox {
            connection,
            prefix: self.prefix.into(),
            token: token.into(),
            lease_ms: u64::try_from(self.lease.as_millis()).unwrap_or(u64::MAX),
            enqueue: Arc::new(Script::new(ENQUEUE)),
            lease: Arc::new(Script::new(LEASE)),
        })
    }
}

impl RedisOutbox {
    /// Settings for an outbox in the Redis at `url` (`redis://host:port/db`).
    pub fn builder(url: impl Into<String>) -> RedisOutboxBuilder {
        RedisOutboxBuilder {
            url: url.into(),
            prefix: "tars:callback".to_string(),
            instance: None,
            lease: Duration::from_secs(10),
        }
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}:{kind}:{id}", self.prefix)
    }

    fn registrations_key(&self) -> String {
        format!("{}:registrations", self.prefix)
    }

    fn quarantine_key(&self) -> String {
        format!("{}:quarantine", self.prefix)
    }

    /// Reads the registrations, moving aside those that cannot be read.
    async fn read_registrations(&self) -> Result<Scan<Registration>, OutboxError> {
        let mut connection = self.connection.clone();
        let all: Vec<(Vec<u8>, Vec<u8>)> = redis::cmd("HGETALL")
            .arg(self.registrations_key())
            .query_async(&mut connection)
            .await
            .map_err(backend)?;
        let mut scan = Scan::default();
        for (key, value) in all {
            match read_registration(&key, &value) {
                Ok(record) => {
                    scan.items
                        .push(Registration::new(record.id, record.callback, record.topic));
                }
                Err(reason) => {
                    let location = format!("{} [{}]", self.registrations_key(), printable(&key));
                    let mut aside = b"registrations\0".to_vec();
                    aside.extend_from_slice(&key);
                    redis::pipe()
                        .atomic()
                        .cmd("HSET")
                        .arg(self.quarantine_key())
                        .arg(aside)
                        .arg(&value)
                        .ignore()
                        .cmd("HDEL")
                        .arg(self.registrations_key())
                        .arg(&key)
                        .ignore()
                        .query_async::<()>(&mut connection)
                        .await
                        .map_err(backend)?;
                    scan.malformed.push(Malformed { location, reason });
                }
            }
        }
        Ok(scan)
    }
}

/// Reads one `XRANGE` entry: `[id, [field, value, ...]]`.
fn read_entry(entry: &Value) -> (Option<String>, Result<Pending, String>) {
    let Value::Array(parts) = entry else {
        return (None, Err("entry is no array".into()));
    };
    let id = match parts.first() {
        Some(Value::BulkString(id)) => String::from_utf8_lossy(id).into_owned(),
        _ => return (None, Err("entry has no id".into())),
    };
    let result = (|| {
        let sequence: u64 = id
            .split('-')
            .next()
            .and_then(|ms| ms.parse().ok())
            .ok_or_else(|| format!("entry id `{id}` holds no sequence"))?;
        let Some(Value::Array(fields)) = parts.get(1) else {
            return Err("entry has no fields".to_string());
        };
        let (mut func, mut params, mut ms) = (None, None, 0i64);
        for pair in fields.chunks(2) {
            if let [Value::BulkString(name), Value::BulkString(value)] = pair {
                match name.as_slice() {
                    b"func" => {
                        func = Some(
                            String::from_utf8(value.clone())
                                .map_err(|_| "field `func` is not UTF-8".to_string())?,
                        );
                    }
                    b"params" => params = Some(Bytes::from(value.clone())),
                    b"ms" => {
                        ms = std::str::from_utf8(value)
                            .ok()
                            .and_then(|ms| ms.parse().ok())
                            .unwrap_or(0);
                    }
                    _ => {}
                }
            }
        }
        match (func, params) {
            (Some(func), Some(params)) if !func.is_empty() => Ok(Pending {
                sequence,
                invocation: Invocation::from_parts(func, params),
                enqueued_ms: ms,
            }),
            _ => Err("entry lacks `func` or `params`".to_string()),
        }
    })();
    (Some(id), result)
}

impl Outbox for RedisOutbox {
    fn put_registration<'a>(
        &'a self,
        registration: &'a Registration,
    ) -> BoxFuture<'a, Result<(), OutboxError>> {
        async move {
            check_id(registration.id())?;
            let record = RegistrationRecord {
                id: registration.id().to_string(),
                callback: registration.callback().to_string(),
                topic: registration.topic().to_string(),
                // the sequence lives in its own key, which outlives the registration
                next_sequence: 1,
            };
            let mut connection = self.connection.clone();
            redis::cmd("HSET")
                .arg(self.registrations_key())
                .arg(registration.id())
                .arg(&record.to_bytes()[..])
                .query_async::<()>(&mut connection)
                .await
                .map_err(backend)
        }
        .boxed()
    }

    fn remove_registration<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<u64, OutboxError>> {
        async move {
            let mut connection = self.connection.clone();
            let stream = self.key("stream", id);
            let (pending,): (u64,) = redis::pipe()
                .atomic()
                .cmd("XLEN")
                .arg(&stream)
                .cmd("DEL")
                .arg(&stream)
                .ignore()
                .cmd("DEL")
                .arg(self.key("lease", id))
                .ignore()
                .cmd("HDEL")
                .arg(self.registrations_key())
                .arg(id)
                .ignore()
                .query_async(&mut connection)
                .await
                .map_err(backend)?;
            Ok(pending)
        }
        .boxed()
    }

    fn registrations(&self) -> BoxFuture<'_, Result<Scan<Registration>, OutboxError>> {
        self.read_registrations().boxed()
    }

    fn enqueue<'a>(
        &'a self,
        registrations: &'a [String],
        calls: &'a [Invocation],
    ) -> BoxFuture<'a, Result<Vec<u64>, OutboxError>> {
        async move {
            let mut invocation = self.enqueue.prepare_invoke();
            invocation
                .arg(&*self.prefix)
                .arg(registrations.len())
                .arg(calls.len())
                .arg(now_ms());
            for id in registrations {
                invocation.arg(id);
            }
            for call in calls {
                invocation.arg(call.func()).arg(&call.params()[..]);
            }
            let mut connection = self.connection.clone();
            invocation
                .invoke_async(&mut connection)
                .await
                .map_err(|error| match (error.code(), error.detail()) {
                    (Some("UNKNOWN_REGISTRATION"), Some(id)) => {
                        OutboxError::UnknownRegistration(id.to_string())
                    }
                    _ => backend(error),
                })
        }
        .boxed()
    }

    fn pending<'a>(
        &'a self,
        registration: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, Result<Scan<Pending>, OutboxError>> {
        async move {
            let mut connection = self.connection.clone();
            let held: i64 = self
                .lease
                .key(self.key("lease", registration))
                .arg(&*self.token)
                .arg(self.lease_ms)
                .invoke_async(&mut connection)
                .await
                .map_err(backend)?;
            let mut scan = Scan::default();
            if held != 1 {
                return Ok(scan);
            }
            let stream = self.key("stream", registration);
            let entries: Value = redis::cmd("XRANGE")
                .arg(&stream)
                .arg("-")
                .arg("+")
                .arg("COUNT")
                .arg(limit)
                .query_async(&mut connection)
                .await
                .map_err(backend)?;
            let Value::Array(entries) = entries else {
                return Ok(scan);
            };
            for entry in &entries {
                match read_entry(entry) {
                    (_, Ok(pending)) => scan.items.push(pending),
                    (id, Err(reason)) => {
                        let id = id.unwrap_or_default();
                        scan.malformed.push(Malformed {
                            location: format!("{stream} [{id}]"),
                            reason,
                        });
                        if !id.is_empty() {
                            redis::pipe()
                                .atomic()
                                .cmd("HSET")
                                .arg(self.quarantine_key())
                                .arg(format!("{stream}\0{id}"))
                                .arg(format!("{entry:?}"))
                                .ignore()
                                .cmd("XDEL")
                                .arg(&stream)
                                .arg(&id)
                                .ignore()
                                .query_async::<()>(&mut connection)
                                .await
                                .map_err(backend)?;
                        }
                    }
                }
            }
            Ok(scan)
        }
        .boxed()
    }

    fn ack<'a>(
        &'a self,
        registration: &'a str,
        through: u64,
    ) -> BoxFuture<'a, Result<(), OutboxError>> {
        async move {
            let mut connection = self.connection.clone();
            redis::cmd("XTRIM")
                .arg(self.key("stream", registration))
                .arg("MINID")
                .arg(format!("{}-0", through.saturating_add(1)))
                .query_async::<()>(&mut connection)
                .await
                .map_err(backend)
        }
        .boxed()
    }

    fn backlog(&self) -> BoxFuture<'_, Result<Vec<(String, u64)>, OutboxError>> {
        async move {
            let mut connection = self.connection.clone();
            let ids: Vec<String> = redis::cmd("HKEYS")
                .arg(self.registrations_key())
                .query_async(&mut connection)
                .await
                .map_err(backend)?;
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let mut pipe = redis::pipe();
            for id in &ids {
                pipe.cmd("XLEN").arg(self.key("stream", id));
            }
            let counts: Vec<u64> = pipe.query_async(&mut connection).await.map_err(backend)?;
            Ok(ids.into_iter().zip(counts).collect())
        }
        .boxed()
    }

    fn sweep(&self) -> BoxFuture<'_, Result<Vec<Malformed>, OutboxError>> {
        async move { Ok(self.read_registrations().await?.malformed) }.boxed()
    }
}
