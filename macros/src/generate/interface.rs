//! Writes the output of `#[tars_interface]`: the trait (its `async fn`s made `Send`), the
//! server adapter `{Trait}Servant<T>`, the client proxy `{Trait}Proxy`, and per method the
//! hidden structs of its arguments and reply.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{Ident, TraitItem};

use super::derive::struct_impl;
use crate::model::interface::{InterfaceModel, MethodModel, ParamKind, RETURN_FIELD};

pub fn interface(model: &InterfaceModel) -> TokenStream {
    let krate = &model.krate;
    let p = quote!(#krate::__private);
    let trait_item = send_trait(&model.item);
    let structs = model.methods.iter().map(|method| {
        let args = args_definition(method);
        let reply = reply_definition(method);
        let args_impl = struct_impl(&method.args);
        let reply_impl = struct_impl(&method.reply);
        quote!(#args #args_impl #reply #reply_impl)
    });
    let servant = servant(model, &p);
    let proxy = proxy(model, &p);
    quote! {
        #trait_item
        #servant
        #proxy
        #(#structs)*
    }
}

/// The trait as written, with `Send + Sync + 'static` supertraits and each `async fn` turned
/// into `fn -> impl Future + Send`, so the server can run handlers on any thread. Implementors
/// still write `async fn`.
pub fn send_trait(item: &syn::ItemTrait) -> TokenStream {
    let mut item = item.clone();
    item.supertraits
        .push(syn::parse_quote!(::core::marker::Send));
    item.supertraits
        .push(syn::parse_quote!(::core::marker::Sync));
    item.supertraits.push(syn::parse_quote!('static));
    for trait_item in &mut item.items {
        if let TraitItem::Fn(method) = trait_item {
            let sig = &mut method.sig;
            sig.asyncness = None;
            let output = match &sig.output {
                syn::ReturnType::Type(_, ty) => quote!(#ty),
                syn::ReturnType::Default => quote!(()),
            };
            sig.output = syn::parse_quote! {
                -> impl ::core::future::Future<Output = #output> + ::core::marker::Send
            };
        }
    }
    quote!(#item)
}

/// The arguments struct: every wire parameter as a field.
fn args_definition(method: &MethodModel) -> TokenStream {
    let ident = &method.args.ident;
    let fields = method
        .params
        .iter()
        .filter(|param| param.kind != ParamKind::Current)
        .map(|param| {
            let (ident, ty) = (&param.ident, &param.ty);
            quote!(#ident: #ty,)
        });
    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        struct #ident { #(#fields)* }
    }
}

/// The reply struct: the return value, then the out-parameters.
fn reply_definition(method: &MethodModel) -> TokenStream {
    let ident = &method.reply.ident;
    let ret = method.ret.as_ref().map(|ty| {
        let field = return_field();
        quote!(#field: #ty,)
    });
    let outs = method
        .params
        .iter()
        .filter(|param| param.kind == ParamKind::Out)
        .map(|param| {
            let (ident, ty) = (&param.ident, &param.ty);
            quote!(#ident: #ty,)
        });
    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        struct #ident { #ret #(#outs)* }
    }
}

fn return_field() -> Ident {
    Ident::new(RETURN_FIELD, Span::call_site())
}

fn servant(model: &InterfaceModel, p: &TokenStream) -> TokenStream {
    let vis = &model.item.vis;
    let trait_ident = &model.item.ident;
    let servant = &model.servant_ident;
    let ret = return_field();
    let arms = model.methods.iter().map(|method| {
        let wire_name = &method.wire_name;
        let method_ident = &method.ident;
        let (args, reply) = (&method.args.ident, &method.reply.ident);
        let bindings = method.params.iter().filter_map(|param| {
            let ident = &param.ident;
            match param.kind {
                ParamKind::In => Some(quote!(#ident)),
                ParamKind::Out => Some(quote!(mut #ident)),
                ParamKind::Current => None,
            }
        });
        let call_args = method.params.iter().map(|param| {
            let ident = &param.ident;
            match param.kind {
                ParamKind::In => quote!(#ident),
                ParamKind::Out => quote!(&mut #ident),
                ParamKind::Current => quote!(__current),
            }
        });
        let call = quote!(<T as #trait_ident>::#method_ident(&self.0, #(#call_args),*).await?);
        let (run, ret_field) = match method.ret {
            Some(_) => (quote!(let #ret = #call;), Some(quote!(#ret,))),
            None => (quote!(#call;), None),
        };
        let outs = method
            .params
            .iter()
            .filter(|param| param.kind == ParamKind::Out)
            .map(|param| &param.ident);
        quote! {
            #wire_name => #p::Box::pin(async move {
                let #args { #(#bindings),* } = #p::decode_args(&__params)?;
                #run
                #p::encode_reply(&#reply { #ret_field #(#outs),* })
            }),
        }
    });
    let on_close = model.on_close.as_ref().map(|hook| {
        quote! {
            fn on_connection_closed<'a>(
                &'a self,
                current: &'a #p::Current,
            ) -> #p::BoxFuture<'a, ()> {
                #p::Box::pin(<T as #trait_ident>::#hook(&self.0, current))
            }
        }
    });
    let doc = format!(
        "Serves an implementation of [`{trait_ident}`]: dispatches requests to its methods by their wire names.\n\n\
         Register it with `Server::builder().servant(name, endpoint, {servant}::new(implementation))`."
    );
    quote! {
        #[doc = #doc]
        #vis struct #servant<T>(#p::Arc<T>);

        impl<T: #trait_ident> #servant<T> {
            /// Serves `implementation`.
            pub fn new(implementation: T) -> Self {
                Self(#p::Arc::new(implementation))
            }

            /// Serves an implementation that is shared elsewhere too.
            pub fn from_arc(implementation: #p::Arc<T>) -> Self {
                Self(implementation)
            }
        }

        impl<T> #p::Clone for #servant<T> {
            fn clone(&self) -> Self {
                Self(#p::Clone::clone(&self.0))
            }
        }

        impl<T: #trait_ident> #p::Servant for #servant<T> {
            fn dispatch<'a>(
                &'a self,
                __current: &'a #p::Current,
                __params: #p::Bytes,
            ) -> #p::BoxFuture<'a, #p::RpcResult<#p::Bytes>> {
                match #p::Current::func_name(__current) {
                    #(#arms)*
                    _ => #p::unknown_function(__current),
                }
            }

            #on_close
        }
    }
}

fn proxy(model: &InterfaceModel, p: &TokenStream) -> TokenStream {
    let vis = &model.item.vis;
    let trait_ident = &model.item.ident;
    let proxy = &model.proxy_ident;
    let ret = return_field();
    let methods = model.methods.iter().map(|method| {
        let wire_name = &method.wire_name;
        let method_ident = &method.ident;
        let oneway_ident = format_ident!("{}_oneway", method.ident);
        let docs = &method.docs;
        let (args, reply) = (&method.args.ident, &method.reply.ident);
        let inputs: Vec<_> = method.params.iter().filter(|param| param.kind == ParamKind::In).collect();
        let params = inputs.iter().map(|param| {
            let (ident, ty) = (&param.ident, &param.ty);
            quote!(#ident: #ty)
        });
        let params: Vec<_> = params.collect();
        let fields = method.params.iter().filter_map(|param| {
            let ident = &param.ident;
            match param.kind {
                ParamKind::In => Some(quote!(#ident)),
                ParamKind::Out => Some(quote!(#ident: #p::Default::default())),
                ParamKind::Current => None,
            }
        });
        let fields: Vec<_> = fields.collect();
        let outs: Vec<_> = method.params.iter().filter(|param| param.kind == ParamKind::Out).collect();
        let mut output_types = Vec::new();
        let mut output_values = Vec::new();
        if let Some(ty) = &method.ret {
            output_types.push(quote!(#ty));
            output_values.push(quote!(__reply.#ret));
        }
        for out in &outs {
            let (ident, ty) = (&out.ident, &out.ty);
            output_types.push(quote!(#ty));
            output_values.push(quote!(__reply.#ident));
        }
        let (output_type, output_value) = match output_types.len() {
            1 => (output_types.remove(0), output_values.remove(0)),
            _ => (quote!((#(#output_types),*)), quote!((#(#output_values),*))),
        };
        let oneway_doc = format!(
            "Calls `{wire_name}` one-way: the request is sent and no reply is awaited (out-parameters and the return value are lost)."
        );
        quote! {
            #(#docs)*
            pub async fn #method_ident(&self, #(#params),*) -> #p::RpcResult<#output_type> {
                let __reply: #reply = self.inner.invoke(#wire_name, &#args { #(#fields),* }).await?;
                #p::Ok(#output_value)
            }

            #[doc = #oneway_doc]
            pub async fn #oneway_ident(&self, #(#params),*) -> #p::RpcResult<()> {
                self.inner.invoke_oneway(#wire_name, &#args { #(#fields),* }).await
            }
        }
    });
    let doc = format!(
        "A client of a [`{trait_ident}`] servant: one async method per interface method, plus a `_oneway` variant.\n\n\
         Get one with `Communicator::string_to_proxy::<{proxy}>(\"App.Server.Obj@tcp -h HOST -p PORT\")`. \
         An out-parameter comes back in the result, after the return value: `Result<(ret, out1, out2, ...)>`. \
         `with_timeout`, `with_context`, `on_connect`, `set_push_handler`, `push_stream`, `connect` and the rest \
         come from the `TypedProxy` trait."
    );
    quote! {
        #[doc = #doc]
        #vis struct #proxy {
            inner: #p::ServantProxy,
        }

        impl #p::Clone for #proxy {
            fn clone(&self) -> Self {
                Self { inner: #p::Clone::clone(&self.inner) }
            }
        }

        impl #p::TypedProxy for #proxy {
            fn from_proxy(inner: #p::ServantProxy) -> Self {
                Self { inner }
            }

            fn proxy(&self) -> &#p::ServantProxy {
                &self.inner
            }
        }

        impl #proxy {
            #(#methods)*
        }
    }
}
