//! The TARS registry: finding an object's endpoints by its name (`App.Server.Obj`), and a small
//! registry for local development.
//!
//! In a TARS deployment a client names only the object and asks the registry,
//! `tars.tarsregistry.QueryObj`, for its endpoints through the interface `QueryF`
//! (TarsProtocol's `servant/QueryF.tars`), which answers with [`EndpointF`]s. This module has
//! both sides of that interface:
//!
//! * [`QueryF`], the interface as a Rust trait, with its generated [`QueryFProxy`] (a client
//!   of any TARS registry) and [`QueryFServant`];
//! * [`Locator`], a [`Discovery`](crate::client::discovery::Discovery) that asks a registry,
//!   given as the TARS config key `locator` (`tars.tarsregistry.QueryObj@tcp -h HOST -p PORT`);
//! * [`DevRegistry`], a `QueryF` servant serving endpoints from code, from a file, and from
//!   servers that add themselves at start ([`register_with`]). It is a development default,
//!   so that examples and a laptop run by object name without a TARS platform; it is **not** a
//!   replacement for tarsregistry (no nodes, no groups, no stations, no persistence, no
//!   change notifications).
//!
//! ```no_run
//! use tars_rpc::client::discovery::{Discovery, Lookup};
//! use tars_rpc::endpoint::Endpoint;
//! use tars_rpc::registry::{DevRegistry, Locator, QUERY_OBJ};
//! use tars_rpc::server::Server;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // a development registry, with one object in it
//! let registry = DevRegistry::new();
//! registry.add("TestApp.HelloServer.HelloObj", Endpoint::new("127.0.0.1", 18015));
//! let server = Server::builder()
//!     .servant(QUERY_OBJ, "tcp -h 127.0.0.1 -p 17890", registry.clone())
//!     .start()
//!     .await?;
//!
//! // a client asking it, as it would ask tarsregistry
//! let locator = Locator::new("tars.tarsregistry.QueryObj@tcp -h 127.0.0.1 -p 17890")?;
//! let found = locator.discover("TestApp.HelloServer.HelloObj", &Lookup::SameGroup).await?;
//! assert_eq!(found.active, [Endpoint::new("127.0.0.1", 18015)]);
//! # server.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod dev;
mod endpoint_f;
mod file;
mod locator;
mod query;
mod registration;
mod sets;

pub use dev::{DevRegistry, Registrar, RegistrarProxy, RegistrarServant};
pub use endpoint_f::{instances, EndpointF, UnusableEndpoint};
pub use file::LoadError;
pub use locator::{Locator, QueryFailed};
pub use query::{GetMasterSlaveLock, QueryF, QueryFProxy, QueryFServant};
pub use registration::{register_with, Registration};
pub use sets::{SetDivision, SetDivisionError};

/// The registry's object name, `tars.tarsregistry.QueryObj`: where a TARS client's `locator`
/// points, and the name a [`DevRegistry`] is served under.
pub const QUERY_OBJ: &str = "tars.tarsregistry.QueryObj";

/// The development registry's default address, `127.0.0.1:17890`, where
/// `examples/registry.rs` listens unless told otherwise (17890 is tarsregistry's usual port).
pub const DEV_REGISTRY_ADDRESS: &str = "127.0.0.1:17890";
