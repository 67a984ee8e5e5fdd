//! [`register_with`]: a server adding itself to a [`DevRegistry`](super::DevRegistry) in
//! another process, for as long as it runs.

use std::fmt;

use super::dev::RegistrarProxy;
use super::endpoint_f::EndpointF;
use super::locator::full_address;
use super::sets::SetDivision;
use crate::client::{Communicator, PushMessage, PushStream, TypedProxy};
use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::packet::ReturnCode;

/// A server's endpoint registered with a [`DevRegistry`](super::DevRegistry) by
/// [`register_with`]: active in the registry while this lives.
///
/// It keeps a connection to the registry open (with keep-alives), and registers again when
/// that connection is made again (the registry restarted). Dropping it closes the connection,
/// and the registry marks the endpoint inactive; [`unregister`](Self::unregister) removes it.
pub struct Registration {
    registrar: RegistrarProxy,
    object: String,
    endpoint: EndpointF,
    /// Keeps the proxy in push mode: keep-alives, and reconnecting by itself.
    _push_mode: PushStream<PushMessage>,
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("registry", &self.registrar.proxy().servant_name())
            .field("object", &self.object)
            .field("endpoint", &self.endpoint.to_string())
            .finish()
    }
}

/// Registers `endpoint` as an endpoint of `object` with the development registry at
/// `locator` (`tars.tarsregistry.QueryObj@tcp -h HOST -p PORT`, or only the endpoint), for as
/// long as the returned [`Registration`] lives: what a server in another process calls at
/// start, once it listens.
///
/// Only a [`DevRegistry`](super::DevRegistry) takes registrations; tarsregistry learns of
/// servers from tarsnode.
///
/// ```no_run
/// use tars_rpc::endpoint::Endpoint;
/// use tars_rpc::registry::register_with;
///
/// # async fn run(port: u16) -> tars_rpc::Result<()> {
/// let registration = register_with(
///     "tars.tarsregistry.QueryObj@tcp -h 127.0.0.1 -p 17890",
///     "TestApp.HelloServer.HelloObj",
///     Endpoint::new("127.0.0.1", port),
/// )
/// .await?;
/// // ... serve; at the end:
/// registration.unregister().await?;
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// If `locator` is not a proxy string, the endpoint cannot be called or its set id is not
/// `name.area.group` ([`ReturnCode::ADAPTER_NULL`]), or the registry cannot be reached or
/// refuses it (the call's error, or [`ReturnCode::SERVER_UNKNOWN_ERR`] for a refusal).
///
/// # Cancel safety
/// Dropping the future before it returns may leave the endpoint registered, inactive once the
/// connection closes.
pub async fn register_with(
    locator: &str,
    object: &str,
    endpoint: impl Into<EndpointF>,
) -> Result<Registration> {
    let endpoint = endpoint.into();
    let refused = |message: String| Error::new(ReturnCode::ADAPTER_NULL, message);
    if let Err(error) = Endpoint::try_from(&endpoint) {
        return Err(refused(error.to_string()));
    }
    if !endpoint.set_id.is_empty() {
        if let Err(error) = endpoint.set_id.parse::<SetDivision>() {
            return Err(refused(error.to_string()));
        }
    }
    let address = full_address(locator);
    let registrar: RegistrarProxy = Communicator::new()
        .string_to_proxy(&address)
        .map_err(|error| refused(error.to_string()))?;
    let push_mode = registrar.push_stream();
    let (hook_object, hook_endpoint) = (object.to_string(), endpoint.clone());
    registrar.on_connect(move |registrar: RegistrarProxy, at| {
        let (object, endpoint) = (hook_object.clone(), hook_endpoint.clone());
        async move {
            if let Err(error) = registrar.register_endpoint(object, endpoint, true).await {
                tracing::warn!(registry = %at, %error, "cannot register again");
            }
        }
    });
    registrar.connect().await?;
    // the hook registered too, but cannot report how it went: register (again) and see
    let ret = registrar
        .register_endpoint(object.to_string(), endpoint.clone(), true)
        .await?;
    if ret != 0 {
        return Err(Error::new(
            ReturnCode::SERVER_UNKNOWN_ERR,
            format!("registry {address} refused {object} at {endpoint}: registerEndpoint returned {ret}"),
        ));
    }
    Ok(Registration {
        registrar,
        object: object.to_string(),
        endpoint,
        _push_mode: push_mode,
    })
}

impl Registration {
    /// The object registered.
    pub fn object(&self) -> &str {
        &self.object
    }

    /// The endpoint registered.
    pub fn endpoint(&self) -> &EndpointF {
        &self.endpoint
    }

    /// Removes the endpoint from the registry, and closes the connection.
    ///
    /// # Errors
    /// If the registry cannot be reached (the endpoint then stays, inactive).
    ///
    /// # Cancel safety
    /// Dropping the future drops the registration: the endpoint stays, inactive, if the call
    /// was not made yet.
    pub async fn unregister(self) -> Result<()> {
        let port = self.endpoint.port;
        self.registrar
            .unregister_endpoint(self.object.clone(), self.endpoint.host.clone(), port)
            .await
            .map(drop)
    }
}
