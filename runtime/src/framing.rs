//! Framing: every TARS packet travels behind a 4-byte big-endian length that counts itself.
//!
//! [`FrameCodec`] is a tokio-util [`Decoder`] and [`Encoder`] for such frames.
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use tars_rpc::framing::FrameCodec;
//! use tokio_util::codec::{Decoder, Encoder};
//!
//! let mut codec = FrameCodec::default();
//! let mut wire = BytesMut::new();
//! codec.encode(Bytes::from_static(b"body"), &mut wire).unwrap();
//! assert_eq!(&wire[..], b"\x00\x00\x00\x08body");
//! assert_eq!(codec.decode(&mut wire).unwrap().unwrap(), "body");
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::time::Sleep;
use tokio_util::codec::{Decoder, Encoder};

use crate::TarsStruct;

/// Bytes taken by the length prefix.
pub const LENGTH_PREFIX: usize = 4;

/// The default largest frame, length prefix included: 10 MiB, as TarsCpp's default.
pub const DEFAULT_MAX_FRAME_LEN: usize = 10 * 1024 * 1024;

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The length field is below 4, the length of the field itself.
    #[error("frame length {0} is shorter than its own 4-byte length field")]
    TooShort(u32),
    /// The length field exceeds the codec's maximum.
    #[error("frame length {len} exceeds the maximum of {max} bytes")]
    TooLong {
        /// The frame's length.
        len: usize,
        /// The largest allowed.
        max: usize,
    },
    /// The connection failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A length-prefixed frame codec with a maximum frame size.
///
/// Decoding yields a frame's body without its length prefix. It never reserves memory on the
/// strength of a length field: the buffer holds only the bytes actually received.
#[derive(Debug, Clone, Copy)]
pub struct FrameCodec {
    max_frame_len: usize,
}

impl Default for FrameCodec {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME_LEN)
    }
}

impl FrameCodec {
    /// A codec accepting frames of up to `max_frame_len` bytes, length prefix included (at
    /// most `u32::MAX`, what the length field can express).
    pub fn new(max_frame_len: usize) -> Self {
        Self {
            max_frame_len: max_frame_len.min(u32::MAX as usize),
        }
    }

    /// The largest frame accepted, length prefix included.
    pub fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }

    /// Appends one frame whose body `write_body` writes, patching the length in afterwards so
    /// that the body is never copied.
    pub fn write_frame(
        &self,
        dst: &mut BytesMut,
        write_body: impl FnOnce(&mut BytesMut),
    ) -> Result<(), FrameError> {
        let start = dst.len();
        dst.extend_from_slice(&[0; LENGTH_PREFIX]);
        write_body(dst);
        let len = dst.len() - start;
        if len > self.max_frame_len {
            dst.truncate(start);
            return Err(FrameError::TooLong {
                len,
                max: self.max_frame_len,
            });
        }
        // len <= max_frame_len <= u32::MAX
        dst[start..start + LENGTH_PREFIX].copy_from_slice(&(len as u32).to_be_bytes());
        Ok(())
    }
}

impl Decoder for FrameCodec {
    type Item = Bytes;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let Some(prefix) = src.get(..LENGTH_PREFIX) else {
            return Ok(None);
        };
        let declared = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
        let len = declared as usize;
        if len < LENGTH_PREFIX {
            return Err(FrameError::TooShort(declared));
        }
        if len > self.max_frame_len {
            return Err(FrameError::TooLong {
                len,
                max: self.max_frame_len,
            });
        }
        if src.len() < len {
            return Ok(None);
        }
        let mut frame = src.split_to(len);
        frame.advance(LENGTH_PREFIX);
        Ok(Some(frame.freeze()))
    }
}

impl Encoder<Bytes> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, body: Bytes, dst: &mut BytesMut) -> Result<(), FrameError> {
        self.write_frame(dst, |dst| dst.extend_from_slice(&body))
    }
}

/// Encodes a packet (or any top-level struct) straight into the frame.
impl<T: TarsStruct> Encoder<&T> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, packet: &T, dst: &mut BytesMut) -> Result<(), FrameError> {
        self.write_frame(dst, |dst| packet.write_fields(dst))
    }
}

/// The most bytes of queued frames gathered into one write.
const WRITE_BATCH: usize = 64 * 1024;

/// Where a writer task takes its frames from.
pub(crate) trait FrameSource {
    /// The next frame already queued, without waiting.
    fn next_frame(&mut self) -> Option<Bytes>;

    /// Every frame handed over so far has been written.
    fn written(&mut self) {}
}

impl FrameSource for tokio::sync::mpsc::Receiver<Bytes> {
    fn next_frame(&mut self) -> Option<Bytes> {
        self.try_recv().ok()
    }
}

/// Writes `first` and every frame already queued behind it in `source`, whole frames only,
/// telling `source` each time all it handed over has been written.
///
/// A lone frame is written straight from its (often shared) bytes; a burst is gathered into
/// writes of about 64 KiB through a buffer dropped when the burst ends, so that an idle
/// connection holds no write buffer.
pub(crate) async fn write_queued<W: AsyncWrite + Unpin>(
    socket: &mut W,
    first: Bytes,
    source: &mut impl FrameSource,
) -> std::io::Result<()> {
    let Some(second) = source.next_frame() else {
        socket.write_all(&first).await?;
        // a TLS stream may hold the last record until flushed; a TCP socket holds nothing
        socket.flush().await?;
        source.written();
        return Ok(());
    };
    // boxed: a writer waits for its next frame in this future's state, which would otherwise be
    // sized for a burst's; a burst allocates its buffer anyway
    Box::pin(write_burst(socket, [first, second], source)).await
}

/// Writes the frames of a burst: `first_two`, then every frame queued behind them.
async fn write_burst<W: AsyncWrite + Unpin>(
    socket: &mut W,
    first_two: [Bytes; 2],
    source: &mut impl FrameSource,
) -> std::io::Result<()> {
    let mut buffer = BytesMut::with_capacity(WRITE_BATCH);
    let mut queued = first_two.into_iter();
    while let Some(frame) = queued.next().or_else(|| source.next_frame()) {
        if frame.len() >= WRITE_BATCH {
            if !buffer.is_empty() {
                socket.write_all(&buffer).await?;
                buffer.clear();
            }
            socket.write_all(&frame).await?;
            source.written();
        } else {
            buffer.extend_from_slice(&frame);
            if buffer.len() >= WRITE_BATCH {
                socket.write_all(&buffer).await?;
                buffer.clear();
                source.written();
            }
        }
    }
    if !buffer.is_empty() {
        socket.write_all(&buffer).await?;
    }
    socket.flush().await?;
    source.written();
    Ok(())
}

/// A writer that fails with [`TimedOut`](std::io::ErrorKind::TimedOut) when the socket takes no
/// byte for `timeout`: the peer has stopped reading. Progress, however slow, resets the clock.
pub(crate) struct ProgressTimeout<W> {
    inner: W,
    timeout: Duration,
    /// Allocated the first time a write has to wait, then reused. It is never moved back:
    /// resetting a timer takes a lock in tokio's timer, and a busy writer waits often. When it
    /// fires before `deadline` (set for an earlier wait), it is set again for `deadline`.
    sleep: Option<Pin<Box<Sleep>>>,
    /// When the write under way fails if it has not progressed; `None` while not waiting.
    deadline: Option<tokio::time::Instant>,
}

impl<W> ProgressTimeout<W> {
    /// `inner`, failing writes that make no progress for `timeout` (`Duration::MAX`: never).
    pub(crate) fn new(inner: W, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            sleep: None,
            deadline: None,
        }
    }

    /// Called when the inner writer is not ready: fails once it has not been for `timeout`.
    fn poll_stalled<T>(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<T>> {
        let timeout = self.timeout;
        let deadline = match self.deadline {
            Some(deadline) => deadline,
            None => match tokio::time::Instant::now().checked_add(timeout) {
                Some(deadline) => *self.deadline.insert(deadline),
                // too long to count: never
                None => return Poll::Pending,
            },
        };
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        loop {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if sleep.deadline() >= deadline {
                return Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "the peer took no byte for {} ms: it is not reading",
                        timeout.as_millis()
                    ),
                )));
            }
            // set for an earlier wait, which made progress: now for this one
            sleep.as_mut().reset(deadline);
        }
    }

    /// Passes on what the inner writer did: progress resets the clock, waiting runs it.
    fn track<T>(
        &mut self,
        polled: Poll<std::io::Result<T>>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<T>> {
        match polled {
            Poll::Ready(done) => {
                self.deadline = None;
                Poll::Ready(done)
            }
            Poll::Pending => self.poll_stalled(cx),
        }
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for ProgressTimeout<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.track(polled, cx)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_flush(cx);
        this.track(polled, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.track(polled, cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_takes_nothing_fails_the_write_after_the_timeout() {
        let (writer, _reader) = tokio::io::duplex(16);
        let mut writer = ProgressTimeout::new(writer, Duration::from_secs(5));
        let started = tokio::time::Instant::now();
        let error = writer.write_all(&[0; 64]).await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_reads_slowly_never_times_out() {
        let (writer, mut reader) = tokio::io::duplex(16);
        let mut writer = ProgressTimeout::new(writer, Duration::from_secs(5));
        // a byte every 4 s: each write waits, but never 5 s without progress
        let slow_reader = tokio::spawn(async move {
            let mut taken = Vec::new();
            let mut byte = [0; 1];
            while reader.read_exact(&mut byte).await.is_ok() {
                taken.push(byte[0]);
                tokio::time::sleep(Duration::from_secs(4)).await;
            }
            taken
        });
        let started = tokio::time::Instant::now();
        writer.write_all(&[7; 40]).await.unwrap();
        writer.shutdown().await.unwrap();
        drop(writer);
        assert!(started.elapsed() >= Duration::from_secs(4 * 20));
        assert_eq!(slow_reader.await.unwrap(), vec![7; 40]);
    }

    #[tokio::test(start_paused = true)]
    async fn with_the_longest_timeout_a_write_waits_for_ever() {
        let (writer, _reader) = tokio::io::duplex(16);
        let mut writer = ProgressTimeout::new(writer, Duration::MAX);
        let waited = tokio::time::timeout(Duration::from_secs(3600), writer.write_all(&[0; 64]));
        assert!(waited.await.is_err(), "still waiting after an hour");
    }
}
