//! Writes the output of `#[tars_push]`: the callback trait (its `async fn`s made `Send`), the
//! server's `{Trait}Sender`, the typed `{Trait}Event` (for a proxy's push stream), the client's
//! `{Trait}Callback<T>` push handler, and per method the hidden `Function` marker through which
//! pushes are encoded and decoded.
//!
//! One function per item generated, as tarpc's `ServiceGenerator` does.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::function::{allows, at_params, marker, nest};
use super::interface::send_trait;
use crate::model::push::{PushMethodModel, PushModel};

pub fn push(model: &PushModel) -> TokenStream {
    let krate = &model.krate;
    let generator = PushGenerator {
        model,
        p: quote!(#krate::__private),
    };
    let markers = model
        .methods
        .iter()
        .map(|method| marker(&method.function, &generator.p));
    let items = [
        send_trait(&model.item),
        generator.sender_struct(),
        generator.sender_methods(),
        generator.event_enum(),
        generator.impl_from_push(),
        generator.callback_struct(),
        generator.impl_push_handler(),
    ];
    quote!(#(#items)* #(#markers)*)
}

struct PushGenerator<'a> {
    model: &'a PushModel,
    /// `{crate}::__private`.
    p: TokenStream,
}

impl PushGenerator<'_> {
    fn sender_struct(&self) -> TokenStream {
        let (vis, trait_ident, sender, p) = (
            &self.model.item.vis,
            &self.model.item.ident,
            &self.model.sender_ident,
            &self.p,
        );
        let doc = format!(
            "Pushes [`{trait_ident}`] messages to the client of a saved `Current`, as TarsCpp's \
             `async_response_push_*` do: the return value at tag 0, the other values at tags 1, 2, ..."
        );
        quote! {
            #[doc = #doc]
            #[derive(::core::clone::Clone, ::core::fmt::Debug)]
            #vis struct #sender(#p::Pusher);
        }
    }

    fn sender_methods(&self) -> TokenStream {
        let (sender, p) = (&self.model.sender_ident, &self.p);
        let methods = self
            .model
            .methods
            .iter()
            .map(|method| self.sender_method(method));
        quote! {
            impl #sender {
                /// A sender to the client of `current`'s connection.
                pub fn new(current: &#p::Current) -> Self {
                    Self(#p::Pusher::new(current))
                }

                /// The same sender, attaching `context` to its pushes.
                pub fn with_context(self, context: #p::Context) -> Self {
                    Self(self.0.with_context(context))
                }

                #(#methods)*
            }
        }
    }

    /// Pushes the method waiting for room, trying without waiting, or encodes it for many.
    fn sender_method(&self, method: &PushMethodModel) -> TokenStream {
        let p = &self.p;
        let (ident, attrs, wire_name) = (&method.ident, &method.attrs, &method.function.wire_name);
        let try_ident = format_ident!("try_{}", method.ident);
        let frame_ident = format_ident!("{}_frame", method.ident);
        let params: Vec<_> = method
            .params
            .iter()
            .map(|param| {
                let (name, ty) = (&param.ident, &param.ty);
                quote!(#name: #ty)
            })
            .collect();
        let marker = &method.function.marker;
        let (ret, values) = values(method, |ident| quote!(&#ident), quote!(()));
        let push = at_params(
            &method.function,
            quote!(self.0.push::<#marker>(#ret, #values).await),
        );
        let try_push = at_params(
            &method.function,
            quote!(self.0.try_push::<#marker>(#ret, #values)),
        );
        let frame = at_params(
            &method.function,
            quote!(#p::Pusher::frame::<#marker>(#ret, #values)),
        );
        let allows: Vec<_> = allows(&method.attrs).collect();
        let try_doc = format!(
            "Pushes `{wire_name}` if the connection's outgoing queue has room now, as `Current::try_push`: never waits."
        );
        let frame_doc = format!(
            "Encodes a `{wire_name}` push once, to send to many clients with `Subscribers::broadcast` or `Current::push`."
        );
        quote! {
            #(#attrs)*
            ///
            /// Waits for room in the connection's outgoing queue if it has none, as `Current::push`.
            pub async fn #ident(&self, #(#params),*) -> #p::Result<(), #p::PushError> {
                #push
            }

            #[doc = #try_doc]
            #(#allows)*
            pub fn #try_ident(&self, #(#params),*) -> #p::Result<(), #p::PushError> {
                #try_push
            }

            #[doc = #frame_doc]
            #(#allows)*
            pub fn #frame_ident(#(#params),*) -> #p::PushFrame {
                #frame
            }
        }
    }

    fn event_enum(&self) -> TokenStream {
        let (vis, trait_ident, event) = (
            &self.model.item.vis,
            &self.model.item.ident,
            &self.model.event_ident,
        );
        let variants = self.model.methods.iter().map(|method| {
            let (variant, attrs) = (&method.variant, &method.attrs);
            let fields = method.params.iter().map(|param| {
                let (name, ty) = (&param.ident, &param.ty);
                quote!(#name: #ty,)
            });
            quote!(#(#attrs)* #variant { #(#fields)* },)
        });
        let doc = format!(
            "A [`{trait_ident}`] push as a value: `proxy.push_stream().events::<{event}>()` is a stream of them."
        );
        quote! {
            #[doc = #doc]
            #[derive(::core::fmt::Debug)]
            #vis enum #event {
                #(#variants)*
            }
        }
    }

    fn impl_from_push(&self) -> TokenStream {
        let (event, p) = (&self.model.event_ident, &self.p);
        let arms = self.model.methods.iter().map(|method| {
            let (variant, marker) = (&method.variant, &method.function.marker);
            let wire_name = &method.function.wire_name;
            let (ret, values) = values(method, |ident| quote!(#ident), quote!(()));
            let names = method.params.iter().map(|param| &param.ident);
            let decode = at_params(
                &method.function,
                quote!(let (#ret, #values) = #p::decode_push::<#marker>(push)?;),
            );
            quote! {
                #wire_name => {
                    #decode
                    #p::Ok(Self::#variant { #(#names),* })
                }
            }
        });
        quote! {
            impl #p::FromPush for #event {
                fn decode(push: &#p::PushMessage) -> #p::RpcResult<Self> {
                    match push.function.as_str() {
                        #(#arms)*
                        _ => #p::Err(#p::unknown_push(push)),
                    }
                }
            }
        }
    }

    fn callback_struct(&self) -> TokenStream {
        let (vis, trait_ident, callback) = (
            &self.model.item.vis,
            &self.model.item.ident,
            &self.model.callback_ident,
        );
        let doc = format!(
            "Runs a [`{trait_ident}`] implementation for each push: `proxy.set_push_handler({callback}(implementation))`."
        );
        quote! {
            #[doc = #doc]
            #[derive(::core::fmt::Debug)]
            #vis struct #callback<T>(pub T);
        }
    }

    fn impl_push_handler(&self) -> TokenStream {
        let (trait_ident, event, callback, p) = (
            &self.model.item.ident,
            &self.model.event_ident,
            &self.model.callback_ident,
            &self.p,
        );
        let arms = self.model.methods.iter().map(|method| {
            let (variant, ident) = (&method.variant, &method.ident);
            let names: Vec<_> = method.params.iter().map(|param| &param.ident).collect();
            let mut args: Vec<_> = names.iter().map(|name| quote!(#name)).collect();
            if let Some(index) = method.message_index {
                args.insert(index, quote!(push));
            }
            quote! {
                #event::#variant { #(#names),* } => <T as #trait_ident>::#ident(&self.0, #(#args),*).await,
            }
        });
        quote! {
            impl<T: #trait_ident> #p::PushHandler for #callback<T> {
                fn on_push<'a>(&'a self, push: &'a #p::PushMessage) -> #p::BoxFuture<'a, #p::RpcResult<()>> {
                    #p::Box::pin(async move {
                        match <#event as #p::FromPush>::decode(push)? {
                            #(#arms)*
                        }
                        #p::Ok(())
                    })
                }
            }
        }
    }
}

/// A push's return value (`ret`, or `absent` without one) and its other values as a nested
/// tuple, each value's ident turned into an argument or a binding by `value`.
fn values(
    method: &PushMethodModel,
    value: impl Fn(&syn::Ident) -> TokenStream,
    absent: TokenStream,
) -> (TokenStream, TokenStream) {
    let mut params = method.params.iter().map(|param| value(&param.ident));
    let ret = match method.has_ret {
        true => params.next().unwrap_or(absent),
        false => absent,
    };
    (ret, nest(params.collect()))
}
