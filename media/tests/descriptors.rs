//! A process out of file descriptors is told so: binding an RTP port then fails
//! with `PortError::NoDescriptors` (counted), not "no free RTP port". Runs alone
//! in its own test binary, since it lowers the process's open-files limit.

#![allow(clippy::unwrap_used)]

use dialect_media::PortAllocator;
use dialect_media::ports::PortError;

#[test]
fn rtp_binds_report_descriptor_exhaustion_as_such() {
    let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
    let open = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
    // Room for a few sockets more than are open now.
    rlimit::setrlimit(rlimit::Resource::NOFILE, open + 8, hard).unwrap();
    let ports = PortAllocator::new("127.0.0.1".parse().unwrap(), 32500..=32599);
    let mut held = Vec::new();
    let err = loop {
        match ports.bind() {
            Ok(s) => held.push(s),
            Err(e) => break e,
        }
        assert!(held.len() < 50, "the limit did not bind");
    };
    rlimit::setrlimit(rlimit::Resource::NOFILE, soft, hard).unwrap();
    assert!(matches!(err, PortError::NoDescriptors { .. }), "{err}");
    assert!(err.to_string().contains("file descriptor"), "{err}");
    assert_eq!(ports.descriptors_exhausted(), 1);
    drop(held);
    assert!(
        ports.bind().is_ok(),
        "ports work again once descriptors are free"
    );
}
