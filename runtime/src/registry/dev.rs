//! [`DevRegistry`]: a `QueryF` servant for local development, and [`Registrar`], the functions
//! it adds for servers that register themselves.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::future::BoxFuture;
use tars_rpc_macros::tars_interface;
use tokio::sync::watch;

use super::endpoint_f::EndpointF;
use super::file::{parse, FileEntry, LoadError};
use super::query::{GetMasterSlaveLock, QueryF, QueryFServant};
use super::sets::{in_set, SetDivision, SetMatch};
use crate::client::discovery::{Instances, Lookup};
use crate::endpoint::Endpoint;
use crate::error::Result;
use crate::server::{Current, Servant};
use crate::support::lock;

/// What the development registry answers to the enterprise functions `registerChange`,
/// `registerQuery` and `getLocker`: their own "failed" value.
const NOT_SUPPORTED: i32 = -1;

/// The wire names of [`Registrar`]'s functions, which a [`DevRegistry`] dispatches to it; the
/// rest go to `QueryF`.
const REGISTRAR_FUNCTIONS: [&str; 2] = ["registerEndpoint", "unregisterEndpoint"];

/// The functions a [`DevRegistry`] serves beyond `QueryF`, on the same object: servers in other
/// processes add themselves with them. They are this crate's, not part of TARS (tarsregistry
/// learns of servers from tarsnode). [`register_with`](super::register_with) calls them for a
/// Rust server; any TARS client can, through this IDL:
///
/// ```text
/// module tars {
///     interface Registrar {
///         int registerEndpoint(string id, EndpointF endpoint, bool whileConnected);
///         int unregisterEndpoint(string id, string host, int port);
///     };
/// };
/// ```
#[tars_interface(crate = "crate")]
pub trait Registrar {
    /// `int registerEndpoint(string id, EndpointF endpoint, bool whileConnected);`: adds
    /// `endpoint` to the object `id`, active, or replaces the entry at the same host and port.
    /// With `whileConnected`, the endpoint turns inactive when the connection that registered
    /// it closes (as tarsregistry marks a server that stopped), until it is registered again.
    ///
    /// Returns 0, or -1 if `id` is empty, the endpoint cannot be called (not TCP, no host, a
    /// port out of range) or its `setId` is not `name.area.group`.
    async fn register_endpoint(
        &self,
        id: String,
        endpoint: EndpointF,
        while_connected: bool,
        current: &Current,
    ) -> Result<i32>;

    /// `int unregisterEndpoint(string id, string host, int port);`: removes the endpoint of
    /// `id` at `host` and `port`. Returns 0, or 1 if there was none.
    async fn unregister_endpoint(&self, id: String, host: String, port: i32) -> Result<i32>;
}

/// Where an entry came from, which decides what replaces or changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// Added in code.
    Code,
    /// Read from the endpoints file: replaced by a reload.
    File,
    /// Registered through [`Registrar`]; `Some` connection while it is tied to one.
    Registered(Option<u64>),
}

#[derive(Debug, Clone)]
struct Entry {
    endpoint: EndpointF,
    active: bool,
    origin: Origin,
}

#[derive(Default)]
struct State {
    /// Each object's endpoints, one per host and port, in the order they came.
    objects: BTreeMap<String, Vec<Entry>>,
    /// The endpoints file last loaded.
    file: Option<PathBuf>,
}

impl State {
    /// Adds `entry` to `object`, replacing the entry at the same host and port.
    fn insert(&mut self, object: &str, entry: Entry) {
        let entries = self.objects.entry(object.to_string()).or_default();
        match entries
            .iter_mut()
            .find(|old| old.endpoint.same_address(&entry.endpoint))
        {
            Some(old) => *old = entry,
            None => entries.push(entry),
        }
    }

    /// Removes the entries of `object` that `gone` picks; whether any was.
    fn remove_where(&mut self, object: &str, gone: impl Fn(&Entry) -> bool) -> bool {
        let Some(entries) = self.objects.get_mut(object) else {
            return false;
        };
        let before = entries.len();
        entries.retain(|entry| !gone(entry));
        let removed = entries.len() != before;
        if entries.is_empty() {
            self.objects.remove(object);
        }
        removed
    }

    /// The endpoints of `object`: active, inactive.
    fn split<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> (Vec<EndpointF>, Vec<EndpointF>) {
        let (active, inactive): (Vec<&Entry>, Vec<&Entry>) =
            entries.into_iter().partition(|entry| entry.active);
        let endpoints = |list: Vec<&Entry>| list.into_iter().map(|e| e.endpoint.clone()).collect();
        (endpoints(active), endpoints(inactive))
    }

    fn all(&self, object: &str) -> (Vec<EndpointF>, Vec<EndpointF>) {
        Self::split(self.objects.get(object).into_iter().flatten())
    }

    /// What tarsregistry answers `findObjectByIdInSameSet(object, set_id)`.
    fn in_set(&self, object: &str, set_id: &str) -> (i32, Vec<EndpointF>, Vec<EndpointF>) {
        let Ok(wanted) = set_id.parse::<SetDivision>() else {
            return (-1, Vec::new(), Vec::new());
        };
        let entries = self.objects.get(object).into_iter().flatten();
        match in_set(entries, |entry| &entry.endpoint, &wanted) {
            SetMatch::Found(found) => {
                let (active, inactive) = Self::split(found);
                (0, active, inactive)
            }
            SetMatch::NoSets => {
                let (active, inactive) = self.all(object);
                (0, active, inactive)
            }
            SetMatch::NotFound => (-1, Vec::new(), Vec::new()),
        }
    }
}

struct Shared {
    state: Mutex<State>,
    /// Counts the changes, for [`DevRegistry::changes`].
    version: watch::Sender<u64>,
}

impl Shared {
    /// Runs `change` on the state; if it says it changed something, tells the watchers.
    fn change<R>(&self, change: impl FnOnce(&mut State) -> (R, bool)) -> R {
        let (result, changed) = change(&mut lock(&self.state));
        if changed {
            self.version.send_modify(|version| *version += 1);
        }
        result
    }

    fn read<R>(&self, read: impl FnOnce(&State) -> R) -> R {
        read(&lock(&self.state))
    }

    /// Replaces the file's entries with `entries`, read from `file` if it is one.
    fn load(&self, entries: Vec<FileEntry>, file: Option<PathBuf>) -> usize {
        let count = entries.len();
        self.change(|state| {
            let objects: Vec<String> = state.objects.keys().cloned().collect();
            for object in objects {
                state.remove_where(&object, |entry| entry.origin == Origin::File);
            }
            for entry in entries {
                let FileEntry {
                    object,
                    endpoint,
                    active,
                } = entry;
                let origin = Origin::File;
                state.insert(
                    &object,
                    Entry {
                        endpoint,
                        active,
                        origin,
                    },
                );
            }
            if file.is_some() {
                state.file = file;
            }
            (count, true)
        })
    }
}

/// A registry for local development: a `QueryF` servant (plus [`Registrar`]) serving endpoints
/// from code, from a file, and from servers that add themselves at start, so that examples and
/// a laptop run by object name without a TARS platform.
///
/// **It is a development default, not a replacement for tarsregistry**: it has no tarsnode
/// reporting which servers run, no IDC groups or stations, no database, no change
/// notifications, and forgets everything not in its file when it stops.
///
/// Serve it as `tars.tarsregistry.QueryObj` ([`QUERY_OBJ`](super::QUERY_OBJ)); clients point
/// their `locator` at it, a Rust [`Locator`](super::Locator) as well as TarsCpp, TarsGo or
/// `@tars/rpc` clients. It is cheap to clone; clones share the endpoints.
///
/// ```no_run
/// use tars_rpc::endpoint::Endpoint;
/// use tars_rpc::registry::{DevRegistry, QUERY_OBJ};
/// use tars_rpc::server::Server;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let registry = DevRegistry::new();
/// registry.load_file("endpoints.txt")?;
/// registry.add("TestApp.HelloServer.HelloObj", Endpoint::new("127.0.0.1", 18015));
/// let server = Server::builder()
///     .servant(QUERY_OBJ, "tcp -h 127.0.0.1 -p 17890", registry.clone())
///     .start()
///     .await?;
/// # Ok(())
/// # }
/// ```
///
/// # What it answers
///
/// It knows one group and one station, and every endpoint is in them:
///
/// * `findObjectById`: the object's active endpoints;
/// * `findObjectByIdInSameGroup`, `findObjectById4Any`, `findObjectById4All`,
///   `findObjectByIdInSameStation`: 0, the active endpoints and the inactive ones;
/// * `findObjectByIdInSameSet(id, setId)`: as tarsregistry does. A `setId` that is not
///   `name.area.group` (or whose name or area is `*`) gets -1. If no endpoint of the object is in
///   a set of that name, the answer is that of `findObjectByIdInSameGroup`. Otherwise the
///   endpoints of the set `name.area.group`, or if there are none those of `name.area.*`; for
///   a group of `*`, every endpoint of `name.area`; -1 if that finds nothing.
/// * An object it does not know: 0 and empty lists, as tarsregistry answers.
/// * `registerChange`, `registerQuery`, `getLocker` (TARS enterprise): -1, the functions' own
///   "failed". It sends no change notifications, so answering 0 to the first two would promise
///   pushes that never come (clients poll, as they do anyway); and it keeps no master/backup
///   locks, where 0 would make every instance the master at once.
///
/// # The endpoints file
///
/// One endpoint per line, `OBJECT ENDPOINT [-s SET] [inactive]`; `#` starts a comment:
///
/// ```text
/// # object                     endpoint (as in a proxy string)        set, state
/// TestApp.HelloServer.HelloObj tcp -h 127.0.0.1 -p 18015 -t 60000
/// TestApp.HelloServer.HelloObj tcp -h 127.0.0.1 -p 18016 -v 1 -w 50 -s app.sz.1
/// TestApp.HelloServer.HelloObj tcp -h 127.0.0.1 -p 18017 inactive
/// TestApp.PushServer.PushObj   127.0.0.1:18020
/// ```
///
/// The endpoint is written as after `@` in a proxy string (`-t`, `-v 1 -w WEIGHT` kept, other
/// flags ignored), or `HOST:PORT`; `OBJECT@ENDPOINT` works too. `-s name.area.group` puts it in
/// a set (the group may be `*`); `inactive` lists it as inactive. [`reload`](Self::reload)
/// reads the file again, replacing what it read before and leaving the other endpoints alone;
/// an entry replaces any other entry of its object at the same host and port.
///
/// # Servers adding themselves
///
/// A server in another process calls [`register_with`](super::register_with) at start (or
/// `registerEndpoint` of [`Registrar`] from any language): its endpoint is active while its
/// registration's connection is open, and turns inactive when the server stops.
#[derive(Clone)]
pub struct DevRegistry {
    shared: Arc<Shared>,
    query: QueryFServant<Shared>,
    registrar: RegistrarServant<Shared>,
}

impl Default for DevRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for DevRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.shared.read(|state| {
            f.debug_struct("DevRegistry")
                .field("objects", &state.objects.len())
                .field("file", &state.file)
                .finish_non_exhaustive()
        })
    }
}

impl DevRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            version: watch::Sender::new(0),
        });
        Self {
            query: QueryFServant::from_arc(Arc::clone(&shared)),
            registrar: RegistrarServant::from_arc(Arc::clone(&shared)),
            shared,
        }
    }

    /// Adds `endpoint` to `object`, active, replacing its entry at the same host and port.
    /// Put it in a set with [`EndpointF::in_set`]. It is served as given, even one that clients
    /// cannot call (UDP, say), which they then leave out.
    ///
    /// ```
    /// use tars_rpc::endpoint::Endpoint;
    /// use tars_rpc::registry::{DevRegistry, EndpointF};
    ///
    /// let registry = DevRegistry::new();
    /// registry.add("A.B.Obj", Endpoint::new("127.0.0.1", 18015));
    /// registry.add("A.B.Obj", EndpointF::from(Endpoint::new("127.0.0.1", 18016)).in_set("app.sz.1"));
    /// assert_eq!(registry.endpoints("A.B.Obj").0.len(), 2);
    /// ```
    pub fn add(&self, object: &str, endpoint: impl Into<EndpointF>) {
        self.insert(object, endpoint.into(), true);
    }

    /// Adds `endpoint` to `object` as an inactive endpoint (known, not called), replacing its
    /// entry at the same host and port.
    pub fn add_inactive(&self, object: &str, endpoint: impl Into<EndpointF>) {
        self.insert(object, endpoint.into(), false);
    }

    fn insert(&self, object: &str, endpoint: EndpointF, active: bool) {
        let origin = Origin::Code;
        self.shared.change(|state| {
            state.insert(
                object,
                Entry {
                    endpoint,
                    active,
                    origin,
                },
            );
            ((), true)
        });
    }

    /// Removes the endpoint of `object` at the host and port of `endpoint`, whatever added it;
    /// whether there was one.
    pub fn remove(&self, object: &str, endpoint: impl Into<EndpointF>) -> bool {
        let endpoint = endpoint.into();
        self.shared.change(|state| {
            let removed =
                state.remove_where(object, |entry| entry.endpoint.same_address(&endpoint));
            (removed, removed)
        })
    }

    /// Replaces every endpoint of `object` with `instances` (outside any set); with none,
    /// `object` is forgotten.
    ///
    /// ```
    /// use tars_rpc::client::discovery::Instances;
    /// use tars_rpc::endpoint::Endpoint;
    /// use tars_rpc::registry::DevRegistry;
    ///
    /// let registry = DevRegistry::new();
    /// registry.set("A.B.Obj", Instances {
    ///     active: vec![Endpoint::new("127.0.0.1", 1)],
    ///     inactive: vec![Endpoint::new("127.0.0.1", 2)],
    /// });
    /// let (active, inactive) = registry.endpoints("A.B.Obj");
    /// assert_eq!((active.len(), inactive.len()), (1, 1));
    /// ```
    pub fn set(&self, object: &str, instances: Instances) {
        let entry = |endpoint: Endpoint, active| Entry {
            endpoint: endpoint.into(),
            active,
            origin: Origin::Code,
        };
        let entries: Vec<Entry> = instances
            .active
            .into_iter()
            .map(|endpoint| entry(endpoint, true))
            .chain(
                instances
                    .inactive
                    .into_iter()
                    .map(|endpoint| entry(endpoint, false)),
            )
            .collect();
        self.shared.change(|state| {
            state.objects.remove(object);
            for entry in entries {
                state.insert(object, entry);
            }
            ((), true)
        });
    }

    /// Reads the endpoints file at `path` (see [the format](Self#the-endpoints-file)),
    /// replacing the entries of the file loaded before, and remembers it for
    /// [`reload`](Self::reload). Returns how many entries it has.
    ///
    /// # Errors
    /// If the file cannot be read, or a line is not an entry ([`LoadError`]); nothing changes
    /// then.
    pub fn load_file(&self, path: impl AsRef<Path>) -> std::result::Result<usize, LoadError> {
        let path = path.as_ref().to_path_buf();
        let text = std::fs::read_to_string(&path).map_err(|source| LoadError::Io {
            path: path.clone(),
            source,
        })?;
        let entries = parse(&text, &path.display().to_string())?;
        Ok(self.shared.load(entries, Some(path)))
    }

    /// Reads the endpoints file last loaded again. Returns how many entries it has.
    ///
    /// # Errors
    /// As [`load_file`](Self::load_file), or [`LoadError::NoFile`] if none was loaded.
    pub fn reload(&self) -> std::result::Result<usize, LoadError> {
        let path = self
            .shared
            .read(|state| state.file.clone())
            .ok_or(LoadError::NoFile)?;
        self.load_file(path)
    }

    /// Reads endpoints written as in [the endpoints file](Self#the-endpoints-file) from `text`,
    /// replacing those of the file (or text) loaded before. Returns how many entries it has.
    ///
    /// ```
    /// use tars_rpc::registry::DevRegistry;
    ///
    /// let registry = DevRegistry::new();
    /// registry.load_text("A.B.Obj tcp -h 127.0.0.1 -p 18015 -s app.sz.1\n").unwrap();
    /// assert_eq!(registry.objects(), ["A.B.Obj"]);
    /// ```
    ///
    /// # Errors
    /// If a line is not an entry ([`LoadError::Parse`]); nothing changes then.
    pub fn load_text(&self, text: &str) -> std::result::Result<usize, LoadError> {
        let entries = parse(text, "<text>")?;
        Ok(self.shared.load(entries, None))
    }

    /// The objects it has endpoints of, in order.
    pub fn objects(&self) -> Vec<String> {
        self.shared
            .read(|state| state.objects.keys().cloned().collect())
    }

    /// The endpoints of `object`: the active ones and the inactive ones.
    pub fn endpoints(&self, object: &str) -> (Vec<EndpointF>, Vec<EndpointF>) {
        self.shared.read(|state| state.all(object))
    }

    /// What it answers to the `QueryF` function `lookup` stands for (see
    /// [What it answers](Self#what-it-answers)): the active and inactive endpoints, or the
    /// non-zero return value.
    ///
    /// ```
    /// use tars_rpc::client::discovery::Lookup;
    /// use tars_rpc::registry::DevRegistry;
    ///
    /// let registry = DevRegistry::new();
    /// registry
    ///     .load_text("A.B.Obj tcp -h h -p 1 -s app.sz.1\nA.B.Obj tcp -h h -p 2 -s app.sz.*\n")
    ///     .unwrap();
    /// let in_set = |set: &str| registry.lookup("A.B.Obj", &Lookup::SameSet(set.into()));
    /// assert_eq!(in_set("app.sz.1").unwrap().0[0].port, 1);
    /// assert_eq!(in_set("app.sz.2").unwrap().0[0].port, 2); // the area's wildcard group
    /// assert_eq!(in_set("app.sh.1"), Err(-1));
    /// assert_eq!(in_set("other.sz.1").unwrap().0.len(), 2); // no such set: the whole group
    /// ```
    ///
    /// # Errors
    /// The return value, when it is not 0.
    pub fn lookup(
        &self,
        object: &str,
        lookup: &Lookup,
    ) -> std::result::Result<(Vec<EndpointF>, Vec<EndpointF>), i32> {
        self.shared.read(|state| match lookup {
            Lookup::SameSet(set) => match state.in_set(object, set) {
                (0, active, inactive) => Ok((active, inactive)),
                (ret, _, _) => Err(ret),
            },
            Lookup::SameGroup | Lookup::Any | Lookup::All => Ok(state.all(object)),
        })
    }

    /// A receiver whose value counts the changes made so far (additions, removals,
    /// registrations, loads, endpoints turning inactive): await
    /// [`changed`](watch::Receiver::changed) on it to learn of the next one.
    ///
    /// ```
    /// use tars_rpc::endpoint::Endpoint;
    /// use tars_rpc::registry::DevRegistry;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let registry = DevRegistry::new();
    /// let mut changes = registry.changes();
    /// registry.add("A.B.Obj", Endpoint::new("127.0.0.1", 18015));
    /// changes.changed().await.unwrap(); // at once: something changed since `changes()`
    /// assert_eq!(*changes.borrow(), 1);
    /// # }
    /// ```
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.shared.version.subscribe()
    }
}

/// Dispatches [`Registrar`]'s functions to it and every other function to `QueryF` (unknown
/// ones: -3, `SERVER_NO_FUNC`); when a connection closes, its `whileConnected` registrations
/// turn inactive.
impl Servant for DevRegistry {
    fn dispatch<'a>(&'a self, current: &'a Current, params: Bytes) -> BoxFuture<'a, Result<Bytes>> {
        if REGISTRAR_FUNCTIONS.contains(&current.func_name()) {
            self.registrar.dispatch(current, params)
        } else {
            self.query.dispatch(current, params)
        }
    }

    fn on_connection_closed<'a>(&'a self, current: &'a Current) -> BoxFuture<'a, ()> {
        let connection = Some(current.connection_id());
        self.shared.change(|state| {
            let mut changed = false;
            for entry in state.objects.values_mut().flatten() {
                if entry.origin == Origin::Registered(connection) {
                    entry.active = false;
                    entry.origin = Origin::Registered(None);
                    changed = true;
                }
            }
            ((), changed)
        });
        Box::pin(std::future::ready(()))
    }
}

impl QueryF for Shared {
    async fn find_object_by_id(&self, id: String) -> Result<Vec<EndpointF>> {
        Ok(self.read(|state| state.all(&id).0))
    }

    async fn find_object_by_id_4_any(
        &self,
        id: String,
        active_ep: &mut Vec<EndpointF>,
        inactive_ep: &mut Vec<EndpointF>,
    ) -> Result<i32> {
        (*active_ep, *inactive_ep) = self.read(|state| state.all(&id));
        Ok(0)
    }

    async fn find_object_by_id_4_all(
        &self,
        id: String,
        active_ep: &mut Vec<EndpointF>,
        inactive_ep: &mut Vec<EndpointF>,
    ) -> Result<i32> {
        self.find_object_by_id_4_any(id, active_ep, inactive_ep)
            .await
    }

    async fn find_object_by_id_in_same_group(
        &self,
        id: String,
        active_ep: &mut Vec<EndpointF>,
        inactive_ep: &mut Vec<EndpointF>,
    ) -> Result<i32> {
        self.find_object_by_id_4_any(id, active_ep, inactive_ep)
            .await
    }

    async fn find_object_by_id_in_same_station(
        &self,
        id: String,
        _s_station: String,
        active_ep: &mut Vec<EndpointF>,
        inactive_ep: &mut Vec<EndpointF>,
    ) -> Result<i32> {
        self.find_object_by_id_4_any(id, active_ep, inactive_ep)
            .await
    }

    async fn find_object_by_id_in_same_set(
        &self,
        id: String,
        set_id: String,
        active_ep: &mut Vec<EndpointF>,
        inactive_ep: &mut Vec<EndpointF>,
    ) -> Result<i32> {
        let (ret, active, inactive) = self.read(|state| state.in_set(&id, &set_id));
        (*active_ep, *inactive_ep) = (active, inactive);
        Ok(ret)
    }

    async fn register_change(
        &self,
        _timestamp: BTreeMap<String, String>,
        _name: String,
    ) -> Result<i32> {
        Ok(NOT_SUPPORTED)
    }

    async fn register_query(&self, _id: String, _name: String) -> Result<i32> {
        Ok(NOT_SUPPORTED)
    }

    async fn get_locker(&self, _req: GetMasterSlaveLock) -> Result<i32> {
        Ok(NOT_SUPPORTED)
    }
}

impl Registrar for Shared {
    async fn register_endpoint(
        &self,
        id: String,
        endpoint: EndpointF,
        while_connected: bool,
        current: &Current,
    ) -> Result<i32> {
        let usable = Endpoint::try_from(&endpoint).is_ok()
            && (endpoint.set_id.is_empty() || endpoint.set_id.parse::<SetDivision>().is_ok());
        if id.trim().is_empty() || !usable {
            return Ok(-1);
        }
        let origin = Origin::Registered(while_connected.then(|| current.connection_id()));
        self.change(|state| {
            state.insert(
                &id,
                Entry {
                    endpoint,
                    active: true,
                    origin,
                },
            );
            ((), true)
        });
        Ok(0)
    }

    async fn unregister_endpoint(&self, id: String, host: String, port: i32) -> Result<i32> {
        let removed = self.change(|state| {
            let removed = state.remove_where(&id, |entry| {
                entry.endpoint.host == host && entry.endpoint.port == port
            });
            (removed, removed)
        });
        Ok(if removed { 0 } else { 1 })
    }
}
