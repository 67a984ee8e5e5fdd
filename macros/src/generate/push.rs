//! Writes the output of `#[tars_push]`: the callback trait (its `async fn`s made `Send`), the
//! server's `{Trait}Sender`, the typed `{Trait}Event` (for a proxy's push stream) and the
//! client's `{Trait}Callback<T>` push handler.

use proc_macro2::TokenStream;
use quote::quote;

use super::derive::struct_impl;
use super::interface::send_trait;
use crate::model::push::PushModel;

pub fn push(model: &PushModel) -> TokenStream {
    let krate = &model.krate;
    let p = quote!(#krate::__private);
    let vis = &model.item.vis;
    let trait_ident = &model.item.ident;
    let (sender, event, callback) = (
        &model.sender_ident,
        &model.event_ident,
        &model.callback_ident,
    );
    let trait_item = send_trait(&model.item);

    let bodies = model.methods.iter().map(|method| {
        let ident = &method.body.ident;
        let fields = method.params.iter().map(|param| {
            let (name, ty) = (&param.ident, &param.ty);
            quote!(#name: #ty,)
        });
        let body_impl = struct_impl(&method.body);
        quote! {
            #[doc(hidden)]
            #[allow(non_camel_case_types)]
            struct #ident { #(#fields)* }
            #body_impl
        }
    });

    let sender_methods = model.methods.iter().map(|method| {
        let (ident, wire_name, body, docs) = (&method.ident, &method.wire_name, &method.body.ident, &method.docs);
        let try_ident = quote::format_ident!("try_{}", method.ident);
        let frame_ident = quote::format_ident!("{}_frame", method.ident);
        let params: Vec<_> = method
            .params
            .iter()
            .map(|param| {
                let (name, ty) = (&param.ident, &param.ty);
                quote!(#name: #ty)
            })
            .collect();
        let names: Vec<_> = method.params.iter().map(|param| &param.ident).collect();
        let try_doc = format!(
            "Pushes `{wire_name}` if the connection's outgoing queue has room now, as `Current::try_push`: never waits."
        );
        let frame_doc = format!(
            "Encodes a `{wire_name}` push once, to send to many clients with `Subscribers::broadcast` or `Current::push`."
        );
        quote! {
            #(#docs)*
            ///
            /// Waits for room in the connection's outgoing queue if it has none, as `Current::push`.
            pub async fn #ident(&self, #(#params),*) -> #p::Result<(), #p::PushError> {
                self.current.push(#p::PushFrame::new(#wire_name, &#body { #(#names),* }, &self.context)).await
            }

            #[doc = #try_doc]
            pub fn #try_ident(&self, #(#params),*) -> #p::Result<(), #p::PushError> {
                self.current.try_push(#p::PushFrame::new(#wire_name, &#body { #(#names),* }, &self.context))
            }

            #[doc = #frame_doc]
            pub fn #frame_ident(#(#params),*) -> #p::PushFrame {
                #p::PushFrame::new(#wire_name, &#body { #(#names),* }, &#p::Context::new())
            }
        }
    });

    let variants = model.methods.iter().map(|method| {
        let (variant, docs) = (&method.variant, &method.docs);
        let fields = method.params.iter().map(|param| {
            let (name, ty) = (&param.ident, &param.ty);
            quote!(#name: #ty,)
        });
        quote!(#(#docs)* #variant { #(#fields)* },)
    });
    let decode_arms = model.methods.iter().map(|method| {
        let (variant, wire_name, body) = (&method.variant, &method.wire_name, &method.body.ident);
        let names: Vec<_> = method.params.iter().map(|param| &param.ident).collect();
        quote! {
            #wire_name => {
                let #body { #(#names),* } = push.decode()?;
                #p::Ok(Self::#variant { #(#names),* })
            }
        }
    });
    let callback_arms = model.methods.iter().map(|method| {
        let (variant, ident) = (&method.variant, &method.ident);
        let names: Vec<_> = method.params.iter().map(|param| &param.ident).collect();
        quote! {
            #event::#variant { #(#names),* } => <T as #trait_ident>::#ident(&self.0, #(#names),*).await,
        }
    });

    let sender_doc = format!(
        "Pushes [`{trait_ident}`] messages to the client of a saved `Current`, as TarsCpp's \
         `async_response_push_*` do: the return value at tag 0, the other values at tags 1, 2, ..."
    );
    let event_doc = format!(
        "A [`{trait_ident}`] push as a value: `proxy.push_stream().events::<{event}>()` is a stream of them."
    );
    let callback_doc = format!(
        "Runs a [`{trait_ident}`] implementation for each push: `proxy.set_push_handler({callback}(implementation))`."
    );
    quote! {
        #trait_item

        #[doc = #sender_doc]
        #vis struct #sender {
            current: #p::Current,
            context: #p::Context,
        }

        impl #sender {
            /// A sender to the client of `current`'s connection.
            pub fn new(current: &#p::Current) -> Self {
                Self { current: #p::Clone::clone(current), context: #p::Context::new() }
            }

            /// The same sender, attaching `context` to its pushes.
            pub fn with_context(self, context: #p::Context) -> Self {
                Self { context, ..self }
            }

            #(#sender_methods)*
        }

        #[doc = #event_doc]
        #vis enum #event {
            #(#variants)*
        }

        impl #p::FromPush for #event {
            fn decode(push: &#p::PushMessage) -> #p::RpcResult<Self> {
                match push.function.as_str() {
                    #(#decode_arms)*
                    _ => #p::Err(#p::unknown_push(push)),
                }
            }
        }

        #[doc = #callback_doc]
        #vis struct #callback<T>(pub T);

        impl<T: #trait_ident> #p::PushHandler for #callback<T> {
            fn on_push<'a>(&'a self, push: &'a #p::PushMessage) -> #p::BoxFuture<'a, #p::RpcResult<()>> {
                #p::Box::pin(async move {
                    match <#event as #p::FromPush>::decode(push)? {
                        #(#callback_arms)*
                    }
                    #p::Ok(())
                })
            }
        }

        #(#bodies)*
    }
}
