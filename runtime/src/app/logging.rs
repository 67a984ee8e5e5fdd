//! The application's `tracing` subscriber: formatted lines to standard error, at a level that
//! `tars.setloglevel` changes while the service runs.

use std::sync::{Arc, OnceLock};

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, reload, Registry};

use crate::node::LevelFilter;

/// Changes the installed subscriber's level.
pub(super) type Control = reload::Handle<LevelFilter, Registry>;

/// Installs the subscriber at `level`; `None` if the process has one already (the
/// application's user installed their own).
pub(super) fn install(level: LevelFilter) -> Option<Control> {
    let (filter, control) = reload::Layer::new(level);
    let subscriber = tracing_subscriber::registry()
        .with(filter)
        .with(fmt::layer().with_writer(std::io::stderr));
    match subscriber.try_init() {
        Ok(()) => Some(control),
        Err(_) => None,
    }
}

/// The `tars.setloglevel` control: sets the level of the subscriber in `control`, once one is
/// installed.
pub(super) fn setter(
    control: &Arc<OnceLock<Control>>,
) -> impl Fn(LevelFilter) -> Result<(), Box<dyn std::error::Error + Send + Sync>> + Send + Sync + 'static
{
    let control = Arc::clone(control);
    move |level| match control.get() {
        Some(control) => control.modify(|filter| *filter = level).map_err(Into::into),
        None => Err("the application installed no tracing subscriber of its own".into()),
    }
}
