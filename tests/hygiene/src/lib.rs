//! Hygiene: the macros' output must compile in a crate with no prelude, where `tars-rpc` is
//! known as `tars` and local items shadow the prelude's names.

#![no_implicit_prelude]
#![allow(dead_code)]

// Shadow the names generated code could be tempted to use unqualified.
struct Option;
struct Result;
struct Some;
struct None;
struct Ok;
struct Err;
struct Vec;
struct String;
struct Default;
struct BytesMut;
mod tars_rpc {}

#[derive(
    ::tars::TarsEnum,
    ::core::fmt::Debug,
    ::core::clone::Clone,
    ::core::marker::Copy,
    ::core::cmp::PartialEq,
)]
#[tars(crate = "::tars")]
pub enum Level {
    Low = 1,
    High,
}

#[derive(::tars::TarsStruct, ::core::fmt::Debug, ::core::cmp::PartialEq)]
#[tars(crate = "::tars")]
pub struct Inner {
    #[tars(tag = 0)]
    pub id: i32,
}

#[derive(::tars::TarsStruct, ::core::fmt::Debug, ::core::cmp::PartialEq)]
#[tars(crate = "::tars")]
pub struct Outer<T> {
    #[tars(tag = 0)]
    pub name: ::std::string::String,
    #[tars(tag = 1, optional)]
    pub items: ::std::vec::Vec<Inner>,
    #[tars(tag = 2)]
    pub maybe: ::core::option::Option<Level>,
    #[tars(tag = 3, default = "x")]
    pub with_default: ::std::string::String,
    #[tars(tag = 4, default = 5)]
    pub number: i64,
    #[tars(tag = 5)]
    pub generic: T,
    #[tars(tag = 6)]
    pub map: ::std::collections::BTreeMap<i32, Inner>,
}

#[::tars::tars_interface(crate = "::tars")]
pub trait Service {
    async fn call(
        &self,
        current: &::tars::Current,
        input: Outer<i32>,
        out: &mut ::std::vec::Vec<Inner>,
    ) -> ::tars::Result<i64>;
    async fn nothing(&self) -> ::tars::Result<()>;
    #[tars(on_close)]
    async fn closed(&self, current: &::tars::Current);
}

pub struct ServiceImp;

impl Service for ServiceImp {
    async fn call(
        &self,
        _current: &::tars::Current,
        input: Outer<i32>,
        out: &mut ::std::vec::Vec<Inner>,
    ) -> ::tars::Result<i64> {
        ::core::iter::Extend::extend(out, input.items);
        ::core::result::Result::Ok(input.number)
    }
    async fn nothing(&self) -> ::tars::Result<()> {
        ::core::result::Result::Ok(())
    }
    async fn closed(&self, _current: &::tars::Current) {}
}

#[::tars::tars_push(crate = "::tars")]
pub trait Events {
    async fn changed(&self, ret: i32, what: ::std::string::String, items: ::std::vec::Vec<Inner>);
    async fn ping(&self);
}

pub struct EventsImp;

impl Events for EventsImp {
    async fn changed(
        &self,
        _ret: i32,
        _what: ::std::string::String,
        _items: ::std::vec::Vec<Inner>,
    ) {
    }
    async fn ping(&self) {}
}

/// An interface whose methods come from the caller of a `macro_rules!` and whose attribute
/// from the macro: the generated code's own names must resolve whatever spans the methods have.
macro_rules! interface {
    ($name:ident { $($method:tt)* }) => {
        #[::tars::tars_interface(crate = "::tars")]
        pub trait $name { $($method)* }
    };
}

macro_rules! push {
    ($name:ident { $($method:tt)* }) => {
        #[::tars::tars_push(crate = "::tars")]
        pub trait $name { $($method)* }
    };
}

/// Apart, so that its generated names do not clash with those below.
mod from_macro {
    interface!(FromMacro {
        async fn echo(&self, current: &::tars::Current, value: i32, out: &mut i32) -> ::tars::Result<i32>;
    });

    push!(PushFromMacro {
        async fn value(&self, ret: i32, more: i64);
    });
}

/// The generated push sender, callback and event exist and have the expected shapes.
pub async fn push_to(current: &::tars::Current) -> ::tars::Result<()> {
    EventsSender::new(current)
        .changed(
            0,
            ::std::string::ToString::to_string("x"),
            ::std::vec::Vec::new(),
        )
        .await?;
    EventsSender::new(current).try_ping()?;
    let _frame: ::tars::push::PushFrame = EventsSender::ping_frame();
    ::core::result::Result::Ok(())
}

pub fn install(proxy: &ServiceProxy) -> ::tars::push::PushEvents<EventsEvent> {
    ::tars::client::TypedProxy::set_push_handler(proxy, EventsCallback(EventsImp));
    ::tars::client::TypedProxy::push_stream(proxy).events::<EventsEvent>()
}

/// The generated servant and proxy exist and have the expected shapes.
pub fn servant() -> ServiceServant<ServiceImp> {
    ServiceServant::new(ServiceImp)
}

pub async fn call(
    proxy: &ServiceProxy,
    input: Outer<i32>,
) -> ::tars::Result<(i64, ::std::vec::Vec<Inner>)> {
    proxy.call(input).await
}

#[cfg(test)]
mod tests {
    use ::core::assert_eq;
    use ::core::iter::Iterator as _;
    use ::tars::TarsStruct as _;

    use super::*;

    #[test]
    fn round_trips_under_no_prelude() {
        let value = Outer {
            name: ::std::string::ToString::to_string("n"),
            items: ::std::vec![Inner { id: 1 }],
            maybe: ::core::option::Option::Some(Level::High),
            with_default: ::std::string::ToString::to_string("x"),
            number: 6,
            generic: 7u16,
            map: ::core::iter::FromIterator::from_iter([(1, Inner { id: 2 })]),
        };
        let bytes = value.to_bytes();
        // the default-valued field at tag 3 is left off
        assert_eq!(bytes.iter().filter(|&&byte| byte == 0x36).count(), 0);
        assert_eq!(
            Outer::<u16>::decode_from(&bytes),
            ::core::result::Result::Ok(value)
        );
    }
}
