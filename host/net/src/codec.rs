//! The request-response codec: a 4-byte big-endian length, then canonical SCALE, with hard caps
//! on both sides so a peer can neither make us allocate what it claims nor send more than a
//! message may hold.

use crate::wire::{MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES, Request, Response};
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use parity_scale_codec::Encode;
use std::io;

/// The codec of the sync protocol.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyncCodec;

/// A request as read off a stream. libp2p drops a request whose read fails without telling
/// the behaviour, so a bad one is read as `Invalid` instead: that is how the peer that sent it
/// gets penalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A request that decoded within its limits.
    Valid(Request),
    /// Oversized or malformed bytes, and why.
    Invalid(String),
}

enum Frame {
    Bytes(Vec<u8>),
    TooLong(usize),
}

fn invalid(e: impl ToString) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T, max: usize) -> io::Result<Frame> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Ok(Frame::TooLong(len)); // the rest is never read
    }
    // Grows as bytes arrive: a claimed length is never allocated up front.
    let mut buf = Vec::new();
    (&mut *io).take(len as u64).read_to_end(&mut buf).await?;
    if buf.len() != len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(Frame::Bytes(buf))
}

fn bytes(frame: Frame, max: usize) -> io::Result<Vec<u8>> {
    match frame {
        Frame::Bytes(b) => Ok(b),
        Frame::TooLong(len) => Err(invalid(format!("frame of {len} bytes exceeds the {max}-byte cap"))),
    }
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(io: &mut T, bytes: Vec<u8>, max: usize) -> io::Result<()> {
    let len = u32::try_from(bytes.len())
        .ok()
        .filter(|l| (*l as usize) <= max)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame exceeds its cap"))?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(&bytes).await?;
    io.flush().await
}

#[async_trait::async_trait]
impl libp2p::request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = Inbound;
    type Response = Response;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Inbound>
    where
        T: AsyncRead + Unpin + Send,
    {
        Ok(match read_frame(io, MAX_REQUEST_BYTES).await? {
            Frame::TooLong(len) => Inbound::Invalid(format!("request of {len} bytes over the cap")),
            Frame::Bytes(b) => match Request::decode_wire(&b) {
                Ok(r) => Inbound::Valid(r),
                Err(e) => Inbound::Invalid(e.to_string()),
            },
        })
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Response>
    where
        T: AsyncRead + Unpin + Send,
    {
        Response::decode_wire(&bytes(read_frame(io, MAX_RESPONSE_BYTES).await?, MAX_RESPONSE_BYTES)?).map_err(invalid)
    }

    async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, req: Inbound) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        match req {
            Inbound::Valid(r) => write_frame(io, r.encode(), MAX_REQUEST_BYTES).await,
            Inbound::Invalid(why) => Err(io::Error::new(io::ErrorKind::InvalidInput, why)),
        }
    }

    async fn write_response<T>(&mut self, _: &StreamProtocol, io: &mut T, res: Response) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, res.encode(), MAX_RESPONSE_BYTES).await
    }
}
