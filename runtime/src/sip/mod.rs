//! SIP for the Dialect runtime (guide written below).

pub mod auth;
pub mod dialog;
pub mod endpoint;
pub mod message;
pub mod registrar;
pub mod sdp;
pub mod transaction;
pub mod transport;
pub mod trunk;

pub use endpoint::{EndpointConfig, SipEndpoint};
