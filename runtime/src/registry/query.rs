//! [`QueryF`]: the registry's query interface, TarsProtocol's `servant/QueryF.tars`.

use std::collections::BTreeMap;

use tars_rpc_macros::tars_interface;

use super::endpoint_f::EndpointF;
use crate::error::Result;
use crate::TarsStruct;

/// `struct GetMasterSlaveLock` of `QueryF.tars`: the request of
/// [`getLocker`](QueryF::get_locker), TARS enterprise's master/backup lock.
#[derive(TarsStruct, Debug, Clone, PartialEq, Eq, Default)]
#[tars(crate = "crate")]
pub struct GetMasterSlaveLock {
    /// `application`.
    #[tars(tag = 0, optional)]
    pub application: String,
    /// `server_name`.
    #[tars(tag = 1, optional)]
    pub server_name: String,
    /// `node_name`.
    #[tars(tag = 2, optional)]
    pub node_name: String,
    /// `isMaster`.
    #[tars(tag = 3, optional)]
    pub is_master: bool,
    /// `lastErr`.
    #[tars(tag = 4, optional)]
    pub last_err: bool,
    /// `timeout` in milliseconds.
    #[tars(tag = 5, optional)]
    pub timeout: i32,
    /// `bakType`: 0 no switching, 1 automatic master/backup switching, 2 switching without
    /// hiding the registry's routes.
    #[tars(tag = 6, optional)]
    pub bak_type: i32,
}

/// The registry's query interface, `interface QueryF` of TarsProtocol's `servant/QueryF.tars`
/// (module `tars`), served by tarsregistry as `tars.tarsregistry.QueryObj`.
///
/// Every `int` function returns 0 on success, with the object's endpoints that take calls in
/// `activeEp` and those it knows but marks inactive in `inactiveEp`; tarsregistry answers an
/// object it does not know with 0 and two empty lists. [`QueryFProxy`] calls any TARS registry;
/// [`QueryFServant`] serves an implementation, such as the
/// [`DevRegistry`](super::DevRegistry)'s.
///
/// ```no_run
/// use tars_rpc::client::Communicator;
/// use tars_rpc::registry::QueryFProxy;
///
/// # async fn run() -> tars_rpc::Result<()> {
/// let query: QueryFProxy = Communicator::new()
///     .string_to_proxy("tars.tarsregistry.QueryObj@tcp -h 127.0.0.1 -p 17890")
///     .expect("a valid proxy string");
/// let (ret, active, inactive) = query
///     .find_object_by_id_in_same_group("TestApp.HelloServer.HelloObj".into())
///     .await?;
/// # Ok(())
/// # }
/// ```
#[tars_interface(crate = "crate")]
pub trait QueryF {
    /// `vector<EndpointF> findObjectById(string id);`: the object's active endpoints.
    async fn find_object_by_id(&self, id: String) -> Result<Vec<EndpointF>>;

    /// `int findObjectById4Any(string id, out vector<EndpointF> activeEp, out vector<EndpointF>
    /// inactiveEp);`: every endpoint of the object, whatever its group.
    #[tars(name = "findObjectById4Any")]
    async fn find_object_by_id_4_any(
        &self,
        id: String,
        active_ep: &mut Vec<EndpointF>,
        inactive_ep: &mut Vec<EndpointF>,
    ) -> Result<i32>;

    /// `int findObjectById4All(string id, out vector<EndpointF> activeEp, out
    /// vector<EndpointF> inactiveEp);`: tarsregistry answers it as
    /// `findObjectByIdInSameGroup`.
    #[tars(name = "findObjectById4All")]
    async fn find_object_by_id_4_all(
        &self,
        id: String,
        active_ep: &mut Vec<EndpointF>,
        inactive_ep: &mut Vec<EndpointF>,
    ) -> Result<i32>;

    /// `int findObjectByIdInSameGroup(string id, out vector<EndpointF> activeEp, out
    /// vector<EndpointF> inactiveEp);`: the endpoints in the caller's IDC group (all of them
    /// when groups are not configured), what TarsCpp asks by default.
    async fn find_object_by_id_in_same_group(
        &self,
        id: String,
        active_ep: &mut Vec<EndpointF>,
        inactive_ep: &mut Vec<EndpointF>,
    ) -> Result<i32>;

    /// `int findObjectByIdInSameStation(string id, string sStation, out vector<EndpointF>
    /// activeEp, out vector<EndpointF> inactiveEp);`: the endpoints of a station (a set of
    /// groups).
    async fn find_object_by_id_in_same_station(
        &self,
        id: String,
        s_station: String,
        active_ep: &mut Vec<EndpointF>,
        inactive_ep: &mut Vec<EndpointF>,
    ) -> Result<i32>;

    /// `int findObjectByIdInSameSet(string id, string setId, out vector<EndpointF> activeEp,
    /// out vector<EndpointF> inactiveEp);`: the endpoints of the set `setId`,
    /// `name.area.group`; what TarsCpp asks when the client has a set division.
    async fn find_object_by_id_in_same_set(
        &self,
        id: String,
        set_id: String,
        active_ep: &mut Vec<EndpointF>,
        inactive_ep: &mut Vec<EndpointF>,
    ) -> Result<i32>;

    /// `int registerChange(map<string, string> timestamp, string name);`: asks to be told of
    /// changes (TARS enterprise).
    async fn register_change(
        &self,
        timestamp: BTreeMap<String, String>,
        name: String,
    ) -> Result<i32>;

    /// `int registerQuery(string id, string name);`: asks to be told when the endpoints of
    /// `id` change (TARS enterprise).
    async fn register_query(&self, id: String, name: String) -> Result<i32>;

    /// `int getLocker(GetMasterSlaveLock req);`: takes the master lock of a master/backup
    /// server (TARS enterprise): 0 taken, 1 not taken, 2 bad data, -1 another failure.
    async fn get_locker(&self, req: GetMasterSlaveLock) -> Result<i32>;
}
