//! The parameter codec of `#[tars_interface]` and `#[tars_push]` functions, written once for
//! tuples of parameter slots, so that generated code needs no struct per function.
//!
//! A function's return value is the slot at tag 0 and its parameters a tuple of slots at tags
//! 1, 2, ... in declaration order. What a slot carries depends on the side, request or reply:
//!
//! | slot | in a request | in a reply or a push |
//! |---|---|---|
//! | [`In<T>`] | written; required | absent |
//! | [`Out<T>`] | written with `T::default()`, as TarsCpp does; `Default` when absent | written; `Default` when absent |
//! | [`Ret<T>`] | absent | written; required |
//! | `()` | absent | absent |
//!
//! A push is all [`Out`]: its return value (if it has one) and its other values.
//!
//! Every value a side carries is written, defaults included; fields are read until the end of
//! the buffer, unknown tags are skipped, and a tag that comes twice keeps its last value: the
//! bytes and the decoding of the per-function structs this replaces.
//!
//! A tuple of slots is itself a slot spanning as many tags as its elements, so functions with
//! more parameters than the largest tuple (16) nest the rest in the last element.
//!
//! TUP and JSON requests carry the same slots by name rather than by tag, the wire names of
//! [`Function::PARAMS`] (see `named`): [`decode_request`] and [`encode_reply`] branch once on
//! the request's version, [`invoke`] on the proxy's [`Encoding`]; TARS keeps its path, with no
//! allocation added.

use std::future::Future;
use std::marker::PhantomData;

use bytes::{Bytes, BytesMut};

use super::named::{
    get_or_default, get_required, get_return, name_at, put_return, put_value, Named, NamedError,
    RETURN,
};
use super::ServantProxy;
use crate::client::{Encoding, PushMessage};
use crate::codec::{DecodeError, Head, TarsReader, TarsType};
use crate::error::{Error, Result as RpcResult};
use crate::packet::{Context, ReturnCode, Version};
use crate::server::{Current, PushFrame};

/// A function of a `#[tars_interface]` or `#[tars_push]` trait, implemented by a marker type
/// the macro generates for it.
pub trait Function {
    /// The wire name: the request's `sFuncName`, a push's `TARS_FUNC`.
    const NAME: &'static str;
    /// The trait and the wire name, `Hello.testHello`, naming the function in errors.
    const PATH: &'static str;
    /// The wire names of the parameters at tags 1, 2, ..., naming them in errors.
    const PARAMS: &'static [&'static str];
    /// The slot at tag 0: [`Ret<T>`], [`Out<T>`] for a push, `()` for none.
    type Return: Slots<Reply>;
    /// The slots at tags 1, 2, ...: a tuple of [`In<T>`] and [`Out<T>`].
    // bounded here rather than on each function below, so that a parameter type without a
    // TARS encoding is reported once, at the marker, and not again at every call
    type Params: Slots<Request> + Slots<Reply>;
}

/// The request side of a call.
pub enum Request {}

/// The reply side of a call, and a push.
pub enum Reply {}

/// An input parameter.
pub struct In<T: TarsType>(PhantomData<fn() -> T>);

/// An out-parameter, or a value of a push.
pub struct Out<T: TarsType + Default>(PhantomData<fn() -> T>);

/// The return value of an interface function.
pub struct Ret<T: TarsType>(PhantomData<fn() -> T>);

/// Slots at consecutive tags, as one side (`S`, [`Request`] or [`Reply`]) carries them.
pub trait Slots<S>: Sized {
    /// How many tags the slots span.
    const WIDTH: u8;
    /// What encoding takes: `&T` for a value this side carries, `()` for one it does not.
    type Args<'a>
    where
        Self: 'a;
    /// What decoding gives: `T` for a value this side carries, `()` for one it does not.
    type Values;
    /// The values read so far.
    type State;

    /// No value read yet.
    fn empty() -> Self::State;

    /// Writes the values, the first at `tag`.
    fn write(args: Self::Args<'_>, tag: u8, buf: &mut BytesMut);

    /// Reads the field of `head` into the slot `offset` tags after the first; `false` if this
    /// side carries nothing there, for the caller to skip it.
    fn read(
        state: &mut Self::State,
        offset: u8,
        reader: &mut TarsReader<'_>,
        head: Head,
    ) -> Result<bool, DecodeError>;

    /// The values once the input is read; `Err(offset)` of the first required one missing.
    fn finish(state: Self::State, offset: u8) -> Result<Self::Values, u8>;

    /// Puts the values by name (TUP or JSON), the first under `names[index]`.
    ///
    /// # Errors
    /// A value with no JSON mapping.
    fn write_named(
        args: Self::Args<'_>,
        index: usize,
        names: &'static [&'static str],
        out: &mut Named,
    ) -> Result<(), NamedError>;

    /// Reads the values by name (TUP or JSON), the first under `names[index]`.
    ///
    /// # Errors
    /// A required value missing, or a value that does not decode.
    fn read_named(
        index: usize,
        names: &'static [&'static str],
        input: &Named,
    ) -> Result<Self::Values, NamedError>;
}

/// A value of type `T` that this side carries.
macro_rules! carried_slot {
    ($slot:ident<$T:ident: $($bound:path),+> on $side:ty, write $write:ident, finish $finish:ident,
     put $put:ident, get $get:ident) => {
        impl<$T: $($bound +)+> Slots<$side> for $slot<$T> {
            const WIDTH: u8 = 1;
            type Args<'a> = &'a $T where Self: 'a;
            type Values = $T;
            type State = Option<$T>;

            #[inline]
            fn empty() -> Option<$T> {
                None
            }

            #[inline]
            fn write(value: &$T, tag: u8, buf: &mut BytesMut) {
                $write(value, tag, buf)
            }

            #[inline]
            fn read(
                state: &mut Option<$T>,
                offset: u8,
                reader: &mut TarsReader<'_>,
                head: Head,
            ) -> Result<bool, DecodeError> {
                if offset != 0 {
                    return Ok(false);
                }
                *state = Some($T::read_field(reader, head)?);
                Ok(true)
            }

            #[inline]
            fn finish(state: Option<$T>, offset: u8) -> Result<$T, u8> {
                $finish(state, offset)
            }

            fn write_named(
                value: &$T,
                index: usize,
                names: &'static [&'static str],
                out: &mut Named,
            ) -> Result<(), NamedError> {
                $put(out, name_at(names, index), value)
            }

            fn read_named(
                index: usize,
                names: &'static [&'static str],
                input: &Named,
            ) -> Result<$T, NamedError> {
                $get(input, name_at(names, index))
            }
        }
    };
}

/// The items of a `Slots` impl that writes, reads and names nothing over `$width` tags: a slot
/// this side does not carry (1), or no slot at all (0).
macro_rules! carries_nothing {
    ($width:expr) => {
        const WIDTH: u8 = $width;
        type Args<'a>
            = ()
        where
            Self: 'a;
        type Values = ();
        type State = ();

        #[inline]
        fn empty() {}

        #[inline]
        fn write((): (), _tag: u8, _buf: &mut BytesMut) {}

        #[inline]
        fn read(
            (): &mut (),
            _offset: u8,
            _reader: &mut TarsReader<'_>,
            _head: Head,
        ) -> Result<bool, DecodeError> {
            Ok(false)
        }

        #[inline]
        fn finish((): (), _offset: u8) -> Result<(), u8> {
            Ok(())
        }

        fn write_named(
            (): (),
            _index: usize,
            _names: &'static [&'static str],
            _out: &mut Named,
        ) -> Result<(), NamedError> {
            Ok(())
        }

        fn read_named(
            _index: usize,
            _names: &'static [&'static str],
            _input: &Named,
        ) -> Result<(), NamedError> {
            Ok(())
        }
    };
}

/// A slot at one tag that this side does not carry.
macro_rules! absent_slot {
    ($slot:ident<$T:ident: $($bound:path),+> on $side:ty) => {
        impl<$T: $($bound +)+> Slots<$side> for $slot<$T> {
            carries_nothing!(1);
        }
    };
}

fn write_value<T: TarsType>(value: &T, tag: u8, buf: &mut BytesMut) {
    value.write_field(tag, buf);
}

fn required<T>(state: Option<T>, offset: u8) -> Result<T, u8> {
    state.ok_or(offset)
}

fn or_default<T: Default>(state: Option<T>, _offset: u8) -> Result<T, u8> {
    Ok(state.unwrap_or_default())
}

carried_slot!(In<T: TarsType> on Request, write write_value, finish required,
    put put_value, get get_required);
absent_slot!(In<T: TarsType> on Reply);
carried_slot!(Ret<T: TarsType> on Reply, write write_value, finish required,
    put put_return, get get_return);
absent_slot!(Ret<T: TarsType> on Request);
carried_slot!(Out<T: TarsType, Default> on Reply, write write_value, finish or_default,
    put put_value, get get_or_default);

/// The request sends out-parameters empty, as TarsCpp does; the caller passes nothing for them.
impl<T: TarsType + Default> Slots<Request> for Out<T> {
    const WIDTH: u8 = 1;
    type Args<'a>
        = ()
    where
        Self: 'a;
    type Values = T;
    type State = Option<T>;

    #[inline]
    fn empty() -> Option<T> {
        None
    }

    #[inline]
    fn write((): (), tag: u8, buf: &mut BytesMut) {
        T::default().write_field(tag, buf);
    }

    #[inline]
    fn read(
        state: &mut Option<T>,
        offset: u8,
        reader: &mut TarsReader<'_>,
        head: Head,
    ) -> Result<bool, DecodeError> {
        <Self as Slots<Reply>>::read(state, offset, reader, head)
    }

    #[inline]
    fn finish(state: Option<T>, offset: u8) -> Result<T, u8> {
        or_default(state, offset)
    }

    /// Not sent by name: TarsCpp's servants read out-parameters with a default.
    fn write_named(
        (): (),
        _index: usize,
        _names: &'static [&'static str],
        _out: &mut Named,
    ) -> Result<(), NamedError> {
        Ok(())
    }

    /// As TarsCpp's `getByDefault` and `readJson(..., false)`: the default when absent or not
    /// readable.
    fn read_named(
        index: usize,
        names: &'static [&'static str],
        input: &Named,
    ) -> Result<T, NamedError> {
        Ok(input
            .get::<T>(name_at(names, index))
            .ok()
            .flatten()
            .unwrap_or_default())
    }
}

/// No slot: a function without parameters, or without a return value.
impl<S> Slots<S> for () {
    carries_nothing!(0);
}

/// A tuple of slots at consecutive tags, element after element.
macro_rules! tuple_slots {
    ($($T:ident $index:tt),+) => {
        impl<S, $($T: Slots<S>),+> Slots<S> for ($($T,)+) {
            const WIDTH: u8 = 0 $(+ $T::WIDTH)+;
            type Args<'a> = ($($T::Args<'a>,)+) where Self: 'a;
            type Values = ($($T::Values,)+);
            type State = ($($T::State,)+);

            #[inline]
            fn empty() -> Self::State {
                ($($T::empty(),)+)
            }

            #[inline]
            #[allow(unused_assignments)]
            fn write(args: Self::Args<'_>, tag: u8, buf: &mut BytesMut) {
                let mut tag = tag;
                $(
                    $T::write(args.$index, tag, buf);
                    // wraps only past the last slot of a function with 255 parameters
                    tag = tag.wrapping_add($T::WIDTH);
                )+
            }

            #[inline]
            #[allow(unused_assignments)]
            fn read(
                state: &mut Self::State,
                offset: u8,
                reader: &mut TarsReader<'_>,
                head: Head,
            ) -> Result<bool, DecodeError> {
                let mut offset = offset;
                $(
                    if offset < $T::WIDTH {
                        return $T::read(&mut state.$index, offset, reader, head);
                    }
                    offset -= $T::WIDTH;
                )+
                Ok(false)
            }

            #[inline]
            #[allow(unused_assignments)]
            fn finish(state: Self::State, offset: u8) -> Result<Self::Values, u8> {
                let mut offset = offset;
                Ok(($({
                    let value = $T::finish(state.$index, offset)?;
                    offset = offset.wrapping_add($T::WIDTH);
                    value
                },)+))
            }

            #[allow(unused_assignments)]
            fn write_named(
                args: Self::Args<'_>,
                index: usize,
                names: &'static [&'static str],
                out: &mut Named,
            ) -> Result<(), NamedError> {
                let mut index = index;
                $(
                    $T::write_named(args.$index, index, names, out)?;
                    index += usize::from($T::WIDTH);
                )+
                Ok(())
            }

            #[allow(unused_assignments)]
            fn read_named(
                index: usize,
                names: &'static [&'static str],
                input: &Named,
            ) -> Result<Self::Values, NamedError> {
                let mut index = index;
                Ok(($({
                    let value = $T::read_named(index, names, input)?;
                    index += usize::from($T::WIDTH);
                    value
                },)+))
            }
        }
    };
}

tuple_slots!(A 0);
tuple_slots!(A 0, B 1);
tuple_slots!(A 0, B 1, C 2);
tuple_slots!(A 0, B 1, C 2, D 3);
tuple_slots!(A 0, B 1, C 2, D 3, E 4);
tuple_slots!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_slots!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_slots!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
tuple_slots!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
tuple_slots!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);
tuple_slots!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10);
tuple_slots!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11);
tuple_slots!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12);
tuple_slots!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13);
tuple_slots!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13, O 14);
tuple_slots!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13, O 14, P 15);

/// What the caller of `F` passes: references to the inputs, `()` for the out-parameters.
pub type RequestArgs<'a, F> = <<F as Function>::Params as Slots<Request>>::Args<'a>;
/// What a servant of `F` decodes: the inputs and the out-parameters as the client sent them.
pub type RequestValues<F> = <<F as Function>::Params as Slots<Request>>::Values;
/// What a servant of `F` replies with: a reference to the return value (`()` for none).
pub type ReturnArg<'a, F> = <<F as Function>::Return as Slots<Reply>>::Args<'a>;
/// ... and references to the out-parameters, `()` for the inputs.
pub type ReplyArgs<'a, F> = <<F as Function>::Params as Slots<Reply>>::Args<'a>;
/// What the caller of `F`, or the receiver of the push `F`, decodes: the return value (`()` for
/// none), and the out-parameters with `()` for the inputs.
pub type ReplyValues<F> = (
    <<F as Function>::Return as Slots<Reply>>::Values,
    <<F as Function>::Params as Slots<Reply>>::Values,
);

/// The return value at tag 0, then the parameters at tags 1, 2, ...
#[inline]
fn encode<S, R: Slots<S>, P: Slots<S>>(ret: R::Args<'_>, params: P::Args<'_>) -> Bytes {
    crate::codec::writer::encode_to_bytes(|buf| {
        R::write(ret, 0, buf);
        P::write(params, 1, buf);
    })
}

/// Reads the return value at tag 0 and the parameters at tags 1, 2, ...; an error names `F`
/// and, when it is in one, the parameter.
#[inline]
fn decode<F: Function, S, R: Slots<S>, P: Slots<S>>(
    bytes: &Bytes,
) -> Result<(R::Values, P::Values), DecodeError> {
    let mut reader = TarsReader::from_bytes(bytes);
    let mut ret = R::empty();
    let mut params = P::empty();
    while let Some(head) = reader
        .next_field()
        .map_err(|error| error.in_function(F::PATH))?
    {
        let read = match head.tag {
            0 => R::read(&mut ret, 0, &mut reader, head),
            tag => P::read(&mut params, tag - 1, &mut reader, head),
        };
        match read {
            Ok(true) => {}
            Ok(false) => reader
                .skip_value(head)
                .map_err(|error| error.in_function(F::PATH))?,
            Err(error) => {
                return Err(error
                    .in_parameter(parameter_name::<F>(head.tag), head.tag)
                    .in_function(F::PATH))
            }
        }
    }
    let ret = R::finish(ret, 0).map_err(|_| missing::<F>(0))?;
    let params = P::finish(params, 0).map_err(|offset| missing::<F>(offset.saturating_add(1)))?;
    Ok((ret, params))
}

/// The wire name of the parameter at `tag`; `None` for the return value.
#[cold]
fn parameter_name<F: Function>(tag: u8) -> Option<&'static str> {
    let index = usize::from(tag.checked_sub(1)?);
    // every tag a slot reads has a name; "?" only if a marker's names fell out of step
    Some(F::PARAMS.get(index).copied().unwrap_or("?"))
}

#[cold]
fn missing<F: Function>(tag: u8) -> DecodeError {
    DecodeError::MissingParameter {
        parameter: parameter_name::<F>(tag),
        tag,
    }
    .in_function(F::PATH)
}

/// Calls `F` and decodes its reply, in the proxy's [`Encoding`]. Encodes before returning the
/// future, so that the future borrows no argument.
#[inline]
pub fn invoke<'a, F: Function>(
    proxy: &'a ServantProxy,
    params: RequestArgs<'_, F>,
) -> impl Future<Output = RpcResult<ReplyValues<F>>> + Send + 'a {
    let encoding = proxy.encoding();
    let buffer = match encoding {
        Encoding::Tars => Ok(encode::<Request, (), F::Params>((), params)),
        named => encode_named_request::<F>(named, params),
    };
    async move {
        let reply = proxy.invoke_raw(F::NAME, &buffer?).await?;
        if !reply.ret.is_success() {
            return Err(Error::new(reply.ret, reply.result_desc));
        }
        match encoding {
            Encoding::Tars => decode::<F, Reply, F::Return, F::Params>(&reply.buffer)
                .map_err(|error| Error::client_decode(&error)),
            named => decode_named_reply::<F>(named, &reply.buffer),
        }
    }
}

/// Sends `F` one-way, in the proxy's [`Encoding`]; done once the request is queued.
#[inline]
pub fn invoke_oneway<'a, F: Function>(
    proxy: &'a ServantProxy,
    params: RequestArgs<'_, F>,
) -> impl Future<Output = RpcResult<()>> + Send + 'a {
    let buffer = match proxy.encoding() {
        Encoding::Tars => Ok(encode::<Request, (), F::Params>((), params)),
        named => encode_named_request::<F>(named, params),
    };
    async move { proxy.invoke_raw_oneway(F::NAME, &buffer?).await }
}

/// Decodes a request's parameters as its version says (TARS, TUP or JSON); failure is the
/// code TarsCpp's servants answer with (see [`NamedError::server_code`]).
#[inline]
pub fn decode_request<F: Function>(
    current: &Current,
    params: &Bytes,
) -> RpcResult<RequestValues<F>> {
    let version = current.version();
    if version != Version::TARS {
        return decode_named_request::<F>(version, params);
    }
    decode_tars_request::<F>(params)
}

/// Decodes a TARS request's parameters; failure is the server's decode error (-1).
#[inline]
fn decode_tars_request<F: Function>(params: &Bytes) -> RpcResult<RequestValues<F>> {
    // a request carries no return value: a field at tag 0 is unknown, skipped
    decode::<F, Request, (), F::Params>(params)
        .map(|((), values)| values)
        .map_err(|error| Error::server_decode(&error))
}

/// Encodes a reply's `sBuffer` in the request's version (TARS, TUP or JSON).
///
/// # Errors
/// A value with no JSON mapping, in a JSON reply.
#[inline]
pub fn encode_reply<F: Function>(
    current: &Current,
    ret: ReturnArg<'_, F>,
    params: ReplyArgs<'_, F>,
) -> RpcResult<Bytes> {
    let version = current.version();
    if version != Version::TARS {
        return encode_named_reply::<F>(version, ret, params);
    }
    Ok(encode::<Reply, F::Return, F::Params>(ret, params))
}

/// The request of `F` by name: its inputs.
#[cold]
fn encode_named_request<F: Function>(
    encoding: Encoding,
    params: RequestArgs<'_, F>,
) -> RpcResult<Bytes> {
    let mut out =
        Named::for_version(encoding.version()).ok_or_else(|| unsupported(encoding.version()))?;
    <F::Params as Slots<Request>>::write_named(params, 0, F::PARAMS, &mut out)
        .map_err(|error| named_error::<F>(ReturnCode::SEND_REQUEST_ERR, error))?;
    out.encode()
        .map_err(|error| named_error::<F>(ReturnCode::SEND_REQUEST_ERR, error))
}

/// The reply of `F` by name: the return value and the out-parameters.
#[cold]
fn decode_named_reply<F: Function>(
    encoding: Encoding,
    buffer: &Bytes,
) -> RpcResult<ReplyValues<F>> {
    let client_decode = |error| named_error::<F>(ReturnCode::CLIENT_DECODE_ERR, error);
    let input = Named::decode(encoding.version(), buffer)
        .ok_or_else(|| unsupported(encoding.version()))?
        .map_err(client_decode)?;
    let ret =
        <F::Return as Slots<Reply>>::read_named(0, &[RETURN], &input).map_err(client_decode)?;
    let params =
        <F::Params as Slots<Reply>>::read_named(0, F::PARAMS, &input).map_err(client_decode)?;
    Ok((ret, params))
}

/// The parameters of a TUP or JSON request, read as TarsCpp's generated `onDispatch` reads
/// them.
#[cold]
fn decode_named_request<F: Function>(
    version: Version,
    params: &Bytes,
) -> RpcResult<RequestValues<F>> {
    let input = Named::decode(version, params)
        .ok_or_else(|| unsupported(version))?
        .map_err(|error| named_error::<F>(error.server_code(), error))?;
    <F::Params as Slots<Request>>::read_named(0, F::PARAMS, &input)
        .map_err(|error| named_error::<F>(error.server_code(), error))
}

/// The reply of a TUP or JSON request, written as TarsCpp's generated `onDispatch` writes it.
#[cold]
fn encode_named_reply<F: Function>(
    version: Version,
    ret: ReturnArg<'_, F>,
    params: ReplyArgs<'_, F>,
) -> RpcResult<Bytes> {
    let encode_error = |error| named_error::<F>(ReturnCode::SERVER_ENCODE_ERR, error);
    let mut out = Named::for_version(version).ok_or_else(|| unsupported(version))?;
    <F::Return as Slots<Reply>>::write_named(ret, 0, &[RETURN], &mut out).map_err(encode_error)?;
    <F::Params as Slots<Reply>>::write_named(params, 0, F::PARAMS, &mut out)
        .map_err(encode_error)?;
    out.encode().map_err(encode_error)
}

/// The error of a named parameter codec of `F`, with `code`.
#[cold]
fn named_error<F: Function>(code: ReturnCode, error: NamedError) -> Error {
    Error::with_source(code, format!("{}: {error}", F::PATH), error)
}

/// A version with no parameter codec: as TarsCpp, which decodes it as TARS and fails.
#[cold]
fn unsupported(version: Version) -> Error {
    Error::new(
        ReturnCode::SERVER_DECODE_ERR,
        format!("unsupported protocol version {}", version.0),
    )
}

/// Encodes a push of `F`.
#[inline]
pub fn push_frame<F: Function>(
    ret: ReturnArg<'_, F>,
    params: ReplyArgs<'_, F>,
    context: &Context,
) -> PushFrame {
    let buffer = encode::<Reply, F::Return, F::Params>(ret, params);
    PushFrame::from_buffer(F::NAME, buffer, context)
}

/// Decodes a push of `F`; failure is the client's decode error (-12).
#[inline]
pub fn decode_push<F: Function>(push: &PushMessage) -> RpcResult<ReplyValues<F>> {
    decode::<F, Reply, F::Return, F::Params>(&push.buffer)
        .map_err(|error| Error::client_decode(&error))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::ReturnCode;

    /// `int testHello(string sReq, out string sRsp)`
    enum TestHello {}

    impl Function for TestHello {
        const NAME: &'static str = "testHello";
        const PATH: &'static str = "Hello.testHello";
        const PARAMS: &'static [&'static str] = &["sReq", "sRsp"];
        type Return = Ret<i32>;
        type Params = (In<String>, Out<String>);
    }

    /// 17 inputs: the 17th nested in the 16th element.
    enum Wide {}

    type I = In<i32>;

    impl Function for Wide {
        const NAME: &'static str = "wide";
        const PATH: &'static str = "Hello.wide";
        const PARAMS: &'static [&'static str] = &[
            "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q",
        ];
        type Return = ();
        type Params = (I, I, I, I, I, I, I, I, I, I, I, I, I, I, I, (I, I));
    }

    fn request_of<F: Function>(params: RequestArgs<'_, F>) -> Bytes {
        encode::<Request, (), F::Params>((), params)
    }

    #[test]
    fn a_request_carries_the_inputs_and_empty_out_parameters() {
        let s_req = "hi".to_string();
        let bytes = request_of::<TestHello>((&s_req, ()));
        assert_eq!(&bytes[..], b"\x16\x02hi\x26\x00");
        let (s_req, s_rsp) = decode_tars_request::<TestHello>(&bytes).unwrap();
        assert_eq!((s_req.as_str(), s_rsp.as_str()), ("hi", ""));
    }

    #[test]
    fn a_reply_carries_the_return_value_and_the_out_parameters() {
        let s_rsp = "x".to_string();
        let bytes = encode::<Reply, Ret<i32>, (In<String>, Out<String>)>(&0, ((), &s_rsp));
        assert_eq!(&bytes[..], b"\x0c\x26\x01x");
        let decode = |bytes: &'static [u8]| {
            decode::<TestHello, Reply, Ret<i32>, (In<String>, Out<String>)>(&Bytes::from_static(
                bytes,
            ))
        };
        assert_eq!(decode(b"\x0c\x26\x01x"), Ok((0, ((), "x".to_string()))));
        // an absent out-parameter is its default; a field at an input's tag is skipped;
        // a tag that comes twice keeps its last value
        assert_eq!(decode(b"\x00\x07"), Ok((7, ((), String::new()))));
        assert_eq!(decode(b"\x16\x01y\x00\x07"), Ok((7, ((), String::new()))));
        assert_eq!(decode(b"\x00\x07\x00\x08"), Ok((8, ((), String::new()))));
        assert_eq!(
            decode(b"\x26\x01x").unwrap_err().to_string(),
            "Hello.testHello: return value (tag 0) is missing"
        );
    }

    #[test]
    fn errors_name_the_function_and_the_parameter() {
        let decode = |bytes: &'static [u8]| {
            decode_tars_request::<TestHello>(&Bytes::from_static(bytes))
                .unwrap_err()
                .message()
                .to_string()
        };
        assert_eq!(
            decode(b"\x10\x05"),
            "Hello.testHello: parameter sReq (tag 1): type mismatch: expected string, found int1"
        );
        assert_eq!(
            decode(b"\x26\x00"),
            "Hello.testHello: parameter sReq (tag 1) is missing"
        );
        assert_eq!(
            decode(b"\x16"),
            "Hello.testHello: parameter sReq (tag 1): unexpected end of input: 1 more bytes needed, 0 left"
        );
        assert_eq!(
            decode(b"\x3f"),
            "Hello.testHello: unknown wire type code 15"
        );
        let error = decode_tars_request::<TestHello>(&Bytes::from_static(b"\x10\x05")).unwrap_err();
        assert_eq!(error.code(), ReturnCode::SERVER_DECODE_ERR);
    }

    #[test]
    fn tuples_nest_past_sixteen_slots() {
        assert_eq!(<<Wide as Function>::Params as Slots<Request>>::WIDTH, 17);
        let values: Vec<i32> = (1..=17).collect();
        let v = |i: usize| &values[i];
        let args = (
            v(0),
            v(1),
            v(2),
            v(3),
            v(4),
            v(5),
            v(6),
            v(7),
            v(8),
            v(9),
            v(10),
            v(11),
            v(12),
            v(13),
            v(14),
            (v(15), v(16)),
        );
        let bytes = request_of::<Wide>(args);
        // tags 1 to 14 in the head, 15 to 17 in an extra byte, each value its tag
        assert_eq!(
            &bytes[bytes.len() - 9..],
            b"\xf0\x0f\x0f\xf0\x10\x10\xf0\x11\x11"
        );
        let decoded = decode_tars_request::<Wide>(&bytes).unwrap();
        assert_eq!((decoded.0, decoded.14, decoded.15), (1, 15, (16, 17)));
        let Err(error) = decode_tars_request::<Wide>(&Bytes::from_static(b"\xf6\x11\x01x")) else {
            panic!("a string at tag 17 decoded as an int");
        };
        assert_eq!(
            error.message(),
            "Hello.wide: parameter q (tag 17): type mismatch: expected int, found string1"
        );
    }
}
