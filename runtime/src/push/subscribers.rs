//! [`Subscribers`]: a registry of the clients to push to.
