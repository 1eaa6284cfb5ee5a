//! librdkafka admin calls that the `rdkafka` crate does not wrap.
//!
//! `ListConsumerGroupOffsets` fetches a group's committed offsets on any client, so one client
//! serves every group (the consumer API would need one client, with its own threads, per group).

use std::ffi::{CStr, CString};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::TopicPartitionList;
use rdkafka_sys as rd;

use crate::snapshot::GroupOffset;

/// The committed offsets of `group` (one OffsetFetch to the group coordinator): on
/// `partitions`, with -1 where the group has committed nothing, or, with `None`, every partition
/// the group has committed to. Sorted by topic and partition.
pub fn list_group_offsets(
    client: &BaseConsumer,
    group: &str,
    partitions: Option<&[(String, i32)]>,
    timeout: Duration,
) -> Result<Vec<GroupOffset>, String> {
    if partitions.is_some_and(|p| p.is_empty()) {
        return Ok(Vec::new());
    }
    let gid = CString::new(group).map_err(|_| "group name contains NUL".to_string())?;
    let tpl = partitions.map(|parts| {
        let mut tpl = TopicPartitionList::new();
        for (t, p) in parts {
            tpl.add_partition(t, *p);
        }
        tpl
    });
    let tpl_ptr = tpl.as_ref().map_or(std::ptr::null_mut(), |t| t.ptr());
    let timeout_ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    let rk = client.client().native_ptr();
    let mut out = Vec::new();
    // SAFETY: every pointer below comes from librdkafka and is used before it is destroyed.
    // The request and the options are copied by rd_kafka_ListConsumerGroupOffsets, so they are
    // destroyed right after the call; the result (and the partition list inside it) belongs to
    // the event, which is read and then destroyed; the queue is destroyed last.
    unsafe {
        let req = rd::rd_kafka_ListConsumerGroupOffsets_new(gid.as_ptr(), tpl_ptr);
        let opts = rd::rd_kafka_AdminOptions_new(
            rk,
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS,
        );
        let mut errbuf = [0 as std::ffi::c_char; 256];
        rd::rd_kafka_AdminOptions_set_request_timeout(
            opts,
            timeout_ms,
            errbuf.as_mut_ptr(),
            errbuf.len(),
        );
        let queue = rd::rd_kafka_queue_new(rk);
        let mut reqs = [req];
        rd::rd_kafka_ListConsumerGroupOffsets(rk, reqs.as_mut_ptr(), 1, opts, queue);
        rd::rd_kafka_ListConsumerGroupOffsets_destroy(req);
        rd::rd_kafka_AdminOptions_destroy(opts);

        let ev = rd::rd_kafka_queue_poll(queue, timeout_ms.saturating_add(1000));
        let result = if ev.is_null() {
            Err("timed out".to_string())
        } else {
            let r = read_event(ev, &mut out);
            rd::rd_kafka_event_destroy(ev);
            r
        };
        rd::rd_kafka_queue_destroy(queue);
        result?;
    }
    out.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    out.dedup_by(|a, b| a.topic == b.topic && a.partition == b.partition);
    Ok(out)
}

/// Reads a ListConsumerGroupOffsets result event into `out`.
///
/// # Safety
/// `ev` must be a live event returned by `rd_kafka_queue_poll`.
unsafe fn read_event(
    ev: *mut rd::rd_kafka_event_t,
    out: &mut Vec<GroupOffset>,
) -> Result<(), String> {
    // SAFETY (whole body): `ev` is live (caller); the pointers read from it live as long as it.
    unsafe {
        let err = rd::rd_kafka_event_error(ev);
        if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            return Err(cstr(rd::rd_kafka_event_error_string(ev)));
        }
        let res = rd::rd_kafka_event_ListConsumerGroupOffsets_result(ev);
        if res.is_null() {
            return Err("unexpected admin event".to_string());
        }
        let mut n = 0usize;
        let groups = rd::rd_kafka_ListConsumerGroupOffsets_result_groups(res, &mut n);
        for i in 0..n {
            let g = *groups.add(i);
            let gerr = rd::rd_kafka_group_result_error(g);
            if !gerr.is_null() {
                return Err(cstr(rd::rd_kafka_error_string(gerr)));
            }
            let list = rd::rd_kafka_group_result_partitions(g);
            if list.is_null() {
                continue;
            }
            let list = &*list;
            for j in 0..usize::try_from(list.cnt).unwrap_or(0) {
                let e = &*list.elems.add(j);
                if e.err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                    continue;
                }
                out.push(GroupOffset {
                    topic: cstr(e.topic),
                    partition: e.partition,
                    // librdkafka reports "nothing committed" as -1001 (OFFSET_INVALID).
                    committed: if e.offset >= 0 { e.offset } else { -1 },
                    lag_seconds: None,
                });
            }
        }
        Ok(())
    }
}

/// # Safety
/// `p` is null or a NUL-terminated string.
unsafe fn cstr(p: *const std::ffi::c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: non-null and NUL-terminated (caller).
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}
