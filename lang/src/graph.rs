//! `dialect graph`: a flow drawn as a diagram.
