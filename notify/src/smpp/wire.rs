//! One PDU at a time on a byte stream: the length is checked before the body
//! is read, and a PDU once begun must arrive whole within a time limit, so a
//! peer that sends a huge length or stalls half-way costs neither memory nor a
//! task forever.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::pdu::{self, Pdu, PduError};

/// Why a PDU could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The stream ended between PDUs.
    #[error("the link was closed")]
    Closed,
    /// The socket failed, or ended inside a PDU.
    #[error("the link failed: {0}")]
    Io(#[from] std::io::Error),
    /// A PDU began but did not arrive whole in time.
    #[error("a PDU did not arrive whole within {0:?}")]
    Stalled(Duration),
    /// The bytes are not a PDU.
    #[error("{0}")]
    Pdu(#[from] PduError),
}

/// Reads the next PDU. Waiting for its first byte has no limit (the caller
/// watches for idle links with enquire_link); the rest must come within
/// `body_within`. `buf` is reused between reads.
///
/// Not cancel-safe: run it in a task of its own rather than in a `select!`.
pub async fn read_pdu<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    body_within: Duration,
) -> Result<Pdu, ReadError> {
    let mut prefix = [0u8; 4];
    let first = reader.read(&mut prefix[..1]).await?;
    if first == 0 {
        return Err(ReadError::Closed);
    }
    let rest = async {
        reader.read_exact(&mut prefix[1..]).await?;
        let len = pdu::frame_length(prefix)?;
        buf.clear();
        buf.extend_from_slice(&prefix);
        buf.resize(len, 0);
        reader.read_exact(&mut buf[4..]).await?;
        Ok::<(), ReadError>(())
    };
    tokio::time::timeout(body_within, rest)
        .await
        .map_err(|_| ReadError::Stalled(body_within))??;
    Ok(pdu::decode(buf)?)
}

/// Writes one PDU, which must leave within `within` (a peer that stops
/// reading fills the socket's buffers, and then the write waits).
pub async fn write_pdu<W: AsyncWrite + Unpin>(
    writer: &mut W,
    pdu: &Pdu,
    buf: &mut Vec<u8>,
    within: Duration,
) -> std::io::Result<()> {
    buf.clear();
    pdu.encode_into(buf)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    tokio::time::timeout(within, writer.write_all(buf))
        .await
        .map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("the peer took no bytes for {within:?}"),
            )
        })?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smpp::pdu::Body;

    #[tokio::test]
    async fn reads_pdus_one_after_another() {
        let mut bytes = Pdu::request(1, Body::EnquireLink).encode().unwrap();
        bytes.extend(Pdu::request(2, Body::Unbind).encode().unwrap());
        let mut reader = &bytes[..];
        let mut buf = Vec::new();
        let d = Duration::from_secs(1);
        assert_eq!(
            read_pdu(&mut reader, &mut buf, d).await.unwrap().sequence,
            1
        );
        assert_eq!(
            read_pdu(&mut reader, &mut buf, d).await.unwrap().body,
            Body::Unbind
        );
        assert!(matches!(
            read_pdu(&mut reader, &mut buf, d).await,
            Err(ReadError::Closed)
        ));
    }

    #[tokio::test]
    async fn a_huge_length_is_refused_without_reading_it() {
        let bytes = [0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 4];
        let mut reader = &bytes[..];
        let mut buf = Vec::new();
        let e = read_pdu(&mut reader, &mut buf, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(matches!(e, ReadError::Pdu(PduError::BadLength(_))), "{e}");
        assert!(buf.capacity() < 1024);
    }

    #[tokio::test(start_paused = true)]
    async fn a_pdu_that_stalls_half_way_times_out() {
        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(&[0, 0, 0, 16, 0, 0]).await.unwrap();
        let mut buf = Vec::new();
        let e = read_pdu(&mut b, &mut buf, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(matches!(e, ReadError::Stalled(_)), "{e}");
    }
}
