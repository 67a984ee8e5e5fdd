//! The embedded [`Outbox`] on redb: one file, crash-safe with redb's default durability.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt as _;
use redb::{Database, Durability, ReadableTable, TableDefinition, TableHandle};

use super::outbox::{
    check_id, Invocation, Malformed, Outbox, OutboxError, Pending, Registration, Scan,
};
use crate::TarsStruct;

/// Registration id -> [`RegistrationRecord`].
const REGISTRATIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("callback_registrations");
/// [`pending_key`] -> [`CallRecord`].
const PENDING: TableDefinition<&[u8], &[u8]> = TableDefinition::new("callback_pending");
/// Registration id -> the next sequence (u64, big-endian) of a removed registration, so that
/// registering the id again goes on from there and the receiver's deduplication does not take
/// the new callbacks for repeats.
const RETIRED: TableDefinition<&[u8], u64> = TableDefinition::new("callback_retired_sequences");
/// Table name, 0, original key -> original value: the records that could not be read.
const QUARANTINE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("callback_quarantine");

/// A registration as stored, with the next sequence it gives out.
#[derive(TarsStruct, Debug, Clone, PartialEq, Eq)]
#[tars(crate = "crate")]
pub(super) struct RegistrationRecord {
    #[tars(tag = 0)]
    pub(super) id: String,
    #[tars(tag = 1)]
    pub(super) callback: String,
    #[tars(tag = 2)]
    pub(super) topic: String,
    #[tars(tag = 3)]
    pub(super) next_sequence: i64,
}

/// A pending callback as stored.
#[derive(TarsStruct, Debug, Clone, PartialEq, Eq)]
#[tars(crate = "crate")]
struct CallRecord {
    #[tars(tag = 0)]
    func: String,
    #[tars(tag = 1)]
    params: Vec<u8>,
    #[tars(tag = 2)]
    enqueued_ms: i64,
}

/// The key of a pending callback: the id's length (u16, big-endian), the id, the sequence
/// (u64, big-endian), so that one registration's callbacks sort together by sequence.
fn pending_key(id: &str, sequence: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(2 + id.len() + 8);
    // ids are checked to be at most MAX_REGISTRATION_ID_LEN (256) bytes
    key.extend_from_slice(&u16::try_from(id.len()).unwrap_or(u16::MAX).to_be_bytes());
    key.extend_from_slice(id.as_bytes());
    key.extend_from_slice(&sequence.to_be_bytes());
    key
}

/// Splits a pending key into the id and the sequence.
fn parse_pending_key(key: &[u8]) -> Result<(&str, u64), String> {
    let (len, rest) = key
        .split_first_chunk::<2>()
        .ok_or_else(|| format!("key of {} bytes has no id length", key.len()))?;
    let len = usize::from(u16::from_be_bytes(*len));
    if rest.len() != len + 8 {
        return Err(format!(
            "key of {} bytes: id length {len} leaves no 8-byte sequence",
            key.len()
        ));
    }
    let (id, sequence) = rest.split_at(len);
    let id = std::str::from_utf8(id).map_err(|error| format!("id is not UTF-8: {error}"))?;
    let sequence = u64::from_be_bytes(sequence.try_into().map_err(|_| "short sequence")?);
    Ok((id, sequence))
}

/// A key printable in a report: UTF-8 as is, anything else in hex.
pub(super) fn printable(key: &[u8]) -> String {
    match std::str::from_utf8(key) {
        Ok(text) if !text.chars().any(char::is_control) => text.to_string(),
        _ => key.iter().map(|byte| format!("{byte:02x}")).collect(),
    }
}

pub(super) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

/// The embedded outbox: registrations and pending callbacks in a redb file, so that they
/// survive a restart (or a crash: redb commits are atomic and, for queued callbacks and
/// registrations, durable when the write returns).
///
/// Acknowledgements are committed with redb's eventual durability: a crash may forget the
/// last few, which are then delivered again, and the receiver's
/// [`Deduper`](super::Deduper) drops them.
///
/// Records it cannot read (written by something else, or damaged) are moved to a
/// quarantine table and reported, never delivered.
///
/// ```no_run
/// use tars_rpc::callback::RedbOutbox;
///
/// let outbox = RedbOutbox::open("/var/lib/myserver/callbacks.redb")?;
/// # Ok::<(), tars_rpc::callback::OutboxError>(())
/// ```
#[derive(Clone)]
pub struct RedbOutbox {
    db: Arc<Database>,
    path: Arc<PathBuf>,
}

impl std::fmt::Debug for RedbOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbOutbox")
            .field("path", &self.path)
            .finish()
    }
}

impl RedbOutbox {
    /// Opens the outbox in the redb file at `path`, creating it if missing.
    ///
    /// # Errors
    /// [`OutboxError::Redb`] if the file cannot be opened or created (another process holds
    /// it, it is no redb file), or holds tables of the outbox's names with other types.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, OutboxError> {
        let path = path.as_ref().to_path_buf();
        let error = |source: redb::Error| OutboxError::Redb {
            path: path.display().to_string(),
            source: Box::new(source),
        };
        let db = Database::create(&path).map_err(|e| error(e.into()))?;
        let txn = db.begin_write().map_err(|e| error(e.into()))?;
        for table in [REGISTRATIONS, PENDING, QUARANTINE] {
            txn.open_table(table).map_err(|e| error(e.into()))?;
        }
        txn.open_table(RETIRED).map_err(|e| error(e.into()))?;
        txn.commit().map_err(|e| error(e.into()))?;
        Ok(Self {
            db: Arc::new(db),
            path: Arc::new(path),
        })
    }

    /// The file the outbox is in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `op` on the blocking pool, mapping redb's errors.
    fn blocking<T, F>(&self, op: F) -> BoxFuture<'static, Result<T, OutboxError>>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T, Failure> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        let path = Arc::clone(&self.path);
        async move {
            tokio::task::spawn_blocking(move || {
                op(&db).map_err(|failure| match failure {
                    Failure::Redb(source) => OutboxError::Redb {
                        path: path.display().to_string(),
                        source,
                    },
                    Failure::Outbox(error) => error,
                })
            })
            .await?
        }
        .boxed()
    }
}

/// An operation's failure inside the blocking task.
enum Failure {
    Redb(Box<redb::Error>),
    Outbox(OutboxError),
}

impl<E: Into<redb::Error>> From<E> for Failure {
    fn from(error: E) -> Self {
        Self::Redb(Box::new(error.into()))
    }
}

/// Moves the records `keys` of `table` to the quarantine table.
fn quarantine(
    txn: &redb::WriteTransaction,
    table: TableDefinition<&[u8], &[u8]>,
    keys: &[Vec<u8>],
) -> Result<(), Failure> {
    let mut source = txn.open_table(table)?;
    let mut aside = txn.open_table(QUARANTINE)?;
    for key in keys {
        if let Some(value) = source.remove(key.as_slice())? {
            let mut moved = table.name().as_bytes().to_vec();
            moved.push(0);
            moved.extend_from_slice(key);
            aside.insert(moved.as_slice(), value.value())?;
        }
    }
    Ok(())
}

fn malformed(table: TableDefinition<&[u8], &[u8]>, key: &[u8], reason: String) -> Malformed {
    Malformed {
        location: format!("{} [{}]", table.name(), printable(key)),
        reason,
    }
}

/// Reads a registration record stored under `key`.
pub(super) fn read_registration(key: &[u8], value: &[u8]) -> Result<RegistrationRecord, String> {
    let record = RegistrationRecord::decode_from(value).map_err(|error| error.to_string())?;
    if record.id.as_bytes() != key {
        return Err(format!("record names registration `{}`", record.id));
    }
    check_id(&record.id).map_err(|error| error.to_string())?;
    if record.next_sequence < 1 {
        return Err(format!("next sequence {}", record.next_sequence));
    }
    Ok(record)
}

impl Outbox for RedbOutbox {
    fn put_registration<'a>(
        &'a self,
        registration: &'a Registration,
    ) -> BoxFuture<'a, Result<(), OutboxError>> {
        let registration = registration.clone();
        self.blocking(move |db| {
            check_id(registration.id()).map_err(Failure::Outbox)?;
            let txn = db.begin_write()?;
            {
                let mut table = txn.open_table(REGISTRATIONS)?;
                let key = registration.id().as_bytes();
                let retired = txn
                    .open_table(RETIRED)?
                    .remove(key)?
                    .map(|next| next.value());
                let retired = retired.map_or(1, |next| i64::try_from(next).unwrap_or(i64::MAX));
                let next_sequence = match table.get(key)? {
                    Some(old) => read_registration(key, old.value())
                        .map_or(retired, |record| record.next_sequence),
                    None => retired,
                };
                let record = RegistrationRecord {
                    id: registration.id().to_string(),
                    callback: registration.callback().to_string(),
                    topic: registration.topic().to_string(),
                    next_sequence,
                };
                table.insert(key, &record.to_bytes()[..])?;
            }
            txn.commit()?;
            Ok(())
        })
    }

    fn remove_registration<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<u64, OutboxError>> {
        let id = id.to_string();
        self.blocking(move |db| {
            let txn = db.begin_write()?;
            let removed;
            {
                let mut registrations = txn.open_table(REGISTRATIONS)?;
                let old = registrations.remove(id.as_bytes())?;
                if let Some(Ok(record)) =
                    old.map(|old| read_registration(id.as_bytes(), old.value()))
                {
                    let next = u64::try_from(record.next_sequence).unwrap_or(1);
                    txn.open_table(RETIRED)?.insert(id.as_bytes(), next)?;
                }
                let mut pending = txn.open_table(PENDING)?;
                let (low, high) = (pending_key(&id, 0), pending_key(&id, u64::MAX));
                let extracted =
                    pending.extract_from_if(low.as_slice()..=high.as_slice(), |_, _| true)?;
                let mut count = 0u64;
                for entry in extracted {
                    entry?;
                    count += 1;
                }
                removed = count;
            }
            txn.commit()?;
            Ok(removed)
        })
    }

    fn registrations(&self) -> BoxFuture<'_, Result<Scan<Registration>, OutboxError>> {
        self.blocking(|db| {
            let mut scan = Scan::default();
            let mut bad = Vec::new();
            {
                let txn = db.begin_read()?;
                let table = txn.open_table(REGISTRATIONS)?;
                for entry in table.iter()? {
                    let (key, value) = entry?;
                    match read_registration(key.value(), value.value()) {
                        Ok(record) => scan.items.push(Registration::new(
                            record.id,
                            record.callback,
                            record.topic,
                        )),
                        Err(reason) => {
                            scan.malformed
                                .push(malformed(REGISTRATIONS, key.value(), reason));
                            bad.push(key.value().to_vec());
                        }
                    }
                }
            }
            if !bad.is_empty() {
                let txn = db.begin_write()?;
                quarantine(&txn, REGISTRATIONS, &bad)?;
                txn.commit()?;
            }
            Ok(scan)
        })
    }

    fn enqueue<'a>(
        &'a self,
        registrations: &'a [String],
        calls: &'a [Invocation],
    ) -> BoxFuture<'a, Result<Vec<u64>, OutboxError>> {
        let registrations = registrations.to_vec();
        let calls = calls.to_vec();
        self.blocking(move |db| {
            let txn = db.begin_write()?;
            let mut firsts = Vec::with_capacity(registrations.len());
            {
                let mut table = txn.open_table(REGISTRATIONS)?;
                let mut pending = txn.open_table(PENDING)?;
                let enqueued_ms = now_ms();
                let records: Vec<CallRecord> = calls
                    .iter()
                    .map(|call| CallRecord {
                        func: call.func().to_string(),
                        params: call.params().to_vec(),
                        enqueued_ms,
                    })
                    .collect();
                let encoded: Vec<Bytes> = records.iter().map(|record| record.to_bytes()).collect();
                for id in &registrations {
                    let key = id.as_bytes();
                    let mut record = match table.get(key)? {
                        Some(value) => read_registration(key, value.value()).map_err(|_| {
                            Failure::Outbox(OutboxError::UnknownRegistration(id.clone()))
                        })?,
                        None => {
                            return Err(Failure::Outbox(OutboxError::UnknownRegistration(
                                id.clone(),
                            )))
                        }
                    };
                    let first = u64::try_from(record.next_sequence).unwrap_or(1);
                    for (offset, bytes) in (0u64..).zip(&encoded) {
                        pending.insert(pending_key(id, first + offset).as_slice(), &bytes[..])?;
                    }
                    let count = i64::try_from(encoded.len()).unwrap_or(i64::MAX);
                    record.next_sequence = record.next_sequence.saturating_add(count);
                    table.insert(key, &record.to_bytes()[..])?;
                    firsts.push(first);
                }
            }
            txn.commit()?;
            Ok(firsts)
        })
    }

    fn pending<'a>(
        &'a self,
        registration: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, Result<Scan<Pending>, OutboxError>> {
        let id = registration.to_string();
        self.blocking(move |db| {
            let mut scan = Scan::default();
            let mut bad = Vec::new();
            {
                let txn = db.begin_read()?;
                let table = txn.open_table(PENDING)?;
                let (low, high) = (pending_key(&id, 0), pending_key(&id, u64::MAX));
                for entry in table.range(low.as_slice()..=high.as_slice())? {
                    if scan.items.len() >= limit {
                        break;
                    }
                    let (key, value) = entry?;
                    let read = parse_pending_key(key.value()).and_then(|(_, sequence)| {
                        let record =
                            CallRecord::decode_from(value.value()).map_err(|e| e.to_string())?;
                        Ok(Pending {
                            sequence,
                            invocation: Invocation::from_parts(
                                record.func,
                                Bytes::from(record.params),
                            ),
                            enqueued_ms: record.enqueued_ms,
                        })
                    });
                    match read {
                        Ok(pending) => scan.items.push(pending),
                        Err(reason) => {
                            scan.malformed.push(malformed(PENDING, key.value(), reason));
                            bad.push(key.value().to_vec());
                        }
                    }
                }
            }
            if !bad.is_empty() {
                let txn = db.begin_write()?;
                quarantine(&txn, PENDING, &bad)?;
                txn.commit()?;
            }
            Ok(scan)
        })
    }

    fn ack<'a>(
        &'a self,
        registration: &'a str,
        through: u64,
    ) -> BoxFuture<'a, Result<(), OutboxError>> {
        let (low, high) = (
            pending_key(registration, 0),
            pending_key(registration, through),
        );
        self.blocking(move |db| {
            let mut txn = db.begin_write()?;
            // a forgotten acknowledgement means one more delivery, which the receiver drops
            txn.set_durability(Durability::Eventual);
            txn.open_table(PENDING)?
                .retain_in(low.as_slice()..=high.as_slice(), |_, _| false)?;
            txn.commit()?;
            Ok(())
        })
    }

    fn backlog(&self) -> BoxFuture<'_, Result<Vec<(String, u64)>, OutboxError>> {
        self.blocking(|db| {
            let txn = db.begin_read()?;
            let registrations = txn.open_table(REGISTRATIONS)?;
            let pending = txn.open_table(PENDING)?;
            let mut backlog = Vec::new();
            for entry in registrations.iter()? {
                let (key, _) = entry?;
                let Ok(id) = std::str::from_utf8(key.value()) else {
                    continue;
                };
                let (low, high) = (pending_key(id, 0), pending_key(id, u64::MAX));
                let mut count = 0u64;
                for entry in pending.range(low.as_slice()..=high.as_slice())? {
                    entry?;
                    count += 1;
                }
                backlog.push((id.to_string(), count));
            }
            Ok(backlog)
        })
    }

    fn sweep(&self) -> BoxFuture<'_, Result<Vec<Malformed>, OutboxError>> {
        self.blocking(|db| {
            let mut found = Vec::new();
            let mut bad_registrations = Vec::new();
            let mut bad_pending = Vec::new();
            {
                let txn = db.begin_read()?;
                let registrations = txn.open_table(REGISTRATIONS)?;
                let mut known = HashSet::new();
                for entry in registrations.iter()? {
                    let (key, value) = entry?;
                    match read_registration(key.value(), value.value()) {
                        Ok(record) => {
                            known.insert(record.id);
                        }
                        Err(reason) => {
                            found.push(malformed(REGISTRATIONS, key.value(), reason));
                            bad_registrations.push(key.value().to_vec());
                        }
                    }
                }
                let pending = txn.open_table(PENDING)?;
                for entry in pending.iter()? {
                    let (key, value) = entry?;
                    let reason = match parse_pending_key(key.value()) {
                        Err(reason) => Some(reason),
                        Ok((id, _)) if !known.contains(id) => {
                            Some(format!("no registration `{id}`"))
                        }
                        Ok(_) => CallRecord::decode_from(value.value())
                            .err()
                            .map(|error| error.to_string()),
                    };
                    if let Some(reason) = reason {
                        found.push(malformed(PENDING, key.value(), reason));
                        bad_pending.push(key.value().to_vec());
                    }
                }
            }
            if !found.is_empty() {
                let txn = db.begin_write()?;
                quarantine(&txn, REGISTRATIONS, &bad_registrations)?;
                quarantine(&txn, PENDING, &bad_pending)?;
                txn.commit()?;
            }
            Ok(found)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_keys_round_trip_and_reject_garbage() {
        let key = pending_key("reg-1", 42);
        assert_eq!(parse_pending_key(&key).unwrap(), ("reg-1", 42));
        assert!(parse_pending_key(b"x").is_err());
        assert!(parse_pending_key(&[0, 9, b'a']).is_err());
        // sorted by sequence within a registration
        assert!(pending_key("r", 2) < pending_key("r", 10));
    }

    #[tokio::test]
    async fn a_registration_removed_and_registered_again_goes_on_with_its_sequence() {
        let dir = std::env::temp_dir().join(format!("tars-callback-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let outbox = RedbOutbox::open(dir.join("retired.redb")).unwrap();
        let registration = Registration::new("r", "A.B.C@tcp -h 127.0.0.1 -p 1", "t");
        let ids = ["r".to_string()];
        let calls = [Invocation::new("f"), Invocation::new("f")];
        outbox.put_registration(&registration).await.unwrap();
        assert_eq!(outbox.enqueue(&ids, &calls).await.unwrap(), [1]);
        assert_eq!(outbox.remove_registration("r").await.unwrap(), 2);
        assert!(outbox.enqueue(&ids, &calls).await.is_err());
        outbox.put_registration(&registration).await.unwrap();
        assert_eq!(outbox.enqueue(&ids, &calls).await.unwrap(), [3]);
        let pending = outbox.pending("r", 10).await.unwrap();
        let sequences: Vec<u64> = pending.items.iter().map(|p| p.sequence).collect();
        assert_eq!(sequences, [3, 4]);
        outbox.ack("r", 3).await.unwrap();
        assert_eq!(outbox.backlog().await.unwrap(), [("r".to_string(), 1)]);
        drop(outbox);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
