//! [`StatF`]: the stat service's interface, TarsProtocol's `servant/StatF.tars`.

use std::collections::BTreeMap;

use tars_rpc_macros::tars_interface;

use crate::error::Result;
use crate::TarsStruct;

/// `struct StatMicMsgHead` of `StatF.tars`: what one line of call statistics is about (Mic:
/// module interval call), the key of [`reportMicMsg`](StatF::report_mic_msg)'s map.
///
/// Its order is the IDL's `key[...]`, every field in declaration order, as TarsCpp's
/// `std::map` sorts the heads it sends.
#[derive(TarsStruct, Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[tars(crate = "crate")]
pub struct StatMicMsgHead {
    /// `masterName`: the caller, `App.Server` (a client adds `@` and its TARS version).
    #[tars(tag = 0)]
    pub master_name: String,
    /// `slaveName`: the callee, `App.Server` (and its set, `App.Server.nameareagroup`).
    #[tars(tag = 1)]
    pub slave_name: String,
    /// `interfaceName`: the function called.
    #[tars(tag = 2)]
    pub interface_name: String,
    /// `masterIp`: the caller's address (empty in a client's report).
    #[tars(tag = 3)]
    pub master_ip: String,
    /// `slaveIp`: the callee's address (empty in a server's report).
    #[tars(tag = 4)]
    pub slave_ip: String,
    /// `slavePort`: the callee's port.
    #[tars(tag = 5)]
    pub slave_port: i32,
    /// `returnValue`.
    #[tars(tag = 6)]
    pub return_value: i32,
    /// `slaveSetName`: the callee's set name.
    #[tars(tag = 7, optional)]
    pub slave_set_name: String,
    /// `slaveSetArea`: the callee's set area.
    #[tars(tag = 8, optional)]
    pub slave_set_area: String,
    /// `slaveSetID`: the callee's set group.
    #[tars(tag = 9, optional)]
    pub slave_set_id: String,
    /// `tarsVersion`.
    #[tars(tag = 10, optional)]
    pub tars_version: String,
}

/// `struct StatMicMsgBody` of `StatF.tars`: the counts of one line of call statistics over
/// one report interval. The times are in milliseconds and count successful calls only.
#[derive(TarsStruct, Debug, Clone, PartialEq, Eq, Default)]
#[tars(crate = "crate")]
pub struct StatMicMsgBody {
    /// `count`: successful calls.
    #[tars(tag = 0)]
    pub count: i32,
    /// `timeoutCount`: calls that timed out.
    #[tars(tag = 1)]
    pub timeout_count: i32,
    /// `execCount`: calls that failed otherwise (exceptions).
    #[tars(tag = 2)]
    pub exec_count: i32,
    /// `intervalCount`: successful calls per latency bucket, keyed by the bucket's upper
    /// bound in milliseconds (exclusive): see [`INTERVAL_POINTS`](super::INTERVAL_POINTS).
    #[tars(tag = 3)]
    pub interval_count: BTreeMap<i32, i32>,
    /// `totalRspTime`: the sum of the successful calls' times.
    #[tars(tag = 4)]
    pub total_rsp_time: i64,
    /// `maxRspTime`: the longest successful call.
    #[tars(tag = 5)]
    pub max_rsp_time: i32,
    /// `minRspTime`: the shortest successful call that took at least a millisecond (0 if
    /// none did), as TarsCpp keeps it.
    #[tars(tag = 6)]
    pub min_rsp_time: i32,
}

/// `struct StatSampleMsg` of `StatF.tars`: one sampled call of a call chain, for
/// [`reportSampleMsg`](StatF::report_sample_msg).
#[derive(TarsStruct, Debug, Clone, PartialEq, Eq, Default)]
#[tars(crate = "crate")]
pub struct StatSampleMsg {
    /// `unid`: the chain's id.
    #[tars(tag = 0)]
    pub unid: String,
    /// `masterName`.
    #[tars(tag = 1)]
    pub master_name: String,
    /// `slaveName`.
    #[tars(tag = 2)]
    pub slave_name: String,
    /// `interfaceName`.
    #[tars(tag = 3)]
    pub interface_name: String,
    /// `masterIp`.
    #[tars(tag = 4)]
    pub master_ip: String,
    /// `slaveIp`.
    #[tars(tag = 5)]
    pub slave_ip: String,
    /// `depth`.
    #[tars(tag = 6)]
    pub depth: i32,
    /// `width`.
    #[tars(tag = 7)]
    pub width: i32,
    /// `parentWidth`.
    #[tars(tag = 8)]
    pub parent_width: i32,
}

/// `struct ProxyInfo` of `StatF.tars`.
#[derive(TarsStruct, Debug, Clone, PartialEq, Eq, Default)]
#[tars(crate = "crate")]
pub struct ProxyInfo {
    /// `bFromClient`: whether the report comes from a client.
    #[tars(tag = 0)]
    pub b_from_client: bool,
}

/// The stat service's interface, `interface StatF` of TarsProtocol's `servant/StatF.tars`
/// (module `tars`), served by tarsstat as `tars.tarsstat.StatObj`.
///
/// [`StatFProxy`] is what [`StatReporter`](super::StatReporter) reports through;
/// [`StatFServant`] serves an implementation (a test double, a collector of your own).
#[tars_interface(crate = "crate")]
pub trait StatF {
    /// `int reportMicMsg(map<StatMicMsgHead, StatMicMsgBody> msg, bool bFromClient);`: one
    /// interval's call statistics, from clients (`bFromClient` true) or servers; 0 on success.
    async fn report_mic_msg(
        &self,
        msg: BTreeMap<StatMicMsgHead, StatMicMsgBody>,
        b_from_client: bool,
    ) -> Result<i32>;

    /// `int reportSampleMsg(vector<StatSampleMsg> msg);`: sampled calls; 0 on success.
    async fn report_sample_msg(&self, msg: Vec<StatSampleMsg>) -> Result<i32>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stat::property_f::StatPropMsgHead;

    #[test]
    fn heads_and_bodies_are_written_as_tarscpp_writes_them() {
        let head = StatMicMsgHead {
            master_name: "a".into(),
            slave_name: "b".into(),
            interface_name: "f".into(),
            ..StatMicMsgHead::default()
        };
        // required fields always, zeros as zero-type fields; empty optionals left off
        let bytes = head.to_bytes();
        assert_eq!(
            &bytes[..],
            b"\x06\x01a\x16\x01b\x26\x01f\x36\x00\x46\x00\x5c\x6c"
        );
        assert_eq!(StatMicMsgHead::decode_from(&bytes).unwrap(), head);

        let body = StatMicMsgBody {
            count: 1,
            interval_count: BTreeMap::from([(5, 1)]),
            ..StatMicMsgBody::default()
        };
        let bytes = body.to_bytes();
        assert_eq!(
            &bytes[..],
            b"\x00\x01\x1c\x2c\x38\x00\x01\x00\x05\x10\x01\x4c\x5c\x6c"
        );
        assert_eq!(StatMicMsgBody::decode_from(&bytes).unwrap(), body);

        // iPropertyVer: written when not its default, 1
        let property = StatPropMsgHead {
            module_name: "m".into(),
            i_property_ver: 2,
            ..StatPropMsgHead::default()
        };
        assert_eq!(
            &property.to_bytes()[..],
            b"\x06\x01m\x16\x00\x26\x00\x70\x02"
        );
        let version_1 = StatPropMsgHead {
            i_property_ver: 1,
            ..property
        };
        assert_eq!(&version_1.to_bytes()[..], b"\x06\x01m\x16\x00\x26\x00");
    }

    #[test]
    fn heads_sort_as_the_idl_key() {
        let head = |master: &str, port: i32| StatMicMsgHead {
            master_name: master.into(),
            slave_port: port,
            ..StatMicMsgHead::default()
        };
        let mut heads = vec![head("b", 1), head("a", 2), head("a", 1)];
        heads.sort();
        assert_eq!(heads, [head("a", 1), head("a", 2), head("b", 1)]);
    }
}
