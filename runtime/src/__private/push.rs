//! What a generated `{Trait}Sender` wraps: pushing a function's values to a client.

use std::future::Future;

use super::params::{push_frame, Function, ReplyArgs, ReturnArg};
use crate::packet::Context;
use crate::server::Current;
use crate::server::{PushError, PushFrame};

/// The client of a saved `Current`, and the context its pushes carry.
#[derive(Clone, Debug)]
pub struct Pusher {
    current: Current,
    context: Context,
}

impl Pusher {
    /// Pushes to the client of `current`'s connection, without a context.
    pub fn new(current: &Current) -> Self {
        Self {
            current: current.clone(),
            context: Context::new(),
        }
    }

    /// The same, attaching `context` to every push.
    pub fn with_context(self, context: Context) -> Self {
        Self { context, ..self }
    }

    /// Pushes `F`, waiting for room in the connection's outgoing queue (`Current::push`).
    /// Encodes before returning the future, so that the future borrows no value.
    #[inline]
    pub fn push<F: Function>(
        &self,
        ret: ReturnArg<'_, F>,
        params: ReplyArgs<'_, F>,
    ) -> impl Future<Output = Result<(), PushError>> + Send + '_ {
        self.current
            .push(push_frame::<F>(ret, params, &self.context))
    }

    /// Pushes `F` if the outgoing queue has room now (`Current::try_push`).
    #[inline]
    pub fn try_push<F: Function>(
        &self,
        ret: ReturnArg<'_, F>,
        params: ReplyArgs<'_, F>,
    ) -> Result<(), PushError> {
        self.current
            .try_push(push_frame::<F>(ret, params, &self.context))
    }

    /// Encodes a push of `F` without a context, to send to many clients.
    #[inline]
    pub fn frame<F: Function>(ret: ReturnArg<'_, F>, params: ReplyArgs<'_, F>) -> PushFrame {
        push_frame::<F>(ret, params, &Context::new())
    }
}
