//! [`PropertyF`]: the property service's interface, TarsProtocol's `servant/PropertyF.tars`.

use std::collections::BTreeMap;

use tars_rpc_macros::tars_interface;

use crate::error::Result;
use crate::TarsStruct;

/// `struct StatPropMsgHead` of `PropertyF.tars`: which property of which service a report is
/// about, the key of [`reportPropMsg`](PropertyF::report_prop_msg)'s map.
///
/// Its order begins with the IDL's `key[...]` (module, ip, property, set name, area, id), as
/// TarsCpp's `std::map` sorts the heads it sends; the two fields after it only break ties.
#[derive(TarsStruct, Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[tars(crate = "crate")]
pub struct StatPropMsgHead {
    /// `moduleName`: the service, `App.Server` (and its set, `App.Server.nameareagroup`).
    #[tars(tag = 0)]
    pub module_name: String,
    /// `ip`: the service's address (TarsCpp sends it empty: the property service fills in
    /// the sender's).
    #[tars(tag = 1)]
    pub ip: String,
    /// `propertyName`.
    #[tars(tag = 2)]
    pub property_name: String,
    /// `setName`.
    #[tars(tag = 3, optional)]
    pub set_name: String,
    /// `setArea`.
    #[tars(tag = 4, optional)]
    pub set_area: String,
    /// `setID`.
    #[tars(tag = 5, optional)]
    pub set_id: String,
    /// `sContainer`: the container's name.
    #[tars(tag = 6, optional)]
    pub s_container: String,
    /// `iPropertyVer`, default 1; TarsCpp sends 2.
    #[tars(tag = 7, default = 1)]
    pub i_property_ver: i32,
}

/// `struct StatPropInfo` of `PropertyF.tars`: one policy's value.
#[derive(TarsStruct, Debug, Clone, PartialEq, Eq, Default)]
#[tars(crate = "crate")]
pub struct StatPropInfo {
    /// `policy`: `Sum`, `Avg`, `Distr`, `Count`, `Max` or `Min`.
    #[tars(tag = 0)]
    pub policy: String,
    /// `value`, as text (`Distr`: `bound|count,bound|count,...`).
    #[tars(tag = 1)]
    pub value: String,
}

/// `struct StatPropMsgBody` of `PropertyF.tars`: a property's values over one interval.
#[derive(TarsStruct, Debug, Clone, PartialEq, Eq, Default)]
#[tars(crate = "crate")]
pub struct StatPropMsgBody {
    /// `vInfo`: one value per policy.
    #[tars(tag = 0)]
    pub v_info: Vec<StatPropInfo>,
}

/// The property service's interface, `interface PropertyF` of TarsProtocol's
/// `servant/PropertyF.tars` (module `tars`), served by tarsproperty as
/// `tars.tarsproperty.PropertyObj`.
///
/// [`PropertyFProxy`] is what [`StatReporter`](super::StatReporter) reports through;
/// [`PropertyFServant`] serves an implementation.
#[tars_interface(crate = "crate")]
pub trait PropertyF {
    /// `int reportPropMsg(map<StatPropMsgHead, StatPropMsgBody> statmsg);`: one interval's
    /// property values; 0 on success.
    async fn report_prop_msg(
        &self,
        statmsg: BTreeMap<StatPropMsgHead, StatPropMsgBody>,
    ) -> Result<i32>;
}
