//! Feeds arbitrary bytes to the frame decoder and the packet decoders: nothing may panic,
//! no frame may be larger than the input, a packet that decodes must survive a re-encoding
//! unchanged, and a request reads the same in place (`RequestPacketRef`) as owned.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tars_rpc::framing::{FrameCodec, LENGTH_PREFIX};
use tars_rpc::packet::{RequestPacket, RequestPacketRef, ResponsePacket};
use tars_rpc::{TarsStruct, TarsStructRef};
use tokio_util::codec::Decoder;

fn decode_packets(body: &bytes::Bytes) {
    let view = RequestPacketRef::decode_from(body);
    assert_eq!(view.is_ok(), RequestPacket::decode_bytes(body).is_ok());
    if let Ok(request) = RequestPacket::decode_bytes(body) {
        assert_eq!(
            RequestPacket::decode_from(&request.to_bytes()).as_ref(),
            Ok(&request)
        );
        let view = view.expect("reads as owned, so in place");
        assert_eq!(
            (view.servant_name, view.func_name, view.buffer),
            (&*request.servant_name, &*request.func_name, &request.buffer[..])
        );
        assert_eq!(view.context.len(), request.context.len());
    }
    if let Ok(response) = ResponsePacket::decode_bytes(body) {
        assert_eq!(
            ResponsePacket::decode_from(&response.to_bytes()).as_ref(),
            Ok(&response)
        );
    }
}

fuzz_target!(|data: &[u8]| {
    // the raw input as a packet body
    decode_packets(&bytes::Bytes::copy_from_slice(data));

    // the input as a stream of frames, with the default and with a small maximum
    for max in [tars_rpc::framing::DEFAULT_MAX_FRAME_LEN, 64] {
        let mut codec = FrameCodec::new(max);
        let mut buf = BytesMut::from(data);
        // every frame consumes at least LENGTH_PREFIX bytes
        for _ in 0..=data.len() / LENGTH_PREFIX {
            let before = buf.len();
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => {
                    assert!(frame.len() + LENGTH_PREFIX <= data.len());
                    assert!(frame.len() + LENGTH_PREFIX <= max);
                    assert_eq!(before - buf.len(), frame.len() + LENGTH_PREFIX);
                    decode_packets(&frame);
                }
                Ok(None) => {
                    assert_eq!(buf.len(), before);
                    break;
                }
                Err(_) => break,
            }
        }
    }
});
